/*
 * shm/writer — the writer's half of a snapshot slot: fill the slot of the
 * next generation, then publish it. The reader's half is shm/snapshot.h;
 * the two are the only code that knows where anything is inside a slot.
 *
 *     ft_slot_writer_t w;
 *     ft_slot_write_begin(&w, shm, n);          W1: release fence, slot n % K
 *     ft_slot_write_col / _row / _cells / _hash / _text / _hdr ...   W2
 *     (optionally read the slot back through ft_snap_at() to render from it)
 *     ft_slot_write_body(&w, json, len, gz, gzlen);
 *     ft_slot_publish(&w, now_ns);              W3: gen = n (release), confirm, wake waiters
 *
 * The orderings and why they suffice are in shm/seqlock.h. Nothing between
 * begin and publish is visible to readers as generation n; a writer killed
 * in between leaves the previous generation current.
 *
 * Who may call: the one writer (ingestd, holding the segment's writer lock),
 * one thread. Indices must be below the segment's capacity (the caller's
 * model enforces it); nothing here allocates or fails except the body.
 */
#ifndef FT_SHM_WRITER_H
#define FT_SHM_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "segment.h"

typedef struct ft_slot_writer {
    ft_shm_t *shm;
    uint64_t gen;
    _Atomic uint64_t *slot, *cols, *rows, *hash, *vals, *text, *body;
    uint32_t max_counters;
    uint64_t body_bytes;
} ft_slot_writer_t;

/* W1, and the slot's regions. gen is the generation about to be published (current + 1). */
void ft_slot_write_begin(ft_slot_writer_t *w, ft_shm_t *shm, uint64_t gen);

/* A column or row record. with_name 0 rewrites only the meta word (the name is already in this slot). */
void ft_slot_write_col(ft_slot_writer_t *w, uint32_t col, const char *name, uint32_t len, uint64_t meta, int with_name);
void ft_slot_write_row(ft_slot_writer_t *w, uint32_t row, const char *name, uint32_t len, uint64_t meta, int with_name);

/* Cells [0, n) of one row, as the cell words of shm/layout.h. */
void ft_slot_write_cells(ft_slot_writer_t *w, uint32_t row, const uint64_t *cells, uint32_t n);

/* The name -> row+1 index (hash_size words) and the text pool (nbytes, a multiple of 8). */
void ft_slot_write_hash(ft_slot_writer_t *w, const uint64_t *hash, uint32_t nwords);
void ft_slot_write_text(ft_slot_writer_t *w, const void *pool, uint64_t nbytes);

/* One FT_SLOT_* header word. */
void ft_slot_write_hdr(ft_slot_writer_t *w, unsigned word, uint64_t value);

/*
 * The pre-rendered unfiltered ListMetrics JSON and, optionally, its gzip
 * form (gz NULL or gzlen 0: none). 0, or -ENOSPC when the JSON does not fit
 * the body region (then the slot has no body; readers render it themselves).
 * A gzip form that does not fit after it is left out.
 */
int ft_slot_write_body(ft_slot_writer_t *w, const void *json, uint64_t len, const void *gz, uint64_t gzlen);

/* W3: generation `gen` becomes current; the source has just confirmed it. */
void ft_slot_publish(ft_slot_writer_t *w, uint64_t now_ns);

#endif
