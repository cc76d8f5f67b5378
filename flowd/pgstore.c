#include "pgstore.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

struct flow_pg {
    PGconn *conn;
    int readonly, retryable;
    uint64_t touched; /* lock buckets the next transaction's batches write to (flow_pg_touch) */
    int sp_pending;   /* the savepoint of an earlier batch of this transaction is still to be released */
    ft_buf_t sql;     /* a batch's statements, reused */
    char err[512];
    ft_buf_t rows; /* a batch as JSON, reused */
};

/* Advisory lock keys: any constants of fabtel's own ("FTFL", "FTFM"). */
#define MIGRATE_LOCK "1179928140"
#define BUCKET_LOCK_CLASS "1179928141"

/*
 * Front ends write the same rows; row locks taken in each batch's order let two transactions deadlock, and
 * PostgreSQL only notices after deadlock_timeout (1 s), stalling both. So a transaction first takes advisory
 * locks on the buckets (hash of the flow key, 64 of them) its batches write to, in ascending order: two
 * transactions with a bucket in common queue at the start instead of deadlocking midway, and transactions
 * with none in common run side by side. Row locks are then never waited for except behind a bucket's holder.
 */
#define LOCK_BUCKETS 64u

static const char *const SCHEMA_V1 =
    "CREATE TABLE IF NOT EXISTS flows(hour bigint NOT NULL, src_app text COLLATE \"C\" NOT NULL,"
    " dest_app text COLLATE \"C\" NOT NULL, vpc_id text COLLATE \"C\" NOT NULL, bytes_rx bigint NOT NULL,"
    " bytes_tx bigint NOT NULL, written_at bigint NOT NULL, PRIMARY KEY(hour, src_app, dest_app, vpc_id));"
    "CREATE TABLE IF NOT EXISTS idempotency(key text COLLATE \"C\" PRIMARY KEY, body_hash bytea NOT NULL,"
    " status integer NOT NULL, answer text NOT NULL, created_at bigint NOT NULL);"
    "CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency(created_at);";

/* The upsert's conflict clause: add the sums, only while they stay within 2^63-1 (else the row is not changed). */
#define UPSERT_CONFLICT                                                                                                           \
    " ON CONFLICT (hour, src_app, dest_app, vpc_id) DO UPDATE SET bytes_rx = flows.bytes_rx + excluded.bytes_rx,"              \
    " bytes_tx = flows.bytes_tx + excluded.bytes_tx, written_at = excluded.written_at"                                        \
    " WHERE flows.bytes_rx <= 9223372036854775807 - excluded.bytes_rx AND flows.bytes_tx <= 9223372036854775807 - excluded.bytes_tx"

int flow_pg_is_url(const char *where)
{
    return where != NULL && (strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0);
}

const char *flow_pg_errmsg(const flow_pg_t *p)
{
    return p->err;
}

int flow_pg_retryable(const flow_pg_t *p)
{
    return p->retryable;
}

/* Keep a failed result's message and class; 0 when the result is one of the ok statuses. */
static int outcome(flow_pg_t *p, PGresult *res, int ok_status)
{
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == (ExecStatusType)ok_status)
        return 0;
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(p->err, sizeof(p->err), "%s", res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(p->conn));
    p->err[strcspn(p->err, "\n")] = '\0';
    p->retryable = state != NULL && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0);
    return state != NULL && strncmp(state, "53100", 5) == 0 ? -ENOSPC : -EIO;
}

/* A statement without parameters or rows wanted. */
static int run(flow_pg_t *p, const char *sql)
{
    PGresult *res = PQexec(p->conn, sql);
    int r = outcome(p, res, PGRES_COMMAND_OK);
    PQclear(res);
    return r;
}

static int session(flow_pg_t *p)
{
    /* Durable after 2xx: the commit is flushed (and replicated when a synchronous standby is configured). */
    return run(p, p->readonly ? "SET synchronous_commit=on; SET client_min_messages=warning; SET default_transaction_read_only=on"
                              : "SET synchronous_commit=on; SET client_min_messages=warning; SET lock_timeout='10s'");
}

/* A lost connection (the server restarted, a failover) is made again before the next use. */
static int connected(flow_pg_t *p)
{
    if (PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    PQreset(p->conn);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        snprintf(p->err, sizeof(p->err), "%s", PQerrorMessage(p->conn));
        p->err[strcspn(p->err, "\n")] = '\0';
        return -EIO;
    }
    return session(p);
}

static int schema_version(flow_pg_t *p, int *v)
{
    PGresult *res = PQexec(p->conn, "SELECT version FROM fabtel_schema WHERE component='flowd'");
    int r = outcome(p, res, PGRES_TUPLES_OK);
    *v = r == 0 && PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return r;
}

/* Bring the schema to `want` under an advisory lock (front ends starting together migrate once). */
static int migrate(flow_pg_t *p, int want, char *why, size_t whysz)
{
    static const char *const steps[] = {SCHEMA_V1};
    int v = 0, r = run(p, "BEGIN");
    if (r == 0) {
        PGresult *res = PQexec(p->conn, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")");
        r = outcome(p, res, PGRES_TUPLES_OK);
        PQclear(res);
    }
    if (r == 0)
        r = run(p, "CREATE TABLE IF NOT EXISTS fabtel_schema(component text PRIMARY KEY, version integer NOT NULL)");
    if (r == 0)
        r = schema_version(p, &v);
    if (r == 0 && v > want) {
        snprintf(why, whysz, "the database's flow schema is version %d, newer than this flowd's %d: refusing to use it", v, want);
        run(p, "ROLLBACK");
        return -EPROTO;
    }
    for (int i = v; r == 0 && i < want && i < (int)(sizeof(steps) / sizeof(steps[0])); i++)
        r = run(p, steps[i]);
    if (r == 0 && v < want) {
        char sql[160];
        snprintf(sql, sizeof(sql), "INSERT INTO fabtel_schema VALUES('flowd', %d) ON CONFLICT (component) DO UPDATE SET version=%d", want, want);
        r = run(p, sql);
    }
    if (r == 0)
        r = run(p, "COMMIT");
    if (r != 0) {
        snprintf(why, whysz, "cannot set up the flow schema: %s", p->err);
        run(p, "ROLLBACK");
    }
    return r;
}

int flow_pg_open(flow_pg_t **out, const char *url, int readonly, int schema_version_want, char *why, size_t whysz)
{
    *out = NULL;
    flow_pg_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    p->readonly = readonly;
    ft_buf_init(&p->rows);
    ft_buf_init(&p->sql);
    /* The URL's own settings win; these only fill in what it leaves out. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "fabtel-flowd", url, NULL};
    p->conn = PQconnectdbParams(keys, vals, 1);
    int r = 0;
    if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK) {
        char *at = strrchr(url, '@'); /* never log a password: the host part only */
        snprintf(why, whysz, "cannot connect to PostgreSQL at %s: %s", at ? at + 1 : url, p->conn ? PQerrorMessage(p->conn) : "out of memory");
        why[strcspn(why, "\n")] = '\0';
        r = -EIO;
    } else if ((r = session(p)) != 0) {
        snprintf(why, whysz, "cannot set up the session: %s", p->err);
    } else if (!readonly) {
        r = migrate(p, schema_version_want, why, whysz);
    }
    if (r != 0) {
        flow_pg_close(p);
        return r;
    }
    *out = p;
    return 0;
}

void flow_pg_close(flow_pg_t *p)
{
    if (p == NULL)
        return;
    if (p->conn != NULL)
        PQfinish(p->conn);
    ft_buf_destroy(&p->rows);
    ft_buf_destroy(&p->sql);
    free(p);
}

static uint32_t bucket_of(const flow_record_t *r)
{
    char key[3 * (FLOW_STR_MAX + 1) + 24];
    int n = snprintf(key, sizeof(key), "%s%c%s%c%s%c%" PRId64, r->src_app, 0, r->dest_app, 0, r->vpc_id, 0, r->hour);
    return ft_shard_of(key, (size_t)n, LOCK_BUCKETS);
}

void flow_pg_touch(flow_pg_t *p, const flow_batch_t *b)
{
    for (size_t i = 0; i < b->n && p->touched != UINT64_MAX; i++)
        p->touched |= 1ULL << bucket_of(&b->rec[i]);
}

/*
 * BEGIN and the touched buckets' locks in ascending order, as one query (one round trip): unnest keeps the
 * array's order and count() takes every row. The touched set is consumed.
 */
static void begin_sql(flow_pg_t *p, char *sql, size_t sz)
{
    size_t o = (size_t)snprintf(sql, sz, "BEGIN");
    if (p->touched != 0) {
        o += (size_t)snprintf(sql + o, sz - o, "; SELECT count(pg_advisory_xact_lock(" BUCKET_LOCK_CLASS ", b)) FROM unnest('{");
        for (uint32_t i = 0, n = 0; i < LOCK_BUCKETS; i++)
            if (p->touched & (1ULL << i))
                o += (size_t)snprintf(sql + o, sz - o, "%s%u", n++ ? "," : "", i);
        snprintf(sql + o, sz - o, "}'::int[]) AS b");
    }
    p->touched = 0;
}

/* A simple query (possibly several statements): 0 when its last result is ok, with or without rows. */
static int run_any(flow_pg_t *p, const char *sql)
{
    PGresult *res = PQexec(p->conn, sql);
    int r = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : outcome(p, res, PGRES_COMMAND_OK);
    PQclear(res);
    return r;
}

/*
 * libpq learns that a server went away (a restart, a failover) only when a statement fails. A BEGIN or a
 * read that fails that way is harmless to repeat, once, on a new connection.
 */
static int lost(flow_pg_t *p)
{
    return PQstatus(p->conn) == CONNECTION_BAD && connected(p) == 0;
}

int flow_pg_begin(flow_pg_t *p)
{
    char sql[LOCK_BUCKETS * 4 + 160];
    begin_sql(p, sql, sizeof(sql));
    p->retryable = 0;
    p->sp_pending = 0;
    int r = connected(p);
    if (r == 0 && (r = run_any(p, sql)) != 0 && lost(p))
        r = run_any(p, sql);
    return r;
}

int flow_pg_commit(flow_pg_t *p)
{
    int r = run(p, "COMMIT");
    /* A COMMIT of a transaction that failed inside answers ROLLBACK without an error: not committed. */
    if (r == 0 && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
        r = -EIO;
    if (r != 0)
        flow_pg_rollback(p);
    return r;
}

void flow_pg_rollback(flow_pg_t *p)
{
    if (PQstatus(p->conn) == CONNECTION_OK && PQtransactionStatus(p->conn) != PQTRANS_IDLE) {
        PGresult *res = PQexec(p->conn, "ROLLBACK");
        PQclear(res);
    }
}

static void hex(char *out, const uint8_t *in, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* A statement with text parameters; the result is left in *res (caller clears) when ok. */
static int exec_params(flow_pg_t *p, const char *sql, int n, const char *const *vals, int ok_status, PGresult **res)
{
    *res = PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0);
    int r = outcome(p, *res, ok_status);
    if (r != 0) {
        PQclear(*res);
        *res = NULL;
    }
    return r;
}

/* A key committed before this batch's claim: its answer (*status, or 422 for another body). -EIO when it is gone. */
static int stored_answer(flow_pg_t *p, const char *key, const char *hash_hex, int *status, ft_buf_t *stored)
{
    const char *k[] = {key};
    PGresult *res;
    int r = exec_params(p, "SELECT encode(body_hash, 'hex'), status, answer FROM idempotency WHERE key=$1", 1, k, PGRES_TUPLES_OK, &res);
    if (r != 0)
        return r;
    if (PQntuples(res) != 1) { /* not claimable yet not stored: a race with its expiry; let the writer run the group again */
        PQclear(res);
        snprintf(p->err, sizeof(p->err), "idempotency key neither new nor stored");
        p->retryable = 1;
        return -EIO;
    }
    if (strcmp(PQgetvalue(res, 0, 0), hash_hex) != 0) {
        *status = 422;
    } else {
        *status = atoi(PQgetvalue(res, 0, 1));
        stored->len = 0;
        ft_buf_append(stored, PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
    }
    PQclear(res);
    return 0;
}

static int batch_json(ft_buf_t *out, const flow_batch_t *b)
{
    out->len = 0;
    out->failed = 0;
    ft_buf_append(out, "[", 1);
    for (size_t i = 0; i < b->n; i++) {
        const flow_record_t *r = &b->rec[i];
        ft_buf_appendf(out, "%s{\"hour\":%" PRId64 ",\"bytes_rx\":%" PRId64 ",\"bytes_tx\":%" PRId64 ",\"src_app\":", i ? "," : "", r->hour,
                       r->bytes_rx, r->bytes_tx);
        ft_json_put_string(out, r->src_app, strlen(r->src_app));
        ft_buf_puts(out, ",\"dest_app\":");
        ft_json_put_string(out, r->dest_app, strlen(r->dest_app));
        ft_buf_puts(out, ",\"vpc_id\":");
        ft_json_put_string(out, r->vpc_id, strlen(r->vpc_id));
        ft_buf_append(out, "}", 1);
    }
    ft_buf_append(out, "]", 1);
    return out->failed ? -ENOMEM : 0;
}

/* s as a quoted SQL literal (libpq's escaping, which knows the connection's encoding), appended to out. */
static int put_literal(flow_pg_t *p, ft_buf_t *out, const char *s, size_t len)
{
    char *lit = PQescapeLiteral(p->conn, s, len);
    if (lit == NULL) {
        snprintf(p->err, sizeof(p->err), "%s", PQerrorMessage(p->conn));
        return -EIO;
    }
    ft_buf_puts(out, lit);
    PQfreemem(lit);
    return 0;
}

/*
 * One round trip per batch: release the previous batch's savepoint (if any), open this one's, and run one
 * statement that claims the key (if any) and, only if it did, upserts every record, returning (claimed,
 * rows changed). The values go as escaped literals because a multi-statement query takes no parameters.
 */
static int batch_sql(flow_pg_t *p, const flow_batch_t *b, const char *key, const char *hash_hex, const ft_buf_t *answer, int64_t now_s)
{
    ft_buf_t *q = &p->sql;
    q->len = 0;
    q->failed = 0;
    int r = batch_json(&p->rows, b);
    if (r != 0)
        return r;
    ft_buf_puts(q, p->sp_pending ? "RELEASE batch; SAVEPOINT batch; WITH " : "SAVEPOINT batch; WITH ");
    if (key != NULL) {
        ft_buf_puts(q, "claim AS (INSERT INTO idempotency VALUES(");
        if ((r = put_literal(p, q, key, strlen(key))) != 0)
            return r;
        ft_buf_appendf(q, ", decode('%s', 'hex'), 201, ", hash_hex);
        if ((r = put_literal(p, q, answer->data, answer->len)) != 0)
            return r;
        ft_buf_appendf(q, ", %" PRId64 ") ON CONFLICT (key) DO NOTHING RETURNING 1), ", now_s);
    }
    ft_buf_puts(q, "up AS (INSERT INTO flows(hour, src_app, dest_app, vpc_id, bytes_rx, bytes_tx, written_at)"
                   " SELECT hour, src_app, dest_app, vpc_id, bytes_rx, bytes_tx, ");
    ft_buf_appendf(q, "%" PRId64 " FROM jsonb_to_recordset(", now_s);
    if ((r = put_literal(p, q, p->rows.data, p->rows.len)) != 0)
        return r;
    ft_buf_puts(q, "::jsonb) AS r(hour bigint, src_app text, dest_app text, vpc_id text, bytes_rx bigint, bytes_tx bigint)");
    if (key != NULL)
        ft_buf_puts(q, " WHERE EXISTS (SELECT 1 FROM claim)");
    ft_buf_puts(q, UPSERT_CONFLICT " RETURNING 1) SELECT ");
    ft_buf_puts(q, key != NULL ? "(SELECT count(*) FROM claim)" : "1");
    ft_buf_append(q, ", (SELECT count(*) FROM up)", 28); /* with its NUL */
    return q->failed ? -ENOMEM : 0;
}

/* Send p->sql and read its results: the last one's (claimed, changed). Negative errno when any failed. */
static int send_batch(flow_pg_t *p, int *claimed, long *changed)
{
    if (!PQsendQuery(p->conn, p->sql.data))
        return outcome(p, NULL, PGRES_COMMAND_OK);
    int r = 0;
    PGresult *res;
    while ((res = PQgetResult(p->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (r == 0 && st == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 2) {
            *claimed = atoi(PQgetvalue(res, 0, 0)) > 0;
            *changed = atol(PQgetvalue(res, 0, 1));
        } else if (r == 0 && st != PGRES_COMMAND_OK) {
            r = outcome(p, res, PGRES_COMMAND_OK);
        }
        PQclear(res);
    }
    return r;
}

int flow_pg_apply(flow_pg_t *p, const flow_batch_t *b, const char *key, const uint8_t hash[32], int64_t now_s, ft_buf_t *answer,
                  int *replayed)
{
    *replayed = 0;
    char tmp[64], hash_hex[65];
    answer->len = 0;
    ft_buf_append(answer, tmp, (size_t)snprintf(tmp, sizeof(tmp), "{\"accepted\":%zu}", b->received));
    hex(hash_hex, hash, 32);
    int claimed = 0, r = batch_sql(p, b, key, hash_hex, answer, now_s);
    long changed = -1;
    if (r == 0)
        r = send_batch(p, &claimed, &changed);
    if (r != 0)
        return r; /* the transaction has failed: the writer rolls it back whole */
    p->sp_pending = 1;
    if (changed < 0) {
        snprintf(p->err, sizeof(p->err), "the batch statement returned no counts");
        return -EIO;
    }
    if (!claimed) { /* committed before by another batch: nothing of this one was written */
        int status = 0;
        if ((r = stored_answer(p, key, hash_hex, &status, answer)) != 0)
            return r;
        *replayed = status != 422;
        return status;
    }
    /* Every record is a distinct key (the parser merged them): each inserts or updates one row unless refused. */
    if ((size_t)changed != b->n) /* nothing of this batch stays (the key's claim neither) */
        return (r = run(p, "ROLLBACK TO batch")) == 0 ? 409 : r;
    return 201;
}

static void put_field(ft_buf_t *out, const char *k, const char *v)
{
    ft_buf_puts(out, k);
    ft_json_put_string(out, v, strlen(v));
}

int flow_pg_read_hour(flow_pg_t *p, int64_t hour, const char *src, const char *dest, const char *vpc, ft_buf_t *out)
{
    char h[24];
    snprintf(h, sizeof(h), "%" PRId64, hour);
    const char *v[] = {h, src, dest, vpc};
    PGresult *res;
    static const char *const sql =
        "SELECT src_app, dest_app, vpc_id, bytes_rx, bytes_tx FROM flows WHERE hour=$1::bigint"
        " AND ($2::text IS NULL OR src_app=$2) AND ($3::text IS NULL OR dest_app=$3) AND ($4::text IS NULL OR vpc_id=$4)"
        " ORDER BY src_app, dest_app, vpc_id";
    int r = connected(p);
    if (r == 0 && (r = exec_params(p, sql, 4, v, PGRES_TUPLES_OK, &res)) != 0 && lost(p))
        r = exec_params(p, sql, 4, v, PGRES_TUPLES_OK, &res);
    if (r != 0)
        return -EIO;
    ft_buf_append(out, "[", 1);
    for (int i = 0, n = PQntuples(res); i < n; i++) {
        put_field(out, i ? ",{\"src_app\":" : "{\"src_app\":", PQgetvalue(res, i, 0));
        put_field(out, ",\"dest_app\":", PQgetvalue(res, i, 1));
        put_field(out, ",\"vpc_id\":", PQgetvalue(res, i, 2));
        ft_buf_appendf(out, ",\"hour\":%" PRId64 ",\"bytes_rx\":%s,\"bytes_tx\":%s}", hour, PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
    }
    ft_buf_append(out, "]", 1);
    PQclear(res);
    return out->failed ? -EIO : 0;
}

int flow_pg_read_hours(flow_pg_t *p, ft_buf_t *out)
{
    PGresult *res;
    static const char *const sql = "SELECT DISTINCT hour FROM flows ORDER BY hour";
    int r = connected(p);
    if (r == 0 && (r = exec_params(p, sql, 0, NULL, PGRES_TUPLES_OK, &res)) != 0 && lost(p))
        r = exec_params(p, sql, 0, NULL, PGRES_TUPLES_OK, &res);
    if (r != 0)
        return -EIO;
    ft_buf_append(out, "[", 1);
    for (int i = 0, n = PQntuples(res); i < n; i++)
        ft_buf_appendf(out, "%s%s", i ? "," : "", PQgetvalue(res, i, 0));
    ft_buf_append(out, "]", 1);
    PQclear(res);
    return out->failed ? -EIO : 0;
}

int flow_pg_expire(flow_pg_t *p, int64_t before_s, int64_t keys_before_s)
{
    char sql[160];
    int r = 0;
    if (before_s > 0) {
        snprintf(sql, sizeof(sql), "DELETE FROM flows WHERE written_at < %" PRId64, before_s);
        r = run(p, sql);
    }
    snprintf(sql, sizeof(sql), "DELETE FROM idempotency WHERE created_at < %" PRId64, keys_before_s);
    return r != 0 ? r : run(p, sql);
}

int flow_pg_retention_index(flow_pg_t *p, int on)
{
    /* Front ends may disagree about retention; an index another one wants is left alone rather than dropped. */
    return on ? run(p, "CREATE INDEX IF NOT EXISTS flows_written ON flows(written_at)") : 0;
}
