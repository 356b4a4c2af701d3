/* linkem: a delayed, rate-capped, stalling TCP forwarder (see linkem.h). */
#include "linkem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINKEM__READ (64 * 1024)
#define LINKEM__MB   1000000u

/* ---- the schedule (pure) ---------------------------------------------- */

void linkem_line_init(struct linkem_line *l, const struct linkem_opts *o, unsigned salt)
{
    memset(l, 0, sizeof *l);
    l->o = *o;
    l->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)o->seed << 16) ^ salt;
    if (!l->rng)
        l->rng = 1;
}

static double linkem__rand(struct linkem_line *l) /* [0, 1) */
{
    l->rng ^= l->rng << 13;
    l->rng ^= l->rng >> 7;
    l->rng ^= l->rng << 17;
    return (double)(l->rng >> 11) / (double)(1ull << 53);
}

uint64_t linkem_line_due(struct linkem_line *l, uint64_t now_ns, size_t n)
{
    uint64_t start = l->free_ns > now_ns ? l->free_ns : now_ns;

    if (l->o.rate_mbs > 0)
        start += (uint64_t)((double)n * 1e3 / l->o.rate_mbs); /* n / (rate x 10^6) s, in ns */
    l->free_ns = start;
    if (l->o.stall_per_mb > 0) {
        /* one draw per whole MB carried: a stall holds these bytes and
         * everything behind them, as a retransmission would */
        l->carried += n;
        while (l->carried >= LINKEM__MB) {
            l->carried -= LINKEM__MB;
            if (linkem__rand(l) < l->o.stall_per_mb) {
                double ms = l->o.stall_ms > 0 ? l->o.stall_ms : 2 * l->o.delay_ms;
                l->free_ns += (uint64_t)(ms * 1e6);
                l->stalls++;
            }
        }
    }
    return l->free_ns + (uint64_t)(l->o.delay_ms * 1e6);
}

uint64_t linkem_line_backlog(const struct linkem_line *l, uint64_t now_ns)
{
    return l->free_ns > now_ns ? l->free_ns - now_ns : 0;
}

/* ---- the forwarder ---------------------------------------------------- */

struct linkem__chunk {
    struct linkem__chunk *next;
    uint64_t due;
    size_t len, off; /* off: written so far */
    uint8_t data[];
};

/* One direction of a connection: from fd[side] to fd[1 - side]. */
struct linkem__dir {
    struct linkem_line line;
    struct linkem__chunk *head, *tail;
    size_t held;
    bool eof;     /* the sender closed: shut the far side once drained */
    bool shut;    /* ... done */
    bool blocked; /* the receiver's socket is full: wait for EPOLLOUT */
};

struct linkem__conn {
    int fd[2]; /* 0: accepted (client), 1: to the target; -1 = free slot */
    struct linkem__dir dir[2];
    uint32_t events[2]; /* registered with epoll */
};

static uint64_t linkem__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void linkem__close(struct linkem__conn *c)
{
    for (int i = 0; i < 2; i++) {
        struct linkem__chunk *k = c->dir[i].head, *next;
        for (; k; k = next) {
            next = k->next;
            free(k);
        }
        if (c->fd[i] >= 0)
            close(c->fd[i]); /* also leaves the epoll set */
        c->fd[i] = -1;
        c->dir[i].head = c->dir[i].tail = NULL;
    }
}

/* Reads what fd[side] has into its direction; false when the connection
 * is to be closed. */
static bool linkem__read(struct linkem__conn *c, int side, uint8_t *buf)
{
    struct linkem__dir *d = &c->dir[side];
    ssize_t r = read(c->fd[side], buf, LINKEM__READ);
    struct linkem__chunk *k;

    if (r < 0)
        return errno == EAGAIN || errno == EINTR;
    if (r == 0) {
        d->eof = true;
        return true;
    }
    k = malloc(sizeof *k + (size_t)r);
    if (!k)
        return false;
    memcpy(k->data, buf, (size_t)r);
    k->len = (size_t)r;
    k->off = 0;
    k->next = NULL;
    k->due = linkem_line_due(&d->line, linkem__now(), (size_t)r);
    if (d->tail)
        d->tail->next = k;
    else
        d->head = k;
    d->tail = k;
    d->held += (size_t)r;
    return true;
}

/* Writes the chunks that are due to fd[1 - side]; false on an error. */
static bool linkem__flush(struct linkem__conn *c, int side, uint64_t now)
{
    struct linkem__dir *d = &c->dir[side];
    int to = c->fd[1 - side];

    d->blocked = false;
    while (d->head && d->head->due <= now) {
        struct linkem__chunk *k = d->head;
        ssize_t w = write(to, k->data + k->off, k->len - k->off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            d->blocked = true;
            return true;
        }
        if (w <= 0)
            return false;
        k->off += (size_t)w;
        if (k->off < k->len)
            continue;
        d->head = k->next;
        if (!d->head)
            d->tail = NULL;
        d->held -= k->len;
        free(k);
    }
    if (!d->head && d->eof && !d->shut) {
        shutdown(to, SHUT_WR);
        d->shut = true;
    }
    return true;
}

/* May fd[side] be read now? Not while its direction holds too much or
 * has too much sending queued at its rate (the sender then waits). */
static bool linkem__may_read(const struct linkem__dir *d, uint64_t now)
{
    return !d->eof && d->held < LINKEM_HELD_MAX &&
           linkem_line_backlog(&d->line, now) < (uint64_t)LINKEM_QUEUE_MS * 1000000u;
}

static void linkem__nodelay_nonblock(int s)
{
    int one = 1, rcvbuf = LINKEM_RCVBUF;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
}

static void linkem__accept(int ls, int ep, struct linkem__conn *conns, const struct linkem_opts *o,
                           uint16_t target)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(target),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int cfd = accept4(ls, NULL, NULL, SOCK_CLOEXEC), tfd, slot = -1;

    if (cfd < 0)
        return;
    for (int i = 0; i < LINKEM_CONNS && slot < 0; i++)
        if (conns[i].fd[0] < 0)
            slot = i;
    tfd = slot >= 0 ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    if (tfd >= 0) {
        int rcvbuf = LINKEM_RCVBUF; /* before connect: the window scale follows it */
        setsockopt(tfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    if (tfd < 0 || connect(tfd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (tfd >= 0)
            close(tfd);
        close(cfd); /* the client sees the target refuse */
        return;
    }
    struct linkem__conn *c = &conns[slot];
    memset(c, 0, sizeof *c);
    c->fd[0] = cfd;
    c->fd[1] = tfd;
    for (int i = 0; i < 2; i++) {
        struct epoll_event ev = {.events = 0, .data.u32 = (uint32_t)(slot * 2 + i)};
        linkem__nodelay_nonblock(c->fd[i]);
        /* the same stalls, by bytes carried, on every connection: the
         * reference and the relay path meet the same losses */
        linkem_line_init(&c->dir[i].line, o, (unsigned)i);
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd[i], &ev);
    }
}

/* The emulator's whole life; never returns. */
static void linkem__run(int ls, const struct linkem_opts *o, uint16_t target)
{
    static struct linkem__conn conns[LINKEM_CONNS];
    static uint8_t buf[LINKEM__READ];
    struct epoll_event ev = {.events = EPOLLIN}, got[2 * LINKEM_CONNS + 2];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int tf = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

    if (ep < 0 || tf < 0)
        _exit(1);
    for (int i = 0; i < LINKEM_CONNS; i++)
        conns[i].fd[0] = conns[i].fd[1] = -1;
    ev.data.u32 = UINT32_MAX; /* the listener */
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    ev.data.u32 = UINT32_MAX - 1; /* the timer */
    epoll_ctl(ep, EPOLL_CTL_ADD, tf, &ev);
    for (;;) {
        uint64_t now = linkem__now(), wake = UINT64_MAX;

        /* write what is due, then decide what to wait for */
        for (int i = 0; i < LINKEM_CONNS; i++) {
            struct linkem__conn *c = &conns[i];
            if (c->fd[0] < 0)
                continue;
            if (!linkem__flush(c, 0, now) || !linkem__flush(c, 1, now) ||
                (c->dir[0].shut && c->dir[1].shut)) {
                linkem__close(c);
                continue;
            }
            for (int s = 0; s < 2; s++) {
                struct linkem__dir *d = &c->dir[s], *back = &c->dir[1 - s];
                /* fd[s] is read for dir[s] and written for dir[1 - s] */
                uint32_t want =
                    (linkem__may_read(d, now) ? EPOLLIN : 0) | (back->blocked ? EPOLLOUT : 0);
                if (d->head && !d->blocked && d->head->due < wake)
                    wake = d->head->due;
                if (!d->eof && !linkem__may_read(d, now) && d->held < LINKEM_HELD_MAX) {
                    /* paused by the rate queue: look again as it drains */
                    uint64_t at = d->line.free_ns - (uint64_t)LINKEM_QUEUE_MS * 1000000u;
                    if (at < wake)
                        wake = at;
                }
                if (want != c->events[s]) {
                    struct epoll_event e = {.events = want, .data.u32 = (uint32_t)(i * 2 + s)};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd[s], &e);
                    c->events[s] = want;
                }
            }
        }
        struct itimerspec its = {{0, 0}, {0, 0}};
        if (wake != UINT64_MAX) {
            if (wake <= now)
                wake = now + 1;
            its.it_value.tv_sec = (time_t)(wake / 1000000000u);
            its.it_value.tv_nsec = (long)(wake % 1000000000u);
        }
        timerfd_settime(tf, TFD_TIMER_ABSTIME, &its, NULL);

        int n = epoll_wait(ep, got, (int)(sizeof got / sizeof got[0]), -1);
        if (n < 0 && errno != EINTR)
            _exit(1);
        for (int e = 0; e < n; e++) {
            uint32_t id = got[e].data.u32;
            if (id == UINT32_MAX) {
                linkem__accept(ls, ep, conns, o, target);
            } else if (id == UINT32_MAX - 1) {
                uint64_t ticks;
                if (read(tf, &ticks, sizeof ticks) < 0) { /* EAGAIN: already read */
                }
            } else {
                struct linkem__conn *c = &conns[id / 2];
                int s = (int)(id % 2);
                if (c->fd[s] < 0)
                    continue;
                if ((got[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c->events[s] & EPOLLIN) &&
                    !linkem__read(c, s, buf))
                    linkem__close(c);
                /* EPOLLOUT: the flush at the top of the loop writes */
            }
        }
    }
}

int linkem_start(struct linkem *lk, const struct linkem_opts *o, uint16_t target)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    lk->pid = -1;
    lk->port = 0;
    if (ls < 0)
        return -errno;
    /* accepted sockets inherit it: LINKEM_RCVBUF */
    setsockopt(ls, SOL_SOCKET, SO_RCVBUF, &(int){LINKEM_RCVBUF}, sizeof(int));
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 16) ||
        getsockname(ls, (struct sockaddr *)&a, &len)) {
        int e = -errno;
        close(ls);
        return e;
    }
    lk->port = ntohs(a.sin_port);
    lk->pid = fork();
    if (lk->pid < 0) {
        int e = -errno;
        close(ls);
        return e;
    }
    if (lk->pid == 0) {
        /* hold no copy of the bench's other sockets: a connection the
         * bench closes must close */
        for (int fd = 3; fd < 1024; fd++)
            if (fd != ls)
                close(fd);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGTERM, SIG_DFL);
        linkem__run(ls, o, target);
    }
    close(ls);
    return 0;
}

void linkem_stop(struct linkem *lk)
{
    int st;
    if (lk->pid <= 0)
        return;
    kill(lk->pid, SIGTERM);
    waitpid(lk->pid, &st, 0);
    lk->pid = -1;
}
