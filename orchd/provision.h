/*
 * orchd/provision — the provisioner: makes the fabric carry exactly the
 * nodes that are RUNNING. Two kinds:
 *   none      states only (a real fabric managed elsewhere): nothing is called;
 *   producer  the simulated fabric's control API (producer/server.h):
 *             GET /switches (with If-None-Match), PUT /switches/{hostname}
 *             {"node_id": id}, DELETE /switches/{name}.
 *
 * Reconcile (orch_prov_reconcile, once per tick and after a deletion): read
 * what the producer simulates, PUT every RUNNING node it lacks, DELETE every
 * switch of orchd's naming (switch-{deployment}-{NNN}) that is not a RUNNING
 * node (a deleted deployment's; switches of other names are left alone). So a
 * restarted producer gets its nodes back at the next tick, and a deletion
 * empties the fabric even if orchd was killed in between. A node is marked in
 * the fabric (NODE_JOINED_FABRIC, once) when a PUT for it succeeds or the
 * producer already has it; a DELETE that succeeds records NODE_LEFT_FABRIC. A
 * failed call is logged each time and recorded as an ERROR event once per
 * node until it next joins. One round at a time, at most ORCH_PROV_PARALLEL
 * calls in flight.
 *
 * Who may call: orchd's loop thread. Errors: 0 or a negative errno.
 */
#ifndef ORCH_PROVISION_H
#define ORCH_PROVISION_H

#include <stdint.h>

#include "client.h"
#include "store.h"

#define ORCH_PROV_PARALLEL 16

typedef enum { ORCH_PROV_NONE = 0, ORCH_PROV_PRODUCER } orch_prov_kind_t;

typedef struct orch_prov_switch {
    char name[64];
    int64_t node_id;
} orch_prov_switch_t;

typedef struct orch_prov_op {
    void *owner; /* the orch_prov_t */
    int del, joins; /* joins: the node is not marked in the fabric yet */
    int64_t node, dep;
    char name[64];
} orch_prov_op_t;

typedef struct orch_prov_stats {
    uint64_t rounds, calls, failures, joined, left;
    int failing; /* the last call failed */
} orch_prov_stats_t;

typedef struct orch_prov {
    orch_prov_kind_t kind;
    h2o_url_t url;
    char url_text[200];
    ft_httpc_t http;
    orch_store_t *store;
    int busy; /* a round is in flight */
    char etag[128];
    orch_prov_switch_t *have; /* what the producer simulates (as of etag), sorted by name */
    size_t nhave;
    orch_prov_op_t *ops; /* this round's calls */
    size_t nops, next, inflight;
    orch_prov_stats_t stats;
} orch_prov_t;

/* "none" or "producer" (url: the producer's base URL). -EINVAL with why. */
int orch_prov_init(orch_prov_t *p, const char *kind, const char *url, h2o_context_t *ctx, orch_store_t *store, char *why, size_t whysz);
void orch_prov_destroy(orch_prov_t *p);
/* Start a round unless one is in flight. */
void orch_prov_reconcile(orch_prov_t *p);
static inline int orch_prov_idle(const orch_prov_t *p)
{
    return !p->busy;
}

#endif
