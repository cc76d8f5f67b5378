/*
 * libFuzzer target: the outside input of orchd and of the producer's control API — a POST /deployments body, the
 * producer's GET /switches answer (as orchd reads it), a PUT /switches/NAME body. The first byte picks which.
 * Whatever comes, an accepted deployment obeys the rules, a refusal names its field, a switch list is sorted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "parse.h"

static void deployment(const char *body, size_t len)
{
    static orch_deployment_body_t out; /* 20 KiB; the fuzzer runs one input at a time */
    const char *field;
    char why[300];
    if (orch_parse_deployment(body, len, &out, &field, why, sizeof(why)) != 0) {
        if (field == NULL || why[0] == '\0')
            abort(); /* a refusal names its field and says why */
        return;
    }
    const orch_new_deployment_t *d = &out.d;
    if (d->name == NULL || d->name_len == 0 || d->name_len > 4 * ORCH_NAME_MAX_CHARS || strlen(d->name) != d->name_len ||
        d->target_node_count < 1 || d->target_node_count > 1000 || (d->description && strlen(d->description) != d->description_len))
        abort();
}

static void switches(const char *body, size_t len)
{
    orch_prov_switch_t *sw;
    size_t n;
    if (orch_parse_switches(body, len, &sw, &n) != 0)
        return;
    for (size_t i = 1; i < n; i++)
        if (strcmp(sw[i - 1].name, sw[i].name) > 0)
            abort();
    free(sw);
}

static void node_id(const char *body, size_t len)
{
    int64_t id = -1;
    char why[300] = "";
    if (prod_parse_node_id(body, len, &id, why, sizeof(why)) == 0 ? id < 0 : why[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] % 3 == 0)
        deployment(body, len);
    else if (data[0] % 3 == 1)
        switches(body, len);
    else
        node_id(body, len);
    return 0;
}
