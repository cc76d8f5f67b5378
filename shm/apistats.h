/*
 * shm/apistats — the API statistics segment ("<data segment name>-api"):
 * an ft_api_stats_header_t, then one ft_api_worker_stats_t per worker slot
 * (shm/layout.h). The apid master creates it fresh at every start and removes
 * it at its stop; worker i writes only slot i (shm/stats.h records into it);
 * anyone may map it read-only and merge the slots.
 *
 * Who may call: the apid master (create, close with unlink); its workers
 * (ft_api_seg_worker on the master's mapping, inherited across fork);
 * readers such as shmdump (open, which validates before anything is read).
 * Errors: 0 or a negative errno; `why` gets one human sentence:
 *   -ENOENT  no such segment (apid not running)
 *   -EPROTO  not an API stats segment of this layout version (refused)
 *   other    the failing system call's errno
 */
#ifndef FT_SHM_APISTATS_H
#define FT_SHM_APISTATS_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "stats.h"

typedef struct ft_api_seg {
    char name[300];
    ft_api_stats_header_t *hdr;
    size_t size;
} ft_api_seg_t;

/* Master: (re-)create the segment for `nworkers` slots, mapped read-write. */
int ft_api_seg_create(ft_api_seg_t *s, const char *data_name, unsigned nworkers, char *why, size_t whysz);
/* Reader: map an existing segment read-only and validate it. */
int ft_api_seg_open(ft_api_seg_t *s, const char *data_name, char *why, size_t whysz);
/* Unmap; with remove, also unlink the name (the master at its stop). */
void ft_api_seg_close(ft_api_seg_t *s, int remove);

/* Worker slot i of a created or validated segment (i < nworkers_max). */
static inline ft_api_worker_stats_t *ft_api_seg_worker(const ft_api_stats_header_t *h, unsigned i)
{
    return (ft_api_worker_stats_t *)((char *)h + h->worker_off + (uint64_t)i * h->worker_size);
}

/* The last 24 h of every configured worker, merged into *out (initialised here). */
void ft_api_seg_summary(const ft_api_stats_header_t *h, uint64_t now_ns, ft_api_summary_t *out);

#endif
