/*
 * stress test for the history file's lock-free reads (shm/histread.h): one
 * writer wraps a small full-resolution ring as fast as it can while readers
 * read whole series and check every point.
 *
 * Sample of switch s, column c at time t (ms) is (t / 1000) * PRIME + s * 64
 * + c, and times advance by exactly 1000 ms per generation, so a point from
 * a torn copy — a block recycled for another switch under the reader, or
 * half of an append — shows as a wrong value, a wrong time step or a time
 * out of order. Built three ways:
 *   stress_history             readers are processes (the production shape): torn must be 0
 *   stress_history --threads   readers are threads (so ThreadSanitizer can watch): torn must be 0
 *   stress_history_norecheck   every check of a copy compiled out (seqcount, pos and owner, CRC): torn must be > 0
 * Bounded: --seconds (default 2). Prints reads, points, torn points and wraps.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "stress_readers.h"
#include "histread.h"
#include "histwrite.h"

#define PRIME 1000003ULL
#define SWITCHES 8
#define COLS FT_HIST_MAX_COLS
#define MAX_READERS 8

typedef struct shared {
    _Atomic int stop;
    _Atomic uint64_t reads[MAX_READERS], points[MAX_READERS], torn[MAX_READERS];
} shared_t;

static shared_t *sh;
static char path[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t expect(int64_t t, uint32_t s, uint32_t c)
{
    return (uint64_t)(t / 1000) * PRIME + s * 64 + c;
}

/* One read of one series: count its points and the ones a correct read could not give. */
static void check_series(ft_hist_reader_t *r, uint32_t s, uint32_t c, uint32_t ctr, int idx)
{
    char name[16];
    snprintf(name, sizeof(name), "sw-%u", s);
    uint32_t id;
    if (ft_hist_find_switch(r, name, strlen(name), &id, 1) != 1)
        return;
    ft_hist_points_t p = {0};
    ft_hist_read_raw(r, id, ctr, 0, INT64_MAX, &p);
    uint64_t torn = 0;
    for (size_t i = 0; i < p.n; i++)
        torn += p.p[i].v != expect(p.p[i].t, s, c) || p.p[i].t % 1000 != 0 || (i > 0 && p.p[i].t <= p.p[i - 1].t);
    free(p.p);
    atomic_fetch_add(&sh->reads[idx], 1);
    atomic_fetch_add(&sh->points[idx], p.n);
    atomic_fetch_add(&sh->torn[idx], torn);
}

static void reader(int idx)
{
    ft_hist_reader_t r;
    char why[256];
    if (ft_hist_reader_open(&r, path, why, sizeof(why)) != 0) {
        fprintf(stderr, "reader %d: %s\n", idx, why);
        return;
    }
    uint32_t ctrs[COLS];
    for (uint32_t c = 0; c < COLS; c++) {
        char cn[8];
        uint32_t type, scale;
        int counter;
        snprintf(cn, sizeof(cn), "c%u", c);
        ctrs[c] = (uint32_t)ft_hist_find_counter(&r, cn, strlen(cn), &type, &counter, &scale);
    }
    for (uint64_t k = (uint64_t)idx; !atomic_load(&sh->stop); k++)
        check_series(&r, (uint32_t)(k % SWITCHES), (uint32_t)(k / SWITCHES % COLS), ctrs[k / SWITCHES % COLS], idx);
    ft_hist_reader_close(&r);
}


static void write_generation(ft_hist_writer_t *w, uint64_t g)
{
    int64_t t = 1700000000000 + (int64_t)g * 1000;
    ft_hist_begin(w, g, t);
    for (uint32_t s = 0; s < SWITCHES; s++) {
        uint64_t cells[COLS];
        char name[16];
        for (uint32_t c = 0; c < COLS; c++)
            cells[c] = expect(t, s, c);
        snprintf(name, sizeof(name), "sw-%u", s);
        ft_hist_put_row(w, s, 1, name, (uint32_t)strlen(name), cells, COLS);
    }
    ft_hist_end(w);
}

int main(int argc, char **argv)
{
    double seconds = 2;
    int threads = 0, nreaders = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0)
            threads = 1;
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--readers") == 0 && i + 1 < argc)
            nreaders = atoi(argv[++i]);
    }
    if (nreaders < 1 || nreaders > MAX_READERS)
        nreaders = 2;
    snprintf(path, sizeof(path), "/tmp/fabtel-stress-history-%d.ft", (int)getpid());
    unlink(path);
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ft_hist_writer_t w;
    int created;
    uint64_t recovered;
    char why[256];
    CHECK(ft_hist_writer_open(&w, path, FT_HIST_MIN_BYTES, 64, 0, &created, &recovered, why, sizeof(why)) == 0, "writer: %s", why);
    for (uint32_t c = 0; c < COLS; c++) {
        char cn[8];
        snprintf(cn, sizeof(cn), "c%u", c);
        ft_hist_set_column(&w, c, cn, (uint32_t)strlen(cn), FT_COL_INT, (ft_col_kind_t){1, 1});
    }
    uint64_t g = 1;
    while (atomic_load(&w.map.hdr->raw_head) < w.map.hdr->raw_blocks) /* full before the readers start */
        write_generation(&w, g++);
    stress_readers_t readers;
    stress_readers_start(&readers, nreaders, threads, reader);
    /* At least `seconds` and two wraps of the ring (slower under the sanitizers), never more than 20 times `seconds`. */
    double start = now_s();
    uint64_t head0 = atomic_load(&w.map.hdr->raw_head), two_wraps = head0 + 2 * w.map.hdr->raw_blocks;
    while (now_s() < start + 20 * seconds && (now_s() < start + seconds || atomic_load(&w.map.hdr->raw_head) < two_wraps))
        for (int k = 0; k < 64; k++)
            write_generation(&w, g++);
    atomic_store(&sh->stop, 1);
    stress_readers_join(&readers);
    uint64_t reads = 0, points = 0, torn = 0;
    for (int i = 0; i < nreaders; i++)
        reads += sh->reads[i], points += sh->points[i], torn += sh->torn[i];
    double wraps = (double)(atomic_load(&w.map.hdr->raw_head) - head0) / (double)w.map.hdr->raw_blocks;
    printf("stress_history: %s, %d readers, %" PRIu64 " reads, %" PRIu64 " points, %" PRIu64 " torn, %" PRIu64
           " generations, ring wrapped %.1f times\n",
           threads ? "threads" : "processes", nreaders, reads, points, torn, g, wraps);
    ft_hist_writer_close(&w);
    unlink(path);
    CHECK(reads > 100 && points > 10000, "expected readers to read many series, got %" PRIu64 " reads, %" PRIu64 " points", reads, points);
    CHECK(wraps >= 2, "expected the writer to wrap the ring at least twice, got %.1f", wraps);
#ifdef FT_HIST_NO_RECHECK
    CHECK(torn > 0, "with the re-check compiled out, expected torn points, got 0 of %" PRIu64 " (the test cannot see tearing)", points);
#else
    CHECK(torn == 0, "expected 0 torn points, got %" PRIu64 " of %" PRIu64, torn, points);
#endif
    return check_report("stress_history");
}
