/* wsq: bounded per-connection frame queues for lws writes. */
#include "core/wsq.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

void cl_wsq_init(struct cl_wsq *q, size_t max_bytes)
{
    memset(q, 0, sizeof *q);
    q->max_bytes = max_bytes;
}

void cl_wsq_clear(struct cl_wsq *q)
{
    struct cl_frame *f = q->head, *n;
    for (; f; f = n) {
        n = f->next;
        free(f);
    }
    q->head = q->tail = NULL;
    q->bytes = q->count = 0;
}

struct cl_frame *cl_frame_new(size_t cap)
{
    struct cl_frame *f = malloc(sizeof *f + LWS_PRE + cap);
    if (!f)
        abort();
    f->next = NULL;
    f->len = 0;
    f->cap = cap;
    f->binary = false;
    f->end_offset = 0;
    f->start_offset = 0;
    f->owner = NULL;
    return f;
}

struct cl_frame *cl_frame_grow(struct cl_frame *f, size_t cap)
{
    struct cl_frame *g;
    if (cap <= f->cap)
        return f;
    g = realloc(f, sizeof *f + LWS_PRE + cap);
    if (!g)
        abort();
    g->cap = cap;
    return g;
}

int cl_wsq_push(struct cl_wsq *q, struct cl_frame *f, bool force)
{
    if (!force && q->bytes + f->len > q->max_bytes) {
        free(f);
        return CL_ELIMIT;
    }
    f->next = NULL;
    if (q->tail)
        q->tail->next = f;
    else
        q->head = f;
    q->tail = f;
    q->bytes += f->len;
    q->count++;
    return 0;
}

int cl_wsq_push_copy(struct cl_wsq *q, const void *data, size_t len, bool binary, bool force)
{
    struct cl_frame *f = cl_frame_new(len);
    if (len) /* data may be NULL for an empty frame; memcpy(dst, NULL, 0) is UB */
        memcpy(cl_frame_payload(f), data, len);
    f->len = len;
    f->binary = binary;
    return cl_wsq_push(q, f, force);
}

void cl_wsq_push_urgent(struct cl_wsq *q, struct cl_frame *f)
{
    struct cl_frame *after = NULL;
    for (struct cl_frame *g = q->head; g; g = g->next)
        if (!g->owner || g->owner == f->owner)
            after = g;
    if (!after) {
        f->next = q->head;
        q->head = f;
    } else {
        f->next = after->next;
        after->next = f;
    }
    if (!f->next)
        q->tail = f;
    q->bytes += f->len;
    q->count++;
}

struct cl_frame *cl_wsq_pop(struct cl_wsq *q)
{
    struct cl_frame *f = q->head;
    if (!f)
        return NULL;
    q->head = f->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= f->len;
    q->count--;
    f->next = NULL;
    return f;
}

int cl_wsq_write_one(struct cl_wsq *q, struct lws *wsi)
{
    struct cl_frame *f = cl_wsq_pop(q);
    int n;
    if (!f)
        return 0;
    n = lws_write(wsi, cl_frame_payload(f), f->len, f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    free(f);
    if (n < 0)
        return -1;
    if (q->head)
        lws_callback_on_writable(wsi);
    return 0;
}

void cl_wsq_drop_owned(struct cl_wsq *q,
                       void (*dropped)(void *owner, uint64_t start_offset, void *ctx), void *ctx)
{
    struct cl_frame **pp = &q->head, *f;
    q->tail = NULL;
    while ((f = *pp) != NULL) {
        if (!f->owner) {
            q->tail = f;
            pp = &f->next;
            continue;
        }
        *pp = f->next;
        q->bytes -= f->len;
        q->count--;
        if (dropped)
            dropped(f->owner, f->start_offset, ctx);
        free(f);
    }
}

void cl_wsq_disown(struct cl_wsq *q, const void *owner)
{
    for (struct cl_frame *f = q->head; f; f = f->next)
        if (f->owner == owner)
            f->owner = NULL;
}

int cl_ws_send_close(struct lws *wsi, int code, const char *reason)
{
    unsigned char buf[LWS_PRE + 125];
    size_t rl = strlen(reason);
    if (rl > 123)
        rl = 123;
    buf[LWS_PRE] = (unsigned char)((code >> 8) & 0xff);
    buf[LWS_PRE + 1] = (unsigned char)(code & 0xff);
    memcpy(buf + LWS_PRE + 2, reason, rl);
    return lws_write(wsi, buf + LWS_PRE, 2 + rl, (enum lws_write_protocol)4 /* LWS_WRITE_CLOSE */);
}
