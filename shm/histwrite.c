#include "histwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "seqlock.h"
#include "snapshot.h"

#define WHY(...) (why != NULL ? (void)snprintf(why, whysz, __VA_ARGS__) : (void)0)

static inline uint64_t ld(const _Atomic uint64_t *p) { return atomic_load_explicit(p, memory_order_relaxed); }
static inline void st(_Atomic uint64_t *p, uint64_t v) { atomic_store_explicit(p, v, memory_order_relaxed); }
static inline void st_rel(_Atomic uint64_t *p, uint64_t v) { atomic_store_explicit(p, v, memory_order_release); }

/* ---- creating and opening ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A new file under "<path>.tmp", header written last, fsynced, then renamed: a crash leaves no half-made history. */
static int create_file(const char *path, uint64_t bytes, uint32_t max_entries, char *why, size_t whysz)
{
    ft_hist_geometry_t g;
    if (ft_hist_geometry(bytes, max_entries, &g) != 0) {
        WHY("--history-bytes %llu is too small (at least %u)", (unsigned long long)bytes, FT_HIST_MIN_BYTES);
        return -EINVAL;
    }
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || ftruncate(fd, (off_t)g.total_size) != 0) {
        int e = errno;
        WHY("cannot create history file %s: %s", tmp, strerror(e));
        if (fd >= 0)
            close(fd), unlink(tmp);
        return -e;
    }
    /*
     * The whole budget is reserved now: a mapping of a sparse file that later finds the disk full kills the writer
     * with SIGBUS in the middle of a publish. A disk too small is said here, at start.
     */
    int fe = posix_fallocate(fd, 0, (off_t)g.total_size);
    if (fe != 0 && fe != EOPNOTSUPP && fe != EINVAL) {
        WHY("cannot reserve %llu bytes for history file %s: %s (lower --history-bytes or free the disk)",
            (unsigned long long)g.total_size, path, strerror(fe));
        close(fd), unlink(tmp);
        return -fe;
    }
    ft_hist_header_t h;
    memset(&h, 0, sizeof(h));
    h.version = FT_HIST_VERSION;
    h.header_size = FT_HIST_HDR_BYTES;
    while (h.epoch == 0)
        if (getrandom(&h.epoch, sizeof(h.epoch), 0) != sizeof(h.epoch))
            h.epoch = now_ns() ^ (uint64_t)getpid() << 32;
    h.total_size = g.total_size;
    h.created_ns = now_ns();
    h.block_size = FT_HIST_BLOCK;
    h.max_entries = g.max_entries;
    h.cat_off = g.cat_off, h.ctr_off = g.ctr_off, h.raw_off = g.raw_off, h.raw_blocks = g.raw_blocks;
    h.roll_off = g.roll_off, h.roll_blocks = g.roll_blocks;
    atomic_store(&h.magic, FT_HIST_MAGIC);
    int ok = pwrite(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && fsync(fd) == 0 && rename(tmp, path) == 0;
    int e = errno;
    close(fd);
    if (!ok) {
        unlink(tmp);
        WHY("cannot create history file %s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

static int map_writer(ft_hist_writer_t *w, const char *path, char *why, size_t whysz)
{
    ft_hist_map_t *m = &w->map;
    m->fd = open(path, O_RDWR | O_CLOEXEC);
    if (m->fd < 0) {
        int e = errno;
        WHY("cannot open history file %s: %s", path, strerror(e));
        return -e;
    }
    if (flock(m->fd, LOCK_EX | LOCK_NB) != 0) {
        WHY("history file %s is in use by another writer", path);
        return -EBUSY;
    }
    struct stat sb;
    if (fstat(m->fd, &sb) != 0)
        return -errno;
    if (sb.st_size < (off_t)FT_HIST_HDR_BYTES) {
        WHY("history file %s is %lld bytes, too small to be one; move it away to start a new history", path, (long long)sb.st_size);
        return -EPROTO;
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        WHY("cannot map history file %s: %s", path, strerror(e));
        return -e;
    }
    m->base = p;
    m->size = (size_t)sb.st_size;
    char reason[200];
    int r = ft_hist_validate(p, m->size, reason, sizeof(reason));
    if (r != 0) {
        WHY("refusing history file %s: %s; it is left as it is (move it away to start a new history)", path, reason);
        return -EPROTO;
    }
    ft_hist_map_set(m);
    return 0;
}

/* Copy a block out and check it is whole: its pos, owner kind, entry, used and CRC. Returns the entry or -1. */
static int64_t whole_block(const ft_hist_map_t *m, int rollup, uint64_t index, uint64_t *pos, uint64_t *blk)
{
    ft_seq_load_words(blk, ft_hist_block(m, rollup, index), FT_HIST_BLOCK / 8);
    uint64_t n = rollup ? m->hdr->roll_blocks : m->hdr->raw_blocks;
    uint64_t own = blk[FT_HB_OWNER];
    uint32_t used = (uint32_t)blk[FT_HB_USED], ncols = ft_hist_owner_ncols(own);
    if (blk[FT_HB_POS] % n != index || ft_hist_owner_kind(own) != (rollup ? FT_HIST_KIND_ROLLUP : FT_HIST_KIND_RAW) ||
        ft_hist_owner_entry(own) >= ld(&m->hdr->nentries) || ncols > FT_HIST_MAX_COLS ||
        used > FT_HIST_BLOCK - ft_hist_payload_off(ncols) || ft_hist_block_crc(blk, used) != (uint32_t)(blk[FT_HB_USED] >> 32))
        return -1;
    *pos = blk[FT_HB_POS];
    return ft_hist_owner_entry(own);
}

/*
 * A writer killed inside a block's seqcount section leaves SEQ odd, and readers would wait for it forever (then
 * cut the series there). What it wrote is whole in every way readers check: payload bytes first, then (used, CRC)
 * in one word, so the block holds the old or the new record count, never half. Closing the section is all it needs.
 */
static void close_seq(_Atomic uint64_t *seq)
{
    uint64_t s = ld(seq);
    if (s & 1)
        st_rel(seq, s + 1);
}

/* After an unclean stop: every entry's newest block is its newest whole one; the ring continues after the newest of all. */
static uint64_t recover_ring(ft_hist_map_t *m, int rollup, uint64_t *blk)
{
    uint64_t ne = ld(&m->hdr->nentries), n = rollup ? m->hdr->roll_blocks : m->hdr->raw_blocks, moved = 0, head = 0;
    uint64_t *best = calloc(ne ? ne : 1, sizeof(uint64_t));
    if (best == NULL)
        return 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t pos;
        int64_t e = whole_block(m, rollup, i, &pos, blk);
        if (e >= 0)
            close_seq(&ft_hist_block(m, rollup, i)[FT_HB_SEQ]);
        if (e >= 0 && pos + 1 > best[e])
            best[e] = pos + 1;
        if (e >= 0 && pos + 1 > head)
            head = pos + 1;
    }
    for (uint64_t e = 0; e < ne; e++) {
        _Atomic uint64_t *last = ft_hist_entry_words(m, (uint32_t)e) + (rollup ? FT_HE_ROLL_LAST : FT_HE_RAW_LAST);
        if (ld(last) != best[e])
            st_rel(last, best[e]), moved++;
    }
    _Atomic uint64_t *h = rollup ? &m->hdr->roll_head : &m->hdr->raw_head;
    if (ld(h) < head)
        st(h, head);
    free(best);
    return moved;
}

/* This boot's id (16 bytes of /proc/sys/kernel/random/boot_id), or zeros when it cannot be read. */
static void boot_id(uint64_t out[2])
{
    out[0] = out[1] = 0;
    char text[64] = {0};
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    int k = 0;
    for (ssize_t i = 0; i < n && k < 32; i++) {
        char c = text[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v >= 0)
            out[k / 16] = out[k / 16] << 4 | (uint64_t)v, k++;
    }
}

/*
 * After an unclean stop. The same boot: the writer was killed, the kernel still had every page it wrote, nothing
 * can be torn; the rings only continue after the newest block any entry names. Another boot (a power loss, a
 * crash of the machine): pages may have reached the disk in any order, so every block is checked.
 */
static uint64_t recover(ft_hist_map_t *m, int *scanned, uint64_t *blk)
{
    uint64_t now[2];
    boot_id(now);
    ft_hist_header_t *h = m->hdr;
    *scanned = !(now[0] | now[1]) || ld(&h->boot_id[0]) != now[0] || ld(&h->boot_id[1]) != now[1];
    if (*scanned)
        return recover_ring(m, 0, blk) + recover_ring(m, 1, blk);
    uint64_t ne = ld(&h->nentries);
    for (uint64_t e = 0; e < ne; e++)
        for (int rollup = 0; rollup < 2; rollup++) {
            uint64_t last = ld(ft_hist_entry_words(m, (uint32_t)e) + (rollup ? FT_HE_ROLL_LAST : FT_HE_RAW_LAST));
            _Atomic uint64_t *head = rollup ? &h->roll_head : &h->raw_head;
            if (last != 0)
                close_seq(&ft_hist_block(m, rollup, last - 1)[FT_HB_SEQ]); /* the blocks it was appending to */
            if (ld(head) < last)
                st(head, last);
        }
    for (int rollup = 0; rollup < 2; rollup++) { /* and one it may have been opening, not yet named by its entry */
        uint64_t head = ld(rollup ? &h->roll_head : &h->raw_head);
        if (head != 0)
            close_seq(&ft_hist_block(m, rollup, head - 1)[FT_HB_SEQ]);
    }
    return 0;
}

static uint64_t name_hash(const char *name, size_t len) { return ft_snap_name_hash(name, len); }

static void entry_name(const ft_hist_map_t *m, uint32_t id, char *out, uint32_t *len)
{
    const _Atomic uint64_t *e = ft_hist_entry_words(m, id);
    ft_seq_load_words(out, e + FT_HE_NAME, FT_NAME_WORDS);
    out[FT_NAME_MAX] = 0;
    *len = (uint32_t)(ld(e + FT_HE_META) & 0xff);
    if (*len > FT_NAME_MAX)
        *len = FT_NAME_MAX;
}

/* The slot for a name in by_name: its newest entry id + 1, or the empty slot where it goes. */
static uint32_t *name_slot(ft_hist_writer_t *w, const char *name, uint32_t len)
{
    uint32_t mask = w->by_name_size - 1;
    for (uint64_t i = name_hash(name, len) & mask;; i = (i + 1) & mask) {
        uint32_t *s = &w->by_name[i];
        if (*s == 0)
            return s;
        char other[FT_NAME_MAX + 1];
        uint32_t olen;
        entry_name(&w->map, *s - 1, other, &olen);
        if (olen == len && memcmp(other, name, len) == 0)
            return s;
    }
}

static int build_index(ft_hist_writer_t *w)
{
    uint32_t size = 1024;
    while (size < 2 * w->map.hdr->max_entries)
        size <<= 1;
    w->by_name_size = size;
    w->by_name = calloc(size, sizeof(uint32_t));
    if (w->by_name == NULL)
        return -ENOMEM;
    uint64_t ne = ld(&w->map.hdr->nentries);
    for (uint32_t id = 0; id < ne; id++) {
        char name[FT_NAME_MAX + 1];
        uint32_t len;
        entry_name(&w->map, id, name, &len);
        *name_slot(w, name, len) = id + 1; /* ids grow: the last one wins, the newest incarnation */
    }
    return 0;
}

int ft_hist_writer_open(ft_hist_writer_t *w, const char *path, uint64_t bytes, uint32_t max_rows, int64_t sync_every_ms,
                        int *created, uint64_t *recovered, char *why, size_t whysz)
{
    memset(w, 0, sizeof(*w));
    w->map.fd = -1;
    w->max_rows = max_rows;
    w->sync_every_ms = sync_every_ms;
    w->col_version = 1;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        w->crc_table[i] = c;
    }
    *created = 0;
    *recovered = 0;
    for (uint32_t c = 0; c < FT_MAX_COUNTERS_LIMIT; c++)
        w->col_ctr[c] = -1;
    snprintf(w->map.path, sizeof(w->map.path), "%s", path);
    uint64_t entries = (uint64_t)max_rows * 4;
    uint64_t by_budget = bytes / 16384 > 1024 ? bytes / 16384 : 1024;
    if (entries > by_budget)
        entries = by_budget;
    if (access(path, F_OK) != 0) {
        int r = create_file(path, bytes, (uint32_t)entries, why, whysz);
        if (r != 0)
            return r;
        *created = 1;
    }
    int r = map_writer(w, path, why, whysz);
    if (r != 0)
        return r;
    w->rows = calloc(max_rows, sizeof(*w->rows));
    if (w->rows == NULL || build_index(w) != 0)
        return -ENOMEM;
    if ((w->unclean = ld(&w->map.hdr->writer_pid) != 0))
        *recovered = recover(&w->map, &w->scanned, w->blockbuf);
    uint64_t boot[2];
    boot_id(boot);
    st(&w->map.hdr->boot_id[0], boot[0]);
    st(&w->map.hdr->boot_id[1], boot[1]);
    st(&w->map.hdr->writer_pid, (uint64_t)getpid());
    w->gen = ld(&w->map.hdr->gen);
    return 0;
}

void ft_hist_writer_close(ft_hist_writer_t *w)
{
    if (w->map.hdr != NULL) { /* a refused file was never ours: left exactly as it was */
        st(&w->map.hdr->writer_pid, 0);
        msync(w->map.base, w->map.size, MS_SYNC);
    }
    ft_hist_unmap(&w->map);
    if (w->rows != NULL)
        for (uint32_t i = 0; i < w->max_rows; i++)
            free(w->rows[i]);
    free(w->rows);
    free(w->by_name);
    memset(w, 0, sizeof(*w));
    w->map.fd = -1;
}

uint32_t ft_hist_crc32(const ft_hist_writer_t *w, uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = w->crc_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- catalogues ---- */

static int64_t find_counter(ft_hist_writer_t *w, const char *name, uint32_t len)
{
    uint64_t n = ld(&w->map.hdr->ncounters);
    for (uint32_t id = 0; id < n; id++) {
        const _Atomic uint64_t *c = ft_hist_ctr_words(&w->map, id);
        char other[FT_NAME_WORDS * 8];
        ft_seq_load_words(other, c + FT_HC_NAME, FT_NAME_WORDS);
        if ((ld(c + FT_HC_META) & 0xff) == len && memcmp(other, name, len) == 0)
            return id;
    }
    return -1;
}

static uint64_t ctr_meta(uint32_t len, uint32_t type, ft_col_kind_t k)
{
    return (uint64_t)len | (uint64_t)type << 8 | (uint64_t)(k.counter != 0) << 16 | (uint64_t)(k.scale > 1 ? k.scale : 1) << 32;
}

void ft_hist_set_column(ft_hist_writer_t *w, uint32_t col, const char *name, uint32_t len, uint32_t type, ft_col_kind_t kind)
{
    if (col >= FT_MAX_COUNTERS_LIMIT || len == 0 || len > FT_NAME_MAX)
        return;
    uint64_t sig = ctr_meta(len, type, kind) | 1ULL << 24;
    if (w->col_sig[col] == sig)
        return;
    w->col_sig[col] = sig;
    w->col_version++;
    if (!ft_col_is_numeric(type)) {
        w->col_ctr[col] = -1;
        return;
    }
    int64_t id = find_counter(w, name, len);
    if (id < 0) {
        uint64_t n = ld(&w->map.hdr->ncounters);
        if (n >= FT_HIST_MAX_COUNTERS) {
            w->col_ctr[col] = -1;
            return;
        }
        _Atomic uint64_t *c = ft_hist_ctr_words(&w->map, (uint32_t)n);
        char padded[FT_NAME_WORDS * 8] = {0};
        memcpy(padded, name, len);
        ft_seq_store_words(c + FT_HC_NAME, padded, FT_NAME_WORDS);
        st(c + FT_HC_META, ctr_meta(len, type, kind));
        st_rel(&w->map.hdr->ncounters, n + 1);
        id = (int64_t)n;
    } else {
        st(ft_hist_ctr_words(&w->map, (uint32_t)id) + FT_HC_META, ctr_meta(len, type, kind)); /* the kind now */
    }
    w->col_ctr[col] = (int32_t)id;
    w->col_word[col] = ft_hist_col((uint32_t)id, type, kind.counter);
}

static int64_t new_entry(ft_hist_writer_t *w, const char *name, uint32_t len, uint32_t incarnation, uint32_t row, uint32_t seg_inc)
{
    ft_hist_header_t *h = w->map.hdr;
    uint64_t id = ld(&h->nentries);
    if (id >= h->max_entries)
        return -ENOSPC;
    _Atomic uint64_t *e = ft_hist_entry_words(&w->map, (uint32_t)id);
    char padded[FT_NAME_WORDS * 8] = {0};
    memcpy(padded, name, len);
    st(e + FT_HE_META, (uint64_t)len | (uint64_t)incarnation << 32);
    ft_seq_store_words(e + FT_HE_NAME, padded, FT_NAME_WORDS);
    st(e + FT_HE_CREATED_T, (uint64_t)w->t_ms);
    st(e + FT_HE_RAW_LAST, 0);
    st(e + FT_HE_ROLL_LAST, 0);
    st(e + FT_HE_CLOSED_T, 0);
    st(e + FT_HE_LAST_T, 0);
    st(e + FT_HE_BINDING, (uint64_t)row | (uint64_t)seg_inc << 32);
    st_rel(&h->nentries, id + 1); /* the entry is whole before readers can count it */
    return (int64_t)id;
}

/* ---- blocks ---- */

/* Store n bytes at byte offset `off` of a block, keeping the bytes before it in a shared word. */
static void store_at(_Atomic uint64_t *blk, uint32_t off, const uint8_t *src, size_t n)
{
    while (n > 0) {
        uint32_t b = off % 8;
        uint64_t v = b == 0 ? 0 : ld(&blk[off / 8]);
        size_t take = 8 - b < n ? 8 - b : n;
        memcpy((uint8_t *)&v + b, src, take);
        st(&blk[off / 8], v);
        off += (uint32_t)take, src += take, n -= take;
    }
}

static uint64_t ring_blocks(const ft_hist_writer_t *w, int rollup)
{
    return rollup ? w->map.hdr->roll_blocks : w->map.hdr->raw_blocks;
}

/* The open block can take `need` more bytes and has not been handed to someone else by the ring. */
static int block_fits(const ft_hist_writer_t *w, const ft_hist_open_block_t *o, int rollup, uint32_t ncols, size_t need)
{
    _Atomic uint64_t *head = rollup ? &w->map.hdr->roll_head : &w->map.hdr->raw_head;
    return o->pos1 != 0 && ld(head) <= o->pos1 - 1 + ring_blocks(w, rollup) &&
           ft_hist_payload_off(ncols) + o->used + need <= FT_HIST_BLOCK;
}

static void open_block(ft_hist_writer_t *w, ft_hist_row_state_t *rs, int rollup, int64_t first_t)
{
    ft_hist_header_t *h = w->map.hdr;
    ft_hist_open_block_t *o = rollup ? &rs->roll : &rs->raw;
    if (!rollup && o->pos1 != 0 && block_fits(w, o, 0, rs->ncols, 0)) {
        st(&h->samples_closed, ld(&h->samples_closed) + o->nrec * rs->ncols); /* a record holds one sample per column */
        st(&h->bytes_closed, ld(&h->bytes_closed) + FT_HIST_BLOCK);
    }
    _Atomic uint64_t *headw = rollup ? &h->roll_head : &h->raw_head;
    _Atomic uint64_t *lastw = ft_hist_entry_words(&w->map, rs->entry) + (rollup ? FT_HE_ROLL_LAST : FT_HE_RAW_LAST);
    uint64_t pos = ld(headw);
    st(headw, pos + 1);
    uint64_t local[FT_HB_WORDS + FT_HIST_MAX_COLS / 2 + 1] = {0};
    local[FT_HB_POS] = pos;
    local[FT_HB_OWNER] = ft_hist_owner(rs->entry, rollup ? FT_HIST_KIND_ROLLUP : FT_HIST_KIND_RAW, rs->ncols);
    local[FT_HB_PREV] = ld(lastw);
    local[FT_HB_FIRST_T] = (uint64_t)(rollup ? first_t * 60000 : first_t);
    local[FT_HB_FIRST_GEN] = w->gen;
    local[FT_HB_LAST_T] = local[FT_HB_FIRST_T];
    memcpy(&local[FT_HB_WORDS], rs->cols, rs->ncols * sizeof(uint32_t));
    uint32_t crc = ft_hist_block_crc(local, 0);
    local[FT_HB_USED] = (uint64_t)crc << 32;
    _Atomic uint64_t *blk = ft_hist_block(&w->map, rollup, pos);
    ft_seqcount_write_begin(&blk[FT_HB_SEQ]);
    ft_seq_store_words(&blk[FT_HB_POS], &local[FT_HB_POS], ft_hist_payload_off(rs->ncols) / 8 - 1);
    ft_seqcount_write_end(&blk[FT_HB_SEQ]);
    st_rel(lastw, pos + 1);
    o->pos1 = pos + 1, o->used = 0, o->crc = crc, o->nrec = 0, o->nsync = 0;
    o->first_t = (int64_t)local[FT_HB_FIRST_T];
    ft_hist_codec_init(&o->codec, rs->cols, rs->ncols, first_t);
    o->codec.base_gen = w->gen; /* FIRST_GEN: the raw codec counts generations from it */
}

/* sync: a sync word to store with the record (0: none), in the same seqcount section, so readers see both or neither. */
static void append(ft_hist_writer_t *w, ft_hist_open_block_t *o, int rollup, uint32_t ncols, size_t n, int64_t t, uint64_t sync)
{
    _Atomic uint64_t *blk = ft_hist_block(&w->map, rollup, o->pos1 - 1);
    ft_seqcount_write_begin(&blk[FT_HB_SEQ]);
    if (sync != 0)
        st(&blk[FT_HB_SYNC + o->nsync++], sync);
    store_at(blk, ft_hist_payload_off(ncols) + o->used, w->scratch, n);
    o->crc = ft_hist_crc32(w, o->crc, w->scratch, n);
    o->used += (uint32_t)n;
    o->nrec++;
    st(&blk[FT_HB_LAST_T], (uint64_t)t);
    st(&blk[FT_HB_NREC], o->nrec);
    st(&blk[FT_HB_USED], o->used | (uint64_t)o->crc << 32);
    ft_seqcount_write_end(&blk[FT_HB_SEQ]);
}

static size_t raw_rec_max(uint32_t ncols) { return 30 + (ncols + 7) / 8 + (size_t)ncols * 12; }
static size_t roll_rec_max(uint32_t ncols) { return 10 + (size_t)ncols * 88; }

/*
 * After a restart, go on filling the entry's newest block of a ring instead of leaving it part-empty (a restart
 * would otherwise cost a block per switch): when it is still this entry's, whole, and lists the same columns, its
 * records are decoded to rebuild the codec's state at its end. Otherwise the next append opens a new block.
 */
static void resume_block(ft_hist_writer_t *w, ft_hist_row_state_t *rs, int rollup)
{
    _Atomic uint64_t *e = ft_hist_entry_words(&w->map, rs->entry);
    uint64_t last = ld(e + (rollup ? FT_HE_ROLL_LAST : FT_HE_RAW_LAST));
    _Atomic uint64_t *head = rollup ? &w->map.hdr->roll_head : &w->map.hdr->raw_head;
    if (last == 0 || ld(head) > last - 1 + ring_blocks(w, rollup))
        return;
    uint64_t *b = w->blockbuf;
    ft_seq_load_words(b, ft_hist_block(&w->map, rollup, last - 1), FT_HIST_BLOCK / 8);
    uint32_t used = (uint32_t)b[FT_HB_USED], off = ft_hist_payload_off(rs->ncols);
    if ((b[FT_HB_SEQ] & 1) || b[FT_HB_POS] != last - 1 ||
        b[FT_HB_OWNER] != ft_hist_owner(rs->entry, rollup ? FT_HIST_KIND_ROLLUP : FT_HIST_KIND_RAW, rs->ncols) ||
        memcmp(&b[FT_HB_WORDS], rs->cols, rs->ncols * sizeof(uint32_t)) != 0 || used > FT_HIST_BLOCK - off ||
        ft_hist_block_crc(b, used) != (uint32_t)(b[FT_HB_USED] >> 32))
        return;
    ft_hist_open_block_t *o = rollup ? &rs->roll : &rs->raw;
    int64_t first = (int64_t)b[FT_HB_FIRST_T];
    uint64_t nrec = 0, cells[FT_HIST_MAX_COLS];
    int64_t t;
    int rc;
    uint32_t nsync = 0;
    if (rollup) {
        ft_hist_codec_init(&o->codec, rs->cols, rs->ncols, first / 60000);
        const uint8_t *p = (const uint8_t *)b + off, *end = p + used;
        while ((rc = ft_hist_dec_roll(&o->codec, &p, end, &t, rs->agg)) == 1)
            nrec++;
        if (rc != 0 || p != end)
            return;
    } else {
        ft_hist_cursor_t k;
        ft_hist_cursor_init(&k, b, INT64_MIN);
        const uint8_t *bitmap;
        while ((rc = ft_hist_cursor_next(&k, &t, &bitmap)) == 1 && ft_hist_cursor_values(&k, bitmap, ~0ULL, ~0ULL, cells) == 0)
            nrec++;
        if (rc != 0 || k.p != k.end)
            return; /* every record read */
        o->codec = k.c;
        nsync = k.n;
        for (uint32_t i = nsync; i < FT_HIST_NSYNC; i++)
            if (b[FT_HB_SYNC + i] != 0)
                return; /* a sync word past the valid ones: do not write after it */
    }
    if (rollup)
        memset(rs->agg, 0, sizeof(rs->agg));
    else
        for (uint32_t i = 0; i < rs->ncols; i++) /* the previous sample of each counter, for the next increase */
            if (nrec > 0 && cells[i] != (ft_hist_col_type(rs->cols[i]) == FT_COL_FLOAT ? FT_CELL_NULL_FLOAT : FT_CELL_NULL_INT))
                rs->last[i] = cells[i], rs->have[i] = 1;
    o->pos1 = last, o->used = used, o->crc = (uint32_t)(b[FT_HB_USED] >> 32), o->nrec = nrec;
    o->first_t = first, o->nsync = nsync;
}

/*
 * The first sample of a new minute in a raw block that already holds records becomes a sync record (while the
 * header has room to point at it): the codec starts over there, so readers can begin at it (shm/history.h).
 * Returns the header word to store with the record, 0 for an ordinary record.
 */
static uint64_t sync_point(ft_hist_row_state_t *rs, int64_t t)
{
    ft_hist_open_block_t *o = &rs->raw;
    int64_t rel = t - o->first_t;
    if (o->nrec == 0 || o->nsync >= FT_HIST_NSYNC || rel <= 0 || rel > (int64_t)UINT32_MAX || o->used > 0xffff)
        return 0;
    return ft_hist_sync_word(o->pos1 - 1, o->used, (uint32_t)rel);
}

/* Write the minute being gathered, if any, as one rollup record. */
static void flush_minute(ft_hist_writer_t *w, ft_hist_row_state_t *rs)
{
    int any = 0;
    for (uint32_t i = 0; i < rs->ncols; i++)
        any |= rs->agg[i].count != 0;
    int later = rs->roll.pos1 == 0 || rs->roll.codec.first || rs->minute > rs->roll.codec.t; /* the clock may step back */
    if (any && rs->ncols > 0 && later) {
        if (!block_fits(w, &rs->roll, 1, rs->ncols, roll_rec_max(rs->ncols)))
            open_block(w, rs, 1, rs->minute);
        size_t n = ft_hist_enc_roll(&rs->roll.codec, w->scratch, rs->minute, rs->agg);
        append(w, &rs->roll, 1, rs->ncols, n, rs->minute * 60000, 0);
        ft_hist_header_t *h = w->map.hdr;
        st(&h->roll_records, ld(&h->roll_records) + 1);
        st(&h->roll_bytes, ld(&h->roll_bytes) + n);
    }
    memset(rs->agg, 0, sizeof(rs->agg));
}

/* ---- one generation ---- */

void ft_hist_begin(ft_hist_writer_t *w, uint64_t gen, int64_t t_ms)
{
    w->gen = gen;
    w->t_ms = t_ms;
}

void ft_hist_forget_row(ft_hist_writer_t *w, uint32_t row)
{
    ft_hist_row_state_t *rs = row < w->max_rows ? w->rows[row] : NULL;
    if (rs == NULL || !rs->bound)
        return;
    flush_minute(w, rs);
    st(ft_hist_entry_words(&w->map, rs->entry) + FT_HE_CLOSED_T, (uint64_t)w->t_ms);
    rs->bound = 0;
}

/* Bind a row to its switch's open entry, or a new incarnation. 0, or -ENOSPC when the catalogue is full. */
static int bind_row(ft_hist_writer_t *w, ft_hist_row_state_t *rs, uint32_t row, uint32_t seg_inc, const char *name, uint32_t len)
{
    if (rs->bound && rs->seg_inc == seg_inc)
        return 0;
    if (rs->bound) /* the row was given to another switch without us seeing it forgotten */
        ft_hist_forget_row(w, row);
    uint32_t *slot = name_slot(w, name, len);
    uint32_t incarnation = 1;
    int64_t id = -1;
    if (*slot != 0) {
        const _Atomic uint64_t *e = ft_hist_entry_words(&w->map, *slot - 1);
        if (ld(e + FT_HE_CLOSED_T) == 0)
            id = *slot - 1;
        else
            incarnation = (uint32_t)(ld(e + FT_HE_META) >> 32) + 1;
    }
    if (id < 0 && (id = new_entry(w, name, len, incarnation, row, seg_inc)) < 0)
        return (int)id;
    *slot = (uint32_t)id + 1;
    memset(rs, 0, sizeof(*rs));
    rs->entry = (uint32_t)id, rs->seg_inc = seg_inc, rs->bound = 1;
    rs->last_t = (int64_t)ld(ft_hist_entry_words(&w->map, (uint32_t)id) + FT_HE_LAST_T);
    rs->minute = -1;
    st(ft_hist_entry_words(&w->map, (uint32_t)id) + FT_HE_BINDING, (uint64_t)row | (uint64_t)seg_inc << 32);
    return 0;
}

/* The columns this row records now; a change closes the minute and starts new blocks. */
static void update_columns(ft_hist_writer_t *w, ft_hist_row_state_t *rs, uint32_t ncells)
{
    if (rs->col_version == w->col_version)
        return; /* no column changed since this row's list was built */
    rs->col_version = w->col_version;
    uint32_t cols[FT_HIST_MAX_COLS], from[FT_HIST_MAX_COLS], n = 0;
    for (uint32_t c = 0; c < ncells && c < FT_MAX_COUNTERS_LIMIT; c++) {
        if (w->col_ctr[c] < 0)
            continue;
        if (n == FT_HIST_MAX_COLS) {
            if (!w->warned_cols++)
                st(&w->map.hdr->skipped_cols, ld(&w->map.hdr->skipped_cols) + 1);
            break;
        }
        cols[n] = w->col_word[c], from[n++] = c;
    }
    if (n == rs->ncols && memcmp(cols, rs->cols, n * sizeof(uint32_t)) == 0)
        return;
    flush_minute(w, rs);
    rs->ncols = n;
    memcpy(rs->cols, cols, n * sizeof(uint32_t));
    memcpy(rs->model_col, from, n * sizeof(uint32_t));
    memset(rs->have, 0, sizeof(rs->have));
    rs->raw.pos1 = rs->roll.pos1 = 0;
    resume_block(w, rs, 0);
    resume_block(w, rs, 1);
}

void ft_hist_put_row(ft_hist_writer_t *w, uint32_t row, uint32_t seg_inc, const char *name, uint32_t len, const uint64_t *cells,
                     uint32_t ncells)
{
    if (row >= w->max_rows || len == 0 || len > FT_NAME_MAX)
        return;
    if (w->rows[row] == NULL && (w->rows[row] = calloc(1, sizeof(ft_hist_row_state_t))) == NULL)
        return;
    ft_hist_row_state_t *rs = w->rows[row];
    if (bind_row(w, rs, row, seg_inc, name, len) != 0) {
        w->warned_full++;
        return;
    }
    update_columns(w, rs, ncells);
    if (rs->ncols == 0 || w->t_ms <= rs->last_t)
        return; /* nothing numeric, or not after this series' last sample (a stale re-publish, a clock step back) */
    int64_t minute = w->t_ms / 60000;
    int new_minute = minute != rs->minute;
    if (new_minute) {
        flush_minute(w, rs);
        rs->minute = minute;
    }
    uint64_t vals[FT_HIST_MAX_COLS];
    for (uint32_t i = 0; i < rs->ncols; i++) {
        uint32_t col = rs->cols[i];
        vals[i] = cells[rs->model_col[i]];
        if (vals[i] == (ft_hist_col_type(col) == FT_COL_FLOAT ? FT_CELL_NULL_FLOAT : FT_CELL_NULL_INT))
            continue;
        ft_hist_agg_add(&rs->agg[i], col, vals[i], rs->have[i], rs->last[i]);
        rs->last[i] = vals[i], rs->have[i] = 1;
    }
    uint64_t sync = 0;
    /* Generations grow within a block; a re-created segment starts them over, and so does a new block. */
    if (!block_fits(w, &rs->raw, 0, rs->ncols, raw_rec_max(rs->ncols)) || (rs->raw.nrec > 0 && w->gen <= rs->raw.codec.gen))
        open_block(w, rs, 0, w->t_ms);
    else if (new_minute)
        sync = sync_point(rs, w->t_ms);
    size_t n = ft_hist_enc_raw(&rs->raw.codec, w->scratch, w->t_ms, w->gen, vals, sync != 0);
    append(w, &rs->raw, 0, rs->ncols, n, w->t_ms, sync);
    rs->last_t = w->t_ms;
    st(ft_hist_entry_words(&w->map, rs->entry) + FT_HE_LAST_T, (uint64_t)w->t_ms);
    w->samples += rs->ncols;
}

void ft_hist_end(ft_hist_writer_t *w)
{
    ft_hist_header_t *h = w->map.hdr;
    st(&h->samples_total, ld(&h->samples_total) + w->samples);
    w->samples = 0;
    st(&h->gen_t_ms, (uint64_t)w->t_ms);
    st_rel(&h->gen, w->gen); /* after every block of gen: a reader that sees gen finds its samples */
    if (w->sync_every_ms > 0 && w->t_ms - w->last_sync_ms >= w->sync_every_ms) {
        sync_file_range(w->map.fd, 0, 0, SYNC_FILE_RANGE_WRITE); /* start write-back; never waits for the disk */
        w->last_sync_ms = w->t_ms;
    }
}
