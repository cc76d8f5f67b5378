/*
 * ingestd/model — ingestd's private copy of the fabric, and the rules that
 * turn one parsed body (ingestd/batch) into the next published snapshot.
 *
 * Owns: the name -> index maps (rows for switches, columns for counters,
 * stable once assigned), the current values, and what each shared-memory
 * slot already holds of the catalog. The segment is written only by
 * ingest_model_publish(), through shm/writer.h. A switch's row keeps its
 * index while the switch exists; a row given back and reused by another
 * switch gets a new incarnation.
 *
 * The outcome of one body (the table in the design, issue "Core, part 1"):
 *   - all rows good                  -> apply, publish (generation + 1)
 *   - some rows bad                  -> good rows applied; a bad row's switch keeps
 *                                       its previous values, marked stale; the count
 *                                       and the first few switch ids are reported
 *   - bad/empty header, no data rows,
 *     last row cut (unterminated and
 *     short of fields)               -> rejected, nothing changes
 *   - over capacity (switches,
 *     counters, text pool)           -> rejected, nothing changes
 * A switch missing from an accepted body is absent from that generation on,
 * and its row is given back after `forget_after_ns` of absence.
 *
 * Cells: the first column is the switch id; every other column gets a type
 * the first time it is seen (integer if every value in that body parses as a
 * signed 64-bit integer, unsigned if they all are non-negative and one is past
 * 2^63 - 1, else float if every value parses as a finite double, else
 * text up to FT_TEXT_MAX bytes) and keeps it. A cell that does not parse as
 * its column's type makes its row bad. Names must be printable UTF-8 (no
 * control bytes); text must be UTF-8 without NUL (newlines are fine).
 *
 * Who may call: ingestd's main loop and tests; one thread.
 * Errors: 0 or a negative errno; ingest_model_apply() reports a rejected body
 * through ingest_result_t (cause, why) and returns 0 only when it applied one.
 */
#ifndef INGEST_MODEL_H
#define INGEST_MODEL_H

#include <stdint.h>

#include "batch.h"
#include "buf.h"
#include "helper.h"
#include "histwrite.h"
#include "layout.h"
#include "prerender.h"
#include "segment.h"

typedef struct ingest_col {
    char name[FT_NAME_MAX + 1];
    uint8_t len, type, present;
    ft_col_kind_t kind; /* counter or gauge, unit scale: from the configuration, by name */
} ingest_col_t;

/*
 * Format rules (UFM's: ingestd/ufm.h): columns that are text whatever their values look like (identity columns
 * such as a port number); an empty numeric cell is absent (null) rather than a bad row; a new integer column is
 * unsigned (0..2^64-1) from the start rather than only when a value needs it; an absent row stays shown (as
 * "present": false) until it is forgotten. Defaults (all 0): the matrix's rules.
 */
typedef struct ingest_rules {
    const char *text_columns; /* "a,b,…"; must outlive the model */
    int empty_absent, unsigned_ints, show_absent;
} ingest_rules_t;

typedef struct ingest_row {
    char name[FT_NAME_MAX + 1];
    uint8_t len, used, present, stale, shown_absent;
    uint32_t incarnation; /* grows each time the row is given to a new switch (shm/layout.h) */
    uint32_t seen_mark; /* apply round that last saw this switch in a body */
    uint64_t last_seen_ns;
} ingest_row_t;

typedef struct ingest_result {
    int cause;                 /* FT_FAIL_* when rejected, -1 when applied */
    char why[256];             /* one sentence for the log when rejected */
    uint64_t rows_rejected;    /* bad rows in an applied body */
    uint64_t stale_rows;       /* of those, switches shown with previous values */
    char rejected_ids[160];    /* the first few rejected switch ids, quoted for a log line */
    uint32_t nswitches;        /* switches present in the new snapshot */
    uint32_t new_switches, forgotten;
} ingest_result_t;

typedef struct ingest_model {
    ft_shm_capacity_t cap;
    uint64_t forget_after_ns;
    const char *counter_columns; /* "a,b,…": cumulative columns (ingest_model_set_kinds) */
    const char *column_scales;   /* "a=4,b=4,…": unit scales */
    ingest_rules_t rules;        /* the format's (ingest_model_set_rules) */
    uint32_t prerender_max_rows; /* past this many switches the ListMetrics body is not pre-rendered (0: always is) */
    uint32_t hash_size;
    ingest_col_t *cols;
    uint32_t ncols;
    ingest_row_t *rows;
    uint32_t nrows; /* high-water mark */
    uint32_t *free_rows;
    uint32_t nfree;
    uint64_t *vals;  /* max_switches * max_counters, row-major */
    ft_buf_t text_arena; /* this generation's text cells, 8-aligned; text cells hold ft_text_refs into it */
    uint64_t *hash;  /* row + 1, open addressing on ft_snap_name_hash */
    uint64_t catalog_ver;
    uint64_t slot_catalog_ver[FT_MAX_SLOTS_LIMIT];
    uint64_t gen;    /* last generation published */
    uint32_t mark;   /* apply round counter */
    uint64_t rows_rejected; /* in the body last applied (published with it) */
    /* scratch reused across bodies */
    int32_t *colmap;     /* header column j -> model column */
    uint8_t *row_ok;     /* per batch row: 1 good, 0 bad */
    int32_t *row_index;  /* per batch row: model row, -1 new, -2 none */
    uint32_t *newkey_hash;
    uint32_t newkey_hash_size;
    uint64_t *parsed;     /* per batch field: its value, parsed once when the row is judged */
    size_t parsed_cap;
    uint8_t newtype[FT_MAX_COUNTERS_LIMIT + 1]; /* header column j -> type of a column new in this body */
    ingest_prerender_t pre; /* the unfiltered ListMetrics, rendered once per generation */
    ft_hist_writer_t *hist; /* NULL: no history; else every publish records into it first */
    ingest_helper_t helper; /* records history while the body renders (ingestd/helper.h); started with the first record */
    uint64_t hist_gen, hist_now_ns; /* the job's arguments */
} ingest_model_t;

int ingest_model_init(ingest_model_t *m, const ft_shm_capacity_t *cap, uint64_t forget_after_ns);
void ingest_model_destroy(ingest_model_t *m);

/*
 * Which columns are cumulative counters ("a,b,…") and what their units are
 * worth ("a=4,…", a whole number from 1 to 2^31). The strings must outlive
 * the model. -EINVAL with `why` set for a malformed scale list. A column gets
 * its kind when first seen and again on reattach, so a changed configuration
 * applies to a running fabric after a restart.
 */
int ingest_model_set_kinds(ingest_model_t *m, const char *counters, const char *scales, char *why, size_t whysz);

/* The format's rules (above); they apply to the columns and rows the next bodies create. */
void ingest_model_set_rules(ingest_model_t *m, const ingest_rules_t *rules);

/* Rebuild the model from the snapshot an earlier ingestd published (on reattach). */
int ingest_model_load(ingest_model_t *m, const ft_shm_t *shm, uint64_t now_ns);

/* Judge a parsed body and, when it is accepted, apply it to the model. 0 applied, -EINVAL rejected. */
int ingest_model_apply(ingest_model_t *m, const ingest_batch_t *b, uint64_t now_ns, ingest_result_t *res);

/* Write the model into the next slot and publish it as generation gen + 1. */
int ingest_model_publish(ingest_model_t *m, ft_shm_t *shm, uint64_t now_ns);

#endif
