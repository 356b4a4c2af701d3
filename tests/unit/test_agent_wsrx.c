/*
 * Unit tests for src/agent/wsrx.c: a whole message in one piece is handed
 * up without a copy; pieces are joined in order; a message past the cap is
 * refused once and its rest dropped, the next one taken; binary messages
 * are dropped whole when asked; a large buffer is freed after its message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/wsrx.h"

static void test_one_piece_is_not_copied(void **state)
{
    struct cl_wsrx rx;
    const void *msg = NULL;
    size_t n = 0;
    static const char in[] = "{\"type\":\"ping\"}";
    (void)state;
    cl_wsrx_init(&rx, 64, 32);
    assert_int_equal(cl_wsrx_feed(&rx, true, true, false, false, in, sizeof in - 1, &msg, &n),
                     CL_WSRX_MESSAGE);
    assert_ptr_equal(msg, in);
    assert_int_equal(n, sizeof in - 1);
    assert_null(rx.buf);
    cl_wsrx_free(&rx);
}

static void test_pieces_are_joined(void **state)
{
    struct cl_wsrx rx;
    const void *msg = NULL;
    size_t n = 0;
    (void)state;
    cl_wsrx_init(&rx, 64, 32);
    assert_int_equal(cl_wsrx_feed(&rx, true, false, false, false, "abc", 3, &msg, &n),
                     CL_WSRX_MORE);
    assert_int_equal(cl_wsrx_feed(&rx, false, false, false, false, "def", 3, &msg, &n),
                     CL_WSRX_MORE);
    assert_int_equal(cl_wsrx_feed(&rx, false, true, false, false, "g", 1, &msg, &n),
                     CL_WSRX_MESSAGE);
    assert_int_equal(n, 7);
    assert_memory_equal(msg, "abcdefg", 7);
    cl_wsrx_free(&rx);
}

static void test_too_big_is_refused_once_and_the_rest_dropped(void **state)
{
    struct cl_wsrx rx;
    char big[40];
    const void *msg = NULL;
    size_t n = 0;
    (void)state;
    memset(big, 'x', sizeof big);
    cl_wsrx_init(&rx, 64, 32);
    assert_int_equal(cl_wsrx_feed(&rx, true, false, false, false, big, 40, &msg, &n), CL_WSRX_MORE);
    /* 40 + 40 > 64: refused, and what was kept is let go */
    assert_int_equal(cl_wsrx_feed(&rx, false, false, false, false, big, 40, &msg, &n),
                     CL_WSRX_TOO_BIG);
    assert_int_equal(rx.len, 0);
    assert_int_equal(cl_wsrx_feed(&rx, false, false, false, false, big, 40, &msg, &n),
                     CL_WSRX_SKIPPED);
    assert_int_equal(cl_wsrx_feed(&rx, false, true, false, false, big, 1, &msg, &n),
                     CL_WSRX_SKIPPED);
    /* the next message is taken */
    assert_int_equal(cl_wsrx_feed(&rx, true, true, false, false, "ok", 2, &msg, &n),
                     CL_WSRX_MESSAGE);
    assert_memory_equal(msg, "ok", 2);
    /* one piece over the cap, final: refused, nothing left to drop */
    char huge[65];
    memset(huge, 'y', sizeof huge);
    assert_int_equal(cl_wsrx_feed(&rx, true, true, false, false, huge, 65, &msg, &n),
                     CL_WSRX_TOO_BIG);
    assert_false(rx.skip);
    /* exactly the cap is fine */
    assert_int_equal(cl_wsrx_feed(&rx, true, true, false, false, huge, 64, &msg, &n),
                     CL_WSRX_MESSAGE);
    cl_wsrx_free(&rx);
}

static void test_binary_dropped_when_asked(void **state)
{
    struct cl_wsrx rx;
    const void *msg = NULL;
    size_t n = 0;
    (void)state;
    cl_wsrx_init(&rx, 64, 32);
    assert_int_equal(cl_wsrx_feed(&rx, true, false, true, true, "\x01\x02", 2, &msg, &n),
                     CL_WSRX_SKIPPED);
    assert_int_equal(cl_wsrx_feed(&rx, false, true, true, true, "\x03", 1, &msg, &n),
                     CL_WSRX_SKIPPED);
    assert_int_equal(cl_wsrx_feed(&rx, true, true, true, false, "\x01", 1, &msg, &n),
                     CL_WSRX_MESSAGE);
    assert_true(rx.binary);
    cl_wsrx_free(&rx);
}

static void test_big_buffer_freed_after_reset(void **state)
{
    struct cl_wsrx rx;
    char part[48];
    const void *msg = NULL;
    size_t n = 0;
    (void)state;
    memset(part, 'z', sizeof part);
    cl_wsrx_init(&rx, 4096, 32);
    for (int i = 0; i < 10; i++)
        assert_int_equal(cl_wsrx_feed(&rx, i == 0, false, false, false, part, 48, &msg, &n),
                         CL_WSRX_MORE);
    assert_int_equal(cl_wsrx_feed(&rx, false, true, false, false, part, 48, &msg, &n),
                     CL_WSRX_MESSAGE);
    assert_int_equal(n, 11 * 48);
    assert_true(rx.cap > 32);
    cl_wsrx_reset(&rx);
    assert_null(rx.buf);
    assert_int_equal(rx.cap, 0);
    cl_wsrx_free(&rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_piece_is_not_copied),
        cmocka_unit_test(test_pieces_are_joined),
        cmocka_unit_test(test_too_big_is_refused_once_and_the_rest_dropped),
        cmocka_unit_test(test_binary_dropped_when_asked),
        cmocka_unit_test(test_big_buffer_freed_after_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
