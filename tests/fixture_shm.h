/*
 * tests/fixture_shm — a private data segment holding one known snapshot,
 * published through shm's writer side (shm/writer.h) exactly as ingestd
 * publishes, for the tests of the readers (render/, apid/).
 *
 * The snapshot (generation 1, collected at FX_COLLECTED_NS):
 *   columns  0 timestamp (text)  1 temperature (float)  2 port_xmit_data (int, a counter of 4-byte units)
 *            3 note (text)       4 gone (int, not present in this generation)
 *   rows     0 sw-1   live
 *            1 sw-2   live, stale (shown with its previous values)
 *            2 sw-old used but absent from this generation (never shown)
 *   sw-2's note is absent (the null text cell); port_xmit_data of sw-1 is past 2^53.
 */
#ifndef FT_TEST_FIXTURE_SHM_H
#define FT_TEST_FIXTURE_SHM_H

#include <string.h>
#include <unistd.h>

#include "check.h"
#include "segment.h"
#include "snapshot.h"
#include "writer.h"

#define FX_COLLECTED_NS 1800000000123456789ULL /* 2027-01-15T08:00:00.123456Z */

typedef struct fx {
    char name[64];
    ft_shm_t shm;
} fx_t;

static const ft_shm_capacity_t fx_cap = {8, 8, 4, 1024, 4096};

static void fx_open(fx_t *f)
{
    static int n;
    snprintf(f->name, sizeof(f->name), "/fabtel-test-fx-%d-%d", (int)getpid(), n++);
    ft_shm_unlink_all(f->name);
    int created;
    char why[256];
    CHECK(ft_shm_writer_open(&f->shm, f->name, &fx_cap, &created, why, sizeof(why)) == 0, "fixture segment: %s", why);
}

static void fx_close(fx_t *f)
{
    ft_shm_close(&f->shm);
    ft_shm_unlink_all(f->name);
}

/* The text pool: 8-aligned entries, as ingestd lays them out. */
static uint64_t fx_text(char *pool, uint32_t *used, const char *s)
{
    uint32_t off = *used, len = (uint32_t)strlen(s);
    memcpy(pool + off, s, len);
    *used += (len + 7) / 8 * 8;
    return ft_text_ref(off, len);
}

static uint64_t fx_f64(double d)
{
    uint64_t w;
    memcpy(&w, &d, 8);
    return w;
}

/* Publish the snapshot above as the next generation (body_json: what to store as the pre-rendered body, or NULL). */
static void fx_publish(fx_t *f, const char *body_json)
{
    static const struct {
        const char *name;
        uint32_t type;
        int present;
    } cols[] = {{"timestamp", FT_COL_TEXT, 1}, {"temperature", FT_COL_FLOAT, 1}, {"port_xmit_data", FT_COL_INT, 1},
                {"note", FT_COL_TEXT, 1},      {"gone", FT_COL_INT, 0}};
    char pool[256] = {0};
    uint32_t used = 0;
    uint64_t cells[3][5] = {
        {fx_text(pool, &used, "2027-01-15T07:59:59.000001Z"), fx_f64(41.5), 9007199254740993ULL,
         fx_text(pool, &used, "say \"hi\"\n\u00e9"), FT_CELL_NULL_INT},
        {fx_text(pool, &used, "2027-01-15T07:59:59.000002Z"), fx_f64(-3.25), 7, FT_CELL_NULL_TEXT, FT_CELL_NULL_INT},
        {FT_CELL_NULL_TEXT, FT_CELL_NULL_FLOAT, FT_CELL_NULL_INT, FT_CELL_NULL_TEXT, FT_CELL_NULL_INT},
    };
    static const char *const rows[] = {"sw-1", "sw-2", "sw-old"};
    static const uint32_t flags[] = {FT_ROW_USED | FT_ROW_PRESENT, FT_ROW_USED | FT_ROW_PRESENT | FT_ROW_STALE, FT_ROW_USED};
    uint64_t hash[16] = {0}; /* fx_cap: 8 switches -> 16 index words */
    ft_slot_writer_t w;
    uint64_t gen = ft_shm_generation(&f->shm) + 1;
    ft_slot_write_begin(&w, &f->shm, gen);
    for (uint32_t c = 0; c < 5; c++)
        ft_slot_write_col(&w, c, cols[c].name, (uint32_t)strlen(cols[c].name),
                          ft_col_meta((uint32_t)strlen(cols[c].name), cols[c].type, cols[c].present,
                                      c == 2 ? (ft_col_kind_t){1, 4} : (ft_col_kind_t){0, 0}),
                          1);
    for (uint32_t r = 0; r < 3; r++) {
        uint32_t len = (uint32_t)strlen(rows[r]);
        ft_slot_write_row(&w, r, rows[r], len, ft_row_meta(len, flags[r], r + 1), 1);
        ft_slot_write_cells(&w, r, cells[r], 5);
        uint64_t i = ft_snap_name_hash(rows[r], len) & 15;
        while (hash[i] != 0)
            i = (i + 1) & 15;
        hash[i] = r + 1;
    }
    ft_slot_write_hash(&w, hash, 16);
    ft_slot_write_text(&w, pool, used);
    const uint64_t hdr[][2] = {{FT_SLOT_GEN, gen},      {FT_SLOT_COLLECTED_NS, FX_COLLECTED_NS}, {FT_SLOT_NROWS, 3},
                               {FT_SLOT_NCOLS, 5},      {FT_SLOT_NSWITCHES, 2},                  {FT_SLOT_TEXT_USED, used},
                               {FT_SLOT_STALE_ROWS, 1}, {FT_SLOT_CATALOG_VER, 1}};
    for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++)
        ft_slot_write_hdr(&w, (unsigned)hdr[i][0], hdr[i][1]);
    ft_slot_write_body(&w, body_json, body_json ? strlen(body_json) : 0, NULL, 0);
    ft_slot_publish(&w, FX_COLLECTED_NS);
}

#endif
