/* wsc: the bench's WebSocket client (see wsc.h). */
#include "wsc.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define WSC__RBUF_INIT   2048
#define WSC__WBUF_INIT   512
#define WSC__HEADER_MAX  8192 /* upgrade response headers */
#define WSC__READ_MIN    4096 /* free space wanted before a read */
#define WSC__EVENTS      256
#define WSC__FRAME_EXTRA 14 /* largest server frame header */

int wsc_loop_init(struct wsc_loop *l)
{
    memset(l, 0, sizeof *l);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    return l->epfd < 0 ? -errno : 0;
}

void wsc_loop_free(struct wsc_loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
}

static void *wsc__realloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q)
        abort(); /* the bench's own small buffers: out of memory is fatal */
    return q;
}

static void wsc__watch(struct wsc_conn *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (out == c->want_out)
        return;
    c->want_out = out;
    epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Closes the socket; calls on_close when notify is set. */
static void wsc__shut(struct wsc_conn *c, int code, bool notify)
{
    if (c->state == WSC_CLOSED)
        return;
    c->state = WSC_CLOSED;
    c->close_code = code;
    epoll_ctl(c->loop->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->loop->nopen--;
    free(c->frag);
    c->frag = NULL;
    c->frag_len = 0;
    if (notify && c->h->on_close)
        c->h->on_close(c, code);
}

/* Writes what is queued. Returns 0, or -1 after closing c. */
static int wsc__flush(struct wsc_conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            wsc__shut(c, 0, true);
            return -1;
        }
        c->woff += (size_t)n;
    }
    if (c->woff == c->wlen)
        c->woff = c->wlen = 0;
    if (c->state != WSC_CONNECTING)
        wsc__watch(c, c->woff < c->wlen);
    return 0;
}

/* Room for n more bytes of output; false if that exceeds WSC_SENDQ_MAX. */
static bool wsc__reserve(struct wsc_conn *c, size_t n)
{
    size_t used = c->wlen - c->woff;
    if (used + n > WSC_SENDQ_MAX)
        return false;
    if (c->woff && c->wlen + n > c->wcap) {
        memmove(c->wbuf, c->wbuf + c->woff, used);
        c->woff = 0;
        c->wlen = used;
    }
    if (c->wlen + n > c->wcap) {
        size_t cap = c->wcap ? c->wcap : WSC__WBUF_INIT;
        while (cap < c->wlen + n)
            cap *= 2;
        c->wbuf = wsc__realloc(c->wbuf, cap);
        c->wcap = cap;
    }
    return true;
}

static uint32_t wsc__next_mask(struct wsc_conn *c)
{
    uint32_t x = c->mask_seed; /* xorshift32: masks need not be secret here */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c->mask_seed = x;
    return x;
}

/* Copies len bytes of src to dst, XORed with the 4-byte mask starting at
 * mask phase *phase; 8 bytes at a time. */
static void wsc__mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
                           size_t *phase)
{
    size_t i = 0, p = *phase;
    uint8_t k8[8];
    uint64_t k, w;
    for (int j = 0; j < 8; j++)
        k8[j] = key[(p + (size_t)j) & 3];
    memcpy(&k, k8, 8);
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, src + i, 8);
        w ^= k;
        memcpy(dst + i, &w, 8);
    }
    for (; i < len; i++)
        dst[i] = src[i] ^ key[(p + i) & 3];
    *phase = (p + len) & 3;
}

int wsc_send2(struct wsc_conn *c, enum wsc_op op, const void *a, size_t alen, const void *b,
              size_t blen)
{
    size_t len = alen + blen, hl, phase = 0;
    uint8_t *h;
    uint32_t m;

    if (c->state != WSC_OPEN)
        return -ENOTCONN;
    if (!wsc__reserve(c, len + 14))
        return -ENOBUFS;
    h = c->wbuf + c->wlen;
    h[0] = (uint8_t)(0x80 | op);
    if (len < 126) {
        h[1] = (uint8_t)(0x80 | len);
        hl = 2;
    } else if (len <= 0xffff) {
        h[1] = 0x80 | 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    m = wsc__next_mask(c);
    memcpy(h + hl, &m, 4);
    if (alen)
        wsc__mask_copy(h + hl + 4, a, alen, h + hl, &phase);
    if (blen)
        wsc__mask_copy(h + hl + 4 + alen, b, blen, h + hl, &phase);
    c->wlen += hl + 4 + len;
    return wsc__flush(c) ? -ENOTCONN : 0;
}

int wsc_send(struct wsc_conn *c, enum wsc_op op, const void *data, size_t len)
{
    return wsc_send2(c, op, data, len, NULL, 0);
}

size_t wsc_pending(const struct wsc_conn *c)
{
    return c->wlen - c->woff;
}

struct wsc_conn *wsc_connect(struct wsc_loop *l, const struct sockaddr_in *addr,
                             const struct sockaddr_in *src, const char *path,
                             const struct wsc_handler *h, void *user)
{
    static __thread uint32_t seed = 2463534242u;
    struct wsc_conn *c;
    struct epoll_event ev;
    int one = 1, n;
    char key[25], req[320];
    uint8_t raw[16];

    c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->loop = l;
    c->h = h;
    c->user = user;
    c->state = WSC_CONNECTING;
    seed = seed * 1664525u + 1013904223u;
    c->mask_seed = seed | 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        goto out_free;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src) {
        /* many source addresses, ports picked at connect: 10k sockets
         * need not share one address's ephemeral range */
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(c->fd, (const struct sockaddr *)src, sizeof *src) != 0)
            goto out_close;
    }
    if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) != 0 && errno != EINPROGRESS)
        goto out_close;

    /* the key only needs to be 16 bytes, base64: any value will do */
    for (int i = 0; i < 16; i++)
        raw[i] = (uint8_t)wsc__next_mask(c);
    {
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        int o = 0;
        for (int i = 0; i < 15; i += 3) {
            uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
            key[o++] = tbl[v >> 18 & 63];
            key[o++] = tbl[v >> 12 & 63];
            key[o++] = tbl[v >> 6 & 63];
            key[o++] = tbl[v & 63];
        }
        key[o++] = tbl[raw[15] >> 2];
        key[o++] = tbl[(raw[15] & 3) << 4];
        key[o++] = '=';
        key[o++] = '=';
        key[o] = 0;
    }
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 path, (unsigned)ntohs(addr->sin_port), key);
    if (n < 0 || (size_t)n >= sizeof req) {
        errno = ENAMETOOLONG;
        goto out_close;
    }
    wsc__reserve(c, (size_t)n);
    memcpy(c->wbuf, req, (size_t)n);
    c->wlen = (size_t)n;

    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;
    c->want_out = true;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        goto out_close;
    l->nopen++;
    return c;

out_close:
    n = errno;
    close(c->fd);
    errno = n;
out_free:
    free(c->wbuf);
    free(c);
    return NULL;
}

/* Control frames: answer ping, note close. Returns -1 if c was closed. */
static int wsc__control(struct wsc_conn *c, int op, const uint8_t *p, size_t n)
{
    if (op == WSC_PING) {
        wsc_send(c, WSC_PONG, p, n);
        return c->state == WSC_CLOSED ? -1 : 0;
    }
    if (op == WSC_CLOSE) {
        int code = n >= 2 ? (p[0] << 8 | p[1]) : 1005;
        uint8_t back[2] = {p && n >= 2 ? p[0] : 0x03, p && n >= 2 ? p[1] : 0xe8};
        wsc_send(c, WSC_CLOSE, back, 2);
        wsc__shut(c, code, true);
        return -1;
    }
    return 0; /* pong */
}

/* One data frame (or fragment). Returns -1 if c was closed. */
static int wsc__data(struct wsc_conn *c, int op, bool fin, const uint8_t *p, size_t n)
{
    if (op != 0 && !c->frag && fin) {
        c->h->on_message(c, (enum wsc_op)op, p, n);
        return c->state == WSC_CLOSED ? -1 : 0;
    }
    if (op != 0) {
        c->frag_op = (enum wsc_op)op;
        c->frag_len = 0;
    }
    if (c->frag_len + n > WSC_MAX_MESSAGE) {
        wsc__shut(c, 1009, true);
        return -1;
    }
    c->frag = wsc__realloc(c->frag, c->frag_len + n + 1);
    memcpy(c->frag + c->frag_len, p, n);
    c->frag_len += n;
    if (fin) {
        uint8_t *m = c->frag;
        size_t ml = c->frag_len;
        c->frag = NULL;
        c->frag_len = 0;
        c->h->on_message(c, c->frag_op, m, ml);
        free(m);
        if (c->state == WSC_CLOSED)
            return -1;
    }
    return 0;
}

/* Parses complete frames in [roff, rlen). Returns -1 if c was closed.
 * *need is set to the byte count the next frame wants in the buffer. */
static int wsc__parse(struct wsc_conn *c, size_t *need)
{
    *need = 0;
    while (c->state == WSC_OPEN) {
        uint8_t *p = c->rbuf + c->roff;
        size_t have = c->rlen - c->roff, hl = 2;
        uint64_t len;
        bool masked;
        int op;

        if (have < 2)
            return 0;
        op = p[0] & 0x0f;
        masked = p[1] & 0x80;
        len = p[1] & 0x7f;
        if (len == 126) {
            if (have < 4)
                return 0;
            len = (uint64_t)p[2] << 8 | p[3];
            hl = 4;
        } else if (len == 127) {
            if (have < 10)
                return 0;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | p[2 + i];
            hl = 10;
        }
        if (masked)
            hl += 4;
        if (len > WSC_MAX_MESSAGE) {
            wsc__shut(c, 1009, true);
            return -1;
        }
        if (have < hl + len) {
            *need = hl + (size_t)len;
            return 0;
        }
        if (masked) /* servers never mask; unmask anyway, in place */
            for (uint64_t i = 0; i < len; i++)
                p[hl + i] ^= p[hl - 4 + (i & 3)];
        c->roff += hl + (size_t)len;
        if (op >= 8) {
            if (wsc__control(c, op, p + hl, (size_t)len))
                return -1;
        } else if (wsc__data(c, op, p[0] & 0x80, p + hl, (size_t)len)) {
            return -1;
        }
    }
    return 0;
}

/* The upgrade response. Returns 0 when more is needed or it succeeded,
 * -1 after closing c. */
static int wsc__handshake(struct wsc_conn *c)
{
    uint8_t *end = memmem(c->rbuf + c->roff, c->rlen - c->roff, "\r\n\r\n", 4);
    if (!end) {
        if (c->rlen - c->roff > WSC__HEADER_MAX) {
            wsc__shut(c, 0, true);
            return -1;
        }
        return 0;
    }
    if (c->rlen - c->roff < 12 || memcmp(c->rbuf + c->roff, "HTTP/1.1 101", 12) != 0) {
        wsc__shut(c, 0, true);
        return -1;
    }
    c->roff = (size_t)(end + 4 - c->rbuf);
    c->state = WSC_OPEN;
    if (c->h->on_open)
        c->h->on_open(c);
    return c->state == WSC_CLOSED ? -1 : 0;
}

static void wsc__readable(struct wsc_conn *c)
{
    size_t need = 0;
    ssize_t n;

    /* make room: compact, then grow to what the next frame needs */
    if (c->roff && (c->roff == c->rlen || c->rcap - c->rlen < WSC__READ_MIN)) {
        memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
        c->rlen -= c->roff;
        c->roff = 0;
    }
    if (c->state == WSC_OPEN && c->rlen >= 2) {
        /* a partial frame is waiting: size the buffer for all of it */
        wsc__parse(c, &need);
        if (c->state == WSC_CLOSED)
            return;
    }
    if (c->rcap < need + WSC__READ_MIN || c->rcap - c->rlen < WSC__READ_MIN) {
        size_t cap = c->rcap ? c->rcap : WSC__RBUF_INIT;
        while (cap < c->rlen + WSC__READ_MIN || cap < need + WSC__READ_MIN)
            cap *= 2;
        if (cap > WSC_MAX_MESSAGE + WSC__FRAME_EXTRA + WSC__READ_MIN)
            cap = WSC_MAX_MESSAGE + WSC__FRAME_EXTRA + WSC__READ_MIN;
        if (cap > c->rcap) {
            c->rbuf = wsc__realloc(c->rbuf, cap);
            c->rcap = cap;
        }
    }
    n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        wsc__shut(c, 0, true);
        return;
    }
    c->rlen += (size_t)n;
    if (c->state == WSC_HANDSHAKE && wsc__handshake(c))
        return;
    if (c->state == WSC_OPEN)
        wsc__parse(c, &need);
}

int wsc_loop_poll(struct wsc_loop *l, int timeout_ms)
{
    struct epoll_event ev[WSC__EVENTS];
    int n = epoll_wait(l->epfd, ev, WSC__EVENTS, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        struct wsc_conn *c = ev[i].data.ptr;
        if (c->state == WSC_CLOSED)
            continue;
        if (c->state == WSC_CONNECTING && (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err) {
                wsc__shut(c, 0, true);
                continue;
            }
            c->state = WSC_HANDSHAKE;
        }
        if ((ev[i].events & EPOLLOUT) && wsc__flush(c))
            continue;
        if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            wsc__readable(c);
    }
    return n;
}

void wsc_close(struct wsc_conn *c)
{
    static const uint8_t normal[2] = {0x03, 0xe8}; /* 1000 */
    if (c->state == WSC_CLOSED)
        return;
    if (c->state == WSC_OPEN)
        wsc_send(c, WSC_CLOSE, normal, 2);
    wsc__shut(c, 1000, true);
}

void wsc_conn_free(struct wsc_conn *c)
{
    if (!c)
        return;
    wsc__shut(c, 0, false);
    free(c->rbuf);
    free(c->wbuf);
    free(c->frag);
    free(c);
}
