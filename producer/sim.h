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
} prod_switch_t;

typedef struct prod_sim {
    uint32_t n, width;
    uint64_t rng;
    double interval_s;
    prod_switch_t *sw;
    uint64_t sample_ns;
} prod_sim_t;

int prod_sim_init(prod_sim_t *s, uint32_t nswitches, uint64_t seed, int seeded, double interval_s);
void prod_sim_destroy(prod_sim_t *s);
void prod_sim_step(prod_sim_t *s, uint64_t now_ns);
int prod_sim_render(const prod_sim_t *s, ft_buf_t *out);

#endif
