/* fabtel-apid: config, signals and the master loop. The logic is in master.c, worker.c and api.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "forward.h"
#include "log.h"
#include "master.h"
#include "opt.h"
#include "sig.h"
#include "util.h"

static void on_chld(int sig)
{
    (void)sig; /* only here to interrupt the master's sleep */
}

int main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8080", *shm_name = "/fabtel", *log_level = "info", *log_file = "";
    const char *prom_counters = ""; /* ingestd's --counter-columns marks them in the segment */
    int64_t workers = 0, max_uri = 8192;
    double stale_after = 30, shutdown_grace = 5, forward_timeout = 30, request_timeout = 10;
    const char *orchd = "http://127.0.0.1:8082", *flowd = "http://127.0.0.1:8081", *auth_token_file = "";
    int64_t max_body = 8 << 20, hist_max_points = 1000, hist_max_answer = 200000;
    int auth_reads = 0;
    const char *web_root = FABTEL_WEB_ROOT;
    const ft_opt_t opts[] = {
        {"listen", FT_OPT_STR, &listen, "ADDR:PORT", "where to answer HTTP (port 0: any free port; loopback by default)", 0, 0},
        {"workers", FT_OPT_I64, &workers, "N", "worker processes (0: one per core)", 0, FT_API_MAX_WORKERS},
        {"shm-name", FT_OPT_STR, &shm_name, "NAME", "data segment to read (the stats segment is NAME-api)", 0, 0},
        {"stale-after", FT_OPT_F64, &stale_after, "SECONDS", "/health says degraded when the data is older than this", 0, 1e9},
        {"max-uri", FT_OPT_I64, &max_uri, "BYTES", "longest request URI answered (longer: 414)", 64, 1 << 20},
        {"orchd", FT_OPT_STR, &orchd, "URL", "where /deployments goes (fabtel-orchd)", 0, 0},
        {"flowd", FT_OPT_STR, &flowd, "URL", "where /flows goes (fabtel-flowd)", 0, 0},
        {"forward-timeout", FT_OPT_F64, &forward_timeout, "SECONDS", "an upstream silent this long is answered 504", 0.01, 3600},
        {"max-body-bytes", FT_OPT_I64, &max_body, "BYTES", "largest request body taken (larger: 413)", 0, 1LL << 30},
        {"auth-token-file", FT_OPT_STR, &auth_token_file, "PATH", "writes need 'Authorization: Bearer <the token in PATH>'", 0, 0},
        {"auth-reads", FT_OPT_BOOL, &auth_reads, NULL, "reads need the token too", 0, 0},
        {"request-timeout", FT_OPT_F64, &request_timeout, "SECONDS", "a request not read whole by then, or an idle keep-alive, is closed", 0.1, 3600},
        {"shutdown-grace", FT_OPT_F64, &shutdown_grace, "SECONDS", "on stop, how long answers in flight may take to finish", 0, 3600},
        {"prom-counters", FT_OPT_STR, &prom_counters, "A,B", "more columns /metrics types as counters (besides those ingestd's --counter-columns marks)", 0, 0},
        {"history-max-points", FT_OPT_I64, &hist_max_points, "N", "/telemetry/history: points per series before steps are used", 1, 1000000},
        {"history-max-answer-points", FT_OPT_I64, &hist_max_answer, "N", "/telemetry/history: series x points per answer (400 past it)", 1, 100000000},
        {"web-root", FT_OPT_STR, &web_root, "DIR", "the dashboard's files, served at /ui/ (\"\": none)", 0, 0},
        {"log-level", FT_OPT_STR, &log_level, "LEVEL", "debug, info, warn or error", 0, 0},
        {"log-file", FT_OPT_STR, &log_file, "PATH", "log to this file instead of stderr (reopened on SIGHUP)", 0, 0},
    };
    int r = ft_opt_parse("fabtel-apid", "FABTEL_APID", "Answers telemetry queries from the shared-memory segment.", opts,
                         sizeof(opts) / sizeof(opts[0]), argc, argv);
    if (r != 0)
        return r == -ECANCELED ? 0 : 2;
    if (ft_log_init("apid", log_level, log_file) != 0) {
        fprintf(stderr, "fabtel-apid: bad --log-level '%s' or cannot open --log-file '%s'\n", log_level, log_file);
        return 2;
    }
    if (workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n > 0 ? n : 1;
    }
    static ft_sigflags_t sig;
    ft_signals_install(&sig);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_chld;
    sigaction(SIGCHLD, &sa, NULL);
    static char token[4096];
    char why[600];
    if (auth_token_file[0] != '\0' && ft_read_secret(auth_token_file, token, sizeof(token), why, sizeof(why)) != 0) {
        fprintf(stderr, "fabtel-apid: --auth-token-file: %s\n", why);
        return 2;
    }
    const char *urls[] = {orchd, flowd}, *flags[] = {"--orchd", "--flowd"};
    for (int i = 0; i < 2; i++)
        if (api_upstream_check(urls[i], why, sizeof(why)) != 0) {
            fprintf(stderr, "fabtel-apid: %s: %s\n", flags[i], why);
            return 2;
        }
    char index[4200];
    snprintf(index, sizeof(index), "%s/index.html", web_root);
    if (web_root[0] != '\0' && access(index, R_OK) != 0) {
        ft_warn("event=dashboard_off web_root=%s reason=\"no readable index.html there\"", web_root);
        web_root = "";
    }
    api_config_t api = {
        .shm_name = shm_name,
        .stale_after_s = stale_after,
        .max_uri = (size_t)max_uri,
        .prom_counters = prom_counters,
        .max_body = (size_t)max_body,
        .auth_token = token[0] ? token : NULL,
        .auth_reads = auth_reads,
        .upstreams = {{"orchd", orchd}, {"flowd", flowd}},
        .forward_timeout_s = forward_timeout,
        .hist_max_points = (size_t)hist_max_points,
        .hist_max_answer_points = (size_t)hist_max_answer,
        .web_root = web_root[0] ? web_root : NULL,
    };
    api_master_config_t cfg = {listen, (unsigned)workers, api, shutdown_grace, request_timeout};
    return api_master_run(&cfg, &sig.stop, &sig.reopen);
}
