/*
 * flowd/store — the flow store: aggregates per (src_app, dest_app, vpc_id,
 * hour), summed on write, in SQLite (WAL, synchronous=FULL), one file in the
 * state directory. flowd is its only writer.
 *
 * Durability: a batch is acknowledged only after the transaction holding it
 * has committed with synchronous=FULL, so a 2xx survives a SIGKILL of any
 * process and a power loss. Several batches may share one transaction (group
 * commit: flowd/writer.h); each is applied inside its own savepoint, so a
 * batch refused for an overflow leaves no trace while the others commit.
 *
 * Schema (versioned by PRAGMA user_version, forward migrations only; a newer
 * file than this build knows is refused):
 *   flows(hour, src_app, dest_app, vpc_id) -> bytes_rx, bytes_tx, written_at
 *   idempotency(key) -> body hash, status, answer, created_at
 * A sum is only added when it stays within 2^63-1 (the upsert's WHERE):
 * SQLite turns an overflowing integer sum into a float silently.
 *
 * PostgreSQL instead (flowd/pgstore.h): where a path is expected, a
 * postgresql:// URL selects it; every call below then goes there, with the
 * same answers. flow_store_shared() tells callers that others write too.
 *
 * Who may call: the writer thread (the write connection) and, with a read
 * connection of its own, the event loop (reads see every committed batch:
 * read your writes). Errors: 0 or a negative errno / HTTP status as said.
 */
#ifndef FLOW_STORE_H
#define FLOW_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "parse.h"
#include "pgstore.h"

#define FLOW_SCHEMA_VERSION 1

typedef struct flow_store {
    sqlite3 *db;
    sqlite3_stmt *put, *key_get, *key_put, *sp_begin, *sp_release, *sp_undo; /* prepared once: they run per batch */
    flow_pg_t *pg; /* non-NULL: the store is PostgreSQL's, db is unused */
} flow_store_t;

/* Open (creating or migrating) the store; readonly: a read connection. -EPROTO for a newer schema, with why. */
int flow_store_open(flow_store_t *s, const char *path, int readonly, char *why, size_t whysz);
/*
 * Retention needs an index on arrival time, which costs every write (about 40 % of the upsert rate): it exists
 * only while retention is on.
 */
int flow_store_retention_index(flow_store_t *s, int on);
/* Cap the store's size (0: none): a write past it fails as a full disk does (507), nothing half-applied.
   SQLite only: -ENOTSUP on PostgreSQL, whose disk space is its operator's to manage. */
int flow_store_limit(flow_store_t *s, uint64_t max_bytes);
void flow_store_close(flow_store_t *s);
/* 1 when other processes may write the same store (PostgreSQL): nothing read may be cached past a request. */
int flow_store_shared(const flow_store_t *s);
/* The last failure, one line (never a password). */
const char *flow_store_errmsg(const flow_store_t *s);
/* 1 when the last failure aborted a transaction that may simply be run again (a deadlock between front ends). */
int flow_store_retryable(const flow_store_t *s);

/* Transactions of the writer. Before begin, touch each batch the transaction will apply (PostgreSQL locks
   what they write up front; SQLite has one writer and ignores it). */
void flow_store_touch(flow_store_t *s, const flow_batch_t *b);
int flow_store_begin(flow_store_t *s);
int flow_store_commit(flow_store_t *s); /* 0, or -ENOSPC (disk full), -EIO */
void flow_store_rollback(flow_store_t *s);

/*
 * One batch inside the open transaction, all or nothing: 201 applied; 409 a sum would pass 2^63-1 (nothing
 * of it applied); with an idempotency key: the first answer again (*replayed = 1) when the key was
 * committed with the same body, 422 when with another. answer (the JSON to send) is filled for 201 and
 * replays. Negative errno on a store failure.
 */
int flow_store_apply(flow_store_t *s, const flow_batch_t *b, const char *key, const uint8_t hash[32], int64_t now_s, ft_buf_t *answer,
                     int *replayed);

/* Reads: GET /flows?hour=N as a JSON array (filters NULL: any); GET /flows/hours. 0 or -EIO. */
int flow_store_read_hour(flow_store_t *s, int64_t hour, const char *src, const char *dest, const char *vpc, ft_buf_t *out);
int flow_store_read_hours(flow_store_t *s, ft_buf_t *out);

/* Retention (writer, inside a transaction): drop aggregates not written to since before_s (0: none); idempotency keys older than keys_before_s. */
int flow_store_expire(flow_store_t *s, int64_t before_s, int64_t keys_before_s);

#endif
