/*
 * common/statedir — where a daemon keeps what must survive it (the history
 * file, orchd.sqlite, flows.sqlite): one directory, fixed file names inside.
 *
 * The directory is --state-dir when given, else $STATE_DIRECTORY (systemd's
 * StateDirectory=fabtel; the first of a colon-separated list), else
 * /var/lib/fabtel. It is created (0750) when missing. A store's single writer
 * takes an exclusive lock on "<file>.lock" beside its file for its whole
 * life, so a second writer is refused rather than corrupting the store.
 *
 * Who may call: a daemon's start-up code, one thread. Errors: 0 or a negative
 * errno with `why` set to one sentence naming the path.
 */
#ifndef FT_STATEDIR_H
#define FT_STATEDIR_H

#include <stddef.h>

typedef struct ft_state_dir {
    char path[4096];
} ft_state_dir_t;

/* Resolve and create the directory, and check it is writable. */
int ft_state_dir_open(ft_state_dir_t *sd, const char *flag, char *why, size_t whysz);
/* "<dir>/<name>" into out; -ENAMETOOLONG when it does not fit. */
int ft_state_path(const ft_state_dir_t *sd, const char *name, char *out, size_t outsz);
/* An exclusive lock on "<dir>/<name>.lock" (created 0640), held until the fd is closed: the fd, or -EBUSY when another holds it. */
int ft_state_lock(const ft_state_dir_t *sd, const char *name, char *why, size_t whysz);

/*
 * What a store's single writer does at start, in one call: open the directory (flag as above), take the lock
 * on `name` (*lock_fd, to keep open for the process's life) and put the store's path in path.
 */
int ft_state_claim(ft_state_dir_t *sd, const char *flag, const char *name, int *lock_fd, char *path, size_t pathsz, char *why,
                   size_t whysz);

#endif
