/* proc: child processes and the blocking HTTP client (see proc.h). */
#include "proc.h"
#include "procstat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

int bp_spawn(struct bp_proc *p, const char *name, char *const argv[], char *const envp[],
             const char *cwd, const char *logpath)
{
    int logfd, nullfd;
    pid_t pid;

    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->log, sizeof p->log, "%s", logpath);
    logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0)
        return -errno;
    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid = fork();
    if (pid < 0) {
        int e = errno;
        close(logfd);
        close(nullfd);
        return -e;
    }
    if (pid == 0) {
        if (nullfd < 0 || dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
            _exit(126);
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        if (envp)
            execve(argv[0], argv, envp);
        else
            execv(argv[0], argv);
        dprintf(2, "bench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    p->pid = pid;
    return 0;
}

bool bp_alive(struct bp_proc *p)
{
    int st;
    if (p->pid <= 0)
        return false;
    if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
        p->pid = 0;
        return false;
    }
    return true;
}

int bp_stop(struct bp_proc *p, int timeout_ms)
{
    double deadline = ps_now_s() + timeout_ms / 1000.0;
    int st = -1;
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    for (;;) {
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid || (r < 0 && errno != EINTR))
            break;
        if (ps_now_s() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            break;
        }
        usleep(10000);
    }
    p->pid = 0;
    return st;
}

void bp_log_tail(const struct bp_proc *p, int lines)
{
    char cmd[400];
    fprintf(stderr, "--- %s log (%s), last %d lines ---\n", p->name, p->log, lines);
    snprintf(cmd, sizeof cmd, "tail -n %d '%s' >&2", lines, p->log);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
}

int bh_request(const struct sockaddr_in *addr, const char *method, const char *path,
               const char *token, const char *body, int *status, char *resp, size_t cap,
               int timeout_ms)
{
    char req[2048], buf[16384], auth[256] = "";
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    size_t got = 0, blen = body ? strlen(body) : 0;
    char *hdr_end, *cl;
    long clen = -1;
    int fd, n, rc = 0;

    *status = 0;
    if (cap)
        resp[0] = 0;
    if (token)
        snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
    n = snprintf(req, sizeof req,
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                 method, path, auth, blen, body ? body : "");
    if (n < 0 || (size_t)n >= sizeof req)
        return -E2BIG;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0 ||
        send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        rc = -errno;
        goto out_close;
    }
    for (;;) {
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            goto out_close;
        }
        got += (size_t)r;
        buf[got] = 0;
        hdr_end = strstr(buf, "\r\n\r\n");
        if (hdr_end && clen < 0 && (cl = strcasestr(buf, "content-length:")) && cl < hdr_end)
            clen = strtol(cl + 15, NULL, 10);
        if (r == 0 || got == sizeof buf - 1 ||
            (hdr_end && clen >= 0 && got >= (size_t)(hdr_end + 4 - buf) + (size_t)clen))
            break;
    }
    hdr_end = strstr(buf, "\r\n\r\n");
    if (got < 12 || !hdr_end || sscanf(buf, "HTTP/1.%*d %d", status) != 1) {
        rc = -EPROTO;
        goto out_close;
    }
    if (cap)
        snprintf(resp, cap, "%s", hdr_end + 4);
out_close:
    close(fd);
    return rc;
}

int bh_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}
