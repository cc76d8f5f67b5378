#include "history.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define WHY(...) (why != NULL ? (void)snprintf(why, whysz, __VA_ARGS__) : (void)0)

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

int ft_hist_geometry(uint64_t bytes, uint32_t max_entries, ft_hist_geometry_t *g)
{
    if (max_entries == 0 || max_entries > (1u << 24) || bytes > (1ULL << 44))
        return -EINVAL;
    memset(g, 0, sizeof(*g));
    g->max_entries = max_entries;
    g->cat_off = FT_HIST_HDR_BYTES;
    g->ctr_off = g->cat_off + (uint64_t)max_entries * FT_HIST_ENTRY_WORDS * 8;
    g->raw_off = align_up(g->ctr_off + (uint64_t)FT_HIST_MAX_COUNTERS * FT_HIST_CTR_WORDS * 8, FT_HIST_BLOCK);
    if (bytes < g->raw_off + 4ULL * FT_HIST_BLOCK)
        return -EINVAL;
    uint64_t blocks = (bytes - g->raw_off) / FT_HIST_BLOCK;
    g->raw_blocks = blocks * 2 / 3;
    g->roll_blocks = blocks - g->raw_blocks;
    g->roll_off = g->raw_off + g->raw_blocks * FT_HIST_BLOCK;
    g->total_size = g->roll_off + g->roll_blocks * FT_HIST_BLOCK;
    return g->raw_blocks >= 2 && g->roll_blocks >= 2 ? 0 : -EINVAL;
}

int ft_hist_validate(const void *base, size_t size, char *why, size_t whysz)
{
    if (size < FT_HIST_HDR_BYTES) {
        WHY("history file is %zu bytes, smaller than its %u-byte header", size, FT_HIST_HDR_BYTES);
        return -EPROTO;
    }
    const ft_hist_header_t *h = (const ft_hist_header_t *)base;
    uint64_t magic = atomic_load_explicit(&h->magic, memory_order_acquire);
    if (magic != FT_HIST_MAGIC) {
        WHY(magic == 0 ? "history file has no header yet (being created, or not a history file)"
                       : "not a fabtel history file (magic 0x%016llx)",
            (unsigned long long)magic);
        return magic == 0 ? -EAGAIN : -EPROTO;
    }
    if (h->version != FT_HIST_VERSION) {
        WHY("history file format version %u, this build understands %u", h->version, FT_HIST_VERSION);
        return -EPROTO;
    }
    ft_hist_geometry_t g;
    if (h->header_size != FT_HIST_HDR_BYTES || h->block_size != FT_HIST_BLOCK || h->epoch == 0 ||
        ft_hist_geometry(h->total_size, h->max_entries, &g) != 0 || g.total_size != h->total_size || g.cat_off != h->cat_off ||
        g.ctr_off != h->ctr_off || g.raw_off != h->raw_off || g.raw_blocks != h->raw_blocks || g.roll_off != h->roll_off ||
        g.roll_blocks != h->roll_blocks) {
        WHY("history file header is corrupt (sizes and region table disagree)");
        return -EPROTO;
    }
    if (h->total_size > size) {
        WHY("history file declares %llu bytes but is %zu (truncated)", (unsigned long long)h->total_size, size);
        return -EPROTO;
    }
    return 0;
}

void ft_hist_map_set(ft_hist_map_t *m)
{
    m->hdr = (ft_hist_header_t *)m->base;
    m->cat = (_Atomic uint64_t *)((char *)m->base + m->hdr->cat_off);
    m->ctr = (_Atomic uint64_t *)((char *)m->base + m->hdr->ctr_off);
    m->raw = (_Atomic uint64_t *)((char *)m->base + m->hdr->raw_off);
    m->roll = (_Atomic uint64_t *)((char *)m->base + m->hdr->roll_off);
}

int ft_hist_map_reader(ft_hist_map_t *m, const char *path, char *why, size_t whysz)
{
    memset(m, 0, sizeof(*m));
    m->fd = -1;
    if (snprintf(m->path, sizeof(m->path), "%s", path) >= (int)sizeof(m->path))
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        WHY("cannot open history file %s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)FT_HIST_HDR_BYTES) {
        close(fd);
        WHY("history file %s is too small to be one", path);
        return -EPROTO;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        int e = errno;
        WHY("cannot map history file %s: %s", path, strerror(e));
        return -e;
    }
    int r = ft_hist_validate(p, (size_t)st.st_size, why, whysz);
    if (r != 0) {
        munmap(p, (size_t)st.st_size);
        return r;
    }
    m->base = p;
    m->size = (size_t)st.st_size;
    ft_hist_map_set(m);
    return 0;
}

void ft_hist_unmap(ft_hist_map_t *m)
{
    if (m->base != NULL)
        munmap(m->base, m->size);
    if (m->fd >= 0)
        close(m->fd);
    m->base = NULL;
    m->fd = -1;
}

uint32_t ft_hist_block_crc(const uint64_t *blk, uint32_t used)
{
    uint32_t ncols = ft_hist_owner_ncols(blk[FT_HB_OWNER]);
    uLong c = crc32(0L, (const Bytef *)&blk[FT_HB_POS], (FT_HB_FIRST_GEN - FT_HB_POS + 1) * 8);
    uint32_t off = ft_hist_payload_off(ncols);
    c = crc32(c, (const Bytef *)blk + FT_HB_WORDS * 8, off - FT_HB_WORDS * 8);
    if (used <= FT_HIST_BLOCK - off)
        c = crc32(c, (const Bytef *)blk + off, used);
    return (uint32_t)c;
}

uint32_t ft_hist_file_version(const char *path)
{
    ft_hist_header_t h;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, &h, sizeof(h), 0);
    close(fd);
    return n == (ssize_t)sizeof(h) && atomic_load_explicit(&h.magic, memory_order_relaxed) == FT_HIST_MAGIC ? h.version : 0;
}
