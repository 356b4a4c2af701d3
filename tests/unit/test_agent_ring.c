/*
 * Unit tests for src/agent/ring.c: the per-session output ring addressed by
 * stream offset — start/end bookkeeping, overwriting the oldest bytes,
 * reads clamped to the oldest byte held, contiguous peeks that stop at the
 * wrap, reading straight into the ring (write_ptr/commit), a capacity that
 * is not a power of two, and a long randomized run against a plain array
 * holding the whole stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/ring.h"
#include "core/err.h"

/* The stream's byte at offset o: a pattern that differs between nearby
 * offsets and between laps of a small ring. */
static uint8_t byte_at(uint64_t o)
{
    return (uint8_t)((o * 131u + (o >> 8) * 7u + 3u) & 0xff);
}

static void append_stream(struct cl_ring *r, size_t n)
{
    uint8_t *tmp = malloc(n ? n : 1);
    assert_non_null(tmp);
    for (size_t i = 0; i < n; i++)
        tmp[i] = byte_at(r->end + i);
    cl_ring_append(r, tmp, n);
    free(tmp);
}

/* Checks that [from, from + n) reads back as the stream. */
static void expect_stream(const struct cl_ring *r, uint64_t from, size_t n)
{
    uint8_t *buf = malloc(n ? n : 1);
    uint64_t at = 0;
    size_t got;

    assert_non_null(buf);
    got = cl_ring_read(r, from, buf, n, &at);
    assert_int_equal(at, from);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf[i], byte_at(from + i));
    free(buf);
}

static void test_init_and_free(void **state)
{
    struct cl_ring r;
    (void)state;

    assert_int_equal(cl_ring_init(&r, 0), CL_EINVAL);
    assert_null(r.buf);
    cl_ring_free(&r); /* safe on a failed init */

    assert_int_equal(cl_ring_init(&r, 100), 0);
    assert_non_null(r.buf);
    assert_int_equal(r.cap, 100);
    assert_int_equal(r.start, 0);
    assert_int_equal(r.end, 0);
    assert_int_equal(cl_ring_len(&r), 0);
    cl_ring_free(&r);
    assert_null(r.buf);
    cl_ring_free(&r); /* twice is fine */
}

static void test_append_within_capacity(void **state)
{
    struct cl_ring r;
    (void)state;

    assert_int_equal(cl_ring_init(&r, 100), 0);
    append_stream(&r, 30);
    append_stream(&r, 40);
    assert_int_equal(r.start, 0);
    assert_int_equal(r.end, 70);
    assert_int_equal(cl_ring_len(&r), 70);
    expect_stream(&r, 0, 70);
    expect_stream(&r, 25, 10);
    append_stream(&r, 30); /* exactly full */
    assert_int_equal(r.start, 0);
    assert_int_equal(r.end, 100);
    expect_stream(&r, 0, 100);
    cl_ring_free(&r);
}

static void test_overwrite_moves_start(void **state)
{
    struct cl_ring r;
    (void)state;

    assert_int_equal(cl_ring_init(&r, 100), 0);
    append_stream(&r, 90);
    append_stream(&r, 25); /* wraps; 15 oldest bytes gone */
    assert_int_equal(r.end, 115);
    assert_int_equal(r.start, 15);
    assert_int_equal(cl_ring_len(&r), 100);
    expect_stream(&r, 15, 100);
    append_stream(&r, 250); /* more than the capacity in one append */
    assert_int_equal(r.end, 365);
    assert_int_equal(r.start, 265);
    expect_stream(&r, 265, 100);
    cl_ring_free(&r);
}

static void test_read_clamps_to_start_and_end(void **state)
{
    struct cl_ring r;
    uint8_t buf[200];
    uint64_t at = 999;
    (void)state;

    assert_int_equal(cl_ring_init(&r, 100), 0);
    /* empty ring: nothing, from offset 0 */
    assert_int_equal(cl_ring_read(&r, 0, buf, sizeof buf, &at), 0);
    assert_int_equal(at, 0);

    append_stream(&r, 130); /* holds [30, 130) */
    /* an overwritten offset reads from the oldest byte held */
    assert_int_equal(cl_ring_read(&r, 0, buf, sizeof buf, &at), 100);
    assert_int_equal(at, 30);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(buf[i], byte_at(30 + i));
    /* max limits the count */
    assert_int_equal(cl_ring_read(&r, 50, buf, 7, &at), 7);
    assert_int_equal(at, 50);
    assert_int_equal(buf[0], byte_at(50));
    /* at or past end: nothing */
    assert_int_equal(cl_ring_read(&r, 130, buf, sizeof buf, &at), 0);
    assert_int_equal(at, 130);
    assert_int_equal(cl_ring_read(&r, 500, buf, sizeof buf, &at), 0);
    /* max 0 */
    assert_int_equal(cl_ring_read(&r, 40, buf, 0, &at), 0);
    cl_ring_free(&r);
}

static void test_peek_is_contiguous(void **state)
{
    struct cl_ring r;
    const uint8_t *p;
    uint64_t at;
    size_t n;
    (void)state;

    assert_int_equal(cl_ring_init(&r, 100), 0);
    append_stream(&r, 150); /* holds [50, 150); offset 100 is at buf[0] */
    n = cl_ring_peek(&r, 60, 1000, &p, &at);
    assert_int_equal(at, 60);
    assert_int_equal(n, 40); /* stops at the wrap (offset 100) */
    assert_ptr_equal(p, r.buf + 60);
    assert_int_equal(p[0], byte_at(60));
    n = cl_ring_peek(&r, 100, 1000, &p, &at);
    assert_int_equal(n, 50);
    assert_ptr_equal(p, r.buf);
    n = cl_ring_peek(&r, 120, 10, &p, &at);
    assert_int_equal(n, 10);
    assert_int_equal(p[9], byte_at(129));
    /* before start: from start */
    n = cl_ring_peek(&r, 3, 5, &p, &at);
    assert_int_equal(at, 50);
    assert_int_equal(n, 5);
    assert_int_equal(p[0], byte_at(50));
    /* at end */
    n = cl_ring_peek(&r, 150, 10, &p, &at);
    assert_int_equal(n, 0);
    assert_int_equal(at, 150);
    cl_ring_free(&r);
}

static void test_write_ptr_and_commit(void **state)
{
    struct cl_ring r;
    uint8_t *w;
    size_t room;
    (void)state;

    assert_int_equal(cl_ring_init(&r, 100), 0);
    w = cl_ring_write_ptr(&r, &room);
    assert_ptr_equal(w, r.buf);
    assert_int_equal(room, 100);
    for (size_t i = 0; i < 70; i++)
        w[i] = byte_at(i);
    cl_ring_commit(&r, 70);
    assert_int_equal(r.end, 70);
    assert_int_equal(r.start, 0);

    w = cl_ring_write_ptr(&r, &room);
    assert_ptr_equal(w, r.buf + 70);
    assert_int_equal(room, 30); /* up to the wrap */
    for (size_t i = 0; i < 30; i++)
        w[i] = byte_at(70 + i);
    cl_ring_commit(&r, 30);
    assert_int_equal(r.start, 0);

    w = cl_ring_write_ptr(&r, &room);
    assert_ptr_equal(w, r.buf);
    assert_int_equal(room, 100);
    for (size_t i = 0; i < 20; i++)
        w[i] = byte_at(100 + i);
    cl_ring_commit(&r, 20);
    assert_int_equal(r.end, 120);
    assert_int_equal(r.start, 20);
    expect_stream(&r, 20, 100);

    /* a short commit (the read returned less than the room) */
    w = cl_ring_write_ptr(&r, &room);
    assert_int_equal(room, 80);
    w[0] = byte_at(120);
    cl_ring_commit(&r, 1);
    assert_int_equal(r.end, 121);
    assert_int_equal(r.start, 21);
    expect_stream(&r, 21, 100);
    cl_ring_free(&r);
}

/* Random appends, write_ptr commits, peeks and reads over many laps of a
 * ring whose size is not a power of two, checked against the stream. */
static void test_randomized_against_model(void **state)
{
    static const size_t caps[] = {1, 7, 97, 4096, 65536 + 17};
    uint8_t *buf = malloc(70000);
    (void)state;

    assert_non_null(buf);
    srand(12345);
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        struct cl_ring r;
        size_t cap = caps[c];

        assert_int_equal(cl_ring_init(&r, cap), 0);
        for (int step = 0; step < 3000; step++) {
            int op = rand() % 3;
            size_t n = (size_t)rand() % (cap * 2 + 3);
            if (op == 0) {
                append_stream(&r, n);
            } else if (op == 1) {
                size_t room;
                uint8_t *w = cl_ring_write_ptr(&r, &room);
                assert_true(room >= 1 && room <= cap);
                if (n > room)
                    n = room;
                for (size_t i = 0; i < n; i++)
                    w[i] = byte_at(r.end + i);
                cl_ring_commit(&r, n);
            } else {
                uint64_t from = r.end ? (uint64_t)rand() % (r.end + 1) : 0;
                uint64_t at;
                size_t max = (size_t)rand() % (cap + 5), got;
                const uint8_t *p;
                uint64_t want_at = from < r.start ? r.start : from;
                size_t avail = (size_t)(r.end - want_at);
                if (max > 70000)
                    max = 70000;

                got = cl_ring_read(&r, from, buf, max, &at);
                assert_int_equal(at, want_at);
                assert_int_equal(got, avail < max ? avail : max);
                for (size_t i = 0; i < got; i++)
                    assert_int_equal(buf[i], byte_at(at + i));

                got = cl_ring_peek(&r, from, max, &p, &at);
                assert_int_equal(at, want_at);
                assert_true(got <= max && got <= avail);
                assert_true(got > 0 || max == 0 || avail == 0);
                for (size_t i = 0; i < got; i++)
                    assert_int_equal(p[i], byte_at(at + i));
            }
            /* invariants */
            assert_true(r.start <= r.end);
            assert_true(r.end - r.start <= cap);
            assert_true(r.end - r.start == cap || r.start == 0);
        }
        cl_ring_free(&r);
    }
    free(buf);
}

/* Growing keeps every byte held at its offset, whether the old ring had
 * wrapped or not, and the grown ring keeps working as a ring. */
static void test_grow_keeps_bytes(void **state)
{
    (void)state;
    for (size_t fill = 0; fill < 40; fill += 7) {
        struct cl_ring r;
        assert_int_equal(cl_ring_init(&r, 10), 0);
        append_stream(&r, 23 + fill); /* wrapped at least twice */
        uint64_t start = r.start, end = r.end;
        assert_int_equal(cl_ring_grow(&r, 9), CL_EINVAL);
        assert_int_equal(cl_ring_grow(&r, 10), 0);
        assert_int_equal(cl_ring_grow(&r, 27), 0);
        assert_int_equal(r.cap, 27);
        assert_int_equal(r.start, start);
        assert_int_equal(r.end, end);
        expect_stream(&r, start, (size_t)(end - start));
        append_stream(&r, 50); /* wraps the new capacity */
        assert_int_equal(cl_ring_len(&r), 27);
        expect_stream(&r, r.start, 27);
        cl_ring_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_free),
        cmocka_unit_test(test_append_within_capacity),
        cmocka_unit_test(test_overwrite_moves_start),
        cmocka_unit_test(test_read_clamps_to_start_and_end),
        cmocka_unit_test(test_peek_is_contiguous),
        cmocka_unit_test(test_write_ptr_and_commit),
        cmocka_unit_test(test_randomized_against_model),
        cmocka_unit_test(test_grow_keeps_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
