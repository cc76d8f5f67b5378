#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

uint64_t ft_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t ft_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

size_t ft_fmt_iso8601(char *out, uint64_t ns)
{
    time_t sec = (time_t)(ns / 1000000000ULL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    int n = snprintf(out, 28, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, (unsigned)(ns % 1000000000ULL / 1000));
    return n < 0 ? 0 : (size_t)n;
}

/* Length of the valid UTF-8 sequence at s[0..len), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

size_t ft_utf8_valid_prefix(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(s + i, len - i);
        if (n == 0)
            break;
        i += n;
    }
    return i;
}

int ft_utf8_is_printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return ft_utf8_valid_prefix(s, len) == len;
}

size_t ft_json_escape(char *out, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t o = 0, i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            out[o++] = (char)c;
            i++;
        } else if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
            i++;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out[o++] = '\\';
            out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            i++;
        } else if (c < 0x20) {
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hex[c >> 4];
            out[o + 5] = hex[c & 15];
            o += 6;
            i++;
        } else {
            size_t n = utf8_seq(s + i, len - i);
            if (n == 0) {
                memcpy(out + o, "\xef\xbf\xbd", 3); /* U+FFFD for a byte that is not UTF-8 */
                o += 3;
                i++;
            } else {
                memcpy(out + o, s + i, n);
                o += n;
                i += n;
            }
        }
    }
    return o;
}

static size_t fmt_digits(char *out, uint64_t x)
{
    char tmp[24];
    size_t n = 0, o = 0;
    do {
        tmp[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    while (n)
        out[o++] = tmp[--n];
    out[o] = '\0';
    return o;
}

size_t ft_fmt_i64(char *out, int64_t v)
{
    if (v >= 0)
        return fmt_digits(out, (uint64_t)v);
    out[0] = '-';
    return 1 + fmt_digits(out + 1, 0 - (uint64_t)v);
}

size_t ft_fmt_u64(char *out, uint64_t v)
{
    return fmt_digits(out, v);
}

/* The shortest decimal with at most 6 decimals that reads back as v, or 0 when there is none. */
static size_t fmt_short_decimal(char *out, double v)
{
    /*
     * Fast path for values with few decimals (most telemetry): if n / 10^k == v
     * for the smallest k <= 6, the decimal n·10^-k reads back as v (IEEE division
     * of exact operands and strtod both round the same exact rational correctly),
     * and it is what %.17g's shortest form would print.
     */
    static const double p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (v > -1e9 && v < 1e9 && v != 0) {
        for (int k = 0; k <= 6; k++) {
            double n = (double)llround(v * p10[k]);
            if (n / p10[k] != v)
                continue;
            char digits[24];
            int64_t ni = (int64_t)n;
            size_t o = 0, len = ft_fmt_i64(digits, ni < 0 ? -ni : ni);
            if (ni < 0)
                out[o++] = '-';
            if (k == 0) {
                memcpy(out + o, digits, len);
                o += len;
            } else if (len > (size_t)k) {
                memcpy(out + o, digits, len - (size_t)k);
                o += len - (size_t)k;
                out[o++] = '.';
                memcpy(out + o, digits + len - (size_t)k, (size_t)k);
                o += (size_t)k;
            } else {
                out[o++] = '0';
                out[o++] = '.';
                for (size_t z = len; z < (size_t)k; z++)
                    out[o++] = '0';
                memcpy(out + o, digits, len);
                o += len;
            }
            out[o] = '\0';
            return o;
        }
    }
    return 0;
}

size_t ft_fmt_double(char *out, double v)
{
    size_t n = fmt_short_decimal(out, v);
    if (n > 0)
        return n;
    for (int prec = 15; prec <= 17; prec++) {
        int m = snprintf(out, 32, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v)
            return (size_t)m;
    }
    return 0; /* not reached */
}

/* 15 significant digits of 1e-4 <= |v| < 1e15 with integer arithmetic (printf is ten times slower). */
static size_t fmt_sig15(char *out, double v)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
                                 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
    double a = fabs(v);
    int e = (int)floor(log10(a)); /* a = d.ddd × 10^e; log10 may round across a power of ten: checked below */
    if (e < -4 || e > 14)
        return 0;
    if (e >= 0 ? a < p10[e] : a * p10[-e] < 1.0)
        e--;
    if (e < -4)
        return 0;
    int64_t m = llround(a * p10[14 - e]);
    if (m >= 1000000000000000LL) /* rounded up to 10^15: one more digit before the point */
        m = (m + 5) / 10, e++;
    if (m < 100000000000000LL || e > 14)
        return 0;
    char d[16];
    for (int i = 14; i >= 0; i--, m /= 10)
        d[i] = (char)('0' + m % 10);
    int last = 14; /* trailing zeros of the fraction go */
    while (last > (e > 0 ? e : 0) && d[last] == '0')
        last--;
    size_t o = 0;
    if (v < 0)
        out[o++] = '-';
    if (e >= 0) {
        memcpy(out + o, d, (size_t)e + 1), o += (size_t)e + 1;
        if (last > e)
            out[o++] = '.', memcpy(out + o, d + e + 1, (size_t)(last - e)), o += (size_t)(last - e);
    } else {
        out[o++] = '0', out[o++] = '.';
        for (int z = -1; z > e; z--)
            out[o++] = '0';
        memcpy(out + o, d, (size_t)last + 1), o += (size_t)last + 1;
    }
    out[o] = '\0';
    return o;
}

size_t ft_fmt_double15(char *out, double v)
{
    size_t n = fmt_short_decimal(out, v);
    if (n == 0 && v != 0 && isfinite(v))
        n = fmt_sig15(out, v);
    return n > 0 ? n : (size_t)snprintf(out, 32, "%.15g", v);
}

uint32_t ft_shard_of(const char *key, size_t len, uint32_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64: simple, stable across builds and hosts */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 0x100000001b3ULL;
    return n > 1 ? (uint32_t)(h % n) : 0;
}

int ft_shard_parse(const char *s, uint32_t *i, uint32_t *n)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    uint64_t a, b;
    if (slash == NULL || ft_parse_u64(s, (size_t)(slash - s), &a) != 0 || ft_parse_u64(slash + 1, strlen(slash + 1), &b) != 0 ||
        b < 1 || b > 65536 || a >= b)
        return -EINVAL;
    *i = (uint32_t)a, *n = (uint32_t)b;
    return 0;
}

int ft_parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return -EINVAL;
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int ft_parse_i64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (len > 0 && (s[0] == '-' || s[0] == '+'))
        neg = s[0] == '-', i = 1;
    uint64_t v;
    int r = ft_parse_u64(s + i, len - i, &v);
    if (r != 0)
        return r;
    if (v > (uint64_t)INT64_MAX + (uint64_t)neg)
        return -ERANGE;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int ft_parse_f64(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return len == 0 ? -EINVAL : -ERANGE;
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* Only plain decimal notation: strtod would also take "nan", "inf" and hex floats. */
    for (size_t i = 0; i < len; i++)
        if (!((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '.' || buf[i] == '-' || buf[i] == '+' || buf[i] == 'e' ||
              buf[i] == 'E'))
            return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end != '\0')
        return -EINVAL;
    if ((errno == ERANGE && fabs(v) > 1.0) || !isfinite(v))
        return -ERANGE;
    *out = v;
    return 0;
}

int ft_parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[128];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
        return -EINVAL;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end != '\0' || port > 65535)
        return -EINVAL;
    memset(ss, 0, sizeof(*ss));
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return -EINVAL;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (hl == 0 || strcmp(host, "*") == 0)
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return -EINVAL;
    *len = sizeof(*a4);
    return 0;
}

void ft_fmt_sockaddr(char *out, size_t outsz, const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
        snprintf(out, outsz, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        snprintf(out, outsz, "[%s]:%u", host, port);
    } else {
        snprintf(out, outsz, "?");
    }
}

int ft_listen(const char *spec, int reuseport, char *bound, size_t boundsz)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (ft_parse_listen(spec, &ss, &len) != 0)
        return -EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 4096) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    ft_fmt_sockaddr(bound, boundsz, (struct sockaddr *)&ss);
    return fd;
}

int ft_equal_ct(const void *a, size_t alen, const void *b, size_t blen)
{
    const volatile unsigned char *x = a, *y = b;
    size_t n = alen > blen ? alen : blen;
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)((i < alen ? x[i] : 0) ^ (i < blen ? y[i] : 0));
    return diff == 0;
}

int ft_read_secret(const char *path, char *out, size_t outsz, char *why, size_t whysz)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        int err = errno;
        snprintf(why, whysz, "cannot read %s: %s", path, strerror(err));
        return -err;
    }
    size_t n = fread(out, 1, outsz, f);
    int toolong = n == outsz;
    fclose(f);
    if (toolong) {
        snprintf(why, whysz, "%s holds more than %zu bytes", path, outsz - 1);
        return -E2BIG;
    }
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    out[n] = '\0';
    if (n == 0 || memchr(out, '\0', n) != NULL) {
        snprintf(why, whysz, "%s is empty or holds a NUL byte", path);
        return -EINVAL;
    }
    return 0;
}

/* n digits at s as a number; -1 when one is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" */
static int parse_rfc3339(const char *s, size_t len, int64_t *ms)
{
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        return -EINVAL;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2), mi = digits(s + 14, 2),
        sec = digits(s + 17, 2);
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60 ||
        (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
        return -EINVAL;
    size_t i = 19;
    int64_t frac_ms = 0;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        int64_t scale = 100;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac_ms += (s[i] - '0') * scale;
        if (i == start)
            return -EINVAL;
    }
    int64_t offset_s = 0;
    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
        offset_s = 0;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -EINVAL;
        offset_s = (s[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    } else {
        return -EINVAL;
    }
    /* days since the epoch (proleptic Gregorian), without timegm's dependence on the environment */
    int yy = mo <= 2 ? y - 1 : y;
    int64_t era = yy / 400, yoe = yy - era * 400, mp = (mo + 9) % 12, doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy, days = era * 146097 + doe - 719468;
    *ms = ((days * 86400 + h * 3600 + mi * 60 + (sec > 59 ? 59 : sec)) - offset_s) * 1000 + frac_ms;
    return 0;
}

int ft_parse_time_ms(const char *s, size_t len, int64_t *ms)
{
    if (len >= 20 && s[4] == '-')
        return parse_rfc3339(s, len, ms);
    double v;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            return -EINVAL; /* Unix seconds: plain decimal, no sign, no exponent */
    if (ft_parse_f64(s, len, &v) != 0 || v < 0 || v > 253402300799.0)
        return -EINVAL;
    *ms = (int64_t)llround(v * 1000.0);
    return 0;
}
