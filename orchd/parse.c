#include "parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* A string field into out (NUL-terminated): 0, or the reason it is refused. */
static const char *take_string(json_t *doc, const char *name, int nullable, size_t maxchars, char *out, const char **ptr, size_t *len)
{
    json_t *v = json_object_get(doc, name);
    *ptr = NULL, *len = 0;
    if (v == NULL || (nullable && json_is_null(v)))
        return nullable ? NULL : "is required";
    if (!json_is_string(v))
        return nullable ? "must be a string or null" : "must be a string";
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80; /* code points: jansson has checked the UTF-8 */
    if (!nullable && chars == 0)
        return "must be 1 to 255 characters";
    if (chars > maxchars || memchr(s, '\0', n) != NULL)
        return nullable ? "must be at most 4096 characters" : "must be 1 to 255 characters";
    memcpy(out, s, n); /* maxchars code points fit in 4 * maxchars bytes */
    out[n] = '\0';
    *ptr = out, *len = n;
    return NULL;
}

int orch_parse_deployment(const char *body, size_t len, orch_deployment_body_t *out, const char **field, char *why, size_t whysz)
{
    json_error_t jerr;
    memset(&out->d, 0, sizeof(out->d));
    json_t *doc = json_loadb(body ? body : "", len, 0, &jerr);
    *field = "body";
    if (doc == NULL || !json_is_object(doc)) {
        snprintf(why, whysz, "%s", doc ? "the body must be a JSON object" : jerr.text);
        json_decref(doc);
        return -EINVAL;
    }
    const char *bad = take_string(doc, "name", 0, ORCH_NAME_MAX_CHARS, out->name, &out->d.name, &out->d.name_len);
    *field = "name";
    if (bad == NULL) {
        *field = "description";
        bad = take_string(doc, "description", 1, ORCH_DESCRIPTION_MAX_CHARS, out->description, &out->d.description,
                          &out->d.description_len);
    }
    if (bad == NULL) {
        json_t *n = json_object_get(doc, "target_node_count");
        *field = "target_node_count";
        if (n == NULL)
            bad = "is required";
        else if (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > 1000)
            bad = "must be an integer from 1 to 1000";
        else
            out->d.target_node_count = json_integer_value(n);
    }
    json_decref(doc);
    if (bad != NULL)
        snprintf(why, whysz, "'%s' %s", *field, bad);
    return bad ? -EINVAL : 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const orch_prov_switch_t *)a)->name, ((const orch_prov_switch_t *)b)->name);
}

int orch_parse_switches(const char *body, size_t len, orch_prov_switch_t **out, size_t *nout)
{
    json_t *doc = json_loadb(body ? body : "", len, 0, NULL), *arr = json_is_object(doc) ? json_object_get(doc, "switches") : NULL;
    *out = NULL, *nout = 0;
    if (!json_is_array(arr)) {
        json_decref(doc);
        return -EPROTO;
    }
    size_t n = json_array_size(arr), k = 0;
    orch_prov_switch_t *have = calloc(n ? n : 1, sizeof(*have));
    if (have == NULL) {
        json_decref(doc);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i), *name = json_object_get(e, "name"), *id = json_object_get(e, "node_id");
        if (!json_is_string(name) || json_string_length(name) >= sizeof(have[k].name) || memchr(json_string_value(name), '\0', json_string_length(name)))
            continue;
        snprintf(have[k].name, sizeof(have[k].name), "%s", json_string_value(name));
        have[k++].node_id = json_is_integer(id) ? json_integer_value(id) : 0;
    }
    json_decref(doc);
    qsort(have, k, sizeof(*have), by_name);
    *out = have, *nout = k;
    return 0;
}
