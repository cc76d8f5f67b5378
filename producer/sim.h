/*
 * producer/sim — a simulated switch fabric, and its CSV matrix.
 *
 * Owns: the state of N switches. prod_sim_step() advances every counter by
 * one interval from its previous value (random walks with occasional latency
 * spikes, error bursts and link flaps); prod_sim_render() writes the whole
 * fabric as one CSV matrix with a header row. A seed makes a run
 * reproducible, and a seeded run starts the byte counters above 2^53 so that
 * exactness of 64-bit integers is exercised end to end.
 *
 * Columns (units): switch_id, timestamp (ISO-8601 UTC, microseconds, Z),
 * bandwidth_usage (Gb/s, float), latency (µs, float), packet_error (errors
 * in the last interval, int), port_xmit_data and port_rcv_data (bytes since
 * start, monotonic 64-bit int), symbol_error and link_downed (cumulative
 * counts, int), temperature (°C, float).
 *
 * Nodes. Besides its N simulated switches the fabric carries switches that
 * orchd adds (prod_sim_node_put, PUT /switches/NAME): a node's latency,
 * bandwidth_usage and error_rate follow the seed-003 reference's
 * deterministic model (prod_node_model, the one place that maps the seed's
 * fields onto the fabric's columns); its other columns move like any
 * switch's. Nodes are rendered after the simulated switches, in the order
 * they were added.
 *
 * Who may call: the producer's event loop (one thread). Errors: 0 or -ENOMEM.
 */
#ifndef PROD_SIM_H
#define PROD_SIM_H

#include <stdint.h>

#include "buf.h"

typedef struct prod_switch {
    double bandwidth, latency_base, temperature;
    uint64_t xmit, rcv, symbol_error, link_downed;
    int64_t packet_error;
    uint32_t spike_left, burst_left, down_left;
    double latency;
    double error_rate; /* percent of this interval's packets in error: about 0.1 healthy, a few percent in a burst */
    uint64_t boot_xmit, boot_rcv, boot_symbol, boot_link; /* UFM: the counters when it last rebooted (ports count from there) */
    uint32_t reboots;
} prod_switch_t;

#define PROD_NODE_NAME_MAX 63

typedef struct prod_node {
    char name[PROD_NODE_NAME_MAX + 1];
    uint32_t len;
    int64_t node_id;
    prod_switch_t w;
} prod_node_t;

typedef struct prod_sim {
    uint32_t n, width;
    prod_node_t *nodes;
    uint32_t nnodes, nodes_cap;
    uint64_t nodes_version; /* grows with every change to the nodes (GET /switches's ETag) */
    uint64_t rng;
    double interval_s;
    prod_switch_t *sw;
    uint64_t sample_ns;
    uint64_t ufm_steps;
} prod_sim_t;

int prod_sim_init(prod_sim_t *s, uint32_t nswitches, uint64_t seed, int seeded, double interval_s);
void prod_sim_destroy(prod_sim_t *s);
void prod_sim_step(prod_sim_t *s, uint64_t now_ns);
int prod_sim_render(const prod_sim_t *s, ft_buf_t *out);

/*
 * UFM Telemetry's CSV (--format ufm): a row per port, ports_per_switch of them per switch, the identity columns
 * (timestamp in Unix µs, source_id, tag — empty —, node_guid, port_guid shared by the switch's ports, port_num)
 * and 31 counters: PortXmitData/RcvData in 4-byte words (InfiniBand's unit), packets, the error counters, a
 * Temperature (°C) and a RawBER (a float with an exponent). Counters count since the switch last booted: a
 * simulated reboot (prod_sim_ufm_step, about one switch in 5,000 per step, deterministic) sets them back to 0.
 * Some cells are empty, as UFM sends them for counters a port does not report (QP1DroppedExtended past port 1,
 * PortRcvRemotePhysicalErrorsExtended on every 8th port). xcset 1 renders the low-frequency set instead: fewer
 * columns, in another order, spelled Node_GUID and Port_Number.
 */
void prod_sim_ufm_step(prod_sim_t *s);
int prod_sim_render_ufm(const prod_sim_t *s, uint32_t ports_per_switch, int xcset, ft_buf_t *out);

/*
 * The seed-003 reference's hardware model, at time t_s (Unix seconds) for a node id: nf = node_id % 10;
 * healthy: latency 10 + 2nf ms, throughput 9.5 - 0.1nf Gb/s, error 0.1 + 0.02nf %; degraded (nf >= 8):
 * 50 + (nf-7)20 ms, 8 - (nf-7)1.5 Gb/s, 0.5 + (nf-7)0.3 %; v = 0.3 sin(t/100 + node_id): latency (1 + 0.2v),
 * throughput (1 + 0.1v), error + 0.1v; clamped to [1, 200] ms, [1, 10] Gb/s, [0, 5] %.
 * In the fabric: latency = latency_ms * 1000 (µs), bandwidth_usage = throughput_gbps, error_rate = error %.
 */
void prod_node_model(int64_t node_id, double t_s, double *latency_ms, double *throughput_gbps, double *error_pct);

/* A name a node may take: 1..63 bytes of [A-Za-z0-9_.-], not one of the simulated switches' (sw-…). */
int prod_node_name_ok(const prod_sim_t *s, const char *name, size_t len);
/* Add a node, or give an existing one a new node_id: 1 added, 0 updated, -EINVAL bad name, -ENOSPC max reached, -ENOMEM. */
int prod_sim_node_put(prod_sim_t *s, const char *name, size_t len, int64_t node_id, uint32_t max_nodes);
/* 0, or -ENOENT when there is no such node. */
int prod_sim_node_del(prod_sim_t *s, const char *name, size_t len);
const prod_node_t *prod_sim_node_find(const prod_sim_t *s, const char *name, size_t len);

#endif
