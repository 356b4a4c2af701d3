/*
 * wsc: a small non-blocking WebSocket client on epoll, for the benchmarks.
 *
 * One loop (one epoll set) holds any number of connections; a process can
 * keep 10,000 of them open at a few hundred bytes each. It speaks exactly
 * what the bench needs of RFC 6455: the HTTP upgrade, masked client
 * frames, server frames of any size up to WSC_MAX_MESSAGE (fragmented or
 * not), ping answered with pong, close. It does not check
 * Sec-WebSocket-Accept (no SHA-1 here; the peer is our own relay on
 * loopback). See docs/decisions.md for why the bench has its own client.
 *
 * Callbacks run from wsc_loop_poll. A callback may send on any connection
 * and may wsc_close one; connections are freed only by wsc_conn_free,
 * never by the loop, and never from inside their own callback.
 */
#ifndef CL_BENCH_WSC_H
#define CL_BENCH_WSC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WSC_MAX_MESSAGE (2 * 1024 * 1024) /* largest reassembled message accepted */
#define WSC_SENDQ_MAX   (8 * 1024 * 1024) /* bytes queued towards the server */

enum wsc_op { WSC_TEXT = 1, WSC_BINARY = 2, WSC_CLOSE = 8, WSC_PING = 9, WSC_PONG = 10 };

enum wsc_state { WSC_CONNECTING, WSC_HANDSHAKE, WSC_OPEN, WSC_CLOSED };

struct wsc_conn;

struct wsc_handler {
    /* The upgrade succeeded; messages may be sent. */
    void (*on_open)(struct wsc_conn *c);
    /* One complete text or binary message; data is valid during the call. */
    void (*on_message)(struct wsc_conn *c, enum wsc_op op, const uint8_t *data, size_t len);
    /* The connection is gone (close frame, EOF, error or refused upgrade);
     * code is the peer's close code, or 0 when there was none. */
    void (*on_close)(struct wsc_conn *c, int code);
};

struct wsc_loop {
    int epfd;
    size_t nopen; /* connections not yet closed */
};

struct wsc_conn {
    struct wsc_loop *loop;
    const struct wsc_handler *h;
    void *user;
    int fd;
    enum wsc_state state;
    int close_code;
    uint32_t mask_seed;
    bool want_out; /* EPOLLOUT registered */
    /* input: raw bytes from the socket, [roff, rlen) not yet parsed */
    uint8_t *rbuf;
    size_t roff, rlen, rcap;
    /* reassembly of a fragmented message */
    uint8_t *frag;
    size_t frag_len;
    enum wsc_op frag_op;
    /* output: [woff, wlen) not yet written */
    uint8_t *wbuf;
    size_t woff, wlen, wcap;
};

/* Creates the epoll set. Returns 0 or a negative errno. */
int wsc_loop_init(struct wsc_loop *l);
void wsc_loop_free(struct wsc_loop *l);

/* Waits up to timeout_ms for I/O and runs the callbacks it causes.
 * Returns the number of ready events, or a negative errno. */
int wsc_loop_poll(struct wsc_loop *l, int timeout_ms);

/* Starts connecting to addr (host:port), from source address src (port
 * 0, may be NULL), requesting path. Returns a new connection (owned by
 * the caller: release with wsc_conn_free) or NULL with errno set. */
struct wsc_conn *wsc_connect(struct wsc_loop *l, const struct sockaddr_in *addr,
                             const struct sockaddr_in *src, const char *path,
                             const struct wsc_handler *h, void *user);

/* Queues one message (a single frame). Returns 0, or -ENOBUFS when the
 * send queue would exceed WSC_SENDQ_MAX, -ENOTCONN when not open. */
int wsc_send(struct wsc_conn *c, enum wsc_op op, const void *data, size_t len);

/* Like wsc_send for a message made of a header and a body, without
 * joining them first (the v2 stdin/stdout frame). */
int wsc_send2(struct wsc_conn *c, enum wsc_op op, const void *a, size_t alen, const void *b,
              size_t blen);

/* Bytes queued but not yet written to the socket. */
size_t wsc_pending(const struct wsc_conn *c);

/* Sends a close frame (best effort) and closes the socket now; on_close
 * is called. Safe on a closed connection. */
void wsc_close(struct wsc_conn *c);

/* Closes (without callback) and frees c. Not from inside c's callbacks. */
void wsc_conn_free(struct wsc_conn *c);

#endif
