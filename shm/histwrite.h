/*
 * shm/histwrite — the writer's half of the history file (shm/history.h).
 *
 * One writer: ingestd, which feeds it every published generation before the
 * segment publishes it:
 *
 *     ft_hist_set_column(...)            for each model column (cheap when nothing changed)
 *     ft_hist_begin(w, gen, t_ms);
 *     ft_hist_forget_row(w, row, t_ms)   for every row ingestd gave back
 *     ft_hist_put_row(w, row, ...)       for every present, non-stale switch
 *     ft_hist_end(w);                    history now holds gen (release); then the segment publishes it
 *
 * Series identity: a segment row is bound to a catalogue entry by the
 * switch's name. The entry continues while the switch exists — across
 * restarts of ingestd, a re-created segment and reboots, since it is found
 * again by name and is still open; when ingestd forgets the switch (or its
 * row is given to another switch: the row's incarnation changed), the entry
 * is closed, and the name seen again opens a new entry with the next
 * incarnation. A sample whose time is not after the entry's last is skipped.
 *
 * Opening: an existing file is used as it is (its own size wins over
 * --history-bytes, logged), a file this build cannot read is refused and
 * never re-created, a missing one is created whole under a temporary name
 * (its blocks reserved on the disk, so a full disk is found at start, not by
 * a SIGBUS in a publish) and renamed into place. A file whose writer did not close it is recovered:
 * killed in this boot (same boot id), nothing can be torn and the rings only
 * continue past the newest block; in another boot (a power loss), every
 * block is checked and each entry's newest block becomes its newest whole
 * block (CRC and pos checked).
 * An flock on the file refuses a second writer (-EBUSY).
 *
 * Durability: the kernel writes the mapping back; every --history-sync
 * seconds the writer starts write-back of what is dirty, and on close it
 * syncs, so a power loss costs at most the last few seconds (README).
 *
 * Thread safety: one thread. Errors: 0 or a negative errno, `why` set.
 */
#ifndef FT_SHM_HISTWRITE_H
#define FT_SHM_HISTWRITE_H

#include <stdint.h>

#include "histcodec.h"
#include "history.h"

typedef struct ft_hist_open_block {
    uint64_t pos1; /* pos + 1 of the block being filled; 0: none */
    uint32_t used, crc;
    uint64_t nrec;
    int64_t first_t; /* its FIRST_T */
    uint32_t nsync;  /* sync points it holds (raw blocks) */
    ft_hist_codec_t codec;
} ft_hist_open_block_t;

typedef struct ft_hist_row_state {
    uint32_t entry, seg_inc;
    int bound;
    uint32_t ncols;
    uint64_t col_version; /* the writer's col_version the list below was built at */
    uint32_t cols[FT_HIST_MAX_COLS];      /* ft_hist_col words of the open blocks */
    uint32_t model_col[FT_HIST_MAX_COLS]; /* the model column each comes from */
    uint64_t last[FT_HIST_MAX_COLS];      /* previous sample, for counters' increase */
    uint8_t have[FT_HIST_MAX_COLS];
    int64_t last_t, minute;
    ft_hist_agg_t agg[FT_HIST_MAX_COLS];
    ft_hist_open_block_t raw, roll;
} ft_hist_row_state_t;

typedef struct ft_hist_writer {
    ft_hist_map_t map;
    uint32_t max_rows;
    ft_hist_row_state_t **rows;
    uint32_t *by_name; /* open addressing on the name: newest entry id + 1 */
    uint32_t by_name_size;
    int32_t col_ctr[FT_MAX_COUNTERS_LIMIT]; /* model column -> counter id; -1: not recorded (text or unknown) */
    uint32_t col_word[FT_MAX_COUNTERS_LIMIT];
    uint64_t col_sig[FT_MAX_COUNTERS_LIMIT]; /* type and kind last set, to skip unchanged columns */
    uint64_t gen;
    int64_t t_ms, sync_every_ms, last_sync_ms;
    uint64_t samples;
    int warned_full, warned_cols;
    int unclean; /* the last writer did not close the file */
    int scanned; /* ... and it ran in another boot (a power loss?): every block was checked on open */
    uint64_t col_version; /* grows whenever a column's mapping changes; rows rebuild their column lists then */
    uint32_t crc_table[256]; /* CRC-32 (zlib's polynomial) one byte at a time: appends are a few dozen bytes */
    uint64_t blockbuf[FT_HIST_BLOCK / 8]; /* a private copy of a block being resumed or checked after a crash */
    uint8_t scratch[FT_HIST_ROLL_REC_MAX > FT_HIST_RAW_REC_MAX ? FT_HIST_ROLL_REC_MAX : FT_HIST_RAW_REC_MAX];
} ft_hist_writer_t;

/*
 * Open or create `path` with a budget of `bytes` for a segment of max_rows
 * rows. *created: 1 when the file was created. Recovery after a crash is
 * logged by the caller from *recovered (entries whose newest block moved).
 */
int ft_hist_writer_open(ft_hist_writer_t *w, const char *path, uint64_t bytes, uint32_t max_rows, int64_t sync_every_ms,
                        int *created, uint64_t *recovered, char *why, size_t whysz);
void ft_hist_writer_close(ft_hist_writer_t *w);

/* CRC-32 of n more bytes, the same value zlib's crc32() gives (the writer's appends; tests compare the two). */
uint32_t ft_hist_crc32(const ft_hist_writer_t *w, uint32_t crc, const void *p, size_t n);

/* A model column: its name, type (FT_COL_*) and kind. Text columns are not history. */
void ft_hist_set_column(ft_hist_writer_t *w, uint32_t col, const char *name, uint32_t len, uint32_t type, ft_col_kind_t kind);

void ft_hist_begin(ft_hist_writer_t *w, uint64_t gen, int64_t t_ms);
void ft_hist_forget_row(ft_hist_writer_t *w, uint32_t row);
/* cells: the row's cells by model column [0, ncells); absent ones are the NULL sentinels of shm/layout.h. */
void ft_hist_put_row(ft_hist_writer_t *w, uint32_t row, uint32_t seg_inc, const char *name, uint32_t len, const uint64_t *cells,
                     uint32_t ncells);
void ft_hist_end(ft_hist_writer_t *w);

#endif
