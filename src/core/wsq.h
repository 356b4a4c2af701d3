/*
 * wsq: a bounded queue of outgoing WebSocket frames for one connection.
 *
 * libwebsockets allows one lws_write per WRITEABLE callback, with LWS_PRE
 * bytes of headroom before the payload. Frames are allocated with that
 * headroom so an encoder writes the payload in place and nothing is copied
 * again before the socket. The queue counts its bytes against a cap: a
 * push over the cap fails with CL_ELIMIT and the caller decides (close the
 * peer, or stop producing).
 */
#ifndef CL_WSQ_H
#define CL_WSQ_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cl_frame {
    struct cl_frame *next;
    size_t len; /* payload length */
    size_t cap; /* payload capacity */
    bool binary;
    uint64_t end_offset;   /* stdout frames: stream offset after the last byte (0 = none) */
    uint64_t start_offset; /* stdout frames: stream offset of the first byte */
    void *owner;           /* whose output this is (agent: its session), or NULL */
    unsigned char buf[];   /* LWS_PRE headroom, then payload */
};

static inline unsigned char *cl_frame_payload(struct cl_frame *f)
{
    return f->buf + LWS_PRE;
}

struct cl_wsq {
    struct cl_frame *head, *tail;
    size_t bytes; /* payload bytes queued */
    size_t count;
    size_t max_bytes;
};

void cl_wsq_init(struct cl_wsq *q, size_t max_bytes);
/* Frees every queued frame. */
void cl_wsq_clear(struct cl_wsq *q);

/* A frame with room for cap payload bytes (aborts on OOM: small, bounded). */
struct cl_frame *cl_frame_new(size_t cap);
/* f with room for at least cap payload bytes (f may move; not queued). */
struct cl_frame *cl_frame_grow(struct cl_frame *f, size_t cap);

/* Appends f (takes ownership). CL_ELIMIT, and f is freed, if the queue
 * would exceed max_bytes; force = true ignores the cap (control frames). */
int cl_wsq_push(struct cl_wsq *q, struct cl_frame *f, bool force);
/* Queues f (ignoring the cap) ahead of other owners' frames: after the last
 * frame that has no owner (control) or the same owner as f, so each
 * owner's frames and every control frame keep their order. For small,
 * urgent output (a keystroke's echo) that must not wait behind bulk. */
void cl_wsq_push_urgent(struct cl_wsq *q, struct cl_frame *f);

/* Copies len bytes into a new frame and pushes it. */
int cl_wsq_push_copy(struct cl_wsq *q, const void *data, size_t len, bool binary, bool force);

/* Removes every frame that has an owner (output that can be produced again
 * from a ring), calling dropped(owner, start_offset, ctx) for each first, in
 * queue order. Frames without an owner (control messages) stay. */
void cl_wsq_drop_owned(struct cl_wsq *q,
                       void (*dropped)(void *owner, uint64_t start_offset, void *ctx), void *ctx);

/* Clears the owner of every frame owned by owner (it is going away). */
void cl_wsq_disown(struct cl_wsq *q, const void *owner);

/* Writes the head frame to wsi (call from the WRITEABLE callback) and
 * asks for another callback if more remain. Returns 0, or -1 if the write
 * failed (the caller returns -1 to lws to close). */
int cl_wsq_write_one(struct cl_wsq *q, struct lws *wsi);

/* Writes a close frame (code, reason cut at 123 bytes) from a WRITEABLE
 * callback. lws 4.1.6 drops the socket without one when a callback returns
 * -1, even after lws_close_reason(), and peers then see 1006; so the frame
 * is written here, with lws's own close opcode (kept private in its
 * headers). The caller then keeps reading and discarding until the peer
 * answers (lws closes on its reply; give it CL_WS_CLOSE_ACK_TIMEOUT_S
 * with lws_set_timeout PENDING_TIMEOUT_CLOSE_ACK), so unread input does
 * not turn into a TCP reset that loses the frame. Returns lws_write's. */
#define CL_WS_CLOSE_ACK_TIMEOUT_S 3
int cl_ws_send_close(struct lws *wsi, int code, const char *reason);

/* Removes and returns the head frame (NULL if none); the caller owns it. */
struct cl_frame *cl_wsq_pop(struct cl_wsq *q);

/* end_offset of the frame the next cl_wsq_write_one will write (0 if none). */
static inline uint64_t cl_wsq_head_end_offset(const struct cl_wsq *q)
{
    return q->head ? q->head->end_offset : 0;
}

static inline bool cl_wsq_empty(const struct cl_wsq *q)
{
    return q->head == NULL;
}

#endif
