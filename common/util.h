/*
 * common/util — small pure helpers shared by every fabtel program: clocks,
 * ISO-8601 timestamps, UTF-8 validation, JSON string escaping, numbers, and
 * "ADDR:PORT" parsing.
 *
 * Who may call: anyone; every function is reentrant and thread-safe (no state).
 * Errors: functions returning int give 0 or a negative errno.
 */
#ifndef FT_UTIL_H
#define FT_UTIL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

uint64_t ft_now_ns(void);  /* CLOCK_REALTIME, ns since the Unix epoch */
uint64_t ft_mono_ns(void); /* CLOCK_MONOTONIC, ns */

/* "2026-11-22T19:51:00.123456Z" (27 chars + NUL; out must hold 28). Returns the length. */
size_t ft_fmt_iso8601(char *out, uint64_t ns);

/* Length of the longest valid UTF-8 prefix; equals len when all of s is valid. */
size_t ft_utf8_valid_prefix(const char *s, size_t len);
/* 1 when s is valid UTF-8 with no C0 control byte and no DEL (a printable name). */
int ft_utf8_is_printable(const char *s, size_t len);

/*
 * Append s to out as the inside of a JSON string: '"', '\\' and control bytes
 * are escaped, invalid UTF-8 becomes U+FFFD. Writes at most 6*len bytes
 * (callers size out with ft_json_escape_bound). Returns the bytes written.
 */
size_t ft_json_escape(char *out, const char *s, size_t len);
static inline size_t ft_json_escape_bound(size_t len)
{
    return len * 6;
}

/* Decimal text of v (NUL-terminated, out >= 24 bytes). Returns the length. */
size_t ft_fmt_i64(char *out, int64_t v);
size_t ft_fmt_u64(char *out, uint64_t v);
/* Short text of a finite double that reads back to the same value (out >= 32 bytes). Returns the length. */
size_t ft_fmt_double(char *out, double v);
/* The same for a computed figure (an average, a rate): 15 significant digits by integer arithmetic, the last within one unit of printf's. */
size_t ft_fmt_double15(char *out, double v);

/*
 * Strict decimal parsers for CSV cells: the whole of s (no spaces) must be
 * the number. ft_parse_i64 refuses overflow; ft_parse_f64 refuses NaN, inf
 * and overflow (JSON cannot carry them). 0 or -EINVAL / -ERANGE.
 */
int ft_parse_i64(const char *s, size_t len, int64_t *out);
/*
 * Shards (issue "Beyond one host"): a row belongs to shard FNV-1a-64(key) % n, key being the switch name (for UFM's
 * rows, the node GUID, so all ports of a switch stay together). The producer and ingestd use this one function, so
 * N stacks with shards 0..N-1 cover a fabric exactly once. "I/N" (0 <= I < N <= 65536) parses with ft_shard_parse.
 */
uint32_t ft_shard_of(const char *key, size_t len, uint32_t n);
int ft_shard_parse(const char *s, uint32_t *i, uint32_t *n);

/* Decimal digits only (no sign), 0..2^64-1; -EINVAL otherwise. */
int ft_parse_u64(const char *s, size_t len, uint64_t *out);
int ft_parse_f64(const char *s, size_t len, double *out);
/*
 * A point in time for a query: RFC 3339 ("2026-12-06T01:00:00Z", "…:00.250+01:00") or Unix seconds as a
 * decimal ("1765000000.5"), into ms since the epoch. 0, or -EINVAL for anything else (NaN, inf, a date
 * that does not exist, a year outside 1970..9999).
 */
int ft_parse_time_ms(const char *s, size_t len, int64_t *ms);

/* "127.0.0.1:8080", "[::1]:0", "*:8080", ":8080" → sockaddr. 0 or -EINVAL. */
int ft_parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len);
/* "127.0.0.1:8080" of a bound socket into out (at least 64 bytes). */
void ft_fmt_sockaddr(char *out, size_t outsz, const struct sockaddr *sa);

/*
 * Open a non-blocking listening TCP socket on spec ("ADDR:PORT"; port 0 picks
 * a free one), optionally with SO_REUSEPORT. Returns the fd or a negative
 * errno; `bound` (>= 64 bytes) receives the address actually bound.
 */
int ft_listen(const char *spec, int reuseport, char *bound, size_t boundsz);

/* 1 when the two byte strings are equal; the time taken depends only on the lengths (secrets, tokens). */
int ft_equal_ct(const void *a, size_t alen, const void *b, size_t blen);

/*
 * A secret kept in a file (an auth token): read whole, trailing whitespace and
 * newlines removed. 0, or a negative errno with `why` set: unreadable, empty,
 * or longer than outsz - 1 bytes.
 */
int ft_read_secret(const char *path, char *out, size_t outsz, char *why, size_t whysz);

#endif
