/* fabtel-producer: config, signals and the loop. The logic is in sim.c and server.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "util.h"
#include "opt.h"
#include "sig.h"
#include "server.h"

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:9001", *fault = "none", *log_level = "info", *log_file = "", *format = "matrix";
    int64_t switches = 50, seed = -1, max_nodes = 100000, ports = 40;
    double interval = 10, slow = 60;
    const ft_opt_t opts[] = {
        {"listen", FT_OPT_STR, &listen, "ADDR:PORT", "where to serve GET /counters (port 0: any free port)", 0, 0},
        {"switches", FT_OPT_I64, &switches, "N", "switches in the simulated fabric", 1, 4000000},
        {"interval", FT_OPT_F64, &interval, "SECONDS", "time between snapshots (fractions allowed)", 0.01, 86400},
        {"format", FT_OPT_STR, &format, "FORMAT", "matrix (GET /counters) or ufm (NVIDIA UFM Telemetry's CSV at /csv/metrics, a row per port)", 0, 0},
        {"ports-per-switch", FT_OPT_I64, &ports, "N", "--format ufm: ports (rows) per switch", 1, 1024},
        {"max-nodes", FT_OPT_I64, &max_nodes, "N", "most switches orchd may add through PUT /switches/NAME", 0, 4000000},
        {"seed", FT_OPT_I64, &seed, "S", "random seed for a reproducible run (-1: random; seeded runs start byte counters past 2^53)",
         -1, (double)INT64_MAX},
        {"fault", FT_OPT_STR, &fault, "MODE", "inject a fault into every answer: none, error500, corrupt, truncate, slow, empty", 0, 0},
        {"slow-delay", FT_OPT_F64, &slow, "SECONDS", "how long the slow fault holds an answer, on top of the request's ?wait (past any client deadline)", 0, 3600},
        {"log-level", FT_OPT_STR, &log_level, "LEVEL", "debug, info, warn or error", 0, 0},
        {"log-file", FT_OPT_STR, &log_file, "PATH", "log to this file instead of stderr (reopened on SIGHUP)", 0, 0},
    };
    int r = ft_opt_parse("fabtel-producer", "FABTEL_PRODUCER", "Simulates a switch fabric and serves it as a CSV matrix.", opts,
                         sizeof(opts) / sizeof(opts[0]), argc, argv);
    if (r != 0)
        return r == -ECANCELED ? 0 : 2;
    int mode = prod_fault_parse(fault, strlen(fault));
    if (mode < 0) {
        fprintf(stderr, "fabtel-producer: unknown --fault '%s' (none, error500, corrupt, truncate, slow, empty)\n", fault);
        return 2;
    }
    if (strcmp(format, "matrix") != 0 && strcmp(format, "ufm") != 0) {
        fprintf(stderr, "fabtel-producer: --format is matrix or ufm, not '%s'\n", format);
        return 2;
    }
    if (ft_log_init("producer", log_level, log_file) != 0) {
        fprintf(stderr, "fabtel-producer: bad --log-level '%s' or cannot open --log-file '%s'\n", log_level, log_file);
        return 2;
    }
    static ft_sigflags_t sig;
    ft_signals_install(&sig);

    prod_config_t cfg = {listen, (uint32_t)switches, interval, slow, (uint64_t)seed, seed >= 0, mode, (uint32_t)max_nodes,
                         strcmp(format, "ufm") == 0 ? PROD_FORMAT_UFM : PROD_FORMAT_MATRIX, (uint32_t)ports};
    static prod_server_t srv;
    if (prod_server_init(&srv, &cfg) != 0)
        return 1;
    ft_notify_t notify;
    ft_notify_init(&notify);
    ft_notify_ready(&notify, "serving the fabric");
    uint64_t next_status = 0;
    while (!sig.stop) {
        ft_notify_tick(&notify);
        if (ft_mono_ns() >= next_status) {
            ft_notify_status(&notify, "serving %u switches on %s, generation %llu", cfg.switches, srv.bound,
                             (unsigned long long)srv.cur->gen);
            next_status = ft_mono_ns() + 1000000000ULL;
        }
        if (sig.reopen) {
            sig.reopen = 0;
            ft_log_reopen();
        }
        prod_server_run_once(&srv, ft_notify_max_wait_ms(&notify));
    }
    ft_notify_stopping(&notify);
    prod_server_destroy(&srv, 5.0);
    return 0;
}
