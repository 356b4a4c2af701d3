/*
 * Unit tests for src/relay/proxy.c: --trusted-proxy's parser, the trust
 * check (IPv4, IPv6, networks, IPv4-mapped addresses), and which
 * X-Forwarded-For entry names the client: only a trusted peer's header
 * counts, and only its rightmost entry that is not a trusted proxy — a
 * client writes anything it likes on the left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/err.h"
#include "relay/proxy.h"

static void test_parse(void **state)
{
    struct cl_proxy_nets n;
    char err[128];
    (void)state;

    assert_int_equal(cl_proxy_nets_parse("127.0.0.1", &n, err, sizeof err), 0);
    assert_int_equal(n.n, 1);
    assert_int_equal(n.net[0].bits, 32);
    assert_int_equal(
        cl_proxy_nets_parse("10.0.0.0/8,::1,fd00::/8,192.168.1.0/24", &n, err, sizeof err), 0);
    assert_int_equal(n.n, 4);
    assert_int_equal(n.net[1].bits, 128);
    assert_int_equal(n.net[2].bits, 8);

    /* one more than CL_RELAY_TRUSTED_PROXIES_MAX */
    static const char seventeen[] = "1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,"
                                    "1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,"
                                    "1.1.1.1,1.1.1.1,1.1.1.1";
    static const char *const bad[] = {
        "",         "x",           "10.0.0.0/",   "10.0.0.0/33",
        "::1/129",  "10.0.0.0/8x", "10.0.0.0/-1", "1.2.3.4,",
        ",1.2.3.4", "1.2.3.4 ",    "1.2.3",       "10.0.0.0/0008",
        seventeen,
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        if (cl_proxy_nets_parse(bad[i], &n, err, sizeof err) != CL_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(err[0] != '\0');
    }
}

static void test_trusted(void **state)
{
    struct cl_proxy_nets n;
    char err[128];
    (void)state;

    assert_int_equal(cl_proxy_nets_parse("10.1.0.0/16,2001:db8::/32,192.0.2.9,172.16.0.0/12", &n,
                                         err, sizeof err),
                     0);
    assert_true(cl_proxy_trusted(&n, "10.1.2.3"));
    assert_true(cl_proxy_trusted(&n, "10.1.255.255"));
    assert_false(cl_proxy_trusted(&n, "10.2.0.1"));
    assert_true(cl_proxy_trusted(&n, "172.31.0.1")); /* /12: 172.16-31 */
    assert_false(cl_proxy_trusted(&n, "172.32.0.1"));
    assert_true(cl_proxy_trusted(&n, "192.0.2.9"));
    assert_false(cl_proxy_trusted(&n, "192.0.2.10"));
    assert_true(cl_proxy_trusted(&n, "::ffff:10.1.0.1")); /* a dual-stack socket's view */
    assert_true(cl_proxy_trusted(&n, "2001:db8:1::5"));
    assert_false(cl_proxy_trusted(&n, "2001:db9::5"));
    assert_false(cl_proxy_trusted(&n, "not an address"));
    assert_false(cl_proxy_trusted(&n, ""));
    assert_false(cl_proxy_trusted(NULL, "10.1.2.3"));
}

static const char *client(const struct cl_proxy_nets *n, const char *peer, const char *xff)
{
    static char out[64];
    cl_proxy_client(n, peer, xff, out, sizeof out);
    return out;
}

static void test_client(void **state)
{
    struct cl_proxy_nets n;
    char err[128];
    (void)state;

    assert_int_equal(cl_proxy_nets_parse("127.0.0.1,10.0.0.0/8", &n, err, sizeof err), 0);
    /* from an untrusted peer the header is ignored */
    assert_string_equal(client(&n, "203.0.113.5", "1.2.3.4"), "203.0.113.5");
    assert_string_equal(client(NULL, "127.0.0.1", "1.2.3.4"), "127.0.0.1");
    /* from a trusted one, its client */
    assert_string_equal(client(&n, "127.0.0.1", "198.51.100.7"), "198.51.100.7");
    assert_string_equal(client(&n, "127.0.0.1", NULL), "127.0.0.1");
    /* a client's own entries on the left do not count */
    assert_string_equal(client(&n, "127.0.0.1", "6.6.6.6, 198.51.100.7"), "198.51.100.7");
    assert_string_equal(client(&n, "127.0.0.1", "127.0.0.1,198.51.100.7"), "198.51.100.7");
    /* hops through further trusted proxies are skipped */
    assert_string_equal(client(&n, "127.0.0.1", "6.6.6.6,198.51.100.7, 10.0.0.3,10.2.2.2"),
                        "198.51.100.7");
    /* ports and brackets */
    assert_string_equal(client(&n, "127.0.0.1", "198.51.100.7:51234"), "198.51.100.7");
    assert_string_equal(client(&n, "127.0.0.1", "[2001:db8::7]:443"), "2001:db8::7");
    assert_string_equal(client(&n, "127.0.0.1", "2001:db8::7"), "2001:db8::7");
    assert_string_equal(client(&n, "::ffff:127.0.0.1", "::ffff:198.51.100.7"), "198.51.100.7");
    /* a deciding entry that is not an address: the proxy's own stands */
    assert_string_equal(client(&n, "127.0.0.1", "198.51.100.7, unknown"), "127.0.0.1");
    assert_string_equal(client(&n, "127.0.0.1", ""), "127.0.0.1");
    assert_string_equal(client(&n, "127.0.0.1", " , "), "127.0.0.1");
    /* every entry a trusted proxy: the peer */
    assert_string_equal(client(&n, "127.0.0.1", "10.0.0.1,10.0.0.2"), "127.0.0.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_trusted),
        cmocka_unit_test(test_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
