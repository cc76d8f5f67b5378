#include "json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

int ft_json_put_string(ft_buf_t *b, const char *s, size_t len)
{
    if (ft_buf_reserve(b, ft_json_escape_bound(len) + 2) != 0)
        return -ENOMEM;
    b->data[b->len++] = '"';
    b->len += ft_json_escape(b->data + b->len, s, len);
    b->data[b->len++] = '"';
    return 0;
}

int ft_json_put_error(ft_buf_t *b, int status, const char *msg, size_t len, const char *field, int64_t index)
{
    char tmp[64];
    ft_buf_append(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), "{\"error\":{\"status\":%d,\"message\":", status));
    ft_json_put_string(b, msg, len);
    if (field != NULL) {
        ft_buf_append(b, ",\"field\":", 9);
        ft_json_put_string(b, field, strlen(field));
    }
    if (index >= 0)
        ft_buf_append(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), ",\"index\":%" PRId64, index));
    ft_buf_append(b, "}}", 2);
    return b->failed ? -ENOMEM : 0;
}
