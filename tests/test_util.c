/* tests for common/util and common/json: string escaping, numbers (exact 64-bit, shortest doubles), parsers, error answers. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "json.h"
#include "util.h"

static const char *esc(const char *s, size_t len)
{
    static char out[512];
    size_t n = ft_json_escape(out, s, len);
    out[n] = '\0';
    return out;
}

static const char *dbl(double v)
{
    static char out[32];
    out[ft_fmt_double(out, v)] = '\0';
    return out;
}

/* common/json: the error answer every API shares, whatever the message holds. */
static void test_json_error(void)
{
    ft_buf_t b;
    ft_buf_init(&b);
    const char msg[] = "unknown switch 'a\"b\\c\n\x01'";
    CHECK(ft_json_put_error(&b, 404, msg, sizeof(msg) - 1, NULL, -1) == 0, "render");
    ft_buf_append(&b, "", 1);
    CHECK_EQ_STR(b.data, "{\"error\":{\"status\":404,\"message\":\"unknown switch 'a\\\"b\\\\c\\n\\u0001'\"}}");
    b.len = 0;
    ft_json_put_error(&b, 400, "bad hour", 8, "hour", 3);
    ft_buf_append(&b, "", 1);
    CHECK_EQ_STR(b.data, "{\"error\":{\"status\":400,\"message\":\"bad hour\",\"field\":\"hour\",\"index\":3}}");
    ft_buf_destroy(&b);
}

/* ft_fmt_double15 (computed figures): 15 significant digits, printf's %.15g give or take one unit of the last. */
static void test_fmt_double15(void)
{
    static const double vals[] = {4.00765, 10.778016666666668, 1.0 / 3, -2.0 / 3, 123456789.123456789, 9.99999999999999999,
                                  0.000123456789012345, 99999999999999.9, 1e-7, 1.5e20, 0.5, 7e14 + 0.25, 999999999999999.0};
    int bad = 0;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        char mine[40], ref[40];
        mine[ft_fmt_double15(mine, vals[i])] = 0;
        snprintf(ref, sizeof(ref), "%.15g", vals[i]);
        double a = strtod(mine, NULL), b = strtod(ref, NULL);
        if (a != b)
            bad++, fprintf(stderr, "  %.17g: mine %s, printf %s\n", vals[i], mine, ref);
    }
    CHECK(bad == 0, "15-digit figures read back as printf's (%d differ)", bad);
    uint64_t x = 88172645463325252ULL;
    int off = 0;
    for (int i = 0; i < 100000; i++) { /* random magnitudes across the fast path's range */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v = (double)(x >> 11) / 9007199254740992.0 * pow(10, (double)(x % 19) - 4) * ((x >> 5) & 1 ? -1 : 1);
        char mine[40], ref[40];
        mine[ft_fmt_double15(mine, v)] = 0;
        snprintf(ref, sizeof(ref), "%.15g", v);
        double unit = pow(10, floor(log10(fabs(v))) - 14); /* one unit of the 15th significant digit */
        int o = fabs(strtod(mine, NULL) - strtod(ref, NULL)) > unit * 1.5; /* the product a·10^k rounds once */
        if (o && off < 3)
            fprintf(stderr, "  %.17g: mine %s, printf %s\n", v, mine, ref);
        off += o;
    }
    CHECK(off == 0, "random values: within one unit of the 15th digit of printf's (%d off)", off);
}

/* Shards: FNV-1a 64 of the key, modulo N — fixed values, so a fabric's partition never changes between builds. */
static void test_shards(void)
{
    CHECK_EQ_U64(ft_shard_of("", 0, 1000003), 0xcbf29ce484222325ULL % 1000003);
    CHECK_EQ_U64(ft_shard_of("a", 1, 1000003), 0xaf63dc4c8601ec8cULL % 1000003);
    CHECK_EQ_U64(ft_shard_of("sw-01", 5, 1), 0);
    int counts[4] = {0};
    char name[16];
    for (int i = 1; i <= 4000; i++)
        counts[ft_shard_of(name, (size_t)snprintf(name, sizeof(name), "sw-%04d", i), 4)]++;
    CHECK(counts[0] > 800 && counts[1] > 800 && counts[2] > 800 && counts[3] > 800, "4,000 names spread over 4 shards: %d %d %d %d",
          counts[0], counts[1], counts[2], counts[3]);
    uint32_t i, n;
    CHECK(ft_shard_parse("2/4", &i, &n) == 0 && i == 2 && n == 4, "2/4");
    CHECK(ft_shard_parse("4/4", &i, &n) != 0 && ft_shard_parse("1/0", &i, &n) != 0 && ft_shard_parse("x/2", &i, &n) != 0 &&
              ft_shard_parse("1", &i, &n) != 0 && ft_shard_parse("0/65537", &i, &n) != 0,
          "bad shard specs are refused");
}

int main(void)
{
    test_shards();
    test_json_error();
    test_fmt_double15();
    CHECK_EQ_STR(esc("plain", 5), "plain");
    CHECK_EQ_STR(esc("a\"b\\c", 5), "a\\\"b\\\\c");
    CHECK_EQ_STR(esc("l1\nl2\tx\r", 8), "l1\\nl2\\tx\\r");
    CHECK_EQ_STR(esc("\x01\x1f", 2), "\\u0001\\u001f");
    CHECK_EQ_STR(esc("nul\0x", 5), "nul\\u0000x");
    CHECK_EQ_STR(esc("caf\xc3\xa9 \xe2\x98\x83", 9), "caf\xc3\xa9 \xe2\x98\x83");
    CHECK_EQ_STR(esc("bad\xff\xc3(", 6), "bad\xef\xbf\xbd\xef\xbf\xbd(");       /* invalid bytes become U+FFFD */
    CHECK_EQ_STR(esc("\xed\xa0\x80", 3), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* a surrogate is not UTF-8 */
    CHECK_EQ_STR(esc("\xc0\xaf", 2), "\xef\xbf\xbd\xef\xbf\xbd");                 /* overlong */
    char worst[64];
    memset(worst, 1, sizeof(worst));
    char out[6 * 64];
    CHECK(ft_json_escape(out, worst, sizeof(worst)) <= ft_json_escape_bound(sizeof(worst)), "bound holds for the worst case");

    CHECK_EQ_STR(dbl(2.571), "2.571");
    CHECK_EQ_STR(dbl(0.1), "0.1");
    CHECK_EQ_STR(dbl(3), "3");
    CHECK_EQ_STR(dbl(-0.5), "-0.5");
    CHECK(strtod(dbl(1.0 / 3.0), NULL) == 1.0 / 3.0, "1/3 round-trips: %s", dbl(1.0 / 3.0));
    CHECK(strtod(dbl(5e-324), NULL) == 5e-324, "denormal round-trips: %s", dbl(5e-324));

    CHECK_EQ_STR(dbl(0.001), "0.001");
    CHECK_EQ_STR(dbl(-12.5), "-12.5");
    CHECK_EQ_STR(dbl(123456.789), "123456.789");
    CHECK_EQ_STR(dbl(1e20), "1e+20");
    /* Every value with up to 6 decimals, and random doubles, read back exactly. */
    unsigned long long seed = 88172645463325252ULL;
    for (int k = 0; k < 200000; k++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        double v = k < 100000 ? (double)(long long)(seed % 2000000000ULL - 1000000000LL) / (double)(1 + seed % 1000000)
                              : (double)(long long)(seed % 20000000000ULL) / 1000.0 - 1e7;
        const char *t = dbl(v);
        if (strtod(t, NULL) != v) {
            CHECK(0, "%.17g printed as %s does not read back", v, t);
            break;
        }
    }
    char it[24];
    ft_fmt_i64(it, INT64_MIN);
    CHECK_EQ_STR(it, "-9223372036854775808");
    ft_fmt_i64(it, 9007199254740993LL);
    CHECK_EQ_STR(it, "9007199254740993");
    int64_t i;
    CHECK(ft_parse_i64("9007199254740993", 16, &i) == 0 && i == 9007199254740993LL, "2^53+1 exact");
    CHECK(ft_parse_i64("9223372036854775807", 19, &i) == 0 && i == INT64_MAX, "INT64_MAX");
    CHECK(ft_parse_i64("9223372036854775808", 19, &i) == -ERANGE, "overflow refused");
    CHECK(ft_parse_i64("-12", 3, &i) == 0 && i == -12, "negative");
    CHECK(ft_parse_i64("12 ", 3, &i) == -EINVAL, "trailing space refused");
    CHECK(ft_parse_i64("1.5", 3, &i) == -EINVAL, "not an integer");
    CHECK(ft_parse_i64("", 0, &i) == -EINVAL, "empty refused");
    double d;
    CHECK(ft_parse_f64("2.5e3", 5, &d) == 0 && d == 2500, "exponent");
    CHECK(ft_parse_f64("NaN", 3, &d) == -EINVAL, "NaN refused");
    CHECK(ft_parse_f64("inf", 3, &d) == -EINVAL, "inf refused");
    CHECK(ft_parse_f64("1e999", 5, &d) == -ERANGE, "overflow refused");
    CHECK(ft_parse_f64("0x10", 4, &d) == -EINVAL, "hex floats refused");

    char ts[32];
    ft_fmt_iso8601(ts, 1763841296123456789ULL);
    CHECK_EQ_STR(ts, "2025-11-22T19:54:56.123456Z");
    CHECK(ft_utf8_is_printable("sw-01", 5) && !ft_utf8_is_printable("sw\n", 3) && !ft_utf8_is_printable("\xff", 1), "printable");
    return check_report("test_util");
}
