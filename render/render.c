#include "render.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "util.h"

int ft_render_cell(ft_buf_t *b, const ft_snap_t *v, uint32_t type, uint64_t cell)
{
    char tmp[FT_TEXT_MAX + 1];
    int n;
    switch (type) {
    case FT_COL_INT:
        if (cell == FT_CELL_NULL_INT)
            break;
        return ft_buf_append(b, tmp, ft_fmt_i64(tmp, (int64_t)cell));
    case FT_COL_UINT:
        if (cell == FT_CELL_NULL_INT)
            break;
        return ft_buf_append(b, tmp, ft_fmt_u64(tmp, cell));
    case FT_COL_FLOAT: {
        double d;
        memcpy(&d, &cell, sizeof(d));
        if (cell == FT_CELL_NULL_FLOAT || d != d)
            break;
        return ft_buf_append(b, tmp, ft_fmt_double(tmp, d));
    }
    case FT_COL_TEXT:
        if ((n = ft_snap_text(v, cell, tmp, sizeof(tmp))) < 0)
            break;
        return ft_json_put_string(b, tmp, (size_t)n);
    }
    return ft_buf_append(b, "null", 4);
}

static int render_head(ft_buf_t *b, const ft_snap_t *v)
{
    char ts[32], tmp[96];
    ft_fmt_iso8601(ts, ft_snap_hdr(v, FT_SLOT_COLLECTED_NS));
    int n = snprintf(tmp, sizeof(tmp), "{\"generation\":%" PRIu64 ",\"collected_at\":\"%s\"", v->gen, ts);
    return ft_buf_append(b, tmp, (size_t)n);
}

/* The columns a list shows, resolved once per render: index, type and the pre-escaped `,"name":` key. */
typedef struct shown_cols {
    uint32_t n, idx[FT_MAX_COUNTERS_LIMIT], type[FT_MAX_COUNTERS_LIMIT], key_off[FT_MAX_COUNTERS_LIMIT + 1];
    ft_buf_t keys;
} shown_cols_t;

static void resolve_cols(shown_cols_t *sc, const ft_snap_t *v, const ft_render_filter_t *f)
{
    char name[FT_NAME_MAX + 1];
    uint32_t n = f->cols ? f->ncols : v->ncols;
    sc->n = 0;
    for (uint32_t i = 0; i < n && sc->n < FT_MAX_COUNTERS_LIMIT; i++) {
        uint32_t c = f->cols ? f->cols[i] : i;
        uint64_t meta;
        if (c >= v->ncols || !ft_col_meta_present(meta = ft_snap_col_meta(v, c)))
            continue;
        sc->key_off[sc->n] = (uint32_t)sc->keys.len;
        ft_buf_append(&sc->keys, ",", 1);
        ft_json_put_string(&sc->keys, name, ft_snap_col_name(v, c, name));
        ft_buf_append(&sc->keys, ":", 1);
        sc->idx[sc->n] = c;
        sc->type[sc->n++] = ft_col_meta_type(meta);
    }
    sc->key_off[sc->n] = (uint32_t)sc->keys.len;
}

/* One {"switch_id":…,…} object. */
static int render_row(ft_buf_t *b, const ft_snap_t *v, uint32_t row, const shown_cols_t *sc)
{
    char name[FT_NAME_MAX + 1];
    uint32_t len = ft_snap_row_name(v, row, name);
    ft_buf_append(b, "{\"switch_id\":", 13);
    ft_json_put_string(b, name, len);
    if (!ft_snap_row_live(v, row)) /* shown while absent: its cells are not this generation's */
        return ft_buf_append(b, ",\"present\":false}", 17);
    for (uint32_t i = 0; i < sc->n; i++) {
        ft_buf_append(b, sc->keys.data + sc->key_off[i], sc->key_off[i + 1] - sc->key_off[i]);
        ft_render_cell(b, v, sc->type[i], ft_snap_cell(v, row, sc->idx[i]));
    }
    if (ft_snap_row_meta(v, row) & FT_ROW_STALE)
        ft_buf_append(b, ",\"stale\":true", 13);
    return ft_buf_append(b, "}", 1);
}

int ft_render_list(ft_buf_t *b, const ft_snap_t *v, const ft_render_filter_t *f)
{
    shown_cols_t *sc = malloc(sizeof(*sc));
    if (sc == NULL)
        return -ENOMEM;
    ft_buf_init(&sc->keys);
    resolve_cols(sc, v, f);
    render_head(b, v);
    int paged = f->offset != 0 || f->limit != UINT64_MAX;
    ft_buf_append(b, ",\"metrics\":[", 12);
    uint64_t seen = 0, shown = 0;
    uint32_t n = f->rows ? f->nrows : v->nrows;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t row = f->rows ? f->rows[i] : i;
        if (row >= v->nrows || !ft_snap_row_shown(v, row))
            continue;
        if (seen++ < f->offset || shown >= f->limit)
            continue;
        if (shown++ > 0)
            ft_buf_append(b, ",", 1);
        render_row(b, v, row, sc);
    }
    ft_buf_destroy(&sc->keys);
    free(sc);
    ft_buf_append(b, "]", 1);
    if (paged) {
        char tmp[96];
        int m = snprintf(tmp, sizeof(tmp), ",\"total\":%" PRIu64 ",\"offset\":%" PRIu64, seen, f->offset);
        ft_buf_append(b, tmp, (size_t)m);
    }
    return ft_buf_append(b, "}", 1);
}

int64_t ft_render_timestamp_col(const ft_snap_t *v)
{
    int64_t c = ft_snap_find_col(v, "timestamp", 9);
    if (c < 0 || ft_col_meta_type(ft_snap_col_meta(v, (uint32_t)c)) != FT_COL_TEXT)
        return -1;
    return c;
}

int ft_render_metric(ft_buf_t *b, const ft_snap_t *v, uint32_t row, uint32_t col)
{
    char name[FT_NAME_MAX + 1], ts[32], tmp[96];
    uint32_t len = ft_snap_row_name(v, row, name);
    ft_buf_append(b, "{\"switch_id\":", 13);
    ft_json_put_string(b, name, len);
    len = ft_snap_col_name(v, col, name);
    ft_buf_append(b, ",\"metric\":", 10);
    ft_json_put_string(b, name, len);
    ft_buf_append(b, ",\"value\":", 9);
    int live = ft_snap_row_live(v, row); /* else shown while absent: no value this generation */
    if (live)
        ft_render_cell(b, v, ft_col_meta_type(ft_snap_col_meta(v, col)), ft_snap_cell(v, row, col));
    else
        ft_buf_append(b, "null,\"present\":false", 20);
    int64_t tc = ft_render_timestamp_col(v);
    if (tc >= 0 && live) {
        ft_buf_append(b, ",\"timestamp\":", 13);
        ft_render_cell(b, v, FT_COL_TEXT, ft_snap_cell(v, row, (uint32_t)tc));
    }
    ft_fmt_iso8601(ts, ft_snap_hdr(v, FT_SLOT_COLLECTED_NS));
    int n = snprintf(tmp, sizeof(tmp), ",\"collected_at\":\"%s\",\"generation\":%" PRIu64, ts, v->gen);
    ft_buf_append(b, tmp, (size_t)n);
    if (ft_snap_row_meta(v, row) & FT_ROW_STALE)
        ft_buf_append(b, ",\"stale\":true", 13);
    return ft_buf_append(b, "}", 1);
}

int ft_render_counters(ft_buf_t *b, const ft_snap_t *v)
{
    static const char *const types[] = {"unknown", "int", "float", "text", "uint"};
    char tmp[64], name[FT_NAME_MAX + 1];
    ft_buf_append(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), "{\"generation\":%" PRIu64 ",\"counters\":[", v->gen));
    int first = 1;
    for (uint32_t c = 0; c < v->ncols; c++) {
        uint64_t meta = ft_snap_col_meta(v, c);
        uint32_t t = ft_col_meta_type(meta);
        if (!ft_col_meta_present(meta))
            continue;
        uint32_t len = ft_snap_col_name(v, c, name);
        ft_buf_append(b, first ? "{\"name\":" : ",{\"name\":", first ? 8 : 9);
        ft_json_put_string(b, name, len);
        ft_buf_append(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), ",\"type\":\"%s\"", types[t <= FT_COL_UINT ? t : 0]));
        if (ft_col_is_numeric(t))
            ft_buf_append(b, tmp, (size_t)snprintf(tmp, sizeof(tmp), ",\"kind\":\"%s\",\"scale\":%u",
                                                   ft_col_meta_counter(meta) ? "counter" : "gauge", ft_col_meta_scale(meta)));
        ft_buf_append(b, "}", 1);
        first = 0;
    }
    ft_buf_append(b, "]}", 2);
    return b->failed ? -ENOMEM : 0;
}
