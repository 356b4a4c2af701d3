/*
 * ring: a session's most recent output, addressed by stream offset.
 *
 * A fixed-capacity byte ring that remembers where it is in the session's
 * output stream: `start` is the offset of the oldest byte it still holds,
 * `end` the offset just after the newest (= bytes produced so far). Appending
 * past the capacity overwrites the oldest bytes and moves `start` forward.
 * Anything in [start, end) can be read again, which is what makes `replay`
 * and lossless resume possible. The capacity need not be a power of two.
 *
 * Not thread-safe; no allocation after cl_ring_init except by cl_ring_grow
 * (a session whose flow-control window grows past the ring: session.h).
 */
#ifndef CL_AGENT_RING_H
#define CL_AGENT_RING_H

#include <stddef.h>
#include <stdint.h>

/* Bounds of --ring-size (bytes), and its default. */
#define CL_RING_MIN     (64 * 1024)
#define CL_RING_MAX     (256 * 1024 * 1024)
#define CL_RING_DEFAULT (2 * 1024 * 1024)

struct cl_ring {
    uint8_t *buf;
    size_t cap;
    uint64_t start; /* offset of the oldest byte held */
    uint64_t end;   /* offset after the newest byte: bytes produced */
};

/* Allocates cap bytes (1..SIZE_MAX; the --ring-size bounds are the
 * caller's) for an empty ring at offset 0. Returns 0, CL_EINVAL (cap 0) or
 * CL_ENOMEM; on failure *r is zeroed and safe to cl_ring_free. */
int cl_ring_init(struct cl_ring *r, size_t cap);

/* Grows the capacity to cap bytes, keeping every byte held at its offset
 * (a new buffer; pointers from cl_ring_peek/write_ptr become invalid).
 * Returns 0 (also when cap is the capacity already), CL_EINVAL for a cap
 * below it, or CL_ENOMEM, leaving the ring as it was. */
int cl_ring_grow(struct cl_ring *r, size_t cap);

/* Frees the buffer; *r is zeroed. Safe on a zeroed or freed ring. */
void cl_ring_free(struct cl_ring *r);

/* Bytes held: end - start (at most cap). */
static inline size_t cl_ring_len(const struct cl_ring *r)
{
    return (size_t)(r->end - r->start);
}

/* Appends n bytes, overwriting the oldest as needed; with n > cap only the
 * last cap bytes are kept, but end still advances by n. */
void cl_ring_append(struct cl_ring *r, const void *p, size_t n);

/* Where the next byte goes, for reading straight into the ring (one copy
 * less on the hot path): returns a pointer to the contiguous space at the
 * write position and its length in *room (1..cap). Writing there
 * overwrites the oldest bytes, which are only given up by cl_ring_commit. */
uint8_t *cl_ring_write_ptr(struct cl_ring *r, size_t *room);

/* Accounts n bytes (at most the room cl_ring_write_ptr gave) as written at
 * the write position: end += n, start follows if the ring was full. */
void cl_ring_commit(struct cl_ring *r, size_t n);

/* The contiguous bytes from max(offset, start): sets *p to them and *at to
 * their offset, and returns their count (at most max; less where the
 * buffer wraps; 0 if offset >= end). Valid until the next append/commit. */
size_t cl_ring_peek(const struct cl_ring *r, uint64_t offset, size_t max, const uint8_t **p,
                    uint64_t *at);

/* Copies up to max bytes from max(offset, start) into dst, across the wrap;
 * sets *at to the offset of the first byte copied and returns the count. */
size_t cl_ring_read(const struct cl_ring *r, uint64_t offset, void *dst, size_t max, uint64_t *at);

#endif
