#include "sim.h"

#include <math.h>
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
    s->sw = NULL;
}

void prod_sim_step(prod_sim_t *s, uint64_t now_ns)
{
    s->sample_ns = now_ns;
    for (uint32_t i = 0; i < s->n; i++) {
        prod_switch_t *w = &s->sw[i];
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

int prod_sim_render(const prod_sim_t *s, ft_buf_t *out)
{
    static const char header[] = "switch_id,timestamp,bandwidth_usage,latency,packet_error,port_xmit_data,port_rcv_data,"
                                 "symbol_error,link_downed,temperature,error_rate\n";
    out->len = 0;
    out->failed = 0;
    if (ft_buf_reserve(out, sizeof(header) + (size_t)s->n * 200) != 0)
        return -ENOMEM;
    ft_buf_append(out, header, sizeof(header) - 1);
    for (uint32_t i = 0; i < s->n; i++) {
        const prod_switch_t *w = &s->sw[i];
        char *p = out->data + out->len;
        size_t o = (size_t)snprintf(p, 16, "sw-%0*u,", (int)s->width, i + 1);
        /* Each switch samples a few microseconds after the previous one, as a real collector would. */
        o += ft_fmt_iso8601(p + o, s->sample_ns + (uint64_t)i * 1000);
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
        out->len += o;
    }
    return 0;
}
