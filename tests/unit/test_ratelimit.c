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

/* over/count/add: the pairing limits count failures after the fact and
 * ask before an attempt, without counting it (api_functions.c). */
static void test_count_over_add(void **state)
{
    struct cl_ratelimit *rl = cl_ratelimit_new(2, 60);
    unsigned retry = 0;
    (void)state;
    assert_int_equal(cl_ratelimit_count(rl, "k", 100), 0);
    assert_false(cl_ratelimit_over(rl, "k", 100, &retry));
    /* asking creates nothing and counts nothing */
    assert_int_equal(cl_ratelimit_count(rl, "k", 100), 0);
    assert_true(cl_ratelimit_add(rl, "k", 100));
    assert_int_equal(cl_ratelimit_count(rl, "k", 101), 1);
    assert_false(cl_ratelimit_over(rl, "k", 101, &retry));
    assert_true(cl_ratelimit_add(rl, "k", 110));
    assert_true(cl_ratelimit_over(rl, "k", 120, &retry));
    assert_int_equal(retry, 40);
    /* add counts past the limit (a failure is a failure); hit refuses */
    assert_true(cl_ratelimit_add(rl, "k", 120));
    assert_int_equal(cl_ratelimit_count(rl, "k", 120), 3);
    assert_false(cl_ratelimit_hit(rl, "k", 120, NULL));
    /* the window ends for all of them */
    assert_int_equal(cl_ratelimit_count(rl, "k", 160), 0);
    assert_false(cl_ratelimit_over(rl, "k", 160, NULL));
    assert_int_equal(cl_ratelimit_count(rl, "other", 160), 0);
    cl_ratelimit_free(rl);
}

/* add on a full table reports that it could not record (the caller then
 * cannot call any address clean); count of an unknown key stays 0 */
static void test_add_on_full_table(void **state)
{
    struct cl_ratelimit *rl = cl_ratelimit_new(5, 10);
    char key[32];
    (void)state;
    for (int i = 0; i < CL_RATELIMIT_MAX_KEYS; i++) {
        snprintf(key, sizeof key, "a%d", i);
        assert_true(cl_ratelimit_add(rl, key, 100));
    }
    assert_false(cl_ratelimit_add(rl, "new", 105));
    assert_int_equal(cl_ratelimit_count(rl, "new", 105), 0);
    assert_true(cl_ratelimit_add(rl, "new", 110)); /* expired windows purged */
    cl_ratelimit_free(rl);
}

/* An IPv6 client counts by its /64 (one subscriber's block); IPv4,
 * IPv4-mapped and loopback addresses as they are. */
static void test_addr_key(void **state)
{
    char k[CL_RATELIMIT_KEY_MAX + 1], k2[CL_RATELIMIT_KEY_MAX + 1];
    (void)state;
    cl_ratelimit_addr_key("192.0.2.7", k);
    assert_string_equal(k, "192.0.2.7");
    cl_ratelimit_addr_key("::ffff:192.0.2.7", k);
    assert_string_equal(k, "::ffff:192.0.2.7");
    cl_ratelimit_addr_key("::1", k);
    assert_string_equal(k, "::1");
    cl_ratelimit_addr_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k);
    assert_string_equal(k, "2001:db8:1:2::/64");
    cl_ratelimit_addr_key("2001:db8:1:2::1", k2);
    assert_string_equal(k, k2);
    cl_ratelimit_addr_key("2001:db8:1:3::1", k2);
    assert_string_not_equal(k, k2);
    cl_ratelimit_addr_key("not an address", k);
    assert_string_equal(k, "not an address");
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
        cmocka_unit_test(test_count_over_add),
        cmocka_unit_test(test_add_on_full_table),
        cmocka_unit_test(test_addr_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
