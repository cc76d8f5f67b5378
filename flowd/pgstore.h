/*
 * flowd/pgstore — the flow store in PostgreSQL (libpq), for several flowd
 * front ends sharing one database: the same tables, answers and errors as
 * the SQLite store (flowd/store.h dispatches here for a postgresql:// URL).
 *
 * Durability: every connection sets synchronous_commit=on, so a batch is
 * acknowledged only after PostgreSQL has flushed its commit (and, with a
 * synchronous standby configured, after the standby has it); PostgreSQL's
 * own group commit merges the commits of many front ends.
 *
 * Idempotency across front ends: a batch with a key first claims the key
 * (INSERT ... ON CONFLICT DO NOTHING, inside the batch's savepoint). Two
 * front ends given the same key at once: the second's insert waits for the
 * first's transaction; if that commits, the claim inserts nothing and the
 * second answers the stored answer (or 422); if it rolls back, the second
 * claims the key itself. So a batch is applied once whichever front end a
 * retry reaches.
 *
 * Order: text columns are COLLATE "C" (byte order, as SQLite sorts) so that
 * reads come back byte for byte as from SQLite. Overflow: a sum is only
 * added while it stays within 2^63-1 (the upsert's WHERE); a batch whose
 * upsert changed fewer rows than it has records is refused whole (409).
 *
 * Concurrency between front ends: a transaction first takes advisory locks
 * on the key buckets it will write, in order (flow_pg_touch, flow_pg_begin),
 * so transactions on the same flows queue instead of deadlocking; should
 * PostgreSQL still abort one (SQLSTATE 40P01, 40001), the writer runs that
 * group again (flow_pg_retryable).
 *
 * Schema: table fabtel_schema(component, version); migrations run under an
 * advisory lock so that front ends starting together migrate once; a newer
 * schema than this build knows is refused (-EPROTO).
 *
 * Who may call: one thread per connection. Errors: 0 or a negative errno
 * (-ENOSPC disk full, -EIO otherwise; details from flow_pg_errmsg), HTTP
 * statuses where said.
 */
#ifndef FLOW_PGSTORE_H
#define FLOW_PGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "parse.h"

typedef struct flow_pg flow_pg_t;

/* 1 when `where` names a PostgreSQL database (postgresql:// or postgres://). */
int flow_pg_is_url(const char *where);

int flow_pg_open(flow_pg_t **out, const char *url, int readonly, int schema_version, char *why, size_t whysz);
void flow_pg_close(flow_pg_t *p);
const char *flow_pg_errmsg(const flow_pg_t *p);
/* 1 when the last failure was a deadlock or a serialization failure: the whole transaction may be run again. */
int flow_pg_retryable(const flow_pg_t *p);

/* Before begin: the next transaction will write b (its bucket locks are taken by begin, see pgstore.c). */
void flow_pg_touch(flow_pg_t *p, const flow_batch_t *b);
int flow_pg_begin(flow_pg_t *p); /* reconnects first when the connection was lost; takes the touched buckets' locks */
int flow_pg_commit(flow_pg_t *p);
void flow_pg_rollback(flow_pg_t *p);

int flow_pg_apply(flow_pg_t *p, const flow_batch_t *b, const char *key, const uint8_t hash[32], int64_t now_s, ft_buf_t *answer,
                  int *replayed);
int flow_pg_read_hour(flow_pg_t *p, int64_t hour, const char *src, const char *dest, const char *vpc, ft_buf_t *out);
int flow_pg_read_hours(flow_pg_t *p, ft_buf_t *out);
int flow_pg_expire(flow_pg_t *p, int64_t before_s, int64_t keys_before_s);
int flow_pg_retention_index(flow_pg_t *p, int on);

#endif
