/*
 * shm/segment — creating, attaching, validating and mapping the data segment.
 *
 * Owns: one mapping (ft_shm_t) and, for the writer, the writer lock. The
 * layout itself is shm/layout.h; the publication protocol is shm/seqlock.h.
 *
 * Who may call:
 *  - ingestd: ft_shm_lock_writer() then ft_shm_writer_open(), which attaches
 *    to a compatible segment (same layout and capacity, generation continues)
 *    or re-creates it with a new epoch.
 *  - readers (apid workers, shmdump, tests): ft_shm_open_reader(), which maps
 *    PROT_READ and validates every header field and offset against the size
 *    of the mapping before anything is dereferenced.
 * An ft_shm_t is used by one thread at a time; the mapping itself is shared.
 *
 * Errors: 0 or a negative errno; `why` gets one human sentence:
 *   -ENOENT  no segment of that name (ingestd not started yet)
 *   -EAGAIN  the segment exists but is still being created
 *   -EPROTO  foreign, corrupt or incompatible segment (refused)
 *   -EBUSY   another ingestd holds the writer lock
 *   other    the failing system call's errno
 */
#ifndef FT_SHM_SEGMENT_H
#define FT_SHM_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "layout.h"
#include "seqlock.h"

typedef struct ft_shm {
    char name[256];
    void *base;
    size_t size;
    int writable;
    dev_t dev; /* identity of the object mapped, to notice a re-created segment */
    ino_t ino;
    ft_shm_header_t *hdr;
} ft_shm_t;

int ft_shm_validate(const void *base, size_t size, char *why, size_t whysz);

int ft_shm_open_reader(ft_shm_t *s, const char *name, char *why, size_t whysz);
/* 1 when `name` no longer refers to the mapped object (removed or re-created), else 0. One open+fstat. */
int ft_shm_changed(const ft_shm_t *s);

/* Writer lock: a flock on "<name>.lock" held for the life of the process. Returns the fd or a negative errno. */
int ft_shm_lock_writer(const char *name, char *why, size_t whysz);
/* *created: 0 attached to a compatible segment, 1 created, 2 re-created an incompatible one (why says why). */
int ft_shm_writer_open(ft_shm_t *s, const char *name, const ft_shm_capacity_t *cap, int *created, char *why, size_t whysz);

void ft_shm_close(ft_shm_t *s);

/* Remove the segment and its lock object (tests and operators). */
void ft_shm_unlink_all(const char *name);

/*
 * The live words of the header. Only these functions read or write them, so
 * their orderings are stated once: the generation is the seqlock's (acquire
 * on read, release on publish, shm/seqlock.h); the others are independent
 * single words (relaxed), each meaningful on its own.
 */

/* The newest complete generation, 0 when nothing is published yet. */
static inline uint64_t ft_shm_generation(const ft_shm_t *s)
{
    return ft_seq_read_begin(&s->hdr->gen);
}

/* Milliseconds since the source last confirmed the current data (a publish or a 304); 0 before any, or if the clock went back. */
static inline uint64_t ft_shm_data_age_ms(const ft_shm_t *s, uint64_t now_ns)
{
    uint64_t c = atomic_load_explicit(&s->hdr->confirmed_ns, memory_order_relaxed);
    return c != 0 && now_ns > c ? (now_ns - c) / 1000000 : 0;
}

static inline uint64_t ft_shm_confirmed_ns(const ft_shm_t *s)
{
    return atomic_load_explicit(&s->hdr->confirmed_ns, memory_order_relaxed);
}

static inline int ft_shm_ingest_failing(const ft_shm_t *s)
{
    return atomic_load_explicit(&s->hdr->ingest_state, memory_order_relaxed) != 0;
}

static inline uint64_t ft_shm_writer_pid(const ft_shm_t *s)
{
    return atomic_load_explicit(&s->hdr->writer_pid, memory_order_relaxed);
}

/* Writer side (ingestd, holding the writer lock). */
static inline void ft_shm_confirm(ft_shm_t *s, uint64_t now_ns)
{
    atomic_store_explicit(&s->hdr->confirmed_ns, now_ns, memory_order_relaxed);
}

static inline void ft_shm_set_ingest_failing(ft_shm_t *s, int failing)
{
    atomic_store_explicit(&s->hdr->ingest_state, failing != 0, memory_order_relaxed);
}

/* pid 0: no writer. */
static inline void ft_shm_set_writer(ft_shm_t *s, uint64_t pid, uint64_t started_ns)
{
    atomic_store_explicit(&s->hdr->writer_pid, pid, memory_order_relaxed);
    atomic_store_explicit(&s->hdr->writer_started_ns, started_ns, memory_order_relaxed);
}

/*
 * The history file's announcement. Writer: epoch 0, release fence, path,
 * then the epoch with release. Reader: epoch (acquire), path, acquire fence,
 * epoch again: a path copied while it changed comes back with another epoch
 * (a new file always has a new random epoch), so a torn path is never used.
 */
void ft_shm_history_announce(ft_shm_t *s, const char *path, uint64_t epoch);
/* The announced history file: its epoch (0: no history) with the path in out (outsz >= 1025 bytes). */
uint64_t ft_shm_history_path(const ft_shm_t *s, char *out, size_t outsz);

/*
 * The source's announcement (ingestd, once at start): the URL it fetches and
 * the shard it keeps, for /metrics labels. A seqcount guards the words:
 * writer: seq odd, release fence, words, seq even with release; reader: seq
 * (acquire, even), words, acquire fence, seq unchanged — else it retries.
 */
void ft_shm_source_announce(ft_shm_t *s, const char *url, uint32_t shard, uint32_t shards);
/* 0 with the URL in out (outsz >= 513) and the shard (shards 0: the whole fabric); -ENOENT when none was
 * announced; -EAGAIN when the writer kept changing it. */
int ft_shm_source(const ft_shm_t *s, char *out, size_t outsz, uint32_t *shard, uint32_t *shards);

/*
 * Waiting for the next generation without spinning: the writer wakes every
 * waiter after each publish (a futex wake on the generation word, shared
 * across processes through the mapping), so a waiter costs no CPU while it
 * waits. Returns 0 once the generation is no longer `seen`, -ETIMEDOUT after
 * timeout_ms, -EINTR on a signal. The futex compares the low 32 bits only; a
 * wrap of those during one wait would only cost the timeout.
 */
int ft_shm_wait_generation(const ft_shm_t *s, uint64_t seen, int timeout_ms);
/* Writer: wake every ft_shm_wait_generation() on this segment (after a publish). */
void ft_shm_wake_readers(ft_shm_t *s);

/* The slot generation `gen` lives in (g % nslots), on a validated mapping. */
static inline _Atomic uint64_t *ft_shm_slot(const ft_shm_t *s, uint64_t gen)
{
    const ft_shm_header_t *h = s->hdr;
    return (_Atomic uint64_t *)((char *)s->base + h->slot_off + (gen % h->nslots) * h->slot_size);
}

static inline ft_ingest_stats_t *ft_shm_ingest_stats(const ft_shm_t *s)
{
    return (ft_ingest_stats_t *)((char *)s->base + s->hdr->stats_off);
}

#endif
