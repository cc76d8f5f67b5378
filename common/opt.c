#include "opt.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void env_name(char *out, size_t outsz, const char *prefix, const char *name)
{
    size_t o = (size_t)snprintf(out, outsz, "%s_", prefix);
    for (const char *p = name; *p && o + 1 < outsz; p++)
        out[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[o] = '\0';
}

static int set_value(const char *prog, const ft_opt_t *o, const char *val, const char *from)
{
    char *end;
    switch (o->type) {
    case FT_OPT_STR:
        *(const char **)o->dst = val;
        return 0;
    case FT_OPT_BOOL:
        if (strcmp(val, "1") == 0 || strcmp(val, "true") == 0 || strcmp(val, "yes") == 0)
            *(int *)o->dst = 1;
        else if (strcmp(val, "0") == 0 || strcmp(val, "false") == 0 || strcmp(val, "no") == 0 || val[0] == '\0')
            *(int *)o->dst = 0;
        else
            goto Bad;
        return 0;
    case FT_OPT_I64: {
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end != '\0' || (double)v < o->min || (double)v > o->max)
            goto Bad;
        *(int64_t *)o->dst = v;
        return 0;
    }
    case FT_OPT_F64: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end != '\0' || !isfinite(v) || v < o->min || v > o->max)
            goto Bad;
        *(double *)o->dst = v;
        return 0;
    }
    }
Bad:
    if (o->type == FT_OPT_I64 || o->type == FT_OPT_F64)
        fprintf(stderr, "%s: invalid value '%s' for %s (expected a number from %g to %g)\n", prog, val, from, o->min, o->max);
    else
        fprintf(stderr, "%s: invalid value '%s' for %s\n", prog, val, from);
    return -EINVAL;
}

static void print_help(const char *prog, const char *env_prefix, const char *summary, const ft_opt_t *opts, size_t n)
{
    printf("Usage: %s [OPTIONS]\n%s\n\nOptions (each also read from the environment variable shown):\n", prog, summary);
    for (size_t i = 0; i < n; i++) {
        const ft_opt_t *o = &opts[i];
        char env[96], arg[64], def[96];
        env_name(env, sizeof(env), env_prefix, o->name);
        snprintf(arg, sizeof(arg), "--%s%s%s", o->name, o->type == FT_OPT_BOOL ? "" : " ", o->type == FT_OPT_BOOL ? "" : o->metavar);
        switch (o->type) {
        case FT_OPT_STR:
            snprintf(def, sizeof(def), "%s", *(const char **)o->dst ? *(const char **)o->dst : "(none)");
            break;
        case FT_OPT_I64:
            snprintf(def, sizeof(def), "%" PRId64, *(int64_t *)o->dst);
            break;
        case FT_OPT_F64:
            snprintf(def, sizeof(def), "%g", *(double *)o->dst);
            break;
        case FT_OPT_BOOL:
            snprintf(def, sizeof(def), "%s", *(int *)o->dst ? "on" : "off");
            break;
        }
        printf("  %-28s %s\n  %-28s [%s; default: %s]\n", arg, o->help, "", env, def);
    }
    printf("  %-28s %s\n  %-28s %s\n", "--help", "show this help and exit", "--version", "show the version and exit");
}

int ft_opt_parse(const char *prog, const char *env_prefix, const char *summary, const ft_opt_t *opts, size_t n, int argc, char **argv)
{
    /* Environment first, so the command line overrides it. */
    for (size_t i = 0; i < n; i++) {
        char env[96];
        env_name(env, sizeof(env), env_prefix, opts[i].name);
        const char *v = getenv(env);
        if (v != NULL && set_value(prog, &opts[i], v, env) != 0)
            return -EINVAL;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(prog, env_prefix, summary, opts, n);
            return -ECANCELED;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("%s %s\n", prog, FABTEL_VERSION);
            return -ECANCELED;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog, arg);
            return -EINVAL;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const ft_opt_t *o = NULL;
        for (size_t i = 0; i < n; i++)
            if (strlen(opts[i].name) == nlen && strncmp(opts[i].name, name, nlen) == 0)
                o = &opts[i];
        if (o == NULL) {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog, arg);
            return -EINVAL;
        }
        const char *val;
        if (eq != NULL)
            val = eq + 1;
        else if (o->type == FT_OPT_BOOL)
            val = "1";
        else if (a + 1 < argc)
            val = argv[++a];
        else {
            fprintf(stderr, "%s: option '--%s' needs a value (see --help)\n", prog, o->name);
            return -EINVAL;
        }
        if (set_value(prog, o, val, arg) != 0)
            return -EINVAL;
    }
    return 0;
}
