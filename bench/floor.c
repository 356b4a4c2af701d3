/* floor: raw-PTY throughput and echo (see floor.h). */
#include "floor.h"
#include "keys.h"
#include "procstat.h"

#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

struct floor__pty {
    int master;
};

static int floor__send(void *ctx, const uint8_t *p, size_t n)
{
    struct floor__pty *f = ctx;
    return write(f->master, p, n) == (ssize_t)n ? 0 : -EIO;
}

static long floor__wait(void *ctx, int timeout_ms, uint64_t *t_ns)
{
    struct floor__pty *f = ctx;
    struct pollfd pfd = {.fd = f->master, .events = POLLIN};
    char buf[4096];
    ssize_t n;
    int r = poll(&pfd, 1, timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    if (r == 0)
        return 0;
    n = read(f->master, buf, sizeof buf);
    *t_ns = ps_now_ns();
    return n > 0 ? n : -EIO;
}

int floor_echo(const char *home, int n, double *us)
{
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    struct floor__pty f;
    struct keyio io = {floor__send, floor__wait, &f};
    char env_home[600], env_inputrc[600];
    int st, rc;
    pid_t pid;

    snprintf(env_home, sizeof env_home, "HOME=%s", home);
    snprintf(env_inputrc, sizeof env_inputrc, "INPUTRC=%s/.inputrc", home);
    pid = forkpty(&f.master, NULL, NULL, &ws);
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
        char *argv[] = {"-bash", NULL};
        if (chdir(home) != 0)
            _exit(126);
        execve("/bin/bash", argv, envp);
        _exit(127);
    }
    rc = keys_settle(&io, 300, 5000);
    if (rc == 0)
        rc = keys_run(&io, n, us);
    kill(pid, SIGHUP);
    close(f.master);
    waitpid(pid, &st, 0);
    return rc;
}
