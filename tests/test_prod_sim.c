/* producer/sim: the seed-003 hardware model of nodes, and nodes joining and leaving the rendered fabric. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "sim.h"

static int near(double a, double b)
{
    return fabs(a - b) <= 1e-9 * (1 + fabs(b));
}

static void test_model(void)
{
    /* At a time where sin(t/100 + id) = 0 the figures are the base ones: t = -100 id. */
    for (int64_t id = 0; id < 20; id++) {
        double lat, thr, err;
        prod_node_model(id, -100.0 * (double)id, &lat, &thr, &err);
        int nf = (int)(id % 10);
        double wl = nf >= 8 ? 50 + (nf - 7) * 20.0 : 10 + 2.0 * nf, wt = nf >= 8 ? 8 - (nf - 7) * 1.5 : 9.5 - 0.1 * nf,
               we = nf >= 8 ? 0.5 + (nf - 7) * 0.3 : 0.1 + 0.02 * nf;
        CHECK(near(lat, wl) && near(thr, wt) && near(err, we), "node %" PRId64 ": expected %g ms %g Gb/s %g %%, got %g %g %g", id, wl,
              wt, we, lat, thr, err);
    }
    /* v = 0.3 at sin = 1: latency x1.06, throughput x1.03, error +0.03; node 9 (degraded): 90 ms, 5 Gb/s, 1.1 %. */
    double lat, thr, err, t = 100.0 * (M_PI / 2 - 9);
    prod_node_model(9, t, &lat, &thr, &err);
    CHECK(near(lat, 90 * 1.06) && near(thr, 5 * 1.03) && near(err, 1.1 + 0.03), "node 9 at v=0.3: got %g %g %g", lat, thr, err);
    /* Clamps: a large id keeps every figure in range whatever t. */
    for (int k = 0; k < 1000; k++) {
        prod_node_model(1000003 + k, k * 7.3, &lat, &thr, &err);
        CHECK(lat >= 1 && lat <= 200 && thr >= 1 && thr <= 10 && err >= 0 && err <= 5, "out of range: %g %g %g", lat, thr, err);
    }
}

static void test_nodes(void)
{
    prod_sim_t s;
    CHECK(prod_sim_init(&s, 3, 7, 1, 1.0) == 0, "init");
    CHECK(prod_sim_node_put(&s, "switch-1-001", 12, 18, 10) == 1, "a new node is added");
    CHECK(prod_sim_node_put(&s, "switch-1-002", 12, 19, 10) == 1, "a second node is added");
    CHECK(prod_sim_node_put(&s, "switch-1-001", 12, 28, 10) == 0, "an existing node is updated");
    CHECK(prod_sim_node_put(&s, "sw-01", 5, 1, 10) == -EINVAL, "a simulated switch's name is refused");
    CHECK(prod_sim_node_put(&s, "bad name", 8, 1, 10) == -EINVAL, "a name with a space is refused");
    CHECK(prod_sim_node_put(&s, "x", 1, 1, 2) == -ENOSPC, "past max_nodes: refused");
    CHECK_EQ_U64(s.nnodes, 2);
    CHECK_EQ_U64(prod_sim_node_find(&s, "switch-1-001", 12)->node_id, 28);
    prod_sim_step(&s, 1700000000ULL * 1000000000ULL);
    ft_buf_t b;
    ft_buf_init(&b);
    CHECK(prod_sim_render(&s, &b) == 0, "render");
    ft_buf_append(&b, "", 1);
    const char *row = strstr(b.data, "\nswitch-1-002,");
    CHECK(row != NULL, "node rows follow the simulated switches: %s", b.data);
    if (row != NULL) {
        /* Columns: name, timestamp, bandwidth_usage, latency (µs), ..., error_rate (last). */
        const char *c = strchr(strchr(row + 1, ',') + 1, ',') + 1;
        double bw = strtod(c, NULL), latus = strtod(strchr(c, ',') + 1, NULL);
        double lat, thr, err;
        prod_node_model(19, 1700000000.0, &lat, &thr, &err);
        CHECK(fabs(bw - thr) < 0.001 && fabs(latus - lat * 1000) < 0.001, "node 19: bandwidth %g latency %g, expected %g %g", bw,
              latus, thr, lat * 1000);
    }
    CHECK(prod_sim_node_del(&s, "switch-1-001", 12) == 0, "delete");
    CHECK(prod_sim_node_del(&s, "switch-1-001", 12) == -ENOENT, "delete twice: ENOENT");
    CHECK(prod_sim_render(&s, &b) == 0, "render");
    ft_buf_append(&b, "", 1);
    CHECK(strstr(b.data, "switch-1-001") == NULL && strstr(b.data, "switch-1-002") != NULL, "the deleted node left: %s", b.data);
    ft_buf_destroy(&b);
    prod_sim_destroy(&s);
}

int main(void)
{
    test_model();
    test_nodes();
    return check_report("test_prod_sim");
}
