/*
 * Unit tests for src/core/backoff.c: the documented schedule (1 s, 2 s,
 * 4 s, 8 s, 16 s, then 30 s), jitter within 20% and never over the cap,
 * and reset. Jitter is random, so bounds are checked over many runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "core/backoff.h"
#include "core/secret.h"

#define RUNS 300

static const uint32_t schedule[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
#define STEPS (sizeof schedule / sizeof schedule[0])

static void test_schedule_and_jitter(void **state)
{
    struct cl_backoff b;
    uint32_t lo[STEPS], hi[STEPS];
    (void)state;
    for (size_t i = 0; i < STEPS; i++) {
        lo[i] = UINT32_MAX;
        hi[i] = 0;
    }
    for (int r = 0; r < RUNS; r++) {
        cl_backoff_init(&b, 1000, 30000);
        for (size_t i = 0; i < STEPS; i++) {
            uint32_t d = cl_backoff_next(&b);
            uint32_t want_max = schedule[i] + schedule[i] / 5;
            if (want_max > 30000)
                want_max = 30000;
            if (d < schedule[i] || d > want_max)
                print_error("step %zu: %u not in [%u, %u]\n", i, d, schedule[i], want_max);
            assert_in_range(d, schedule[i], want_max);
            if (d < lo[i])
                lo[i] = d;
            if (d > hi[i])
                hi[i] = d;
        }
    }
    /* the jitter is real: below the cap, delays of one step differ, and
     * some reach past the first 10% */
    for (size_t i = 0; i < 5; i++) {
        assert_true(hi[i] > lo[i]);
        assert_true(hi[i] > schedule[i] + schedule[i] / 10);
    }
    /* at the cap every delay is exactly the cap */
    assert_int_equal(lo[STEPS - 1], 30000);
    assert_int_equal(hi[STEPS - 1], 30000);
}

static void test_reset(void **state)
{
    struct cl_backoff b;
    (void)state;
    cl_backoff_init(&b, 1000, 30000);
    for (int i = 0; i < 10; i++)
        cl_backoff_next(&b);
    assert_int_equal(cl_backoff_next(&b), 30000);
    cl_backoff_reset(&b);
    assert_in_range(cl_backoff_next(&b), 1000, 1200);
    assert_in_range(cl_backoff_next(&b), 2000, 2400);
}

static void test_small_cap(void **state)
{
    struct cl_backoff b;
    (void)state;
    /* a cap between steps is reached, not overshot */
    cl_backoff_init(&b, 1000, 1500);
    assert_in_range(cl_backoff_next(&b), 1000, 1200);
    for (int i = 0; i < 20; i++)
        assert_int_equal(cl_backoff_next(&b), 1500);
    /* max below min is raised to min */
    cl_backoff_init(&b, 500, 100);
    for (int i = 0; i < 5; i++)
        assert_int_equal(cl_backoff_next(&b), 500);
}

static void test_never_overflows(void **state)
{
    struct cl_backoff b;
    uint32_t prev = 0;
    (void)state;
    cl_backoff_init(&b, 1000, UINT32_MAX);
    for (int i = 0; i < 64; i++) {
        uint32_t d = cl_backoff_next(&b);
        assert_true(d >= prev || d == UINT32_MAX); /* grows until the cap */
        prev = d;
    }
    assert_true(prev >= UINT32_MAX / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_and_jitter),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_small_cap),
        cmocka_unit_test(test_never_overflows),
    };
    assert_int_equal(cl_secret_init(), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
