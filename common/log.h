/*
 * common/log — one line per event: `ts level component key=value ...`.
 *
 * Owns: the process's log sink (stderr by default, or a file reopened on
 * demand for logrotate) and its level filter. This is the one piece of
 * process-wide state in the common library, set once by main() through
 * ft_log_init() and read by every module (like syslog's openlog()).
 *
 * Who may call: anyone, from any thread. Each event is formatted into a
 * stack buffer and written with a single write(2), so lines from different
 * threads or processes sharing the fd never interleave (up to PIPE_BUF).
 *
 * Values that come from outside (CSV names, request strings) must go through
 * ft_log_quote() so a log line stays one greppable line whatever they hold.
 *
 * Errors: ft_log_init/ft_log_reopen return 0 or a negative errno.
 */
#ifndef FT_LOG_H
#define FT_LOG_H

#include <stddef.h>

typedef enum { FT_LOG_DEBUG = 0, FT_LOG_INFO, FT_LOG_WARN, FT_LOG_ERROR } ft_log_level_t;

/* component: short fixed name ("ingestd"); path NULL or "" means stderr. */
int ft_log_init(const char *component, const char *level, const char *path);
/* Reopen the log file (after SIGHUP); a no-op when logging to stderr. */
int ft_log_reopen(void);
/* Parse "debug|info|warn|error"; returns -EINVAL when unknown. */
int ft_log_parse_level(const char *s, ft_log_level_t *out);
int ft_log_enabled(ft_log_level_t lvl);

void ft_log(ft_log_level_t lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Quote an untrusted string for a log line: the result is wrapped in double
 * quotes, and quotes, backslashes, control bytes and bytes >= 0x7f are
 * escaped (\" \\ \xNN). Output is truncated to fit outsz; returns out.
 */
const char *ft_log_quote(char *out, size_t outsz, const char *s, size_t len);

#define ft_debug(...) ft_log(FT_LOG_DEBUG, __VA_ARGS__)
#define ft_info(...) ft_log(FT_LOG_INFO, __VA_ARGS__)
#define ft_warn(...) ft_log(FT_LOG_WARN, __VA_ARGS__)
#define ft_error(...) ft_log(FT_LOG_ERROR, __VA_ARGS__)

#endif
