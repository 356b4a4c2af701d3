/*
 * Unit tests for cl_agent_window_next (agent/session.h): a session's
 * flow-control window doubles while the acks show that the window, not
 * the reader or the link, is what limits the session, and stays put
 * otherwise (decisions 58).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/session.h"

#define MiB (1024u * 1024u)
#define MS  1000000ull /* ns */

/* A long link, window-limited: a whole window acknowledged per round trip
 * of 150 ms, the shortest round trip 150 ms: the path holds a window or
 * more, the window doubles. */
static void test_window_limited_doubles(void **state)
{
    (void)state;
    assert_int_equal(cl_agent_window_next(1 * MiB, 16 * MiB, true, 1 * MiB, 150 * MS, 150 * MS),
                     2 * MiB);
    assert_int_equal(cl_agent_window_next(4 * MiB, 16 * MiB, true, 4 * MiB, 160 * MS, 150 * MS),
                     8 * MiB);
}

/* Never past the maximum; a window at the maximum stays. */
static void test_capped_at_max(void **state)
{
    (void)state;
    assert_int_equal(cl_agent_window_next(12 * MiB, 16 * MiB, true, 12 * MiB, 150 * MS, 150 * MS),
                     16 * MiB);
    assert_int_equal(cl_agent_window_next(16 * MiB, 16 * MiB, true, 16 * MiB, 150 * MS, 150 * MS),
                     16 * MiB);
    /* max == window: a fixed window (--window-max = --window) */
    assert_int_equal(cl_agent_window_next(1 * MiB, 1 * MiB, true, 1 * MiB, 150 * MS, 150 * MS),
                     1 * MiB);
}

/* A slow reader on a short link: the window was full, but the rate times
 * the shortest round trip (2 MB/s x 1 ms) is far below the window; a
 * larger window would only let the program run further ahead. */
static void test_slow_reader_stays(void **state)
{
    (void)state;
    /* 1 MiB acknowledged over 500 ms: 2 MB/s; min rtt 1 ms */
    assert_int_equal(cl_agent_window_next(1 * MiB, 16 * MiB, true, 1 * MiB, 500 * MS, 1 * MS),
                     1 * MiB);
}

/* A full link: 25 MB/s over 150 ms holds 3.75 MB; a window over twice
 * that has a queue in front of it (round trips of 400 ms), and stays. */
static void test_full_link_stays(void **state)
{
    (void)state;
    /* 10 MB over 400 ms = 25 MB/s; x 150 ms = 3.75 MB; 2x = 7.5 MB < 8 MiB */
    assert_int_equal(cl_agent_window_next(8 * MiB, 16 * MiB, true, 10000000, 400 * MS, 150 * MS),
                     8 * MiB);
    /* ... while 4 MiB is still under twice the path and grows */
    assert_int_equal(cl_agent_window_next(4 * MiB, 16 * MiB, true, 5000000, 200 * MS, 150 * MS),
                     8 * MiB);
}

/* The window did not fill (the program wrote little), or nothing was
 * measured: no change. */
static void test_not_limited_or_no_sample(void **state)
{
    (void)state;
    assert_int_equal(cl_agent_window_next(1 * MiB, 16 * MiB, false, 1 * MiB, 150 * MS, 150 * MS),
                     1 * MiB);
    assert_int_equal(cl_agent_window_next(1 * MiB, 16 * MiB, true, 0, 150 * MS, 150 * MS), 1 * MiB);
    assert_int_equal(cl_agent_window_next(1 * MiB, 16 * MiB, true, 1 * MiB, 0, 150 * MS), 1 * MiB);
    assert_int_equal(cl_agent_window_next(1 * MiB, 16 * MiB, true, 1 * MiB, 150 * MS, 0), 1 * MiB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_limited_doubles),   cmocka_unit_test(test_capped_at_max),
        cmocka_unit_test(test_slow_reader_stays),        cmocka_unit_test(test_full_link_stays),
        cmocka_unit_test(test_not_limited_or_no_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
