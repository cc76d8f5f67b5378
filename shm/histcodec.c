#include "histcodec.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static const double p10[16] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

static inline uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t unzz(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

static inline size_t put_varint(uint8_t *o, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        o[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    o[n++] = (uint8_t)v;
    return n;
}

static inline int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        if (shift == 63 && b > 1)
            return -EPROTO;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -EPROTO;
}

static inline size_t put_u64(uint8_t *o, uint64_t v)
{
    memcpy(o, &v, 8);
    return 8;
}

static inline int get_u64(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    if (end - *p < 8)
        return -EPROTO;
    memcpy(v, *p, 8);
    *p += 8;
    return 0;
}

static inline double as_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

static inline uint64_t as_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static inline uint64_t null_of(uint32_t col)
{
    return ft_hist_col_type(col) == FT_COL_FLOAT ? FT_CELL_NULL_FLOAT : FT_CELL_NULL_INT;
}

void ft_hist_codec_init(ft_hist_codec_t *c, const uint32_t *cols, uint32_t ncols, int64_t first_t)
{
    memset(c, 0, sizeof(*c));
    c->ncols = ncols > FT_HIST_MAX_COLS ? FT_HIST_MAX_COLS : ncols;
    memcpy(c->cols, cols, c->ncols * sizeof(uint32_t));
    c->t = c->base = first_t;
    c->first = 1;
}

void ft_hist_codec_restart(ft_hist_codec_t *c, int64_t t)
{
    memset(c->prev, 0, sizeof(c->prev));
    memset(c->e, 0, sizeof(c->e));
    c->t = t, c->dt = 0, c->first = 1;
}

/* x == m / 10^e exactly, |m| < 2^53, and not -0.0: the decimal round-trips. */
static int decimal_of(double x, unsigned e, int64_t *m)
{
    double s = x * p10[e];
    if (!(fabs(s) < 9007199254740992.0) || (x == 0 && signbit(x)))
        return 0;
    int64_t r = llround(s);
    if ((double)r / p10[e] != x)
        return 0;
    *m = r;
    return 1;
}

static size_t enc_float(ft_hist_codec_t *c, uint32_t i, uint8_t *o, uint64_t bits)
{
    double x = as_double(bits);
    int64_t m;
    if (c->e[i] != FT_HIST_E_RAW && decimal_of(x, c->e[i], &m)) {
        size_t n = put_varint(o, zz(m - (int64_t)c->prev[i]) << 1);
        c->prev[i] = (uint64_t)m;
        return n;
    }
    for (unsigned e = 0; e < FT_HIST_E_RAW; e++)
        if (decimal_of(x, e, &m)) {
            size_t n = put_varint(o, (uint64_t)e << 1 | 1);
            n += put_varint(o + n, zz(m));
            c->e[i] = (uint8_t)e;
            c->prev[i] = (uint64_t)m;
            return n;
        }
    size_t n = put_varint(o, (uint64_t)FT_HIST_E_RAW << 1 | 1);
    n += put_u64(o + n, bits);
    c->e[i] = FT_HIST_E_RAW;
    c->prev[i] = 0;
    return n;
}

static int dec_float(ft_hist_codec_t *c, uint32_t i, const uint8_t **p, const uint8_t *end, uint64_t *bits)
{
    uint64_t v;
    if (get_varint(p, end, &v) != 0)
        return -EPROTO;
    int64_t m;
    if (!(v & 1)) {
        if (c->e[i] >= FT_HIST_E_RAW)
            return -EPROTO;
        m = (int64_t)(c->prev[i] + (uint64_t)unzz(v >> 1));
    } else if ((v >> 1) < FT_HIST_E_RAW) {
        uint64_t u;
        if (get_varint(p, end, &u) != 0)
            return -EPROTO;
        c->e[i] = (uint8_t)(v >> 1);
        m = unzz(u);
    } else if ((v >> 1) == FT_HIST_E_RAW) {
        c->e[i] = FT_HIST_E_RAW;
        c->prev[i] = 0;
        return get_u64(p, end, bits);
    } else {
        return -EPROTO;
    }
    c->prev[i] = (uint64_t)m;
    *bits = as_bits((double)m / p10[c->e[i]]);
    return 0;
}

int ft_hist_dec_raw_time(ft_hist_codec_t *c, const uint8_t **p, const uint8_t *end, int64_t *t, const uint8_t **bitmap)
{
    if (*p >= end)
        return 0;
    uint64_t h, gen = c->first ? c->base_gen : c->gen + 1;
    if (get_varint(p, end, &h) != 0)
        return -EPROTO;
    int64_t dod = unzz(h >> 3), dt;
    if (h & 2) { /* a sync record: its time and generation from the block's start, and the codec starts over */
        uint64_t rel, g;
        if (dod != 0 || (h & 4) || get_varint(p, end, &rel) != 0 || get_varint(p, end, &g) != 0 ||
            rel > (uint64_t)INT64_MAX - (uint64_t)(c->base > 0 ? c->base : 0) || g > UINT64_MAX - c->base_gen)
            return -EPROTO;
        int64_t ts = c->base + (int64_t)rel;
        gen = c->base_gen + g;
        if (!c->first && (ts <= c->t || gen <= c->gen))
            return -EPROTO;
        ft_hist_codec_restart(c, ts);
        dt = 0;
    } else {
        dt = (int64_t)((uint64_t)c->dt + (uint64_t)dod);
        if ((c->first && dt != 0) || (!c->first && (dt <= 0 || dt > INT64_MAX - c->t)))
            return -EPROTO; /* the writer only appends strictly later samples, and time does not wrap */
    }
    if (h & 4) {
        uint64_t skip;
        if (get_varint(p, end, &skip) != 0 || skip == 0 || skip > UINT64_MAX - gen)
            return -EPROTO;
        gen += skip;
    }
    *bitmap = NULL;
    if (h & 1) {
        size_t nb = (c->ncols + 7) / 8;
        if ((size_t)(end - *p) < nb)
            return -EPROTO;
        *bitmap = *p;
        *p += nb;
    }
    c->t = (int64_t)((uint64_t)c->t + (uint64_t)dt), c->dt = dt, c->first = 0;
    c->gen = gen;
    *t = c->t;
    c->last_sync = (h & 2) != 0;
    return 1;
}

/* Move a float column's state over one value without producing the double (no division). */
static int step_float(ft_hist_codec_t *c, uint32_t i, const uint8_t **p, const uint8_t *end)
{
    uint64_t v, u, raw;
    if (get_varint(p, end, &v) != 0)
        return -EPROTO;
    if (!(v & 1)) {
        if (c->e[i] >= FT_HIST_E_RAW)
            return -EPROTO;
        c->prev[i] += (uint64_t)unzz(v >> 1);
    } else if ((v >> 1) < FT_HIST_E_RAW) {
        if (get_varint(p, end, &u) != 0)
            return -EPROTO;
        c->e[i] = (uint8_t)(v >> 1), c->prev[i] = (uint64_t)unzz(u);
    } else if ((v >> 1) != FT_HIST_E_RAW || get_u64(p, end, &raw) != 0) {
        return -EPROTO;
    } else {
        c->e[i] = FT_HIST_E_RAW, c->prev[i] = 0;
    }
    return 0;
}

static inline int skip_varint(const uint8_t **p, const uint8_t *end)
{
    for (int i = 0; i < 10 && *p < end; i++)
        if (!(*(*p)++ & 0x80))
            return 0;
    return -EPROTO;
}

static inline int skip_bytes(const uint8_t **p, const uint8_t *end, size_t n)
{
    if ((size_t)(end - *p) < n)
        return -EPROTO;
    *p += n;
    return 0;
}

/* Step over one value of column i without keeping its state. */
static int skip_value(const ft_hist_codec_t *c, uint32_t i, const uint8_t **p, const uint8_t *end)
{
    if (ft_hist_col_type(c->cols[i]) != FT_COL_FLOAT)
        return skip_varint(p, end);
    uint64_t v;
    if (get_varint(p, end, &v) != 0)
        return -EPROTO;
    if (!(v & 1))
        return 0;
    if ((v >> 1) < FT_HIST_E_RAW)
        return skip_varint(p, end);
    return (v >> 1) == FT_HIST_E_RAW ? skip_bytes(p, end, 8) : -EPROTO;
}

int ft_hist_dec_raw_values(ft_hist_codec_t *c, const uint8_t **p, const uint8_t *end, const uint8_t *bitmap, uint64_t keep,
                           uint64_t want, uint64_t *cells)
{
    for (uint32_t i = 0; i < c->ncols; i++) {
        int wanted = i < 64 && (want >> i & 1), kept = i >= 64 || (keep >> i & 1);
        if (bitmap != NULL && (bitmap[i / 8] >> (i % 8) & 1)) {
            if (wanted)
                cells[i] = null_of(c->cols[i]);
            continue;
        }
        if (!kept && !wanted) {
            if (skip_value(c, i, p, end) != 0)
                return -EPROTO;
        } else if (ft_hist_col_type(c->cols[i]) != FT_COL_FLOAT) {
            uint64_t v;
            if (get_varint(p, end, &v) != 0)
                return -EPROTO;
            c->prev[i] += (uint64_t)unzz(v);
            if (wanted)
                cells[i] = c->prev[i];
        } else if (wanted ? dec_float(c, i, p, end, &cells[i]) != 0 : step_float(c, i, p, end) != 0) {
            return -EPROTO;
        }
    }
    return 0;
}

void ft_hist_cursor_init(ft_hist_cursor_t *k, const uint64_t *blk, int64_t from)
{
    uint32_t ncols = ft_hist_owner_ncols(blk[FT_HB_OWNER]), used = (uint32_t)blk[FT_HB_USED];
    int64_t first = (int64_t)blk[FT_HB_FIRST_T];
    memset(k, 0, sizeof(*k));
    if (ncols > FT_HIST_MAX_COLS || used > FT_HIST_BLOCK - ft_hist_payload_off(ncols))
        ncols = 0, used = 0; /* not a block: nothing to read */
    ft_hist_codec_init(&k->c, (const uint32_t *)&blk[FT_HB_WORDS], ncols, first);
    k->c.base_gen = blk[FT_HB_FIRST_GEN];
    k->base = k->p = (const uint8_t *)blk + ft_hist_payload_off(ncols);
    k->end = k->base + used;
    for (uint32_t i = 0; i < FT_HIST_NSYNC; i++) { /* increasing offsets and times, each word checked */
        uint64_t w = blk[FT_HB_SYNC + i];
        uint32_t off = ft_hist_sync_off(w);
        int64_t t = first + ft_hist_sync_t(w);
        if (w == 0 || w != ft_hist_sync_word(blk[FT_HB_POS], off, ft_hist_sync_t(w)) || off == 0 || off >= used ||
            (k->n > 0 && (off <= k->off[k->n - 1] || t <= k->t[k->n - 1])))
            break;
        k->off[k->n] = off, k->t[k->n++] = t;
    }
    int best = -1; /* the newest sync point before from */
    for (uint32_t i = 0; i < k->n; i++)
        if (k->t[i] < from)
            best = (int)i;
    if (best < 0)
        return;
    /* The index is a hint: start there only if the payload has a sync record at that offset with that time. */
    ft_hist_codec_t probe = k->c;
    const uint8_t *q = k->base + k->off[best], *bitmap;
    int64_t t;
    if (ft_hist_dec_raw_time(&probe, &q, k->end, &t, &bitmap) == 1 && probe.last_sync && t == k->t[best])
        k->p = k->base + k->off[best];
}

int ft_hist_cursor_next(ft_hist_cursor_t *k, int64_t *t, const uint8_t **bitmap)
{
    return ft_hist_dec_raw_time(&k->c, &k->p, k->end, t, bitmap);
}

size_t ft_hist_enc_raw(ft_hist_codec_t *c, uint8_t *out, int64_t t, uint64_t gen, const uint64_t *cells, int sync)
{
    if (sync)
        ft_hist_codec_restart(c, t);
    int64_t dt = c->first ? 0 : t - c->t;
    uint64_t expect = c->first ? c->base_gen : c->gen + 1;
    int gap = !sync && gen != expect;
    int absent = 0;
    for (uint32_t i = 0; i < c->ncols; i++)
        absent |= cells[i] == null_of(c->cols[i]);
    size_t n = put_varint(out, zz(dt - c->dt) << 3 | (uint64_t)gap << 2 | (uint64_t)(sync != 0) << 1 | (uint64_t)absent);
    if (sync) {
        n += put_varint(out + n, (uint64_t)(t - c->base));
        n += put_varint(out + n, gen - c->base_gen);
    }
    if (gap)
        n += put_varint(out + n, gen - expect);
    if (absent) {
        size_t nb = (c->ncols + 7) / 8;
        memset(out + n, 0, nb);
        for (uint32_t i = 0; i < c->ncols; i++)
            if (cells[i] == null_of(c->cols[i]))
                out[n + i / 8] |= (uint8_t)(1u << (i % 8));
        n += nb;
    }
    for (uint32_t i = 0; i < c->ncols; i++) {
        if (cells[i] == null_of(c->cols[i]))
            continue;
        if (ft_hist_col_type(c->cols[i]) == FT_COL_FLOAT) {
            n += enc_float(c, i, out + n, cells[i]);
        } else {
            n += put_varint(out + n, zz((int64_t)(cells[i] - c->prev[i])));
            c->prev[i] = cells[i];
        }
    }
    c->t = t, c->dt = dt, c->first = 0;
    c->gen = gen;
    return n;
}

int ft_hist_dec_raw(ft_hist_codec_t *c, const uint8_t **p, const uint8_t *end, int64_t *t, uint64_t *cells)
{
    const uint8_t *bitmap;
    int rc = ft_hist_dec_raw_time(c, p, end, t, &bitmap);
    if (rc != 1)
        return rc;
    return ft_hist_dec_raw_values(c, p, end, bitmap, ~0ULL, ~0ULL, cells) == 0 ? 1 : -EPROTO;
}


/* The exponent at which first, min, max and last are all short decimals (the column's last one first), or -1. */
static int agg_exponent(const ft_hist_codec_t *c, uint32_t i, const ft_hist_agg_t *a, int64_t m[4])
{
    const uint64_t v[4] = {a->first, a->min, a->max, a->last};
    for (int k = -1; k < (int)FT_HIST_E_RAW; k++) {
        unsigned e = k < 0 ? c->e[i] : (unsigned)k;
        if (e >= FT_HIST_E_RAW)
            continue;
        int ok = 1;
        for (int j = 0; ok && j < 4; j++)
            ok = decimal_of(as_double(v[j]), e, &m[j]);
        if (ok)
            return (int)e;
    }
    return -1;
}

/*
 * A float column's minute: a tag varint (the decimal exponent e, or FT_HIST_E_RAW for raw doubles); at e,
 * zz(first - the previous minute's last, when it was at the same e; else first itself), zz(min - first),
 * zz(max - first), zz(last - first), all in units of 10^-e; then the sums as doubles (and the increase).
 */
static size_t enc_float_agg(ft_hist_codec_t *c, uint32_t i, uint8_t *o, const ft_hist_agg_t *a)
{
    int64_t m[4];
    int e = agg_exponent(c, i, a, m);
    size_t n = put_varint(o, e < 0 ? FT_HIST_E_RAW : (uint64_t)e);
    if (e < 0) {
        const uint64_t w[4] = {a->first, a->min, a->max, a->last};
        for (int k = 0; k < 4; k++)
            n += put_u64(o + n, w[k]);
        c->e[i] = FT_HIST_E_RAW;
    } else {
        int64_t base = c->e[i] == (uint8_t)e ? (int64_t)c->prev[i] : 0;
        n += put_varint(o + n, zz(m[0] - base));
        for (int k = 1; k < 4; k++)
            n += put_varint(o + n, zz(m[k] - m[0]));
        c->e[i] = (uint8_t)e, c->prev[i] = (uint64_t)m[3];
    }
    n += put_u64(o + n, a->dsum);
    n += put_u64(o + n, as_bits(a->dsq));
    if (ft_hist_col_counter(c->cols[i]))
        n += put_u64(o + n, a->inc);
    return n;
}

static int dec_float_agg(ft_hist_codec_t *c, uint32_t i, const uint8_t **p, const uint8_t *end, ft_hist_agg_t *a)
{
    uint64_t tag, w[4], sq;
    if (get_varint(p, end, &tag) != 0 || tag > FT_HIST_E_RAW)
        return -EPROTO;
    if (tag == FT_HIST_E_RAW) {
        for (int k = 0; k < 4; k++)
            if (get_u64(p, end, &w[k]) != 0)
                return -EPROTO;
        c->e[i] = FT_HIST_E_RAW;
    } else {
        for (int k = 0; k < 4; k++)
            if (get_varint(p, end, &w[k]) != 0)
                return -EPROTO;
        int64_t base = c->e[i] == (uint8_t)tag ? (int64_t)c->prev[i] : 0, m[4];
        m[0] = (int64_t)((uint64_t)base + (uint64_t)unzz(w[0]));
        for (int k = 1; k < 4; k++)
            m[k] = (int64_t)((uint64_t)m[0] + (uint64_t)unzz(w[k]));
        for (int k = 0; k < 4; k++)
            w[k] = as_bits((double)m[k] / p10[tag]);
        c->e[i] = (uint8_t)tag, c->prev[i] = (uint64_t)m[3];
    }
    a->first = w[0], a->min = w[1], a->max = w[2], a->last = w[3];
    if (get_u64(p, end, &a->dsum) != 0 || get_u64(p, end, &sq) != 0)
        return -EPROTO;
    a->dsq = as_double(sq);
    return ft_hist_col_counter(c->cols[i]) ? get_u64(p, end, &a->inc) : 0;
}

static size_t enc_agg(ft_hist_codec_t *c, uint32_t i, uint8_t *o, const ft_hist_agg_t *a)
{
    size_t n = put_varint(o, a->count);
    if (a->count == 0)
        return n;
    int counter = ft_hist_col_counter(c->cols[i]);
    if (ft_hist_col_type(c->cols[i]) == FT_COL_FLOAT) {
        n += enc_float_agg(c, i, o + n, a);
    } else {
        n += put_varint(o + n, zz((int64_t)(a->first - c->prev[i])));
        n += put_varint(o + n, zz((int64_t)(a->min - a->first)));
        n += put_varint(o + n, zz((int64_t)(a->max - a->first)));
        n += put_varint(o + n, zz((int64_t)(a->last - a->first)));
        n += put_varint(o + n, zz((int64_t)a->dsum));
        n += put_u64(o + n, as_bits(a->dsq));
        if (counter)
            n += put_varint(o + n, a->inc);
        c->prev[i] = a->last;
    }
    return n;
}

static int dec_agg(ft_hist_codec_t *c, uint32_t i, const uint8_t **p, const uint8_t *end, ft_hist_agg_t *a)
{
    memset(a, 0, sizeof(*a));
    if (get_varint(p, end, &a->count) != 0)
        return -EPROTO;
    if (a->count == 0)
        return 0;
    int counter = ft_hist_col_counter(c->cols[i]);
    uint64_t w[6];
    if (ft_hist_col_type(c->cols[i]) == FT_COL_FLOAT)
        return dec_float_agg(c, i, p, end, a);
    for (int k = 0; k < 5; k++)
        if (get_varint(p, end, &w[k]) != 0)
            return -EPROTO;
    a->first = c->prev[i] + (uint64_t)unzz(w[0]);
    a->min = a->first + (uint64_t)unzz(w[1]);
    a->max = a->first + (uint64_t)unzz(w[2]);
    a->last = a->first + (uint64_t)unzz(w[3]);
    a->dsum = (uint64_t)unzz(w[4]);
    uint64_t sq;
    if (get_u64(p, end, &sq) != 0 || (counter && get_varint(p, end, &a->inc) != 0))
        return -EPROTO;
    a->dsq = as_double(sq);
    c->prev[i] = a->last;
    return 0;
}

size_t ft_hist_enc_roll(ft_hist_codec_t *c, uint8_t *out, int64_t minute, const ft_hist_agg_t *aggs)
{
    size_t n = put_varint(out, (uint64_t)(c->first ? 0 : minute - c->t));
    for (uint32_t i = 0; i < c->ncols; i++)
        n += enc_agg(c, i, out + n, &aggs[i]);
    c->t = minute, c->first = 0;
    return n;
}

int ft_hist_dec_roll(ft_hist_codec_t *c, const uint8_t **p, const uint8_t *end, int64_t *minute, ft_hist_agg_t *aggs)
{
    if (*p >= end)
        return 0;
    uint64_t d;
    if (get_varint(p, end, &d) != 0 || (c->first && d != 0) || (!c->first && (d == 0 || d > (1ULL << 40))))
        return -EPROTO;
    for (uint32_t i = 0; i < c->ncols; i++)
        if (dec_agg(c, i, p, end, &aggs[i]) != 0)
            return -EPROTO;
    c->t += (int64_t)d, c->first = 0;
    *minute = c->t;
    return 1;
}

/* Step over one column's minute without decoding it. */
static int skip_agg(const ft_hist_codec_t *c, uint32_t i, const uint8_t **p, const uint8_t *end)
{
    uint64_t count;
    if (get_varint(p, end, &count) != 0)
        return -EPROTO;
    if (count == 0)
        return 0;
    int counter = ft_hist_col_counter(c->cols[i]);
    if (ft_hist_col_type(c->cols[i]) == FT_COL_FLOAT) {
        uint64_t tag;
        if (get_varint(p, end, &tag) != 0 || tag > FT_HIST_E_RAW)
            return -EPROTO;
        for (int k = 0; tag < FT_HIST_E_RAW && k < 4; k++)
            if (skip_varint(p, end) != 0)
                return -EPROTO;
        return skip_bytes(p, end, (tag == FT_HIST_E_RAW ? 32 : 0) + (counter ? 24 : 16));
    }
    for (int k = 0; k < 5; k++)
        if (skip_varint(p, end) != 0)
            return -EPROTO;
    return skip_bytes(p, end, 8) != 0 || (counter && skip_varint(p, end) != 0) ? -EPROTO : 0;
}

int ft_hist_dec_roll_sel(ft_hist_codec_t *c, const uint8_t **p, const uint8_t *end, uint64_t keep, int64_t *minute, ft_hist_agg_t *aggs)
{
    if (*p >= end)
        return 0;
    uint64_t d;
    if (get_varint(p, end, &d) != 0 || (c->first && d != 0) || (!c->first && (d == 0 || d > (1ULL << 40))))
        return -EPROTO;
    for (uint32_t i = 0; i < c->ncols; i++)
        if (i < 64 && (keep >> i & 1) ? dec_agg(c, i, p, end, &aggs[i]) != 0 : skip_agg(c, i, p, end) != 0)
            return -EPROTO;
    c->t += (int64_t)d, c->first = 0;
    *minute = c->t;
    return 1;
}

int ft_hist_dec_roll_one(ft_hist_codec_t *c, const uint8_t **p, const uint8_t *end, uint32_t ci, int64_t *minute, ft_hist_agg_t *agg)
{
    ft_hist_agg_t aggs[FT_HIST_MAX_COLS];
    int rc = ft_hist_dec_roll_sel(c, p, end, 1ULL << ci, minute, aggs);
    if (rc == 1)
        *agg = aggs[ci];
    return rc;
}

static void agg_add_float(ft_hist_agg_t *a, int counter, double x, int have_prev, double prev)
{
    if (a->count == 0) {
        a->first = a->min = a->max = as_bits(x);
        a->dsum = as_bits(0.0), a->dsq = 0, a->inc = as_bits(0.0);
    }
    double f = as_double(a->first), d = x - f;
    if (x < as_double(a->min))
        a->min = as_bits(x);
    if (x > as_double(a->max))
        a->max = as_bits(x);
    a->last = as_bits(x);
    a->dsum = as_bits(as_double(a->dsum) + d);
    a->dsq += d * d;
    if (counter && have_prev && x >= prev)
        a->inc = as_bits(as_double(a->inc) + (x - prev));
    a->count++;
}

void ft_hist_agg_add(ft_hist_agg_t *a, uint32_t col, uint64_t v, int have_prev, uint64_t prev)
{
    int counter = ft_hist_col_counter(col);
    if (ft_hist_col_type(col) == FT_COL_FLOAT) {
        agg_add_float(a, counter, as_double(v), have_prev, as_double(prev));
        return;
    }
    if (a->count == 0)
        a->first = a->min = a->max = v, a->dsum = 0, a->dsq = 0, a->inc = 0;
    int uns = ft_hist_col_type(col) == FT_COL_UINT; /* unsigned order for UFM's counters past 2^63 */
    if (uns ? v < a->min : (int64_t)v < (int64_t)a->min)
        a->min = v;
    if (uns ? v > a->max : (int64_t)v > (int64_t)a->max)
        a->max = v;
    a->last = v;
    int64_t d = (int64_t)(v - a->first);
    a->dsum += (uint64_t)d;
    a->dsq += (double)d * (double)d;
    if (counter && have_prev)
        a->inc += ft_hist_increase_u64(prev, v);
    a->count++;
}
