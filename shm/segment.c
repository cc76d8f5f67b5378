#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "seqlock.h"

#define WHY(...) (why != NULL ? (void)snprintf(why, whysz, __VA_ARGS__) : (void)0)

int ft_shm_validate(const void *base, size_t size, char *why, size_t whysz)
{
    if (size < FT_SHM_HEADER_SIZE) {
        WHY("segment is %zu bytes, smaller than the %u-byte header (truncated or foreign)", size, FT_SHM_HEADER_SIZE);
        return -EPROTO;
    }
    const ft_shm_header_t *h = (const ft_shm_header_t *)base;
    /* Acquire: the immutable fields below were written before magic (segment.c:init_header). */
    uint64_t magic = atomic_load_explicit(&h->magic, memory_order_acquire);
    if (magic == 0) {
        WHY("segment is still being created (no magic yet)");
        return -EAGAIN;
    }
    if (magic != FT_SHM_MAGIC) {
        WHY("not a fabtel data segment (magic 0x%016llx)", (unsigned long long)magic);
        return -EPROTO;
    }
    if (h->layout_version != FT_SHM_LAYOUT_VERSION) {
        WHY("segment layout version %u, this build understands %u", h->layout_version, FT_SHM_LAYOUT_VERSION);
        return -EPROTO;
    }
    if (h->header_size != FT_SHM_HEADER_SIZE || h->epoch == 0) {
        WHY("corrupt header (header_size %u, epoch %llu)", h->header_size, (unsigned long long)h->epoch);
        return -EPROTO;
    }
    ft_shm_capacity_t cap = {h->max_switches, h->max_counters, h->nslots, h->text_bytes, h->body_bytes};
    ft_shm_layout_t l;
    if (ft_shm_layout_compute(&cap, &l) != 0) {
        WHY("capacity out of range (switches %u, counters %u, slots %u, text %llu, body %llu)", cap.max_switches,
            cap.max_counters, cap.nslots, (unsigned long long)cap.text_bytes, (unsigned long long)cap.body_bytes);
        return -EPROTO;
    }
    if (h->hash_size != l.hash_size || h->stats_off != l.stats_off || h->stats_size != l.stats_size || h->slot_off != l.slot_off ||
        h->slot_size != l.slot_size || h->total_size != l.total_size || h->sl_cols_off != l.sl_cols_off ||
        h->sl_rows_off != l.sl_rows_off || h->sl_hash_off != l.sl_hash_off || h->sl_vals_off != l.sl_vals_off ||
        h->sl_text_off != l.sl_text_off || h->sl_body_off != l.sl_body_off) {
        WHY("region table does not match the capacity it declares (corrupt header)");
        return -EPROTO;
    }
    if (h->total_size > size) {
        WHY("segment declares %llu bytes but only %zu are mapped (truncated)", (unsigned long long)h->total_size, size);
        return -EPROTO;
    }
    return 0;
}

static int map_fd(ft_shm_t *s, int fd, int writable)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->size = (size_t)st.st_size;
    s->writable = writable;
    if (s->size == 0) {
        s->base = NULL;
        return 0;
    }
    void *p = mmap(NULL, s->size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    s->base = p;
    s->hdr = (ft_shm_header_t *)p;
    return 0;
}

void ft_shm_close(ft_shm_t *s)
{
    if (s->base != NULL)
        munmap(s->base, s->size);
    s->base = NULL;
    s->hdr = NULL;
    s->size = 0;
}

int ft_shm_open_reader(ft_shm_t *s, const char *name, char *why, size_t whysz)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        WHY("cannot open segment %s: %s", name, strerror(e));
        return -e;
    }
    int r = map_fd(s, fd, 0);
    close(fd);
    if (r != 0) {
        WHY("cannot map segment %s: %s", name, strerror(-r));
        return r;
    }
    if (s->size == 0) {
        WHY("segment %s is empty (still being created, or truncated)", name);
        return -EAGAIN;
    }
    if ((r = ft_shm_validate(s->base, s->size, why, whysz)) != 0) {
        ft_shm_close(s);
        return r;
    }
    return 0;
}

int ft_shm_changed(const ft_shm_t *s)
{
    int fd = shm_open(s->name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return 1;
    struct stat st;
    int changed = fstat(fd, &st) != 0 || st.st_dev != s->dev || st.st_ino != s->ino;
    close(fd);
    return changed;
}

static void lock_name(char *out, size_t outsz, const char *name)
{
    snprintf(out, outsz, "%s.lock", name);
}

int ft_shm_lock_writer(const char *name, char *why, size_t whysz)
{
    char ln[300];
    lock_name(ln, sizeof(ln), name);
    int fd = shm_open(ln, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        WHY("cannot open writer lock %s: %s", ln, strerror(e));
        return -e;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) {
            WHY("another ingestd already writes segment %s (lock %s is held)", name, ln);
            return -EBUSY;
        }
        WHY("cannot lock %s: %s", ln, strerror(e));
        return -e;
    }
    return fd;
}

static int capacity_equal(const ft_shm_header_t *h, const ft_shm_capacity_t *cap)
{
    return h->max_switches == cap->max_switches && h->max_counters == cap->max_counters && h->nslots == cap->nslots &&
           h->text_bytes == cap->text_bytes && h->body_bytes == cap->body_bytes;
}

static uint64_t new_epoch(void)
{
    uint64_t e = 0;
    if (getrandom(&e, sizeof(e), 0) != (ssize_t)sizeof(e) || e == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        e = ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40);
    }
    return e ? e : 1;
}

static void init_header(ft_shm_header_t *h, const ft_shm_capacity_t *cap, const ft_shm_layout_t *l)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h->layout_version = FT_SHM_LAYOUT_VERSION;
    h->header_size = FT_SHM_HEADER_SIZE;
    h->epoch = new_epoch();
    h->total_size = l->total_size;
    h->created_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    h->max_switches = cap->max_switches;
    h->max_counters = cap->max_counters;
    h->nslots = cap->nslots;
    h->hash_size = l->hash_size;
    h->text_bytes = cap->text_bytes;
    h->body_bytes = cap->body_bytes;
    h->stats_off = l->stats_off;
    h->stats_size = l->stats_size;
    h->slot_off = l->slot_off;
    h->slot_size = l->slot_size;
    h->sl_cols_off = l->sl_cols_off;
    h->sl_rows_off = l->sl_rows_off;
    h->sl_hash_off = l->sl_hash_off;
    h->sl_vals_off = l->sl_vals_off;
    h->sl_text_off = l->sl_text_off;
    h->sl_body_off = l->sl_body_off;
    /* Release: a reader that acquires the magic sees every field above (ft_shm_validate). */
    atomic_store_explicit(&h->magic, FT_SHM_MAGIC, memory_order_release);
}

static int create_segment(ft_shm_t *s, const char *name, const ft_shm_capacity_t *cap, char *why, size_t whysz)
{
    ft_shm_layout_t l;
    if (ft_shm_layout_compute(cap, &l) != 0) {
        WHY("capacity out of range");
        return -EINVAL;
    }
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        int e = errno;
        WHY("cannot create segment %s: %s", name, strerror(e));
        return -e;
    }
    int r = 0;
    /* The umask may have narrowed the mode; readers in the group need 0640 exactly. */
    if (fchmod(fd, 0640) != 0 || ftruncate(fd, (off_t)l.total_size) != 0) {
        r = -errno;
        WHY("cannot size segment %s to %llu bytes: %s", name, (unsigned long long)l.total_size, strerror(-r));
    } else if ((r = map_fd(s, fd, 1)) != 0) {
        WHY("cannot map segment %s: %s", name, strerror(-r));
    }
    close(fd);
    if (r != 0) {
        shm_unlink(name);
        return r;
    }
    init_header(s->hdr, cap, &l);
    return 0;
}

int ft_shm_writer_open(ft_shm_t *s, const char *name, const ft_shm_capacity_t *cap, int *created, char *why, size_t whysz)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    *created = 1;
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (fd >= 0) {
        int r = map_fd(s, fd, 1);
        close(fd);
        if (r != 0) {
            WHY("cannot map existing segment %s: %s", name, strerror(-r));
            return r;
        }
        char vwhy[200] = "empty segment";
        if (s->size > 0 && (r = ft_shm_validate(s->base, s->size, vwhy, sizeof(vwhy))) == 0) {
            if (capacity_equal(s->hdr, cap)) {
                *created = 0;
                return 0;
            }
            snprintf(vwhy, sizeof(vwhy), "capacity differs (switches %u counters %u slots %u)", s->hdr->max_switches,
                     s->hdr->max_counters, s->hdr->nslots);
        }
        WHY("existing segment %s not reusable: %s; re-created with a new epoch", name, vwhy);
        ft_shm_close(s);
        shm_unlink(name);
        *created = 2;
    } else if (errno != ENOENT) {
        int e = errno;
        WHY("cannot open segment %s: %s", name, strerror(e));
        return -e;
    }
    char cwhy[200] = "";
    int r = create_segment(s, name, cap, cwhy, sizeof(cwhy));
    if (r != 0)
        WHY("%s", cwhy);
    return r;
}

void ft_shm_unlink_all(const char *name)
{
    char ln[300];
    lock_name(ln, sizeof(ln), name);
    shm_unlink(name);
    shm_unlink(ln);
}

/* The 32-bit half of the generation word that holds its low bits (the futex word). */
static uint32_t *gen_futex_word(const ft_shm_t *s)
{
    char *w = (char *)&s->hdr->gen;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w += 4;
#endif
    return (uint32_t *)w;
}

int ft_shm_wait_generation(const ft_shm_t *s, uint64_t seen, int timeout_ms)
{
    if (ft_shm_generation(s) != seen)
        return 0;
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    /* Shared (not FUTEX_PRIVATE_FLAG): the writer is another process mapping the same object. */
    long r = syscall(SYS_futex, gen_futex_word(s), FUTEX_WAIT, (uint32_t)seen, &ts, NULL, 0);
    if (ft_shm_generation(s) != seen)
        return 0;
    if (r != 0 && errno == EINTR)
        return -EINTR;
    return -ETIMEDOUT;
}

void ft_shm_wake_readers(ft_shm_t *s)
{
    syscall(SYS_futex, gen_futex_word(s), FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void ft_shm_history_announce(ft_shm_t *s, const char *path, uint64_t epoch)
{
    ft_shm_header_t *h = s->hdr;
    char words[FT_SHM_HIST_PATH_WORDS * 8] = {0};
    if (path != NULL)
        snprintf(words, sizeof(words), "%s", path);
    atomic_store_explicit(&h->history_epoch, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    ft_seq_store_words(h->history_path, words, FT_SHM_HIST_PATH_WORDS);
    atomic_store_explicit(&h->history_epoch, path != NULL ? epoch : 0, memory_order_release);
}

void ft_shm_source_announce(ft_shm_t *s, const char *url, uint32_t shard, uint32_t shards)
{
    ft_shm_header_t *h = s->hdr;
    char words[FT_SHM_SOURCE_WORDS * 8] = {0};
    snprintf(words, sizeof(words), "%s", url != NULL ? url : "");
    uint64_t seq = atomic_load_explicit(&h->source_seq, memory_order_relaxed);
    atomic_store_explicit(&h->source_seq, seq | 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&h->source_shard, shards > 1 ? (uint64_t)shard << 32 | shards : 0, memory_order_relaxed);
    ft_seq_store_words(h->source_url, words, FT_SHM_SOURCE_WORDS);
    atomic_store_explicit(&h->source_seq, (seq | 1) + 1, memory_order_release);
}

int ft_shm_source(const ft_shm_t *s, char *out, size_t outsz, uint32_t *shard, uint32_t *shards)
{
    const ft_shm_header_t *h = s->hdr;
    char words[FT_SHM_SOURCE_WORDS * 8 + 1];
    for (int tries = 0; tries < 16; tries++) {
        uint64_t seq = atomic_load_explicit(&h->source_seq, memory_order_acquire);
        if (seq == 0)
            return -ENOENT;
        if (seq & 1)
            continue;
        uint64_t sh = atomic_load_explicit(&h->source_shard, memory_order_relaxed);
        ft_seq_load_words(words, h->source_url, FT_SHM_SOURCE_WORDS);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&h->source_seq, memory_order_relaxed) != seq)
            continue;
        words[FT_SHM_SOURCE_WORDS * 8] = 0;
        snprintf(out, outsz, "%s", words);
        *shard = (uint32_t)(sh >> 32);
        *shards = (uint32_t)sh;
        return 0;
    }
    return -EAGAIN;
}

uint64_t ft_shm_history_path(const ft_shm_t *s, char *out, size_t outsz)
{
    const ft_shm_header_t *h = s->hdr;
    char words[FT_SHM_HIST_PATH_WORDS * 8 + 1];
    for (int tries = 0; tries < 16; tries++) {
        uint64_t e = atomic_load_explicit(&h->history_epoch, memory_order_acquire);
        if (e == 0)
            break;
        ft_seq_load_words(words, h->history_path, FT_SHM_HIST_PATH_WORDS);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&h->history_epoch, memory_order_relaxed) != e)
            continue;
        words[FT_SHM_HIST_PATH_WORDS * 8] = 0;
        snprintf(out, outsz, "%s", words);
        return e;
    }
    if (outsz > 0)
        out[0] = 0;
    return 0;
}
