/*
 * libFuzzer target: the history file's readers (shm/histread.h, shm/histcodec.h) on bytes nobody checked.
 * A real file is written once; every input then becomes the payload (and, by its first byte, the header and
 * column list) of the series' newest raw and rollup blocks, with the CRC made to match so the decoders see it,
 * and the input is also validated as a file header. Reads must stay in bounds and terminate; what they serve
 * must be in time order.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "histread.h"
#include "histwrite.h"
#include "seqlock.h"
#include "util.h"

static ft_hist_reader_t r;
static ft_hist_map_t rw; /* the same file, writable, to plant inputs */
static uint32_t entry, ctrs[3];

static void setup(void)
{
    char path[] = "/tmp/fabtel-fuzz-history-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    ft_hist_writer_t w;
    int created;
    uint64_t recovered;
    char why[256];
    if (ft_hist_writer_open(&w, path, FT_HIST_MIN_BYTES, 8, 0, &created, &recovered, why, sizeof(why)) != 0)
        abort();
    ft_hist_set_column(&w, 0, "rx", 2, FT_COL_INT, (ft_col_kind_t){1, 4});
    ft_hist_set_column(&w, 1, "lat", 3, FT_COL_FLOAT, (ft_col_kind_t){0, 1});
    ft_hist_set_column(&w, 2, "err", 3, FT_COL_INT, (ft_col_kind_t){0, 1});
    for (int g = 1; g <= 400; g++) {
        double lat = 1.5 + g * 0.125;
        uint64_t cells[3] = {(uint64_t)g * 1000, 0, (uint64_t)(g % 3)};
        memcpy(&cells[1], &lat, 8);
        ft_hist_begin(&w, (uint64_t)g, 1700000000000 + g * 1000);
        ft_hist_put_row(&w, 0, 1, "sw", 2, cells, 3);
        ft_hist_end(&w);
    }
    ft_hist_writer_close(&w);
    if (ft_hist_reader_open(&r, path, why, sizeof(why)) != 0)
        abort();
    fd = open(path, O_RDWR);
    rw = r.map;
    rw.base = mmap(NULL, r.map.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    unlink(path);
    ft_hist_map_set(&rw);
    uint32_t type, scale;
    int counter;
    ft_hist_find_switch(&r, "sw", 2, &entry, 1);
    ctrs[0] = (uint32_t)ft_hist_find_counter(&r, "rx", 2, &type, &counter, &scale);
    ctrs[1] = (uint32_t)ft_hist_find_counter(&r, "lat", 3, &type, &counter, &scale);
    ctrs[2] = (uint32_t)ft_hist_find_counter(&r, "err", 3, &type, &counter, &scale);
}

/* Put the input into the entry's newest block of a ring, keeping it whole in the readers' eyes (CRC fixed). */
static void plant(int rollup, const uint8_t *data, size_t size)
{
    const _Atomic uint64_t *last = ft_hist_entry_words(&rw, entry) + (rollup ? FT_HE_ROLL_LAST : FT_HE_RAW_LAST);
    uint64_t pos1 = atomic_load(last);
    if (pos1 == 0)
        return;
    static uint64_t blk[FT_HIST_BLOCK / 8];
    _Atomic uint64_t *b = ft_hist_block(&rw, rollup, pos1 - 1);
    ft_seq_load_words(blk, b, FT_HIST_BLOCK / 8);
    size_t at = FT_HB_WORDS * 8;
    if (size > 0 && (data[0] & 1)) { /* the column list too: ncols and column words from the input */
        uint32_t ncols = size > 1 ? data[1] % (FT_HIST_MAX_COLS + 1) : 0;
        blk[FT_HB_OWNER] = ft_hist_owner(entry, rollup ? FT_HIST_KIND_ROLLUP : FT_HIST_KIND_RAW, ncols);
        data += 2 > size ? size : 2, size -= 2 > size ? size : 2;
    } else {
        at = ft_hist_payload_off(ft_hist_owner_ncols(blk[FT_HB_OWNER]));
    }
    size_t room = FT_HIST_BLOCK - at;
    size_t n = size < room ? size : room;
    memcpy((uint8_t *)blk + at, data, n);
    uint32_t used = (uint32_t)(at + n - ft_hist_payload_off(ft_hist_owner_ncols(blk[FT_HB_OWNER])));
    if (at + n < ft_hist_payload_off(ft_hist_owner_ncols(blk[FT_HB_OWNER])))
        used = 0;
    blk[FT_HB_USED] = used | (uint64_t)ft_hist_block_crc(blk, used) << 32;
    ft_seq_store_words(b, blk, FT_HIST_BLOCK / 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready)
        setup(), ready = 1;
    static uint8_t hdr[FT_HIST_HDR_BYTES];
    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr, data, size < sizeof(hdr) ? size : sizeof(hdr));
    char why[200];
    ft_hist_validate(hdr, sizeof(hdr), why, sizeof(why));
    plant(0, data, size);
    plant(1, data, size);
    for (int c = 0; c < 3; c++) {
        ft_hist_points_t p = {0};
        ft_hist_read_raw(&r, entry, ctrs[c], 0, INT64_MAX, &p);
        for (size_t i = 1; i < p.n; i++)
            if (p.p[i].t <= p.p[i - 1].t)
                abort(); /* the decoder only yields later samples */
        free(p.p);
        ft_hist_minutes_t m = {0};
        ft_hist_read_minutes(&r, entry, ctrs[c], 0, INT64_MAX / 60000, &m);
        free(m.m);
        ft_hist_bucket_t b[16];
        memset(b, 0, sizeof(b));
        ft_hist_fold(&r, entry, ctrs[c], 1700000000000 - 1700000000000 % 60000, 60000, 16, c == 0, 4, b);
    }
    int64_t ms;
    ft_parse_time_ms((const char *)data, size, &ms);
    return 0;
}
