/*
 * common/json — the two JSON pieces every fabtel daemon writes by hand: a
 * quoted, escaped string, and the error answer every API shares:
 *
 *     {"error":{"status":404,"message":"unknown switch 'sw-99'"}}
 *     {"error":{"status":400,"message":"…","field":"hour","index":3}}
 *
 * "field" names what was wrong (a parameter, a header, a body field) and
 * "index" which element of a list; both are optional. Whatever the message
 * holds (request bytes included) is escaped into valid UTF-8 JSON.
 *
 * Reentrant. Errors: 0, or -ENOMEM when the buffer could not grow.
 */
#ifndef FT_JSON_H
#define FT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

int ft_json_put_string(ft_buf_t *b, const char *s, size_t len);
/* field NULL: none; index negative: none. */
int ft_json_put_error(ft_buf_t *b, int status, const char *msg, size_t len, const char *field, int64_t index);

#endif
