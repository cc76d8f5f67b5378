#include "prerender.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "render.h"

void ingest_prerender_init(ingest_prerender_t *p)
{
    memset(p, 0, sizeof(*p));
    ft_buf_init(&p->json);
    ft_buf_init(&p->gz);
    p->gzip = 1;
}

void ingest_prerender_destroy(ingest_prerender_t *p)
{
    ft_buf_destroy(&p->json);
    ft_buf_destroy(&p->gz);
    if (p->zstream != NULL) {
        deflateEnd(p->zstream);
        free(p->zstream);
    }
    memset(p, 0, sizeof(*p));
}

/* p->json -> p->gz, gzip format, the fastest level: it is redone every generation. */
static int compress_body(ingest_prerender_t *p)
{
    z_stream *z = p->zstream;
    if (z == NULL) {
        if ((z = calloc(1, sizeof(*z))) == NULL)
            return -ENOMEM;
        if (deflateInit2(z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(z);
            return -ENOMEM;
        }
        p->zstream = z;
    } else {
        deflateReset(z);
    }
    size_t bound = deflateBound(z, p->json.len);
    if (ft_buf_reserve(&p->gz, bound) != 0)
        return -ENOMEM;
    z->next_in = (Bytef *)p->json.data;
    z->avail_in = (uInt)p->json.len;
    z->next_out = (Bytef *)p->gz.data;
    z->avail_out = (uInt)bound;
    if (deflate(z, Z_FINISH) != Z_STREAM_END)
        return -ENOMEM;
    p->gz.len = bound - z->avail_out;
    return 0;
}

int ingest_prerender_run(ingest_prerender_t *p, const ft_snap_t *v)
{
    p->json.len = p->gz.len = 0;
    p->json.failed = p->gz.failed = 0;
    ft_render_filter_t all = {.limit = UINT64_MAX};
    if (ft_render_list(&p->json, v, &all) != 0 || p->json.failed)
        return -ENOMEM;
    if (p->gzip && compress_body(p) != 0)
        p->gz.len = 0; /* the plain body is still good */
    return 0;
}
