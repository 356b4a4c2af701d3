/*
 * ring: offset-addressed byte ring. Offset o lives at buf[o % cap]; start
 * and end only grow, so positions never need resetting and a 64-bit offset
 * does not wrap in any session's lifetime.
 */
#include "agent/ring.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

int cl_ring_init(struct cl_ring *r, size_t cap)
{
    memset(r, 0, sizeof *r);
    if (cap == 0)
        return CL_EINVAL;
    r->buf = malloc(cap);
    if (!r->buf)
        return CL_ENOMEM;
    r->cap = cap;
    return 0;
}

void cl_ring_free(struct cl_ring *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

uint8_t *cl_ring_write_ptr(struct cl_ring *r, size_t *room)
{
    size_t pos = (size_t)(r->end % r->cap);
    *room = r->cap - pos;
    return r->buf + pos;
}

void cl_ring_commit(struct cl_ring *r, size_t n)
{
    r->end += n;
    if (r->end - r->start > r->cap)
        r->start = r->end - r->cap;
}

void cl_ring_append(struct cl_ring *r, const void *p, size_t n)
{
    const uint8_t *src = p;
    size_t room;

    if (n > r->cap) {
        /* Only the tail survives; skip what would be overwritten anyway. */
        r->end += n - r->cap;
        src += n - r->cap;
        n = r->cap;
    }
    while (n) {
        uint8_t *dst = cl_ring_write_ptr(r, &room);
        size_t k = n < room ? n : room;
        memcpy(dst, src, k);
        cl_ring_commit(r, k);
        src += k;
        n -= k;
    }
}

size_t cl_ring_peek(const struct cl_ring *r, uint64_t offset, size_t max, const uint8_t **p,
                    uint64_t *at)
{
    size_t pos, n;

    if (offset < r->start)
        offset = r->start;
    *at = offset;
    *p = NULL;
    if (offset >= r->end || r->cap == 0)
        return 0;
    pos = (size_t)(offset % r->cap);
    n = r->cap - pos; /* up to the wrap */
    if ((uint64_t)n > r->end - offset)
        n = (size_t)(r->end - offset);
    if (n > max)
        n = max;
    *p = r->buf + pos;
    return n;
}

size_t cl_ring_read(const struct cl_ring *r, uint64_t offset, void *dst, size_t max, uint64_t *at)
{
    uint8_t *out = dst;
    const uint8_t *p;
    size_t total = 0, n;
    uint64_t pos;

    n = cl_ring_peek(r, offset, max, &p, at);
    pos = *at;
    while (n) {
        memcpy(out + total, p, n);
        total += n;
        pos += n;
        n = cl_ring_peek(r, pos, max - total, &p, &pos);
    }
    return total;
}

int cl_ring_grow(struct cl_ring *r, size_t cap)
{
    uint8_t *nb;
    uint64_t o;

    if (cap <= r->cap)
        return cap == r->cap ? 0 : CL_EINVAL;
    nb = malloc(cap);
    if (!nb)
        return CL_ENOMEM;
    /* offset o moves from buf[o % old cap] to nb[o % cap]: in at most four
     * contiguous pieces (where either ring wraps), copied piece by piece */
    for (o = r->start; o < r->end;) {
        size_t from = (size_t)(o % r->cap), to = (size_t)(o % cap);
        size_t k = (size_t)(r->end - o);
        if (k > r->cap - from)
            k = r->cap - from;
        if (k > cap - to)
            k = cap - to;
        memcpy(nb + to, r->buf + from, k);
        o += k;
    }
    free(r->buf);
    r->buf = nb;
    r->cap = cap;
    return 0;
}
