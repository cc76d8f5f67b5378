#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "sqlstore.h"
#include "util.h"

static const char *const SCHEMA_V1 =
    "CREATE TABLE deployments(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, description TEXT,"
    " target_node_count INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE nodes(id INTEGER PRIMARY KEY AUTOINCREMENT, deployment_id INTEGER NOT NULL, node_id TEXT NOT NULL,"
    " state TEXT NOT NULL, hostname TEXT NOT NULL, ip_address TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " state_changed_at INTEGER NOT NULL, in_fabric INTEGER NOT NULL DEFAULT 0, error_noted INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX nodes_by_deployment ON nodes(deployment_id, id);"
    /* The tick reads only the nodes still moving: a partial index keeps that cheap however many are RUNNING. */
    "CREATE INDEX nodes_moving ON nodes(state) WHERE state IN ('PENDING','PROVISIONING','CONFIGURING');"
    "CREATE INDEX nodes_running ON nodes(state, id) WHERE state = 'RUNNING';"
    "CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, deployment_id INTEGER, node_id INTEGER,"
    " event_type TEXT NOT NULL, message TEXT NOT NULL, event_metadata TEXT, created_at INTEGER NOT NULL);"
    "CREATE INDEX events_by_deployment ON events(deployment_id, id);"
    "CREATE INDEX events_by_time ON events(created_at);";

static int step_done(orch_store_t *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    ft_error("event=store_failed reason=\"%s\"", sqlite3_errmsg(s->db));
    return rc == SQLITE_FULL ? -ENOSPC : -EIO;
}

static int begin(orch_store_t *s)
{
    return step_done(s, s->begin);
}

static int commit(orch_store_t *s)
{
    int r = step_done(s, s->commit);
    if (r != 0)
        step_done(s, s->rollback);
    return r;
}

static int fail(orch_store_t *s, int r)
{
    step_done(s, s->rollback);
    return r;
}

int orch_store_open(orch_store_t *s, const char *path, char *why, size_t whysz)
{
    memset(s, 0, sizeof(*s));
    static const char *const steps[ORCH_SCHEMA_VERSION] = {SCHEMA_V1};
    int r = ft_sql_open(&s->db, path, 1, "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;", why, whysz);
    if (r == 0)
        r = ft_sql_migrate(s->db, steps, ORCH_SCHEMA_VERSION, "orchd", why, whysz);
    if (r == 0 && (ft_sql_prepare(s->db, &s->ev_put, "INSERT INTO events(deployment_id, node_id, event_type, message,"
                                                     " event_metadata, created_at) VALUES(?1,?2,?3,?4,?5,?6)") ||
                   ft_sql_prepare(s->db, &s->node_state, "UPDATE nodes SET state=?2, ip_address=coalesce(?3, ip_address),"
                                                         " updated_at=?4, state_changed_at=?4 WHERE id=?1") ||
                   ft_sql_prepare(s->db, &s->active, "SELECT id, deployment_id, state, state_changed_at FROM nodes"
                                                     " WHERE state IN ('PENDING','PROVISIONING','CONFIGURING') ORDER BY id") ||
                   ft_sql_prepare(s->db, &s->begin, "BEGIN IMMEDIATE") || ft_sql_prepare(s->db, &s->commit, "COMMIT") ||
                   ft_sql_prepare(s->db, &s->rollback, "ROLLBACK"))) {
        snprintf(why, whysz, "%s is not a store this orchd can use: %s", path, sqlite3_errmsg(s->db));
        r = -EPROTO;
    }
    if (r != 0)
        orch_store_close(s);
    return r;
}

void orch_store_close(orch_store_t *s)
{
    sqlite3_stmt *all[] = {s->ev_put, s->node_state, s->active, s->begin, s->commit, s->rollback};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        sqlite3_finalize(all[i]);
    if (s->db != NULL)
        sqlite3_close(s->db);
    memset(s, 0, sizeof(*s));
}

/* ---- JSON ---- */

static void put_time(ft_buf_t *b, int64_t ms)
{
    char t[32];
    size_t n = ft_fmt_iso8601(t, (uint64_t)ms * 1000000ULL);
    ft_buf_append(b, "\"", 1);
    ft_buf_append(b, t, n);
    ft_buf_append(b, "\"", 1);
}

/* A text column as a JSON string, or null. */
static void put_text(ft_buf_t *b, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        ft_buf_puts(b, "null");
    else
        ft_json_put_string(b, (const char *)sqlite3_column_text(st, col), (size_t)sqlite3_column_bytes(st, col));
}

/* An integer column, or null. */
static void put_int(ft_buf_t *b, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        ft_buf_puts(b, "null");
    else
        ft_buf_appendf(b, "%" PRId64, (int64_t)sqlite3_column_int64(st, col));
}

#define DEPLOYMENT_COLS "d.id, d.name, d.description, d.target_node_count, d.created_at, d.updated_at"

static void put_deployment(ft_buf_t *b, sqlite3_stmt *st, int with_count)
{
    ft_buf_appendf(b, "{\"id\":%" PRId64 ",\"name\":", (int64_t)sqlite3_column_int64(st, 0));
    put_text(b, st, 1);
    ft_buf_puts(b, ",\"description\":");
    put_text(b, st, 2);
    ft_buf_appendf(b, ",\"target_node_count\":%" PRId64 ",\"created_at\":", (int64_t)sqlite3_column_int64(st, 3));
    put_time(b, sqlite3_column_int64(st, 4));
    ft_buf_puts(b, ",\"updated_at\":");
    put_time(b, sqlite3_column_int64(st, 5));
    if (with_count)
        ft_buf_appendf(b, ",\"current_node_count\":%" PRId64, (int64_t)sqlite3_column_int64(st, 6));
    ft_buf_puts(b, "}");
}

static int prep(orch_store_t *s, sqlite3_stmt **st, const char *sql)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK)
        return 0;
    ft_error("event=store_failed reason=\"%s\"", sqlite3_errmsg(s->db));
    return -EIO;
}

/* Run st to its end; -EIO when a step failed. Finalizes st. */
static int finish(orch_store_t *s, sqlite3_stmt *st, int rc)
{
    int r = rc == SQLITE_DONE ? 0 : -EIO;
    if (r != 0)
        ft_error("event=store_failed reason=\"%s\"", sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    return r;
}

/* ---- writes ---- */

static int put_event(orch_store_t *s, int64_t dep, int64_t node, const char *type, const char *message, const char *meta, int64_t now)
{
    sqlite3_stmt *st = s->ev_put;
    if (dep > 0)
        sqlite3_bind_int64(st, 1, dep);
    else
        sqlite3_bind_null(st, 1);
    if (node > 0)
        sqlite3_bind_int64(st, 2, node);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, message, -1, SQLITE_TRANSIENT);
    if (meta != NULL)
        sqlite3_bind_text(st, 5, meta, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int64(st, 6, now);
    int r = step_done(s, st);
    sqlite3_clear_bindings(st);
    return r;
}

static int create_nodes(orch_store_t *s, int64_t dep, int64_t count, int64_t now)
{
    sqlite3_stmt *st;
    if (prep(s, &st, "INSERT INTO nodes(deployment_id, node_id, state, hostname, created_at, updated_at, state_changed_at)"
                     " VALUES(?1,?2,'PENDING',?3,?4,?4,?4)") != 0)
        return -EIO;
    int r = 0;
    for (int64_t i = 1; i <= count && r == 0; i++) {
        char node_id[32], host[64];
        orch_node_name(i, node_id, sizeof(node_id));
        orch_hostname(dep, i, host, sizeof(host));
        sqlite3_bind_int64(st, 1, dep);
        sqlite3_bind_text(st, 2, node_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, host, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, now);
        r = step_done(s, st);
    }
    sqlite3_finalize(st);
    return r;
}

int orch_store_create(orch_store_t *s, const orch_new_deployment_t *d, int64_t now_ms, int64_t *id, ft_buf_t *out)
{
    sqlite3_stmt *st;
    int r = begin(s);
    if (r != 0)
        return r;
    if (prep(s, &st, "INSERT INTO deployments(name, description, target_node_count, created_at, updated_at) VALUES(?1,?2,?3,?4,?4)"
                     " RETURNING id, name, description, target_node_count, created_at, updated_at") != 0)
        return fail(s, -EIO);
    sqlite3_bind_text(st, 1, d->name, (int)d->name_len, SQLITE_STATIC);
    if (d->description != NULL)
        sqlite3_bind_text(st, 2, d->description, (int)d->description_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, d->target_node_count);
    sqlite3_bind_int64(st, 4, now_ms);
    if (sqlite3_step(st) != SQLITE_ROW) {
        finish(s, st, SQLITE_ERROR);
        return fail(s, -EIO);
    }
    *id = sqlite3_column_int64(st, 0);
    out->len = 0;
    put_deployment(out, st, 0);
    finish(s, st, sqlite3_step(st));
    char msg[400];
    snprintf(msg, sizeof(msg), "Deployment '%.*s' created with %" PRId64 " nodes", (int)(d->name_len > 300 ? 300 : d->name_len), d->name,
             d->target_node_count);
    if ((r = create_nodes(s, *id, d->target_node_count, now_ms)) != 0 ||
        (r = put_event(s, *id, 0, "DEPLOYMENT_CREATED", msg, NULL, now_ms)) != 0)
        return fail(s, r);
    return commit(s);
}

int orch_store_delete(orch_store_t *s, int64_t id, int64_t now_ms)
{
    int r = begin(s);
    if (r != 0)
        return r;
    sqlite3_stmt *st;
    if (prep(s, &st, "DELETE FROM deployments WHERE id=?1 RETURNING name") != 0)
        return fail(s, -EIO);
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        finish(s, st, SQLITE_DONE);
        fail(s, 0);
        return -ENOENT;
    }
    char msg[400];
    snprintf(msg, sizeof(msg), "Deployment '%.300s' deleted", (const char *)sqlite3_column_text(st, 0));
    finish(s, st, sqlite3_step(st));
    if (prep(s, &st, "DELETE FROM nodes WHERE deployment_id=?1") != 0)
        return fail(s, -EIO);
    sqlite3_bind_int64(st, 1, id);
    if ((r = finish(s, st, sqlite3_step(st))) != 0 || (r = put_event(s, id, 0, "DEPLOYMENT_DELETED", msg, NULL, now_ms)) != 0)
        return fail(s, r);
    return commit(s);
}

int orch_store_event(orch_store_t *s, int64_t dep, int64_t node, const char *type, const char *message, const char *meta, int64_t now_ms)
{
    int r = begin(s);
    if (r == 0 && (r = put_event(s, dep, node, type, message, meta, now_ms)) != 0)
        return fail(s, r);
    return r == 0 ? commit(s) : r;
}

/* ---- the lifecycle tick ---- */

typedef struct move {
    int64_t id, dep;
    int from, to;
} move_t;

/* The transitions due at now (read before any write, so each node moves at most once). */
static int due_moves(orch_store_t *s, int64_t now, double scale, move_t **out, size_t *n)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc;
    while ((rc = sqlite3_step(s->active)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s->active, 0), dep = sqlite3_column_int64(s->active, 1);
        int from = orch_state_parse((const char *)sqlite3_column_text(s->active, 2));
        int to = from < 0 ? -1 : orch_next_state(id, dep, (orch_state_t)from, sqlite3_column_int64(s->active, 3), now, scale);
        if (to < 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            move_t *p = realloc(*out, cap * sizeof(*p));
            if (p == NULL) {
                sqlite3_reset(s->active);
                return -ENOMEM;
            }
            *out = p;
        }
        (*out)[(*n)++] = (move_t){id, dep, from, to};
    }
    sqlite3_reset(s->active);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static int apply_move(orch_store_t *s, const move_t *m, int64_t now)
{
    char ip[20], msg[160], meta[120];
    int have_ip = m->to == ORCH_PROVISIONING && orch_ip_address(m->id, ip, sizeof(ip)) == 0;
    int to = m->to;
    if (m->to == ORCH_PROVISIONING && !have_ip)
        to = ORCH_FAILED; /* no address left in 10.0.0.0/8 for this id: provisioning cannot start */
    sqlite3_bind_int64(s->node_state, 1, m->id);
    sqlite3_bind_text(s->node_state, 2, orch_state_name((orch_state_t)to), -1, SQLITE_STATIC);
    if (have_ip)
        sqlite3_bind_text(s->node_state, 3, ip, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s->node_state, 3);
    sqlite3_bind_int64(s->node_state, 4, now);
    int r = step_done(s, s->node_state);
    sqlite3_clear_bindings(s->node_state);
    if (r != 0)
        return r;
    snprintf(msg, sizeof(msg), "Node %" PRId64 " transitioned from %s to %s", m->id, orch_state_name((orch_state_t)m->from),
             orch_state_name((orch_state_t)to));
    snprintf(meta, sizeof(meta), "{\"from\":\"%s\",\"to\":\"%s\"}", orch_state_name((orch_state_t)m->from), orch_state_name((orch_state_t)to));
    if ((r = put_event(s, m->dep, m->id, "STATE_CHANGE", msg, meta, now)) != 0)
        return r;
    if (to != m->to)
        r = put_event(s, m->dep, m->id, "ERROR", "no IPv4 address left in 10.0.0.0/8 for this node id", NULL, now);
    return r;
}

int orch_store_tick(orch_store_t *s, int64_t now_ms, double scale, uint64_t *changed)
{
    *changed = 0;
    int r = begin(s);
    if (r != 0)
        return r;
    move_t *moves;
    size_t n;
    if ((r = due_moves(s, now_ms, scale, &moves, &n)) != 0) {
        free(moves);
        return fail(s, r);
    }
    for (size_t i = 0; i < n && r == 0; i++)
        r = apply_move(s, &moves[i], now_ms);
    if (r == 0 && (r = commit(s)) == 0) {
        for (size_t i = 0; i < n; i++)
            s->transitions[moves[i].to]++;
        *changed = n;
    } else if (r != 0) {
        fail(s, r);
    }
    free(moves);
    return r;
}

int orch_store_set_in_fabric(orch_store_t *s, int64_t node, int in, int64_t now_ms)
{
    int r = begin(s);
    if (r != 0)
        return r;
    sqlite3_stmt *st;
    if (prep(s, &st, "UPDATE nodes SET in_fabric=?2, error_noted=0, updated_at=?3 WHERE id=?1 RETURNING deployment_id, hostname") != 0)
        return fail(s, -EIO);
    sqlite3_bind_int64(st, 1, node);
    sqlite3_bind_int(st, 2, in);
    sqlite3_bind_int64(st, 3, now_ms);
    char msg[160];
    int64_t dep = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        dep = sqlite3_column_int64(st, 0);
        snprintf(msg, sizeof(msg), "Node %" PRId64 " joined the fabric as %.63s", node, (const char *)sqlite3_column_text(st, 1));
    }
    finish(s, st, sqlite3_step(st));
    if (dep > 0 && in && (r = put_event(s, dep, node, "NODE_JOINED_FABRIC", msg, NULL, now_ms)) != 0)
        return fail(s, r);
    return commit(s);
}

int orch_store_note_error(orch_store_t *s, int64_t node, const char *why, int64_t now_ms)
{
    int r = begin(s);
    if (r != 0)
        return r;
    sqlite3_stmt *st;
    if (prep(s, &st, "UPDATE nodes SET error_noted=1 WHERE id=?1 AND error_noted=0 RETURNING deployment_id") != 0)
        return fail(s, -EIO);
    sqlite3_bind_int64(st, 1, node);
    int64_t dep = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    finish(s, st, sqlite3_step(st));
    if (dep > 0 && (r = put_event(s, dep, node, "ERROR", why, NULL, now_ms)) != 0)
        return fail(s, r);
    r = commit(s);
    return r == 0 ? dep > 0 : r;
}

/* ---- reads ---- */

int orch_store_list(orch_store_t *s, int64_t skip, int64_t limit, ft_buf_t *out)
{
    sqlite3_stmt *st;
    if (prep(s, &st, "SELECT " DEPLOYMENT_COLS " FROM deployments d ORDER BY d.id DESC LIMIT ?1 OFFSET ?2") != 0)
        return -EIO;
    sqlite3_bind_int64(st, 1, limit);
    sqlite3_bind_int64(st, 2, skip);
    out->len = 0;
    ft_buf_puts(out, "[");
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++)
            ft_buf_puts(out, ",");
        put_deployment(out, st, 0);
    }
    ft_buf_puts(out, "]");
    return finish(s, st, rc);
}

int orch_store_get(orch_store_t *s, int64_t id, ft_buf_t *out)
{
    sqlite3_stmt *st;
    if (prep(s, &st, "SELECT " DEPLOYMENT_COLS ", (SELECT count(*) FROM nodes WHERE deployment_id=d.id)"
                     " FROM deployments d WHERE d.id=?1") != 0)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        finish(s, st, rc);
        return rc == SQLITE_DONE ? -ENOENT : -EIO;
    }
    out->len = 0;
    put_deployment(out, st, 1);
    return finish(s, st, sqlite3_step(st));
}

int orch_store_exists(orch_store_t *s, int64_t id)
{
    sqlite3_stmt *st;
    if (prep(s, &st, "SELECT 1 FROM deployments WHERE id=?1") != 0)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

static void put_node(ft_buf_t *b, sqlite3_stmt *st)
{
    ft_buf_appendf(b, "{\"id\":%" PRId64 ",\"deployment_id\":%" PRId64 ",\"node_id\":", (int64_t)sqlite3_column_int64(st, 0),
                   (int64_t)sqlite3_column_int64(st, 1));
    put_text(b, st, 2);
    ft_buf_puts(b, ",\"state\":");
    put_text(b, st, 3);
    ft_buf_puts(b, ",\"hostname\":");
    put_text(b, st, 4);
    ft_buf_puts(b, ",\"ip_address\":");
    put_text(b, st, 5);
    ft_buf_puts(b, ",\"created_at\":");
    put_time(b, sqlite3_column_int64(st, 6));
    ft_buf_puts(b, ",\"updated_at\":");
    put_time(b, sqlite3_column_int64(st, 7));
    ft_buf_puts(b, ",\"state_changed_at\":");
    put_time(b, sqlite3_column_int64(st, 8));
    ft_buf_puts(b, "}");
}

int orch_store_nodes(orch_store_t *s, int64_t id, ft_buf_t *out)
{
    int e = orch_store_exists(s, id);
    if (e <= 0)
        return e == 0 ? -ENOENT : e;
    sqlite3_stmt *st;
    if (prep(s, &st, "SELECT id, deployment_id, node_id, state, hostname, ip_address, created_at, updated_at, state_changed_at"
                     " FROM nodes WHERE deployment_id=?1 ORDER BY id") != 0)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    out->len = 0;
    ft_buf_puts(out, "{\"nodes\":[");
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++)
            ft_buf_puts(out, ",");
        put_node(out, st);
    }
    ft_buf_appendf(out, "],\"total\":%d}", n);
    return finish(s, st, rc);
}

static int64_t count_of(orch_store_t *s, const char *sql, int64_t arg)
{
    sqlite3_stmt *st;
    if (prep(s, &st, sql) != 0)
        return -EIO;
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, arg);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -EIO;
    sqlite3_finalize(st);
    return n;
}

static void put_event_json(ft_buf_t *b, sqlite3_stmt *st)
{
    ft_buf_appendf(b, "{\"id\":%" PRId64 ",\"deployment_id\":", (int64_t)sqlite3_column_int64(st, 0));
    put_int(b, st, 1);
    ft_buf_puts(b, ",\"node_id\":");
    put_int(b, st, 2);
    ft_buf_puts(b, ",\"event_type\":");
    put_text(b, st, 3);
    ft_buf_puts(b, ",\"message\":");
    put_text(b, st, 4);
    ft_buf_puts(b, ",\"event_metadata\":");
    if (sqlite3_column_type(st, 5) == SQLITE_NULL) /* orchd wrote it: a JSON object */
        ft_buf_puts(b, "null");
    else
        ft_buf_append(b, sqlite3_column_text(st, 5), (size_t)sqlite3_column_bytes(st, 5));
    ft_buf_puts(b, ",\"created_at\":");
    put_time(b, sqlite3_column_int64(st, 6));
    ft_buf_puts(b, "}");
}

int orch_store_events(orch_store_t *s, int64_t id, int64_t skip, int64_t limit, ft_buf_t *out)
{
    int64_t total = count_of(s, "SELECT count(*) FROM events WHERE deployment_id=?1", id);
    if (total < 0)
        return (int)total;
    if (total == 0) {
        int e = orch_store_exists(s, id);
        if (e <= 0)
            return e == 0 ? -ENOENT : e;
    }
    sqlite3_stmt *st;
    if (prep(s, &st, "SELECT id, deployment_id, node_id, event_type, message, event_metadata, created_at FROM events"
                     " WHERE deployment_id=?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3") != 0)
        return -EIO;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, limit);
    sqlite3_bind_int64(st, 3, skip);
    out->len = 0;
    ft_buf_puts(out, "{\"events\":[");
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++)
            ft_buf_puts(out, ",");
        put_event_json(out, st);
    }
    ft_buf_appendf(out, "],\"total\":%" PRId64 "}", total);
    return finish(s, st, rc);
}

int orch_store_running(orch_store_t *s, int64_t dep, orch_node_ref_t **out, size_t *n)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    if (prep(s, &st, dep > 0 ? "SELECT id, deployment_id, in_fabric, hostname, node_id FROM nodes WHERE state='RUNNING' AND deployment_id=?1 ORDER BY id"
                             : "SELECT id, deployment_id, in_fabric, hostname, node_id FROM nodes WHERE state='RUNNING' ORDER BY id") != 0)
        return -EIO;
    if (dep > 0)
        sqlite3_bind_int64(st, 1, dep);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            orch_node_ref_t *p = realloc(*out, cap * sizeof(*p));
            if (p == NULL) {
                sqlite3_finalize(st);
                return -ENOMEM;
            }
            *out = p;
        }
        orch_node_ref_t *r = &(*out)[(*n)++];
        r->id = sqlite3_column_int64(st, 0);
        r->deployment_id = sqlite3_column_int64(st, 1);
        r->in_fabric = sqlite3_column_int(st, 2);
        snprintf(r->hostname, sizeof(r->hostname), "%s", (const char *)sqlite3_column_text(st, 3));
        snprintf(r->node_id, sizeof(r->node_id), "%s", (const char *)sqlite3_column_text(st, 4));
    }
    return finish(s, st, rc);
}

int orch_store_counts(orch_store_t *s, orch_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    out->deployments = count_of(s, "SELECT count(*) FROM deployments", 0);
    out->events = count_of(s, "SELECT count(*) FROM events", 0);
    out->not_in_fabric = count_of(s, "SELECT count(*) FROM nodes WHERE state != 'FAILED' AND in_fabric=0", 0);
    sqlite3_stmt *st;
    if (out->deployments < 0 || out->not_in_fabric < 0 || prep(s, &st, "SELECT state, count(*) FROM nodes GROUP BY state") != 0)
        return -EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int k = orch_state_parse((const char *)sqlite3_column_text(st, 0));
        if (k >= 0)
            out->by_state[k] = sqlite3_column_int64(st, 1);
    }
    return finish(s, st, rc);
}

int orch_store_expire_events(orch_store_t *s, int64_t before_ms, int64_t *dropped)
{
    sqlite3_stmt *st;
    *dropped = 0;
    if (prep(s, &st, "DELETE FROM events WHERE created_at < ?1") != 0)
        return -EIO;
    sqlite3_bind_int64(st, 1, before_ms);
    int r = finish(s, st, sqlite3_step(st));
    if (r == 0)
        *dropped = sqlite3_changes64(s->db);
    return r;
}
