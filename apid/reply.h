/*
 * apid/reply — what every answer of the API shares: error bodies, the 503
 * before data, ETags and If-None-Match, answers from the scratch buffer or
 * from a jansson document, and the start of every snapshot read.
 *
 * ETag: "<epoch>-<generation>-<hash of the variant>", the variant being path,
 * query and, for the answer that has a gzip form, the encoding. It changes
 * when the segment is re-created, when a generation is published, and
 * between any two different questions, so it is strong.
 *
 * Who may call: apid's handlers, in one worker. Nothing fails: an answer that
 * cannot be built becomes a 500 with a JSON body.
 */
#ifndef API_REPLY_H
#define API_REPLY_H

#include <jansson.h>

#include "api.h"
#include "snapshot.h"

/* The response is the scratch buffer with this status. */
void api_reply_scratch(api_ctx_t *ctx, api_response_t *res, int status);
/* {"error":{"status":N,"message":…}}. The message may quote request bytes: they are escaped. */
void api_reply_error(api_ctx_t *ctx, api_response_t *res, int status, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same, naming what was wrong: field (NULL: none) and index (negative: none). */
void api_reply_error_at(api_ctx_t *ctx, api_response_t *res, int status, const char *field, int64_t index, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* The document, compact, in insertion order; takes the reference. */
void api_reply_json(api_ctx_t *ctx, api_response_t *res, int status, json_t *doc);
/* 503 with Retry-After: nothing published yet. */
void api_reply_no_data(api_ctx_t *ctx, api_response_t *res);
void api_reply_not_modified(api_response_t *res);

/* Request-supplied names are quoted in messages, cut to a readable length. */
static inline int api_quote_len(size_t len)
{
    return len > 80 ? 80 : (int)len;
}

/* Attached, and a generation published. */
int api_has_data(const api_ctx_t *ctx);

/* The variant's hash (path, query, encoding): the answer cache's key and the ETag's last part. */
uint64_t api_variant_hash(const api_request_t *req);
void api_etag_make(const api_ctx_t *ctx, const api_request_t *req, uint64_t gen, char out[64]);
/* If-None-Match names this ETag (or "*"). */
int api_etag_matches(const api_request_t *req, const char *etag);

/*
 * The start of every snapshot read: pick the generation, name the variant's
 * ETag, and answer 304 when the client has it. 1 when the answer is made.
 */
int api_begin_read(api_ctx_t *ctx, const api_request_t *req, ft_snap_t *v, api_response_t *res);

#endif
