/*
 * tests for ingestd/batch + ingestd/model: every row of the outcome table,
 * checked through the published segment as a reader sees it.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "batch.h"
#include "check.h"
#include "histread.h"
#include "model.h"
#include "render.h"
#include "snapshot.h"
#include "ufm.h"

static const char *H = "switch_id,timestamp,latency,port_xmit_data,status\n";

typedef struct env {
    char name[64];
    ft_shm_t shm;
    ingest_model_t m;
    ingest_batch_t b;
    ingest_result_t res;
    uint64_t now;
} env_t;

static void env_init(env_t *e, ft_shm_capacity_t cap, uint64_t forget_ns)
{
    static int n;
    snprintf(e->name, sizeof(e->name), "/fabtel-test-model-%d-%d", (int)getpid(), n++);
    ft_shm_unlink_all(e->name);
    int created;
    char why[256];
    CHECK(ft_shm_writer_open(&e->shm, e->name, &cap, &created, why, sizeof(why)) == 0, "segment: %s", why);
    CHECK(ingest_model_init(&e->m, &cap, forget_ns) == 0, "model init");
    CHECK(ingest_batch_init(&e->b, 1 << 20) == 0, "batch init");
    e->now = 1800000000ULL * 1000000000ULL;
}

static void env_destroy(env_t *e)
{
    ingest_model_destroy(&e->m);
    ingest_batch_destroy(&e->b);
    ft_shm_close(&e->shm);
    ft_shm_unlink_all(e->name);
}

static const ft_shm_capacity_t cap_default = {64, 16, 4, 4096, 65536};

/* Parse, apply and (when accepted) publish; returns 0 when a generation was published. */
static int ingest(env_t *e, const char *csv)
{
    e->now += 1000000000ULL;
    int r = ingest_batch_parse(&e->b, csv, strlen(csv));
    if (r != 0) {
        snprintf(e->res.why, sizeof(e->res.why), "batch error %d", r);
        return r;
    }
    r = ingest_model_apply(&e->m, &e->b, e->now, &e->res);
    if (r == 0)
        ingest_model_publish(&e->m, &e->shm, e->now);
    return r;
}

static uint64_t gen(env_t *e)
{
    return ft_shm_generation(&e->shm);
}

/* The rendered JSON of one switch as a reader would get it (empty metrics list when absent). */
static char *row_json(env_t *e, const char *sw)
{
    static char out[4096];
    ft_snap_t v;
    ft_buf_t b;
    ft_buf_init(&b);
    ft_snap_begin(&v, &e->shm);
    int64_t r = ft_snap_find_row(&v, sw, strlen(sw));
    uint32_t row = r < 0 ? UINT32_MAX : (uint32_t)r;
    ft_render_filter_t f = {.rows = &row, .nrows = 1, .limit = UINT64_MAX};
    ft_render_list(&b, &v, &f);
    const char *m = strstr(b.data, "\"metrics\":");
    snprintf(out, sizeof(out), "%.*s", (int)(b.len - (size_t)(m - b.data)), m);
    ft_buf_destroy(&b);
    return out;
}

static int64_t row_of(env_t *e, const char *sw)
{
    ft_snap_t v;
    ft_snap_begin(&v, &e->shm);
    return ft_snap_find_row(&v, sw, strlen(sw));
}

static void test_all_good(void)
{
    env_t e;
    env_init(&e, cap_default, 3600e9);
    char csv[1024];
    snprintf(csv, sizeof(csv), "%ssw-01,2026-01-01T00:00:00.000001Z,2.5,9007199254740993,UP\n"
                               "sw-02,2026-01-01T00:00:00.000002Z,3,9223372036854775807,DOWN\n", H);
    CHECK(ingest(&e, csv) == 0, "all good rows: rejected: %s", e.res.why);
    CHECK_EQ_U64(gen(&e), 1);
    CHECK_EQ_U64(e.res.rows_rejected, 0);
    CHECK_EQ_U64(e.res.nswitches, 2);
    CHECK_EQ_STR(row_json(&e, "sw-01"), "\"metrics\":[{\"switch_id\":\"sw-01\",\"timestamp\":\"2026-01-01T00:00:00.000001Z\","
                                        "\"latency\":2.5,\"port_xmit_data\":9007199254740993,\"status\":\"UP\"}]}");
    CHECK_EQ_STR(row_json(&e, "sw-02"), "\"metrics\":[{\"switch_id\":\"sw-02\",\"timestamp\":\"2026-01-01T00:00:00.000002Z\","
                                        "\"latency\":3,\"port_xmit_data\":9223372036854775807,\"status\":\"DOWN\"}]}");
    /* Types were fixed when first seen. */
    ft_snap_t v;
    ft_snap_begin(&v, &e.shm);
    CHECK_EQ_U64(ft_col_meta_type(ft_snap_col_meta(&v, 1)), FT_COL_FLOAT);
    CHECK_EQ_U64(ft_col_meta_type(ft_snap_col_meta(&v, 2)), FT_COL_INT);
    CHECK_EQ_U64(ft_col_meta_type(ft_snap_col_meta(&v, 3)), FT_COL_TEXT);
    /* The pre-rendered body equals what a reader renders itself. */
    ft_buf_t b;
    ft_buf_init(&b);
    ft_render_filter_t all = {.limit = UINT64_MAX};
    ft_render_list(&b, &v, &all);
    uint64_t blen = ft_snap_hdr(&v, FT_SLOT_BODY_LEN);
    char *body = calloc(1, blen + 1);
    ft_seq_load_bytes(body, v.body, 0, blen);
    CHECK(blen == b.len && memcmp(body, b.data, b.len) == 0, "pre-rendered body differs: %s vs %.*s", body, (int)b.len, b.data);
    free(body);
    ft_buf_destroy(&b);
    /* Same body again: a new generation with the same indices. */
    int64_t r1 = row_of(&e, "sw-01");
    CHECK(ingest(&e, csv) == 0, "again");
    CHECK_EQ_U64(gen(&e), 2);
    CHECK_EQ_U64(row_of(&e, "sw-01"), r1);
    env_destroy(&e);
}

static void test_some_rows_bad(void)
{
    env_t e;
    env_init(&e, cap_default, 3600e9);
    char csv[1024];
    snprintf(csv, sizeof(csv), "%ssw-01,t1,1.5,100,UP\nsw-02,t2,2.5,200,UP\nsw-03,t3,3.5,300,UP\n", H);
    CHECK(ingest(&e, csv) == 0, "first: %s", e.res.why);
    snprintf(csv, sizeof(csv), "%ssw-01,t1b,1.75,101,UP\n"
                               "sw-02,t2b,not-a-number,201,UP\n" /* unparsable cell */
                               "sw-03,t3b,3.75\n"                /* wrong field count */
                               "sw-04,t4,4.5,400,UP,extra\n",    /* new switch, bad: not added */
             H);
    CHECK(ingest(&e, csv) == 0, "partly bad body must still publish: %s", e.res.why);
    CHECK_EQ_U64(gen(&e), 2);
    CHECK_EQ_U64(e.res.rows_rejected, 3);
    CHECK_EQ_U64(e.res.stale_rows, 2);
    ft_snap_t sv;
    ft_snap_begin(&sv, &e.shm);
    CHECK_EQ_U64(ft_snap_hdr(&sv, FT_SLOT_ROWS_REJECTED), 3);
    CHECK_EQ_U64(ft_snap_hdr(&sv, FT_SLOT_STALE_ROWS), 2);
    CHECK(strstr(e.res.rejected_ids, "\"sw-02\"") && strstr(e.res.rejected_ids, "\"sw-04\""), "rejected ids: %s",
          e.res.rejected_ids);
    CHECK_EQ_STR(row_json(&e, "sw-01"),
                 "\"metrics\":[{\"switch_id\":\"sw-01\",\"timestamp\":\"t1b\",\"latency\":1.75,\"port_xmit_data\":101,\"status\":\"UP\"}]}");
    CHECK_EQ_STR(row_json(&e, "sw-02"), "\"metrics\":[{\"switch_id\":\"sw-02\",\"timestamp\":\"t2\",\"latency\":2.5,"
                                        "\"port_xmit_data\":200,\"status\":\"UP\",\"stale\":true}]}");
    CHECK_EQ_STR(row_json(&e, "sw-03"), "\"metrics\":[{\"switch_id\":\"sw-03\",\"timestamp\":\"t3\",\"latency\":3.5,"
                                        "\"port_xmit_data\":300,\"status\":\"UP\",\"stale\":true}]}");
    CHECK_EQ_STR(row_json(&e, "sw-04"), "\"metrics\":[]}");
    /* The stale mark goes when the row is good again. */
    snprintf(csv, sizeof(csv), "%ssw-01,t,1,1,UP\nsw-02,t,2,2,UP\nsw-03,t,3,3,UP\n", H);
    CHECK(ingest(&e, csv) == 0, "recovery: %s", e.res.why);
    CHECK(strstr(row_json(&e, "sw-02"), "stale") == NULL, "stale mark must clear: %s", row_json(&e, "sw-02"));
    env_destroy(&e);
}

/* Every rejected body leaves the published snapshot exactly as it was. */
static void expect_rejected(env_t *e, const char *what, const char *csv, int cause)
{
    uint64_t g = gen(e);
    char before[4096];
    snprintf(before, sizeof(before), "%s", row_json(e, "sw-01"));
    int r = ingest(e, csv);
    CHECK(r != 0, "%s: expected rejection, got a publish", what);
    if (cause >= 0)
        CHECK(e->res.cause == cause, "%s: expected cause %d, got %d (%s)", what, cause, e->res.cause, e->res.why);
    CHECK(e->res.why[0] != '\0', "%s: a rejection needs a reason", what);
    CHECK_EQ_U64(gen(e), g);
    CHECK_EQ_STR(row_json(e, "sw-01"), before);
}

static void test_rejected_bodies(void)
{
    env_t e;
    env_init(&e, cap_default, 3600e9);
    char csv[1024];
    snprintf(csv, sizeof(csv), "%ssw-01,t,1.5,100,UP\n", H);
    CHECK(ingest(&e, csv) == 0, "baseline: %s", e.res.why);
    expect_rejected(&e, "empty body", "", FT_FAIL_PARSE);
    expect_rejected(&e, "header only", H, FT_FAIL_PARSE);
    expect_rejected(&e, "one-column header", "switch_id\nsw-01\n", FT_FAIL_PARSE);
    expect_rejected(&e, "empty column name", "switch_id,,latency\nsw-01,1,2\n", FT_FAIL_PARSE);
    expect_rejected(&e, "duplicate column", "switch_id,latency,latency\nsw-01,1,2\n", FT_FAIL_PARSE);
    expect_rejected(&e, "control byte in a column name", "switch_id,lat\x01ncy\nsw-01,1\n", FT_FAIL_PARSE);
    expect_rejected(&e, "non-UTF-8 column name", "switch_id,lat\xff\nsw-01,1\n", FT_FAIL_PARSE);
    expect_rejected(&e, "body cut mid-row", "switch_id,timestamp,latency,port_xmit_data,status\nsw-01,t,1.5", FT_FAIL_TRUNCATED);
    /* Unterminated but complete last row is a whole row. */
    snprintf(csv, sizeof(csv), "%ssw-01,t,9.5,900,UP", H);
    CHECK(ingest(&e, csv) == 0, "unterminated complete last row must be accepted: %s", e.res.why);
    CHECK(strstr(row_json(&e, "sw-01"), "\"latency\":9.5") != NULL, "got %s", row_json(&e, "sw-01"));
    env_destroy(&e);
}

static void test_capacity(void)
{
    env_t e;
    ft_shm_capacity_t cap = {3, 3, 2, 64, 4096};
    env_init(&e, cap, 3600e9);
    CHECK(ingest(&e, "switch_id,a,b\ns1,1,2\ns2,3,4\n") == 0, "baseline: %s", e.res.why);
    expect_rejected(&e, "too many switches", "switch_id,a,b\ns1,1,2\ns2,3,4\ns3,5,6\ns4,7,8\n", FT_FAIL_CAPACITY);
    expect_rejected(&e, "too many counters", "switch_id,a,b,c,d\ns1,1,2,3,4\n", FT_FAIL_CAPACITY);
    CHECK(strstr(e.res.why, "--max-counters") != NULL, "the reason names the flag: %s", e.res.why);
    expect_rejected(&e, "text pool", "switch_id,a,b,t\ns1,1,2,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\ns2,1,2,bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n",
                    FT_FAIL_CAPACITY);
    /* Exactly at capacity is fine. */
    CHECK(ingest(&e, "switch_id,a,b\ns1,1,2\ns2,3,4\ns3,5,6\n") == 0, "at capacity: %s", e.res.why);
    env_destroy(&e);
}

static void test_csv_forms(void)
{
    env_t e;
    env_init(&e, cap_default, 3600e9);
    /* BOM, CRLF, quoted fields with commas, quotes and newlines, an empty line. */
    const char *csv = "\xef\xbb\xbfswitch_id,note,value\r\n"
                      "\"sw,01\",\"hello, \"\"world\"\"\nline two\",7\r\n"
                      "\r\n"
                      "sw-02,\"plain\",-8\r\n";
    CHECK(ingest(&e, csv) == 0, "quoted CSV: %s", e.res.why);
    CHECK_EQ_U64(e.res.nswitches, 2);
    CHECK_EQ_U64(e.res.rows_rejected, 0);
    CHECK_EQ_STR(row_json(&e, "sw,01"), "\"metrics\":[{\"switch_id\":\"sw,01\",\"note\":\"hello, \\\"world\\\"\\nline two\",\"value\":7}]}");
    CHECK(strstr(row_json(&e, "sw-02"), "\"value\":-8") != NULL, "negative integer: %s", row_json(&e, "sw-02"));
    env_destroy(&e);
}

static void test_hostile_cells(void)
{
    env_t e;
    env_init(&e, cap_default, 3600e9);
    CHECK(ingest(&e, "switch_id,i,f,t\nsw-01,1,1.5,ok\nsw-02,2,2.5,ok\nsw-03,3,3.5,ok\nsw-04,4,4.5,ok\nsw-05,5,5.5,ok\nsw-06,6,6.5,ok\n") == 0,
          "baseline: %s", e.res.why);
    const char *csv = "switch_id,i,f,t\n"
                      "sw-01,99999999999999999999,1,ok\n" /* integer overflow */
                      "sw-02,2,NaN,ok\n"                  /* NaN */
                      "sw-03,3,inf,ok\n"                  /* inf */
                      "sw-04,4,1e999,ok\n"                /* double overflow */
                      "sw-05,5,5,\xc3\x28\n"              /* invalid UTF-8 in text */
                      "sw-06,-9223372036854775808,6,ok\n" /* INT64_MIN is the null sentinel */
                      "sw-06,7,7,dup\n"                   /* duplicate id: second rejected */
                      "sw\x01" "07,1,1,ok\n"              /* control byte in an id */
                      ",1,1,ok\n";                        /* empty id */
    CHECK(ingest(&e, csv) == 0, "hostile cells: %s", e.res.why);
    CHECK_EQ_U64(e.res.rows_rejected, 9);
    CHECK_EQ_U64(e.res.stale_rows, 6);
    CHECK(strstr(row_json(&e, "sw-01"), "\"i\":1,") && strstr(row_json(&e, "sw-01"), "\"stale\":true"), "sw-01 kept: %s",
          row_json(&e, "sw-01"));
    CHECK(strstr(row_json(&e, "sw-06"), "\"i\":6,") != NULL, "duplicate must not win: %s", row_json(&e, "sw-06"));
    env_destroy(&e);
}

static uint32_t incarnation_of(env_t *e, const char *sw)
{
    ft_snap_t v;
    ft_snap_begin(&v, &e->shm);
    int64_t r = ft_snap_find_row(&v, sw, strlen(sw));
    return r < 0 ? 0 : ft_snap_row_incarnation(&v, (uint32_t)r);
}

static void test_absent_and_forget(void)
{
    env_t e;
    env_init(&e, (ft_shm_capacity_t){2, 4, 2, 256, 4096}, 5e9);
    CHECK(ingest(&e, "switch_id,a\ns1,1\ns2,2\n") == 0, "baseline: %s", e.res.why);
    int64_t r2 = row_of(&e, "s2");
    uint32_t inc2 = incarnation_of(&e, "s2");
    CHECK(inc2 >= 1 && incarnation_of(&e, "s1") >= 1, "a row in use has an incarnation (s2: %u)", inc2);
    CHECK(ingest(&e, "switch_id,a\ns1,1\n") == 0, "s2 absent: %s", e.res.why);
    CHECK_EQ_STR(row_json(&e, "s2"), "\"metrics\":[]}");
    CHECK(ingest(&e, "switch_id,a\ns1,1\ns3,3\n") != 0, "s3 cannot fit while s2 keeps its row");
    CHECK(e.res.cause == FT_FAIL_CAPACITY, "capacity expected, got %d", e.res.cause);
    e.now += 10e9; /* past --forget-after */
    CHECK(ingest(&e, "switch_id,a\ns1,1\ns3,3\n") == 0, "s3 takes the forgotten row: %s", e.res.why);
    CHECK_EQ_U64(e.res.forgotten, 1);
    CHECK_EQ_U64(row_of(&e, "s3"), r2);
    CHECK(row_of(&e, "s2") < 0, "s2 forgotten");
    /* The same row index now names another switch: its incarnation says so, so s2's past is not shown as s3's. */
    uint32_t inc3 = incarnation_of(&e, "s3");
    CHECK(inc3 != inc2, "a reused row gets a new incarnation: s2 had %u, s3 has %u", inc2, inc3);
    CHECK_EQ_U64(incarnation_of(&e, "s1"), 1);
    /* A restarted ingestd keeps the incarnations (they are in the segment), and the next reuse moves on again. */
    ingest_model_t m2;
    CHECK(ingest_model_init(&m2, &e.m.cap, 5e9) == 0, "init");
    CHECK(ingest_model_load(&m2, &e.shm, e.now) == 0, "load");
    ingest_model_destroy(&e.m);
    e.m = m2;
    CHECK(ingest(&e, "switch_id,a\ns1,1\n") == 0, "s3 absent: %s", e.res.why);
    e.now += 10e9;
    CHECK(ingest(&e, "switch_id,a\ns1,1\ns4,4\n") == 0, "s4 takes the row: %s", e.res.why);
    CHECK_EQ_U64(row_of(&e, "s4"), r2);
    uint32_t inc4 = incarnation_of(&e, "s4");
    CHECK(inc4 != inc2 && inc4 != inc3, "after a reattach the row's incarnation still moves on: %u, %u, then %u", inc2, inc3, inc4);
    env_destroy(&e);
}

static void test_columns_stable_and_reattach(void)
{
    env_t e;
    env_init(&e, cap_default, 3600e9);
    CHECK(ingest(&e, "switch_id,a,b\ns1,1,2\ns2,3,4\n") == 0, "first: %s", e.res.why);
    CHECK(ingest(&e, "switch_id,b,c,a\ns2,40,x,30\ns1,20,y,10\n") == 0, "reordered: %s", e.res.why);
    ft_snap_t v;
    ft_snap_begin(&v, &e.shm);
    CHECK_EQ_U64(ft_snap_find_col(&v, "a", 1), 0);
    CHECK_EQ_U64(ft_snap_find_col(&v, "b", 1), 1);
    CHECK_EQ_U64(ft_snap_find_col(&v, "c", 1), 2);
    CHECK_EQ_U64(row_of(&e, "s1"), 0);
    CHECK_EQ_STR(row_json(&e, "s1"), "\"metrics\":[{\"switch_id\":\"s1\",\"a\":10,\"b\":20,\"c\":\"y\"}]}");

    /* A new ingestd process: rebuild the model from the segment, continue the generation. */
    ingest_model_t m2;
    CHECK(ingest_model_init(&m2, &cap_default, 3600e9) == 0, "init");
    CHECK(ingest_model_load(&m2, &e.shm, e.now) == 0, "load");
    CHECK_EQ_U64(m2.gen, 2);
    ingest_model_destroy(&e.m);
    e.m = m2;
    CHECK(ingest(&e, "switch_id,a,b,c\ns3,5,6,z\ns2,7,8,w\ns1,9,9,q\n") == 0, "after reattach: %s", e.res.why);
    CHECK_EQ_U64(gen(&e), 3);
    CHECK_EQ_U64(row_of(&e, "s1"), 0);
    CHECK_EQ_U64(row_of(&e, "s2"), 1);
    CHECK_EQ_U64(row_of(&e, "s3"), 2);
    CHECK_EQ_STR(row_json(&e, "s2"), "\"metrics\":[{\"switch_id\":\"s2\",\"a\":7,\"b\":8,\"c\":\"w\"}]}");
    /* A bad row after reattach shows the values loaded from the segment, text included. */
    CHECK(ingest(&e, "switch_id,a,b,c\ns3,5,6,z\ns2,oops,8,w\ns1,9,9,q\n") == 0, "stale after reattach: %s", e.res.why);
    CHECK_EQ_STR(row_json(&e, "s2"), "\"metrics\":[{\"switch_id\":\"s2\",\"a\":7,\"b\":8,\"c\":\"w\",\"stale\":true}]}");
    env_destroy(&e);
}

/* Column kinds come from the configuration by name, reach the segment, and follow a changed configuration on reattach. */
/* The matrix too: a column whose values pass 2^63 - 1 is unsigned; a negative value in it later is a bad row. */
static void test_unsigned_column(void)
{
    env_t e;
    env_init(&e, cap_default, 3600e9);
    CHECK(ingest(&e, "switch_id,big,small\ns1,18446744073709551615,-1\ns2,5,2\n") == 0, "unsigned column: %s", e.res.why);
    CHECK(strstr(row_json(&e, "s1"), "\"big\":18446744073709551615,\"small\":-1") != NULL, "exact: %s", row_json(&e, "s1"));
    CHECK(ingest(&e, "switch_id,big,small\ns1,-3,1\ns2,6,2\n") == 0, "a negative value in an unsigned column: %s", e.res.why);
    CHECK_EQ_U64(e.res.rows_rejected, 1);
    CHECK(strstr(row_json(&e, "s1"), "\"big\":18446744073709551615") != NULL, "the bad row keeps its previous values (stale)");
    env_destroy(&e);
}

static void test_column_kinds(void)
{
    env_t e;
    env_init(&e, cap_default, 3600e9);
    char why[200];
    CHECK(ingest_model_set_kinds(&e.m, "bytes,errs", "bytes=4", why, sizeof(why)) == 0, "kinds: %s", why);
    CHECK(ingest_model_set_kinds(&e.m, "", "bytes=0", why, sizeof(why)) == -EINVAL && strstr(why, "bytes=0"), "scale 0 refused");
    CHECK(ingest_model_set_kinds(&e.m, "", "bytes", why, sizeof(why)) == -EINVAL, "a scale without a value refused");
    CHECK(ingest_model_set_kinds(&e.m, "bytes,errs", "bytes=4", why, sizeof(why)) == 0, "kinds again");
    CHECK(ingest(&e, "switch_id,bytes,errs,temp\ns1,10,1,40.5\n") == 0, "body: %s", e.res.why);
    ft_snap_t v;
    ft_snap_begin(&v, &e.shm);
    uint64_t mb = ft_snap_col_meta(&v, 0), me = ft_snap_col_meta(&v, 1), mt = ft_snap_col_meta(&v, 2);
    CHECK(ft_col_meta_counter(mb) && ft_col_meta_scale(mb) == 4, "bytes: a counter of 4-byte units");
    CHECK(ft_col_meta_counter(me) && ft_col_meta_scale(me) == 1, "errs: a counter");
    CHECK(!ft_col_meta_counter(mt) && ft_col_meta_scale(mt) == 1, "temp: a gauge");
    /* A restart with another configuration: the segment's columns take the new kinds. */
    ingest_model_t m2;
    CHECK(ingest_model_init(&m2, &cap_default, 3600e9) == 0, "init");
    CHECK(ingest_model_set_kinds(&m2, "temp", "", why, sizeof(why)) == 0, "new kinds");
    CHECK(ingest_model_load(&m2, &e.shm, e.now) == 0, "load");
    ingest_model_destroy(&e.m);
    e.m = m2;
    CHECK(ingest(&e, "switch_id,bytes,errs,temp\ns1,11,1,41\n") == 0, "after reattach: %s", e.res.why);
    ft_snap_begin(&v, &e.shm);
    CHECK(!ft_col_meta_counter(ft_snap_col_meta(&v, 0)) && ft_col_meta_scale(ft_snap_col_meta(&v, 0)) == 1 &&
              ft_col_meta_counter(ft_snap_col_meta(&v, 2)),
          "the new configuration applies after a restart");
    env_destroy(&e);
}

/* Found by fuzz_csv: a stale row carrying an empty text cell over from an arena that holds no bytes. */
static void test_stale_empty_text(void)
{
    env_t e;
    env_init(&e, cap_default, 3600e9);
    CHECK(ingest(&e, "switch_id,t,n\ns1,,1\n") == 0, "empty text: %s", e.res.why);
    CHECK(ingest(&e, "switch_id,t,n\ns1,x\n") == 0, "short row: %s", e.res.why);
    CHECK_EQ_STR(row_json(&e, "s1"), "\"metrics\":[{\"switch_id\":\"s1\",\"t\":\"\",\"n\":1,\"stale\":true}]}");
    env_destroy(&e);
}

static void test_body_cap(void)
{
    ingest_batch_t b;
    CHECK(ingest_batch_init(&b, 64) == 0, "init");
    ingest_batch_reset(&b);
    char big[100];
    memset(big, 'a', sizeof(big));
    CHECK(ingest_batch_feed(&b, big, 60) == 0, "under the cap");
    CHECK(ingest_batch_feed(&b, big, 10) == -EFBIG, "over the cap must fail with -EFBIG");
    /* Split BOM across feeds. */
    ingest_batch_reset(&b);
    ingest_batch_feed(&b, "\xef", 1);
    ingest_batch_feed(&b, "\xbb\xbfk,v\n", 6);
    ingest_batch_finish(&b);
    size_t len;
    CHECK(b.nrows == 1 && strcmp(ingest_batch_field(&b, 0, 0, &len), "k") == 0, "split BOM must be dropped");
    ingest_batch_destroy(&b);
}

/*
 * History through the model: every publish records the generation on the helper thread before the segment
 * publishes it (a reader that sees generation g finds g), stale rows and text columns are not recorded, and a
 * forgotten switch's series is closed. Run under TSan too (the helper thread and the render share the model).
 */
static void test_history_records(void)
{
    env_t e;
    env_init(&e, cap_default, 2000000000ULL);
    char dir[] = "/tmp/fabtel-test-model-hist-XXXXXX", path[128], why[256];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof(path), "%s/history.ft", dir);
    ft_hist_writer_t w;
    int created;
    uint64_t recovered;
    CHECK(ft_hist_writer_open(&w, path, FT_HIST_MIN_BYTES, cap_default.max_switches, 0, &created, &recovered, why, sizeof(why)) == 0,
          "history: %s", why);
    e.m.hist = &w;
    ft_hist_reader_t r;
    CHECK(ft_hist_reader_open(&r, path, why, sizeof(why)) == 0, "reader: %s", why);
    int seen_every_gen = 1;
    for (int g = 1; g <= 50; g++) {
        char csv[512];
        snprintf(csv, sizeof(csv), "%ssw-1,t,%d.5,%d,up\nsw-2,t,%s,%d,up\n", H, g, g * 100, g == 20 ? "bad" : "2.25", g * 7);
        CHECK(ingest(&e, csv) == 0, "generation %d accepted: %s", g, e.res.why);
        ft_hist_windows_t win;
        ft_hist_windows(&r, 0, &win);
        seen_every_gen &= win.gen >= gen(&e); /* history holds every generation the segment shows */
    }
    CHECK(seen_every_gen, "history's generation is never behind the segment's");
    uint32_t id, type, scale;
    int counter;
    int64_t lat = ft_hist_find_counter(&r, "latency", 7, &type, &counter, &scale);
    CHECK(lat >= 0 && type == FT_COL_FLOAT, "latency recorded as a float");
    CHECK(ft_hist_find_counter(&r, "status", 6, &type, &counter, &scale) == -ENOENT, "the text column is not history");
    CHECK(ft_hist_find_switch(&r, "sw-2", 4, &id, 1) == 1, "sw-2 recorded");
    ft_hist_points_t p = {0};
    ft_hist_read_raw(&r, id, (uint32_t)lat, 0, INT64_MAX, &p);
    CHECK(p.n == 49, "sw-2's stale generation (a bad row) is not a sample: expected 49, got %zu", p.n);
    free(p.p);
    ingest(&e, "switch_id,timestamp,latency,port_xmit_data,status\nsw-1,t,1.5,1,up\n");
    for (int k = 0; k < 3; k++) /* sw-2 absent past --forget-after: forgotten, its series closed */
        ingest(&e, "switch_id,timestamp,latency,port_xmit_data,status\nsw-1,t,1.5,1,up\n");
    ft_hist_entry_info_t info;
    ft_hist_entry_info(&r, id, &info);
    CHECK(info.closed_t != 0, "a forgotten switch's series is closed");
    ft_hist_reader_close(&r);
    env_destroy(&e); /* stops the helper before the writer goes */
    ft_hist_writer_close(&w);
    unlink(path);
    rmdir(dir);
}

/* A UFM body through ingestd's path: recognized, rewritten (ingestd/ufm.h), applied with UFM's rules, published. */
static int ingest_ufm(env_t *e, ingest_batch_t *ufm, const char *csv)
{
    e->now += 1000000000ULL;
    char why[200] = "";
    int r = ingest_batch_parse(&e->b, csv, strlen(csv));
    if (r == 0 && !ingest_ufm_detect(&e->b))
        r = -EPROTO;
    if (r == 0 && (r = ingest_ufm_translate(&e->b, ufm, why, sizeof(why))) != 0)
        snprintf(e->res.why, sizeof(e->res.why), "%s", why);
    if (r == 0 && (r = ingest_model_apply(&e->m, ufm, e->now, &e->res)) == 0)
        ingest_model_publish(&e->m, &e->shm, e->now);
    return r;
}

static void test_ufm(void)
{
    env_t e;
    env_init(&e, (ft_shm_capacity_t){64, 32, 4, 65536, 1 << 20}, 5e9);
    ingest_batch_t ufm;
    ingest_batch_init(&ufm, SIZE_MAX);
    char why[200];
    ingest_model_set_rules(&e.m, &INGEST_UFM_RULES);
    CHECK(ingest_model_set_kinds(&e.m, INGEST_UFM_COUNTERS, INGEST_UFM_SCALES, why, sizeof(why)) == 0, "UFM kinds: %s", why);
    /* The low-frequency spelling, columns in their own order, an empty cell, a value past 2^53, the final empty line. */
    CHECK(ingest_ufm(&e, &ufm,
                     "Port_Number,PortXmitDataExtended,timestamp,Node_GUID,tag,source_id,Temperature,QP1DroppedExtended,RawBER\n"
                     "1,9007199254740993,1796500000123456,0x0c42a103007ab890,,ufm-1,45.5,,1.5e-12\n"
                     "2,100,1796500000123457,0x0c42a103007ab890,,ufm-1,46,7,2e-13\n"
                     "1,200,1796500000123458,0x0c42a103007ab891,,ufm-1,,3,\n"
                     "\n") == 0,
          "a UFM body (Node_GUID, Port_Number) ingests: %s", e.res.why);
    CHECK_EQ_U64(e.res.rows_rejected, 0);
    CHECK_EQ_U64(e.res.nswitches, 3);
    const char *j = row_json(&e, "0x0c42a103007ab890_1");
    CHECK(strstr(j, "\"timestamp\":\"2026-12-05T19:46:40.123456Z\"") && strstr(j, "\"port_num\":\"1\"") &&
              strstr(j, "\"node_guid\":\"0x0c42a103007ab890\"") && strstr(j, "\"PortXmitDataExtended\":9007199254740993") &&
              strstr(j, "\"QP1DroppedExtended\":null") && strstr(j, "\"RawBER\":1.5e-12") && strstr(j, "\"tag\":\"\""),
          "a port named <node_guid>_<port_num>: µs time as the sample time, identity as text, exact past 2^53, an empty cell null: %s", j);
    j = row_json(&e, "0x0c42a103007ab891_1");
    CHECK(strstr(j, "\"Temperature\":null") && strstr(j, "\"RawBER\":null"), "empty float cells are null too: %s", j);
    uint32_t ncols = e.m.ncols;
    /* The high-frequency spelling, another order: the same columns; a port missing; a counter that went down (a reset). */
    CHECK(ingest_ufm(&e, &ufm,
                     "timestamp,source_id,tag,node_guid,port_guid,port_num,Temperature,RawBER,PortXmitDataExtended,QP1DroppedExtended\n"
                     "1796500001000000,ufm-1,,0x0c42a103007ab890,0x0c42a103007ab8a0,1,45,1e-12,5,1\n"
                     "1796500001000001,ufm-1,,0x0c42a103007ab891,0x0c42a103007ab8a1,1,44,1e-12,300,4\n") == 0,
          "the other spelling ingests: %s", e.res.why);
    CHECK(e.m.ncols == ncols + 1, "both spellings feed the same columns (only port_guid is new): %u -> %u", ncols, e.m.ncols);
    CHECK(strstr(row_json(&e, "0x0c42a103007ab890_1"), "\"PortXmitDataExtended\":5") != NULL, "a counter that went down (reset) is taken");
    CHECK_EQ_STR(row_json(&e, "0x0c42a103007ab890_2"), "\"metrics\":[{\"switch_id\":\"0x0c42a103007ab890_2\",\"present\":false}]}");
    {
        ft_snap_t v;
        ft_buf_t one;
        ft_buf_init(&one);
        ft_snap_begin(&v, &e.shm);
        ft_render_metric(&one, &v, (uint32_t)row_of(&e, "0x0c42a103007ab890_2"), (uint32_t)ft_snap_find_col(&v, "PortXmitDataExtended", 20));
        ft_buf_append(&one, "", 1);
        CHECK(strstr(one.data, "\"value\":null,\"present\":false,\"collected_at\"") != NULL, "GetMetric of a port gone down: %s", one.data);
        ft_buf_destroy(&one);
    }
    CHECK(ingest_ufm(&e, &ufm,
                     "timestamp,node_guid,port_num,PortXmitDataExtended\n1796500002000000,0x0c42a103007ab890,2,150\n"
                     ",0x0c42a103007ab890,,1\n") == 0,
          "a port that returns: %s", e.res.why);
    CHECK(strstr(row_json(&e, "0x0c42a103007ab890_2"), "\"PortXmitDataExtended\":150") != NULL && incarnation_of(&e, "0x0c42a103007ab890_2") == 1,
          "a port that returns keeps its row and incarnation");
    CHECK_EQ_U64(e.res.rows_rejected, 1); /* the row without a port number: a bad row, counted */
    /* UFM's counters are unsigned 64-bit: up to 2^64 - 1 exact; 2^63 itself is the absent marker and makes its row bad. */
    CHECK(ingest_ufm(&e, &ufm,
                     "timestamp,node_guid,port_num,PortXmitDataExtended,PortRcvPktsExtended\n"
                     "1796500003000000,0x0c42a103007ab890,1,18446744073709551615,9223372036854775807\n"
                     "1796500003000000,0x0c42a103007ab890,2,9223372036854775809,1\n"
                     "1796500003000000,0x0c42a103007ab891,1,9223372036854775808,1\n") == 0,
          "counters past 2^63: %s", e.res.why);
    j = row_json(&e, "0x0c42a103007ab890_1");
    CHECK(strstr(j, "\"PortXmitDataExtended\":18446744073709551615") && strstr(j, "\"PortRcvPktsExtended\":9223372036854775807"),
          "2^64 - 1 and 2^63 - 1 exact: %s", j);
    CHECK(strstr(row_json(&e, "0x0c42a103007ab890_2"), "\"PortXmitDataExtended\":9223372036854775809") != NULL, "2^63 + 1 exact");
    CHECK_EQ_U64(e.res.rows_rejected, 1);
    ingest_batch_parse(&e.b, "switch_id,a\ns1,1\n", 14);
    CHECK(!ingest_ufm_detect(&e.b), "the matrix is not taken for UFM");
    CHECK(ingest_ufm_translate(&e.b, &ufm, why, sizeof(why)) == -EINVAL && strstr(why, "node_guid") != NULL, "--format ufm on a matrix: %s", why);
    ingest_batch_destroy(&ufm);
    env_destroy(&e);
}

int main(void)
{
    test_ufm();
    test_all_good();
    test_some_rows_bad();
    test_rejected_bodies();
    test_capacity();
    test_csv_forms();
    test_hostile_cells();
    test_absent_and_forget();
    test_columns_stable_and_reattach();
    test_stale_empty_text();
    test_column_kinds();
    test_unsigned_column();
    test_body_cap();
    test_history_records();
    return check_report("test_ingest_model");
}
