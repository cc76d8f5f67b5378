#include "snapshot.h"

#include <errno.h>
#include <string.h>

void ft_snap_at(ft_snap_t *v, const ft_shm_t *shm, uint64_t gen)
{
    const ft_shm_header_t *h = shm->hdr;
    const char *slot = (const char *)ft_shm_slot(shm, gen);
    v->shm = shm;
    v->gen = gen;
    v->slot = (const _Atomic uint64_t *)slot;
    v->cols = (const _Atomic uint64_t *)(slot + h->sl_cols_off);
    v->rows = (const _Atomic uint64_t *)(slot + h->sl_rows_off);
    v->hash = (const _Atomic uint64_t *)(slot + h->sl_hash_off);
    v->vals = (const _Atomic uint64_t *)(slot + h->sl_vals_off);
    v->text = (const _Atomic uint64_t *)(slot + h->sl_text_off);
    v->body = (const _Atomic uint64_t *)(slot + h->sl_body_off);
    v->max_counters = h->max_counters;
    v->hash_size = h->hash_size;
    v->text_bytes = h->text_bytes;
    v->body_bytes = h->body_bytes;
    uint64_t nr = ft_seq_load(&v->slot[FT_SLOT_NROWS]), nc = ft_seq_load(&v->slot[FT_SLOT_NCOLS]);
    v->nrows = nr > h->max_switches ? h->max_switches : (uint32_t)nr;
    v->ncols = nc > h->max_counters ? h->max_counters : (uint32_t)nc;
}

int ft_snap_begin(ft_snap_t *v, const ft_shm_t *shm)
{
    uint64_t g = ft_seq_read_begin(&shm->hdr->gen);
    if (g == 0)
        return -EAGAIN;
    ft_snap_at(v, shm, g);
    return 0;
}

static uint32_t rec_name(const _Atomic uint64_t *rec, char *out)
{
    uint32_t len = (uint32_t)(ft_seq_load(&rec[FT_NAME_WORDS]) & 0xff);
    if (len > FT_NAME_MAX)
        len = FT_NAME_MAX;
    ft_seq_load_words(out, rec, FT_NAME_WORDS);
    out[len] = '\0';
    return len;
}

uint64_t ft_snap_row_meta(const ft_snap_t *v, uint32_t row)
{
    return ft_seq_load(&v->rows[(uint64_t)row * FT_REC_WORDS + FT_NAME_WORDS]);
}

uint32_t ft_snap_row_name(const ft_snap_t *v, uint32_t row, char *out)
{
    return rec_name(&v->rows[(uint64_t)row * FT_REC_WORDS], out);
}

uint64_t ft_snap_col_meta(const ft_snap_t *v, uint32_t col)
{
    return ft_seq_load(&v->cols[(uint64_t)col * FT_REC_WORDS + FT_NAME_WORDS]);
}

uint32_t ft_snap_col_name(const ft_snap_t *v, uint32_t col, char *out)
{
    return rec_name(&v->cols[(uint64_t)col * FT_REC_WORDS], out);
}

/* Compare a stored record name with (name, len) word by word, without copying it out. */
static int rec_name_eq(const _Atomic uint64_t *rec, const char *name, size_t len)
{
    if ((ft_seq_load(&rec[FT_NAME_WORDS]) & 0xff) != len)
        return 0;
    for (size_t w = 0; w * 8 < len; w++) {
        uint64_t want = 0, have = ft_seq_load(&rec[w]);
        size_t take = len - w * 8 < 8 ? len - w * 8 : 8;
        memcpy(&want, name + w * 8, take);
        if (want != have)
            return 0;
    }
    return 1;
}

int64_t ft_snap_find_row(const ft_snap_t *v, const char *name, size_t len)
{
    if (len == 0 || len > FT_NAME_MAX)
        return -1;
    uint32_t mask = v->hash_size - 1;
    uint64_t i = ft_snap_name_hash(name, len) & mask;
    /* At most hash_size probes, so a corrupt (full) index cannot loop forever. */
    for (uint32_t n = 0; n < v->hash_size; n++, i = (i + 1) & mask) {
        uint64_t e = ft_seq_load(&v->hash[i]);
        if (e == 0)
            return -1;
        if (e > v->nrows)
            continue;
        uint32_t row = (uint32_t)(e - 1);
        if (rec_name_eq(&v->rows[(uint64_t)row * FT_REC_WORDS], name, len))
            return row;
    }
    return -1;
}

int64_t ft_snap_find_col(const ft_snap_t *v, const char *name, size_t len)
{
    if (len == 0 || len > FT_NAME_MAX)
        return -1;
    for (uint32_t c = 0; c < v->ncols; c++)
        if (rec_name_eq(&v->cols[(uint64_t)c * FT_REC_WORDS], name, len))
            return c;
    return -1;
}

int ft_snap_text(const ft_snap_t *v, uint64_t ref, char *out, size_t outsz)
{
    uint64_t off = ft_text_ref_off(ref), len = ft_text_ref_len(ref);
    if (ref == FT_CELL_NULL_TEXT || off + len > v->text_bytes || len >= outsz)
        return -1;
    ft_seq_load_bytes(out, v->text, off, (size_t)len);
    out[len] = '\0';
    return (int)len;
}

int ft_snap_body(const ft_snap_t *v, int gzip, uint64_t *off, uint64_t *len)
{
    uint64_t plain = ft_snap_hdr(v, FT_SLOT_BODY_LEN);
    uint64_t o = gzip ? (plain + 7) / 8 * 8 : 0, l = gzip ? ft_snap_hdr(v, FT_SLOT_BODY_GZ_LEN) : plain;
    if (plain == 0 || l == 0 || o > v->body_bytes || l > v->body_bytes - o)
        return -ENOENT;
    *off = o;
    *len = l;
    return 0;
}
