/*
 * ingestd/ufm — NVIDIA UFM Telemetry's CSV (a row per port) rewritten into
 * the matrix ingestd/model understands (a row per key, the key first).
 *
 * A UFM body is recognized by its header: it names the node GUID (node_guid
 * or Node_GUID) and the port number (port_num or Port_Number), the two
 * spellings of UFM's high- and low-frequency sets. Each data row becomes
 * the row "<node_guid>_<port_num>" (every port of a switch shares its
 * port_guid, so the node GUID and the port number name a port); every column
 * of the body follows, in the body's order, under its one canonical name
 * (Node_GUID -> node_guid, Port_Number -> port_num), so both sets feed the
 * same columns. timestamp (Unix µs) becomes the row's sample time as
 * ISO 8601 text, as the matrix's own timestamp column is. A row without a
 * node GUID or a port number keeps an empty key, which the model rejects as
 * a bad row (counted, logged) like any other.
 *
 * The model is told (ingest_model_set_rules, INGEST_UFM_RULES) that UFM's
 * identity columns are text, that an empty cell is a counter the port does
 * not report (absent, served as null), that counters are unsigned 64-bit, and
 * that a port missing from a body stays shown ("present": false) until it is
 * forgotten; ingestd gives the data counters the unit scale 4 (InfiniBand
 * counts PortXmitData/PortRcvData in 4-byte words).
 *
 * Who may call: ingestd's loop and tests; pure over the two batches.
 * Errors: 0, -EINVAL (not a UFM header: why says so), -ENOMEM.
 */
#ifndef INGEST_UFM_H
#define INGEST_UFM_H

#include <stddef.h>

#include "batch.h"
#include "model.h"

/* ingestd's --format. */
typedef enum { INGEST_FORMAT_AUTO = 0, INGEST_FORMAT_MATRIX, INGEST_FORMAT_UFM } ingest_format_t;

/* UFM's identity and descriptive columns (text), its cumulative counters, and its data counters' unit scale. */
extern const char INGEST_UFM_TEXT_COLUMNS[];
/* The model's rules for UFM: those text columns, empty cells absent, unsigned integers, absent ports still shown. */
extern const ingest_rules_t INGEST_UFM_RULES;
extern const char INGEST_UFM_COUNTERS[];
extern const char INGEST_UFM_SCALES[];

/* 1 when the header (row 0) is UFM's. */
int ingest_ufm_detect(const ingest_batch_t *b);

/*
 * Rewrite `in` (a UFM body) into `out` (reset first). The field bytes are not copied: `out` takes `in`'s arena and
 * points at them, so `in` is left empty (reset it before parsing into it again). On -EINVAL `in` is untouched.
 */
int ingest_ufm_translate(ingest_batch_t *in, ingest_batch_t *out, char *why, size_t whysz);

#endif
