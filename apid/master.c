#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apistats.h"
#include "log.h"
#include "notify.h"
#include "util.h"
#include "worker.h"

typedef struct master {
    const api_master_config_t *cfg;
    int *fds;
    pid_t *pids;
    uint64_t *started_ns;
    uint64_t *next_spawn_ns; /* a worker that keeps dying is restarted at most once a second */
    ft_api_seg_t stats;
    uint64_t restarts;
} master_t;

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        ft_info("event=nofile_limit value=%llu", (unsigned long long)rl.rlim_cur);
}

/* The API stats segment: created fresh by every master, one slot per worker (shm/apistats.h). */
static int create_stats(master_t *m)
{
    char why[400];
    int r = ft_api_seg_create(&m->stats, m->cfg->api.shm_name, m->cfg->workers, why, sizeof(why));
    if (r != 0)
        ft_error("event=stats_segment_failed reason=\"%s\"", why);
    return r;
}

static int open_sockets(master_t *m)
{
    char bound[64], spec[80];
    snprintf(spec, sizeof(spec), "%s", m->cfg->listen);
    for (unsigned i = 0; i < m->cfg->workers; i++) {
        /* The first socket may pick a free port; the others join that same port. */
        int fd = ft_listen(spec, 1, bound, sizeof(bound));
        if (fd < 0) {
            ft_error("event=listen_failed listen=%s reason=\"%s\"", spec, strerror(-fd));
            return fd;
        }
        m->fds[i] = fd;
        snprintf(spec, sizeof(spec), "%s", bound);
    }
    ft_info("event=listening listen=%s workers=%u", spec, m->cfg->workers);
    return 0;
}

static pid_t spawn(master_t *m, unsigned i, volatile sig_atomic_t *stop, volatile sig_atomic_t *reopen)
{
    pid_t master = getpid();
    pid_t pid = fork();
    if (pid != 0) {
        if (pid > 0) {
            m->pids[i] = pid;
            m->started_ns[i] = ft_mono_ns();
        }
        return pid;
    }
    /* Child: die with the master, keep only our own socket. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)
        _exit(0);
    for (unsigned k = 0; k < m->cfg->workers; k++)
        if (k != i)
            close(m->fds[k]);
    ft_api_worker_stats_t *ws = ft_api_seg_worker(m->stats.hdr, i);
    atomic_store(&ws->pid, (uint64_t)getpid());
    atomic_store(&ws->started_ns, ft_now_ns());
    api_worker_config_t wc = {m->fds[i], i, master, m->cfg->api, m->stats.hdr, ws, m->cfg->shutdown_grace_s, m->cfg->request_timeout_s};
    exit(api_worker_run(&wc, stop, reopen)); /* exit, not _exit: sanitizers report leaks at a worker's exit */
}

static unsigned count_alive(const master_t *m)
{
    unsigned n = 0;
    for (unsigned i = 0; i < m->cfg->workers; i++)
        n += m->pids[i] > 0;
    return n;
}

/* How a worker ended, as one log field: "exit=N" or "signal=N". */
static void log_exit(const char *event, unsigned i, pid_t pid, int st)
{
    ft_log(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? FT_LOG_INFO : FT_LOG_WARN, "event=%s index=%u pid=%d %s=%d", event, i, (int)pid,
           WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/*
 * Collect exited workers. While stopping (a SIGTERM sent to the whole process
 * group, as systemd does, reaches the workers too) an exit is the expected
 * end; otherwise the worker died and is replaced.
 */
static void reap(master_t *m, int stopping)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (unsigned i = 0; i < m->cfg->workers; i++) {
            if (m->pids[i] != pid)
                continue;
            uint64_t up_ms = (ft_mono_ns() - m->started_ns[i]) / 1000000;
            m->pids[i] = 0;
            if (stopping) {
                log_exit("worker_exited", i, pid, st);
                continue;
            }
            ft_warn("event=worker_died index=%u pid=%d %s=%d uptime_ms=%" PRIu64, i, (int)pid, WIFSIGNALED(st) ? "signal" : "exit",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), up_ms);
            m->next_spawn_ns[i] = up_ms < 1000 ? ft_mono_ns() + 1000000000ULL : 0;
        }
    }
}

static void stop_workers(master_t *m)
{
    for (unsigned i = 0; i < m->cfg->workers; i++)
        if (m->pids[i] > 0)
            kill(m->pids[i], SIGTERM);
    /* Workers get their grace period to finish answers in flight, and a little more to tear down. */
    uint64_t deadline = ft_mono_ns() + (uint64_t)((m->cfg->shutdown_grace_s + 5.0) * 1e9);
    while (count_alive(m) > 0 && ft_mono_ns() < deadline) {
        reap(m, 1);
        if (count_alive(m) > 0)
            usleep(10000);
    }
    for (unsigned i = 0; i < m->cfg->workers; i++)
        if (m->pids[i] > 0) {
            ft_warn("event=worker_killed index=%u pid=%d reason=\"did not stop within the grace period\"", i, (int)m->pids[i]);
            kill(m->pids[i], SIGKILL);
            waitpid(m->pids[i], NULL, 0);
        }
}

/* Fork every worker slot that is empty and due; a fork after the first round is a restart. */
static void spawn_missing(master_t *m, int first, volatile sig_atomic_t *stop, volatile sig_atomic_t *reopen)
{
    for (unsigned i = 0; i < m->cfg->workers; i++) {
        if (m->pids[i] != 0 || ft_mono_ns() < m->next_spawn_ns[i])
            continue;
        if (spawn(m, i, stop, reopen) < 0) {
            ft_error("event=fork_failed index=%u reason=\"%s\"", i, strerror(errno));
            m->next_spawn_ns[i] = ft_mono_ns() + 1000000000ULL;
        } else if (!first) {
            m->restarts++;
            atomic_store(&m->stats.hdr->restarts, m->restarts);
            ft_info("event=worker_restarted index=%u pid=%d restarts=%" PRIu64, i, (int)m->pids[i], m->restarts);
        }
    }
}

/* SIGHUP: reopen our log, and tell the workers to reopen theirs. */
static void reopen_logs(master_t *m)
{
    ft_log_reopen();
    for (unsigned i = 0; i < m->cfg->workers; i++)
        if (m->pids[i] > 0)
            kill(m->pids[i], SIGHUP);
}

static void notify_state(master_t *m, ft_notify_t *notify, uint64_t *next_status)
{
    unsigned alive = count_alive(m), n = m->cfg->workers;
    atomic_store(&m->stats.hdr->workers_alive, alive);
    /* Ready when every worker has been forked with its listening socket (they accept from their first loop turn). */
    if (alive == n)
        ft_notify_ready(notify, "workers listening");
    ft_notify_tick(notify);
    if (ft_mono_ns() >= *next_status) {
        ft_notify_status(notify, "%u of %u workers alive, %llu restarts", alive, n, (unsigned long long)m->restarts);
        *next_status = ft_mono_ns() + 1000000000ULL;
    }
}

static void master_free(master_t *m)
{
    for (unsigned i = 0; m->fds != NULL && i < m->cfg->workers; i++)
        if (m->fds[i] > 0)
            close(m->fds[i]);
    free(m->fds);
    free(m->pids);
    free(m->started_ns);
    free(m->next_spawn_ns);
}

int api_master_run(const api_master_config_t *cfg, volatile sig_atomic_t *stop, volatile sig_atomic_t *reopen)
{
    master_t m = {.cfg = cfg};
    unsigned n = cfg->workers;
    m.fds = calloc(n, sizeof(int));
    m.pids = calloc(n, sizeof(pid_t));
    m.started_ns = calloc(n, sizeof(uint64_t));
    m.next_spawn_ns = calloc(n, sizeof(uint64_t));
    if (!m.fds || !m.pids || !m.started_ns || !m.next_spawn_ns)
        return 1;
    raise_nofile();
    if (create_stats(&m) != 0 || open_sockets(&m) != 0)
        return 1;
    uint64_t next_status = 0;
    ft_notify_t notify;
    ft_notify_init(&notify);
    for (int first = 1; !*stop; first = 0) {
        spawn_missing(&m, first, stop, reopen);
        notify_state(&m, &notify, &next_status);
        if (*reopen) {
            *reopen = 0;
            reopen_logs(&m);
        }
        usleep(20000); /* SIGCHLD interrupts it, so a dead worker is replaced within milliseconds */
        reap(&m, *stop);
    }
    ft_notify_stopping(&notify);
    ft_info("event=stopping workers=%u", count_alive(&m));
    stop_workers(&m);
    atomic_store(&m.stats.hdr->workers_alive, 0);
    ft_api_seg_close(&m.stats, 1);
    master_free(&m);
    ft_info("event=stopped restarts=%" PRIu64, m.restarts);
    return 0;
}
