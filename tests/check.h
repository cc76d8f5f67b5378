/*
 * tests/check — the assertions every C test uses. A failed check prints
 * where, what was expected and what came, and the test exits non-zero at the
 * end (every check still runs, so one run shows every failure).
 */
#ifndef FT_TEST_CHECK_H
#define FT_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures, check_count;

#define CHECK(cond, ...)                                                                                                          \
    do {                                                                                                                           \
        check_count++;                                                                                                             \
        if (!(cond)) {                                                                                                             \
            check_failures++;                                                                                                      \
            fprintf(stderr, "%s:%d: FAILED %s: ", __FILE__, __LINE__, #cond);                                                     \
            fprintf(stderr, __VA_ARGS__);                                                                                          \
            fputc('\n', stderr);                                                                                                   \
        }                                                                                                                          \
    } while (0)

#define CHECK_EQ_U64(got, want)                                                                                                   \
    do {                                                                                                                           \
        uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                                                                      \
        CHECK(g_ == w_, "expected %s == %" PRIu64 ", got %" PRIu64, #got, w_, g_);                                                 \
    } while (0)

#define CHECK_EQ_STR(got, want)                                                                                                   \
    do {                                                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                                                      \
        CHECK(g_ != NULL && strcmp(g_, w_) == 0, "expected %s == \"%s\", got \"%s\"", #got, w_, g_ ? g_ : "(null)");              \
    } while (0)

static inline int check_report(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
