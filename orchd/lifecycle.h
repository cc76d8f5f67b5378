/*
 * orchd/lifecycle — the node state machine of the seed-003 reference, as
 * pure functions: which transition a node makes at a tick, the address and
 * hostname it gets. orchd/store applies them; tests call them directly.
 *
 *   PENDING      -> PROVISIONING  at the first tick (the node gets its address)
 *   PROVISIONING -> CONFIGURING   after (3 + id % 5) s in PROVISIONING
 *   CONFIGURING  -> RUNNING       after (5 + id % 7) s in CONFIGURING,
 *                -> FAILED        instead when (id + deployment_id) % 20 == 0
 *   RUNNING, FAILED: terminal
 * Every duration is multiplied by the time scale. A node makes at most one
 * transition per tick, so each state is entered (and has its event) once,
 * whatever the tick's lateness: a restarted orchd resumes from the stored
 * state_changed_at without skipping a state.
 *
 * Addresses: node id n (global, never reused) gets 10.0.0.0 + n, i.e.
 * 10.(n >> 16 & 255).(n >> 8 & 255).(n & 255), for 1 <= n <= 16777214: unique
 * in the fabric because ids are, and never the network or broadcast address
 * of 10.0.0.0/8. A node past that range cannot be given an address (its
 * provisioning fails with an ERROR event).
 *
 * Reentrant; no allocation. Errors: as documented per function.
 */
#ifndef ORCH_LIFECYCLE_H
#define ORCH_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { ORCH_PENDING = 0, ORCH_PROVISIONING, ORCH_CONFIGURING, ORCH_RUNNING, ORCH_FAILED, ORCH_NSTATES } orch_state_t;

#define ORCH_MAX_ADDRESSED_ID 16777214LL

/* "PENDING", … ("?" past the end); the state named (upper case), or -1. */
const char *orch_state_name(orch_state_t s);
int orch_state_parse(const char *s);

/* Seconds a node stays in a timed state before its next one (unscaled): PROVISIONING 3 + id % 5, CONFIGURING 5 + id % 7. */
int64_t orch_state_seconds(orch_state_t s, int64_t id);

/*
 * The transition node `id` of deployment `dep`, in state `s` since changed_ms, makes at now_ms (scale: the
 * time scale): the next state, or -1 for none.
 */
int orch_next_state(int64_t id, int64_t dep, orch_state_t s, int64_t changed_ms, int64_t now_ms, double scale);

/* The node's address into out (>= 16 bytes): 0, or -ERANGE when the id has none. */
int orch_ip_address(int64_t id, char *out, size_t outsz);

/* "switch-{dep}-{NNN}" (index from 1, at least 3 digits) and "node-{NNN}". Return the length. */
int orch_hostname(int64_t dep, int64_t index, char *out, size_t outsz);
int orch_node_name(int64_t index, char *out, size_t outsz);

#endif
