#include "routes.h"

#include <string.h>

#define READ (API_GET | API_HEAD)
#define ANY (API_GET | API_HEAD | API_POST | API_PUT | API_DELETE | API_PATCH)
#define R "GET, HEAD"
#define RW "GET, HEAD, POST, PUT, DELETE, PATCH"

/*
 *  path                      alias                    methods allow cache query handler           label     prefix upstream */
static const api_route_t routes[] = {
    {"/telemetry/GetMetric", "/telemetry/get_metric", READ, R, 1, 1, api_get_metric, "GetMetric", 0, -1},
    {"/telemetry/ListMetrics", "/telemetry/list_metrics", READ, R, 1, 1, api_list_metrics, "ListMetrics", 0, -1},
    {"/telemetry/counters", NULL, READ, R, 1, 1, api_counters, "counters", 0, -1},
    {"/telemetry/performance", NULL, READ, R, 0, 1, api_performance, "performance", 0, -1},
    {"/health", NULL, READ, R, 0, 1, api_health, "health", 0, -1},
    {"/metrics", NULL, READ, R, 0, 1, api_metrics, "metrics", 0, -1},
    {"/deployments", NULL, ANY, RW, 0, 0, NULL, "deployments", 1, API_UPSTREAM_ORCHD},
    {"/flows", NULL, ANY, RW, 0, 0, NULL, "flows", 1, API_UPSTREAM_FLOWD},
    {"/telemetry/history", NULL, READ, R, 1, 1, api_history, "history", 0, -1},
    {"/telemetry/bottlenecks", NULL, READ, R, 1, 1, api_bottlenecks, "bottlenecks", 0, -1},
    {"/", NULL, READ, R, 0, 0, api_root, "root", 0, -1}, /* the dashboard: its files are under /ui/ (libh2o's file handler) */
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))
/* Every row and the "other" index must have a place in the statistics segment. */
_Static_assert(NROUTES + 1 <= FT_ROUTES, "more routes than the API stats segment counts (shm/layout.h FT_ROUTES)");

static int path_is(const char *path, size_t len, const char *p)
{
    return p != NULL && strlen(p) == len && memcmp(path, p, len) == 0;
}

/* "/flows" owns "/flows" and "/flows/…", not "/flowsx". */
static int path_under(const char *path, size_t len, const char *p)
{
    size_t pl = strlen(p);
    return len > pl && memcmp(path, p, pl) == 0 && path[pl] == '/';
}

const api_route_t *api_route_find(const char *path, size_t len, int *index)
{
    for (size_t i = 0; i < NROUTES; i++)
        if (path_is(path, len, routes[i].path) || path_is(path, len, routes[i].alias) ||
            (routes[i].prefix && path_under(path, len, routes[i].path))) {
            *index = (int)i;
            return &routes[i];
        }
    *index = api_route_other();
    return NULL;
}

int api_route_other(void)
{
    return FT_ROUTES - 1;
}

const char *api_route_label(int index)
{
    if (index >= 0 && (size_t)index < NROUTES)
        return routes[index].label;
    return index == api_route_other() ? "other" : NULL;
}
