/*
 * Unit tests for src/relay/inq.c, a session's input queue: messages leave
 * whole and in order, in pieces of any size; owners are remembered per
 * message and forgotten when they close; admission is all or nothing
 * (a sender within its own window always fits, the shared room holds the
 * rest, nothing is ever admitted in part); clear frees everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <string.h>

#include "relay/inq.h"

static int A, B; /* owners: only their addresses are used */

static void test_admit(void **state)
{
    (void)state;
    /* within the sender's own window: always, whatever is queued */
    assert_true(cl_inq_admit(1000, 0, 100, 500, 100));
    assert_true(cl_inq_admit(1000, 50, 50, 500, 100));
    /* over its window: only if the shared room holds it whole */
    assert_false(cl_inq_admit(1000, 50, 51, 500, 100));
    assert_true(cl_inq_admit(400, 50, 100, 500, 100));
    assert_false(cl_inq_admit(401, 50, 100, 500, 100));
    /* a message larger than both is never admitted, not even in part */
    assert_false(cl_inq_admit(0, 0, 501, 500, 100));
    /* many tiny messages cost what they hold in memory: 1 MiB of 1-byte
     * messages does not fit an allowance of 2 MiB */
    {
        size_t own = 0, i = 0;
        while (cl_inq_admit(own, own, 1 + CL_INQ_MSG_COST, 0, 2 << 20))
            own += 1 + CL_INQ_MSG_COST, i++;
        assert_int_equal(i, (2 << 20) / (1 + CL_INQ_MSG_COST));
    }
    /* no overflow at the edges */
    assert_false(cl_inq_admit(SIZE_MAX, SIZE_MAX, SIZE_MAX, 500, 100));
    assert_false(cl_inq_admit(SIZE_MAX - 1, SIZE_MAX - 1, 2, 500, 100));
}

static void test_order_and_pieces(void **state)
{
    struct cl_inq q = {0};
    uint8_t out[64];
    size_t got = 0;
    const uint8_t *p;
    void *owner;
    size_t n;
    (void)state;

    assert_int_equal(cl_inq_peek(&q, &p, &owner), 0);
    cl_inq_push(&q, &A, (const uint8_t *)"hello ", 6);
    cl_inq_push(&q, &B, (const uint8_t *)"world", 5);
    cl_inq_push(&q, &A, (const uint8_t *)"!", 1);
    assert_int_equal(q.bytes, 12);
    assert_int_equal(q.cost, 12 + 3 * CL_INQ_MSG_COST);
    /* take in pieces of 4: the owners come in message order */
    n = cl_inq_peek(&q, &p, &owner);
    assert_int_equal(n, 6);
    assert_ptr_equal(owner, &A);
    memcpy(out + got, p, 4);
    got += 4;
    assert_false(cl_inq_take(&q, 4)); /* part of a message */
    assert_int_equal(q.cost, 8 + 3 * CL_INQ_MSG_COST);
    n = cl_inq_peek(&q, &p, &owner);
    assert_int_equal(n, 2);
    assert_ptr_equal(owner, &A);
    memcpy(out + got, p, n);
    got += n;
    assert_true(cl_inq_take(&q, n)); /* its rest: the message's cost goes too */
    assert_int_equal(q.cost, 6 + 2 * CL_INQ_MSG_COST);
    n = cl_inq_peek(&q, &p, &owner);
    assert_int_equal(n, 5);
    assert_ptr_equal(owner, &B);
    memcpy(out + got, p, n);
    got += n;
    cl_inq_take(&q, n);
    assert_int_equal(q.bytes, 1);
    n = cl_inq_peek(&q, &p, &owner);
    memcpy(out + got, p, n);
    got += n;
    cl_inq_take(&q, n);
    assert_int_equal(q.bytes, 0);
    assert_int_equal(q.cost, 0);
    assert_int_equal(cl_inq_peek(&q, &p, &owner), 0);
    assert_memory_equal(out, "hello world!", 12);
    assert_int_equal(got, 12);
    /* usable again after it emptied */
    cl_inq_push(&q, &B, (const uint8_t *)"x", 1);
    assert_int_equal(cl_inq_peek(&q, &p, &owner), 1);
    cl_inq_clear(&q);
}

static void test_disown_and_clear(void **state)
{
    struct cl_inq q = {0};
    const uint8_t *p;
    void *owner;
    uint8_t big[4096];
    (void)state;

    memset(big, 'z', sizeof big);
    for (int i = 0; i < 100; i++)
        cl_inq_push(&q, i % 2 ? (void *)&A : (void *)&B, big, sizeof big);
    assert_int_equal(q.bytes, 100 * sizeof big);
    cl_inq_disown(&q, &A);
    for (int i = 0; i < 100; i++) {
        size_t n = cl_inq_peek(&q, &p, &owner);
        assert_int_equal(n, sizeof big);
        assert_ptr_equal(owner, i % 2 ? NULL : (void *)&B); /* the bytes stay, the owner goes */
        cl_inq_take(&q, n);
        if (i == 50)
            break;
    }
    cl_inq_clear(&q); /* frees the rest (LeakSanitizer checks) */
    assert_int_equal(q.bytes, 0);
    assert_int_equal(q.cost, 0);
    assert_null(q.head);
    assert_int_equal(cl_inq_peek(&q, &p, &owner), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admit),
        cmocka_unit_test(test_order_and_pieces),
        cmocka_unit_test(test_disown_and_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
