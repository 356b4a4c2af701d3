/*
 * Unit tests for src/core/sockinfo.c: the kernel's received-byte count of a
 * real loopback TCP connection grows by exactly what the peer sent (an
 * empty WebSocket pong is two bytes on the wire, and this is how the relay
 * sees it), and a descriptor that is not a TCP socket is an error; the
 * agent link's queue bounds: TCP_NOTSENT_LOWAT is set, and the receive
 * window clamp follows the link's RTT (small on loopback, rate x RTT on a
 * long link, never below the minimum).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/err.h"
#include "core/sockinfo.h"

/* A connected loopback pair: *a (client) and *b (accepted). */
static void tcp_pair(int *a, int *b)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    *a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(*a >= 0);
    assert_int_equal(connect(*a, (struct sockaddr *)&sa, sizeof sa), 0);
    *b = accept(l, NULL, NULL);
    assert_true(*b >= 0);
    close(l);
}

static void test_counts_what_arrived(void **state)
{
    static const unsigned char pong[2] = {0x8a, 0x00}; /* an empty pong frame */
    uint64_t n0 = 99, n1 = 0;
    char buf[16];
    int a, b;
    (void)state;

    tcp_pair(&a, &b);
    assert_int_equal(cl_sock_rx_bytes(b, &n0), 0);
    assert_int_equal(n0, 0);
    assert_int_equal(write(a, pong, sizeof pong), (ssize_t)sizeof pong);
    /* Counted when the kernel takes it, before anyone reads it. */
    for (int i = 0; i < 1000 && n1 == 0; i++) {
        assert_int_equal(cl_sock_rx_bytes(b, &n1), 0);
        if (n1 == 0)
            usleep(1000);
    }
    assert_int_equal(n1, sizeof pong);
    assert_int_equal(read(b, buf, sizeof buf), (ssize_t)sizeof pong);
    assert_int_equal(cl_sock_rx_bytes(b, &n1), 0);
    assert_int_equal(n1, sizeof pong); /* reading does not change it */
    close(a);
    close(b);
}

static void test_not_a_tcp_socket(void **state)
{
    int p[2];
    uint64_t n = 7;
    (void)state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(cl_sock_rx_bytes(p[0], &n), CL_EIO);
    assert_int_equal(cl_sock_rx_bytes(-1, &n), CL_EIO);
    assert_int_equal(n, 7); /* untouched */
    close(p[0]);
    close(p[1]);
}

static void test_notsent_lowat_is_set(void **state)
{
    int a, b, v = 0;
    socklen_t len = sizeof v;
    (void)state;

    tcp_pair(&a, &b);
    assert_int_equal(cl_sock_notsent_lowat(a, 16384), 0);
    assert_int_equal(getsockopt(a, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &len), 0);
    assert_int_equal(v, 16384);
    assert_int_equal(cl_sock_notsent_lowat(-1, 16384), CL_EIO);
    close(a);
    close(b);
}

static void test_window_follows_rtt(void **state)
{
    (void)state;
    /* loopback and LAN: the minimum */
    assert_int_equal(cl_sock_rcv_window_for(50, 125000000, 131072), 131072);
    assert_int_equal(cl_sock_rcv_window_for(0, 125000000, 131072), 131072);
    /* 20, 80 and 150 ms at 125 MB/s: the bandwidth-delay product */
    assert_int_equal(cl_sock_rcv_window_for(20000, 125000000, 131072), 2500000);
    assert_int_equal(cl_sock_rcv_window_for(80000, 125000000, 131072), 10000000);
    assert_int_equal(cl_sock_rcv_window_for(150000, 125000000, 131072), 18750000);
    /* no overflow at absurd values */
    assert_true(cl_sock_rcv_window_for(3600000000ull, 10000000000ull, 1) > 1000000000000ull);
}

static void test_clamp_on_loopback(void **state)
{
    static char buf[4096];
    uint64_t w = 1;
    int a, b, v = 0;
    socklen_t len = sizeof v;
    (void)state;

    tcp_pair(&a, &b);
    /* traffic both ways gives the kernel an RTT */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(write(a, buf, sizeof buf), (ssize_t)sizeof buf);
        assert_int_equal(read(b, buf, sizeof buf), (ssize_t)sizeof buf);
        assert_int_equal(write(b, buf, 1), 1);
        assert_int_equal(read(a, buf, 1), 1);
    }
    assert_int_equal(cl_sock_clamp_rcv_window(b, 125000000, 131072, 204800, &w), 0);
    assert_int_equal(w, 131072); /* loopback's RTT is far below 1 ms */
    assert_int_equal(getsockopt(b, IPPROTO_TCP, TCP_WINDOW_CLAMP, &v, &len), 0);
    assert_int_equal(v, 131072);
    len = sizeof v;
    assert_int_equal(getsockopt(b, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
    assert_int_equal(v, 2 * 131072); /* fixed: the kernel reports it doubled */
    assert_int_equal(cl_sock_clamp_rcv_window(-1, 125000000, 131072, 204800, &w), CL_EIO);
    close(a);
    close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_what_arrived),  cmocka_unit_test(test_not_a_tcp_socket),
        cmocka_unit_test(test_notsent_lowat_is_set), cmocka_unit_test(test_window_follows_rtt),
        cmocka_unit_test(test_clamp_on_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
