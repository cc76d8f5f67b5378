/*
 * tests for shm/histcodec, shm/histwrite and shm/histread: records round-trip exactly (64-bit integers,
 * decimals, odd doubles, absent cells); series identity across forget, row reuse, return and restart; rates
 * across a reset and above 2^53; rollups against the samples they fold; a wrapping ring; torn, stale and
 * foreign blocks and files cut or refused; recovery of each entry's newest whole block after a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "histread.h"
#include "histwrite.h"

static char dir[] = "/tmp/fabtel-test-history-XXXXXX";
static char path[512];

static uint64_t dbits(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}

static void test_codec_roundtrip(void)
{
    uint32_t cols[4] = {ft_hist_col(0, FT_COL_INT, 1), ft_hist_col(1, FT_COL_FLOAT, 0), ft_hist_col(2, FT_COL_INT, 0),
                        ft_hist_col(3, FT_COL_FLOAT, 0)};
    static const double floats[] = {12.5, 12.25, 0.001, 1.5e-12, -0.0, 0.0, 1e300, -7.125, 3.14159265358979, 1e15, 123456.789};
    static const int64_t ints[] = {0, 1, -1, INT64_MAX, INT64_MIN + 1, (1LL << 53) + 1, 42, (1LL << 62) + 12345, -(1LL << 60)};
    ft_hist_codec_t enc, dec;
    ft_hist_codec_init(&enc, cols, 4, 1000);
    ft_hist_codec_init(&dec, cols, 4, 1000);
    enc.base_gen = dec.base_gen = 500; /* the block's FIRST_GEN */
    uint8_t buf[64 * 1024];
    size_t used = 0;
    uint64_t want[40][4], gens[40];
    int64_t t = 1000;
    for (int i = 0; i < 40; i++) {
        want[i][0] = (uint64_t)ints[i % 9];
        want[i][1] = dbits(floats[i % 11]);
        want[i][2] = i % 5 == 0 ? FT_CELL_NULL_INT : (uint64_t)ints[(i * 7) % 9];
        want[i][3] = i % 3 == 0 ? FT_CELL_NULL_FLOAT : dbits(floats[(i * 5) % 11]);
        /* generations: consecutive mostly, a gap now and then (a switch stale or absent for a while), one on a sync record */
        gens[i] = i == 0 ? 500 : gens[i - 1] + (i % 7 == 3 ? 1 + (uint64_t)i * 1000 : i == 12 ? 5 : 1);
        used += ft_hist_enc_raw(&enc, buf + used, t, gens[i], want[i], i % 13 == 12); /* a sync record now and then */
        t += 1000 + (i % 4) * 17;
    }
    const uint8_t *p = buf;
    int64_t tt, expect_t = 1000;
    for (int i = 0; i < 40; i++) {
        uint64_t got[4];
        int r = ft_hist_dec_raw(&dec, &p, buf + used, &tt, got);
        CHECK(r == 1, "record %d decodes (got %d)", i, r);
        CHECK(tt == expect_t, "record %d time: expected %lld, got %lld", i, (long long)expect_t, (long long)tt);
        CHECK(dec.gen == gens[i], "record %d generation: expected %llu, got %llu", i, (unsigned long long)gens[i],
              (unsigned long long)dec.gen);
        for (int c = 0; c < 4; c++)
            CHECK(got[c] == want[i][c], "record %d column %d: expected 0x%016llx, got 0x%016llx", i, c,
                  (unsigned long long)want[i][c], (unsigned long long)got[c]);
        expect_t += 1000 + (i % 4) * 17;
    }
    CHECK(ft_hist_dec_raw(&dec, &p, buf + used, &tt, want[0]) == 0, "clean end after the last record");
    /* rollup minutes of those columns, decimal and not, round-trip exactly */
    ft_hist_codec_t renc, rdec;
    ft_hist_codec_init(&renc, cols, 4, 0); /* a rollup block's base is its first minute */
    ft_hist_codec_init(&rdec, cols, 4, 0);
    ft_hist_agg_t in[12][4], got[4];
    memset(in, 0, sizeof(in));
    uint8_t rbuf[16 * 1024];
    size_t rused = 0;
    for (int mnt = 0; mnt < 12; mnt++) {
        for (int k = 0; k < 20; k++)
            for (int c = 0; c < 4; c++) {
                uint64_t v = ft_hist_col_type(cols[c]) == FT_COL_FLOAT ? dbits(floats[(mnt + k + c) % 11] * (mnt % 3 == 2 ? 1.0 / 3 : 1))
                                                                       : (uint64_t)ints[(mnt + k * c) % 9];
                ft_hist_agg_add(&in[mnt][c], cols[c], v, k > 0, v);
            }
        rused += ft_hist_enc_roll(&renc, rbuf + rused, mnt * 3, in[mnt]);
    }
    const uint8_t *rp = rbuf;
    int rbad = 0;
    for (int mnt = 0; mnt < 12; mnt++) {
        int64_t minute;
        rbad += ft_hist_dec_roll(&rdec, &rp, rbuf + rused, &minute, got) != 1 || minute != mnt * 3;
        for (int c = 0; c < 4; c++) {
            rbad += got[c].count != in[mnt][c].count || got[c].first != in[mnt][c].first || got[c].min != in[mnt][c].min ||
                    got[c].max != in[mnt][c].max || got[c].last != in[mnt][c].last || got[c].dsum != in[mnt][c].dsum ||
                    got[c].dsq != in[mnt][c].dsq || got[c].inc != in[mnt][c].inc;
        }
    }
    CHECK(rbad == 0 && rp == rbuf + rused, "rollup minutes round-trip exactly, decimal floats and raw ones (%d wrong)", rbad);
    /* garbage never decodes past the end */
    uint8_t junk[16];
    memset(junk, 0xff, sizeof(junk));
    const uint8_t *q = junk;
    ft_hist_codec_init(&dec, cols, 4, 0);
    uint64_t out[4];
    CHECK(ft_hist_dec_raw(&dec, &q, junk + sizeof(junk), &tt, out) < 0, "0xff bytes are not a record");
}

static void open_writer(ft_hist_writer_t *w, uint64_t bytes)
{
    int created;
    uint64_t recovered;
    char why[256] = "";
    int r = ft_hist_writer_open(w, path, bytes, 64, 0, &created, &recovered, why, sizeof(why));
    CHECK(r == 0, "writer opens %s: %d %s", path, r, why);
}

static void set_cols(ft_hist_writer_t *w)
{
    ft_hist_set_column(w, 0, "rx", 2, FT_COL_INT, (ft_col_kind_t){1, 4});
    ft_hist_set_column(w, 1, "latency", 7, FT_COL_FLOAT, (ft_col_kind_t){0, 1});
    ft_hist_set_column(w, 2, "desc", 4, FT_COL_TEXT, (ft_col_kind_t){0, 1});
}

static void put(ft_hist_writer_t *w, uint32_t row, uint32_t inc, const char *name, uint64_t rx, double lat)
{
    uint64_t cells[3] = {rx, dbits(lat), 0};
    ft_hist_put_row(w, row, inc, name, (uint32_t)strlen(name), cells, 3);
}

static int open_reader(ft_hist_reader_t *r)
{
    char why[256] = "";
    int rc = ft_hist_reader_open(r, path, why, sizeof(why));
    CHECK(rc == 0, "reader opens: %d %s", rc, why);
    return rc;
}

static void test_identity_and_rates(void)
{
    unlink(path);
    ft_hist_writer_t w;
    open_writer(&w, 8 << 20);
    set_cols(&w);
    int64_t t0 = 1700000000000;
    uint64_t big = (1ULL << 53) + 3;
    for (int g = 1; g <= 100; g++) {
        ft_hist_begin(&w, (uint64_t)g, t0 + g * 1000);
        /* sw-a: a counter above 2^53 growing by 3 each second, reset to 10 at generation 50 */
        put(&w, 0, 1, "sw-a", g < 50 ? big + (uint64_t)g * 3 : 10 + (uint64_t)(g - 50) * 8, 1.5 + g * 0.01);
        if (g <= 30)
            put(&w, 1, 1, "sw-b", (uint64_t)g, 2.0);
        if (g == 31)
            ft_hist_forget_row(&w, 1);
        if (g > 40) /* row 1 reused by another switch, then sw-b returns on row 2 */
            put(&w, 1, 2, "sw-c", (uint64_t)g * 10, 3.0);
        if (g > 60)
            put(&w, 2, 1, "sw-b", 1000 + (uint64_t)g, 4.0);
        ft_hist_end(&w);
    }
    ft_hist_writer_close(&w);

    ft_hist_reader_t r;
    if (open_reader(&r) != 0)
        return;
    uint32_t ids[8];
    CHECK(ft_hist_find_switch(&r, "sw-b", 4, ids, 8) == 2, "sw-b has two incarnations");
    ft_hist_entry_info_t e;
    ft_hist_entry_info(&r, ids[0], &e);
    CHECK(e.incarnation == 2 && e.closed_t == 0, "newest sw-b is incarnation 2 and open (got %u, closed %lld)", e.incarnation,
          (long long)e.closed_t);
    ft_hist_entry_info(&r, ids[1], &e);
    CHECK(e.incarnation == 1 && e.closed_t == t0 + 31000, "older sw-b is incarnation 1, closed at its forget (got %u, %lld)",
          e.incarnation, (long long)e.closed_t);
    uint32_t type, scale;
    int counter;
    int64_t rx = ft_hist_find_counter(&r, "rx", 2, &type, &counter, &scale);
    CHECK(rx >= 0 && type == FT_COL_INT && counter && scale == 4, "rx is an integer counter of scale 4");
    CHECK(ft_hist_find_counter(&r, "desc", 4, &type, &counter, &scale) == -ENOENT, "text columns are not history");
    ft_hist_points_t pts = {0};
    ft_hist_read_raw(&r, ids[1], (uint32_t)rx, 0, INT64_MAX, &pts);
    CHECK(pts.n == 30 && pts.p[29].v == 30, "sw-b incarnation 1 holds its 30 samples only (got %zu)", pts.n);
    pts.n = 0;
    ft_hist_read_raw(&r, ids[0], (uint32_t)rx, 0, INT64_MAX, &pts);
    CHECK(pts.n == 40 && pts.p[0].v == 1061, "sw-b incarnation 2 holds its 40 samples (got %zu)", pts.n);
    CHECK(pts.n == 40 && pts.p[0].gen == 61 && pts.p[39].gen == 100, "each sample knows its generation (got %llu..%llu)",
          pts.n ? (unsigned long long)pts.p[0].gen : 0ULL, pts.n ? (unsigned long long)pts.p[pts.n - 1].gen : 0ULL);
    ft_hist_find_switch(&r, "sw-c", 4, ids, 8);
    pts.n = 0;
    ft_hist_read_raw(&r, ids[0], (uint32_t)rx, 0, INT64_MAX, &pts);
    CHECK(pts.n == 60 && pts.p[0].v == 410, "sw-c on the reused row starts with its own sample (got %zu, %llu)", pts.n,
          pts.n ? (unsigned long long)pts.p[0].v : 0ULL);
    /* rates of sw-a: exact 3*4 bytes/s above 2^53, nothing at the reset, then 8*4 */
    CHECK(ft_hist_find_switch(&r, "sw-a", 4, ids, 8) == 1, "sw-a once");
    ft_hist_bucket_t b[100];
    memset(b, 0, sizeof(b));
    ft_hist_fold(&r, ids[0], (uint32_t)rx, t0 + 1000, 1000, 100, 1, 4.0, b);
    int bad = 0;
    for (int k = 0; k < 100; k++) {
        int g = k + 1;
        double want = g == 1 || g == 50 ? -1 : g < 50 ? 12.0 : 32.0;
        if (want < 0 ? b[k].count != 0 : (b[k].count != 1 || b[k].sum != want))
            bad++, fprintf(stderr, "  g=%d count=%llu rate=%g want %g\n", g, (unsigned long long)b[k].count, b[k].sum, want);
    }
    CHECK(bad == 0, "rates exact above 2^53, none at the reset or before the first sample (%d wrong)", bad);
    pts.n = 0;
    ft_hist_read_raw(&r, ids[0], (uint32_t)rx, t0 + 10000, t0 + 10000, &pts);
    CHECK(pts.n == 1 && pts.p[0].v == big + 30, "a value above 2^53 is served exactly (got %llu)",
          pts.n ? (unsigned long long)pts.p[0].v : 0ULL);
    free(pts.p);
    ft_hist_reader_close(&r);
}

static void test_restart_continues(void)
{
    unlink(path);
    ft_hist_writer_t w;
    open_writer(&w, 8 << 20);
    set_cols(&w);
    int64_t t0 = 1700000000000;
    for (int g = 1; g <= 10; g++) {
        ft_hist_begin(&w, (uint64_t)g, t0 + g * 1000);
        put(&w, 5, 1, "sw-x", (uint64_t)g, 1.0);
        ft_hist_end(&w);
    }
    /* killed inside an append: the newest block's seqcount stays odd, which readers would wait on forever */
    uint64_t last = atomic_load(ft_hist_entry_words(&w.map, 0) + FT_HE_RAW_LAST), head = atomic_load(&w.map.hdr->raw_head);
    _Atomic uint64_t *seq = &ft_hist_block(&w.map, 0, last - 1)[FT_HB_SEQ];
    atomic_store(seq, atomic_load(seq) | 1);
    munmap(w.map.base, w.map.size);
    close(w.map.fd);
    free(w.rows[5]);
    free(w.rows);
    free(w.by_name);
    open_writer(&w, 64 << 20); /* a different budget: the file's own size wins */
    CHECK(w.unclean && !w.scanned && (atomic_load(&ft_hist_block(&w.map, 0, last - 1)[FT_HB_SEQ]) & 1) == 0,
          "a kill inside an append is repaired on open (seqcount closed)");
    set_cols(&w);
    for (int g = 11; g <= 20; g++) {
        ft_hist_begin(&w, (uint64_t)g, t0 + g * 1000);
        put(&w, 0, 1, "sw-x", (uint64_t)g, 1.0); /* another row, as after a re-created segment */
        ft_hist_end(&w);
    }
    CHECK(w.map.hdr->total_size <= 8 << 20, "the existing file kept its size");
    CHECK(atomic_load(&w.map.hdr->raw_head) == head && atomic_load(ft_hist_entry_words(&w.map, 0) + FT_HE_RAW_LAST) == last,
          "the restarted writer goes on filling the series' newest block (head %llu -> %llu)", (unsigned long long)head,
          (unsigned long long)atomic_load(&w.map.hdr->raw_head));
    ft_hist_writer_close(&w);
    ft_hist_reader_t r;
    if (open_reader(&r) != 0)
        return;
    uint32_t ids[4], type, scale;
    int counter;
    CHECK(ft_hist_find_switch(&r, "sw-x", 4, ids, 4) == 1, "one incarnation across the restart");
    int64_t rx = ft_hist_find_counter(&r, "rx", 2, &type, &counter, &scale);
    ft_hist_points_t pts = {0};
    ft_hist_read_raw(&r, ids[0], (uint32_t)rx, 0, INT64_MAX, &pts);
    int ok = pts.n == 20;
    for (size_t i = 0; ok && i < pts.n; i++)
        ok = pts.p[i].v == i + 1 && pts.p[i].t == t0 + (int64_t)(i + 1) * 1000;
    CHECK(ok, "20 samples in order across the restart (got %zu)", pts.n);
    free(pts.p);
    ft_hist_reader_close(&r);
}

static void test_rollups_match_samples(void)
{
    unlink(path);
    ft_hist_writer_t w;
    open_writer(&w, 8 << 20);
    set_cols(&w);
    int64_t t0 = 1700000040000 - 1700000040000 % 60000; /* a whole minute */
    uint64_t v = 1000;
    for (int g = 0; g < 600; g++) { /* 10 minutes at 1 s */
        v += (uint64_t)(g % 7) * 100;
        ft_hist_begin(&w, (uint64_t)g + 1, t0 + g * 1000);
        put(&w, 0, 1, "sw-r", v, 1.0 + (g % 13) * 0.25);
        ft_hist_end(&w);
    }
    ft_hist_writer_close(&w);
    ft_hist_reader_t r;
    if (open_reader(&r) != 0)
        return;
    uint32_t ids[2], type, scale;
    int counter;
    ft_hist_find_switch(&r, "sw-r", 4, ids, 2);
    int64_t lat = ft_hist_find_counter(&r, "latency", 7, &type, &counter, &scale);
    ft_hist_minutes_t ms = {0};
    ft_hist_read_minutes(&r, ids[0], (uint32_t)lat, t0 / 60000, t0 / 60000 + 100, &ms);
    CHECK(ms.n == 9, "nine whole minutes rolled up, the tenth still being gathered (got %zu)", ms.n);
    ft_hist_points_t pts = {0};
    ft_hist_read_raw(&r, ids[0], (uint32_t)lat, t0, t0 + 59999, &pts);
    double sum = 0, mn = 1e9, mx = -1e9;
    for (size_t i = 0; i < pts.n; i++) {
        double x = ft_hist_value(FT_COL_FLOAT, pts.p[i].v);
        sum += x, mn = fmin(mn, x), mx = fmax(mx, x);
    }
    if (ms.n > 0) {
        const ft_hist_agg_t *a = &ms.m[0].a;
        double first = ft_hist_value(FT_COL_FLOAT, a->first), dsum = ft_hist_value(FT_COL_FLOAT, a->dsum);
        CHECK(a->count == 60 && pts.n == 60, "a minute folds 60 samples (got %llu, %zu)", (unsigned long long)a->count, pts.n);
        CHECK(fabs(first * 60 + dsum - sum) < 1e-9 && ft_hist_value(FT_COL_FLOAT, a->min) == mn && ft_hist_value(FT_COL_FLOAT, a->max) == mx,
              "the minute's sum, min and max are the samples' (sum %g vs %g)", first * 60 + dsum, sum);
    }
    /* a 1-minute-step fold over 10 minutes: raw covers it all here; the rollup path gives the same averages */
    ft_hist_bucket_t b[10], c[10];
    memset(b, 0, sizeof(b));
    ft_hist_fold(&r, ids[0], (uint32_t)lat, t0, 60000, 10, 0, 1, b);
    memset(c, 0, sizeof(c));
    ms.n = 0;
    ft_hist_read_minutes(&r, ids[0], (uint32_t)lat, t0 / 60000, t0 / 60000 + 9, &ms);
    for (size_t i = 0; i < ms.n; i++) {
        const ft_hist_agg_t *a = &ms.m[i].a;
        c[i].count = a->count;
        c[i].sum = ft_hist_value(FT_COL_FLOAT, a->first) * (double)a->count + ft_hist_value(FT_COL_FLOAT, a->dsum);
    }
    int bad = 0;
    for (int k = 0; k < 9; k++)
        bad += b[k].count != c[k].count || fabs(b[k].sum - c[k].sum) > 1e-9;
    CHECK(bad == 0, "raw steps and rollup minutes agree on every whole minute (%d differ)", bad);
    int64_t rx = ft_hist_find_counter(&r, "rx", 2, &type, &counter, &scale);
    ms.n = 0;
    ft_hist_read_minutes(&r, ids[0], (uint32_t)rx, t0 / 60000 + 1, t0 / 60000 + 1, &ms);
    uint64_t inc = 0;
    for (int g = 60; g < 120; g++)
        inc += (uint64_t)(g % 7) * 100;
    CHECK(ms.n == 1 && ms.m[0].a.inc == inc, "a minute's increase counts from the previous minute's last sample (want %llu, got %llu)",
          (unsigned long long)inc, ms.n ? (unsigned long long)ms.m[0].a.inc : 0ULL);
    /* window moments (rollups for whole minutes, samples at the edges) equal the samples' own, for any window */
    static const int64_t windows[][2] = {{0, 599999}, {12345, 487654}, {60000, 119999}, {59999, 60001}, {30000, 45000}, {0, 900000}};
    uint32_t ctrs[2] = {(uint32_t)lat, (uint32_t)rx};
    int wrong = 0;
    for (size_t k = 0; k < sizeof(windows) / sizeof(windows[0]); k++) {
        ft_hist_moments_t m[2];
        int64_t from = t0 + windows[k][0], to = t0 + windows[k][1];
        CHECK(ft_hist_window_moments(&r, ids[0], ctrs, 2, from, to, m) == 0, "moments");
        for (int j = 0; j < 2; j++) {
            pts.n = 0;
            ft_hist_read_raw(&r, ids[0], ctrs[j], from, to, &pts);
            double s = 0, sq = 0;
            for (size_t i = 0; i < pts.n; i++) {
                double x = ft_hist_value(pts.type, pts.p[i].v);
                s += x, sq += x * x;
            }
            if (m[j].count != pts.n || fabs(m[j].sum - s) > 1e-9 * fabs(s) + 1e-9 || fabs(m[j].sumsq - sq) > 1e-9 * sq + 1e-9)
                wrong++, fprintf(stderr, "  window %zu counter %d: %llu %.17g %.17g vs %zu %.17g %.17g\n", k, j,
                                 (unsigned long long)m[j].count, m[j].sum, m[j].sumsq, pts.n, s, sq);
        }
    }
    CHECK(wrong == 0, "window moments from rollups and edges equal the samples' (%d differ)", wrong);
    free(ms.m);
    free(pts.p);
    ft_hist_reader_close(&r);
}

/* Corrupt one byte of the file at `off` (as a power loss would leave a torn sector). */
static void poke(uint64_t off, uint8_t x)
{
    int fd = open(path, O_RDWR);
    uint8_t b;
    CHECK(pread(fd, &b, 1, (off_t)off) == 1, "read the byte to corrupt");
    b ^= x;
    CHECK(pwrite(fd, &b, 1, (off_t)off) == 1, "corrupt one byte");
    close(fd);
}

static void test_wrap_torn_stale_and_recovery(void)
{
    unlink(path);
    ft_hist_writer_t w;
    open_writer(&w, FT_HIST_MIN_BYTES);
    set_cols(&w);
    uint64_t raw_blocks = w.map.hdr->raw_blocks, raw_off = w.map.hdr->raw_off;
    int64_t t0 = 1700000000000;
    int g = 1;
    while (atomic_load(&w.map.hdr->raw_head) < raw_blocks * 3) { /* wrap the ring three times */
        ft_hist_begin(&w, (uint64_t)g, t0 + g * 1000);
        for (uint32_t s = 0; s < 4; s++) {
            char name[16];
            snprintf(name, sizeof(name), "sw-%u", s);
            put(&w, s, 1, name, (uint64_t)g * 4 + s, 0.5 * g);
        }
        ft_hist_end(&w);
        g++;
    }
    int last_g = g - 1;
    ft_hist_reader_t r;
    if (open_reader(&r) != 0)
        return;
    uint32_t ids[2], type, scale;
    int counter;
    int64_t rx = ft_hist_find_counter(&r, "rx", 2, &type, &counter, &scale);
    ft_hist_find_switch(&r, "sw-2", 4, ids, 2);
    ft_hist_points_t pts = {0};
    ft_hist_read_raw(&r, ids[0], (uint32_t)rx, 0, INT64_MAX, &pts);
    int ok = pts.n > 100 && pts.p[pts.n - 1].v == (uint64_t)last_g * 4 + 2;
    for (size_t i = 1; ok && i < pts.n; i++)
        ok = pts.p[i].v == pts.p[i - 1].v + 4 && pts.p[i].t == pts.p[i - 1].t + 1000;
    CHECK(ok, "after three wraps the newest samples are whole and contiguous (%zu points)", pts.n);
    CHECK(pts.oldest_t > t0 + 1000, "the oldest samples were forgotten first");
    size_t whole = pts.n;
    /* tear the payload of the entry's second-newest block: the series is cut there, newer data still served */
    uint64_t newest = atomic_load(ft_hist_entry_words(&r.map, ids[0]) + FT_HE_RAW_LAST) - 1;
    const _Atomic uint64_t *nb = ft_hist_block(&r.map, 0, newest);
    uint64_t prev = atomic_load(&nb[FT_HB_PREV]) - 1;
    uint64_t newest_first = atomic_load(&nb[FT_HB_FIRST_T]);
    poke(raw_off + (prev % raw_blocks) * FT_HIST_BLOCK + ft_hist_payload_off(2) + 5, 0x40);
    ft_hist_reader_close(&r); /* torn by a power loss: the readers after it are new processes */
    if (open_reader(&r) != 0)
        return;
    pts.n = 0;
    ft_hist_read_raw(&r, ids[0], (uint32_t)rx, 0, INT64_MAX, &pts);
    CHECK(pts.n > 0 && pts.n < whole && pts.p[0].t == (int64_t)newest_first,
          "a torn block cuts the series: only the newer block is served (%zu of %zu points)", pts.n, whole);
    /* the writer crashes (no close) and its newest block is torn: recovery points the entry at the newest whole one */
    uint64_t entry_last = atomic_load(ft_hist_entry_words(&r.map, ids[0]) + FT_HE_RAW_LAST);
    ft_hist_reader_close(&r);
    munmap(w.map.base, w.map.size);
    close(w.map.fd);
    poke(raw_off + (newest % raw_blocks) * FT_HIST_BLOCK + ft_hist_payload_off(2) + 3, 0x01);
    poke(offsetof(ft_hist_header_t, boot_id), 0x5a); /* the writer ran in another boot: a power loss, not a kill */
    int created;
    uint64_t recovered;
    char why[256] = "";
    ft_hist_writer_t w2;
    int rc = ft_hist_writer_open(&w2, path, FT_HIST_MIN_BYTES, 64, 0, &created, &recovered, why, sizeof(why));
    CHECK(rc == 0 && w2.unclean && w2.scanned && recovered >= 1, "reopening after a power loss scans and recovers (rc %d, %llu entries moved: %s)",
          rc, (unsigned long long)recovered, why);
    uint64_t after = atomic_load(ft_hist_entry_words(&w2.map, ids[0]) + FT_HE_RAW_LAST);
    CHECK(after != 0 && after != entry_last, "the entry no longer points at its torn newest block (%llu -> %llu)",
          (unsigned long long)entry_last, (unsigned long long)after);
    /* killed again, in this boot: nothing can be torn, nothing is scanned, the series keep their newest blocks */
    uint64_t before = atomic_load(ft_hist_entry_words(&w2.map, ids[0]) + FT_HE_RAW_LAST);
    munmap(w2.map.base, w2.map.size); /* killed: no close, its lock goes with its fd */
    close(w2.map.fd);
    ft_hist_writer_t w3;
    rc = ft_hist_writer_open(&w3, path, FT_HIST_MIN_BYTES, 64, 0, &created, &recovered, why, sizeof(why));
    CHECK(rc == 0 && w3.unclean && !w3.scanned && recovered == 0, "a kill in the same boot is not scanned (rc %d, scanned %d)", rc,
          w3.scanned);
    CHECK(atomic_load(ft_hist_entry_words(&w3.map, ids[0]) + FT_HE_RAW_LAST) == before, "and keeps every series' newest block");
    ft_hist_writer_close(&w3);
    free(w2.rows);
    free(w2.by_name);
    free(w.rows[0]), free(w.rows[1]), free(w.rows[2]), free(w.rows[3]);
    free(w.rows);
    free(w.by_name);
    free(pts.p);
}

/* Reads from the middle of blocks start at sync records; a wrong or torn index never changes what is read. */
static int check_windows(ft_hist_reader_t *r, uint32_t id, uint32_t ctr, int64_t t0, const char *what)
{
    static const int64_t starts[] = {1, 59, 60, 61, 119, 333, 479, 480, 481, 700, 999};
    int bad = 0;
    for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
        ft_hist_points_t p = {0};
        int64_t from = t0 + starts[k] * 1000, to = from + 150 * 1000;
        ft_hist_read_raw(r, id, ctr, from, to, &p);
        int ok = p.n > 0;
        for (size_t i = 0; ok && i < p.n; i++)
            ok = p.p[i].t >= from && p.p[i].t <= to && p.p[i].v == (uint64_t)((p.p[i].t - t0) / 1000) * 7;
        ok = ok && p.p[0].t == (from > t0 + 1000 ? from : t0 + 1000) && p.have_before == (from > t0 + 1000) &&
             (!p.have_before || p.before.t == from - 1000);
        bad += !ok;
        free(p.p);
    }
    CHECK(bad == 0, "%s: windows from the middle of blocks read exactly (%d wrong)", what, bad);
    return bad;
}

static void test_sync_points(void)
{
    unlink(path);
    ft_hist_writer_t w;
    open_writer(&w, 8 << 20);
    set_cols(&w);
    int64_t t0 = 1700000040000 - 1700000040000 % 60000;
    for (int g = 1; g <= 1000; g++) {
        ft_hist_begin(&w, (uint64_t)g, t0 + g * 1000);
        put(&w, 0, 1, "sw-s", (uint64_t)g * 7, 1.5);
        ft_hist_end(&w);
    }
    uint64_t last = atomic_load(ft_hist_entry_words(&w.map, 0) + FT_HE_RAW_LAST);
    uint64_t raw_off = w.map.hdr->raw_off, nblocks = w.map.hdr->raw_blocks;
    ft_hist_writer_close(&w);
    ft_hist_reader_t r;
    if (open_reader(&r) != 0)
        return;
    const _Atomic uint64_t *b = ft_hist_block(&r.map, 0, last - 1);
    int nsync = 0;
    for (uint32_t i = 0; i < FT_HIST_NSYNC; i++)
        nsync += atomic_load(&b[FT_HB_SYNC + i]) != 0;
    CHECK(nsync >= 1, "a block spanning minutes holds sync points (%d)", nsync);
    uint32_t id, type, scale;
    int counter;
    ft_hist_find_switch(&r, "sw-s", 4, &id, 1);
    uint32_t rx = (uint32_t)ft_hist_find_counter(&r, "rx", 2, &type, &counter, &scale);
    check_windows(&r, id, rx, t0, "with its sync points");
    uint64_t word = atomic_load(&b[FT_HB_SYNC]);
    ft_hist_reader_close(&r);
    /* an index that lies (a valid check, the wrong offset) and one torn (a bad check): reads do not change */
    uint64_t lie = ft_hist_sync_word(last - 1, ft_hist_sync_off(word) + 1, ft_hist_sync_t(word));
    int fd = open(path, O_RDWR);
    CHECK(pwrite(fd, &lie, 8, (off_t)(raw_off + ((last - 1) % nblocks) * FT_HIST_BLOCK + FT_HB_SYNC * 8)) == 8, "plant a lie");
    close(fd);
    if (open_reader(&r) != 0)
        return;
    check_windows(&r, id, rx, t0, "with a lying sync index");
    ft_hist_reader_close(&r);
    poke(raw_off + ((last - 1) % nblocks) * FT_HIST_BLOCK + FT_HB_SYNC * 8 + 7, 0x80);
    if (open_reader(&r) != 0)
        return;
    check_windows(&r, id, rx, t0, "with a torn sync index");
    ft_hist_reader_close(&r);
}

static void test_crc_matches_zlib(void)
{
    unlink(path);
    ft_hist_writer_t w;
    open_writer(&w, FT_HIST_MIN_BYTES);
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    uint32_t mine = 0, theirs = (uint32_t)crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < sizeof(buf); off += 37) { /* in pieces, as appends come */
        size_t n = sizeof(buf) - off < 37 ? sizeof(buf) - off : 37;
        mine = ft_hist_crc32(&w, mine, buf + off, n);
        theirs = (uint32_t)crc32(theirs, buf + off, (uInt)n);
    }
    CHECK(mine == theirs, "the writer's CRC-32 is zlib's (0x%08x vs 0x%08x)", mine, theirs);
    ft_hist_writer_close(&w);
}

static void test_refusals(void)
{
    unlink(path);
    ft_hist_writer_t w;
    open_writer(&w, FT_HIST_MIN_BYTES);
    ft_hist_writer_close(&w);
    poke(8, FT_HIST_VERSION ^ 3); /* this version -> 3 */
    ft_hist_reader_t r;
    char why[256] = "";
    CHECK(ft_hist_reader_open(&r, path, why, sizeof(why)) == -EPROTO && strstr(why, "version 3") != NULL,
          "a reader refuses an unknown version, saying so (got \"%s\")", why);
    int created;
    uint64_t recovered;
    why[0] = 0;
    CHECK(ft_hist_writer_open(&w, path, FT_HIST_MIN_BYTES, 64, 0, &created, &recovered, why, sizeof(why)) == -EPROTO &&
              strstr(why, "refusing") != NULL,
          "the writer refuses it and leaves it alone (got \"%s\")", why);
    ft_hist_writer_close(&w);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && sb.st_size > 0, "the refused file is still there");
    char other[600];
    snprintf(other, sizeof(other), "%s/not-history", dir);
    int fd = open(other, O_CREAT | O_WRONLY, 0600);
    CHECK(write(fd, "hello, not a history file at all, but long enough? no.", 55) == 55, "write");
    close(fd);
    CHECK(ft_hist_reader_open(&r, other, why, sizeof(why)) == -EPROTO, "a short foreign file is refused (%s)", why);
}

/* An unsigned counter past 2^63 (UFM's): samples exact, minute rollups in unsigned order, rates across 2^63. */
static void test_unsigned_counter(void)
{
    unlink(path);
    ft_hist_writer_t w;
    open_writer(&w, 8 << 20);
    ft_hist_set_column(&w, 0, "big", 3, FT_COL_UINT, (ft_col_kind_t){1, 4});
    int64_t t0 = 1700000040000; /* on a minute */
    uint64_t base = (1ULL << 63) - 100 * 1000ULL - 500; /* crosses 2^63 between the 100th and 101st samples (2^63 itself is the absent marker) */
    for (int g = 0; g < 180; g++) {
        ft_hist_begin(&w, (uint64_t)g + 1, t0 + g * 1000);
        uint64_t cells[1] = {g == 150 ? 7 : base + (uint64_t)g * 1000 + (g > 150 ? 1ULL << 62 : 0)}; /* a reset at 150 */
        if (g > 150)
            cells[0] = 7 + (uint64_t)(g - 150) * 1000;
        ft_hist_put_row(&w, 0, 1, "u1", 2, cells, 1);
        ft_hist_end(&w);
    }
    ft_hist_writer_close(&w);
    ft_hist_reader_t r;
    if (open_reader(&r) != 0)
        return;
    uint32_t ids[2], type, scale;
    int counter;
    int64_t ctr = ft_hist_find_counter(&r, "big", 3, &type, &counter, &scale);
    CHECK(ctr >= 0 && type == FT_COL_UINT && counter && scale == 4, "an unsigned counter of scale 4");
    CHECK(ft_hist_find_switch(&r, "u1", 2, ids, 2) == 1, "one series");
    ft_hist_points_t pts = {0};
    ft_hist_read_raw(&r, ids[0], (uint32_t)ctr, 0, INT64_MAX, &pts);
    CHECK(pts.n == 180 && pts.p[120].v == base + 120000 && pts.p[120].v > (1ULL << 63), "samples past 2^63 exact (%zu)", pts.n);
    ft_hist_bucket_t b[3];
    memset(b, 0, sizeof(b));
    ft_hist_fold(&r, ids[0], (uint32_t)ctr, t0 + 60000, 60000, 1, 0, 1.0, b); /* the second minute, from its rollup: 60..119 */
    double lo = (double)(base + 60000), hi = (double)(base + 119000);
    CHECK(b[0].count == 60 && b[0].min == lo && b[0].max == hi, "a minute across 2^63 keeps unsigned order: min %.17g max %.17g", b[0].min, b[0].max);
    memset(b, 0, sizeof(b));
    ft_hist_fold(&r, ids[0], (uint32_t)ctr, t0 + 1000, 1000, 3, 1, 4.0, b);
    CHECK(b[0].count == 1 && b[0].sum == 4000.0, "rate: 1000 units/s x 4 = 4000 (%g)", b[0].sum);
    free(pts.p);
    ft_hist_reader_close(&r);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof(path), "%s/%s", dir, FT_HIST_FILE);
    test_codec_roundtrip();
    test_identity_and_rates();
    test_restart_continues();
    test_rollups_match_samples();
    test_wrap_torn_stale_and_recovery();
    test_sync_points();
    test_crc_matches_zlib();
    test_refusals();
    test_unsigned_counter();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return check_report("test_history");
}
