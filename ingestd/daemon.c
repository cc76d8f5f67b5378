#include "daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "statedir.h"
#include "stats.h"
#include "util.h"

static uint64_t ms_to_ns(double ms)
{
    return (uint64_t)(ms * 1e6);
}

static void start_attempt(h2o_timeout_entry_t *entry);

/* ---- outcomes ---- */

static void schedule(ingestd_t *d, uint64_t delay_ns)
{
    d->next_due_mono = ft_mono_ns() + delay_ns;
}

static uint64_t backoff_ns(const ingestd_t *d)
{
    /* 100 ms, 200 ms, 400 ms, ... capped at backoff_max. */
    double ms = 100.0;
    for (uint32_t i = 1; i < d->consecutive_failures && ms < d->cfg.backoff_max_s * 1000.0; i++)
        ms *= 2;
    if (ms > d->cfg.backoff_max_s * 1000.0)
        ms = d->cfg.backoff_max_s * 1000.0;
    return ms_to_ns(ms);
}

static void end_attempt(ingestd_t *d)
{
    d->busy = 0;
    d->client = NULL;
}

/* An ingest's duration runs from the response's first byte (a long poll's wait is not work), or from the start when none came. */
static uint64_t attempt_us(const ingestd_t *d)
{
    return (ft_mono_ns() - (d->head_mono ? d->head_mono : d->attempt_start_mono)) / 1000;
}

static void fail(ingestd_t *d, int cause, const char *why)
{
    uint64_t now = ft_now_ns();
    end_attempt(d);
    d->consecutive_failures++;
    d->failed++;
    ft_ingest_stats_record(ft_shm_ingest_stats(&d->shm), now, FT_INGEST_FAILED, cause, attempt_us(d), 0);
    ft_shm_set_ingest_failing(&d->shm, 1);
    uint64_t delay = backoff_ns(d);
    /* One line per change of state: entering "failing" is logged; failing again (whatever the cause) is not. */
    char q[300];
    ft_log(!d->failing ? (cause == FT_FAIL_CAPACITY ? FT_LOG_ERROR : FT_LOG_WARN) : FT_LOG_DEBUG,
           "event=ingest_failing cause=%s why=%s source=%s retry_ms=%" PRIu64 " backoff_max_ms=%.0f generation=%" PRIu64,
           ft_fail_cause_label(cause), ft_log_quote(q, sizeof(q), why, strlen(why)), d->cfg.source, delay / 1000000,
           d->cfg.backoff_max_s * 1000, d->model.gen);
    d->failing = 1;
    /* Never retry at a fixed rate faster than the backoff, and a source without ETags not faster than its interval. */
    schedule(d, delay);
}

static void succeeded(ingestd_t *d)
{
    if (d->failing)
        ft_info("event=ingest_recovered after_failures=%u generation=%" PRIu64, d->consecutive_failures, d->model.gen);
    d->failing = 0;
    d->consecutive_failures = 0;
    ft_shm_set_ingest_failing(&d->shm, 0);
    /* A long-polling source tells us when there is news: ask again at once. Any other: every interval. */
    schedule(d, d->source_has_etag && d->source_holds ? 0 : (uint64_t)(d->cfg.interval_s * 1e9));
}

/*
 * Did the source hold this long poll? Two 304s in a row, each long before
 * the wait we asked for, say it does not (one alone may be a long-polling
 * source answering its held requests as it stops); any answer after half
 * the wait says it does. A quick 200 says nothing (a long-polling source
 * answers at once when it has news).
 */
static void judge_holding(ingestd_t *d, int status)
{
    if (!d->long_poll)
        return;
    double took_s = (double)(ft_mono_ns() - d->attempt_start_mono) / 1e9;
    int holds = d->source_holds;
    if (took_s >= d->cfg.wait_s / 2) {
        d->early_304s = 0;
        holds = 1;
    } else if (status == 304 && ++d->early_304s >= 2) {
        holds = 0;
    }
    if (holds == d->source_holds)
        return;
    d->source_holds = holds;
    if (holds)
        ft_info("event=source_long_polls source=%s took_ms=%.0f wait_ms=%.0f", d->cfg.source, took_s * 1000, d->cfg.wait_s * 1000);
    else
        ft_warn("event=source_not_long_polling source=%s reason=\"304s came back after %.0f ms of a %.0f ms wait\" "
                "poll_every_ms=%.0f",
                d->cfg.source, took_s * 1000, d->cfg.wait_s * 1000, d->cfg.interval_s * 1000);
}

static void unchanged(ingestd_t *d)
{
    uint64_t now = ft_now_ns();
    uint64_t us = attempt_us(d);
    end_attempt(d);
    d->unchanged++;
    ft_shm_confirm(&d->shm, now);
    ft_ingest_stats_record(ft_shm_ingest_stats(&d->shm), now, FT_INGEST_UNCHANGED, 0, us, 0);
    ft_debug("event=ingest_unchanged generation=%" PRIu64 " etag=%s", d->model.gen, d->etag);
    succeeded(d);
}

/*
 * A UFM body (recognized by its header, or --format ufm) becomes the matrix the model takes (ingestd/ufm.h); the
 * first one also gives the model UFM's rules and, unless the operator chose them, UFM's column kinds. 0, or the
 * failure already reported.
 */
static int as_matrix(ingestd_t *d, ingest_batch_t **body)
{
    int ufm = d->cfg.format == INGEST_FORMAT_UFM || (d->cfg.format == INGEST_FORMAT_AUTO && ingest_ufm_detect(&d->batch));
    if (!ufm)
        return 0;
    char why[200];
    int r = ingest_ufm_translate(&d->batch, &d->ufm, why, sizeof(why));
    if (r != 0) {
        fail(d, FT_FAIL_PARSE, r == -ENOMEM ? "out of memory rewriting the UFM body" : why);
        return r;
    }
    if (!d->ufm_rules) {
        ingest_model_set_rules(&d->model, &INGEST_UFM_RULES);
        if (!d->cfg.kinds_given)
            ingest_model_set_kinds(&d->model, INGEST_UFM_COUNTERS, INGEST_UFM_SCALES, why, sizeof(why));
        d->ufm_rules = 1;
        ft_info("event=format_ufm reason=\"%s\" rows=port key=node_guid_port_num", d->cfg.format == INGEST_FORMAT_UFM ? "--format ufm" : "header");
    }
    *body = &d->ufm;
    return 0;
}

/* --shard: a row is ours when its switch hashes to our shard (ft_shard_of); a UFM port's switch is its key's GUID. */
static int in_shard(void *ctx, const ingest_batch_t *b, size_t r)
{
    const ingestd_t *d = ctx;
    size_t len;
    const char *key = ingest_batch_field(b, r, 0, &len);
    if (b == &d->ufm) {
        const char *us = memrchr(key, '_', len);
        len = us ? (size_t)(us - key) : len;
    }
    return ft_shard_of(key, len, d->cfg.shards) == d->cfg.shard;
}

/* The whole body is in the batch: judge it, publish it. */
static void body_complete(ingestd_t *d)
{
    uint64_t now = ft_now_ns();
    ingest_result_t res;
    int r = ingest_batch_finish(&d->batch);
    if (r == -EFBIG) {
        fail(d, FT_FAIL_PARSE, "body larger than --max-body-bytes");
        return;
    } else if (r != 0) {
        fail(d, FT_FAIL_PARSE, "out of memory parsing the body");
        return;
    }
    ingest_batch_t *body = &d->batch;
    if ((r = as_matrix(d, &body)) != 0)
        return;
    if (d->cfg.shards > 1 && !d->cfg.source_shards)
        ingest_batch_keep_rows(body, in_shard, d);
    if (ingest_model_apply(&d->model, body, now, &res) != 0) {
        fail(d, res.cause, res.why);
        return;
    }
    ingest_model_publish(&d->model, &d->shm, now);
    uint64_t us = attempt_us(d);
    end_attempt(d);
    d->published++;
    if (d->new_etag[0] != '\0')
        memcpy(d->etag, d->new_etag, sizeof(d->etag));
    ft_ingest_stats_record(ft_shm_ingest_stats(&d->shm), now, FT_INGEST_PUBLISHED, 0, us, res.rows_rejected);
    if (res.rows_rejected)
        ft_warn("event=rows_rejected generation=%" PRIu64 " rejected=%" PRIu64 " stale=%" PRIu64 " first=%s", d->model.gen,
                res.rows_rejected, res.stale_rows, res.rejected_ids);
    if (res.new_switches || res.forgotten)
        ft_info("event=fabric_changed generation=%" PRIu64 " switches=%u new=%u forgotten=%u", d->model.gen, res.nswitches,
                res.new_switches, res.forgotten);
    ft_debug("event=published generation=%" PRIu64 " switches=%u bytes=%zu duration_us=%" PRIu64, d->model.gen, res.nswitches,
             d->batch.bytes, us);
    succeeded(d);
}

/* ---- the HTTP exchange ---- */

static int on_body(h2o_http1client_t *client, const char *errstr)
{
    ingestd_t *d = client->data;
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        fail(d, strstr(errstr, "timeout") ? FT_FAIL_TIMEOUT : FT_FAIL_TRUNCATED, errstr);
        return -1;
    }
    h2o_buffer_t *in = client->sock->input;
    if (in->size > 0) {
        int r = ingest_batch_feed(&d->batch, in->bytes, in->size);
        h2o_buffer_consume(&client->sock->input, in->size);
        if (r != 0) {
            fail(d, FT_FAIL_PARSE, r == -EFBIG ? "body larger than --max-body-bytes" : "out of memory parsing the body");
            return -1;
        }
    }
    if (errstr == h2o_http1client_error_is_eos)
        body_complete(d);
    return 0;
}

static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *errstr, int minor_version, int status,
                                       h2o_iovec_t msg, h2o_header_t *headers, size_t num_headers, int rlen)
{
    (void)minor_version, (void)msg, (void)rlen;
    ingestd_t *d = client->data;
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        fail(d, strstr(errstr, "timeout") ? FT_FAIL_TIMEOUT : FT_FAIL_HTTP, errstr);
        return NULL;
    }
    d->head_mono = ft_mono_ns();
    judge_holding(d, status);
    if (status == 304) {
        unchanged(d);
        return NULL;
    }
    if (status != 200) {
        char why[64];
        snprintf(why, sizeof(why), "source answered HTTP %d", status);
        fail(d, FT_FAIL_HTTP, why);
        return NULL;
    }
    d->new_etag[0] = '\0';
    for (size_t i = 0; i < num_headers; i++) {
        if (headers[i].name == &H2O_TOKEN_ETAG->buf && headers[i].value.len < sizeof(d->new_etag)) {
            memcpy(d->new_etag, headers[i].value.base, headers[i].value.len);
            d->new_etag[headers[i].value.len] = '\0';
        } else if (headers[i].name == &H2O_TOKEN_CONTENT_LENGTH->buf) {
            size_t cl = h2o_strtosize(headers[i].value.base, headers[i].value.len);
            if (cl != SIZE_MAX && cl > (size_t)d->cfg.max_body_bytes) {
                fail(d, FT_FAIL_PARSE, "Content-Length larger than --max-body-bytes");
                return NULL;
            }
        }
    }
    d->source_has_etag = d->new_etag[0] != '\0';
    ingest_batch_reset(&d->batch);
    if (errstr == h2o_http1client_error_is_eos) { /* a 200 with no body at all */
        body_complete(d);
        return NULL;
    }
    return on_body;
}

static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *errstr, h2o_iovec_t **reqbufs,
                                          size_t *reqbufcnt, int *method_is_head)
{
    ingestd_t *d = client->data;
    if (errstr != NULL) {
        fail(d, FT_FAIL_CONNECT, errstr);
        return NULL;
    }
    *reqbufs = &d->reqbuf;
    *reqbufcnt = 1;
    *method_is_head = 0;
    return on_head;
}

/* Runs from a 0 ms timeout, so a pooled keep-alive connection is reused (libh2o 2.2.5). */
static void start_attempt(h2o_timeout_entry_t *entry)
{
    ingestd_t *d = H2O_STRUCT_FROM_MEMBER(ingestd_t, kick, entry);
    if (d->busy)
        return;
    h2o_mem_clear_pool(&d->pool);
    d->long_poll = d->source_has_etag && d->etag[0] != '\0' && d->cfg.wait_s > 0;
    size_t cap = d->url.path.len + d->url.authority.len + sizeof(d->etag) + 200;
    char *req = h2o_mem_alloc_pool(&d->pool, cap);
    int n;
    if (d->long_poll)
        n = snprintf(req, cap, "GET %.*s%cwait=%g HTTP/1.1\r\nHost: %.*s\r\nIf-None-Match: %s\r\nUser-Agent: fabtel-ingestd\r\n\r\n",
                     (int)d->url.path.len, d->url.path.base, memchr(d->url.path.base, '?', d->url.path.len) ? '&' : '?',
                     d->cfg.wait_s, (int)d->url.authority.len, d->url.authority.base, d->etag);
    else
        n = snprintf(req, cap, "GET %.*s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: fabtel-ingestd\r\n\r\n", (int)d->url.path.len,
                     d->url.path.base, (int)d->url.authority.len, d->url.authority.base);
    d->reqbuf = h2o_iovec_init(req, (size_t)n);
    d->busy = 1;
    d->attempt_start_mono = ft_mono_ns();
    d->head_mono = 0;
    d->deadline_mono = d->attempt_start_mono + (uint64_t)((d->cfg.timeout_s + (d->long_poll ? d->cfg.wait_s : 0)) * 1e9);
    d->client = NULL;
    h2o_http1client_connect_with_pool(&d->client, d, &d->client_ctx, &d->sockpool, on_connect);
}

void ingestd_run_once(ingestd_t *d, int32_t max_wait_ms)
{
    uint64_t now = ft_mono_ns();
    if (d->busy && now >= d->deadline_mono) {
        /* The deadline holds whatever the socket does (a body that trickles in forever still fails). */
        if (d->client != NULL)
            h2o_http1client_cancel(d->client);
        fail(d, FT_FAIL_TIMEOUT, "attempt deadline passed (--timeout, plus the long-poll wait)");
    }
    if (!d->busy && now >= d->next_due_mono && !h2o_timeout_is_linked(&d->kick))
        h2o_timeout_link(d->loop, &d->zero_timeout, &d->kick);
    uint64_t until = d->busy ? d->deadline_mono : d->next_due_mono;
    int64_t wait_ms = until > now ? (int64_t)((until - now) / 1000000 + 1) : 0;
    if (wait_ms > max_wait_ms) /* wake up regularly: stop requests, watchdog pings */
        wait_ms = max_wait_ms;
    h2o_evloop_run(d->loop, (int32_t)wait_ms);
}

/* ---- setup ---- */

static int open_segment(ingestd_t *d)
{
    char why[300];
    int fd = ft_shm_lock_writer(d->cfg.shm_name, why, sizeof(why));
    if (fd < 0) {
        ft_error("event=start_refused reason=%s", why);
        return fd;
    }
    d->lock_fd = fd;
    int created;
    int r = ft_shm_writer_open(&d->shm, d->cfg.shm_name, &d->cfg.cap, &created, why, sizeof(why));
    if (r != 0) {
        ft_error("event=segment_error shm=%s reason=%s", d->cfg.shm_name, why);
        return r;
    }
    if (created == 2)
        ft_warn("event=segment_recreated shm=%s reason=%s epoch=%016" PRIx64, d->cfg.shm_name, why, d->shm.hdr->epoch);
    if (created == 0) {
        if ((r = ingest_model_load(&d->model, &d->shm, ft_now_ns())) != 0) {
            ft_error("event=segment_error shm=%s reason=\"published snapshot unreadable on reattach\"", d->cfg.shm_name);
            return r;
        }
        ft_info("event=segment_attached shm=%s epoch=%016" PRIx64 " generation=%" PRIu64 " switches_known=%u counters_known=%u",
                d->cfg.shm_name, d->shm.hdr->epoch, d->model.gen, d->model.nrows, d->model.ncols);
    } else {
        ft_info("event=segment_created shm=%s epoch=%016" PRIx64 " bytes=%" PRIu64 " max_switches=%u max_counters=%u slots=%u",
                d->cfg.shm_name, d->shm.hdr->epoch, d->shm.hdr->total_size, d->cfg.cap.max_switches, d->cfg.cap.max_counters,
                d->cfg.cap.nslots);
    }
    ft_shm_set_writer(&d->shm, (uint64_t)getpid(), ft_now_ns());
    ft_shm_source_announce(&d->shm, d->cfg.source, d->cfg.shard, d->cfg.shards);
    return 0;
}

/*
 * The history file in the state directory, announced in the segment so readers find it. A file this build
 * cannot use is refused (ingestd does not start) and left as it is; 0 bytes: no history, announced as none.
 */
static int open_history(ingestd_t *d)
{
    if (d->cfg.history_bytes <= 0) {
        ft_shm_history_announce(&d->shm, NULL, 0);
        ft_info("event=history_off reason=\"--history-bytes 0\"");
        return 0;
    }
    char why[600], path[4200];
    ft_state_dir_t sd;
    int r = ft_state_dir_open(&sd, d->cfg.state_dir, why, sizeof(why));
    if (r == 0 && (r = ft_state_path(&sd, FT_HIST_FILE, path, sizeof(path))) != 0)
        snprintf(why, sizeof(why), "state directory path too long");
    if (r != 0) {
        ft_error("event=start_refused reason=\"%s\"", why);
        return r;
    }
    int created;
    uint64_t recovered;
    r = ft_hist_writer_open(&d->hist, path, (uint64_t)d->cfg.history_bytes, d->cfg.cap.max_switches,
                            (int64_t)(d->cfg.history_sync_s * 1000), &created, &recovered, why, sizeof(why));
    uint32_t old = r == -EPROTO ? ft_hist_file_version(path) : 0;
    if (old != 0 && old < FT_HIST_VERSION) { /* an upgrade: the older file is kept aside (shmdump of that build reads it), a new one starts */
        char aside[4300];
        snprintf(aside, sizeof(aside), "%s.v%u", path, old);
        if (rename(path, aside) == 0) {
            ft_warn("event=history_set_aside history=%s moved_to=%s reason=\"format version %u; this build writes %u\"", path, aside,
                    old, FT_HIST_VERSION);
            r = ft_hist_writer_open(&d->hist, path, (uint64_t)d->cfg.history_bytes, d->cfg.cap.max_switches,
                                    (int64_t)(d->cfg.history_sync_s * 1000), &created, &recovered, why, sizeof(why));
        }
    }
    if (r != 0) {
        ft_error("event=start_refused history=%s reason=\"%s\"", path, why);
        return r;
    }
    d->hist_open = 1;
    d->model.hist = &d->hist;
    const ft_hist_header_t *h = d->hist.map.hdr;
    if (!created && h->total_size != (uint64_t)d->cfg.history_bytes)
        ft_warn("event=history_size_kept history=%s bytes=%" PRIu64 " asked=%" PRId64
                " reason=\"an existing history keeps its size; move it away (after --history-export) to change it\"",
                path, h->total_size, d->cfg.history_bytes);
    if (d->hist.unclean)
        ft_warn("event=history_recovered history=%s scanned=%d series_moved=%" PRIu64 " reason=\"%s\"", path, d->hist.scanned,
                recovered, d->hist.scanned ? "the last writer did not close it, in another boot: every block checked"
                                           : "the last writer did not close it (killed in this boot: nothing torn)");
    ft_info("event=history_open history=%s created=%d bytes=%" PRIu64 " raw_blocks=%" PRIu64 " rollup_blocks=%" PRIu64
            " entries=%" PRIu64 " epoch=%016" PRIx64,
            path, created, h->total_size, h->raw_blocks, h->roll_blocks, (uint64_t)atomic_load(&h->nentries), h->epoch);
    ft_shm_history_announce(&d->shm, path, h->epoch);
    return 0;
}

int ingestd_init(ingestd_t *d, const ingestd_config_t *cfg)
{
    memset(d, 0, sizeof(*d));
    d->cfg = *cfg;
    d->lock_fd = -1;
    d->source_holds = 1;
    if (h2o_url_parse(cfg->source, SIZE_MAX, &d->url) != 0 || d->url.scheme != &H2O_URL_SCHEME_HTTP) {
        ft_error("event=bad_config source=%s reason=\"not an http:// URL\"", cfg->source);
        return -EINVAL;
    }
    int r;
    if ((r = ingest_model_init(&d->model, &cfg->cap, (uint64_t)(cfg->forget_after_s * 1e9))) != 0 ||
        (r = ingest_batch_init(&d->batch, (size_t)cfg->max_body_bytes)) != 0 ||
        (r = ingest_batch_init(&d->ufm, SIZE_MAX)) != 0) {
        ft_error("event=start_refused reason=\"cannot allocate the model for this capacity\"");
        return r;
    }
    d->model.prerender_max_rows = cfg->prerender_max_switches;
    char why[300];
    if ((r = ingest_model_set_kinds(&d->model, cfg->counter_columns, cfg->column_scales, why, sizeof(why))) != 0) {
        ft_error("event=bad_config flag=--column-scales reason=\"%s\"", why);
        return r;
    }
    if ((r = open_segment(d)) != 0 || (r = open_history(d)) != 0)
        return r;

    d->loop = h2o_evloop_create();
    d->queue = h2o_multithread_create_queue(d->loop);
    h2o_multithread_register_receiver(d->queue, &d->getaddr_receiver, h2o_hostinfo_getaddr_receiver);
    /* The client's io_timeout is inactivity only; the attempt deadline is enforced in ingestd_run_once. */
    h2o_timeout_init(d->loop, &d->io_timeout, (uint64_t)((cfg->timeout_s + cfg->wait_s) * 1000));
    h2o_timeout_init(d->loop, &d->zero_timeout, 0);
    d->kick.cb = start_attempt;
    d->client_ctx.loop = d->loop;
    d->client_ctx.getaddr_receiver = &d->getaddr_receiver;
    d->client_ctx.io_timeout = &d->io_timeout;
    h2o_socketpool_init_by_hostport(&d->sockpool, d->url.host, h2o_url_get_port(&d->url), 0, 4);
    h2o_socketpool_set_timeout(&d->sockpool, d->loop, 30000);
    h2o_mem_init_pool(&d->pool);
    ft_info("event=started source=%s interval_s=%g timeout_s=%g wait_s=%g", cfg->source, cfg->interval_s, cfg->timeout_s,
            cfg->wait_s);
    return 0;
}

void ingestd_destroy(ingestd_t *d)
{
    if (d->busy && d->client != NULL)
        h2o_http1client_cancel(d->client);
    if (d->shm.hdr != NULL)
        ft_shm_set_writer(&d->shm, 0, 0);
    ft_info("event=stopped generation=%" PRIu64 " published=%" PRIu64 " unchanged=%" PRIu64 " failed=%" PRIu64, d->model.gen,
            d->published, d->unchanged, d->failed);
    if (d->hist_open)
        ft_hist_writer_close(&d->hist);
    ft_shm_close(&d->shm);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    ingest_model_destroy(&d->model);
    ingest_batch_destroy(&d->batch);
    ingest_batch_destroy(&d->ufm);
    if (d->loop != NULL)
        h2o_mem_clear_pool(&d->pool);
}
