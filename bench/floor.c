/* floor: raw-PTY throughput, echo and load (see floor.h). */
#include "floor.h"
#include "procstat.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#define FLOOR__READ (64 * 1024)

double floor_cat_mbps(const char *path, size_t size)
{
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    static char buf[FLOOR__READ];
    uint64_t t0, t1;
    int master, st;
    pid_t pid;

    t0 = ps_now_ns();
    pid = forkpty(&master, NULL, NULL, &ws);
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        execl("/bin/cat", "cat", path, (char *)NULL);
        _exit(127);
    }
    for (;;) {
        ssize_t n = read(master, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EIO: the child closed the slave */
    }
    t1 = ps_now_ns();
    close(master);
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -ECHILD;
    return (double)size / ((double)(t1 - t0) / 1e9) / 1e6;
}

pid_t floor_bash(const char *home, char *const argv[], int *master)
{
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    char env_home[600], env_inputrc[600];
    pid_t pid;

    snprintf(env_home, sizeof env_home, "HOME=%s", home);
    snprintf(env_inputrc, sizeof env_inputrc, "INPUTRC=%s/.inputrc", home);
    pid = forkpty(master, NULL, NULL, &ws);
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        char *envp[] = {env_home,
                        "SHELL=/bin/bash",
                        "TERM=xterm-256color",
                        "LANG=C.UTF-8",
                        env_inputrc,
                        "PATH=/usr/local/bin:/usr/bin:/bin",
                        NULL};
        signal(SIGPIPE, SIG_DFL); /* the bench ignores it; exec would keep that */
        if (chdir(home) != 0)
            _exit(126);
        execve("/bin/bash", argv, envp);
        _exit(127);
    }
    fcntl(*master, F_SETFD, FD_CLOEXEC);
    return pid;
}

int floor_shell_open(struct floor_shell *f, const char *home)
{
    char *argv[] = {"-bash", NULL};
    struct keyio io;
    int rc;

    f->pid = floor_bash(home, argv, &f->master);
    if (f->pid < 0)
        return (int)f->pid;
    floor_shell_keyio(f, &io);
    rc = keys_settle(&io, 300, 5000);
    if (rc)
        floor_shell_close(f);
    return rc;
}

void floor_shell_keyio(struct floor_shell *f, struct keyio *io)
{
    keys_fd_keyio(&f->master, io);
}

void floor_shell_close(struct floor_shell *f)
{
    int st;
    if (f->pid <= 0)
        return;
    kill(f->pid, SIGHUP);
    close(f->master);
    waitpid(f->pid, &st, 0);
    f->pid = -1;
}

struct floor__bpty {
    int master;
    pid_t pid;
    unsigned long long bytes;
};

struct floor_busy {
    int n;
    int epfd;
    struct floor__bpty *pty;
    pthread_t th;
    bool running; /* th was started */
    atomic_bool stop;
    atomic_int ready;
    atomic_ullong bytes;
};

/* The drain: one read of up to 64 KiB per readable PTY per wake-up, so
 * every PTY gets its turn, as the agent's round over its sessions would. */
static void *floor__drain(void *arg)
{
    struct floor_busy *fb = arg;
    struct epoll_event ev[64];
    char *buf = malloc(FLOOR__READ);
    unsigned long long total = 0;
    int ready = 0;

    if (!buf)
        abort();
    while (!atomic_load(&fb->stop)) {
        int k = epoll_wait(fb->epfd, ev, 64, 50);
        for (int i = 0; i < k; i++) {
            struct floor__bpty *p = ev[i].data.ptr;
            ssize_t r = read(p->master, buf, FLOOR__READ);
            if (r > 0) {
                ready += p->bytes == 0;
                p->bytes += (unsigned long long)r;
                total += (unsigned long long)r;
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                epoll_ctl(fb->epfd, EPOLL_CTL_DEL, p->master, NULL); /* EIO: it exited */
            }
        }
        atomic_store(&fb->ready, ready);
        atomic_store(&fb->bytes, total);
    }
    free(buf);
    return NULL;
}

int floor_busy_start(struct floor_busy **out, const char *home, const char *path, int n, char *err,
                     size_t errlen)
{
    struct floor_busy *fb = calloc(1, sizeof *fb);
    char cmd[600];
    int rc = 0;

    if (!fb || !(fb->pty = calloc((size_t)n, sizeof *fb->pty)))
        abort();
    atomic_init(&fb->stop, false);
    atomic_init(&fb->ready, 0);
    atomic_init(&fb->bytes, 0);
    fb->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (fb->epfd < 0) {
        rc = -errno;
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        goto out_free;
    }
    snprintf(cmd, sizeof cmd, "while :; do cat %s; done", path);
    for (; fb->n < n; fb->n++) {
        struct floor__bpty *p = &fb->pty[fb->n];
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
        char *argv[] = {"bash", "-c", cmd, NULL};
        p->pid = floor_bash(home, argv, &p->master);
        if (p->pid < 0) {
            rc = (int)p->pid;
            snprintf(err, errlen, "busy PTY %d: forkpty: %s", fb->n, strerror(-rc));
            goto out_stop;
        }
        fcntl(p->master, F_SETFL, fcntl(p->master, F_GETFL) | O_NONBLOCK);
        if (epoll_ctl(fb->epfd, EPOLL_CTL_ADD, p->master, &ev)) {
            rc = -errno;
            snprintf(err, errlen, "busy PTY %d: epoll_ctl: %s", fb->n, strerror(errno));
            fb->n++; /* started: the stop below reaps it */
            goto out_stop;
        }
    }
    rc = -pthread_create(&fb->th, NULL, floor__drain, fb);
    fb->running = rc == 0;
    if (rc) {
        snprintf(err, errlen, "pthread_create: %s", strerror(-rc));
        goto out_stop;
    }
    *out = fb;
    return 0;

out_stop:
    floor_busy_stop(fb);
    return rc;
out_free:
    free(fb->pty);
    free(fb);
    return rc;
}

int floor_busy_ready(struct floor_busy *fb)
{
    return atomic_load(&fb->ready);
}

unsigned long long floor_busy_bytes(struct floor_busy *fb)
{
    return atomic_load(&fb->bytes);
}

void floor_busy_stop(struct floor_busy *fb)
{
    int st;
    atomic_store(&fb->stop, true);
    if (fb->running)
        pthread_join(fb->th, NULL);
    /* kill the whole group: bash and the cat it is running */
    for (int i = 0; i < fb->n; i++)
        kill(-fb->pty[i].pid, SIGKILL);
    for (int i = 0; i < fb->n; i++) {
        close(fb->pty[i].master);
        waitpid(fb->pty[i].pid, &st, 0);
    }
    close(fb->epfd);
    free(fb->pty);
    free(fb);
}
