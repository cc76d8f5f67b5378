#include "model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "seqlock.h"
#include "snapshot.h"
#include "util.h"
#include "writer.h"

/*
 * Text cells live in one arena per generation (m->text_arena), each entry
 * 8-byte aligned, and a text cell's value is an ft_text_ref into it. The
 * arena is rebuilt by every accepted body, so publishing copies it into the
 * slot's text pool verbatim and the refs stay valid there.
 */
static uint64_t null_cell(uint8_t type)
{
    return ft_col_is_integer(type) ? FT_CELL_NULL_INT : type == FT_COL_FLOAT ? FT_CELL_NULL_FLOAT : FT_CELL_NULL_TEXT;
}

static uint64_t align8(uint64_t v)
{
    return (v + 7) & ~7ULL;
}

int ingest_model_init(ingest_model_t *m, const ft_shm_capacity_t *cap, uint64_t forget_after_ns)
{
    memset(m, 0, sizeof(*m));
    ft_shm_layout_t l;
    if (ft_shm_layout_compute(cap, &l) != 0)
        return -EINVAL;
    m->cap = *cap;
    m->forget_after_ns = forget_after_ns;
    m->hash_size = l.hash_size;
    m->cols = calloc(cap->max_counters, sizeof(*m->cols));
    m->rows = calloc(cap->max_switches, sizeof(*m->rows));
    m->free_rows = calloc(cap->max_switches, sizeof(*m->free_rows));
    /* calloc of the large arrays maps zero pages lazily: memory follows the fabric, not the capacity. */
    m->vals = calloc((size_t)cap->max_switches * cap->max_counters, sizeof(*m->vals));
    m->hash = calloc(l.hash_size, sizeof(*m->hash));
    m->colmap = calloc(cap->max_counters + 1, sizeof(*m->colmap));
    m->catalog_ver = 1;
    ingest_prerender_init(&m->pre);
    if (!m->cols || !m->rows || !m->free_rows || !m->vals || !m->hash || !m->colmap) {
        ingest_model_destroy(m);
        return -ENOMEM;
    }
    return 0;
}

void ingest_model_destroy(ingest_model_t *m)
{
    ingest_helper_destroy(&m->helper);
    ft_buf_destroy(&m->text_arena);
    free(m->cols);
    free(m->rows);
    free(m->free_rows);
    free(m->vals);
    free(m->hash);
    free(m->colmap);
    free(m->row_ok);
    free(m->row_index);
    free(m->newkey_hash);
    free(m->parsed);
    ingest_prerender_destroy(&m->pre);
    memset(m, 0, sizeof(*m));
}

/* ---- column kinds ---- */

/* The next "name" or "name=value" item of a comma-separated list; 0 at the end. */
static int next_item(const char **p, const char **name, size_t *nlen, const char **val, size_t *vlen)
{
    const char *s = *p;
    if (s == NULL || *s == '\0')
        return 0;
    const char *end = strchr(s, ',');
    if (end == NULL)
        end = s + strlen(s);
    const char *eq = memchr(s, '=', (size_t)(end - s));
    *name = s;
    *nlen = (size_t)((eq ? eq : end) - s);
    *val = eq ? eq + 1 : NULL;
    *vlen = eq ? (size_t)(end - eq - 1) : 0;
    *p = *end ? end + 1 : end;
    return 1;
}

int ingest_model_set_kinds(ingest_model_t *m, const char *counters, const char *scales, char *why, size_t whysz)
{
    const char *p = scales, *name, *val;
    size_t nl, vl;
    while (next_item(&p, &name, &nl, &val, &vl)) {
        int64_t v;
        if (nl == 0 || val == NULL || ft_parse_i64(val, vl, &v) != 0 || v < 1 || v > (1LL << 31)) {
            snprintf(why, whysz, "'%.*s' is not NAME=SCALE with SCALE a whole number from 1 to 2147483648", (int)(nl + vl + 1), name);
            return -EINVAL;
        }
    }
    m->counter_columns = counters;
    m->column_scales = scales;
    return 0;
}

/* Is `col` one of the list's names ("a,b,…")? */
static int listed(const char *list, const char *col, size_t len)
{
    const char *p = list, *name, *val;
    size_t nl, vl;
    while (next_item(&p, &name, &nl, &val, &vl))
        if (nl == len && memcmp(name, col, len) == 0)
            return 1;
    return 0;
}

void ingest_model_set_rules(ingest_model_t *m, const ingest_rules_t *rules)
{
    m->rules = *rules;
}

static ft_col_kind_t kind_of(const ingest_model_t *m, const char *col, size_t len)
{
    ft_col_kind_t k = {0, 1};
    const char *p, *name, *val;
    size_t nl, vl;
    k.counter = listed(m->counter_columns, col, len);
    p = m->column_scales;
    int64_t v;
    while (next_item(&p, &name, &nl, &val, &vl))
        if (nl == len && memcmp(name, col, len) == 0 && val != NULL && ft_parse_i64(val, vl, &v) == 0)
            k.scale = (uint32_t)v;
    return k;
}

/* ---- the name -> row index ---- */

static int64_t model_find(const ingest_model_t *m, const char *name, size_t len)
{
    uint32_t mask = m->hash_size - 1;
    for (uint64_t i = ft_snap_name_hash(name, len) & mask;; i = (i + 1) & mask) {
        uint64_t e = m->hash[i];
        if (e == 0)
            return -1;
        const ingest_row_t *r = &m->rows[e - 1];
        if (r->len == len && memcmp(r->name, name, len) == 0)
            return (int64_t)(e - 1);
    }
}

static void model_hash_insert(ingest_model_t *m, uint32_t row)
{
    uint32_t mask = m->hash_size - 1;
    uint64_t i = ft_snap_name_hash(m->rows[row].name, m->rows[row].len) & mask;
    while (m->hash[i] != 0)
        i = (i + 1) & mask;
    m->hash[i] = row + 1;
}

static void model_hash_rebuild(ingest_model_t *m)
{
    memset(m->hash, 0, (size_t)m->hash_size * sizeof(*m->hash));
    for (uint32_t r = 0; r < m->nrows; r++)
        if (m->rows[r].used)
            model_hash_insert(m, r);
}

/* ---- judging a body ---- */

static int reject(ingest_result_t *res, int cause, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int reject(ingest_result_t *res, int cause, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->why, sizeof(res->why), fmt, ap);
    va_end(ap);
    res->cause = cause;
    return -EINVAL;
}

static int valid_name(const char *s, size_t len)
{
    return len > 0 && len <= FT_NAME_MAX && ft_utf8_is_printable(s, len);
}

/* Parse one cell as `type`; for text only validates (the text itself is copied at commit). */
static int parse_cell(uint8_t type, const char *s, size_t len, uint64_t *out)
{
    switch (type) {
    case FT_COL_INT: {
        int64_t v;
        if (ft_parse_i64(s, len, &v) != 0 || v == INT64_MIN)
            return -EINVAL;
        *out = (uint64_t)v;
        return 0;
    }
    case FT_COL_UINT: {
        uint64_t v;
        if (ft_parse_u64(s, len, &v) != 0 || v == FT_CELL_NULL_INT) /* 2^63 is the absent value */
            return -EINVAL;
        *out = v;
        return 0;
    }
    case FT_COL_FLOAT: {
        double d;
        if (ft_parse_f64(s, len, &d) != 0)
            return -EINVAL;
        memcpy(out, &d, sizeof(d));
        return 0;
    }
    default:
        /* Text may hold newlines and tabs (JSON escapes them); it must be UTF-8 without NUL. */
        if (len > FT_TEXT_MAX || memchr(s, '\0', len) != NULL || ft_utf8_valid_prefix(s, len) != len)
            return -EINVAL;
        *out = 0;
        return 0;
    }
}

/*
 * The type a new column gets from the values one body carries for it: integer if every value is one, unsigned if
 * every value is a non-negative integer and some are past 2^63 - 1 (or unsigned_ints says integers are unsigned,
 * as UFM's counters are), else float, else text.
 */
static uint8_t infer_type(const ingest_batch_t *b, size_t j, size_t hn, int unsigned_ints)
{
    int can_int = 1, can_uint = 1, can_float = 1;
    size_t nonempty = 0;
    for (size_t r = 1; r < b->nrows && (can_int || can_uint || can_float); r++) {
        if (b->row_nfields[r] != hn)
            continue;
        size_t len;
        const char *s = ingest_batch_field(b, r, j, &len);
        if (len == 0)
            continue;
        nonempty++;
        uint64_t v;
        can_int = can_int && parse_cell(FT_COL_INT, s, len, &v) == 0;
        can_uint = can_uint && parse_cell(FT_COL_UINT, s, len, &v) == 0;
        can_float = can_float && (can_int || can_uint || parse_cell(FT_COL_FLOAT, s, len, &v) == 0);
    }
    if (!nonempty)
        return FT_COL_TEXT;
    if (can_uint && (unsigned_ints || !can_int))
        return FT_COL_UINT;
    return can_int ? FT_COL_INT : can_float ? FT_COL_FLOAT : FT_COL_TEXT;
}

static int grow_scratch(ingest_model_t *m, size_t nrows, size_t nfields)
{
    if (nfields > m->parsed_cap) {
        uint64_t *p = realloc(m->parsed, nfields * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        m->parsed = p;
        m->parsed_cap = nfields;
    }
    uint8_t *ok = realloc(m->row_ok, nrows);
    if (ok == NULL)
        return -ENOMEM;
    m->row_ok = ok;
    int32_t *ix = realloc(m->row_index, nrows * sizeof(*ix));
    if (ix == NULL)
        return -ENOMEM;
    m->row_index = ix;
    uint32_t hs = 16;
    while (hs < 2 * nrows)
        hs <<= 1;
    if (hs > m->newkey_hash_size) {
        uint32_t *h = realloc(m->newkey_hash, hs * sizeof(*h));
        if (h == NULL)
            return -ENOMEM;
        m->newkey_hash = h;
        m->newkey_hash_size = hs;
    }
    memset(m->newkey_hash, 0, (size_t)hs * sizeof(uint32_t));
    return 0;
}

/* 1 when `key` was already claimed by an earlier new-switch row of this body; else claims it for batch row r. */
static int newkey_seen(ingest_model_t *m, const ingest_batch_t *b, const char *key, size_t len, uint32_t r)
{
    uint32_t mask = m->newkey_hash_size - 1;
    for (uint64_t i = ft_snap_name_hash(key, len) & mask;; i = (i + 1) & mask) {
        uint32_t e = m->newkey_hash[i];
        if (e == 0) {
            m->newkey_hash[i] = r;
            return 0;
        }
        size_t l2;
        const char *k2 = ingest_batch_field(b, e, 0, &l2);
        if (l2 == len && memcmp(k2, key, len) == 0)
            return 1;
    }
}

static void note_rejected(ingest_result_t *res, const char *key, size_t len)
{
    res->rows_rejected++;
    if (res->rows_rejected > 3)
        return;
    size_t used = strlen(res->rejected_ids);
    char q[48];
    ft_log_quote(q, sizeof(q), key, len > 24 ? 24 : len);
    snprintf(res->rejected_ids + used, sizeof(res->rejected_ids) - used, "%s%s", used ? "," : "", q);
}

/* Judge one data row: 1 good, 0 bad. A good row's values are left in m->parsed for the commit. */
static int judge_row(ingest_model_t *m, const ingest_batch_t *b, size_t r, size_t hn, const uint8_t *newtype)
{
    if (b->row_nfields[r] != hn)
        return 0;
    for (size_t j = 1; j < hn; j++) {
        size_t len;
        const char *s = ingest_batch_field(b, r, j, &len);
        uint8_t type = m->colmap[j] >= 0 ? m->cols[m->colmap[j]].type : newtype[j];
        if (len == 0 && m->rules.empty_absent && type != FT_COL_TEXT) { /* a counter this row does not report */
            m->parsed[b->row_first[r] + j] = null_cell(type);
            continue;
        }
        if (parse_cell(type, s, len, &m->parsed[b->row_first[r] + j]) != 0)
            return 0;
    }
    return 1;
}

static uint64_t text_len_of(const ingest_model_t *m, uint32_t row, uint32_t col)
{
    uint64_t ref = m->vals[(uint64_t)row * m->cap.max_counters + col];
    return ref == FT_CELL_NULL_TEXT ? 0 : align8(ft_text_ref_len(ref));
}

/* ---- committing ---- */

static void free_row(ingest_model_t *m, uint32_t row)
{
    m->rows[row].used = m->rows[row].present = m->rows[row].stale = 0;
    m->free_rows[m->nfree++] = row;
}

/* A row for a new switch: a free one (its incarnation moves on, so its past is not this switch's) or a new one. */
static uint32_t alloc_row(ingest_model_t *m, const char *name, size_t len)
{
    uint32_t row = m->nfree > 0 ? m->free_rows[--m->nfree] : m->nrows++;
    ingest_row_t *r = &m->rows[row];
    uint32_t incarnation = r->incarnation + 1;
    memset(r, 0, sizeof(*r));
    memcpy(r->name, name, len);
    r->len = (uint8_t)len;
    r->used = 1;
    r->shown_absent = (uint8_t)(m->rules.show_absent != 0);
    r->incarnation = incarnation;
    uint64_t *v = &m->vals[(uint64_t)row * m->cap.max_counters];
    for (uint32_t c = 0; c < m->ncols; c++)
        v[c] = null_cell(m->cols[c].type);
    model_hash_insert(m, row);
    return row;
}

static uint64_t arena_put(ft_buf_t *a, const char *s, size_t len)
{
    uint64_t off = a->len;
    if (len == 0) /* an empty text cell takes no room (and the arena may have no memory yet) */
        return ft_text_ref((uint32_t)off, 0);
    ft_buf_reserve(a, align8(len));
    if (a->failed)
        return FT_CELL_NULL_TEXT;
    memcpy(a->data + a->len, s, len);
    memset(a->data + a->len + len, 0, align8(len) - len);
    a->len += align8(len);
    return ft_text_ref((uint32_t)off, (uint32_t)len);
}

/*
 * Applying one body, in phases. The first three only judge (nothing in the
 * model changes, so a rejected body leaves it exactly as it was); the last
 * ones commit. They share one apply_t.
 */
typedef struct apply {
    ingest_model_t *m;
    const ingest_batch_t *b;
    size_t hn;          /* fields in the header row */
    uint64_t now_ns;
    ingest_result_t *res;
    uint8_t *newtype;   /* header column j -> type, for columns new in this body */
    uint32_t new_cols, new_switches;
} apply_t;

static uint8_t col_type(const apply_t *a, size_t j)
{
    return a->m->colmap[j] >= 0 ? a->m->cols[a->m->colmap[j]].type : a->newtype[j];
}

/* Phase 1, the body's shape: a header with valid unique names, data rows, not cut short, within the counter capacity. */
static int judge_shape(apply_t *a)
{
    ingest_model_t *m = a->m;
    const ingest_batch_t *b = a->b;
    if (b->nrows == 0)
        return reject(a->res, FT_FAIL_PARSE, "empty body: no header row");
    a->hn = b->row_nfields[0];
    if (a->hn < 2)
        return reject(a->res, FT_FAIL_PARSE, "header has %zu column(s); need a switch id and at least one counter", a->hn);
    if (a->hn - 1 > m->cap.max_counters)
        return reject(a->res, FT_FAIL_CAPACITY, "header has %zu counters; capacity is %u (--max-counters)", a->hn - 1,
                      m->cap.max_counters);
    if (b->nrows == 1)
        return reject(a->res, FT_FAIL_PARSE, "no data rows after the header");
    if (b->last_row_unterminated && b->row_nfields[b->nrows - 1] < a->hn)
        return reject(a->res, FT_FAIL_TRUNCATED, "body cut: last row unterminated with %u of %zu fields",
                      b->row_nfields[b->nrows - 1], a->hn);
    if (grow_scratch(m, b->nrows, b->nfields) != 0)
        return reject(a->res, FT_FAIL_CAPACITY, "out of memory for %zu rows", b->nrows);
    return 0;
}

/* Phase 2, the header: names valid and unique; each mapped to a known column or typed as a new one. */
static int judge_header(apply_t *a)
{
    ingest_model_t *m = a->m;
    for (size_t j = 1; j < a->hn; j++) {
        size_t len, l2;
        const char *name = ingest_batch_field(a->b, 0, j, &len);
        char q[80];
        if (!valid_name(name, len))
            return reject(a->res, FT_FAIL_PARSE, "header column %zu has a bad name %s (empty, over %u bytes, or not printable UTF-8)",
                          j + 1, ft_log_quote(q, sizeof(q), name, len), FT_NAME_MAX);
        for (size_t k = 1; k < j; k++) {
            const char *other = ingest_batch_field(a->b, 0, k, &l2);
            if (l2 == len && memcmp(other, name, len) == 0)
                return reject(a->res, FT_FAIL_PARSE, "header names column %s twice", ft_log_quote(q, sizeof(q), name, len));
        }
        m->colmap[j] = -1;
        for (uint32_t c = 0; c < m->ncols; c++)
            if (m->cols[c].len == len && memcmp(m->cols[c].name, name, len) == 0)
                m->colmap[j] = (int32_t)c;
        if (m->colmap[j] < 0) {
            a->new_cols++;
            a->newtype[j] = listed(m->rules.text_columns, name, len) ? FT_COL_TEXT : infer_type(a->b, j, a->hn, m->rules.unsigned_ints);
        }
    }
    if (m->ncols + a->new_cols > m->cap.max_counters)
        return reject(a->res, FT_FAIL_CAPACITY, "%u counters known and %u new; capacity is %u (--max-counters)", m->ncols,
                      a->new_cols, m->cap.max_counters);
    return 0;
}

/* Phase 3, the rows: attribute each to a switch (or to none) and judge its cells. Never rejects the body. */
static void judge_rows(apply_t *a)
{
    ingest_model_t *m = a->m;
    const ingest_batch_t *b = a->b;
    for (size_t r = 1; r < b->nrows; r++) {
        size_t klen;
        const char *key = ingest_batch_field(b, r, 0, &klen);
        m->row_index[r] = -2;
        m->row_ok[r] = 0;
        if (!valid_name(key, klen)) {
            note_rejected(a->res, key, klen);
            continue;
        }
        int64_t row = model_find(m, key, klen);
        if (row >= 0) {
            if (m->rows[row].seen_mark == m->mark) { /* duplicate switch id: the first row wins */
                note_rejected(a->res, key, klen);
                continue;
            }
            m->rows[row].seen_mark = m->mark;
        } else if (newkey_seen(m, b, key, klen, (uint32_t)r)) {
            note_rejected(a->res, key, klen);
            continue;
        }
        m->row_ok[r] = (uint8_t)judge_row(m, b, r, a->hn, a->newtype);
        if (!m->row_ok[r]) {
            note_rejected(a->res, key, klen);
            if (row < 0) /* never seen and bad: nothing to show for it */
                continue;
            a->res->stale_rows++;
        } else if (row < 0) {
            a->new_switches++;
        }
        m->row_index[r] = (int32_t)row; /* -1: new switch */
    }
}

static int forgettable(const apply_t *a, const ingest_row_t *row)
{
    return row->used && row->seen_mark != a->m->mark && a->now_ns - row->last_seen_ns > a->m->forget_after_ns;
}

/* Phase 4, capacity: rows (counting those forgetting will give back), then the text pool. */
static int judge_capacity(apply_t *a)
{
    ingest_model_t *m = a->m;
    uint32_t forget = 0;
    for (uint32_t r = 0; r < m->nrows; r++)
        forget += (uint32_t)forgettable(a, &m->rows[r]);
    uint64_t room = (uint64_t)(m->cap.max_switches - m->nrows) + m->nfree + forget;
    if (a->new_switches > room)
        return reject(a->res, FT_FAIL_CAPACITY, "%u new switches but room for %llu; capacity is %u (--max-switches)",
                      a->new_switches, (unsigned long long)room, m->cap.max_switches);
    uint64_t text_need = 0;
    for (size_t r = 1; r < a->b->nrows; r++) {
        if (m->row_index[r] == -2)
            continue;
        for (size_t j = 1; j < a->hn; j++) {
            if (col_type(a, j) != FT_COL_TEXT)
                continue;
            size_t len;
            if (m->row_ok[r])
                ingest_batch_field(a->b, r, j, &len), text_need += align8(len);
            else if (m->colmap[j] >= 0)
                text_need += text_len_of(m, (uint32_t)m->row_index[r], (uint32_t)m->colmap[j]);
        }
    }
    if (text_need > m->cap.text_bytes)
        return reject(a->res, FT_FAIL_CAPACITY, "text cells need %llu bytes; the text pool holds %llu (--text-bytes)",
                      (unsigned long long)text_need, (unsigned long long)m->cap.text_bytes);
    return 0;
}

/* Commit 1: forget long-absent switches (their rows can be reused), add the new columns, set presence. */
static void commit_catalog(apply_t *a)
{
    ingest_model_t *m = a->m;
    for (uint32_t r = 0; r < m->nrows; r++)
        if (forgettable(a, &m->rows[r])) {
            free_row(m, r);
            a->res->forgotten++;
        }
    if (a->res->forgotten) {
        model_hash_rebuild(m);
        m->catalog_ver++;
    }
    for (size_t j = 1; j < a->hn; j++) {
        if (m->colmap[j] >= 0)
            continue;
        size_t len;
        const char *name = ingest_batch_field(a->b, 0, j, &len);
        uint32_t c = m->ncols++;
        ingest_col_t *col = &m->cols[c];
        memcpy(col->name, name, len);
        col->name[len] = '\0';
        col->len = (uint8_t)len;
        col->type = a->newtype[j];
        col->kind = kind_of(m, name, len);
        for (uint32_t r = 0; r < m->nrows; r++)
            m->vals[(uint64_t)r * m->cap.max_counters + c] = null_cell(col->type);
        m->colmap[j] = (int32_t)c;
        m->catalog_ver++;
    }
    for (uint32_t c = 0; c < m->ncols; c++)
        m->cols[c].present = 0;
    for (size_t j = 1; j < a->hn; j++)
        m->cols[m->colmap[j]].present = 1;
    for (uint32_t r = 0; r < m->nrows; r++)
        m->rows[r].present = m->rows[r].stale = 0;
}

/* One text cell into the new arena: the body's value for a good row, the previous one carried over for a stale row. */
static uint64_t commit_text(ft_buf_t *arena, const ft_buf_t *old, uint64_t prev, int row_ok, const char *s, size_t len)
{
    if (row_ok)
        return arena_put(arena, s, len);
    if (prev == FT_CELL_NULL_TEXT || (uint64_t)ft_text_ref_off(prev) + ft_text_ref_len(prev) > old->len)
        return FT_CELL_NULL_TEXT; /* nothing to carry over: never a ref into the wrong arena */
    if (ft_text_ref_len(prev) == 0)
        return arena_put(arena, "", 0); /* (old->data may be NULL: no pointer arithmetic on it) */
    return arena_put(arena, old->data + ft_text_ref_off(prev), ft_text_ref_len(prev));
}

/* Commit 2: each attributed batch row's values (new switches get their rows here). */
static void commit_row(apply_t *a, size_t r, ft_buf_t *arena, const ft_buf_t *old)
{
    ingest_model_t *m = a->m;
    size_t klen;
    const char *key = ingest_batch_field(a->b, r, 0, &klen);
    uint32_t row = m->row_index[r] >= 0 ? (uint32_t)m->row_index[r] : alloc_row(m, key, klen);
    if (m->row_index[r] < 0)
        m->catalog_ver++;
    m->row_index[r] = (int32_t)row;
    ingest_row_t *rw = &m->rows[row];
    rw->present = 1;
    rw->stale = !m->row_ok[r];
    rw->last_seen_ns = a->now_ns;
    uint64_t *v = &m->vals[(uint64_t)row * m->cap.max_counters];
    for (size_t j = 1; j < a->hn; j++) {
        uint32_t c = (uint32_t)m->colmap[j];
        size_t len;
        const char *s = ingest_batch_field(a->b, r, j, &len);
        if (m->cols[c].type == FT_COL_TEXT)
            v[c] = commit_text(arena, old, v[c], m->row_ok[r], s, len);
        else if (m->row_ok[r])
            v[c] = m->parsed[a->b->row_first[r] + j];
    }
}

/* Commit 3: values, into a fresh text arena holding exactly the text cells this snapshot shows. */
static int commit_values(apply_t *a)
{
    ingest_model_t *m = a->m;
    ft_buf_t old = m->text_arena, *arena = &m->text_arena;
    ft_buf_init(arena);
    for (size_t r = 1; r < a->b->nrows; r++)
        if (m->row_index[r] != -2)
            commit_row(a, r, arena, &old);
    /* Text cells not carried into the new arena no longer refer to anything. */
    for (uint32_t r = 0; r < m->nrows; r++) {
        int keep_row = m->rows[r].used && m->rows[r].present;
        for (uint32_t c = 0; c < m->ncols; c++)
            if (m->cols[c].type == FT_COL_TEXT && (!keep_row || !m->cols[c].present))
                m->vals[(uint64_t)r * m->cap.max_counters + c] = FT_CELL_NULL_TEXT;
    }
    ft_buf_destroy(&old);
    if (arena->failed)
        return reject(a->res, FT_FAIL_CAPACITY, "out of memory for text cells");
    return 0;
}

int ingest_model_apply(ingest_model_t *m, const ingest_batch_t *b, uint64_t now_ns, ingest_result_t *res)
{
    memset(res, 0, sizeof(*res));
    res->cause = -1;
    m->mark++;
    apply_t a = {.m = m, .b = b, .now_ns = now_ns, .res = res, .newtype = m->newtype};
    int r;
    if ((r = judge_shape(&a)) != 0 || (r = judge_header(&a)) != 0)
        return r;
    judge_rows(&a);
    if ((r = judge_capacity(&a)) != 0)
        return r;
    commit_catalog(&a);
    if ((r = commit_values(&a)) != 0)
        return r;
    for (uint32_t i = 0; i < m->nrows; i++)
        res->nswitches += m->rows[i].used && m->rows[i].present;
    res->new_switches = a.new_switches;
    m->rows_rejected = res->rows_rejected;
    return 0;
}

/* ---- publishing ---- */

static uint64_t row_meta(const ingest_row_t *r)
{
    uint32_t flags = (r->used ? FT_ROW_USED : 0) | (r->present ? FT_ROW_PRESENT : 0) | (r->stale ? FT_ROW_STALE : 0) |
                     (r->shown_absent ? FT_ROW_SHOWN_ABSENT : 0);
    return ft_row_meta(r->len, flags, r->incarnation);
}

/* The catalog (names, types, flags), the cells of present rows, the index and the text pool. */
static void write_slot(ingest_model_t *m, ft_slot_writer_t *w, uint32_t si)
{
    int full = m->slot_catalog_ver[si] != m->catalog_ver; /* this slot's names and index are out of date */
    uint32_t nswitches = 0, stale = 0;
    for (uint32_t c = 0; c < m->ncols; c++) {
        const ingest_col_t *col = &m->cols[c];
        ft_slot_write_col(w, c, col->name, col->len, ft_col_meta(col->len, col->type, col->present, col->kind), full);
    }
    for (uint32_t r = 0; r < m->nrows; r++) {
        const ingest_row_t *row = &m->rows[r];
        ft_slot_write_row(w, r, row->name, row->len, row_meta(row), full);
        if (row->used && row->present) {
            ft_slot_write_cells(w, r, &m->vals[(uint64_t)r * m->cap.max_counters], m->ncols);
            nswitches++;
            stale += row->stale;
        }
    }
    if (full)
        ft_slot_write_hash(w, m->hash, m->hash_size);
    ft_slot_write_text(w, m->text_arena.data, m->text_arena.len);
    m->slot_catalog_ver[si] = m->catalog_ver;
    const uint64_t hdr[][2] = {
        {FT_SLOT_GEN, w->gen},          {FT_SLOT_NROWS, m->nrows},         {FT_SLOT_NCOLS, m->ncols},
        {FT_SLOT_NSWITCHES, nswitches}, {FT_SLOT_TEXT_USED, m->text_arena.len}, {FT_SLOT_STALE_ROWS, stale},
        {FT_SLOT_ROWS_REJECTED, m->rows_rejected}, {FT_SLOT_CATALOG_VER, m->catalog_ver},
    };
    for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++)
        ft_slot_write_hdr(w, (unsigned)hdr[i][0], hdr[i][1]);
}

/*
 * History records generation n before the segment publishes it (shm/histwrite.h): every numeric column of
 * every present, non-stale switch; rows given back close their switch's series. Text is not history.
 */
static void record_history(void *arg)
{
    ingest_model_t *m = arg;
    uint64_t n = m->hist_gen, now_ns = m->hist_now_ns;
    ft_hist_writer_t *h = m->hist;
    for (uint32_t c = 0; c < m->ncols; c++)
        ft_hist_set_column(h, c, m->cols[c].name, m->cols[c].len, m->cols[c].type, m->cols[c].kind);
    ft_hist_begin(h, n, (int64_t)(now_ns / 1000000));
    for (uint32_t r = 0; r < m->nrows; r++) {
        const ingest_row_t *row = &m->rows[r];
        if (!row->used)
            ft_hist_forget_row(h, r);
        else if (row->present && !row->stale)
            ft_hist_put_row(h, r, row->incarnation, row->name, row->len, &m->vals[(uint64_t)r * m->cap.max_counters], m->ncols);
    }
    ft_hist_end(h);
}

int ingest_model_publish(ingest_model_t *m, ft_shm_t *shm, uint64_t now_ns)
{
    uint64_t n = m->gen + 1;
    ft_slot_writer_t w;
    ft_slot_write_begin(&w, shm, n); /* W1 */
    write_slot(m, &w, (uint32_t)(n % shm->hdr->nslots));
    ft_slot_write_hdr(&w, FT_SLOT_COLLECTED_NS, now_ns);
    /* History records n on the helper thread while the body renders: both only read the model and the slot. */
    if (m->hist != NULL) {
        if (!m->helper.started && ingest_helper_init(&m->helper) != 0)
            ft_warn("event=history_helper_unavailable reason=\"no thread: history is recorded inline\"");
        m->hist_gen = n, m->hist_now_ns = now_ns;
        ingest_helper_run(&m->helper, record_history, m);
    }
    /* The unfiltered ListMetrics, rendered from the slot itself through the readers' view. */
    ft_snap_t v;
    ft_snap_at(&v, shm, n);
    const ingest_prerender_t *p = &m->pre;
    int whole = m->prerender_max_rows == 0 || m->nrows <= m->prerender_max_rows;
    if (whole && ingest_prerender_run(&m->pre, &v) == 0)
        ft_slot_write_body(&w, p->json.data, p->json.len, p->gz.len ? p->gz.data : NULL, p->gz.len);
    else
        ft_slot_write_body(&w, NULL, 0, NULL, 0); /* none: readers render it themselves */
    if (m->hist != NULL)
        ingest_helper_wait(&m->helper); /* before W3: a reader that sees generation n finds it in history */
    ft_slot_publish(&w, now_ns); /* W3 */
    m->gen = n;
    return 0;
}

/* ---- reattach ---- */

static int load_cols(ingest_model_t *m, const ft_snap_t *v)
{
    m->ncols = v->ncols;
    for (uint32_t c = 0; c < v->ncols; c++) {
        ingest_col_t *col = &m->cols[c];
        uint64_t meta = ft_snap_col_meta(v, c);
        col->len = (uint8_t)ft_snap_col_name(v, c, col->name);
        col->type = (uint8_t)ft_col_meta_type(meta);
        col->present = (uint8_t)ft_col_meta_present(meta);
        col->kind = kind_of(m, col->name, col->len); /* the configuration now, not the one that wrote the segment */
        if (col->type < FT_COL_INT || col->type > FT_COL_UINT)
            return -EPROTO;
    }
    return 0;
}

static void load_row(ingest_model_t *m, const ft_snap_t *v, uint32_t r, uint64_t now_ns)
{
    ingest_row_t *row = &m->rows[r];
    uint64_t meta = ft_snap_row_meta(v, r);
    memset(row, 0, sizeof(*row));
    row->len = (uint8_t)ft_snap_row_name(v, r, row->name);
    row->used = (meta & FT_ROW_USED) != 0;
    row->present = (meta & FT_ROW_PRESENT) != 0;
    row->stale = (meta & FT_ROW_STALE) != 0;
    row->shown_absent = (meta & FT_ROW_SHOWN_ABSENT) != 0;
    row->incarnation = ft_row_meta_incarnation(meta);
    row->last_seen_ns = now_ns; /* absence is timed from the restart */
    if (!row->used) {
        m->free_rows[m->nfree++] = r;
        return;
    }
    uint64_t *dst = &m->vals[(uint64_t)r * m->cap.max_counters];
    for (uint32_t c = 0; c < m->ncols; c++) {
        dst[c] = row->present ? ft_snap_cell(v, r, c) : null_cell(m->cols[c].type);
        if (m->cols[c].type == FT_COL_TEXT && dst[c] != FT_CELL_NULL_TEXT &&
            (uint64_t)ft_text_ref_off(dst[c]) + ft_text_ref_len(dst[c]) > m->text_arena.len)
            dst[c] = FT_CELL_NULL_TEXT;
    }
}

int ingest_model_load(ingest_model_t *m, const ft_shm_t *shm, uint64_t now_ns)
{
    /* We hold the writer lock, so the published slot cannot change under us. */
    uint64_t g = ft_shm_generation(shm);
    m->gen = g;
    if (g == 0)
        return 0;
    ft_snap_t v;
    ft_snap_at(&v, shm, g);
    if (load_cols(m, &v) != 0)
        return -EPROTO;
    m->nrows = v.nrows;
    m->nfree = 0;
    ft_buf_t *arena = &m->text_arena;
    uint64_t tu = ft_snap_hdr(&v, FT_SLOT_TEXT_USED);
    if (tu > v.text_bytes || ft_buf_reserve(arena, tu + 8) != 0)
        return -EPROTO;
    ft_seq_load_words(arena->data, v.text, (size_t)(align8(tu) / 8));
    arena->len = (size_t)align8(tu);
    for (uint32_t r = 0; r < v.nrows; r++)
        load_row(m, &v, r, now_ns);
    model_hash_rebuild(m);
    m->catalog_ver = ft_snap_hdr(&v, FT_SLOT_CATALOG_VER) + 1;
    return 0;
}
