/*
 * stress test for shm/seqlock: one writer publishes as fast as it can while
 * readers check that every snapshot they accept is internally consistent.
 *
 * Every payload word of generation g is g * PRIME + i, and the slot's own
 * generation word is g, so a reader that mixes two generations sees it at
 * once. Readers use the real reader path (ft_snap_begin / ft_snap_retry over
 * a real segment). Built three ways:
 *   stress_seqlock            readers are processes (the production shape): torn reads must be 0
 *   stress_seqlock --threads  readers are threads (so ThreadSanitizer can watch): torn reads must be 0
 *   stress_seqlock_norecheck  the re-check compiled out: torn reads must be > 0 (the detector bites)
 * Bounded: --seconds (default 2). Prints reads, retries, torn reads and generations.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "stress_readers.h"
#include "segment.h"
#include "snapshot.h"

#define WORDS 4096
#define PRIME 1000003ULL
#define MAX_READERS 16

typedef struct shared {
    _Atomic int stop;
    _Atomic uint64_t reads[MAX_READERS], retries[MAX_READERS], torn[MAX_READERS];
} shared_t;

static char name[64];
static shared_t *sh;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void reader(int id)
{
    ft_shm_t shm;
    char why[256];
    if (ft_shm_open_reader(&shm, name, why, sizeof(why)) != 0) {
        fprintf(stderr, "reader %d: %s\n", id, why);
        exit(1);
    }
    uint64_t *copy = malloc(WORDS * sizeof(uint64_t)), reads = 0, retries = 0, torn = 0;
    while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        ft_snap_t v;
        if (ft_snap_begin(&v, &shm) != 0)
            continue;
        uint64_t slot_gen = ft_snap_hdr(&v, FT_SLOT_GEN);
        ft_seq_load_words(copy, v.vals, WORDS);
        if (ft_snap_retry(&v)) {
            retries++;
            continue;
        }
        reads++;
        int bad = slot_gen != v.gen;
        for (uint32_t i = 0; i < WORDS && !bad; i++)
            bad = copy[i] != v.gen * PRIME + i;
        torn += bad;
    }
    atomic_store(&sh->reads[id], reads);
    atomic_store(&sh->retries[id], retries);
    atomic_store(&sh->torn[id], torn);
    free(copy);
    ft_shm_close(&shm);
}


static uint64_t writer(ft_shm_t *shm, double seconds)
{
    _Atomic uint64_t *gen = &shm->hdr->gen;
    uint64_t n = atomic_load(gen);
    double end = now_s() + seconds;
    uint64_t *words = malloc(WORDS * sizeof(uint64_t));
    while (now_s() < end) {
        for (int burst = 0; burst < 64; burst++) {
            n++;
            _Atomic uint64_t *slot = ft_shm_slot(shm, n);
            _Atomic uint64_t *vals = (_Atomic uint64_t *)((char *)slot + shm->hdr->sl_vals_off);
            for (uint32_t i = 0; i < WORDS; i++)
                words[i] = n * PRIME + i;
            ft_seq_write_begin();
            ft_seq_store(&slot[FT_SLOT_GEN], n);
            ft_seq_store_words(vals, words, WORDS);
            ft_seq_write_publish(gen, n);
        }
    }
    free(words);
    return n;
}

int main(int argc, char **argv)
{
    int threads = 0, nreaders = 3;
    double seconds = 2;
    uint32_t slots = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0)
            threads = 1;
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--readers") == 0 && i + 1 < argc)
            nreaders = atoi(argv[++i]);
        else if (strcmp(argv[i], "--slots") == 0 && i + 1 < argc)
            slots = (uint32_t)atoi(argv[++i]);
    }
    if (nreaders < 1 || nreaders > MAX_READERS)
        nreaders = 3;
    snprintf(name, sizeof(name), "/fabtel-test-stress-%d", (int)getpid());
    ft_shm_unlink_all(name);
    ft_shm_capacity_t cap = {WORDS / 8, 8, slots, 64, 64};
    ft_shm_t shm;
    int created;
    char why[256];
    if (ft_shm_writer_open(&shm, name, &cap, &created, why, sizeof(why)) != 0) {
        fprintf(stderr, "stress: %s\n", why);
        return 1;
    }
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(sh, 0, sizeof(*sh));
    writer(&shm, 0.01); /* a first generation, so readers have something */

    stress_readers_t readers;
    stress_readers_start(&readers, nreaders, threads, reader);
    uint64_t last = writer(&shm, seconds);
    atomic_store(&sh->stop, 1);
    stress_readers_join(&readers);
    uint64_t reads = 0, retries = 0, torn = 0;
    for (int r = 0; r < nreaders; r++) {
        reads += atomic_load(&sh->reads[r]);
        retries += atomic_load(&sh->retries[r]);
        torn += atomic_load(&sh->torn[r]);
    }
    printf("stress_seqlock%s: %s readers=%d slots=%u seconds=%g generations=%" PRIu64 " reads=%" PRIu64 " retries=%" PRIu64
           " torn=%" PRIu64 "\n",
#ifdef FT_SEQ_NO_RECHECK
           " (re-check compiled out)",
#else
           "",
#endif
           threads ? "threads" : "processes", nreaders, slots, seconds, last, reads, retries, torn);
    CHECK(reads > 1000, "expected readers to complete many reads, got %" PRIu64, reads);
#ifdef FT_SEQ_NO_RECHECK
    CHECK(torn > 0, "with the re-check compiled out the detector must see torn reads, saw %" PRIu64 " in %" PRIu64 " reads", torn, reads);
#else
    CHECK(torn == 0, "expected 0 torn reads, got %" PRIu64 " of %" PRIu64, torn, reads);
#endif
    ft_shm_close(&shm);
    ft_shm_unlink_all(name);
    return check_report("stress_seqlock");
}
