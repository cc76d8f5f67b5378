/*
 * common/opt — command-line flags with environment-variable fallbacks.
 *
 * Every option of every fabtel binary is one row of a table: `--name VALUE`
 * on the command line, else `<PREFIX>_<NAME>` in the environment (upper case,
 * '-' becomes '_'), else the default the caller stored in *dst beforehand.
 * `--help` prints the table with the defaults; `--version` the version.
 *
 * Who may call: main(), once, before anything else. Not thread-safe.
 * Errors: 0 to go on; -ECANCELED when --help/--version was printed (exit 0);
 * -EINVAL after printing what was wrong to stderr (exit 2).
 */
#ifndef FT_OPT_H
#define FT_OPT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define FABTEL_VERSION "0.1.0"

typedef enum {
    FT_OPT_STR,  /* dst: const char ** */
    FT_OPT_I64,  /* dst: int64_t *, bounded by [min, max] */
    FT_OPT_F64,  /* dst: double *, bounded by [min, max] */
    FT_OPT_BOOL, /* dst: int *; takes no value on the command line */
} ft_opt_type_t;

typedef struct {
    const char *name; /* without the leading dashes */
    ft_opt_type_t type;
    void *dst;
    const char *metavar;
    const char *help;
    double min, max; /* numeric bounds, inclusive */
} ft_opt_t;

int ft_opt_parse(const char *prog, const char *env_prefix, const char *summary, const ft_opt_t *opts, size_t nopts, int argc,
                 char **argv);

#endif
