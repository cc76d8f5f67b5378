#include "routes.h"

#include <string.h>

#define READ (API_GET | API_HEAD)

static const api_route_t routes[] = {
    {"/telemetry/GetMetric", "/telemetry/get_metric", READ, "GET, HEAD", 1, 1, api_get_metric, "GetMetric"},
    {"/telemetry/ListMetrics", "/telemetry/list_metrics", READ, "GET, HEAD", 1, 1, api_list_metrics, "ListMetrics"},
    {"/telemetry/counters", NULL, READ, "GET, HEAD", 1, 1, api_counters, "counters"},
    {"/telemetry/performance", NULL, READ, "GET, HEAD", 0, 1, api_performance, "performance"},
    {"/health", NULL, READ, "GET, HEAD", 0, 1, api_health, "health"},
    {"/metrics", NULL, READ, "GET, HEAD", 0, 1, api_metrics, "metrics"},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))
/* Every row and the "other" index must have a place in the statistics segment. */
_Static_assert(NROUTES + 1 <= FT_ROUTES, "more routes than the API stats segment counts (shm/layout.h FT_ROUTES)");

static int path_is(const char *path, size_t len, const char *p)
{
    return p != NULL && strlen(p) == len && memcmp(path, p, len) == 0;
}

const api_route_t *api_route_find(const char *path, size_t len, int *index)
{
    for (size_t i = 0; i < NROUTES; i++)
        if (path_is(path, len, routes[i].path) || path_is(path, len, routes[i].alias)) {
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
