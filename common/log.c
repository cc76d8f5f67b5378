#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The process's log configuration (see log.h: the one documented global). */
static struct {
    char component[32];
    char path[512];
    int fd;
    ft_log_level_t level;
} g_log = {"fabtel", "", 2, FT_LOG_INFO};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int ft_log_parse_level(const char *s, ft_log_level_t *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (ft_log_level_t)i;
            return 0;
        }
    return -EINVAL;
}

static int open_log_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    return fd < 0 ? -errno : fd;
}

int ft_log_init(const char *component, const char *level, const char *path)
{
    snprintf(g_log.component, sizeof(g_log.component), "%s", component);
    if (level != NULL && ft_log_parse_level(level, &g_log.level) != 0)
        return -EINVAL;
    if (path != NULL && path[0] != '\0') {
        int fd = open_log_file(path);
        if (fd < 0)
            return fd;
        snprintf(g_log.path, sizeof(g_log.path), "%s", path);
        g_log.fd = fd;
    }
    return 0;
}

int ft_log_reopen(void)
{
    if (g_log.path[0] == '\0')
        return 0;
    int fd = open_log_file(g_log.path);
    if (fd < 0)
        return fd;
    /* dup2 keeps the fd number stable, so a write racing with the reopen goes to one file or the other. */
    dup2(fd, g_log.fd);
    close(fd);
    return 0;
}

int ft_log_enabled(ft_log_level_t lvl)
{
    return lvl >= g_log.level;
}

void ft_log(ft_log_level_t lvl, const char *fmt, ...)
{
    if (lvl < g_log.level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000, level_names[lvl], g_log.component);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    /* Keep it one line even if a caller forgot to quote a value. */
    for (size_t i = (size_t)n; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    ssize_t w = write(g_log.fd, line, len);
    (void)w;
}

const char *ft_log_quote(char *out, size_t outsz, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (outsz < 3) {
        if (outsz)
            out[0] = '\0';
        return out;
    }
    out[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[4];
        size_t el;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            el = 2;
        } else if (c < 0x20 || c >= 0x7f) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
            el = 4;
        } else {
            esc[0] = (char)c;
            el = 1;
        }
        if (o + el + 2 > outsz)
            break;
        memcpy(out + o, esc, el);
        o += el;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}
