#include "ufm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

const char INGEST_UFM_TEXT_COLUMNS[] = "timestamp,source_id,tag,node_guid,port_guid,port_num,node_description,port_label,description";

/* The cumulative ones (both the Extended and the plain names UFM's sets use); the rest (Temperature, BER) are gauges. */
const char INGEST_UFM_COUNTERS[] =
    "PortXmitDataExtended,PortRcvDataExtended,PortXmitPktsExtended,PortRcvPktsExtended,PortUnicastXmitPkts,PortUnicastRcvPkts,"
    "PortMulticastXmitPkts,PortMulticastRcvPkts,SymbolErrorCounterExtended,LinkErrorRecoveryCounterExtended,"
    "LinkDownedCounterExtended,PortRcvErrorsExtended,PortRcvRemotePhysicalErrorsExtended,PortRcvSwitchRelayErrorsExtended,"
    "PortXmitDiscardsExtended,PortXmitConstraintErrorsExtended,PortRcvConstraintErrorsExtended,LocalLinkIntegrityErrorsExtended,"
    "ExcessiveBufferOverrunErrorsExtended,VL15DroppedExtended,PortXmitWaitExtended,QP1DroppedExtended,PortNeighborMTUDiscards,"
    "PortLocalPhysicalErrors,PortMalformedPktErrors,PortBufferOverrunErrors,PortDLIDMappingErrors,PortVLMappingErrors,"
    "PortLoopingErrors,PortXmitData,PortRcvData,PortXmitPkts,PortRcvPkts,SymbolErrorCounter,LinkErrorRecoveryCounter,"
    "LinkDownedCounter,PortRcvErrors,PortRcvRemotePhysicalErrors,PortRcvSwitchRelayErrors,PortXmitDiscards,PortXmitWait";

const char INGEST_UFM_SCALES[] = "PortXmitDataExtended=4,PortRcvDataExtended=4,PortXmitData=4,PortRcvData=4";

const ingest_rules_t INGEST_UFM_RULES = {INGEST_UFM_TEXT_COLUMNS, 1, 1, 1};

/* The canonical name of a header column: UFM's low-frequency spellings map to the high-frequency ones. */
static const char *canonical(const char *name, size_t len, size_t *outlen)
{
    static const struct {
        const char *from, *to;
    } alias[] = {{"Node_GUID", "node_guid"}, {"Port_Number", "port_num"}, {"Port_GUID", "port_guid"}, {"Source_ID", "source_id"}};
    for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
        if (strlen(alias[i].from) == len && memcmp(alias[i].from, name, len) == 0) {
            *outlen = strlen(alias[i].to);
            return alias[i].to;
        }
    *outlen = len;
    return name;
}

/* Header columns: where the node GUID, the port number and the timestamp are (-1: absent). */
typedef struct ufm_cols {
    long guid, port, ts;
} ufm_cols_t;

static ufm_cols_t find_cols(const ingest_batch_t *b)
{
    ufm_cols_t c = {-1, -1, -1};
    if (b->nrows == 0)
        return c;
    for (size_t j = 0; j < b->row_nfields[0]; j++) {
        size_t len, cl;
        const char *f = ingest_batch_field(b, 0, j, &len);
        const char *n = canonical(f, len, &cl);
        if (cl == 9 && memcmp(n, "node_guid", 9) == 0)
            c.guid = (long)j;
        else if (cl == 8 && memcmp(n, "port_num", 8) == 0)
            c.port = (long)j;
        else if (cl == 9 && memcmp(n, "timestamp", 9) == 0)
            c.ts = (long)j;
    }
    return c;
}

int ingest_ufm_detect(const ingest_batch_t *b)
{
    ufm_cols_t c = find_cols(b);
    return c.guid >= 0 && c.port >= 0;
}

/* The last second formatted: the ports of one scan share their second, so gmtime and the date are done once. */
typedef struct time_cache {
    int64_t sec;
    char prefix[32]; /* "YYYY-MM-DDTHH:MM:SS." (ft_fmt_iso8601 writes 28 bytes into it first) */
} time_cache_t;

/* Unix µs (digits only) as ISO 8601 with µs; anything else is kept as it came. */
static size_t fmt_time(time_cache_t *tc, const char *s, size_t len, char *out)
{
    int64_t us;
    if (len == 0 || len > 18 || ft_parse_i64(s, len, &us) != 0 || us < 0) {
        memcpy(out, s, len < 40 ? len : 40);
        return len < 40 ? len : 40;
    }
    int64_t sec = us / 1000000;
    if (sec != tc->sec) {
        ft_fmt_iso8601(tc->prefix, (uint64_t)sec * 1000000000ULL); /* "…:SS.000000Z": keep up to the dot */
        tc->prefix[20] = '\0';
        tc->sec = sec;
    }
    memcpy(out, tc->prefix, 20);
    uint32_t frac = (uint32_t)(us % 1000000);
    for (int i = 25; i >= 20; i--, frac /= 10)
        out[i] = (char)('0' + frac % 10);
    out[26] = 'Z';
    return 27;
}

/* Field j of row r of `in`, whose bytes now live in `arena` (ingest_batch_take_arena moved them). */
static const char *field_in(const ft_buf_t *arena, const ingest_batch_t *in, size_t r, size_t j, uint32_t *off, uint32_t *len)
{
    size_t f = in->row_first[r] + j;
    *off = in->field_off[f], *len = in->field_len[f];
    return arena->data + *off;
}

static int translate_row(const ingest_batch_t *in, size_t r, const ufm_cols_t *c, time_cache_t *tc, ingest_batch_t *out)
{
    size_t n = in->row_nfields[r];
    uint32_t off, glen = 0, plen = 0, len;
    if (n == 1 && (field_in(&out->arena, in, r, 0, &off, &len), len == 0))
        return 0; /* an empty line (UFM ends its body with one) */
    char key[160], t[48];
    size_t klen = 0;
    const char *guid = (size_t)c->guid < n ? field_in(&out->arena, in, r, (size_t)c->guid, &off, &glen) : "";
    const char *port = (size_t)c->port < n ? field_in(&out->arena, in, r, (size_t)c->port, &off, &plen) : "";
    if (glen > 0 && plen > 0 && (size_t)glen + plen + 1 < sizeof(key)) { /* copied out: adding may move the arena */
        memcpy(key, guid, glen);
        key[glen] = '_';
        memcpy(key + glen + 1, port, plen);
        klen = (size_t)glen + plen + 1;
    }
    ingest_batch_add_field(out, key, klen);
    size_t first = out->nfields;
    /* The row's fields as they are: their bytes stay where the parser put them; only the time is new text. */
    ingest_batch_add_refs(out, in->field_off + in->row_first[r], in->field_len + in->row_first[r], n);
    if (c->ts >= 0 && (size_t)c->ts < n && out->error == 0) {
        const char *s = field_in(&out->arena, in, r, (size_t)c->ts, &off, &len);
        size_t tl = fmt_time(tc, s, len, t);
        ingest_batch_set_field(out, first + (size_t)c->ts, t, tl);
    }
    return ingest_batch_end_row(out);
}

int ingest_ufm_translate(ingest_batch_t *in, ingest_batch_t *out, char *why, size_t whysz)
{
    ufm_cols_t c = find_cols(in);
    if (c.guid < 0 || c.port < 0) {
        snprintf(why, whysz, "not a UFM CSV: the header names no %s", c.guid < 0 ? "node_guid (or Node_GUID)" : "port_num (or Port_Number)");
        return -EINVAL;
    }
    ingest_batch_reset(out);
    ingest_batch_take_arena(out, in);
    ingest_batch_add_field(out, "port", 4);
    for (size_t j = 0; j < in->row_nfields[0]; j++) {
        uint32_t off, len;
        size_t cl;
        const char *f = field_in(&out->arena, in, 0, j, &off, &len);
        const char *n = canonical(f, len, &cl);
        if (n == f)
            ingest_batch_add_ref(out, off, len);
        else
            ingest_batch_add_field(out, n, cl); /* a static alias */
    }
    int r = ingest_batch_end_row(out);
    time_cache_t tc = {-1, ""};
    for (size_t row = 1; row < in->nrows && r == 0; row++)
        r = translate_row(in, row, &c, &tc, out);
    out->bytes = in->bytes;
    out->last_row_unterminated = in->last_row_unterminated;
    in->nfields = in->nrows = in->cur_first = 0; /* consumed: its bytes are out's now */
    return r;
}
