#include "apistats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WHY(...) (why != NULL ? (void)snprintf(why, whysz, __VA_ARGS__) : (void)0)

static void seg_name(ft_api_seg_t *s, const char *data_name)
{
    snprintf(s->name, sizeof(s->name), "%s-api", data_name);
}

/* Worker slots are page-aligned, so two workers never share a cache line or a page. */
static size_t worker_size(void)
{
    return (sizeof(ft_api_worker_stats_t) + 4095) / 4096 * 4096;
}

int ft_api_seg_create(ft_api_seg_t *s, const char *data_name, unsigned nworkers, char *why, size_t whysz)
{
    memset(s, 0, sizeof(*s));
    seg_name(s, data_name);
    if (nworkers == 0 || nworkers > FT_API_MAX_WORKERS) {
        WHY("%u workers: must be 1 to %u", nworkers, FT_API_MAX_WORKERS);
        return -EINVAL;
    }
    s->size = sizeof(ft_api_stats_header_t) + nworkers * worker_size();
    shm_unlink(s->name); /* a previous master's figures are not ours */
    int fd = shm_open(s->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0 || fchmod(fd, 0640) != 0 || ftruncate(fd, (off_t)s->size) != 0) {
        int err = errno;
        WHY("cannot create %s: %s", s->name, strerror(err));
        if (fd >= 0)
            close(fd);
        return -err;
    }
    void *p = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) {
        WHY("cannot map %s: %s", s->name, strerror(err));
        return -err;
    }
    ft_api_stats_header_t *h = s->hdr = p;
    h->layout_version = FT_SHM_LAYOUT_VERSION;
    h->header_size = sizeof(ft_api_stats_header_t);
    h->total_size = s->size;
    h->nworkers_max = nworkers;
    h->worker_off = sizeof(ft_api_stats_header_t);
    h->worker_size = worker_size();
    atomic_store_explicit(&h->master_pid, (uint64_t)getpid(), memory_order_relaxed);
    atomic_store_explicit(&h->workers_configured, nworkers, memory_order_relaxed);
    /* Release: a reader that sees the magic sees every field above. */
    atomic_store_explicit(&h->magic, FT_SHM_API_MAGIC, memory_order_release);
    return 0;
}

static int validate(const ft_api_stats_header_t *h, size_t size, const char *name, char *why, size_t whysz)
{
    if (atomic_load_explicit(&h->magic, memory_order_acquire) != FT_SHM_API_MAGIC) {
        WHY("%s is not a fabtel API stats segment", name);
        return -EPROTO;
    }
    if (h->layout_version != FT_SHM_LAYOUT_VERSION || h->header_size != sizeof(*h)) {
        WHY("%s has layout version %u, this build understands %u", name, h->layout_version, FT_SHM_LAYOUT_VERSION);
        return -EPROTO;
    }
    if (h->worker_off < sizeof(*h) || h->worker_size < sizeof(ft_api_worker_stats_t) || h->nworkers_max > FT_API_MAX_WORKERS ||
        h->worker_off + h->nworkers_max * h->worker_size > size || h->total_size > size) {
        WHY("%s has a corrupt region table", name);
        return -EPROTO;
    }
    return 0;
}

int ft_api_seg_open(ft_api_seg_t *s, const char *data_name, char *why, size_t whysz)
{
    memset(s, 0, sizeof(*s));
    seg_name(s, data_name);
    int fd = shm_open(s->name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        int err = errno;
        WHY("cannot open %s: %s", s->name, strerror(err));
        return -err;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(ft_api_stats_header_t)) {
        close(fd);
        WHY("%s is smaller than its header (truncated or foreign)", s->name);
        return -EPROTO;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) {
        WHY("cannot map %s: %s", s->name, strerror(err));
        return -err;
    }
    int r = validate(p, (size_t)st.st_size, s->name, why, whysz);
    if (r != 0) {
        munmap(p, (size_t)st.st_size);
        return r;
    }
    s->hdr = p;
    s->size = (size_t)st.st_size;
    return 0;
}

void ft_api_seg_close(ft_api_seg_t *s, int remove)
{
    if (s->hdr != NULL)
        munmap(s->hdr, s->size);
    if (remove)
        shm_unlink(s->name);
    s->hdr = NULL;
}

void ft_api_seg_summary(const ft_api_stats_header_t *h, uint64_t now_ns, ft_api_summary_t *out)
{
    ft_api_summary_init(out);
    uint64_t n = atomic_load_explicit(&h->workers_configured, memory_order_relaxed);
    for (uint64_t i = 0; i < n && i < h->nworkers_max; i++)
        ft_api_stats_merge(ft_api_seg_worker(h, (unsigned)i), now_ns, out);
    if (out->requests == 0)
        out->lat_min_us = 0;
}
