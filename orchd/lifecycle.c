#include "lifecycle.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const names[ORCH_NSTATES] = {"PENDING", "PROVISIONING", "CONFIGURING", "RUNNING", "FAILED"};

const char *orch_state_name(orch_state_t s)
{
    return (unsigned)s < ORCH_NSTATES ? names[s] : "?";
}

int orch_state_parse(const char *s)
{
    for (int i = 0; i < ORCH_NSTATES; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

int64_t orch_state_seconds(orch_state_t s, int64_t id)
{
    if (s == ORCH_PROVISIONING)
        return 3 + id % 5;
    if (s == ORCH_CONFIGURING)
        return 5 + id % 7;
    return 0;
}

int orch_next_state(int64_t id, int64_t dep, orch_state_t s, int64_t changed_ms, int64_t now_ms, double scale)
{
    if (s == ORCH_PENDING)
        return ORCH_PROVISIONING;
    if (s != ORCH_PROVISIONING && s != ORCH_CONFIGURING)
        return -1;
    int64_t due_ms = (int64_t)llround((double)orch_state_seconds(s, id) * 1000.0 * scale);
    if (now_ms - changed_ms < due_ms)
        return -1;
    if (s == ORCH_PROVISIONING)
        return ORCH_CONFIGURING;
    return (id + dep) % 20 == 0 ? ORCH_FAILED : ORCH_RUNNING;
}

int orch_ip_address(int64_t id, char *out, size_t outsz)
{
    if (id < 1 || id > ORCH_MAX_ADDRESSED_ID)
        return -ERANGE;
    snprintf(out, outsz, "10.%d.%d.%d", (int)(id >> 16 & 255), (int)(id >> 8 & 255), (int)(id & 255));
    return 0;
}

int orch_hostname(int64_t dep, int64_t index, char *out, size_t outsz)
{
    return snprintf(out, outsz, "switch-%" PRId64 "-%03" PRId64, dep, index);
}

int orch_node_name(int64_t index, char *out, size_t outsz)
{
    return snprintf(out, outsz, "node-%03" PRId64, index);
}
