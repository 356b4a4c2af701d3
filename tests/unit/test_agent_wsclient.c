/*
 * Unit tests for the pure part of src/agent/wsclient.c, URL parsing: the
 * relay link's form (a base path with /connect appended, trailing slashes
 * dropped) and the gateway's (the path as given), default ports and the
 * Host header, and what is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/wsclient.h"
#include "core/err.h"

static void test_relay_form(void **state)
{
    struct cl_wsc_url u;
    char err[128];
    (void)state;
    assert_int_equal(
        cl_wsc_parse_url("wss://relay.example", "relay_url", "/connect", &u, err, sizeof err), 0);
    assert_true(u.tls);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.address, "relay.example");
    assert_string_equal(u.host_hdr, "relay.example");
    assert_string_equal(u.path, "/connect");

    assert_int_equal(
        cl_wsc_parse_url("ws://127.0.0.1:8080/base/", "relay_url", "/connect", &u, err, sizeof err),
        0);
    assert_false(u.tls);
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.host_hdr, "127.0.0.1:8080");
    assert_string_equal(u.path, "/base/connect");

    assert_int_equal(cl_wsc_parse_url("ws://h/base", "relay_url", "/connect", &u, err, sizeof err),
                     0);
    assert_int_equal(u.port, 80);
    assert_string_equal(u.host_hdr, "h");
    assert_string_equal(u.path, "/base/connect");
}

static void test_gateway_form(void **state)
{
    struct cl_wsc_url u;
    char err[128];
    (void)state;
    assert_int_equal(
        cl_wsc_parse_url("ws://127.0.0.1:18789", "gateway URL", NULL, &u, err, sizeof err), 0);
    assert_string_equal(u.path, "/");
    assert_string_equal(u.host_hdr, "127.0.0.1:18789");
    assert_int_equal(
        cl_wsc_parse_url("ws://127.0.0.1:18789/ws/", "gateway URL", NULL, &u, err, sizeof err), 0);
    assert_string_equal(u.path, "/ws/");
}

static void test_refused(void **state)
{
    struct cl_wsc_url u;
    char err[128], long_url[CL_URL_MAX + 16];
    (void)state;
    assert_int_equal(cl_wsc_parse_url("http://h/", "relay_url", "/connect", &u, err, sizeof err),
                     CL_EINVAL);
    assert_string_equal(err, "relay_url must start with ws:// or wss://");
    assert_int_equal(cl_wsc_parse_url("ws://", "gateway URL", NULL, &u, err, sizeof err),
                     CL_EINVAL);
    assert_non_null(strstr(err, "gateway URL"));
    memset(long_url, 'a', sizeof long_url - 1);
    memcpy(long_url, "ws://", 5);
    long_url[sizeof long_url - 1] = 0;
    assert_int_equal(cl_wsc_parse_url(long_url, "relay_url", "/connect", &u, err, sizeof err),
                     CL_EINVAL);
    assert_string_equal(err, "relay_url too long");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_form),
        cmocka_unit_test(test_gateway_form),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
