/* fabtel-flowd: config, signals and the loop. The logic is in server.c, writer.c, store.c and parse.c. */
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
    const char *listen = "127.0.0.1:8081", *state_dir = "", *store = "sqlite", *auth_file = "", *log_level = "info", *log_file = "";
    int64_t max_body = 8 << 20, max_batch = 10000, max_store = 0;
    double retain_hours = 0, request_timeout = 10, grace = 5;
    const ft_opt_t opts[] = {
        {"listen", FT_OPT_STR, &listen, "ADDR:PORT", "where to answer HTTP (port 0: any free port)", 0, 0},
        {"state-dir", FT_OPT_STR, &state_dir, "DIR", "where flows.sqlite lives ($STATE_DIRECTORY, else /var/lib/fabtel)", 0, 0},
        {"store", FT_OPT_STR, &store, "WHERE", "sqlite (flows.sqlite in the state directory) or postgresql://user@host/db (shared by many flowds)",
         0, 0},
        {"max-body-bytes", FT_OPT_I64, &max_body, "BYTES", "largest POST body taken (larger: 413)", 2, 1LL << 30},
        {"max-batch", FT_OPT_I64, &max_batch, "N", "most flows in one POST (more: 413)", 1, 10000000},
        {"max-store-bytes", FT_OPT_I64, &max_store, "BYTES", "cap the store's size (past it: 507, as a full disk; 0: none)", 0,
         1LL << 50},
        {"retain-hours", FT_OPT_F64, &retain_hours, "H", "drop aggregates not written to for H hours (0: keep all)", 0, 1e7},
        {"auth-token-file", FT_OPT_STR, &auth_file, "PATH", "writes need 'Authorization: Bearer <the token in PATH>'", 0, 0},
        {"request-timeout", FT_OPT_F64, &request_timeout, "SECONDS", "a request not read whole by then is closed", 0.1, 3600},
        {"shutdown-grace", FT_OPT_F64, &grace, "SECONDS", "on stop, how long answers in flight may take", 0, 3600},
        {"log-level", FT_OPT_STR, &log_level, "LEVEL", "debug, info, warn or error", 0, 0},
        {"log-file", FT_OPT_STR, &log_file, "PATH", "log to this file instead of stderr (reopened on SIGHUP)", 0, 0},
    };
    int r = ft_opt_parse("fabtel-flowd", "FABTEL_FLOWD", "Aggregates network flow records per flow and hour, durably (the only writer).",
                         opts, sizeof(opts) / sizeof(opts[0]), argc, argv);
    if (r != 0)
        return r == -ECANCELED ? 0 : 2;
    if (ft_log_init("flowd", log_level, log_file) != 0) {
        fprintf(stderr, "fabtel-flowd: bad --log-level '%s' or cannot open --log-file '%s'\n", log_level, log_file);
        return 2;
    }
    static char token[4096];
    char why[600];
    if (auth_file[0] != '\0' && ft_read_secret(auth_file, token, sizeof(token), why, sizeof(why)) != 0) {
        fprintf(stderr, "fabtel-flowd: --auth-token-file: %s\n", why);
        return 2;
    }
    static ft_sigflags_t sig;
    ft_signals_install(&sig);
    flow_config_t cfg = {.listen = listen, .state_dir = state_dir, .store = store, .auth_token = token[0] ? token : NULL, .max_body = (size_t)max_body,
                         .max_batch = (size_t)max_batch, .max_store_bytes = (uint64_t)max_store, .retain_hours = retain_hours,
                         .request_timeout_s = request_timeout, .shutdown_grace_s = grace};
    static flow_server_t srv;
    if (flow_server_init(&srv, &cfg) != 0) {
        flow_server_destroy(&srv);
        return 1;
    }
    ft_notify_t notify;
    ft_notify_init(&notify);
    ft_notify_ready(&notify, "store open, listening");
    while (!sig.stop) {
        if (sig.reopen) {
            sig.reopen = 0;
            ft_log_reopen();
        }
        ft_notify_tick(&notify);
        h2o_evloop_run(srv.http.ctx.loop, ft_notify_max_wait_ms(&notify));
    }
    ft_notify_stopping(&notify);
    flow_server_destroy(&srv);
    return 0;
}
