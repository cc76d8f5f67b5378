#include "statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p, each missing component 0750. */
static int make_dirs(char *path)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int r = mkdir(path, 0750);
        *p = c;
        if (r != 0 && errno != EEXIST)
            return -errno;
        if (c == '\0')
            return 0;
    }
}

int ft_state_dir_open(ft_state_dir_t *sd, const char *flag, char *why, size_t whysz)
{
    const char *env = getenv("STATE_DIRECTORY");
    const char *dir = flag && *flag ? flag : env && *env ? env : "/var/lib/fabtel";
    size_t len = strcspn(dir, ":"); /* systemd may pass several */
    if (len == 0 || len >= sizeof(sd->path)) {
        snprintf(why, whysz, "state directory '%s' is empty or too long", dir);
        return -ENAMETOOLONG;
    }
    memcpy(sd->path, dir, len);
    sd->path[len] = '\0';
    while (len > 1 && sd->path[len - 1] == '/')
        sd->path[--len] = '\0';
    int r = sd->path[0] == '/' || sd->path[0] == '.' ? make_dirs(sd->path) : (mkdir(sd->path, 0750) == 0 || errno == EEXIST ? 0 : -errno);
    if (r != 0 || access(sd->path, W_OK | X_OK) != 0) {
        r = r ? r : -errno;
        snprintf(why, whysz, "cannot create or write the state directory %s: %s", sd->path, strerror(-r));
        return r;
    }
    return 0;
}

int ft_state_path(const ft_state_dir_t *sd, const char *name, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s/%s", sd->path, name);
    return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

int ft_state_lock(const ft_state_dir_t *sd, const char *name, char *why, size_t whysz)
{
    char path[4200];
    if (snprintf(path, sizeof(path), "%s/%s.lock", sd->path, name) >= (int)sizeof(path)) {
        snprintf(why, whysz, "state path for %s too long", name);
        return -ENAMETOOLONG;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        int err = errno;
        snprintf(why, whysz, "cannot create %s: %s", path, strerror(err));
        return -err;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno == EWOULDBLOCK ? EBUSY : errno;
        snprintf(why, whysz, "%s is locked by another process (only one writer may own %s)", path, name);
        close(fd);
        return -err;
    }
    return fd;
}

int ft_state_claim(ft_state_dir_t *sd, const char *flag, const char *name, int *lock_fd, char *path, size_t pathsz, char *why,
                   size_t whysz)
{
    int r = ft_state_dir_open(sd, flag, why, whysz);
    if (r == 0 && (r = *lock_fd = ft_state_lock(sd, name, why, whysz)) >= 0)
        r = ft_state_path(sd, name, path, pathsz);
    if (r == -ENAMETOOLONG)
        snprintf(why, whysz, "the path of %s in %s is too long", name, sd->path);
    return r < 0 ? r : 0;
}
