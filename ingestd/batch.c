#include "batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int grow(void **p, size_t *cap, size_t need, size_t elem, void **p2)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 1024;
    while (n < need)
        n *= 2;
    void *a = realloc(*p, n * elem);
    if (a == NULL)
        return -ENOMEM;
    *p = a;
    if (p2 != NULL) {
        void *c = realloc(*p2, n * elem);
        if (c == NULL)
            return -ENOMEM;
        *p2 = c;
    }
    *cap = n;
    return 0;
}

static void on_field(void *s, size_t len, void *data)
{
    ingest_batch_t *b = data;
    if (b->error)
        return;
    if (grow((void **)&b->field_off, &b->fields_cap, b->nfields + 1, sizeof(uint32_t), (void **)&b->field_len) != 0 ||
        ft_buf_reserve(&b->arena, len + 1) != 0) {
        b->error = -ENOMEM;
        return;
    }
    b->field_off[b->nfields] = (uint32_t)b->arena.len;
    b->field_len[b->nfields] = (uint32_t)len;
    if (len)
        memcpy(b->arena.data + b->arena.len, s, len);
    b->arena.data[b->arena.len + len] = '\0';
    b->arena.len += len + 1;
    b->nfields++;
}

static void on_row(int term, void *data)
{
    ingest_batch_t *b = data;
    if (b->error)
        return;
    size_t rows_cap = b->rows_cap;
    if (grow((void **)&b->row_first, &rows_cap, b->nrows + 1, sizeof(uint32_t), (void **)&b->row_nfields) != 0) {
        b->error = -ENOMEM;
        return;
    }
    b->rows_cap = rows_cap;
    b->row_first[b->nrows] = (uint32_t)b->cur_first;
    b->row_nfields[b->nrows] = (uint32_t)(b->nfields - b->cur_first);
    b->nrows++;
    b->cur_first = b->nfields;
    /* libcsv passes -1 when csv_fini() flushes a row that had no terminator. */
    b->last_row_unterminated = term == -1;
}

int ingest_batch_init(ingest_batch_t *b, size_t max_bytes)
{
    memset(b, 0, sizeof(*b));
    b->max_bytes = max_bytes;
    ft_buf_init(&b->arena);
    if (csv_init(&b->csv, CSV_APPEND_NULL) != 0)
        return -ENOMEM;
    return 0;
}

void ingest_batch_reset(ingest_batch_t *b)
{
    /* csv_fini also resets the parser; drop what it flushes. */
    b->error = 1;
    csv_fini(&b->csv, on_field, on_row, b);
    b->error = 0;
    b->bytes = 0;
    b->bom_seen = 0;
    b->arena.len = 0;
    b->arena.failed = 0;
    b->nfields = b->nrows = b->cur_first = 0;
    b->last_row_unterminated = 0;
}

void ingest_batch_destroy(ingest_batch_t *b)
{
    csv_free(&b->csv);
    ft_buf_destroy(&b->arena);
    free(b->field_off);
    free(b->field_len);
    free(b->row_first);
    free(b->row_nfields);
    memset(b, 0, sizeof(*b));
}

int ingest_batch_feed(ingest_batch_t *b, const void *data, size_t n)
{
    static const unsigned char bom[3] = {0xef, 0xbb, 0xbf};
    const unsigned char *p = data;
    if (b->error)
        return b->error;
    if (n > b->max_bytes - b->bytes) {
        b->error = -EFBIG;
        return b->error;
    }
    b->bytes += n;
    /* A UTF-8 byte order mark at the very start is dropped, even when split across reads. */
    while (b->bom_seen < 3 && n > 0) {
        if (*p != bom[b->bom_seen]) {
            if (b->bom_seen > 0) /* a partial BOM was data after all */
                csv_parse(&b->csv, bom, b->bom_seen, on_field, on_row, b);
            b->bom_seen = 3;
            break;
        }
        b->bom_seen++, p++, n--;
    }
    if (n > 0 && csv_parse(&b->csv, p, n, on_field, on_row, b) != n && !b->error)
        b->error = -ENOMEM;
    return b->error;
}

int ingest_batch_finish(ingest_batch_t *b)
{
    if (b->error)
        return b->error;
    csv_fini(&b->csv, on_field, on_row, b);
    return b->error;
}

int ingest_batch_parse(ingest_batch_t *b, const void *p, size_t n)
{
    ingest_batch_reset(b);
    int r = ingest_batch_feed(b, p, n);
    return r != 0 ? r : ingest_batch_finish(b);
}

int ingest_batch_add_field(ingest_batch_t *b, const char *s, size_t len)
{
    on_field((void *)s, len, b);
    return b->error;
}

void ingest_batch_take_arena(ingest_batch_t *dst, ingest_batch_t *src)
{
    ft_buf_t t = dst->arena;
    dst->arena = src->arena;
    src->arena = t;
    src->arena.len = 0;
}

int ingest_batch_add_ref(ingest_batch_t *b, uint32_t off, uint32_t len)
{
    if (b->error)
        return b->error;
    if (grow((void **)&b->field_off, &b->fields_cap, b->nfields + 1, sizeof(uint32_t), (void **)&b->field_len) != 0)
        return b->error = -ENOMEM;
    b->field_off[b->nfields] = off;
    b->field_len[b->nfields] = len;
    b->nfields++;
    return 0;
}

int ingest_batch_add_refs(ingest_batch_t *b, const uint32_t *off, const uint32_t *len, size_t n)
{
    if (b->error)
        return b->error;
    if (grow((void **)&b->field_off, &b->fields_cap, b->nfields + n, sizeof(uint32_t), (void **)&b->field_len) != 0)
        return b->error = -ENOMEM;
    memcpy(b->field_off + b->nfields, off, n * sizeof(uint32_t));
    memcpy(b->field_len + b->nfields, len, n * sizeof(uint32_t));
    b->nfields += n;
    return 0;
}

int ingest_batch_set_field(ingest_batch_t *b, size_t f, const char *s, size_t len)
{
    if (b->error)
        return b->error;
    if (ft_buf_reserve(&b->arena, len + 1) != 0)
        return b->error = -ENOMEM;
    b->field_off[f] = (uint32_t)b->arena.len;
    b->field_len[f] = (uint32_t)len;
    if (len)
        memcpy(b->arena.data + b->arena.len, s, len);
    b->arena.data[b->arena.len + len] = '\0';
    b->arena.len += len + 1;
    return 0;
}

size_t ingest_batch_keep_rows(ingest_batch_t *b, int (*keep)(void *ctx, const ingest_batch_t *b, size_t row), void *ctx)
{
    size_t w = 1, dropped = 0;
    for (size_t r = 1; r < b->nrows; r++) {
        if (!keep(ctx, b, r)) {
            dropped++;
            continue;
        }
        b->row_first[w] = b->row_first[r], b->row_nfields[w] = b->row_nfields[r];
        w++;
    }
    if (b->nrows > 0)
        b->nrows = w;
    return dropped;
}

int ingest_batch_end_row(ingest_batch_t *b)
{
    on_row('\n', b);
    return b->error;
}
