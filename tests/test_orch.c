/*
 * orchd/lifecycle and orchd/store: the state machine's rules (timing, the failure rule, addresses, names) and the
 * store driven through many simulated ticks: every node walks its states in order, once each, as its events tell;
 * ids are never reused; events outlive their deployment; a newer schema is refused.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "lifecycle.h"
#include "store.h"

static char path[256];

static void test_rules(void)
{
    CHECK(orch_next_state(7, 1, ORCH_PENDING, 0, 0, 1.0) == ORCH_PROVISIONING, "PENDING moves at the first tick");
    for (int64_t id = 1; id <= 40; id++) {
        int64_t p = (3 + id % 5) * 1000, c = (5 + id % 7) * 1000;
        CHECK(orch_next_state(id, 3, ORCH_PROVISIONING, 1000, 1000 + p - 1, 1.0) == -1, "node %" PRId64 " provisions %" PRId64 " ms", id, p);
        CHECK(orch_next_state(id, 3, ORCH_PROVISIONING, 1000, 1000 + p, 1.0) == ORCH_CONFIGURING, "node %" PRId64 " configures after", id);
        CHECK(orch_next_state(id, 3, ORCH_CONFIGURING, 0, c - 1, 1.0) == -1, "node %" PRId64 " configures %" PRId64 " ms", id, c);
        int want = (id + 3) % 20 == 0 ? ORCH_FAILED : ORCH_RUNNING;
        CHECK(orch_next_state(id, 3, ORCH_CONFIGURING, 0, c, 1.0) == want, "node %" PRId64 " of deployment 3 ends %s", id,
              orch_state_name((orch_state_t)want));
        CHECK(orch_next_state(id, 3, ORCH_CONFIGURING, 0, c / 10, 0.1) == want, "the time scale multiplies every duration");
    }
    CHECK(orch_next_state(5, 1, ORCH_RUNNING, 0, 1000000, 1.0) == -1 && orch_next_state(5, 1, ORCH_FAILED, 0, 1000000, 1.0) == -1,
          "RUNNING and FAILED are terminal");
    char ip[20];
    static const struct {
        int64_t id;
        const char *ip;
    } ips[] = {{1, "10.0.0.1"}, {255, "10.0.0.255"}, {256, "10.0.1.0"}, {65536, "10.1.0.0"}, {16777214, "10.255.255.254"}};
    for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
        CHECK(orch_ip_address(ips[i].id, ip, sizeof(ip)) == 0, "id %" PRId64 " has an address", ips[i].id);
        CHECK_EQ_STR(ip, ips[i].ip);
    }
    CHECK(orch_ip_address(16777215, ip, sizeof(ip)) == -ERANGE && orch_ip_address(0, ip, sizeof(ip)) == -ERANGE,
          "past 10.255.255.254 (and id 0): no address");
    char name[64];
    orch_hostname(12, 7, name, sizeof(name));
    CHECK_EQ_STR(name, "switch-12-007");
    orch_hostname(3, 1000, name, sizeof(name));
    CHECK_EQ_STR(name, "switch-3-1000");
    orch_node_name(42, name, sizeof(name));
    CHECK_EQ_STR(name, "node-042");
}

/* Count rows of a query on a second connection (what a reader of the file sees: committed data only). */
static int64_t count(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* Each node's STATE_CHANGE events, in order, must be PENDING>PROVISIONING>CONFIGURING>(RUNNING|FAILED), once each. */
static void check_walks(int64_t dep, int64_t first_id, int64_t n)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_prepare_v2(db, "SELECT node_id, group_concat(json_extract(event_metadata, '$.to'), '>') FROM"
                           " (SELECT * FROM events WHERE event_type='STATE_CHANGE' AND deployment_id=?1 ORDER BY id) GROUP BY node_id",
                       -1, &st, NULL);
    sqlite3_bind_int64(st, 1, dep);
    int64_t seen = 0, bad = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const char *walk = (const char *)sqlite3_column_text(st, 1);
        const char *want = (id + dep) % 20 == 0 ? "PROVISIONING>CONFIGURING>FAILED" : "PROVISIONING>CONFIGURING>RUNNING";
        seen++;
        if (id < first_id || id >= first_id + n || strcmp(walk, want) != 0) {
            bad++;
            fprintf(stderr, "  node %" PRId64 ": %s (expected %s)\n", id, walk, want);
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    CHECK(seen == n && bad == 0, "deployment %" PRId64 ": %" PRId64 " nodes walked their states in order once each (%" PRId64 " seen, %" PRId64 " wrong)",
          dep, n, seen, bad);
}

static void test_store(void)
{
    orch_store_t s;
    char why[300] = "";
    ft_buf_t out;
    ft_buf_init(&out);
    CHECK(orch_store_open(&s, path, why, sizeof(why)) == 0, "open: %s", why);
    int64_t id = 0, t = 1700000000000;
    orch_new_deployment_t d = {"edge", NULL, 4, 0, 40};
    CHECK(orch_store_create(&s, &d, t, &id, &out) == 0 && id == 1, "create deployment 1 (got %" PRId64 ")", id);
    ft_buf_append(&out, "", 1);
    CHECK(strstr(out.data, "\"name\":\"edge\",\"description\":null,\"target_node_count\":40") != NULL, "created: %s", out.data);
    CHECK(count("SELECT count(*) FROM nodes WHERE state='PENDING' AND ip_address IS NULL") == 40, "40 nodes, PENDING, no address");
    CHECK(count("SELECT count(*) FROM events WHERE event_type='DEPLOYMENT_CREATED'") == 1, "one DEPLOYMENT_CREATED event");
    /* Ticks every 0.7 s of simulated time (a late tick never makes a node skip a state) until nothing moves. */
    uint64_t changed, total = 0;
    for (int k = 0; k < 40; k++, t += 700) {
        CHECK(orch_store_tick(&s, t, 1.0, &changed) == 0, "tick %d", k);
        total += changed;
    }
    CHECK(total == 120, "every node made three transitions (%llu)", (unsigned long long)total);
    CHECK(count("SELECT count(*) FROM nodes WHERE state='FAILED'") == 2, "ids 19 and 39 fail ((id + 1) %% 20 == 0)");
    CHECK(count("SELECT count(*) FROM nodes WHERE ip_address = '10.0.0.' || id") == 40, "addresses 10.0.0.id");
    CHECK(count("SELECT count(*) FROM nodes n WHERE state_changed_at - (SELECT max(created_at) FROM events e WHERE e.node_id=n.id"
                " AND json_extract(e.event_metadata,'$.to')='CONFIGURING') BETWEEN (5 + id % 7) * 1000 AND (5 + id % 7) * 1000 + 699") == 40,
          "each node left CONFIGURING (5 + id %% 7) s after entering it, to the tick");
    check_walks(1, 1, 40);
    orch_node_ref_t *run;
    size_t n;
    CHECK(orch_store_running(&s, 1, &run, &n) == 0 && n == 38 && strcmp(run[0].hostname, "switch-1-001") == 0 && !run[0].in_fabric,
          "38 running nodes, by id, not in the fabric yet");
    CHECK(orch_store_set_in_fabric(&s, run[0].id, 1, t) == 0, "mark joined");
    CHECK(orch_store_note_error(&s, run[1].id, "refused", t) == 1 && orch_store_note_error(&s, run[1].id, "refused", t) == 0,
          "an ERROR event once until the node joins");
    free(run);
    CHECK(orch_store_delete(&s, 1, t) == 0 && orch_store_delete(&s, 1, t) == -ENOENT, "delete, then 404");
    CHECK(orch_store_get(&s, 1, &out) == -ENOENT && orch_store_nodes(&s, 1, &out) == -ENOENT, "a deleted deployment is gone");
    CHECK(orch_store_events(&s, 1, 0, 1000, &out) == 0, "its events stay");
    ft_buf_append(&out, "", 1);
    CHECK(strstr(out.data, "\"event_type\":\"DEPLOYMENT_DELETED\"") != NULL && strstr(out.data, "\"total\":124") != NULL,
          "1 created + 120 changes + 1 joined + 1 error + 1 deleted: %.200s", out.data);
    CHECK(orch_store_events(&s, 99, 0, 10, &out) == -ENOENT, "events of a deployment that never was: 404");
    d.target_node_count = 2;
    CHECK(orch_store_create(&s, &d, t, &id, &out) == 0 && id == 2, "ids are not reused (got %" PRId64 ")", id);
    CHECK(count("SELECT min(id) FROM nodes") == 41, "node ids go on after the deleted ones");
    d.name = "third";
    orch_store_create(&s, &d, t, &id, &out);
    CHECK(orch_store_list(&s, 0, 1, &out) == 0, "list");
    ft_buf_append(&out, "", 1);
    CHECK(strncmp(out.data, "[{\"id\":3,", 9) == 0 && strstr(out.data, "\"id\":2") == NULL, "newest first, limit 1: %s", out.data);
    CHECK(orch_store_list(&s, 5, 10, &out) == 0 && out.len == 2, "skip past the end: []");
    /* Retention: events older than the cut go, the others (and every deployment) stay. */
    int64_t before = count("SELECT count(*) FROM events"), dropped = 0;
    orch_store_event(&s, 2, 0, "ERROR", "later", NULL, t + 1000);
    CHECK(orch_store_expire_events(&s, t + 1, &dropped) == 0 && dropped == before && count("SELECT count(*) FROM events") == 1 &&
              count("SELECT count(*) FROM deployments") == 2,
          "expiry dropped the %" PRId64 " older events (%" PRId64 "), kept the newer and the deployments", before, dropped);
    orch_store_close(&s);
    ft_buf_destroy(&out);
}

static void test_newer_schema(void)
{
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL);
    sqlite3_close(db);
    orch_store_t s;
    char why[300] = "";
    CHECK(orch_store_open(&s, path, why, sizeof(why)) == -EPROTO && strstr(why, "version 99") != NULL, "newer schema refused: %s", why);
}

int main(void)
{
    snprintf(path, sizeof(path), "/tmp/test_orch-%d.sqlite", (int)getpid());
    test_rules();
    test_store();
    test_newer_schema();
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
        unlink(p);
    }
    return check_report("test_orch");
}
