/*
 * shm/seqlock — how a snapshot is published, and how it is read without a lock.
 *
 * Owns nothing; these are the only functions allowed to touch a generation
 * counter or a payload word in shared memory. One writer (ingestd, which
 * holds the segment's writer lock), any number of readers in any process.
 * Readers never write, never take a lock and never wait for the writer.
 *
 * ---------------------------------------------------------------------------
 * The latch form of a seqcount over a ring of K >= 2 slots
 * ---------------------------------------------------------------------------
 * `gen` (in the segment header) is the number of the newest complete
 * snapshot; generation g lives in slot g % K. To publish generation n the
 * writer
 *
 *   W1. issues a release fence             ft_seq_write_begin()
 *   W2. stores slot n % K's payload words  ft_seq_store*() (relaxed)
 *   W3. stores gen = n with release order  ft_seq_write_publish()
 *
 * and a reader
 *
 *   R1. loads g = gen with acquire order    ft_seq_read_begin()
 *   R2. loads slot g % K's payload words    ft_seq_load*() (relaxed)
 *   R3. issues an acquire fence, reloads    ft_seq_read_retry()
 *       gen (relaxed) and keeps what it read
 *       only if gen - g <= K - 2.
 *
 * Why each ordering:
 *  - W3 release / R1 acquire: a reader that sees gen == n also sees every
 *    payload word stored for n (W2 happens-before R2).
 *  - W1 release fence / R3 acquire fence: the slot R2 reads is overwritten
 *    only by the writer publishing g + K, whose W2 runs after its W3 of
 *    g + K - 1 and its W1. If any R2 load observed one of those overwriting
 *    stores, fence-to-fence synchronisation (C11 7.17.4) makes the W3 of
 *    g + K - 1 happen-before the R3 reload, so by coherence the reload sees
 *    gen >= g + K - 1 and the reader retries. So gen - g <= K - 2 proves no
 *    word R2 read came from a later snapshot: the copy is exactly generation g.
 *  - Payload words are C11 atomics accessed with relaxed order, so a reader
 *    racing with the writer is not a data race (no undefined behaviour, and
 *    ThreadSanitizer has nothing to report); on x86-64 and arm64 a relaxed
 *    64-bit load or store is a plain mov / ldr / str. The fences are compiler
 *    barriers on x86-64 and dmb ishld / dmb ish on arm64.
 *
 * With K slots a reader only retries when the writer published K - 1 times
 * during its read section; the writer never waits for readers (a slow reader
 * simply retries). Generation 0 means "nothing published yet". A writer killed
 * between W1 and W3 leaves gen unchanged; the slot it was filling is not the
 * one readers use, and the next writer simply fills it again.
 *
 * ---------------------------------------------------------------------------
 * The plain seqcount, for statistics that change without a publish
 * ---------------------------------------------------------------------------
 * The writer makes `seq` odd (relaxed store, then a release fence), updates,
 * then makes it even with a release store. A reader loads seq (acquire),
 * copies, issues an acquire fence and keeps the copy only if seq was even and
 * unchanged. Same fence pairing argument as above, with K = 1.
 *
 * Build with -DFT_SEQ_NO_RECHECK to compile the re-check out: only the
 * stress test's "detector must bite" variant does that.
 */
#ifndef FT_SHM_SEQLOCK_H
#define FT_SHM_SEQLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Payload words: relaxed, never torn individually. */
static inline uint64_t ft_seq_load(const _Atomic uint64_t *w)
{
    return atomic_load_explicit(w, memory_order_relaxed);
}

static inline void ft_seq_store(_Atomic uint64_t *w, uint64_t v)
{
    atomic_store_explicit(w, v, memory_order_relaxed);
}

/* The private side may be unaligned (a char buffer): memcpy of 8 bytes compiles to one mov. */
static inline void ft_seq_load_words(void *dst, const _Atomic uint64_t *src, size_t nwords)
{
    unsigned char *d = (unsigned char *)dst;
    for (size_t i = 0; i < nwords; i++) {
        uint64_t v = atomic_load_explicit(&src[i], memory_order_relaxed);
        memcpy(d + i * 8, &v, 8);
    }
}

static inline void ft_seq_store_words(_Atomic uint64_t *dst, const void *src, size_t nwords)
{
    const unsigned char *s = (const unsigned char *)src;
    for (size_t i = 0; i < nwords; i++) {
        uint64_t v;
        memcpy(&v, s + i * 8, 8);
        atomic_store_explicit(&dst[i], v, memory_order_relaxed);
    }
}

/* Copy nbytes starting at byte offset `off` of a word region into dst. */
static inline void ft_seq_load_bytes(void *dst, const _Atomic uint64_t *region, uint64_t off, size_t nbytes)
{
    unsigned char *d = (unsigned char *)dst;
    const _Atomic uint64_t *w = region + off / 8;
    size_t skip = (size_t)(off % 8);
    while (nbytes > 0) {
        uint64_t v = atomic_load_explicit(w++, memory_order_relaxed);
        size_t take = 8 - skip < nbytes ? 8 - skip : nbytes;
        memcpy(d, (const unsigned char *)&v + skip, take);
        d += take;
        nbytes -= take;
        skip = 0;
    }
}

/* Store nbytes at an 8-aligned byte offset of a word region; the last word is zero-padded. */
static inline void ft_seq_store_bytes(_Atomic uint64_t *region, uint64_t off, const void *src, size_t nbytes)
{
    const unsigned char *s = (const unsigned char *)src;
    _Atomic uint64_t *w = region + off / 8;
    while (nbytes > 0) {
        uint64_t v = 0;
        size_t take = nbytes < 8 ? nbytes : 8;
        memcpy(&v, s, take);
        atomic_store_explicit(w++, v, memory_order_relaxed);
        s += take;
        nbytes -= take;
    }
}

/* R1 */
static inline uint64_t ft_seq_read_begin(const _Atomic uint64_t *gen)
{
    return atomic_load_explicit(gen, memory_order_acquire);
}

/* R3: nonzero when what was read since ft_seq_read_begin() returned g may be torn. */
static inline int ft_seq_read_retry(const _Atomic uint64_t *gen, uint64_t g, uint32_t nslots)
{
#ifdef FT_SEQ_NO_RECHECK
    (void)gen, (void)g, (void)nslots;
    return 0;
#else
    atomic_thread_fence(memory_order_acquire);
    uint64_t now = atomic_load_explicit(gen, memory_order_relaxed);
    return now - g > (uint64_t)nslots - 2;
#endif
}

/* W1: before the first payload store of a new generation. */
static inline void ft_seq_write_begin(void)
{
    atomic_thread_fence(memory_order_release);
}

/* W3 */
static inline void ft_seq_write_publish(_Atomic uint64_t *gen, uint64_t g)
{
    atomic_store_explicit(gen, g, memory_order_release);
}

/* Plain seqcount (statistics). Writer side: */
static inline void ft_seqcount_write_begin(_Atomic uint64_t *seq)
{
    uint64_t s = atomic_load_explicit(seq, memory_order_relaxed);
    atomic_store_explicit(seq, s | 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

static inline void ft_seqcount_write_end(_Atomic uint64_t *seq)
{
    uint64_t s = atomic_load_explicit(seq, memory_order_relaxed);
    atomic_store_explicit(seq, (s | 1) + 1, memory_order_release);
}

/* Reader side: */
static inline uint64_t ft_seqcount_read_begin(const _Atomic uint64_t *seq)
{
    return atomic_load_explicit(seq, memory_order_acquire);
}

static inline int ft_seqcount_read_retry(const _Atomic uint64_t *seq, uint64_t s)
{
    atomic_thread_fence(memory_order_acquire);
    return (s & 1) || atomic_load_explicit(seq, memory_order_relaxed) != s;
}

#endif
