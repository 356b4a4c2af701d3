/*
 * Unit tests for src/relay/admission.c: connections count against their
 * address from accept to destruction; the per-address and relay-wide caps
 * refuse; unauthenticated WebSockets count against their own cap until
 * they authenticate; an accept lws never made a connection of is let go;
 * a trusted proxy is not capped per address, and a WebSocket through it
 * counts against its client once named.
 * The wsi pointers are only keys here, never dereferenced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "relay/admission.h"
#include "relay/proxy.h"

static struct sockaddr_in addr(const char *ip)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &sa.sin_addr);
    return sa;
}

#define WSI(n) ((struct lws *)(uintptr_t)(0x1000 + (n)*16))

/* accept + WSI_CREATE, as lws does for one connection */
static bool open_one(struct cl_admission *a, const char *ip, int n)
{
    struct sockaddr_in sa = addr(ip);
    if (!cl_admission_accept(a, (struct sockaddr *)&sa, sizeof sa, 0))
        return false;
    cl_admission_created(a, WSI(n));
    return true;
}

static void test_per_address_cap(void **state)
{
    struct cl_admission *a = cl_admission_new(3, 100, 2);
    (void)state;
    for (int i = 0; i < 3; i++)
        assert_true(open_one(a, "10.0.0.1", i));
    assert_false(open_one(a, "10.0.0.1", 3));
    assert_true(open_one(a, "10.0.0.2", 4)); /* another address is not affected */
    assert_int_equal(cl_admission_count(a), 4);
    cl_admission_destroyed(a, WSI(0));
    assert_true(open_one(a, "10.0.0.1", 5)); /* room again */
    cl_admission_destroyed(a, WSI(99));      /* never counted: ignored */
    assert_int_equal(cl_admission_count(a), 4);
    for (int i = 1; i <= 5; i++)
        cl_admission_destroyed(a, WSI(i));
    assert_int_equal(cl_admission_count(a), 0);
    cl_admission_free(a);
}

static void test_relay_full(void **state)
{
    struct cl_admission *a = cl_admission_new(100, 2, 2);
    (void)state;
    assert_true(open_one(a, "10.0.0.1", 0));
    assert_true(open_one(a, "10.0.0.2", 1));
    assert_false(open_one(a, "10.0.0.3", 2));
    cl_admission_destroyed(a, WSI(1));
    assert_true(open_one(a, "10.0.0.3", 2));
    cl_admission_free(a);
}

static void test_unauthenticated_cap(void **state)
{
    struct cl_admission *a = cl_admission_new(100, 100, 2);
    (void)state;
    for (int i = 0; i < 4; i++)
        assert_true(open_one(a, "10.0.0.1", i));
    assert_true(cl_admission_ws_open(a, WSI(0), 0));
    assert_true(cl_admission_ws_open(a, WSI(1), 0));
    assert_false(cl_admission_ws_open(a, WSI(2), 0));
    cl_admission_ws_authed(a, WSI(0));
    cl_admission_ws_authed(a, WSI(0)); /* twice: counted once */
    assert_true(cl_admission_ws_open(a, WSI(2), 0));
    assert_false(cl_admission_ws_open(a, WSI(3), 0));
    cl_admission_destroyed(a, WSI(1)); /* an unauthenticated one ends */
    assert_true(cl_admission_ws_open(a, WSI(3), 0));
    cl_admission_free(a); /* with connections left: freed all the same */
}

static void test_accept_without_wsi(void **state)
{
    struct cl_admission *a = cl_admission_new(1, 100, 2);
    struct sockaddr_in sa = addr("10.0.0.1");
    (void)state;
    /* lws failed to adopt it: the next accept lets it go */
    assert_true(cl_admission_accept(a, (struct sockaddr *)&sa, sizeof sa, 0));
    assert_true(open_one(a, "10.0.0.1", 1));
    assert_int_equal(cl_admission_count(a), 1);
    cl_admission_created(a, WSI(7)); /* the listening socket: no accept before it */
    assert_int_equal(cl_admission_count(a), 1);
    cl_admission_free(a);
}

/* Through a trusted proxy: the proxy's own address is not capped; each
 * WebSocket counts against the client its headers name, with the same
 * per-address and unauthenticated caps; closing gives the room back. */
static void test_trusted_proxy(void **state)
{
    struct cl_admission *a = cl_admission_new(2, 100, 1);
    struct cl_proxy_nets nets;
    char err[128];
    (void)state;

    assert_int_equal(cl_proxy_nets_parse("10.9.0.0/16", &nets, err, sizeof err), 0);
    cl_admission_set_proxies(a, &nets);
    for (int i = 0; i < 10; i++) /* far over the per-address cap of 2 */
        assert_true(open_one(a, "10.9.0.5", i));
    assert_true(cl_admission_client(a, WSI(0), "203.0.113.7", 0));
    assert_true(cl_admission_ws_open(a, WSI(0), 0));
    assert_true(cl_admission_client(a, WSI(1), "203.0.113.7", 0));
    assert_false(cl_admission_ws_open(a, WSI(1), 0)); /* its client's 1 unauth slot is taken */
    assert_false(cl_admission_client(a, WSI(2), "203.0.113.7", 0)); /* 2 per address */
    assert_true(cl_admission_client(a, WSI(3), "198.51.100.1", 0)); /* another client */
    assert_true(cl_admission_ws_open(a, WSI(3), 0));
    cl_admission_ws_authed(a, WSI(0));
    cl_admission_destroyed(a, WSI(1));
    assert_true(cl_admission_client(a, WSI(4), "203.0.113.7", 0)); /* room again */
    assert_true(cl_admission_ws_open(a, WSI(4), 0));
    /* an untrusted address is capped as ever */
    assert_true(open_one(a, "192.0.2.1", 20));
    assert_true(open_one(a, "192.0.2.1", 21));
    assert_false(open_one(a, "192.0.2.1", 22));
    for (int i = 0; i < 22; i++)
        cl_admission_destroyed(a, WSI(i));
    assert_int_equal(cl_admission_count(a), 0);
    cl_admission_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_address_cap),     cmocka_unit_test(test_relay_full),
        cmocka_unit_test(test_unauthenticated_cap), cmocka_unit_test(test_accept_without_wsi),
        cmocka_unit_test(test_trusted_proxy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
