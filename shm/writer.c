#include "writer.h"

#include <errno.h>
#include <string.h>

#include "seqlock.h"

void ft_slot_write_begin(ft_slot_writer_t *w, ft_shm_t *shm, uint64_t gen)
{
    const ft_shm_header_t *h = shm->hdr;
    char *slot = (char *)ft_shm_slot(shm, gen);
    w->shm = shm;
    w->gen = gen;
    w->slot = (_Atomic uint64_t *)slot;
    w->cols = (_Atomic uint64_t *)(slot + h->sl_cols_off);
    w->rows = (_Atomic uint64_t *)(slot + h->sl_rows_off);
    w->hash = (_Atomic uint64_t *)(slot + h->sl_hash_off);
    w->vals = (_Atomic uint64_t *)(slot + h->sl_vals_off);
    w->text = (_Atomic uint64_t *)(slot + h->sl_text_off);
    w->body = (_Atomic uint64_t *)(slot + h->sl_body_off);
    w->max_counters = h->max_counters;
    w->body_bytes = h->body_bytes;
    ft_seq_write_begin(); /* W1 */
}

static void write_record(_Atomic uint64_t *rec, const char *name, uint32_t len, uint64_t meta, int with_name)
{
    if (with_name) {
        uint64_t words[FT_NAME_WORDS] = {0};
        memcpy(words, name, len > FT_NAME_MAX ? FT_NAME_MAX : len);
        ft_seq_store_words(rec, words, FT_NAME_WORDS);
    }
    ft_seq_store(&rec[FT_NAME_WORDS], meta);
}

void ft_slot_write_col(ft_slot_writer_t *w, uint32_t col, const char *name, uint32_t len, uint64_t meta, int with_name)
{
    write_record(&w->cols[(uint64_t)col * FT_REC_WORDS], name, len, meta, with_name);
}

void ft_slot_write_row(ft_slot_writer_t *w, uint32_t row, const char *name, uint32_t len, uint64_t meta, int with_name)
{
    write_record(&w->rows[(uint64_t)row * FT_REC_WORDS], name, len, meta, with_name);
}

void ft_slot_write_cells(ft_slot_writer_t *w, uint32_t row, const uint64_t *cells, uint32_t n)
{
    ft_seq_store_words(&w->vals[(uint64_t)row * w->max_counters], cells, n);
}

void ft_slot_write_hash(ft_slot_writer_t *w, const uint64_t *hash, uint32_t nwords)
{
    ft_seq_store_words(w->hash, hash, nwords);
}

void ft_slot_write_text(ft_slot_writer_t *w, const void *pool, uint64_t nbytes)
{
    if (nbytes > 0)
        ft_seq_store_words(w->text, pool, (size_t)(nbytes / 8));
}

void ft_slot_write_hdr(ft_slot_writer_t *w, unsigned word, uint64_t value)
{
    ft_seq_store(&w->slot[word], value);
}

/*
 * The body region: the JSON at offset 0, its gzip form at the next 8-byte
 * boundary after it. FT_SLOT_BODY_LEN / FT_SLOT_BODY_GZ_LEN say how long
 * each is (0: absent); ft_snap_body() is the reading side of this.
 */
int ft_slot_write_body(ft_slot_writer_t *w, const void *json, uint64_t len, const void *gz, uint64_t gzlen)
{
    ft_slot_write_hdr(w, FT_SLOT_BODY_LEN, 0);
    ft_slot_write_hdr(w, FT_SLOT_BODY_GZ_LEN, 0);
    if (len == 0 || len > w->body_bytes)
        return -ENOSPC;
    ft_seq_store_bytes(w->body, 0, json, (size_t)len);
    ft_slot_write_hdr(w, FT_SLOT_BODY_LEN, len);
    uint64_t gz_off = (len + 7) / 8 * 8;
    if (gz != NULL && gzlen > 0 && gz_off <= w->body_bytes && gzlen <= w->body_bytes - gz_off) {
        ft_seq_store_bytes(w->body, gz_off, gz, (size_t)gzlen);
        ft_slot_write_hdr(w, FT_SLOT_BODY_GZ_LEN, gzlen);
    }
    return 0;
}

void ft_slot_publish(ft_slot_writer_t *w, uint64_t now_ns)
{
    ft_seq_write_publish(&w->shm->hdr->gen, w->gen); /* W3 */
    ft_shm_confirm(w->shm, now_ns);
    ft_shm_wake_readers(w->shm); /* long polls waiting for this generation (apid) */
}
