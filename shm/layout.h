/*
 * shm/layout — THE table of fabtel's shared-memory segments.
 *
 * This header is the contract between ingestd (the only writer of the data
 * segment), apid (which owns the API stats segment) and every reader
 * (apid workers, shmdump, tests). Everything in shared memory is an offset
 * from the start of its segment, never a pointer, and every region is made
 * of naturally aligned 64-bit words.
 *
 * Data segment (default name "/fabtel", mode 0640, created by ingestd):
 *
 *   offset                        size                     what
 *   0                             FT_SHM_HEADER_SIZE       ft_shm_header_t: identity, capacity, region table,
 *                                                          live words (generation = the seqlock, data age)
 *   stats_off                     sizeof(ft_ingest_stats_t) ingest statistics, 24 h of per-minute buckets,
 *                                                          under its own seqcount (see shm/stats.h)
 *   slot_off + i * slot_size      slot_size                snapshot slot i, i in [0, nslots): generation g
 *                                                          lives in slot g % nslots (see shm/seqlock.h)
 *
 * One snapshot slot is self-contained (a reader needs nothing else to answer
 * a query from it). Offsets below are relative to the slot start:
 *
 *   0              FT_SLOT_HDR_WORDS words     ft_slot_hdr_t: generation, collected_at, counts, lengths
 *   sl_cols_off    max_counters  * 9 words     column records: name (8 words), meta
 *   sl_rows_off    max_switches  * 9 words     row records: name (8 words), meta
 *   sl_hash_off    hash_size     * 1 word      open-addressing index name -> row+1 (0: empty)
 *   sl_vals_off    max_switches * max_counters cells, row-major: int64 bits, double bits, or a text ref
 *   sl_text_off    text_bytes                  text pool the text refs point into
 *   sl_body_off    body_bytes                  pre-rendered unfiltered ListMetrics JSON (optional)
 *
 * Row and column indices are stable: a switch or counter keeps the index it
 * was given when first seen for as long as it exists. A row forgotten after
 * --forget-after is given to the next new switch, so a row index alone does
 * not name a switch over time: (row, incarnation) does. The incarnation is
 * in the row's meta word and grows every time the row is given to another
 * switch; whoever keeps a row's past (history) keys it on both and checks
 * the incarnation before it trusts what it kept.
 *
 * API stats segment ("<data name>-api", created by the apid master): an
 * ft_api_stats_header_t followed by one ft_api_worker_stats_t per worker
 * slot, each written only by its worker, so the data segment stays
 * read-only for every reader.
 *
 * Compatibility: a reader refuses a segment whose magic, layout version,
 * header size or region table differs from what ft_shm_layout_compute()
 * derives from the capacity stored in the header (shm/segment.h).
 */
#ifndef FT_SHM_LAYOUT_H
#define FT_SHM_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define FT_SHM_MAGIC 0x534c4554424146ULL /* "FABTELS\0" little-endian */
#define FT_SHM_API_MAGIC 0x49504154424146ULL /* "FABTAPI\0" */
#define FT_SHM_LAYOUT_VERSION 2u /* 2: row incarnations, column kinds and scales in the meta words; 32 routes in the API stats */
#define FT_SHM_HEADER_SIZE 4096u

#define FT_NAME_MAX 63u   /* bytes of a switch or counter name */
#define FT_TEXT_MAX 255u  /* bytes of one text cell */
#define FT_NAME_WORDS 8u  /* a name is stored NUL-padded in 8 words */
#define FT_REC_WORDS 9u   /* name words + one meta word */
#define FT_SLOT_HDR_WORDS 16u
#define FT_MINUTES 1440u  /* 24 h of per-minute buckets */
#define FT_HIST_BUCKETS 128u
#define FT_API_MAX_WORKERS 256u
#define FT_SHM_HIST_PATH_WORDS 128u /* 1024 bytes of history file path */
#define FT_SHM_SOURCE_WORDS 64u     /* 512 bytes of source URL */

/* Capacity limits a segment may declare; validation refuses anything else. */
#define FT_MAX_SWITCHES_LIMIT (1u << 22)
#define FT_MAX_COUNTERS_LIMIT 1024u
#define FT_MAX_SLOTS_LIMIT 64u
#define FT_TEXT_BYTES_LIMIT (1ULL << 32)
#define FT_BODY_BYTES_LIMIT (1ULL << 36)

/* UINT: unsigned 64-bit integers (UFM's counters, up to 2^64 - 1); its absent value is FT_CELL_NULL_INT, so 2^63
 * itself is not a value (the parser refuses it, as it refuses INT64_MIN for INT). */
typedef enum { FT_COL_INT = 1, FT_COL_FLOAT = 2, FT_COL_TEXT = 3, FT_COL_UINT = 4 } ft_col_type_t;
static inline int ft_col_is_integer(uint32_t t) { return t == FT_COL_INT || t == FT_COL_UINT; }
static inline int ft_col_is_numeric(uint32_t t) { return t == FT_COL_INT || t == FT_COL_UINT || t == FT_COL_FLOAT; }

/*
 * Column meta word: name length | type << 8 | present << 16 | counter << 17 | scale << 32.
 * counter: the column is cumulative (a counter that only grows, until it is reset), else a gauge.
 * scale: what one unit of the column is worth in the column's base unit (UFM's data counters count
 * 4-byte words: scale 4 makes them bytes); 0 or 1: as it is. Set by ingestd (--counter-columns,
 * --column-scales); read by /metrics and, later, history's rates.
 */
typedef struct ft_col_kind {
    int counter;
    uint32_t scale;
} ft_col_kind_t;
static inline uint64_t ft_col_meta(uint32_t len, uint32_t type, int present, ft_col_kind_t kind)
{
    return (uint64_t)len | (uint64_t)type << 8 | (uint64_t)(present != 0) << 16 | (uint64_t)(kind.counter != 0) << 17 |
           (uint64_t)kind.scale << 32;
}
static inline uint32_t ft_col_meta_len(uint64_t m) { return (uint32_t)(m & 0xff); }
static inline uint32_t ft_col_meta_type(uint64_t m) { return (uint32_t)(m >> 8 & 0xff); }
static inline int ft_col_meta_present(uint64_t m) { return (int)(m >> 16 & 1); }
static inline int ft_col_meta_counter(uint64_t m) { return (int)(m >> 17 & 1); }
static inline uint32_t ft_col_meta_scale(uint64_t m) { return (uint32_t)(m >> 32) > 1 ? (uint32_t)(m >> 32) : 1; }

/* Row meta word: name length | flags (used, present, stale) | incarnation << 32. */
#define FT_ROW_USED (1u << 8)
#define FT_ROW_PRESENT (1u << 9)
#define FT_ROW_STALE (1u << 10)
/* While absent, the row is still shown, as "present": false with no values (UFM's ports: a port that goes down stays
 * visible until it is forgotten); without it an absent row is not shown (the matrix's switches). */
#define FT_ROW_SHOWN_ABSENT (1u << 11)
static inline uint64_t ft_row_meta(uint32_t len, uint32_t flags, uint32_t incarnation)
{
    return (uint64_t)(len & 0xff) | (flags & (FT_ROW_USED | FT_ROW_PRESENT | FT_ROW_STALE | FT_ROW_SHOWN_ABSENT)) |
           (uint64_t)incarnation << 32;
}
static inline uint32_t ft_row_meta_len(uint64_t m) { return (uint32_t)(m & 0xff); }
static inline uint32_t ft_row_meta_incarnation(uint64_t m) { return (uint32_t)(m >> 32); }
/* The one definition of a row a reader shows: it names a switch, and that switch was in this generation's body. */
static inline int ft_row_meta_live(uint64_t m) { return (m & (FT_ROW_USED | FT_ROW_PRESENT)) == (FT_ROW_USED | FT_ROW_PRESENT); }
/* A row ListMetrics shows: live, or absent but kept visible (FT_ROW_SHOWN_ABSENT). Only live rows have values. */
static inline int ft_row_meta_shown(uint64_t m) { return (m & FT_ROW_USED) && (m & (FT_ROW_PRESENT | FT_ROW_SHOWN_ABSENT)); }

/*
 * Cells. An absent value (a stale row has none for a column that appeared
 * after it went stale) is a per-type sentinel that ingest never produces:
 * INT64_MIN for integers (the parser refuses it), a NaN for doubles (refused
 * too), and an all-ones text ref.
 */
#define FT_CELL_NULL_INT ((uint64_t)INT64_MIN)
#define FT_CELL_NULL_FLOAT 0x7ff8000000000001ULL
#define FT_CELL_NULL_TEXT UINT64_MAX
/* Text ref: byte offset into the slot's text pool << 32 | length. */
static inline uint64_t ft_text_ref(uint32_t off, uint32_t len) { return (uint64_t)off << 32 | len; }
static inline uint32_t ft_text_ref_off(uint64_t r) { return (uint32_t)(r >> 32); }
static inline uint32_t ft_text_ref_len(uint64_t r) { return (uint32_t)r; }

/* Slot header words (index into the slot's first FT_SLOT_HDR_WORDS words). */
enum {
    FT_SLOT_GEN = 0,       /* generation this slot holds; a cross-check for readers */
    FT_SLOT_COLLECTED_NS,  /* when ingestd published it (ns since the epoch) */
    FT_SLOT_NROWS,         /* rows [0, nrows) of the row table may be in use */
    FT_SLOT_NCOLS,         /* columns [0, ncols) may be in use */
    FT_SLOT_NSWITCHES,     /* rows present in this generation */
    FT_SLOT_TEXT_USED,     /* bytes of the text pool in use */
    FT_SLOT_BODY_LEN,      /* bytes of pre-rendered ListMetrics JSON; 0: not rendered */
    FT_SLOT_BODY_GZ_LEN,   /* bytes of its gzip form after it (8-aligned); 0: none */
    FT_SLOT_ROWS_REJECTED, /* rows rejected in the body this generation came from */
    FT_SLOT_STALE_ROWS,    /* rows shown with their previous values */
    FT_SLOT_CATALOG_VER,   /* changes whenever a name, type or index assignment changes */
};

/* Immutable after creation: written before `magic` is published with release order. */
typedef struct ft_shm_header {
    _Atomic uint64_t magic;  /* FT_SHM_MAGIC, stored last at creation (release) */
    uint32_t layout_version; /* FT_SHM_LAYOUT_VERSION */
    uint32_t header_size;    /* FT_SHM_HEADER_SIZE */
    uint64_t epoch;          /* random, chosen at creation; changes when the segment is re-created */
    uint64_t total_size;     /* bytes; the mapping must be at least this large */
    uint64_t created_ns;
    /* capacity, as set by ingestd flags */
    uint32_t max_switches;
    uint32_t max_counters;
    uint32_t nslots;
    uint32_t hash_size; /* power of two, >= 2 * max_switches */
    uint64_t text_bytes;
    uint64_t body_bytes;
    /* region table (from the segment start) */
    uint64_t stats_off, stats_size;
    uint64_t slot_off, slot_size;
    /* within a slot (from the slot start) */
    uint64_t sl_cols_off, sl_rows_off, sl_hash_off, sl_vals_off, sl_text_off, sl_body_off;
    uint8_t _reserved0[256 - 152];

    /* Live words, written by ingestd while it runs (own cache lines). */
    _Atomic uint64_t gen; /* the seqlock generation: see shm/seqlock.h. 0: nothing published yet */
    uint8_t _pad_gen[56];
    _Atomic uint64_t confirmed_ns; /* when the source last confirmed the current data (publish or 304) */
    _Atomic uint64_t writer_pid;   /* pid of the ingestd holding the writer lock, 0 when none */
    _Atomic uint64_t writer_started_ns;
    _Atomic uint64_t ingest_state; /* 0 ok, 1 failing */
    /* The history file (shm/history.h) ingestd records into: its epoch (0: no history) and absolute path,
     * NUL-padded; written by ft_shm_history_announce(), read by ft_shm_history_path() (segment.h). */
    _Atomic uint64_t history_epoch;
    _Atomic uint64_t history_path[FT_SHM_HIST_PATH_WORDS];
    /* What ingestd reads and which shard of it it keeps: a seqcount (odd while written), the shard as
     * index << 32 | count (0: the whole fabric) and the source URL, NUL-padded; ft_shm_source_announce()
     * writes them, ft_shm_source() reads them (segment.h). A segment made before these existed holds zeros:
     * no source announced. */
    _Atomic uint64_t source_seq;
    _Atomic uint64_t source_shard;
    _Atomic uint64_t source_url[FT_SHM_SOURCE_WORDS];
    uint8_t _reserved1[FT_SHM_HEADER_SIZE - 360 - FT_SHM_HIST_PATH_WORDS * 8 - 16 - FT_SHM_SOURCE_WORDS * 8];
} ft_shm_header_t;

_Static_assert(offsetof(ft_shm_header_t, magic) == 0, "magic first");
_Static_assert(offsetof(ft_shm_header_t, layout_version) == 8, "layout");
_Static_assert(offsetof(ft_shm_header_t, epoch) == 16, "layout");
_Static_assert(offsetof(ft_shm_header_t, max_switches) == 40, "layout");
_Static_assert(offsetof(ft_shm_header_t, text_bytes) == 56, "layout");
_Static_assert(offsetof(ft_shm_header_t, stats_off) == 72, "layout");
_Static_assert(offsetof(ft_shm_header_t, sl_cols_off) == 104, "layout");
_Static_assert(offsetof(ft_shm_header_t, sl_body_off) == 144, "layout");
_Static_assert(offsetof(ft_shm_header_t, _reserved0) == 152, "layout");
_Static_assert(offsetof(ft_shm_header_t, gen) == 256, "generation on its own cache line");
_Static_assert(offsetof(ft_shm_header_t, confirmed_ns) == 320, "layout");
_Static_assert(offsetof(ft_shm_header_t, history_epoch) == 352, "layout");
_Static_assert(offsetof(ft_shm_header_t, source_seq) == 360 + FT_SHM_HIST_PATH_WORDS * 8, "layout");
_Static_assert(sizeof(ft_shm_header_t) == FT_SHM_HEADER_SIZE, "header is one page");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && _Alignof(_Atomic uint64_t) == 8, "words are plain 8-byte words");

/* One minute of ingest activity. `minute` says which (Unix minute); a bucket of another minute is stale. */
typedef struct ft_ingest_bucket {
    _Atomic uint64_t minute;
    _Atomic uint64_t count;         /* attempts that ended ok (published or 304) */
    _Atomic uint64_t failures;      /* attempts that failed */
    _Atomic uint64_t unchanged;     /* of count: 304s */
    _Atomic uint64_t rows_rejected; /* rows rejected in published bodies */
    _Atomic uint64_t dur_sum_us, dur_min_us, dur_max_us; /* over count and failures */
    _Atomic uint64_t hist[FT_HIST_BUCKETS];              /* durations, shm/stats.h buckets */
} ft_ingest_bucket_t;

/* Why an ingest attempt failed. FT_FAIL_KNOWN causes exist; the stats keep room for FT_FAIL_CAUSES. */
enum { FT_FAIL_CONNECT = 0, FT_FAIL_HTTP, FT_FAIL_TIMEOUT, FT_FAIL_TRUNCATED, FT_FAIL_PARSE, FT_FAIL_CAPACITY, FT_FAIL_KNOWN,
       FT_FAIL_CAUSES = 8 };
/* "connect", "http", ...: the label logs and /metrics use; "unknown" outside [0, FT_FAIL_KNOWN). */
const char *ft_fail_cause_label(int cause);

typedef struct ft_ingest_stats {
    _Atomic uint64_t seq; /* seqcount, odd while ingestd updates (shm/stats.h) */
    /* Lifetime totals of this segment (monotonic: Prometheus counters). */
    _Atomic uint64_t total_count, total_failures, total_rows_rejected;
    _Atomic uint64_t last_duration_us, last_ok_ns, last_failure_ns, consecutive_failures;
    _Atomic uint64_t failures_by_cause[FT_FAIL_CAUSES];
    _Atomic uint64_t total_unchanged, total_dur_sum_us;
    _Atomic uint64_t _reserved[14];
    _Atomic uint64_t hist_total[FT_HIST_BUCKETS];
    /* The last 24 h, per minute. */
    ft_ingest_bucket_t minutes[FT_MINUTES];
} ft_ingest_stats_t;

_Static_assert(offsetof(ft_ingest_stats_t, total_unchanged) == 128, "ingest stats layout");
_Static_assert(offsetof(ft_ingest_stats_t, hist_total) == 256, "ingest stats layout");
_Static_assert(offsetof(ft_ingest_stats_t, minutes) == 256 + FT_HIST_BUCKETS * 8, "ingest stats layout");
_Static_assert(sizeof(ft_ingest_bucket_t) == (8 + FT_HIST_BUCKETS) * 8, "bucket layout");

/* API stats segment: header, then FT_API_MAX_WORKERS worker slots. */
typedef struct ft_api_bucket {
    _Atomic uint64_t minute;
    _Atomic uint64_t requests;      /* every answer */
    _Atomic uint64_t failures;      /* status >= 500 */
    _Atomic uint64_t client_errors; /* 400..499 */
    _Atomic uint64_t lat_sum_us, lat_min_us, lat_max_us, not_modified;
    _Atomic uint64_t hist[FT_HIST_BUCKETS];
} ft_api_bucket_t;

/*
 * Lifetime answer counts by route and status class (Prometheus counters).
 * Routes are apid's (its route table numbers them and names them); the
 * segment only keeps room for FT_ROUTES of them.
 */
#define FT_ROUTES 32u
enum { FT_STATUS_200 = 0, FT_STATUS_304, FT_STATUS_400, FT_STATUS_404, FT_STATUS_405, FT_STATUS_414, FT_STATUS_4XX, FT_STATUS_5XX,
       FT_STATUS_CLASSES };

typedef struct ft_api_worker_stats {
    _Atomic uint64_t seq; /* seqcount, odd while the worker updates */
    _Atomic uint64_t pid, started_ns, requests_total, seqlock_retries, lat_sum_us_total;
    _Atomic uint64_t _reserved[10];
    _Atomic uint64_t by_route_status[FT_ROUTES][FT_STATUS_CLASSES];
    _Atomic uint64_t hist_total[FT_HIST_BUCKETS];
    ft_api_bucket_t minutes[FT_MINUTES];
} ft_api_worker_stats_t;

typedef struct ft_api_stats_header {
    _Atomic uint64_t magic; /* FT_SHM_API_MAGIC, stored last (release) */
    uint32_t layout_version, header_size;
    uint64_t total_size, nworkers_max, worker_off, worker_size;
    _Atomic uint64_t master_pid, workers_configured, workers_alive, restarts;
    uint8_t _reserved[4096 - 80];
} ft_api_stats_header_t;

_Static_assert(sizeof(ft_api_stats_header_t) == 4096, "api header is one page");
_Static_assert(offsetof(ft_api_worker_stats_t, by_route_status) == 128, "api worker layout");
_Static_assert(offsetof(ft_api_worker_stats_t, minutes) == 128 + (FT_ROUTES * FT_STATUS_CLASSES + FT_HIST_BUCKETS) * 8,
               "api worker layout");

typedef struct ft_shm_capacity {
    uint32_t max_switches, max_counters, nslots;
    uint64_t text_bytes, body_bytes;
} ft_shm_capacity_t;

/* Region table derived from a capacity (what the header stores). */
typedef struct ft_shm_layout {
    uint32_t hash_size;
    uint64_t stats_off, stats_size, slot_off, slot_size, total_size;
    uint64_t sl_cols_off, sl_rows_off, sl_hash_off, sl_vals_off, sl_text_off, sl_body_off;
} ft_shm_layout_t;

/* 0, or -EINVAL when the capacity is outside the limits above (no overflow is possible within them). */
int ft_shm_layout_compute(const ft_shm_capacity_t *cap, ft_shm_layout_t *out);

#endif
