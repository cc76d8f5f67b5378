/*
 * ingestd/prerender — the unfiltered ListMetrics answer, rendered once per
 * generation by the writer so that readers only copy it, and its gzip form
 * for clients that accept it. The only file of ingestd that knows render/
 * and zlib.
 *
 * Owns: two growing buffers and a reused deflate stream. Who may call: the
 * model, while it fills a slot; one thread. Errors: 0 or a negative errno
 * (-ENOMEM); on error no body is kept (readers then render it themselves).
 */
#ifndef INGEST_PRERENDER_H
#define INGEST_PRERENDER_H

#include "buf.h"
#include "snapshot.h"

typedef struct ingest_prerender {
    ft_buf_t json; /* the body */
    ft_buf_t gz;   /* its gzip form; len 0 when none */
    void *zstream; /* a reused zlib deflate stream */
    int gzip;      /* pre-compress too (default: on) */
} ingest_prerender_t;

void ingest_prerender_init(ingest_prerender_t *p);
void ingest_prerender_destroy(ingest_prerender_t *p);

/* Render the whole snapshot v into p->json, and p->gz when gzip is on. */
int ingest_prerender_run(ingest_prerender_t *p, const ft_snap_t *v);

#endif
