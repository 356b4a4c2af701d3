/* hops: two plain forwarding processes in front of a PTY (see hops.h). */
#include "hops.h"
#include "floor.h"
#include "procstat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOPS__READ (64 * 1024)
#define HOPS__MARK "__CLHOPS__"

/* A listening socket on 127.0.0.1 and a free port; -errno on error. */
static int hops__listen(uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 2) ||
        getsockname(s, (struct sockaddr *)&a, &len)) {
        int e = -errno;
        close(s);
        return e;
    }
    *port = ntohs(a.sin_port);
    return s;
}

static void hops__nodelay(int s)
{
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as lws sets it */
}

static int hops__connect(uint16_t port)
{
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (connect(s, (struct sockaddr *)&a, sizeof a)) {
        int e = -errno;
        close(s);
        return e;
    }
    hops__nodelay(s);
    return s;
}

static bool hops__write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w, n -= (size_t)w;
    }
    return true;
}

/* A stand-in's whole life: whatever one descriptor gives, write to the
 * other, until either ends. Runs in a forked child; never returns. */
static void hops__pump(int a, int b, pid_t shell)
{
    struct epoll_event ev = {.events = EPOLLIN}, got[2];
    static char buf[HOPS__READ];
    int ep = epoll_create1(0);

    ev.data.fd = a;
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev))
        goto out;
    ev.data.fd = b;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev))
        goto out;
    for (;;) {
        int n = epoll_wait(ep, got, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        for (int i = 0; i < n; i++) {
            int from = got[i].data.fd, to = from == a ? b : a;
            ssize_t r = read(from, buf, sizeof buf);
            if (r < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (r <= 0 || !hops__write_all(to, buf, (size_t)r))
                goto out; /* EOF, or EIO from a PTY whose shell left */
        }
    }
out:
    if (shell > 0) {
        int st;
        kill(-shell, SIGKILL);
        waitpid(shell, &st, 0);
    }
    _exit(0);
}

static void hops__reap(pid_t pid)
{
    int st;
    for (int i = 0; i < 200; i++) { /* up to 2 s, then no more waiting */
        if (waitpid(pid, &st, WNOHANG) != 0)
            return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}

int hops_open(struct hops *h, const char *home)
{
    return hops_open_link(h, home, NULL);
}

int hops_open_link(struct hops *h, const char *home, const struct linkem_opts *lo)
{
    uint16_t pa, pb;
    struct keyio io;
    int la, lb, rc;

    h->fd = -1;
    h->relay = h->agent = -1;
    h->link.pid = -1;
    la = hops__listen(&pa);
    if (la < 0)
        return la;
    lb = hops__listen(&pb);
    if (lb < 0) {
        close(la);
        return lb;
    }
    h->relay = fork();
    if (h->relay == 0) {
        int agent = accept4(la, NULL, NULL, SOCK_CLOEXEC);
        int browser = agent >= 0 ? accept4(lb, NULL, NULL, SOCK_CLOEXEC) : -1;
        close(la);
        close(lb);
        if (browser < 0)
            _exit(1);
        hops__nodelay(agent);
        hops__nodelay(browser);
        hops__pump(browser, agent, -1);
    }
    if (h->relay > 0 && lo) {
        /* the agent stand-in connects through the emulated link */
        rc = linkem_start(&h->link, lo, pa);
        if (rc) {
            close(la);
            close(lb);
            hops_close(h);
            return rc;
        }
        pa = h->link.port;
    }
    h->agent = h->relay > 0 ? fork() : -1;
    if (h->agent == 0) {
        char *argv[] = {"-bash", NULL};
        int master, s;
        pid_t shell;
        close(la);
        close(lb);
        shell = floor_bash(home, argv, &master);
        if (shell < 0)
            _exit(1);
        s = hops__connect(pa);
        if (s < 0) {
            kill(-shell, SIGKILL);
            _exit(1);
        }
        hops__pump(s, master, shell);
    }
    rc = h->agent > 0 ? 0 : -errno;
    close(la);
    if (!rc) {
        h->fd = hops__connect(pb);
        rc = h->fd < 0 ? h->fd : 0;
    }
    close(lb);
    if (!rc) {
        hops_keyio(h, &io);
        rc = keys_settle(&io, 300, 5000);
    }
    if (rc)
        hops_close(h);
    return rc;
}

void hops_keyio(struct hops *h, struct keyio *io)
{
    keys_fd_keyio(&h->fd, io);
}

double hops_cat_mbps(struct hops *h, const char *path, size_t size)
{
    static char buf[HOPS__READ + 16];
    char cmd[700];
    size_t ml = sizeof HOPS__MARK - 1, keep = 0;
    uint64_t t0;
    struct keyio io;
    int n = snprintf(cmd, sizeof cmd, "cat %s; printf '%%s\\n' __CL''HOPS__\r", path);

    if (n <= 0 || (size_t)n >= sizeof cmd)
        return -ENAMETOOLONG;
    t0 = ps_now_ns();
    if (!hops__write_all(h->fd, cmd, (size_t)n))
        return -EIO;
    for (;;) {
        /* the last ml - 1 bytes stay in front, so a marker cut in two
         * between reads is still found */
        ssize_t r = read(h->fd, buf + keep, HOPS__READ);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -EIO;
        size_t total = keep + (size_t)r;
        if (memmem(buf, total, HOPS__MARK, ml))
            break;
        keep = total < ml - 1 ? total : ml - 1;
        memmove(buf, buf + total - keep, keep);
    }
    double mbps = (double)size / ((double)(ps_now_ns() - t0) / 1e9) / 1e6;
    hops_keyio(h, &io);
    keys_settle(&io, 200, 5000);
    return mbps;
}

void hops_close(struct hops *h)
{
    if (h->fd >= 0)
        close(h->fd); /* the relay stand-in sees EOF, then the agent one */
    h->fd = -1;
    if (h->relay > 0)
        hops__reap(h->relay);
    if (h->agent > 0)
        hops__reap(h->agent);
    h->relay = h->agent = -1;
    linkem_stop(&h->link);
}
