/*
 * tools/shmdump/histdump — shmdump's view of the history file the segment
 * names (shm/histread.h): the header lines, one series' recent points, and
 * the whole of it as CSV (the backup path for history). Read-only.
 * Errors: 0, or 1 with a message on stderr (shmdump's exit status).
 */
#ifndef SHMDUMP_HISTDUMP_H
#define SHMDUMP_HISTDUMP_H

#include <stdint.h>

#include "segment.h"

typedef struct shmdump_hist_args {
    const char *switch_id, *metric, *from, *to;
    int json, csv;
} shmdump_hist_args_t;

/* The history lines of --header (nothing when the segment names no history). */
void shmdump_history_header(const ft_shm_t *shm);
/* --history SWITCH METRIC [--from T] [--to T]: every incarnation's points in the window (default: the last 15 min). */
int shmdump_history_print(const ft_shm_t *shm, const shmdump_hist_args_t *a);
/* --history-export: every series, samples and rollup minutes, as CSV on stdout. */
int shmdump_history_export(const ft_shm_t *shm);

#endif
