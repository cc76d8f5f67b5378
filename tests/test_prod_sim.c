/* producer/sim: the seed-003 hardware model of nodes, and nodes joining and leaving the rendered fabric. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* Split a CSV line into fields (no quoting in UFM's CSV); returns how many, pointers into line (modified). */
static int split(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ',') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

static void test_ufm(void)
{
    prod_sim_t s;
    CHECK(prod_sim_init(&s, 4, 5, 1, 1.0) == 0, "init");
    ft_buf_t b;
    ft_buf_init(&b);
    uint64_t now = 1796500000ULL * 1000000000ULL, prev[4 * 6];
    int bad = 0, resets = 0;
    for (int step = 0; step < 20000 && (resets == 0 || step < 3); step++) {
        prod_sim_step(&s, now + (uint64_t)step * 1000000000ULL);
        prod_sim_ufm_step(&s);
        if (step % 500 != 0 && resets == 0 && s.sw[0].reboots + s.sw[1].reboots + s.sw[2].reboots + s.sw[3].reboots == 0)
            continue; /* render now and then, and right after a reboot */
        CHECK(prod_sim_render_ufm(&s, 6, 0, &b) == 0, "render");
        ft_buf_append(&b, "", 1);
        char *line = b.data, *f[64];
        char *nl = strchr(line, '\n');
        *nl = '\0';
        int nh = split(line, f, 64);
        CHECK(nh == 37 && strcmp(f[3], "node_guid") == 0 && strcmp(f[5], "port_num") == 0 && strcmp(f[6], "PortXmitDataExtended") == 0,
              "UFM header: 6 identity columns and 31 counters (%d)", nh);
        int rows = 0;
        for (line = nl + 1; *line; line = nl + 1, rows++) {
            nl = strchr(line, '\n');
            *nl = '\0';
            int n = split(line, f, 64), sw = rows / 6, port = rows % 6 + 1;
            uint64_t xmit = strtoull(f[6], NULL, 10);
            bad += n != 37 || strtoull(f[0], NULL, 10) != (s.sample_ns / 1000 + (uint64_t)sw) || atoi(f[5]) != port || f[2][0] != '\0' ||
                   strncmp(f[3], "0x0c42a1030", 11) != 0 || (port > 1) != (f[27][0] == '\0') || (port % 8 == 0) != (f[18][0] == '\0');
            if (step > 0 && xmit < prev[rows])
                resets++; /* a reboot: the counter went down */
            prev[rows] = xmit;
        }
        CHECK(rows == 24, "4 switches x 6 ports = 24 rows (%d)", rows);
    }
    CHECK(bad == 0, "every row: 37 fields, µs timestamps, empty tag, GUIDs, port numbers, empty cells where UFM sends them (%d bad)", bad);
    CHECK(resets > 0, "a simulated reboot sets a switch's port counters back (%d resets seen)", resets);
    CHECK(prod_sim_render_ufm(&s, 6, 1, &b) == 0, "xcset render");
    ft_buf_append(&b, "", 1);
    CHECK(strncmp(b.data, "Port_Number,timestamp,Node_GUID,", 32) == 0, "the low-frequency set spells Node_GUID and Port_Number: %.60s", b.data);
    ft_buf_destroy(&b);
    prod_sim_destroy(&s);
}

int main(void)
{
    test_model();
    test_nodes();
    test_ufm();
    return check_report("test_prod_sim");
}
