/*
 * ingestd/batch — one CSV body, parsed with libcsv as it streams in.
 *
 * Owns: the parsed fields of one body (an arena of NUL-terminated fields and,
 * per row, where its fields start and how many there are). Row 0 is the
 * header. Nothing here judges the content; ingestd/model decides what each
 * row means. It only records what the model needs to judge framing: the
 * body size against its cap, a leading UTF-8 BOM (dropped), and whether the
 * last row ended without a line terminator.
 *
 * Who may call: ingestd's fetch loop (feed as bytes arrive, finish at the end
 * of the body), and tests. Not thread-safe; reuse one batch across bodies
 * with ingest_batch_reset().
 * Errors: 0, -EFBIG when the body passes max_bytes, -ENOMEM.
 */
#ifndef INGEST_BATCH_H
#define INGEST_BATCH_H

#include <csv.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct ingest_batch {
    struct csv_parser csv;
    size_t max_bytes, bytes;
    unsigned bom_seen; /* BOM bytes matched so far; 3 or more: decided */
    ft_buf_t arena;    /* field bytes, each NUL-terminated */
    uint32_t *field_off, *field_len;
    size_t nfields, fields_cap;
    uint32_t *row_first, *row_nfields; /* row r's fields: [row_first[r], row_first[r] + row_nfields[r]) */
    size_t nrows, rows_cap;
    size_t cur_first;          /* first field of the row being parsed */
    int last_row_unterminated; /* the body ended inside a row (no CR/LF after it) */
    int error;
} ingest_batch_t;

int ingest_batch_init(ingest_batch_t *b, size_t max_bytes);
void ingest_batch_reset(ingest_batch_t *b);
void ingest_batch_destroy(ingest_batch_t *b);
int ingest_batch_feed(ingest_batch_t *b, const void *p, size_t n);
int ingest_batch_finish(ingest_batch_t *b);
/*
 * Building a batch without CSV (ingestd/ufm rewrites a UFM body into the matrix form): after a reset, add each
 * field of a row, then end the row. Same errors as feeding.
 */
int ingest_batch_add_field(ingest_batch_t *b, const char *s, size_t len);
int ingest_batch_end_row(ingest_batch_t *b);
/*
 * Rewriting without copying: take src's field bytes (src's field tables still describe them, now in dst's arena,
 * until src is reset), then add fields that are bytes already in the arena (off, len: a field of src,
 * NUL-terminated there) or new ones.
 */
void ingest_batch_take_arena(ingest_batch_t *dst, ingest_batch_t *src);
int ingest_batch_add_ref(ingest_batch_t *b, uint32_t off, uint32_t len);
/* The same for n fields at once (a row's worth); then field f (an index into the batch) may be given new bytes. */
int ingest_batch_add_refs(ingest_batch_t *b, const uint32_t *off, const uint32_t *len, size_t n);
int ingest_batch_set_field(ingest_batch_t *b, size_t f, const char *s, size_t len);
/* Keep the header and the data rows `keep` says yes to (ingestd's --shard); returns the rows dropped. */
size_t ingest_batch_keep_rows(ingest_batch_t *b, int (*keep)(void *ctx, const ingest_batch_t *b, size_t row), void *ctx);
/* Convenience for tests and tools: reset, feed all of it, finish. */
int ingest_batch_parse(ingest_batch_t *b, const void *p, size_t n);

static inline const char *ingest_batch_field(const ingest_batch_t *b, size_t row, size_t i, size_t *len)
{
    size_t f = b->row_first[row] + i;
    *len = b->field_len[f];
    return b->arena.data + b->field_off[f];
}

#endif
