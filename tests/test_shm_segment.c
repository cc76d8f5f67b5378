/* tests for shm/segment and shm/snapshot: every class of corrupt, foreign or truncated segment is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "segment.h"
#include "snapshot.h"

static const ft_shm_capacity_t small = {8, 4, 2, 256, 1024};

static char name[64];

/* A private copy of a freshly created segment's bytes, to corrupt. */
static unsigned char *copy_of_valid(size_t *size)
{
    ft_shm_t s;
    int created;
    char why[256];
    ft_shm_unlink_all(name);
    int r = ft_shm_writer_open(&s, name, &small, &created, why, sizeof(why));
    CHECK(r == 0, "create failed: %s", why);
    *size = s.size;
    unsigned char *copy = aligned_alloc(4096, (s.size + 4095) / 4096 * 4096);
    memcpy(copy, s.base, s.size);
    ft_shm_close(&s);
    return copy;
}

static void check_refused(const char *what, void (*corrupt)(ft_shm_header_t *), int want)
{
    size_t size;
    unsigned char *buf = copy_of_valid(&size);
    char why[256] = "";
    CHECK(ft_shm_validate(buf, size, why, sizeof(why)) == 0, "pristine copy refused: %s", why);
    corrupt((ft_shm_header_t *)buf);
    int r = ft_shm_validate(buf, size, why, sizeof(why));
    CHECK(r == want, "%s: expected %d, got %d (%s)", what, want, r, why);
    CHECK(strlen(why) > 10, "%s: expected a reason, got \"%s\"", what, why);
    free(buf);
}

static void c_magic(ft_shm_header_t *h) { atomic_store(&h->magic, 0x1234); }
static void c_magic0(ft_shm_header_t *h) { atomic_store(&h->magic, 0); }
static void c_version(ft_shm_header_t *h) { h->layout_version = FT_SHM_LAYOUT_VERSION + 1; }
static void c_hsize(ft_shm_header_t *h) { h->header_size = 128; }
static void c_epoch(ft_shm_header_t *h) { h->epoch = 0; }
static void c_switches0(ft_shm_header_t *h) { h->max_switches = 0; }
static void c_switches_big(ft_shm_header_t *h) { h->max_switches = 1u << 30; }
static void c_counters_big(ft_shm_header_t *h) { h->max_counters = 5000; }
static void c_slots1(ft_shm_header_t *h) { h->nslots = 1; }
static void c_slots_big(ft_shm_header_t *h) { h->nslots = 100; }
static void c_more_switches(ft_shm_header_t *h) { h->max_switches = 4096; } /* valid range, but the table no longer matches */
static void c_hash(ft_shm_header_t *h) { h->hash_size = 1u << 20; }
static void c_slot_off(ft_shm_header_t *h) { h->slot_off += 8; }
static void c_slot_size(ft_shm_header_t *h) { h->slot_size = 1ULL << 40; }
static void c_stats_off(ft_shm_header_t *h) { h->stats_off = 1ULL << 50; }
static void c_vals_off(ft_shm_header_t *h) { h->sl_vals_off += 4096; }
static void c_text_off(ft_shm_header_t *h) { h->sl_text_off = 0; }
static void c_body_off(ft_shm_header_t *h) { h->sl_body_off = UINT64_MAX - 7; }
static void c_total(ft_shm_header_t *h) { h->total_size *= 2; }

static void test_validate_classes(void)
{
    check_refused("bad magic", c_magic, -EPROTO);
    check_refused("no magic yet", c_magic0, -EAGAIN);
    check_refused("layout version", c_version, -EPROTO);
    check_refused("header size", c_hsize, -EPROTO);
    check_refused("zero epoch", c_epoch, -EPROTO);
    check_refused("zero switches", c_switches0, -EPROTO);
    check_refused("too many switches", c_switches_big, -EPROTO);
    check_refused("too many counters", c_counters_big, -EPROTO);
    check_refused("one slot", c_slots1, -EPROTO);
    check_refused("too many slots", c_slots_big, -EPROTO);
    check_refused("capacity/table mismatch", c_more_switches, -EPROTO);
    check_refused("hash size", c_hash, -EPROTO);
    check_refused("slot offset", c_slot_off, -EPROTO);
    check_refused("slot size", c_slot_size, -EPROTO);
    check_refused("stats offset", c_stats_off, -EPROTO);
    check_refused("values offset", c_vals_off, -EPROTO);
    check_refused("text offset", c_text_off, -EPROTO);
    check_refused("body offset", c_body_off, -EPROTO);
    check_refused("total size", c_total, -EPROTO);

    size_t size;
    unsigned char *buf = copy_of_valid(&size);
    char why[256];
    CHECK(ft_shm_validate(buf, 100, why, sizeof(why)) == -EPROTO, "a 100-byte mapping must be refused");
    CHECK(ft_shm_validate(buf, size - 4096, why, sizeof(why)) == -EPROTO, "a mapping shorter than total_size must be refused");
    free(buf);
}

static void write_file(const char *n, const void *p, size_t len)
{
    shm_unlink(n);
    int fd = shm_open(n, O_RDWR | O_CREAT, 0600);
    CHECK(fd >= 0, "cannot create %s", n);
    CHECK(write(fd, p, len) == (ssize_t)len, "short write");
    close(fd);
}

static void test_open_reader(void)
{
    ft_shm_t s;
    char why[256];
    ft_shm_unlink_all(name);
    CHECK(ft_shm_open_reader(&s, name, why, sizeof(why)) == -ENOENT, "missing segment: expected -ENOENT (%s)", why);

    char junk[8192];
    memset(junk, 'x', sizeof(junk));
    write_file(name, junk, sizeof(junk));
    CHECK(ft_shm_open_reader(&s, name, why, sizeof(why)) == -EPROTO, "foreign file: expected -EPROTO (%s)", why);
    write_file(name, junk, 10);
    CHECK(ft_shm_open_reader(&s, name, why, sizeof(why)) == -EPROTO, "10-byte file: expected -EPROTO (%s)", why);
    write_file(name, junk, 0);
    CHECK(ft_shm_open_reader(&s, name, why, sizeof(why)) == -EAGAIN, "empty file: expected -EAGAIN (%s)", why);

    /* A valid segment, then truncated under its name. */
    size_t size;
    unsigned char *buf = copy_of_valid(&size);
    write_file(name, buf, size / 2);
    CHECK(ft_shm_open_reader(&s, name, why, sizeof(why)) == -EPROTO, "truncated segment: expected -EPROTO (%s)", why);
    CHECK(strstr(why, "truncated") != NULL, "expected the reason to say truncated, got \"%s\"", why);
    write_file(name, buf, size);
    CHECK(ft_shm_open_reader(&s, name, why, sizeof(why)) == 0, "valid segment refused: %s", why);
    CHECK(!s.writable, "a reader mapping must be read-only");
    CHECK(ft_shm_changed(&s) == 0, "unchanged segment reported changed");
    write_file(name, buf, size); /* re-created under the same name: a new object */
    CHECK(ft_shm_changed(&s) == 1, "re-created segment not noticed");
    ft_shm_close(&s);
    free(buf);
}

static void test_writer(void)
{
    char why[256];
    ft_shm_unlink_all(name);
    int fd = ft_shm_lock_writer(name, why, sizeof(why));
    CHECK(fd >= 0, "first lock failed: %s", why);
    int fd2 = ft_shm_lock_writer(name, why, sizeof(why));
    CHECK(fd2 == -EBUSY, "second writer lock: expected -EBUSY, got %d", fd2);
    CHECK(strstr(why, "another ingestd") != NULL, "expected a clear reason, got \"%s\"", why);

    ft_shm_t s;
    int created;
    CHECK(ft_shm_writer_open(&s, name, &small, &created, why, sizeof(why)) == 0 && created == 1, "create: created=%d", created);
    uint64_t epoch = s.hdr->epoch;
    atomic_store(&s.hdr->gen, 41);
    ft_shm_close(&s);
    CHECK(ft_shm_writer_open(&s, name, &small, &created, why, sizeof(why)) == 0 && created == 0, "reattach: created=%d", created);
    CHECK_EQ_U64(s.hdr->epoch, epoch);
    CHECK_EQ_U64(atomic_load(&s.hdr->gen), 41);
    ft_shm_close(&s);
    ft_shm_capacity_t bigger = small;
    bigger.max_switches = 16;
    CHECK(ft_shm_writer_open(&s, name, &bigger, &created, why, sizeof(why)) == 0 && created == 2, "recreate: created=%d", created);
    CHECK(s.hdr->epoch != epoch, "a re-created segment must have a new epoch");
    CHECK_EQ_U64(atomic_load(&s.hdr->gen), 0);
    CHECK(strstr(why, "capacity differs") != NULL, "expected the reason, got \"%s\"", why);
    ft_shm_close(&s);
    close(fd);
    fd = ft_shm_lock_writer(name, why, sizeof(why));
    CHECK(fd >= 0, "lock not released by close: %s", why);
    close(fd);
}

/* A torn or corrupt slot cannot make a reader leave the mapping. */
static void test_snapshot_bounds(void)
{
    ft_shm_t s;
    int created;
    char why[256];
    ft_shm_unlink_all(name);
    CHECK(ft_shm_writer_open(&s, name, &small, &created, why, sizeof(why)) == 0, "create: %s", why);
    _Atomic uint64_t *slot = ft_shm_slot(&s, 1);
    atomic_store(&slot[FT_SLOT_NROWS], UINT64_MAX);
    atomic_store(&slot[FT_SLOT_NCOLS], 1ULL << 40);
    _Atomic uint64_t *hash = (_Atomic uint64_t *)((char *)slot + s.hdr->sl_hash_off);
    for (uint32_t i = 0; i < s.hdr->hash_size; i++)
        atomic_store(&hash[i], 1000000 + i); /* every entry used, every entry out of range */
    atomic_store(&s.hdr->gen, 1);
    ft_snap_t v;
    CHECK(ft_snap_begin(&v, &s) == 0, "begin");
    CHECK_EQ_U64(v.nrows, small.max_switches);
    CHECK_EQ_U64(v.ncols, small.max_counters);
    CHECK(ft_snap_find_row(&v, "sw-01", 5) == -1, "lookup in a full corrupt index must end and miss");
    char out[300];
    CHECK(ft_snap_text(&v, ft_text_ref(250, 100), out, sizeof(out)) == -1, "text ref past the pool must be refused");
    CHECK(ft_snap_text(&v, ft_text_ref(UINT32_MAX, 4), out, sizeof(out)) == -1, "text offset past the pool must be refused");
    CHECK(ft_snap_text(&v, ft_text_ref(0, 8), out, sizeof(out)) == 8, "text ref inside the pool must read");
    ft_shm_close(&s);
}

int main(void)
{
    snprintf(name, sizeof(name), "/fabtel-test-seg-%d", (int)getpid());
    test_validate_classes();
    test_open_reader();
    test_writer();
    test_snapshot_bounds();
    ft_shm_unlink_all(name);
    return check_report("test_shm_segment");
}
