/* fabtel-orchd: config, signals and the loop. The logic is in server.c, store.c, lifecycle.c, provision.c and fabric.c. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "opt.h"
#include "server.h"
#include "sig.h"
#include "util.h"

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8082", *state_dir = "", *auth_file = "", *log_level = "info", *log_file = "";
    const char *shm_name = "/fabtel", *provisioner = "producer", *producer = "http://127.0.0.1:9001";
    int64_t max_body = 1 << 20;
    double request_timeout = 10, grace = 5, time_scale = 1, retain_days = 90;
    const ft_opt_t opts[] = {
        {"listen", FT_OPT_STR, &listen, "ADDR:PORT", "where to answer HTTP (port 0: any free port)", 0, 0},
        {"state-dir", FT_OPT_STR, &state_dir, "DIR", "where orchd.sqlite lives ($STATE_DIRECTORY, else /var/lib/fabtel)", 0, 0},
        {"shm-name", FT_OPT_STR, &shm_name, "NAME", "ingestd's segment: its capacity and the history file it names", 0, 0},
        {"provisioner", FT_OPT_STR, &provisioner, "KIND", "producer (nodes join the simulated fabric) or none (states only)", 0, 0},
        {"producer", FT_OPT_STR, &producer, "URL", "the simulated fabric's control API (--provisioner producer)", 0, 0},
        {"time-scale", FT_OPT_F64, &time_scale, "F", "multiply every lifecycle duration and the 2 s tick by F (tests: small F)", 0.001, 1000},
        {"events-retain-days", FT_OPT_F64, &retain_days, "DAYS", "drop events older than this (0: keep all)", 0, 1e6},
        {"max-body-bytes", FT_OPT_I64, &max_body, "BYTES", "largest request body taken (larger: 413)", 2, 1LL << 30},
        {"auth-token-file", FT_OPT_STR, &auth_file, "PATH", "writes need 'Authorization: Bearer <the token in PATH>'", 0, 0},
        {"request-timeout", FT_OPT_F64, &request_timeout, "SECONDS", "a request not read whole by then is closed", 0.1, 3600},
        {"shutdown-grace", FT_OPT_F64, &grace, "SECONDS", "on stop, how long answers in flight may take", 0, 3600},
        {"log-level", FT_OPT_STR, &log_level, "LEVEL", "debug, info, warn or error", 0, 0},
        {"log-file", FT_OPT_STR, &log_file, "PATH", "log to this file instead of stderr (reopened on SIGHUP)", 0, 0},
    };
    int r = ft_opt_parse("fabtel-orchd", "FABTEL_ORCHD", "Orchestrates deployments of nodes onto the fabric (the only writer of orchd.sqlite).",
                         opts, sizeof(opts) / sizeof(opts[0]), argc, argv);
    if (r != 0)
        return r == -ECANCELED ? 0 : 2;
    if (ft_log_init("orchd", log_level, log_file) != 0) {
        fprintf(stderr, "fabtel-orchd: bad --log-level '%s' or cannot open --log-file '%s'\n", log_level, log_file);
        return 2;
    }
    if (strcmp(provisioner, "producer") != 0 && strcmp(provisioner, "none") != 0) {
        fprintf(stderr, "fabtel-orchd: --provisioner is producer or none, not '%s'\n", provisioner);
        return 2;
    }
    static char token[4096];
    char why[600];
    if (auth_file[0] != '\0' && ft_read_secret(auth_file, token, sizeof(token), why, sizeof(why)) != 0) {
        fprintf(stderr, "fabtel-orchd: --auth-token-file: %s\n", why);
        return 2;
    }
    static ft_sigflags_t sig;
    ft_signals_install(&sig);
    orch_config_t cfg = {.listen = listen, .state_dir = state_dir, .auth_token = token[0] ? token : NULL, .shm_name = shm_name,
                         .provisioner = provisioner, .producer = producer, .max_body = (size_t)max_body,
                         .request_timeout_s = request_timeout, .shutdown_grace_s = grace, .time_scale = time_scale,
                         .events_retain_days = retain_days};
    static orch_server_t srv;
    if (orch_server_init(&srv, &cfg) != 0) {
        orch_server_destroy(&srv);
        return 1;
    }
    ft_notify_t notify;
    ft_notify_init(&notify);
    ft_notify_ready(&notify, "store open, listening");
    uint64_t next_status = 0;
    while (!sig.stop) {
        if (sig.reopen) {
            sig.reopen = 0;
            ft_log_reopen();
        }
        ft_notify_tick(&notify);
        if (ft_mono_ns() >= next_status) {
            orch_counts_t c;
            if (orch_store_counts(&srv.store, &c) == 0)
                ft_notify_status(&notify, "%lld deployments, %lld nodes running, %lld moving, on %s", (long long)c.deployments,
                                 (long long)c.by_state[ORCH_RUNNING],
                                 (long long)(c.by_state[ORCH_PENDING] + c.by_state[ORCH_PROVISIONING] + c.by_state[ORCH_CONFIGURING]),
                                 srv.bound);
            next_status = ft_mono_ns() + 1000000000ULL;
        }
        h2o_evloop_run(srv.http.ctx.loop, ft_notify_max_wait_ms(&notify));
    }
    ft_notify_stopping(&notify);
    orch_server_destroy(&srv);
    return 0;
}
