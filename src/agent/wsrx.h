/*
 * wsrx: one WebSocket message put back together from the pieces lws hands
 * a client's RECEIVE callback, with a cap. Used by the relay link and the
 * gateway link.
 *
 * A message that would pass max is refused once (CL_WSRX_TOO_BIG) and the
 * rest of it is dropped as it arrives; the caller then closes with 1009
 * from its WRITEABLE callback. It must never return nonzero from RECEIVE:
 * lws 4.1 then leaves its receive buffer's fill index where it was, and if
 * it parses more of that frame while closing, writes past the buffer (a
 * heap overflow a relay could trigger with one frame over 1 MiB;
 * decisions.md).
 */
#ifndef CL_AGENT_WSRX_H
#define CL_AGENT_WSRX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cl_wsrx {
    uint8_t *buf;
    size_t len, cap;
    size_t max;  /* largest message accepted */
    size_t keep; /* a buffer larger than this is freed between messages */
    bool skip;   /* dropping the rest of the current message */
    bool binary; /* the current message is binary */
};

enum cl_wsrx_result {
    CL_WSRX_MORE,    /* a piece kept; the message goes on */
    CL_WSRX_MESSAGE, /* *msg holds a whole message */
    CL_WSRX_SKIPPED, /* a piece of a message being dropped */
    CL_WSRX_TOO_BIG, /* the current message passed max: dropped (told once) */
};

/* An empty reassembler for messages of at most max bytes. */
void cl_wsrx_init(struct cl_wsrx *rx, size_t max, size_t keep);
void cl_wsrx_free(struct cl_wsrx *rx);
/* Forgets a message half received (a new connection). */
void cl_wsrx_reset(struct cl_wsrx *rx);

/* Feeds one piece: first/final say whether it starts / ends its message
 * (lws_is_first_fragment, and lws_is_final_fragment with nothing of the
 * frame remaining), binary its frame type, drop_binary whether binary
 * messages are to be dropped whole (CL_WSRX_SKIPPED). On CL_WSRX_MESSAGE
 * *msg and *msg_len are the message (in itself when it came in one piece,
 * else the buffer), valid until the next call; *binary says its type. */
enum cl_wsrx_result cl_wsrx_feed(struct cl_wsrx *rx, bool first, bool final, bool binary,
                                 bool drop_binary, const void *in, size_t len, const void **msg,
                                 size_t *msg_len);

#endif
