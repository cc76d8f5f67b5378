#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static uint64_t rnd(uint64_t *st)
{
    /* xorshift64*: fast, and plenty for a simulation. */
    uint64_t x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 2685821657736338717ULL;
}

static double unif(uint64_t *st)
{
    return (double)(rnd(st) >> 11) / 9007199254740992.0;
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int prod_sim_init(prod_sim_t *s, uint32_t n, uint64_t seed, int seeded, double interval_s)
{
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->width = 2;
    for (uint32_t m = n; m >= 100; m /= 10)
        s->width++;
    s->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
    s->interval_s = interval_s;
    s->sw = calloc(n, sizeof(*s->sw));
    if (s->sw == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        prod_switch_t *w = &s->sw[i];
        w->bandwidth = 20 + unif(&s->rng) * 180;
        w->latency_base = 1.5 + unif(&s->rng) * 3;
        w->latency = w->latency_base;
        w->temperature = 40 + unif(&s->rng) * 15;
        /* A seeded run starts the byte counters past 2^53, where a double would round them. */
        uint64_t base = seeded ? (1ULL << 53) + (rnd(&s->rng) >> 20) : rnd(&s->rng) >> 24;
        w->xmit = base + (rnd(&s->rng) >> 40);
        w->rcv = base + (rnd(&s->rng) >> 40);
    }
    return 0;
}

void prod_sim_destroy(prod_sim_t *s)
{
    free(s->sw);
    free(s->nodes);
    s->sw = NULL;
    s->nodes = NULL;
    s->nnodes = s->nodes_cap = 0;
}

static void step_switch(prod_sim_t *s, prod_switch_t *w)
{
    uint64_t *r = &s->rng;
    if (w->down_left > 0) { /* link flapped: no traffic until it comes back */
        w->down_left--;
        w->bandwidth = 0;
    } else if (unif(r) < 0.0005) {
        w->down_left = 1 + (uint32_t)(unif(r) * 3);
        w->link_downed++;
        w->bandwidth = 0;
    } else {
        w->bandwidth = clamp(w->bandwidth + (unif(r) - 0.5) * 20, 0.5, 400);
    }
    if (w->spike_left > 0)
        w->spike_left--;
    else if (unif(r) < 0.01)
        w->spike_left = 1 + (uint32_t)(unif(r) * 4);
    w->latency = w->latency_base * (0.9 + unif(r) * 0.2) + (w->spike_left ? 20 + unif(r) * 480 : 0);
    if (w->burst_left > 0)
        w->burst_left--;
    else if (unif(r) < 0.005)
        w->burst_left = 1 + (uint32_t)(unif(r) * 5);
    w->packet_error = w->burst_left ? (int64_t)(10 + unif(r) * 1000) : (unif(r) < 0.05 ? 1 : 0);
    if (w->burst_left)
        w->symbol_error += (uint64_t)(unif(r) * 50);
    uint64_t bytes = (uint64_t)(w->bandwidth * 1e9 / 8 * s->interval_s);
    w->xmit += bytes;
    w->rcv += (uint64_t)((double)bytes * (0.95 + unif(r) * 0.1));
    w->temperature = clamp(w->temperature + (unif(r) - 0.5) + (w->bandwidth - 200) * 0.001, 25, 95);
    w->error_rate = w->burst_left ? 2 + unif(r) * 6 : 0.05 + unif(r) * 0.1;
}

void prod_node_model(int64_t node_id, double t_s, double *latency_ms, double *throughput_gbps, double *error_pct)
{
    int64_t nf = node_id % 10;
    if (nf < 0)
        nf += 10;
    double lat = 10.0 + 2.0 * (double)nf, thr = 9.5 - 0.1 * (double)nf, err = 0.1 + 0.02 * (double)nf;
    if (nf >= 8) {
        lat = 50.0 + (double)(nf - 7) * 20.0;
        thr = 8.0 - (double)(nf - 7) * 1.5;
        err = 0.5 + (double)(nf - 7) * 0.3;
    }
    double v = 0.3 * sin(t_s / 100.0 + (double)node_id);
    *latency_ms = clamp(lat * (1.0 + 0.2 * v), 1.0, 200.0);
    *throughput_gbps = clamp(thr * (1.0 + 0.1 * v), 1.0, 10.0);
    *error_pct = clamp(err + 0.1 * v, 0.0, 5.0);
}

/* A node: the model's three figures; its byte counters follow its throughput, the rest moves as any switch's. */
static void step_node(prod_sim_t *s, prod_node_t *n, uint64_t now_ns)
{
    prod_switch_t *w = &n->w;
    uint64_t xmit = w->xmit, rcv = w->rcv;
    step_switch(s, w);
    double lat, thr, err;
    prod_node_model(n->node_id, (double)now_ns / 1e9, &lat, &thr, &err);
    uint64_t bytes = (uint64_t)(thr * 1e9 / 8 * s->interval_s);
    w->xmit = xmit + bytes;
    w->rcv = rcv + bytes;
    w->down_left = 0;
    w->spike_left = 0;
    w->latency = lat * 1000.0;
    w->bandwidth = thr;
    w->error_rate = err;
}

void prod_sim_step(prod_sim_t *s, uint64_t now_ns)
{
    s->sample_ns = now_ns;
    for (uint32_t i = 0; i < s->n; i++)
        step_switch(s, &s->sw[i]);
    for (uint32_t i = 0; i < s->nnodes; i++)
        step_node(s, &s->nodes[i], now_ns);
}

int prod_node_name_ok(const prod_sim_t *s, const char *name, size_t len)
{
    if (len == 0 || len > PROD_NODE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    (void)s;
    return !(len > 3 && memcmp(name, "sw-", 3) == 0); /* the simulated switches' names */
}

const prod_node_t *prod_sim_node_find(const prod_sim_t *s, const char *name, size_t len)
{
    for (uint32_t i = 0; i < s->nnodes; i++)
        if (s->nodes[i].len == len && memcmp(s->nodes[i].name, name, len) == 0)
            return &s->nodes[i];
    return NULL;
}

int prod_sim_node_put(prod_sim_t *s, const char *name, size_t len, int64_t node_id, uint32_t max_nodes)
{
    if (!prod_node_name_ok(s, name, len))
        return -EINVAL;
    prod_node_t *n = (prod_node_t *)prod_sim_node_find(s, name, len);
    s->nodes_version++;
    if (n != NULL) {
        n->node_id = node_id;
        return 0;
    }
    if (s->nnodes >= max_nodes)
        return -ENOSPC;
    if (s->nnodes == s->nodes_cap) {
        uint32_t cap = s->nodes_cap ? s->nodes_cap * 2 : 64;
        prod_node_t *p = realloc(s->nodes, (size_t)cap * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        s->nodes = p;
        s->nodes_cap = cap;
    }
    n = &s->nodes[s->nnodes++];
    memset(n, 0, sizeof(*n));
    memcpy(n->name, name, len);
    n->len = (uint32_t)len;
    n->node_id = node_id;
    n->w.temperature = 40 + unif(&s->rng) * 15;
    n->w.xmit = rnd(&s->rng) >> 24;
    n->w.rcv = n->w.xmit;
    step_node(s, n, s->sample_ns ? s->sample_ns : ft_now_ns());
    return 1;
}

int prod_sim_node_del(prod_sim_t *s, const char *name, size_t len)
{
    const prod_node_t *n = prod_sim_node_find(s, name, len);
    if (n == NULL)
        return -ENOENT;
    size_t i = (size_t)(n - s->nodes);
    memmove(&s->nodes[i], &s->nodes[i + 1], (s->nnodes - i - 1) * sizeof(*n)); /* the order added is kept */
    s->nnodes--;
    s->nodes_version++;
    return 0;
}

/* Fixed-point decimal with `dec` digits, without printf (the hot part of rendering 100k rows). */
static size_t put_fixed(char *p, double v, int dec)
{
    static const uint64_t pow10[] = {1, 10, 100, 1000, 10000};
    char tmp[32];
    size_t n = 0, o = 0;
    if (v < 0) {
        p[o++] = '-';
        v = -v;
    }
    uint64_t x = (uint64_t)llround(v * (double)pow10[dec]);
    for (int d = 0; d < dec; d++, x /= 10)
        tmp[n++] = (char)('0' + x % 10);
    if (dec)
        tmp[n++] = '.';
    do {
        tmp[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    while (n)
        p[o++] = tmp[--n];
    return o;
}

/* The simulated counters stay far below 2^63, so the signed formatter serves. */
static size_t put_u64(char *p, uint64_t x)
{
    return ft_fmt_i64(p, (int64_t)x);
}

/* One row of the matrix; p has room for 200 + name bytes. */
static size_t render_row(char *p, const char *name, size_t nlen, uint64_t sample_ns, const prod_switch_t *w)
{
    memcpy(p, name, nlen);
    size_t o = nlen;
    p[o++] = ',';
    o += ft_fmt_iso8601(p + o, sample_ns);
    p[o++] = ',';
    o += put_fixed(p + o, w->bandwidth, 3);
    p[o++] = ',';
    o += put_fixed(p + o, w->latency, 3);
    p[o++] = ',';
    o += put_u64(p + o, (uint64_t)w->packet_error);
    p[o++] = ',';
    o += put_u64(p + o, w->xmit);
    p[o++] = ',';
    o += put_u64(p + o, w->rcv);
    p[o++] = ',';
    o += put_u64(p + o, w->symbol_error);
    p[o++] = ',';
    o += put_u64(p + o, w->link_downed);
    p[o++] = ',';
    o += put_fixed(p + o, w->temperature, 1);
    p[o++] = ',';
    o += put_fixed(p + o, w->error_rate, 4);
    p[o++] = '\n';
    return o;
}

int prod_sim_render(const prod_sim_t *s, ft_buf_t *out)
{
    static const char header[] = "switch_id,timestamp,bandwidth_usage,latency,packet_error,port_xmit_data,port_rcv_data,"
                                 "symbol_error,link_downed,temperature,error_rate\n";
    out->len = 0;
    out->failed = 0;
    if (ft_buf_reserve(out, sizeof(header) + ((size_t)s->n + s->nnodes) * 260) != 0)
        return -ENOMEM;
    ft_buf_append(out, header, sizeof(header) - 1);
    char name[32];
    for (uint32_t i = 0; i < s->n; i++) {
        int nl = snprintf(name, sizeof(name), "sw-%0*u", (int)s->width, i + 1);
        /* Each switch samples a few microseconds after the previous one, as a real collector would. */
        out->len += render_row(out->data + out->len, name, (size_t)nl, s->sample_ns + (uint64_t)i * 1000, &s->sw[i]);
    }
    for (uint32_t i = 0; i < s->nnodes; i++)
        out->len += render_row(out->data + out->len, s->nodes[i].name, s->nodes[i].len, s->sample_ns + ((uint64_t)s->n + i) * 1000,
                               &s->nodes[i].w);
    return 0;
}

/* ---- UFM Telemetry's CSV (producer/sim.h) ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

void prod_sim_ufm_step(prod_sim_t *s)
{
    s->ufm_steps++;
    for (uint32_t i = 0; i < s->n; i++)
        if (mix64((uint64_t)i << 32 ^ s->ufm_steps) % 5000 == 0) { /* rebooted: its ports count from 0 again */
            prod_switch_t *w = &s->sw[i];
            w->boot_xmit = w->xmit, w->boot_rcv = w->rcv, w->boot_symbol = w->symbol_error, w->boot_link = w->link_downed;
            w->reboots++;
        }
}

static const char UFM_HEADER[] =
    "timestamp,source_id,tag,node_guid,port_guid,port_num,PortXmitDataExtended,PortRcvDataExtended,PortXmitPktsExtended,"
    "PortRcvPktsExtended,PortUnicastXmitPkts,PortUnicastRcvPkts,PortMulticastXmitPkts,PortMulticastRcvPkts,"
    "SymbolErrorCounterExtended,LinkErrorRecoveryCounterExtended,LinkDownedCounterExtended,PortRcvErrorsExtended,"
    "PortRcvRemotePhysicalErrorsExtended,PortRcvSwitchRelayErrorsExtended,PortXmitDiscardsExtended,"
    "PortXmitConstraintErrorsExtended,PortRcvConstraintErrorsExtended,LocalLinkIntegrityErrorsExtended,"
    "ExcessiveBufferOverrunErrorsExtended,VL15DroppedExtended,PortXmitWaitExtended,QP1DroppedExtended,"
    "PortNeighborMTUDiscards,PortLocalPhysicalErrors,PortMalformedPktErrors,PortBufferOverrunErrors,PortDLIDMappingErrors,"
    "PortVLMappingErrors,PortLoopingErrors,Temperature,RawBER\n";
/* The low-frequency set: fewer columns, another order, the other spelling of the identity columns. */
static const char UFM_XCSET_HEADER[] =
    "Port_Number,timestamp,Node_GUID,source_id,tag,port_guid,LinkDownedCounterExtended,Temperature,SymbolErrorCounterExtended,RawBER\n";

typedef struct ufm_port {
    uint64_t c[29]; /* the integer counters, in UFM_HEADER's order */
    double temperature, ber;
} ufm_port_t;

/* Port p (1-based) of switch i: its share of the switch's traffic since boot, in 4-byte words; the errors on one port. */
static void ufm_port(const prod_switch_t *w, uint32_t i, uint32_t p, uint32_t ports, ufm_port_t *o)
{
    uint64_t share = p % 5 + 1, denom = 3ULL * ports;
    uint64_t xw = (w->xmit - w->boot_xmit) / 4 / denom * share, rw = (w->rcv - w->boot_rcv) / 4 / denom * share;
    uint64_t xp = xw / 64, rp = rw / 64;
    int hot = p == i % ports + 1; /* the port the switch's errors land on */
    uint64_t sym = hot ? w->symbol_error - w->boot_symbol : 0, down = hot ? w->link_downed - w->boot_link : 0;
    memset(o->c, 0, sizeof(o->c));
    o->c[0] = xw, o->c[1] = rw, o->c[2] = xp, o->c[3] = rp;
    o->c[4] = xp - xp / 16, o->c[5] = rp - rp / 16, o->c[6] = xp / 16, o->c[7] = rp / 16;
    o->c[8] = sym, o->c[9] = down * 2, o->c[10] = down, o->c[11] = sym / 3;
    o->c[20] = xw / 1000; /* PortXmitWaitExtended */
    o->temperature = w->temperature + (double)(p % 4) * 0.5;
    o->ber = (double)(1 + p % 7) * (w->error_rate + 0.01) * 1e-13;
}

static size_t put_u64c(char *p, uint64_t x)
{
    p[0] = ',';
    return 1 + put_u64(p + 1, x);
}

static size_t ufm_ids(char *p, const prod_sim_t *s, uint32_t i, uint32_t port, int xcset)
{
    uint64_t us = s->sample_ns / 1000 + i; /* Unix µs; each switch a microsecond after the previous */
    char ts[24];
    int tn = snprintf(ts, sizeof(ts), "%llu", (unsigned long long)us);
    if (xcset)
        return (size_t)sprintf(p, "%u,%.*s,0x0c42a10300%06x,ufm-sim,,0x0c42a10301%06x", port, tn, ts, i + 1, i + 1);
    return (size_t)sprintf(p, "%.*s,ufm-sim,,0x0c42a10300%06x,0x0c42a10301%06x,%u", tn, ts, i + 1, i + 1, port);
}

static size_t ufm_row(char *p, const prod_sim_t *s, uint32_t i, uint32_t port, uint32_t ports, int xcset)
{
    ufm_port_t u;
    ufm_port(&s->sw[i], i, port, ports, &u);
    size_t o = ufm_ids(p, s, i, port, xcset);
    if (xcset) {
        o += put_u64c(p + o, u.c[10]);
        p[o++] = ',';
        o += put_fixed(p + o, u.temperature, 1);
        o += put_u64c(p + o, u.c[8]);
        o += (size_t)sprintf(p + o, ",%.2e\n", u.ber);
        return o;
    }
    for (int k = 0; k < 29; k++) {
        if ((k == 21 && port > 1) || (k == 12 && port % 8 == 0)) { /* QP1Dropped past port 1, remote physical errors on every 8th port */
            p[o++] = ',';
            continue;
        }
        o += put_u64c(p + o, u.c[k]);
    }
    p[o++] = ',';
    o += put_fixed(p + o, u.temperature, 1);
    o += (size_t)sprintf(p + o, ",%.2e\n", u.ber);
    return o;
}

int prod_sim_render_ufm(const prod_sim_t *s, uint32_t ports, int xcset, ft_buf_t *out)
{
    const char *header = xcset ? UFM_XCSET_HEADER : UFM_HEADER;
    size_t hl = strlen(header);
    out->len = 0;
    out->failed = 0;
    if (ports == 0 || ft_buf_reserve(out, hl + (size_t)s->n * ports * (xcset ? 160 : 720)) != 0)
        return -ENOMEM;
    ft_buf_append(out, header, hl);
    for (uint32_t i = 0; i < s->n; i++)
        for (uint32_t port = 1; port <= ports; port++)
            out->len += ufm_row(out->data + out->len, s, i, port, ports, xcset);
    return 0;
}
