/*
 * shm/history — the history file: every numeric counter's past, one writer
 * (ingestd), lock-free readers (apid workers, orchd, shmdump), persistent.
 *
 * Owns the file's layout (this header) and its mapping. The writer's half is
 * shm/histwrite.h, the readers' half shm/histread.h; nobody else computes an
 * offset into the file. It lives in the state directory as "history.ft",
 * mapped MAP_SHARED, so it survives a restart of any daemon and a reboot.
 * The data segment's header names it (ft_shm_history_announce(), segment.h).
 *
 *   offset             size                    what
 *   0                  FT_HIST_HDR_BYTES       ft_hist_header_t: identity, region table, live words
 *   cat_off            max_entries * 128       switch catalogue: one entry per (switch name, incarnation)
 *   ctr_off            FT_HIST_MAX_COUNTERS*96 counter catalogue: name, type, kind, unit scale
 *   raw_off            raw_blocks * BLOCK      full-resolution ring: blocks of one switch's samples
 *   roll_off           roll_blocks * BLOCK     rollup ring: blocks of one switch's per-minute rollups
 *
 * A series is (catalogue entry, counter): the entry names the switch and its
 * incarnation, so a switch forgotten by ingestd and seen again, a re-created
 * segment or a reused row never continue someone else's past.
 *
 * Blocks. Each ring hands out blocks in order: block number `pos` (64-bit,
 * never reused) lives at index pos % nblocks, so a block is overwritten by
 * the allocation nblocks later — the ring forgets its oldest block first. A
 * block belongs to one entry, lists the counters it carries, and links to the
 * entry's previous block of the same ring (prev_pos + 1). The entry points at
 * its newest block. A reader walks from the newest block back and stops at
 * the first block whose header does not carry the pos it expects (recycled),
 * whose checksum does not match (torn by a power loss), or that it cannot
 * read whole (recycled under it): what is older than that is cut, never
 * guessed.
 *
 * Sync points: the first sample of a new minute in a raw block (up to
 * FT_HIST_NSYNC per block) is encoded as if it began the block (its codec
 * state reset), and a header word records where: payload offset, time
 * since FIRST_T, and check bits that tie the word to the block's pos. A
 * reader that needs a block from some time on starts at the newest sync
 * point before it instead of decoding from the block start. Sync words are
 * not in the CRC (they come after the block is opened); their check bits
 * and a decoder that must land on them exactly stand in for it.
 *
 * Block header words (FT_HB_*), then the column list (ncols u32: counter id |
 * type << 16 | counter-kind << 24, padded to 8 bytes), then the payload:
 * records appended in time order, encodings in shm/histcodec.c. The CRC-32
 * (zlib) runs over header words POS..FIRST_GEN, the column list and payload
 * bytes [0, used); the writer extends it on every append. Power loss: the
 * kernel writes pages back in any order, so after a crash a block may hold
 * its new header with old payload sectors or the reverse; the CRC and pos
 * catch both. Payloads only grow, so an old (used, crc) pair with newer
 * payload bytes after `used` is still a whole, shorter block.
 *
 * Concurrency (one writer process, any number of readers): every word is
 * accessed as a relaxed atomic. A block is changed only between
 * ft_seqcount_write_begin/end on its SEQ word (shm/seqlock.h); a reader
 * copies the block between ft_seqcount_read_begin and _retry and acts only on
 * a copy that passed. The live words of the file header are single words:
 * entry and counter counts are stored with release after the entry is
 * written (readers load them with acquire); `gen` is stored with release
 * after every block of that generation is closed, before the data segment
 * publishes the generation, so a reader that sees generation g in the
 * segment finds g in history.
 *
 * Compatibility: a reader and the writer refuse a file whose magic, version,
 * header size, block size or region table differ from what this build
 * derives; the writer never re-creates a file it cannot use (ingestd refuses
 * to start and says why). Errors: 0 or a negative errno, `why` one sentence.
 */
#ifndef FT_SHM_HISTORY_H
#define FT_SHM_HISTORY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#define FT_HIST_MAGIC 0x5453494854424146ULL /* "FABTHIST" little-endian */
#define FT_HIST_VERSION 2u /* 2: raw records carry their generation */
#define FT_HIST_HDR_BYTES 4096u
#define FT_HIST_BLOCK 8192u
#define FT_HIST_ENTRY_WORDS 16u
#define FT_HIST_CTR_WORDS 12u
#define FT_HIST_MAX_COUNTERS 1024u
#define FT_HIST_MAX_COLS 40u /* numeric counters one switch records; more are left out (counted, logged once) */
#define FT_HIST_MIN_BYTES (4u << 20)
#define FT_HIST_FILE "history.ft"

/* Block header words. */
enum {
    FT_HB_SEQ = 0,   /* seqcount: odd while the writer changes the block */
    FT_HB_POS,       /* this block's number in its ring */
    FT_HB_OWNER,     /* entry id | kind << 32 | ncols << 48 */
    FT_HB_PREV,      /* the entry's previous block in this ring, pos + 1; 0: none */
    FT_HB_FIRST_T,   /* ms since the epoch of the first record (rollups: its minute * 60000) */
    FT_HB_FIRST_GEN, /* generation of the first record */
    FT_HB_LAST_T,    /* time of the last record (a hint for skipping; not in the CRC) */
    FT_HB_NREC,      /* records (a hint) */
    FT_HB_USED,      /* payload bytes | crc32 << 32 */
    FT_HB_SYNC,      /* FT_HIST_NSYNC sync points (raw blocks): words 9..15, 0 when unused; see ft_hist_sync_word() */
    FT_HB_WORDS = 16
};
#define FT_HIST_NSYNC 7u
enum { FT_HIST_KIND_RAW = 1, FT_HIST_KIND_ROLLUP = 2 };

static inline uint64_t ft_hist_owner(uint32_t entry, uint32_t kind, uint32_t ncols)
{
    return (uint64_t)entry | (uint64_t)(kind & 0xffff) << 32 | (uint64_t)(ncols & 0xffff) << 48;
}
/* A sync word: payload offset (16 bits) | ms since FIRST_T (32) | check (16, never 0) tied to the block's pos. */
static inline uint64_t ft_hist_sync_word(uint64_t pos, uint32_t off, uint32_t t_rel)
{
    uint64_t h = pos * 0x9E3779B97F4A7C15ULL ^ (uint64_t)off * 0xC2B2AE3D27D4EB4FULL ^ (uint64_t)t_rel * 0x165667B19E3779F9ULL;
    return (uint64_t)(off & 0xffff) | (uint64_t)t_rel << 16 | ((h >> 48) | 1) << 48;
}
static inline uint32_t ft_hist_sync_off(uint64_t w) { return (uint32_t)(w & 0xffff); }
static inline uint32_t ft_hist_sync_t(uint64_t w) { return (uint32_t)(w >> 16); }
static inline uint32_t ft_hist_owner_entry(uint64_t w) { return (uint32_t)w; }
static inline uint32_t ft_hist_owner_kind(uint64_t w) { return (uint32_t)(w >> 32 & 0xffff); }
static inline uint32_t ft_hist_owner_ncols(uint64_t w) { return (uint32_t)(w >> 48); }
/* A column of a block: counter id | type << 16 | counter-kind << 24. */
static inline uint32_t ft_hist_col(uint32_t ctr, uint32_t type, int counter)
{
    return (ctr & 0xffff) | (type & 0xff) << 16 | (uint32_t)(counter != 0) << 24;
}
static inline uint32_t ft_hist_col_ctr(uint32_t c) { return c & 0xffff; }
static inline uint32_t ft_hist_col_type(uint32_t c) { return c >> 16 & 0xff; }
static inline int ft_hist_col_counter(uint32_t c) { return (int)(c >> 24 & 1); }
/* Where the payload starts: after the header and the column list. */
static inline uint32_t ft_hist_payload_off(uint32_t ncols) { return FT_HB_WORDS * 8 + (ncols * 4 + 7) / 8 * 8; }

/* Switch catalogue entry words. Written whole before the entry count is raised; then only the live words change. */
enum {
    FT_HE_META = 0,      /* name length | incarnation << 32 */
    FT_HE_NAME,          /* 8 words, NUL-padded */
    FT_HE_CREATED_T = 9, /* ms: when this incarnation was first recorded */
    FT_HE_RAW_LAST,      /* live: newest raw block, pos + 1 */
    FT_HE_ROLL_LAST,     /* live: newest rollup block, pos + 1 */
    FT_HE_CLOSED_T,      /* live: ms when ingestd forgot the switch; 0 while it exists */
    FT_HE_LAST_T,        /* live: ms of its newest sample */
    FT_HE_BINDING,       /* informational: segment row | row incarnation << 32 when last bound */
};
/* Counter catalogue words: meta (len | type << 8 | counter << 16 | scale << 32, live: the kind can change), name. */
enum { FT_HC_META = 0, FT_HC_NAME };

typedef struct ft_hist_header {
    _Atomic uint64_t magic; /* stored last at creation (release) */
    uint32_t version, header_size;
    uint64_t epoch; /* random, chosen at creation */
    uint64_t total_size, created_ns;
    uint32_t block_size, max_entries;
    uint64_t cat_off, ctr_off, raw_off, raw_blocks, roll_off, roll_blocks;
    uint8_t _reserved0[256 - 96];
    /* Live words (the writer's). */
    _Atomic uint64_t gen;        /* newest generation wholly recorded (release) */
    _Atomic uint64_t gen_t_ms;   /* its publication time */
    _Atomic uint64_t raw_head;   /* next raw block number */
    _Atomic uint64_t roll_head;  /* next rollup block number */
    _Atomic uint64_t nentries;   /* switch catalogue entries in use (release) */
    _Atomic uint64_t ncounters;  /* counter catalogue entries in use (release) */
    _Atomic uint64_t writer_pid; /* 0 when no writer */
    _Atomic uint64_t samples_closed, bytes_closed; /* samples and bytes of full raw blocks: bytes per sample */
    _Atomic uint64_t samples_total;
    _Atomic uint64_t skipped_cols; /* numeric columns left out (past FT_HIST_MAX_COLS per switch or a full catalogue) */
    _Atomic uint64_t roll_records, roll_bytes; /* rollup records (switch-minutes) appended, and their payload bytes */
    _Atomic uint64_t boot_id[2]; /* the kernel boot the last writer ran in (/proc/sys/kernel/random/boot_id) */
    uint8_t _reserved1[FT_HIST_HDR_BYTES - 256 - 120];
} ft_hist_header_t;

_Static_assert(offsetof(ft_hist_header_t, cat_off) == 48, "history header layout");
_Static_assert(offsetof(ft_hist_header_t, _reserved0) == 96, "history header layout");
_Static_assert(offsetof(ft_hist_header_t, gen) == 256, "history header layout");
_Static_assert(sizeof(ft_hist_header_t) == FT_HIST_HDR_BYTES, "history header is one page");

typedef struct ft_hist_geometry {
    uint32_t max_entries;
    uint64_t cat_off, ctr_off, raw_off, raw_blocks, roll_off, roll_blocks, total_size;
} ft_hist_geometry_t;

/*
 * The region table for a byte budget: the catalogue for max_entries, the
 * counter catalogue, then two thirds of the rest for full resolution and a
 * third for rollups (a rollup minute costs about a seventh of a minute of
 * samples at one sample a second). -EINVAL when the budget cannot hold one
 * block of each ring per entry.
 */
int ft_hist_geometry(uint64_t bytes, uint32_t max_entries, ft_hist_geometry_t *g);

/* A mapping of the file (writer: read-write, readers: read-only). */
typedef struct ft_hist_map {
    char path[4096];
    int fd;
    void *base;
    size_t size;
    ft_hist_header_t *hdr;
    _Atomic uint64_t *cat, *ctr, *raw, *roll;
} ft_hist_map_t;

/* Check a mapped file's header against what this build derives; -EPROTO with why. */
int ft_hist_validate(const void *base, size_t size, char *why, size_t whysz);
/* The format version a history file says it has: 0 when it is not one (or unreadable), else its version. */
uint32_t ft_hist_file_version(const char *path);
/* Map an existing file read-only and validate it. -ENOENT when missing. */
int ft_hist_map_reader(ft_hist_map_t *m, const char *path, char *why, size_t whysz);
void ft_hist_unmap(ft_hist_map_t *m);
/* Point the region pointers at a validated mapping (the writer after creating or checking the file). */
void ft_hist_map_set(ft_hist_map_t *m);

/* Block `pos` of a ring, by index pos % nblocks. */
static inline _Atomic uint64_t *ft_hist_block(const ft_hist_map_t *m, int rollup, uint64_t pos)
{
    uint64_t n = rollup ? m->hdr->roll_blocks : m->hdr->raw_blocks;
    return (rollup ? m->roll : m->raw) + (pos % n) * (FT_HIST_BLOCK / 8);
}
static inline _Atomic uint64_t *ft_hist_entry_words(const ft_hist_map_t *m, uint32_t id)
{
    return m->cat + (uint64_t)id * FT_HIST_ENTRY_WORDS;
}
static inline _Atomic uint64_t *ft_hist_ctr_words(const ft_hist_map_t *m, uint32_t id)
{
    return m->ctr + (uint64_t)id * FT_HIST_CTR_WORDS;
}

/* The CRC of a block (a private copy): static header words, column list, payload [0, used). */
uint32_t ft_hist_block_crc(const uint64_t *blk, uint32_t used);

#endif
