/*
 * inq: a session's input queue in the relay (input flow control,
 * docs/protocol.md "Input flow control").
 *
 * Stdin a viewer sent that the agent's window cannot take yet waits here,
 * in arrival order, as chunks that remember which connection sent them
 * (the owner, an opaque pointer: the hub credits the owner as its bytes
 * leave, and disowns a connection when it closes). A message is admitted
 * whole or not at all (cl_inq_admit); once in, it leaves in order, in as
 * many pieces as the agent's window takes. Memory: the bytes queued plus
 * one small header per message; the hub bounds the cost (bytes plus
 * CL_INQ_MSG_COST per message), so many tiny messages cannot hold more
 * memory than few large ones.
 */
#ifndef CL_RELAY_INQ_H
#define CL_RELAY_INQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What one queued message costs beyond its bytes (its header and the
 * allocator's), counted against the limits. */
#define CL_INQ_MSG_COST 64

struct cl_inq_chunk;

struct cl_inq {
    struct cl_inq_chunk *head, *tail;
    size_t bytes; /* queued, not yet taken */
    size_t cost;  /* bytes + CL_INQ_MSG_COST per message not wholly taken */
};

/* Whether a message costing n (its bytes + CL_INQ_MSG_COST) from a
 * sender whose queued messages cost own may be queued when the session's
 * queue costs total: it fits the sender's own allowance (own + n <=
 * per_sender), or the shared room (total + n <= shared). A sender within
 * its allowance is so never refused, whatever the others queued;
 * everything stays below shared + per_sender for each sender. */
bool cl_inq_admit(size_t total, size_t own, size_t n, size_t shared, size_t per_sender);

/* Appends a copy of p[0..n) sent by owner (n > 0). Aborts on out of
 * memory (the caller bounded n). */
void cl_inq_push(struct cl_inq *q, void *owner, const uint8_t *p, size_t n);

/* The oldest bytes not yet taken, contiguous (one message's rest): sets
 * *p and *owner (NULL once disowned) and returns their count, 0 if the
 * queue is empty. Valid until the next push, take or clear. */
size_t cl_inq_peek(const struct cl_inq *q, const uint8_t **p, void **owner);

/* Takes the first n bytes peek returned (n <= that count). Returns true
 * when that was the rest of a message (its CL_INQ_MSG_COST is released). */
bool cl_inq_take(struct cl_inq *q, size_t n);

/* Forgets owner (it closed): its queued bytes stay and leave in order. */
void cl_inq_disown(struct cl_inq *q, const void *owner);

/* Frees everything; the queue is empty and usable afterwards. */
void cl_inq_clear(struct cl_inq *q);

#endif
