/* wsrx: reassembly of one incoming WebSocket message, capped. */
#include "agent/wsrx.h"

#include <stdlib.h>
#include <string.h>

#define CL__WSRX_FIRST_CAP 4096

void cl_wsrx_init(struct cl_wsrx *rx, size_t max, size_t keep)
{
    memset(rx, 0, sizeof *rx);
    rx->max = max;
    rx->keep = keep;
}

void cl_wsrx_free(struct cl_wsrx *rx)
{
    free(rx->buf);
    rx->buf = NULL;
    rx->len = rx->cap = 0;
    rx->skip = false;
}

/* The message is over: keep a small buffer for the next, free a big one. */
static void cl__wsrx_done(struct cl_wsrx *rx)
{
    rx->len = 0;
    rx->skip = false;
    if (rx->cap > rx->keep) {
        free(rx->buf);
        rx->buf = NULL;
        rx->cap = 0;
    }
}

void cl_wsrx_reset(struct cl_wsrx *rx)
{
    cl__wsrx_done(rx);
}

enum cl_wsrx_result cl_wsrx_feed(struct cl_wsrx *rx, bool first, bool final, bool binary,
                                 bool drop_binary, const void *in, size_t len, const void **msg,
                                 size_t *msg_len)
{
    if (first) {
        rx->len = 0;
        rx->skip = binary && drop_binary;
        rx->binary = binary;
    }
    if (rx->skip) {
        if (final)
            cl__wsrx_done(rx);
        return CL_WSRX_SKIPPED;
    }
    if (len > rx->max - rx->len) {
        /* Drop what was kept, and the rest as it comes. */
        rx->len = 0;
        rx->skip = !final;
        if (final)
            cl__wsrx_done(rx);
        return CL_WSRX_TOO_BIG;
    }
    if (final && rx->len == 0) {
        /* the common case, a whole message in one piece: no copy */
        *msg = in;
        *msg_len = len;
        return CL_WSRX_MESSAGE;
    }
    if (rx->len + len > rx->cap) {
        size_t cap = rx->cap ? rx->cap : CL__WSRX_FIRST_CAP;
        while (cap < rx->len + len)
            cap *= 2;
        if (cap > rx->max)
            cap = rx->max;
        uint8_t *nb = realloc(rx->buf, cap);
        if (!nb)
            abort();
        rx->buf = nb;
        rx->cap = cap;
    }
    memcpy(rx->buf + rx->len, in, len);
    rx->len += len;
    if (!final)
        return CL_WSRX_MORE;
    *msg = rx->buf;
    *msg_len = rx->len;
    /* The buffer stays as it is until the next call; then len restarts. */
    rx->len = 0;
    return CL_WSRX_MESSAGE;
}
