/* libFuzzer target: flowd's body parser (a POST /flows body), all or nothing: an accepted batch is whole and merged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    flow_batch_t b;
    flow_error_t err;
    int r = flow_parse((const char *)data, size, 1000, &b, &err);
    if (r != 0) {
        if (err.message[0] == '\0' || (r != 400 && r != 409 && r != 413))
            abort(); /* a refusal is one of the defined answers, and says why */
        return 0;
    }
    for (size_t i = 0; i < b.n; i++) {
        const flow_record_t *f = &b.rec[i];
        if (f->hour < 0 || f->bytes_rx < 0 || f->bytes_tx < 0 || !f->src_app[0] || !f->dest_app[0] || !f->vpc_id[0])
            abort();
        if (i > 0 && flow_key_cmp(&b.rec[i - 1], f) >= 0)
            abort(); /* merged: one record per key, in key order */
    }
    if (b.n > b.received)
        abort();
    flow_batch_free(&b);
    return 0;
}
