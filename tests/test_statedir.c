/* tests for common/statedir: where stores live, created on demand, one writer per store. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "statedir.h"

int main(void)
{
    char base[] = "/tmp/fabtel-test-state-XXXXXX", why[300], path[4300];
    CHECK(mkdtemp(base) != NULL, "mkdtemp");
    ft_state_dir_t sd;
    snprintf(path, sizeof(path), "%s/a/b/", base);
    CHECK(ft_state_dir_open(&sd, path, why, sizeof(why)) == 0, "--state-dir is created with its parents: %s", why);
    snprintf(path, sizeof(path), "%s/a/b", base);
    CHECK_EQ_STR(sd.path, path);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0750, "a 0750 directory");

    /* systemd's StateDirectory= when no flag is given (the first of a list). */
    snprintf(path, sizeof(path), "%s/sysd:%s/other", base, base);
    setenv("STATE_DIRECTORY", path, 1);
    CHECK(ft_state_dir_open(&sd, "", why, sizeof(why)) == 0, "from $STATE_DIRECTORY: %s", why);
    snprintf(path, sizeof(path), "%s/sysd", base);
    CHECK_EQ_STR(sd.path, path);
    CHECK(ft_state_path(&sd, "flows.sqlite", path, sizeof(path)) == 0 && strstr(path, "/sysd/flows.sqlite") != NULL, "%s", path);

    /* One writer: a second lock on the same store is refused, and given back when the first closes. */
    int a = ft_state_lock(&sd, "flows.sqlite", why, sizeof(why));
    CHECK(a >= 0, "first lock: %s", why);
    int b = ft_state_lock(&sd, "flows.sqlite", why, sizeof(why));
    CHECK(b == -EBUSY && strstr(why, "flows.sqlite.lock") != NULL, "a second writer is refused with the path: %d %s", b, why);
    close(a);
    b = ft_state_lock(&sd, "flows.sqlite", why, sizeof(why));
    CHECK(b >= 0, "free again once the first writer is gone: %s", why);
    close(b);

    /* A path that cannot be a directory: refused, naming it. */
    snprintf(path, sizeof(path), "%s/file", base);
    FILE *f = fopen(path, "w");
    fclose(f);
    snprintf(path, sizeof(path), "%s/file/sub", base);
    CHECK(ft_state_dir_open(&sd, path, why, sizeof(why)) < 0 && strstr(why, "file/sub") != NULL, "refused with the path: %s", why);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    CHECK(system(cmd) == 0, "cleanup");
    return check_report("test_statedir");
}
