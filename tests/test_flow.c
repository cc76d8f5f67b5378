/*
 * tests for flowd/parse and flowd/store: the seed's canonical example, every invalid-element class, merging
 * within a batch, sums near 2^63 exact and overflow refused whole, idempotency, the schema version guard;
 * and flowd/writer's group commit from several threads (run under TSan too).
 *
 * With FABTEL_TEST_FLOW_STORE set to a postgresql:// URL (tests/pg.py sets it), the store and group commit
 * tests run against that database instead, emptied first: the same answers, byte for byte.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "parse.h"
#include "store.h"
#include "writer.h"

static const char *CANON = "[{\"src_app\":\"foo\",\"dest_app\":\"bar\",\"vpc_id\":\"vpc-0\",\"bytes_tx\":100,\"bytes_rx\":300,\"hour\":1},"
                           "{\"src_app\":\"foo\",\"dest_app\":\"bar\",\"vpc_id\":\"vpc-0\",\"bytes_tx\":200,\"bytes_rx\":600,\"hour\":1},"
                           "{\"src_app\":\"baz\",\"dest_app\":\"qux\",\"vpc_id\":\"vpc-0\",\"bytes_tx\":100,\"bytes_rx\":500,\"hour\":1},"
                           "{\"src_app\":\"baz\",\"dest_app\":\"qux\",\"vpc_id\":\"vpc-0\",\"bytes_tx\":100,\"bytes_rx\":500,\"hour\":2},"
                           "{\"src_app\":\"baz\",\"dest_app\":\"qux\",\"vpc_id\":\"vpc-1\",\"bytes_tx\":100,\"bytes_rx\":500,\"hour\":2}]";

static char dir[] = "/tmp/fabtel-test-flow-XXXXXX";

static const char *pg_url; /* NULL: SQLite files in dir */

static void pg_exec(const char *sql)
{
    PGconn *c = PQconnectdb(pg_url);
    PQclear(PQexec(c, "SET client_min_messages=warning"));
    PGresult *r = PQexec(c, sql);
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* A fresh, empty store: a new SQLite file, or the PostgreSQL database emptied. */
static void path_of(char *out, const char *name)
{
    if (pg_url != NULL) {
        pg_exec("DROP TABLE IF EXISTS flows, idempotency, fabtel_schema");
        snprintf(out, 300, "%s", pg_url);
        return;
    }
    snprintf(out, 300, "%s/%s", dir, name);
}

static int apply(flow_store_t *s, const char *json, const char *key, ft_buf_t *answer)
{
    flow_batch_t b;
    flow_error_t err;
    int r = flow_parse(json, strlen(json), 1000, &b, &err);
    if (r != 0)
        return r;
    uint8_t hash[32] = {0};
    memcpy(hash, json, strlen(json) < 32 ? strlen(json) : 32);
    int replayed;
    CHECK(flow_store_begin(s) == 0, "begin");
    r = flow_store_apply(s, &b, key, hash, 1000, answer, &replayed);
    CHECK(flow_store_commit(s) == 0, "commit");
    flow_batch_free(&b);
    return r;
}

static const char *read_hour(flow_store_t *s, int64_t h)
{
    static ft_buf_t b;
    b.len = 0;
    flow_store_read_hour(s, h, NULL, NULL, NULL, &b);
    ft_buf_append(&b, "", 1);
    return b.data;
}

static void test_parse_classes(void)
{
    static const struct {
        const char *body, *field;
        int status, index;
    } bad[] = {
        {"", NULL, 400, -1},
        {"[1,", NULL, 400, -1},
        {"\"x\"", NULL, 400, -1},
        {"[{\"src_app\":\"a\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":1,\"bytes_rx\":1}]", "bytes_tx", 400, 0},
        {"[{\"src_app\":\"a\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":1,\"bytes_rx\":1,\"bytes_tx\":1},"
         "{\"src_app\":\"a\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":\"1\",\"bytes_rx\":1,\"bytes_tx\":1}]",
         "hour", 400, 1},
        {"[{\"src_app\":\"a\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":1.5,\"bytes_rx\":1,\"bytes_tx\":1}]", "hour", 400, 0},
        {"[{\"src_app\":\"a\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":-1,\"bytes_rx\":1,\"bytes_tx\":1}]", "hour", 400, 0},
        {"[{\"src_app\":\"\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":1,\"bytes_rx\":1,\"bytes_tx\":1}]", "src_app", 400, 0},
        {"[{\"src_app\":null,\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":1,\"bytes_rx\":1,\"bytes_tx\":1}]", "src_app", 400, 0},
        {"[{\"src_app\":\"a\",\"dest_app\":true,\"vpc_id\":\"c\",\"hour\":1,\"bytes_rx\":1,\"bytes_tx\":1}]", "dest_app", 400, 0},
        /* jansson refuses \u0000 in a string while parsing: malformed, 400 */
        {"[{\"src_app\":\"a\\u0000b\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":1,\"bytes_rx\":1,\"bytes_tx\":1}]", NULL, 400, -1},
        {"[{\"src_app\":\"a\",\"src_app\":\"b\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":1,\"bytes_rx\":1,\"bytes_tx\":1}]", NULL, 400, -1},
        {"[{\"src_app\":\"a\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":1,\"bytes_rx\":99999999999999999999,\"bytes_tx\":1}]", NULL, 400, -1},
        {"[{\"src_app\":\"\xff\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":1,\"bytes_rx\":1,\"bytes_tx\":1}]", NULL, 400, -1},
        {"[2]", NULL, 400, 0},
        {"[{\"src_app\":\"a\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":1,\"bytes_rx\":9223372036854775807,\"bytes_tx\":1},"
         "{\"src_app\":\"a\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":1,\"bytes_rx\":1,\"bytes_tx\":1}]",
         "bytes_rx", 409, -1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        flow_batch_t b;
        flow_error_t err;
        int r = flow_parse(bad[i].body, strlen(bad[i].body), 1000, &b, &err);
        CHECK(r == bad[i].status && err.index == bad[i].index &&
                  ((bad[i].field == NULL && err.field == NULL) || (bad[i].field && err.field && strcmp(bad[i].field, err.field) == 0)),
              "case %zu: want %d field %s index %d, got %d field %s index %lld (%s)", i, bad[i].status, bad[i].field ? bad[i].field : "-",
              bad[i].index, r, err.field ? err.field : "-", (long long)err.index, err.message);
    }
    flow_batch_t b;
    flow_error_t err;
    CHECK(flow_parse(CANON, strlen(CANON), 4, &b, &err) == 413, "more flows than --max-batch: 413");
    CHECK(flow_parse(CANON, strlen(CANON), 1000, &b, &err) == 0 && b.received == 5 && b.n == 4, "5 flows, 4 keys after merging");
    flow_batch_free(&b);
    /* Found by fuzz_flow: an empty array (no records at all) must not reach qsort with NULL. */
    CHECK(flow_parse("[]", 2, 1000, &b, &err) == 0 && b.n == 0 && b.received == 0, "an empty batch is accepted, empty");
    flow_batch_free(&b);
    const char *one = "{\"src_app\":\"a\",\"dest_app\":\"b\",\"vpc_id\":\"c\",\"hour\":0,\"bytes_rx\":0,\"bytes_tx\":0,\"extra\":[1]}";
    CHECK(flow_parse(one, strlen(one), 1000, &b, &err) == 0 && b.n == 1, "one object is a batch of one; other keys ignored");
    flow_batch_free(&b);
}

static void test_store(void)
{
    char path[300], why[300];
    path_of(path, "flows.sqlite");
    flow_store_t s, r;
    CHECK(flow_store_open(&s, path, 0, why, sizeof(why)) == 0, "open: %s", why);
    CHECK(flow_store_open(&r, path, 1, why, sizeof(why)) == 0, "a read connection: %s", why);
    ft_buf_t ans;
    ft_buf_init(&ans);
    CHECK(apply(&s, CANON, NULL, &ans) == 201, "canonical batch");
    CHECK_EQ_STR(read_hour(&r, 1), "[{\"src_app\":\"baz\",\"dest_app\":\"qux\",\"vpc_id\":\"vpc-0\",\"hour\":1,\"bytes_rx\":500,\"bytes_tx\":100},"
                                   "{\"src_app\":\"foo\",\"dest_app\":\"bar\",\"vpc_id\":\"vpc-0\",\"hour\":1,\"bytes_rx\":900,\"bytes_tx\":300}]");
    CHECK_EQ_STR(read_hour(&r, 2), "[{\"src_app\":\"baz\",\"dest_app\":\"qux\",\"vpc_id\":\"vpc-0\",\"hour\":2,\"bytes_rx\":500,\"bytes_tx\":100},"
                                   "{\"src_app\":\"baz\",\"dest_app\":\"qux\",\"vpc_id\":\"vpc-1\",\"hour\":2,\"bytes_rx\":500,\"bytes_tx\":100}]");
    CHECK_EQ_STR(read_hour(&r, 3), "[]");
    /* Near 2^63 exact; one more byte refused whole (nothing of that batch applied, the other key untouched). */
    const char *big = "[{\"src_app\":\"n\",\"dest_app\":\"n\",\"vpc_id\":\"n\",\"hour\":9,\"bytes_rx\":9223372036854775806,\"bytes_tx\":4294967296}]";
    CHECK(apply(&s, big, NULL, &ans) == 201, "near 2^63");
    const char *over = "[{\"src_app\":\"m\",\"dest_app\":\"m\",\"vpc_id\":\"m\",\"hour\":9,\"bytes_rx\":5,\"bytes_tx\":5},"
                       "{\"src_app\":\"n\",\"dest_app\":\"n\",\"vpc_id\":\"n\",\"hour\":9,\"bytes_rx\":2,\"bytes_tx\":0}]";
    CHECK(apply(&s, over, NULL, &ans) == 409, "a sum past 2^63-1: 409");
    CHECK_EQ_STR(read_hour(&r, 9),
                 "[{\"src_app\":\"n\",\"dest_app\":\"n\",\"vpc_id\":\"n\",\"hour\":9,\"bytes_rx\":9223372036854775806,\"bytes_tx\":4294967296}]");
    /* Byte order, whatever the database's collation: "B" < "_" < "a" < "é" (0x42, 0x5f, 0x61, 0xc3). */
    const char *order = "[{\"src_app\":\"\u00e9\",\"dest_app\":\"d\",\"vpc_id\":\"v\",\"hour\":11,\"bytes_rx\":1,\"bytes_tx\":1},"
                        "{\"src_app\":\"a\",\"dest_app\":\"d\",\"vpc_id\":\"v\",\"hour\":11,\"bytes_rx\":1,\"bytes_tx\":1},"
                        "{\"src_app\":\"_\",\"dest_app\":\"d\",\"vpc_id\":\"v\",\"hour\":11,\"bytes_rx\":1,\"bytes_tx\":1},"
                        "{\"src_app\":\"B\",\"dest_app\":\"d\",\"vpc_id\":\"v\",\"hour\":11,\"bytes_rx\":1,\"bytes_tx\":1}]";
    CHECK(apply(&s, order, NULL, &ans) == 201, "four sources");
    const char *got = read_hour(&r, 11), *b = strstr(got, "\"B\""), *u = strstr(got, "\"_\""), *a = strstr(got, "\"a\""),
               *e = strstr(got, "\"\xc3\xa9\"");
    CHECK(b && u && a && e && b < u && u < a && a < e, "read back in byte order: %s", got);
    /* Idempotency: the same key and body once; the same key with another body: 422. */
    const char *k1 = "[{\"src_app\":\"i\",\"dest_app\":\"i\",\"vpc_id\":\"i\",\"hour\":5,\"bytes_rx\":7,\"bytes_tx\":7}]";
    CHECK(apply(&s, k1, "key-1", &ans) == 201 && apply(&s, k1, "key-1", &ans) == 201, "retried with its key: 201 twice");
    CHECK(strstr(read_hour(&r, 5), "\"bytes_rx\":7,") != NULL, "applied once: %s", read_hour(&r, 5));
    CHECK(apply(&s, CANON, "key-1", &ans) == 422, "the key with another body: 422");
    ans.len = 0;
    flow_store_read_hours(&r, &ans);
    ft_buf_append(&ans, "", 1);
    CHECK_EQ_STR(ans.data, "[1,2,5,9,11]");
    flow_store_close(&r);
    flow_store_close(&s);
    /* A store written by a newer flowd is refused, not "migrated" backwards. */
    if (pg_url != NULL) {
        pg_exec("UPDATE fabtel_schema SET version=99 WHERE component='flowd'");
    } else {
        sqlite3 *db;
        sqlite3_open(path, &db);
        sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL);
        sqlite3_close(db);
    }
    CHECK(flow_store_open(&s, path, 0, why, sizeof(why)) == -EPROTO && strstr(why, "version 99") != NULL, "newer schema refused: %s", why);
    ft_buf_destroy(&ans);
}

/* ---- group commit from several threads ---- */

typedef struct gc {
    pthread_mutex_t lock;
    int answered, ok;
} gc_t;

static void done(void *ctx, flow_job_t *jobs)
{
    gc_t *g = ctx;
    for (flow_job_t *j = jobs, *next; j; j = next) {
        next = j->next;
        pthread_mutex_lock(&g->lock);
        g->answered++;
        g->ok += j->status == 201;
        pthread_mutex_unlock(&g->lock);
        flow_batch_free(&j->batch);
        ft_buf_destroy(&j->answer);
        free(j);
    }
}

static flow_writer_t writer;

static void *poster(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < 50; i++) {
        char body[200];
        snprintf(body, sizeof(body), "[{\"src_app\":\"t%d\",\"dest_app\":\"d\",\"vpc_id\":\"v\",\"hour\":7,\"bytes_rx\":1,\"bytes_tx\":2}]", t);
        flow_job_t *j = calloc(1, sizeof(*j));
        flow_error_t err;
        flow_parse(body, strlen(body), 10, &j->batch, &err);
        ft_buf_init(&j->answer);
        flow_writer_submit(&writer, j);
    }
    return NULL;
}

static void test_group_commit(void)
{
    char path[300], why[300];
    path_of(path, "gc.sqlite");
    gc_t g = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    CHECK(flow_writer_start(&writer, path, 0, 0, done, &g, why, sizeof(why)) == 0, "writer: %s", why);
    pthread_t th[4];
    for (int t = 0; t < 4; t++)
        pthread_create(&th[t], NULL, poster, (void *)(intptr_t)t);
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    flow_writer_stop(&writer); /* everything queued is committed and answered first */
    flow_writer_stats_t st = writer.stats;
    CHECK(g.answered == 200 && g.ok == 200, "200 batches answered 201 (%d, %d)", g.answered, g.ok);
    CHECK(st.batches == 200 && st.commits <= 200, "group commit: %llu batches in %llu commits", (unsigned long long)st.batches,
          (unsigned long long)st.commits);
    printf("group commit: 200 batches from 4 threads in %llu transactions\n", (unsigned long long)st.commits);
    flow_store_t r;
    CHECK(flow_store_open(&r, path, 1, why, sizeof(why)) == 0, "read");
    CHECK(strstr(read_hour(&r, 7), "{\"src_app\":\"t3\",\"dest_app\":\"d\",\"vpc_id\":\"v\",\"hour\":7,\"bytes_rx\":50,\"bytes_tx\":100}") != NULL,
          "each thread's 50 batches summed: %s", read_hour(&r, 7));
    flow_store_close(&r);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    pg_url = getenv("FABTEL_TEST_FLOW_STORE");
    if (pg_url != NULL && pg_url[0] == '\0')
        pg_url = NULL;
    printf("store: %s\n", pg_url != NULL ? "postgresql" : "sqlite");
    test_parse_classes();
    test_store();
    test_group_commit();
    char cmd[100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
    return check_report("test_flow");
}
