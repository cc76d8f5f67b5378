/*
 * producer/control — the body of the control API's PUT /switches/NAME (producer/server.h), checked: a JSON
 * object whose "node_id" is an integer >= 0; other fields are ignored. Pure; fuzzed by tests/fuzz/fuzz_orch.
 *
 * Reentrant. Errors: 0, or -EINVAL with `why` one sentence.
 */
#ifndef PROD_CONTROL_H
#define PROD_CONTROL_H

#include <stddef.h>
#include <stdint.h>

int prod_parse_node_id(const char *body, size_t len, int64_t *out, char *why, size_t whysz);

#endif
