/* fabtel-ingestd: config, signals and the loop. The logic is in daemon.c, model.c and batch.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "util.h"
#include "opt.h"
#include "sig.h"

/* Flags (and FABTEL_INGESTD_* variables) into a configuration. 0, 1 for --help/--version, or -1 on a bad flag. */
static int configure(int argc, char **argv, ingestd_config_t *cfg)
{
    const char *source = "http://127.0.0.1:9001/counters", *shm_name = "/fabtel", *log_level = "info", *log_file = "";
    static const char default_counters[] = "port_xmit_data,port_rcv_data,symbol_error,link_downed";
    const char *counters = default_counters, *scales = "", *state_dir = "", *format = "auto";
    int64_t history_bytes = 512LL << 20;
    double history_sync = 5;
    double interval = 10, timeout = 5, wait = 25, backoff_max = 5, forget_after = 3600;
    int64_t max_switches = 16384, max_counters = 64, slots = 4, text_bytes = 0, body_bytes = 0, max_body = 256 << 20;
    int64_t prerender_max = 50000;
    const char *shard = "";
    int source_shards = 0;
    const ft_opt_t opts[] = {
        {"source", FT_OPT_STR, &source, "URL", "CSV to ingest (http://): the matrix, or UFM Telemetry's http://HOST:9001/csv/metrics", 0, 0},
        {"shard", FT_OPT_STR, &shard, "I/N", "ingest only shard I of N (rows by a stable hash of the switch name; UFM: the node GUID)", 0, 0},
        {"source-shards", FT_OPT_BOOL, &source_shards, NULL, "with --shard: ask the source for the shard (num_shards, shard) and keep every row", 0, 0},
        {"format", FT_OPT_STR, &format, "FORMAT", "auto (UFM's CSV is recognized by its header), matrix or ufm", 0, 0},
        {"interval", FT_OPT_F64, &interval, "SECONDS", "poll period for a source without ETags, or one that does not hold long polls", 0.001, 86400},
        {"timeout", FT_OPT_F64, &timeout, "SECONDS", "deadline of one fetch, on top of any long-poll wait", 0.01, 3600},
        {"wait", FT_OPT_F64, &wait, "SECONDS", "long-poll wait asked of a source with ETags (0: never long-poll)", 0, 3600},
        {"backoff-max", FT_OPT_F64, &backoff_max, "SECONDS", "cap of the retry backoff after failures", 0.01, 3600},
        {"forget-after", FT_OPT_F64, &forget_after, "SECONDS", "give a switch's row back after this long absent", 0, 1e9},
        {"shm-name", FT_OPT_STR, &shm_name, "NAME", "POSIX shared-memory segment to publish into", 0, 0},
        {"max-switches", FT_OPT_I64, &max_switches, "N", "capacity: switches (rows)", 1, 1 << 22},
        {"max-counters", FT_OPT_I64, &max_counters, "N", "capacity: counters (columns)", 1, 1024},
        {"slots", FT_OPT_I64, &slots, "K", "capacity: snapshot slots in the seqlock ring", 2, 64},
        {"text-bytes", FT_OPT_I64, &text_bytes, "BYTES", "capacity: text pool per snapshot (0: 128 per switch)", 0, 1LL << 32},
        {"body-bytes", FT_OPT_I64, &body_bytes, "BYTES", "room for the pre-rendered ListMetrics (0: 1 KiB per switch)", 0,
         1LL << 36},
        {"prerender-max-switches", FT_OPT_I64, &prerender_max, "N",
         "pre-render ListMetrics into each slot up to N switches (rows); past it apid renders on demand (0: always)", 0, 1 << 22},
        {"counter-columns", FT_OPT_STR, &counters, "A,B", "cumulative columns (counters; the others are gauges)", 0, 0},
        {"column-scales", FT_OPT_STR, &scales, "A=N,B=N", "what one unit of a column is worth (UFM data counters: 4 bytes)", 0, 0},
        {"state-dir", FT_OPT_STR, &state_dir, "DIR", "where history.ft lives (default $STATE_DIRECTORY, else /var/lib/fabtel)", 0, 0},
        {"history-bytes", FT_OPT_I64, &history_bytes, "BYTES", "size of the history file (0: no history)", 0, 1LL << 44},
        {"history-sync", FT_OPT_F64, &history_sync, "SECONDS", "start write-back of history this often (what a power loss costs)", 0,
         3600},
        {"max-body-bytes", FT_OPT_I64, &max_body, "BYTES", "largest CSV body accepted (a 200,000-port UFM body is about 50-70 MB)", 1024, 1LL << 32},
        {"log-level", FT_OPT_STR, &log_level, "LEVEL", "debug, info, warn or error", 0, 0},
        {"log-file", FT_OPT_STR, &log_file, "PATH", "log to this file instead of stderr (reopened on SIGHUP)", 0, 0},
    };
    int r = ft_opt_parse("fabtel-ingestd", "FABTEL_INGESTD",
                         "Fetches the fabric's CSV matrix and publishes it into shared memory (the only writer).", opts,
                         sizeof(opts) / sizeof(opts[0]), argc, argv);
    if (r != 0)
        return r == -ECANCELED ? 1 : -1;
    if (ft_log_init("ingestd", log_level, log_file) != 0) {
        fprintf(stderr, "fabtel-ingestd: bad --log-level '%s' or cannot open --log-file '%s'\n", log_level, log_file);
        return -1;
    }
    int fmt = strcmp(format, "auto") == 0 ? INGEST_FORMAT_AUTO : strcmp(format, "matrix") == 0 ? INGEST_FORMAT_MATRIX
            : strcmp(format, "ufm") == 0                                                       ? INGEST_FORMAT_UFM
                                                                                               : -1;
    if (fmt < 0) {
        fprintf(stderr, "fabtel-ingestd: --format is auto, matrix or ufm, not '%s'\n", format);
        return -1;
    }
    uint32_t si = 0, sn = 0;
    if (shard[0] != '\0' && ft_shard_parse(shard, &si, &sn) != 0) {
        fprintf(stderr, "fabtel-ingestd: --shard is I/N with 0 <= I < N <= 65536, not '%s'\n", shard);
        return -1;
    }
    static char sharded[4200]; /* --source-shards: the source URL asking for the shard, UFM Telemetry's way */
    if (source_shards && sn > 1) {
        snprintf(sharded, sizeof(sharded), "%s%cnum_shards=%u&shard=%u", source, strchr(source, '?') ? '&' : '?', sn, si);
        source = sharded;
    }
    *cfg = (ingestd_config_t){
        .format = fmt,
        .shard = si,
        .shards = sn,
        .source_shards = source_shards,
        .prerender_max_switches = (uint32_t)prerender_max,
        .kinds_given = counters != default_counters || scales[0] != '\0',
        .source = source,
        .shm_name = shm_name,
        .interval_s = interval,
        .timeout_s = timeout,
        .wait_s = wait,
        .backoff_max_s = backoff_max,
        .forget_after_s = forget_after,
        .max_body_bytes = max_body,
        .counter_columns = counters,
        .column_scales = scales,
        .state_dir = state_dir,
        .history_bytes = history_bytes,
        .history_sync_s = history_sync,
        .cap = {(uint32_t)max_switches, (uint32_t)max_counters, (uint32_t)slots,
                (uint64_t)(text_bytes ? text_bytes : max_switches * 128), (uint64_t)(body_bytes ? body_bytes : max_switches * 1024)},
    };
    return 0;
}

int main(int argc, char **argv)
{
    ingestd_config_t cfg;
    int r = configure(argc, argv, &cfg);
    if (r != 0)
        return r > 0 ? 0 : 2;
    static ft_sigflags_t sig;
    ft_signals_install(&sig);
    static ingestd_t d;
    if (ingestd_init(&d, &cfg) != 0) {
        ingestd_destroy(&d);
        return 1;
    }
    /* Ready once the segment exists: readers can attach from here on. */
    ft_notify_t notify;
    ft_notify_init(&notify);
    ft_notify_ready(&notify, "segment ready, fetching");
    uint64_t next_status = 0;
    while (!sig.stop) {
        if (sig.reopen) {
            sig.reopen = 0;
            ft_log_reopen();
        }
        ingestd_run_once(&d, ft_notify_max_wait_ms(&notify));
        ft_notify_tick(&notify);
        if (ft_mono_ns() >= next_status) {
            ft_notify_status(&notify, "generation %llu, data age %llu ms, ingest %s", (unsigned long long)d.model.gen,
                             (unsigned long long)ft_shm_data_age_ms(&d.shm, ft_now_ns()), d.failing ? "failing" : "ok");
            next_status = ft_mono_ns() + 1000000000ULL;
        }
    }
    ft_notify_stopping(&notify);
    ingestd_destroy(&d);
    return 0;
}
