/* inq: a session's input queue in the relay (see inq.h). */
#include "relay/inq.h"

#include <stdlib.h>
#include <string.h>

struct cl_inq_chunk {
    struct cl_inq_chunk *next;
    void *owner;
    size_t len, off; /* data[off, len) is still to be taken */
    uint8_t data[];
};

bool cl_inq_admit(size_t total, size_t own, size_t n, size_t shared, size_t per_sender)
{
    if (n <= per_sender && own <= per_sender - n)
        return true;
    return n <= shared && total <= shared - n;
}

void cl_inq_push(struct cl_inq *q, void *owner, const uint8_t *p, size_t n)
{
    struct cl_inq_chunk *c = malloc(sizeof *c + n);
    if (!c)
        abort();
    c->next = NULL;
    c->owner = owner;
    c->len = n;
    c->off = 0;
    memcpy(c->data, p, n);
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->bytes += n;
    q->cost += n + CL_INQ_MSG_COST;
}

size_t cl_inq_peek(const struct cl_inq *q, const uint8_t **p, void **owner)
{
    const struct cl_inq_chunk *c = q->head;
    if (!c) {
        *p = NULL;
        *owner = NULL;
        return 0;
    }
    *p = c->data + c->off;
    *owner = c->owner;
    return c->len - c->off;
}

bool cl_inq_take(struct cl_inq *q, size_t n)
{
    struct cl_inq_chunk *c = q->head;
    if (!c || n > c->len - c->off)
        abort(); /* a caller bug: more than peek returned */
    c->off += n;
    q->bytes -= n;
    q->cost -= n;
    if (c->off < c->len)
        return false;
    q->cost -= CL_INQ_MSG_COST;
    q->head = c->next;
    if (!q->head)
        q->tail = NULL;
    free(c);
    return true;
}

void cl_inq_disown(struct cl_inq *q, const void *owner)
{
    for (struct cl_inq_chunk *c = q->head; c; c = c->next)
        if (c->owner == owner)
            c->owner = NULL;
}

void cl_inq_clear(struct cl_inq *q)
{
    struct cl_inq_chunk *c = q->head, *next;
    for (; c; c = next) {
        next = c->next;
        free(c);
    }
    q->head = q->tail = NULL;
    q->bytes = q->cost = 0;
}
