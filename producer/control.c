#include "control.h"

#include <errno.h>
#include <stdio.h>

#include <jansson.h>

int prod_parse_node_id(const char *body, size_t len, int64_t *out, char *why, size_t whysz)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body ? body : "", len, 0, &jerr);
    if (doc == NULL) {
        snprintf(why, whysz, "the body is not JSON: %s (line %d)", jerr.text, jerr.line);
        return -EINVAL;
    }
    json_t *v = json_is_object(doc) ? json_object_get(doc, "node_id") : NULL;
    int ok = v != NULL && json_is_integer(v) && json_integer_value(v) >= 0;
    if (ok)
        *out = json_integer_value(v);
    else
        snprintf(why, whysz, "the body must be an object whose node_id is an integer >= 0");
    json_decref(doc);
    return ok ? 0 : -EINVAL;
}
