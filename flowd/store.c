#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "sqlstore.h"

static const char *const SCHEMA_V1 =
    "CREATE TABLE IF NOT EXISTS flows(hour INTEGER NOT NULL, src_app TEXT NOT NULL, dest_app TEXT NOT NULL,"
    " vpc_id TEXT NOT NULL, bytes_rx INTEGER NOT NULL, bytes_tx INTEGER NOT NULL, written_at INTEGER NOT NULL,"
    " PRIMARY KEY(hour, src_app, dest_app, vpc_id)) WITHOUT ROWID;"

    "CREATE TABLE IF NOT EXISTS idempotency(key TEXT PRIMARY KEY, body_hash BLOB NOT NULL, status INTEGER NOT NULL,"
    " answer TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;";

static int exec_sql(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static int prepare(flow_store_t *s, sqlite3_stmt **st, const char *sql)
{
    return ft_sql_prepare(s->db, st, sql);
}

int flow_store_open(flow_store_t *s, const char *path, int readonly, char *why, size_t whysz)
{
    memset(s, 0, sizeof(*s));
    if (flow_pg_is_url(path))
        return flow_pg_open(&s->pg, path, readonly, FLOW_SCHEMA_VERSION, why, whysz);
    /* A read connection opens read-write and refuses writes (query_only): WAL readers need the -shm file.
       The writer checkpoints every 16,384 pages (64 MiB of WAL) rather than 1,000: a checkpoint fsyncs the database
       inside a commit, and doing it 16 times less often is worth about 15 % of the upsert rate. */
    const char *pragmas = readonly ? "PRAGMA query_only=1;" : "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;PRAGMA cache_size=-65536;PRAGMA wal_autocheckpoint=16384;";
    static const char *const steps[FLOW_SCHEMA_VERSION] = {SCHEMA_V1};
    int r = ft_sql_open(&s->db, path, !readonly, pragmas, why, whysz);
    if (r == 0 && !readonly)
        r = ft_sql_migrate(s->db, steps, FLOW_SCHEMA_VERSION, "flowd", why, whysz);
    if (r == 0 &&
        (/* One statement per record: the sums are added only when neither passes 2^63-1 (SQLite would silently turn
            an overflowing integer sum into a float); a conflict whose WHERE fails changes no row, and that says 409. */
         (!readonly && prepare(s, &s->put, "INSERT INTO flows VALUES(?1,?2,?3,?4,?5,?6,?7) ON CONFLICT DO UPDATE SET"
                                           " bytes_rx=bytes_rx+excluded.bytes_rx, bytes_tx=bytes_tx+excluded.bytes_tx,"
                                           " written_at=excluded.written_at"
                                           " WHERE bytes_rx <= 9223372036854775807 - excluded.bytes_rx"
                                           " AND bytes_tx <= 9223372036854775807 - excluded.bytes_tx")) ||
         (!readonly && prepare(s, &s->key_get, "SELECT body_hash, status, answer FROM idempotency WHERE key=?1")) ||
         (!readonly && prepare(s, &s->key_put, "INSERT INTO idempotency VALUES(?1,?2,?3,?4,?5)")) ||
         (!readonly && prepare(s, &s->sp_begin, "SAVEPOINT batch")) || (!readonly && prepare(s, &s->sp_release, "RELEASE batch")) ||
         (!readonly && prepare(s, &s->sp_undo, "ROLLBACK TO batch")))) {
        snprintf(why, whysz, "%s is not a flow store this flowd can use: %s", path, sqlite3_errmsg(s->db));
        r = -EPROTO;
    }
    if (r != 0)
        flow_store_close(s);
    return r;
}

int flow_store_shared(const flow_store_t *s)
{
    return s->pg != NULL;
}

const char *flow_store_errmsg(const flow_store_t *s)
{
    return s->pg != NULL ? flow_pg_errmsg(s->pg) : s->db != NULL ? sqlite3_errmsg(s->db) : "not open";
}

int flow_store_retryable(const flow_store_t *s)
{
    return s->pg != NULL && flow_pg_retryable(s->pg);
}

int flow_store_retention_index(flow_store_t *s, int on)
{
    if (s->pg != NULL)
        return flow_pg_retention_index(s->pg, on);
    return exec_sql(s->db, on ? "CREATE INDEX IF NOT EXISTS flows_written ON flows(written_at)" : "DROP INDEX IF EXISTS flows_written");
}

int flow_store_limit(flow_store_t *s, uint64_t max_bytes)
{
    if (max_bytes == 0)
        return 0;
    if (s->pg != NULL)
        return -ENOTSUP;
    char sql[96];
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%llu", (unsigned long long)(max_bytes / 4096 + 1));
    return sqlite3_exec(s->db, "PRAGMA page_size=4096", NULL, NULL, NULL) == SQLITE_OK &&
                   sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : -EIO;
}

void flow_store_close(flow_store_t *s)
{
    flow_pg_close(s->pg);
    sqlite3_finalize(s->put);
    sqlite3_finalize(s->key_get);
    sqlite3_finalize(s->key_put);
    sqlite3_finalize(s->sp_begin);
    sqlite3_finalize(s->sp_release);
    sqlite3_finalize(s->sp_undo);
    if (s->db != NULL)
        sqlite3_close(s->db);
    memset(s, 0, sizeof(*s));
}

static int exec(flow_store_t *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : rc == SQLITE_FULL ? -ENOSPC : -EIO;
}

/* One run of a prepared statement that returns no rows. */
static int step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : rc == SQLITE_FULL ? -ENOSPC : -EIO;
}

void flow_store_touch(flow_store_t *s, const flow_batch_t *b)
{
    if (s->pg != NULL)
        flow_pg_touch(s->pg, b);
}

int flow_store_begin(flow_store_t *s)
{
    return s->pg != NULL ? flow_pg_begin(s->pg) : exec(s, "BEGIN IMMEDIATE");
}

int flow_store_commit(flow_store_t *s)
{
    if (s->pg != NULL)
        return flow_pg_commit(s->pg);
    int r = exec(s, "COMMIT");
    if (r != 0)
        flow_store_rollback(s);
    return r;
}

void flow_store_rollback(flow_store_t *s)
{
    if (s->pg != NULL)
        return flow_pg_rollback(s->pg);
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static void bind_key(sqlite3_stmt *st, const flow_record_t *r)
{
    sqlite3_bind_int64(st, 1, r->hour);
    sqlite3_bind_text(st, 2, r->src_app, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->dest_app, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->vpc_id, -1, SQLITE_STATIC);
}

/* Add r to what is stored: 0, 409 when a sum would pass 2^63-1 (nothing changed), -ENOSPC, -EIO. */
static int put(flow_store_t *s, const flow_record_t *r, int64_t now_s)
{
    sqlite3_reset(s->put);
    bind_key(s->put, r);
    sqlite3_bind_int64(s->put, 5, r->bytes_rx);
    sqlite3_bind_int64(s->put, 6, r->bytes_tx);
    sqlite3_bind_int64(s->put, 7, now_s);
    int rc = sqlite3_step(s->put);
    sqlite3_reset(s->put);
    if (rc == SQLITE_DONE)
        return sqlite3_changes(s->db) == 1 ? 0 : 409;
    return rc == SQLITE_FULL ? -ENOSPC : -EIO;
}

/* A committed key: 1 with the stored answer (or 422 in *status for another body), 0 when new, -EIO. */
static int key_seen(flow_store_t *s, const char *key, const uint8_t hash[32], ft_buf_t *answer, int *status)
{
    sqlite3_reset(s->key_get);
    sqlite3_bind_text(s->key_get, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s->key_get), found = 0;
    if (rc == SQLITE_ROW) {
        found = 1;
        const void *h = sqlite3_column_blob(s->key_get, 0);
        if (sqlite3_column_bytes(s->key_get, 0) != 32 || memcmp(h, hash, 32) != 0) {
            *status = 422;
        } else {
            *status = sqlite3_column_int(s->key_get, 1);
            answer->len = 0;
            ft_buf_append(answer, (const char *)sqlite3_column_text(s->key_get, 2), (size_t)sqlite3_column_bytes(s->key_get, 2));
        }
    } else if (rc != SQLITE_DONE) {
        found = -EIO;
    }
    sqlite3_reset(s->key_get);
    return found;
}

static int key_store(flow_store_t *s, const char *key, const uint8_t hash[32], int status, const ft_buf_t *answer, int64_t now_s)
{
    sqlite3_reset(s->key_put);
    sqlite3_bind_text(s->key_put, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s->key_put, 2, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int(s->key_put, 3, status);
    sqlite3_bind_text(s->key_put, 4, answer->data, (int)answer->len, SQLITE_STATIC);
    sqlite3_bind_int64(s->key_put, 5, now_s);
    int rc = sqlite3_step(s->key_put);
    sqlite3_reset(s->key_put);
    return rc == SQLITE_DONE ? 0 : rc == SQLITE_FULL ? -ENOSPC : -EIO;
}

int flow_store_apply(flow_store_t *s, const flow_batch_t *b, const char *key, const uint8_t hash[32], int64_t now_s, ft_buf_t *answer,
                     int *replayed)
{
    if (s->pg != NULL)
        return flow_pg_apply(s->pg, b, key, hash, now_s, answer, replayed);
    *replayed = 0;
    int status = 0;
    if (key != NULL) {
        int seen = key_seen(s, key, hash, answer, &status);
        if (seen < 0)
            return seen;
        if (seen) {
            *replayed = status != 422;
            return status;
        }
    }
    int r = step(s->sp_begin);
    for (size_t i = 0; r == 0 && i < b->n; i++)
        r = put(s, &b->rec[i], now_s);
    if (r == 0) {
        char tmp[64];
        answer->len = 0;
        ft_buf_append(answer, tmp, (size_t)snprintf(tmp, sizeof(tmp), "{\"accepted\":%zu}", b->received));
        if (key != NULL)
            r = key_store(s, key, hash, 201, answer, now_s);
    }
    if (r != 0) {
        step(s->sp_undo); /* nothing of this batch stays */
        step(s->sp_release);
        return r;
    }
    return step(s->sp_release) == 0 ? 201 : -EIO;
}

static void put_str(ft_buf_t *out, const char *k, const unsigned char *v)
{
    ft_buf_puts(out, k);
    ft_json_put_string(out, (const char *)v, strlen((const char *)v));
}

int flow_store_read_hour(flow_store_t *s, int64_t hour, const char *src, const char *dest, const char *vpc, ft_buf_t *out)
{
    if (s->pg != NULL)
        return flow_pg_read_hour(s->pg, hour, src, dest, vpc, out);
    sqlite3_stmt *st;
    const char *sql = "SELECT src_app, dest_app, vpc_id, bytes_rx, bytes_tx FROM flows WHERE hour=?1"
                      " AND (?2 IS NULL OR src_app=?2) AND (?3 IS NULL OR dest_app=?3) AND (?4 IS NULL OR vpc_id=?4)"
                      " ORDER BY src_app, dest_app, vpc_id";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_int64(st, 1, hour);
    const char *f[3] = {src, dest, vpc};
    for (int i = 0; i < 3; i++)
        if (f[i] != NULL)
            sqlite3_bind_text(st, i + 2, f[i], -1, SQLITE_STATIC);
    ft_buf_append(out, "[", 1);
    int rc, n = 0;
    char tmp[96];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        put_str(out, n++ ? ",{\"src_app\":" : "{\"src_app\":", sqlite3_column_text(st, 0));
        put_str(out, ",\"dest_app\":", sqlite3_column_text(st, 1));
        put_str(out, ",\"vpc_id\":", sqlite3_column_text(st, 2));
        ft_buf_append(out, tmp, (size_t)snprintf(tmp, sizeof(tmp), ",\"hour\":%" PRId64 ",\"bytes_rx\":%lld,\"bytes_tx\":%lld}", hour,
                                                 (long long)sqlite3_column_int64(st, 3), (long long)sqlite3_column_int64(st, 4)));
    }
    ft_buf_append(out, "]", 1);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE && !out->failed ? 0 : -EIO;
}

int flow_store_read_hours(flow_store_t *s, ft_buf_t *out)
{
    if (s->pg != NULL)
        return flow_pg_read_hours(s->pg, out);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT DISTINCT hour FROM flows ORDER BY hour", -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    ft_buf_append(out, "[", 1);
    int rc, n = 0;
    char tmp[32];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ft_buf_append(out, tmp, (size_t)snprintf(tmp, sizeof(tmp), "%s%lld", n++ ? "," : "", (long long)sqlite3_column_int64(st, 0)));
    ft_buf_append(out, "]", 1);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE && !out->failed ? 0 : -EIO;
}

int flow_store_expire(flow_store_t *s, int64_t before_s, int64_t keys_before_s)
{
    if (s->pg != NULL)
        return flow_pg_expire(s->pg, before_s, keys_before_s);
    char sql[160];
    if (before_s > 0) /* (retention off: no scan of the flows at all) */
        snprintf(sql, sizeof(sql), "DELETE FROM flows WHERE written_at < %lld; DELETE FROM idempotency WHERE created_at < %lld;",
                 (long long)before_s, (long long)keys_before_s);
    else
        snprintf(sql, sizeof(sql), "DELETE FROM idempotency WHERE created_at < %lld;", (long long)keys_before_s);
    return exec(s, sql);
}
