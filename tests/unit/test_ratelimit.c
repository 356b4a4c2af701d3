/* Unit tests for src/relay/ratelimit.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay/ratelimit.h"

static void test_allows_up_to_limit_then_refuses(void **state)
{
    struct cl_ratelimit *rl = cl_ratelimit_new(3, 60);
    unsigned retry = 0;
    assert_true(cl_ratelimit_hit(rl, "10.0.0.1", 1000, &retry));
    assert_true(cl_ratelimit_hit(rl, "10.0.0.1", 1001, &retry));
    assert_true(cl_ratelimit_hit(rl, "10.0.0.1", 1002, &retry));
    assert_false(cl_ratelimit_hit(rl, "10.0.0.1", 1010, &retry));
    assert_int_equal(retry, 50);
    /* other keys are independent */
    assert_true(cl_ratelimit_hit(rl, "10.0.0.2", 1010, &retry));
    cl_ratelimit_free(rl);
}

static void test_window_resets(void **state)
{
    struct cl_ratelimit *rl = cl_ratelimit_new(1, 10);
    unsigned retry = 0;
    assert_true(cl_ratelimit_hit(rl, "k", 100, &retry));
    assert_false(cl_ratelimit_hit(rl, "k", 109, &retry));
    assert_int_equal(retry, 1);
    assert_true(cl_ratelimit_hit(rl, "k", 110, &retry));
    cl_ratelimit_free(rl);
}

static void test_full_table_fails_closed_then_purges(void **state)
{
    struct cl_ratelimit *rl = cl_ratelimit_new(5, 10);
    char key[32];
    unsigned retry = 0;
    for (int i = 0; i < CL_RATELIMIT_MAX_KEYS; i++) {
        snprintf(key, sizeof key, "a%d", i);
        assert_true(cl_ratelimit_hit(rl, key, 100, NULL));
    }
    /* a new key while every window is live: refused, not evicting others */
    assert_false(cl_ratelimit_hit(rl, "new", 105, &retry));
    assert_int_equal(retry, 10);
    /* once the windows expire, room is made */
    assert_true(cl_ratelimit_hit(rl, "new", 111, &retry));
    cl_ratelimit_free(rl);
}

static void test_long_keys_are_truncated_consistently(void **state)
{
    struct cl_ratelimit *rl = cl_ratelimit_new(1, 60);
    char a[200], b[200];
    memset(a, 'x', sizeof a - 1);
    a[sizeof a - 1] = 0;
    memcpy(b, a, sizeof b);
    b[150] = 'y'; /* differs only beyond the key bound */
    assert_true(cl_ratelimit_hit(rl, a, 1, NULL));
    assert_false(cl_ratelimit_hit(rl, b, 1, NULL));
    cl_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allows_up_to_limit_then_refuses),
        cmocka_unit_test(test_window_resets),
        cmocka_unit_test(test_full_table_fails_closed_then_purges),
        cmocka_unit_test(test_long_keys_are_truncated_consistently),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
