/*
 * tests for render/: every answer built from a snapshot view, against a
 * snapshot published through shm's writer side (tests/fixture_shm.h), byte
 * for byte; and the body sub-layout written by shm/writer.c as the readers'
 * ft_snap_body() finds it.
 */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "fixture_shm.h"
#include "render.h"
#include "snapshot.h"

static const char *render(ft_buf_t *b)
{
    ft_buf_append(b, "", 1);
    b->len--;
    return b->data;
}

static void test_metric(const ft_snap_t *v)
{
    ft_buf_t b;
    ft_buf_init(&b);
    CHECK(ft_render_metric(&b, v, 0, 1) == 0, "render");
    CHECK_EQ_STR(render(&b), "{\"switch_id\":\"sw-1\",\"metric\":\"temperature\",\"value\":41.5,"
                             "\"timestamp\":\"2027-01-15T07:59:59.000001Z\",\"collected_at\":\"2027-01-15T08:00:00.123456Z\","
                             "\"generation\":1}");
    b.len = 0;
    ft_render_metric(&b, v, 0, 2); /* 2^53 + 1: exact, not rounded through a double */
    CHECK(strstr(render(&b), "\"value\":9007199254740993,") != NULL, "64-bit integers exact: %s", b.data);
    b.len = 0;
    ft_render_metric(&b, v, 1, 3); /* a stale row, an absent text cell */
    CHECK_EQ_STR(render(&b), "{\"switch_id\":\"sw-2\",\"metric\":\"note\",\"value\":null,"
                             "\"timestamp\":\"2027-01-15T07:59:59.000002Z\",\"collected_at\":\"2027-01-15T08:00:00.123456Z\","
                             "\"generation\":1,\"stale\":true}");
    ft_buf_destroy(&b);
}

static const char *SW1 = "{\"switch_id\":\"sw-1\",\"timestamp\":\"2027-01-15T07:59:59.000001Z\",\"temperature\":41.5,"
                         "\"port_xmit_data\":9007199254740993,\"note\":\"say \\\"hi\\\"\\n\u00e9\"}";
static const char *SW2 = "{\"switch_id\":\"sw-2\",\"timestamp\":\"2027-01-15T07:59:59.000002Z\",\"temperature\":-3.25,"
                         "\"port_xmit_data\":7,\"note\":null,\"stale\":true}";

static void test_list(const ft_snap_t *v)
{
    ft_buf_t b, want;
    ft_buf_init(&b);
    ft_buf_init(&want);
    ft_render_filter_t all = {.limit = UINT64_MAX};
    CHECK(ft_render_list(&b, v, &all) == 0, "render");
    /* Live rows only (sw-old is absent), present columns only ("gone" is not), stale marked. */
    ft_buf_puts(&want, "{\"generation\":1,\"collected_at\":\"2027-01-15T08:00:00.123456Z\",\"metrics\":[");
    ft_buf_puts(&want, SW1);
    ft_buf_puts(&want, ",");
    ft_buf_puts(&want, SW2);
    ft_buf_puts(&want, "]}");
    CHECK_EQ_STR(render(&b), render(&want));

    /* A filter keeps its own order of columns and rows; a page says its total and offset. */
    uint32_t cols[] = {2, 1}, rows[] = {1, 0, 2};
    ft_render_filter_t f = {.cols = cols, .ncols = 2, .rows = rows, .nrows = 3, .offset = 1, .limit = 5};
    b.len = 0;
    ft_render_list(&b, v, &f);
    CHECK_EQ_STR(render(&b), "{\"generation\":1,\"collected_at\":\"2027-01-15T08:00:00.123456Z\",\"metrics\":["
                             "{\"switch_id\":\"sw-1\",\"port_xmit_data\":9007199254740993,\"temperature\":41.5}],"
                             "\"total\":2,\"offset\":1}");
    /* A column that is not present in this generation is never shown, even when asked for by index. */
    uint32_t gone[] = {4};
    ft_render_filter_t g = {.cols = gone, .ncols = 1, .limit = UINT64_MAX};
    b.len = 0;
    ft_render_list(&b, v, &g);
    CHECK(strstr(render(&b), "gone") == NULL, "absent column left out: %s", b.data);
    ft_buf_destroy(&b);
    ft_buf_destroy(&want);
}

static void test_counters_and_cells(const ft_snap_t *v)
{
    ft_buf_t b;
    ft_buf_init(&b);
    CHECK(ft_render_counters(&b, v) == 0, "render");
    CHECK_EQ_STR(render(&b), "{\"generation\":1,\"counters\":[{\"name\":\"timestamp\",\"type\":\"text\"},"
                             "{\"name\":\"temperature\",\"type\":\"float\",\"kind\":\"gauge\",\"scale\":1},"
                             "{\"name\":\"port_xmit_data\",\"type\":\"int\",\"kind\":\"counter\",\"scale\":4},"
                             "{\"name\":\"note\",\"type\":\"text\"}]}");
    b.len = 0;
    ft_render_cell(&b, v, FT_COL_INT, FT_CELL_NULL_INT);
    ft_render_cell(&b, v, FT_COL_FLOAT, FT_CELL_NULL_FLOAT);
    ft_render_cell(&b, v, FT_COL_TEXT, ft_text_ref(4000, 10)); /* a ref outside the pool: null, never a read outside */
    CHECK_EQ_STR(render(&b), "nullnullnull");
    ft_buf_destroy(&b);
}

/* The pre-rendered body: written by shm/writer.c, found by ft_snap_body(), refused when it does not fit. */
static void test_body_layout(void)
{
    fx_t f;
    fx_open(&f);
    fx_publish(&f, "{\"whole\":1}");
    ft_snap_t v;
    CHECK(ft_snap_begin(&v, &f.shm) == 0, "begin");
    uint64_t off = 99, len = 99;
    CHECK(ft_snap_body(&v, 0, &off, &len) == 0 && off == 0 && len == 11, "json body at 0, 11 bytes: %d %d", (int)off, (int)len);
    CHECK(ft_snap_body(&v, 1, &off, &len) == -ENOENT, "no gzip form was written");
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    fx_publish(&f, big); /* over the 4096-byte body region */
    ft_snap_begin(&v, &f.shm);
    CHECK(v.gen == 2 && ft_snap_body(&v, 0, &off, &len) == -ENOENT, "a body over the region is left out (readers render it)");
    fx_close(&f);
}

int main(void)
{
    fx_t f;
    fx_open(&f);
    fx_publish(&f, NULL);
    ft_snap_t v;
    CHECK(ft_snap_begin(&v, &f.shm) == 0 && v.gen == 1, "published generation 1");
    test_metric(&v);
    test_list(&v);
    test_counters_and_cells(&v);
    CHECK(!ft_snap_retry(&v), "nothing was published while reading");
    fx_close(&f);
    test_body_layout();
    return check_report("test_render");
}
