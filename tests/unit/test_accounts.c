/* Unit tests for src/relay/accounts.c: the account routes' rate limits
 * (per address, per address and account, account-wide with a fresh-address
 * pass), driven with explicit times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/limits.h"
#include "relay/accounts.h"
#include "relay/relay.h"

static struct cl_accounts *accounts(void)
{
    static struct cl_relay_opts o;
    memset(&o, 0, sizeof o);
    snprintf(o.listen_addr, sizeof o.listen_addr, "127.0.0.1");
    o.port = 8080;
    snprintf(o.data_dir, sizeof o.data_dir, "/nonexistent");
    return cl_accounts_new(&o);
}

static bool login(struct cl_accounts *a, const char *peer, const char *email, int64_t now)
{
    unsigned retry = 0;
    bool ok = cl_accounts_rate_ok(a, CL_RATE_LOGIN, peer, email, now, &retry);
    if (!ok)
        assert_true(retry >= 1 && retry <= CL_AUTH_RATE_WINDOW_S);
    return ok;
}

/* A stranger who uses up their tries against victim@ stops only
 * themselves: the owner at another address signs in. */
static void test_stranger_does_not_lock_out_the_owner(void **state)
{
    struct cl_accounts *a = accounts();
    (void)state;
    for (int i = 0; i < CL_LOGIN_RATE_PER_ADDR_ACCOUNT; i++)
        assert_true(login(a, "198.51.100.7", "victim@example.com", 1000));
    assert_false(login(a, "198.51.100.7", "victim@example.com", 1001));
    assert_true(login(a, "203.0.113.9", "victim@example.com", 1001));
    /* the stranger may still try other accounts (up to its address limit) */
    assert_true(login(a, "198.51.100.7", "other@example.com", 1001));
    /* and the window ends */
    assert_true(login(a, "198.51.100.7", "victim@example.com", 1000 + CL_AUTH_RATE_WINDOW_S));
    cl_accounts_free(a);
}

/* Over the account-wide ceiling, an address that already tried this
 * account in its window waits; a fresh one (the owner's) still gets in. */
static void test_account_ceiling_spares_a_fresh_address(void **state)
{
    struct cl_accounts *a = accounts();
    char peer[64];
    int n = 0;
    (void)state;
    /* addresses that each try half of what they may: the account fills */
    for (int i = 0; n < CL_LOGIN_RATE_PER_ACCOUNT; i++) {
        snprintf(peer, sizeof peer, "10.0.%d.%d", i / 250, i % 250 + 1);
        for (int k = 0; k < CL_LOGIN_RATE_PER_ADDR_ACCOUNT / 2 && n < CL_LOGIN_RATE_PER_ACCOUNT;
             k++) {
            assert_true(login(a, peer, "victim@example.com", 2000));
            n++;
        }
    }
    /* 10.0.0.1 has room of its own, but has tried and the account is over
     * its ceiling: it waits; other accounts are not affected */
    assert_false(login(a, "10.0.0.1", "victim@example.com", 2001));
    assert_true(login(a, "10.0.9.9", "someone@example.com", 2001));
    /* a fresh address gets one try, then waits like the others */
    assert_true(login(a, "192.0.2.50", "victim@example.com", 2001));
    assert_false(login(a, "192.0.2.50", "victim@example.com", 2002));
    /* the owner, fresh: in */
    assert_true(login(a, "203.0.113.9", "victim@example.com", 2002));
    cl_accounts_free(a);
}

/* An address that used up one address's tries in a window (over
 * CL_LOGIN_RATE_PER_ADDR across accounts) is refused whatever it asks. */
static void test_per_address_limit(void **state)
{
    struct cl_accounts *a = accounts();
    char email[64];
    (void)state;
    for (int i = 0; i < CL_LOGIN_RATE_PER_ADDR; i++) {
        snprintf(email, sizeof email, "u%d@example.com", i);
        assert_true(login(a, "198.51.100.1", email, 3000));
    }
    assert_false(login(a, "198.51.100.1", "fresh@example.com", 3001));
    assert_false(login(a, "198.51.100.1", NULL, 3001));
    /* one IPv6 /64 is one address */
    for (int i = 0; i < CL_LOGIN_RATE_PER_ADDR; i++) {
        snprintf(email, sizeof email, "2001:db8:0:1::%x", i + 1);
        assert_true(login(a, email, NULL, 3000));
    }
    assert_false(login(a, "2001:db8:0:1::ffff", NULL, 3001));
    assert_true(login(a, "2001:db8:0:2::1", NULL, 3001));
    cl_accounts_free(a);
}

/* Reset requests: per address and account over its own (15-minute)
 * window; the owner elsewhere still asks. */
static void test_reset_per_address_and_account(void **state)
{
    struct cl_accounts *a = accounts();
    unsigned retry = 0;
    (void)state;
    for (int i = 0; i < CL_RESET_RATE_PER_ADDR_ACCOUNT; i++)
        assert_true(
            cl_accounts_rate_ok(a, CL_RATE_RESET, "198.51.100.7", "v@example.com", 100, &retry));
    assert_false(
        cl_accounts_rate_ok(a, CL_RATE_RESET, "198.51.100.7", "v@example.com", 200, &retry));
    assert_true(retry > CL_AUTH_RATE_WINDOW_S && retry <= CL_RESET_ACCOUNT_WINDOW_S);
    assert_true(cl_accounts_rate_ok(a, CL_RATE_RESET, "203.0.113.9", "v@example.com", 200, &retry));
    cl_accounts_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stranger_does_not_lock_out_the_owner),
        cmocka_unit_test(test_account_ceiling_spares_a_fresh_address),
        cmocka_unit_test(test_per_address_limit),
        cmocka_unit_test(test_reset_per_address_and_account),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
