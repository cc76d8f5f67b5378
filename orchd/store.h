/*
 * orchd/store — deployments, their nodes and the events of both, in SQLite
 * (WAL, synchronous=FULL), orchd.sqlite in the state directory. orchd is its
 * only writer, on one thread (its event loop): API writes and lifecycle ticks
 * never run at once.
 *
 * Durability: every write function commits before it returns 0, so an answer
 * sent after it survives a SIGKILL (and a power loss). A write is one
 * transaction: a deployment with its nodes and its event, a deletion with its
 * event, a tick's transitions with theirs; nothing is half-written.
 *
 * Ids of deployments, nodes and events are AUTOINCREMENT: never reused, since
 * events outlive what they name. Times are Unix milliseconds, served as
 * ISO 8601 UTC with Z.
 *
 * Schema (PRAGMA user_version; sqlstore/ runs the forward migrations):
 *   deployments(id, name, description, target_node_count, created_at, updated_at)
 *   nodes(id, deployment_id, node_id "node-001", state, hostname, ip_address, created_at, updated_at,
 *         state_changed_at, in_fabric 0/1, error_noted 0/1)
 *   events(id, deployment_id, node_id, event_type, message, event_metadata JSON, created_at)
 *
 * Who may call: orchd's loop thread. Errors: 0 or a negative errno (-ENOENT
 * no such deployment; -EIO the database failed, logged); `why` where given.
 */
#ifndef ORCH_STORE_H
#define ORCH_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "lifecycle.h"

#define ORCH_SCHEMA_VERSION 1

typedef struct orch_store {
    sqlite3 *db;
    sqlite3_stmt *ev_put, *node_state, *active, *begin, *commit, *rollback;
    uint64_t transitions[ORCH_NSTATES]; /* into each state, since open */
} orch_store_t;

int orch_store_open(orch_store_t *s, const char *path, char *why, size_t whysz);
void orch_store_close(orch_store_t *s);

typedef struct orch_new_deployment {
    const char *name, *description; /* description NULL: null */
    size_t name_len, description_len;
    int64_t target_node_count;
} orch_new_deployment_t;

/* Create a deployment, its nodes (PENDING) and its DEPLOYMENT_CREATED event; out: the deployment's JSON. */
int orch_store_create(orch_store_t *s, const orch_new_deployment_t *d, int64_t now_ms, int64_t *id, ft_buf_t *out);
/* Delete a deployment and its nodes, with a DEPLOYMENT_DELETED event (events stay). -ENOENT when none. */
int orch_store_delete(orch_store_t *s, int64_t id, int64_t now_ms);

/* Reads into out as the API answers them. -ENOENT: no such deployment (events: none ever, and no events). */
int orch_store_list(orch_store_t *s, int64_t skip, int64_t limit, ft_buf_t *out);
int orch_store_get(orch_store_t *s, int64_t id, ft_buf_t *out);
int orch_store_nodes(orch_store_t *s, int64_t id, ft_buf_t *out);
int orch_store_events(orch_store_t *s, int64_t id, int64_t skip, int64_t limit, ft_buf_t *out);

/*
 * One lifecycle tick at now_ms: every node in a timed state that is due makes its transition (orchd/lifecycle.h),
 * all in one transaction, each with a STATE_CHANGE event. *changed: how many.
 */
int orch_store_tick(orch_store_t *s, int64_t now_ms, double scale, uint64_t *changed);

/* An event of its own transaction (deployment or node 0: null). meta: a JSON object or NULL. */
int orch_store_event(orch_store_t *s, int64_t dep, int64_t node, const char *type, const char *message, const char *meta,
                     int64_t now_ms);

/* A node joined (in 1) or left (0) the fabric, with its event (NODE_JOINED_FABRIC), in one transaction. */
int orch_store_set_in_fabric(orch_store_t *s, int64_t node, int in, int64_t now_ms);
/* A provisioning call for a node failed: an ERROR event, once until the node next joins (returns 1 when recorded). */
int orch_store_note_error(orch_store_t *s, int64_t node, const char *why, int64_t now_ms);

/* The nodes in RUNNING (every deployment's, or one's when dep > 0), by id. */
typedef struct orch_node_ref {
    int64_t id, deployment_id;
    int in_fabric;
    char hostname[64];
    char node_id[32]; /* "node-001" */
} orch_node_ref_t;
int orch_store_running(orch_store_t *s, int64_t dep, orch_node_ref_t **out, size_t *n);

/* Counts for /health and /metrics. by_state: nodes per state. */
typedef struct orch_counts {
    int64_t deployments, by_state[ORCH_NSTATES], not_in_fabric; /* not_in_fabric: nodes neither FAILED nor in the fabric */
    int64_t events;
} orch_counts_t;
int orch_store_counts(orch_store_t *s, orch_counts_t *out);

/* Does deployment id exist (1), not (0), or the database failed (-EIO)? */
int orch_store_exists(orch_store_t *s, int64_t id);

/* Drop events older than before_ms. */
int orch_store_expire_events(orch_store_t *s, int64_t before_ms, int64_t *dropped);

#endif
