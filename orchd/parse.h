/*
 * orchd/parse — the outside input orchd reads, checked: a POST /deployments
 * body, and the producer's GET /switches answer. Pure functions over a
 * buffer (jansson parses; the rules are here), fuzzed by tests/fuzz/fuzz_orch.
 *
 * Deployment body: a JSON object; "name" a string of 1..255 characters (code
 * points, not bytes); "description" absent, null or a string of at most 4096
 * characters; "target_node_count" an integer 1..1000 (not a float, a string or
 * a boolean); other fields ignored.
 *
 * Reentrant. Errors: 0, or -EINVAL with the field named (or "body") and why.
 */
#ifndef ORCH_PARSE_H
#define ORCH_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "provision.h"
#include "store.h"

#define ORCH_NAME_MAX_CHARS 255
#define ORCH_DESCRIPTION_MAX_CHARS 4096

typedef struct orch_deployment_body {
    char name[ORCH_NAME_MAX_CHARS * 4 + 1];
    char description[ORCH_DESCRIPTION_MAX_CHARS * 4 + 1];
    orch_new_deployment_t d; /* pointing into the buffers above */
} orch_deployment_body_t;

int orch_parse_deployment(const char *body, size_t len, orch_deployment_body_t *out, const char **field, char *why, size_t whysz);

/* {"switches":[{"name":…,"node_id":N},…]} into a sorted array (malloc'ed; names too long are skipped). -EPROTO otherwise. */
int orch_parse_switches(const char *body, size_t len, orch_prov_switch_t **out, size_t *n);

#endif
