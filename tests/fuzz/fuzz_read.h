/* What the fuzz targets do with a snapshot: render it every way a reader would (ASan/UBSan watch). */
#ifndef FT_FUZZ_READ_H
#define FT_FUZZ_READ_H

#include "render.h"
#include "snapshot.h"

static inline void fuzz_read_all(const ft_shm_t *shm)
{
    ft_snap_t v;
    if (ft_snap_begin(&v, shm) != 0)
        return;
    ft_buf_t b;
    ft_buf_init(&b);
    ft_render_filter_t all = {.limit = UINT64_MAX};
    ft_render_list(&b, &v, &all);
    for (uint32_t r = 0; r < v.nrows; r++)
        for (uint32_t c = 0; c < v.ncols; c++) {
            b.len = 0;
            ft_render_metric(&b, &v, r, c);
        }
    ft_snap_find_row(&v, "sw-01", 5);
    ft_snap_find_col(&v, "latency", 7);
    ft_buf_destroy(&b);
}

#endif
