/*
 * Tests for src/relay/bus.c: the relay's NATS connection, against a real
 * nats-server (Debian's) this file starts on a free loopback port and
 * stops at the end, on a real libuv loop.
 *
 * What the relay lives through: messages in order to the loop thread, a
 * subscription ended while its messages are queued, the server not there
 * at start, the server killed (-9) and started again on the same port,
 * and --nats's parser (credentials never in an error).
 *
 * Without nats-server the test FAILS, saying to run scripts/install-deps:
 * it is part of the suite, not optional.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "relay/bus.h"

/* ---- the server ---------------------------------------------------------------------- */

static struct {
    const char *bin;
    int port;
    pid_t pid;
    char log[64];
} srv;

static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool port_open(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int nats_start(void)
{
    char port[16];

    snprintf(port, sizeof port, "%d", srv.port);
    srv.pid = fork();
    if (srv.pid < 0)
        return -1;
    if (srv.pid == 0) {
        int fd = open(srv.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(srv.bin, srv.bin, "-a", "127.0.0.1", "-p", port, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) { /* up to 5 s */
        if (port_open(srv.port))
            return 0;
        usleep(10 * 1000);
    }
    return -1;
}

static void nats_kill(void)
{
    if (srv.pid > 0) {
        kill(srv.pid, SIGKILL);
        while (waitpid(srv.pid, NULL, 0) < 0 && errno == EINTR)
            ;
        srv.pid = 0;
    }
}

static int group_setup(void **state)
{
    static const char *const where[] = {"/usr/bin/nats-server", "/usr/sbin/nats-server",
                                        "/usr/local/bin/nats-server"};
    (void)state;
    for (size_t i = 0; i < sizeof where / sizeof *where && !srv.bin; i++)
        if (access(where[i], X_OK) == 0)
            srv.bin = where[i];
    if (!srv.bin) {
        fprintf(stderr, "test_bus: nats-server not found: run scripts/install-deps (it installs "
                        "Debian's nats-server)\n");
        return -1;
    }
    snprintf(srv.log, sizeof srv.log, "/tmp/cl-test-bus-%d.log", (int)getpid());
    srv.port = free_port();
    if (srv.port <= 0 || nats_start() != 0) {
        fprintf(stderr, "test_bus: nats-server did not start (see %s)\n", srv.log);
        return -1;
    }
    atexit(nats_kill);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    nats_kill();
    unlink(srv.log);
    cl_bus_library_close();
    return 0;
}

/* ---- a bus on a loop ------------------------------------------------------------------ */

#define MAXMSG 256

struct got {
    int n;
    char subject[MAXMSG][64];
    char reply[MAXMSG][64];
    char data[MAXMSG][64];
};

struct tb {
    uv_loop_t loop;
    struct cl_bus *bus;
    struct cl_bus_urls urls;
    enum cl_bus_state last;
    int states; /* on_state calls */
};

static void tb_on_state(void *ctx, enum cl_bus_state st)
{
    struct tb *t = ctx;
    t->last = st;
    t->states++;
}

static void on_msg(void *ctx, const char *subject, const char *reply, const uint8_t *data,
                   size_t len)
{
    struct got *g = ctx;
    if (g->n >= MAXMSG)
        return;
    snprintf(g->subject[g->n], 64, "%s", subject);
    snprintf(g->reply[g->n], 64, "%s", reply ? reply : "");
    snprintf(g->data[g->n], 64, "%.*s", (int)len, (const char *)data);
    g->n++;
}

static void tick(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until *flag reaches want (or 10 s). */
static bool run_until(struct tb *t, const int *flag, int want)
{
    uv_timer_t timer;
    uint64_t end = uv_hrtime() + 10ull * 1000 * 1000 * 1000;
    bool ok;

    uv_timer_init(&t->loop, &timer);
    uv_timer_start(&timer, tick, 10, 10);
    while (*flag < want && uv_hrtime() < end)
        uv_run(&t->loop, UV_RUN_ONCE);
    ok = *flag >= want;
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&t->loop, UV_RUN_NOWAIT);
    return ok;
}

static bool run_until_state(struct tb *t, enum cl_bus_state st)
{
    int reached = 0;
    uv_timer_t timer;
    uint64_t end = uv_hrtime() + 10ull * 1000 * 1000 * 1000;

    uv_timer_init(&t->loop, &timer);
    uv_timer_start(&timer, tick, 10, 10);
    while (!(t->states > 0 && t->last == st) && uv_hrtime() < end)
        uv_run(&t->loop, UV_RUN_ONCE);
    reached = t->states > 0 && t->last == st;
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&t->loop, UV_RUN_NOWAIT);
    return reached;
}

static void tb_open(struct tb *t, int port)
{
    char spec[64], err[160];

    memset(t, 0, sizeof *t);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    snprintf(spec, sizeof spec, "nats://127.0.0.1:%d", port);
    assert_int_equal(cl_bus_urls_parse(spec, &t->urls, err, sizeof err), 0);
    struct cl_bus_config cfg = {
        .urls = &t->urls, .name = "test_bus", .on_state = tb_on_state, .ctx = t};
    assert_int_equal(cl_bus_open(&t->loop, &cfg, &t->bus, err, sizeof err), 0);
}

static void tb_close(struct tb *t)
{
    cl_bus_close(t->bus);
    uv_run(&t->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&t->loop), 0);
}

/* ---- --nats --------------------------------------------------------------------------- */

static void test_urls_parse(void **state)
{
    struct cl_bus_urls u;
    char err[160];
    (void)state;

    assert_int_equal(cl_bus_urls_parse("nats://127.0.0.1:4333", &u, err, sizeof err), 0);
    assert_int_equal(u.n, 1);
    assert_string_equal(u.url[0], "nats://127.0.0.1:4333");
    assert_string_equal(u.where[0], "127.0.0.1:4333");

    assert_int_equal(
        cl_bus_urls_parse("nats://a.example,nats://bob:s3cret@b-2.example:7,nats://[::1]:9", &u,
                          err, sizeof err),
        0);
    assert_int_equal(u.n, 3);
    assert_string_equal(u.where[0], "a.example:4222"); /* NATS's default port */
    assert_string_equal(u.url[1], "nats://bob:s3cret@b-2.example:7");
    assert_string_equal(u.where[1], "b-2.example:7"); /* no credentials */
    assert_string_equal(u.where[2], "[::1]:9");
}

static void test_urls_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "127.0.0.1:4222",
        "http://127.0.0.1:4222",
        "nats://",
        "nats://:4222",
        "nats://h:",
        "nats://h:0",
        "nats://h:65536",
        "nats://h:99999999999999999999",
        "nats://h:42x",
        "nats://h/path",
        "nats://h h",
        "nats://h,",
        ",nats://h",
        "nats://[::1",
        "nats://[]:1",
        "nats://h,nats://h,nats://h,nats://h,nats://h,nats://h,nats://h,nats://h,nats://h",
    };
    struct cl_bus_urls u;
    char err[160], longurl[CL_RELAY_BUS_URL_MAX + 16];
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        if (cl_bus_urls_parse(bad[i], &u, err, sizeof err) != CL_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(err[0] != '\0');
    }
    memset(longurl, 'a', sizeof longurl - 1);
    memcpy(longurl, "nats://", 7);
    longurl[sizeof longurl - 1] = '\0';
    assert_int_equal(cl_bus_urls_parse(longurl, &u, err, sizeof err), CL_EINVAL);
    assert_non_null(strstr(err, "longer"));

    /* a refused URL's password is never in the error */
    assert_int_equal(cl_bus_urls_parse("nats://u:hunter2@h:0", &u, err, sizeof err), CL_EINVAL);
    assert_null(strstr(err, "hunter2"));
    assert_int_equal(cl_bus_urls_parse("nats://u:hunter2@h h", &u, err, sizeof err), CL_EINVAL);
    assert_null(strstr(err, "hunter2"));
}

/* ---- messages ------------------------------------------------------------------------- */

static void test_pubsub_in_order(void **state)
{
    struct tb t;
    struct got *g = calloc(1, sizeof *g), *w = calloc(1, sizeof *w);
    struct cl_bus_sub *s, *ws;
    struct cl_bus_stats st;
    char data[32];
    (void)state;

    tb_open(&t, srv.port);
    assert_true(run_until_state(&t, CL_BUS_CONNECTED));
    assert_string_equal(cl_bus_state_name(cl_bus_state(t.bus)), "connected");
    assert_non_null(strstr(cl_bus_server(t.bus), "127.0.0.1:"));
    assert_int_equal(cl_bus_subscribe(t.bus, "cl.test.one", on_msg, g, &s), 0);
    assert_int_equal(cl_bus_subscribe(t.bus, "cl.test.>", on_msg, w, &ws), 0);
    for (int i = 0; i < 200; i++) {
        snprintf(data, sizeof data, "m%03d", i);
        assert_int_equal(cl_bus_publish(t.bus, "cl.test.one", i == 7 ? "cl.test.answer" : NULL,
                                        data, strlen(data)),
                         0);
    }
    assert_int_equal(cl_bus_publish(t.bus, "cl.test.two.deep", NULL, "w", 1), 0);
    assert_true(run_until(&t, &g->n, 200));
    assert_true(run_until(&t, &w->n, 201));
    for (int i = 0; i < 200; i++) {
        snprintf(data, sizeof data, "m%03d", i);
        assert_string_equal(g->data[i], data); /* in the order published */
        assert_string_equal(g->subject[i], "cl.test.one");
        assert_string_equal(g->reply[i], i == 7 ? "cl.test.answer" : "");
    }
    assert_string_equal(w->subject[200], "cl.test.two.deep");
    cl_bus_stats(t.bus, &st);
    assert_int_equal(st.msgs_out, 201);
    assert_int_equal(st.msgs_in, 401);
    assert_int_equal(st.subs, 2);
    assert_int_equal(st.dropped, 0);
    cl_bus_unsubscribe(s);
    cl_bus_unsubscribe(ws);
    tb_close(&t);
    free(g);
    free(w);
}

static void test_publish_refused(void **state)
{
    struct tb t;
    struct cl_bus_sub *s;
    struct got g;
    char *big = calloc(1, CL_RELAY_BUS_MSG_MAX + 1);
    (void)state;

    tb_open(&t, srv.port);
    assert_true(run_until_state(&t, CL_BUS_CONNECTED));
    assert_int_equal(cl_bus_publish(t.bus, "", NULL, "x", 1), CL_EINVAL);
    assert_int_equal(cl_bus_publish(t.bus, "a..b", NULL, "x", 1), CL_EINVAL);
    assert_int_equal(cl_bus_publish(t.bus, "a.b.", NULL, "x", 1), CL_EINVAL);
    assert_int_equal(cl_bus_publish(t.bus, "a b", NULL, "x", 1), CL_EINVAL);
    assert_int_equal(cl_bus_publish(t.bus, "a.b", "bad reply", "x", 1), CL_EINVAL);
    assert_int_equal(cl_bus_publish(t.bus, "a.b", NULL, big, CL_RELAY_BUS_MSG_MAX + 1), CL_EINVAL);
    assert_int_equal(cl_bus_subscribe(t.bus, "a..b", on_msg, &g, &s), CL_EINVAL);
    assert_null(s);
    tb_close(&t);
    free(big);
}

/* An ending subscription hears nothing more, even what was already queued
 * for it: the second subscription ends the first from its own callback
 * while both have messages waiting for the loop. */
struct ender {
    struct cl_bus_sub *victim;
    int seen;
    int after; /* victim's messages delivered after it was ended */
    bool ended;
};

static void on_victim(void *ctx, const char *subject, const char *reply, const uint8_t *data,
                      size_t len)
{
    struct ender *e = ctx;
    (void)subject, (void)reply, (void)data, (void)len;
    if (e->ended)
        e->after++;
}

static void on_ender(void *ctx, const char *subject, const char *reply, const uint8_t *data,
                     size_t len)
{
    struct ender *e = ctx;
    (void)subject, (void)reply, (void)data, (void)len;
    if (++e->seen == 1) {
        cl_bus_unsubscribe(e->victim);
        e->ended = true;
    }
}

static void test_unsubscribe_drops_queued(void **state)
{
    struct tb t;
    struct ender e = {0};
    struct cl_bus_sub *s;
    (void)state;

    tb_open(&t, srv.port);
    assert_true(run_until_state(&t, CL_BUS_CONNECTED));
    assert_int_equal(cl_bus_subscribe(t.bus, "cl.test.q", on_victim, &e, &e.victim), 0);
    assert_int_equal(cl_bus_subscribe(t.bus, "cl.test.q", on_ender, &e, &s), 0);
    /* published without running the loop: all of it queues up */
    for (int i = 0; i < 2000; i++)
        assert_int_equal(cl_bus_publish(t.bus, "cl.test.q", NULL, "xxxxxxxx", 8), 0);
    usleep(200 * 1000);
    assert_true(run_until(&t, &e.seen, 2000));
    assert_int_equal(e.after, 0);
    cl_bus_unsubscribe(s);
    tb_close(&t);
}

/* Closing with subscriptions held and messages queued: nothing is called
 * after, nothing leaks (ASan). */
static void test_close_with_queue(void **state)
{
    struct tb t;
    struct got *g = calloc(1, sizeof *g);
    struct cl_bus_sub *s;
    (void)state;

    tb_open(&t, srv.port);
    assert_true(run_until_state(&t, CL_BUS_CONNECTED));
    assert_int_equal(cl_bus_subscribe(t.bus, "cl.test.c", on_msg, g, &s), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(cl_bus_publish(t.bus, "cl.test.c", NULL, "y", 1), 0);
    usleep(100 * 1000);
    tb_close(&t); /* s is ended by the close */
    assert_int_equal(g->n, 0);
    free(g);
}

/* ---- the server away ------------------------------------------------------------------ */

static void test_server_not_there_at_start(void **state)
{
    struct tb t;
    struct got *g = calloc(1, sizeof *g);
    struct cl_bus_sub *s;
    int port = srv.port;
    (void)state;

    nats_kill();
    tb_open(&t, port); /* the relay starts while NATS is down */
    assert_int_equal(cl_bus_state(t.bus), CL_BUS_CONNECTING);
    assert_int_equal(cl_bus_publish(t.bus, "cl.test.late", NULL, "z", 1), CL_ESTATE);
    assert_int_equal(cl_bus_subscribe(t.bus, "cl.test.late", on_msg, g, &s), 0);
    assert_int_equal(nats_start(), 0);
    assert_true(run_until_state(&t, CL_BUS_CONNECTED));
    /* the subscription made while down is live now */
    for (int tries = 0; tries < 50 && g->n == 0; tries++) {
        assert_int_equal(cl_bus_publish(t.bus, "cl.test.late", NULL, "z", 1), 0);
        uv_run(&t.loop, UV_RUN_NOWAIT);
        usleep(20 * 1000);
        uv_run(&t.loop, UV_RUN_NOWAIT);
    }
    assert_true(g->n > 0);
    assert_string_equal(g->data[0], "z");
    cl_bus_unsubscribe(s);
    tb_close(&t);
    free(g);
}

static void test_server_killed_and_back(void **state)
{
    struct tb t;
    struct got *g = calloc(1, sizeof *g);
    struct cl_bus_sub *s;
    struct cl_bus_stats st;
    int before;
    (void)state;

    tb_open(&t, srv.port);
    assert_true(run_until_state(&t, CL_BUS_CONNECTED));
    assert_int_equal(cl_bus_subscribe(t.bus, "cl.test.k", on_msg, g, &s), 0);
    assert_int_equal(cl_bus_publish(t.bus, "cl.test.k", NULL, "before", 6), 0);
    assert_true(run_until(&t, &g->n, 1));

    nats_kill();
    assert_true(run_until_state(&t, CL_BUS_RECONNECTING));
    assert_string_equal(cl_bus_server(t.bus), "");
    assert_int_equal(cl_bus_publish(t.bus, "cl.test.k", NULL, "lost", 4), CL_ESTATE);

    assert_int_equal(nats_start(), 0);
    assert_true(run_until_state(&t, CL_BUS_CONNECTED));
    cl_bus_stats(t.bus, &st);
    assert_int_equal(st.reconnects, 1);
    /* libnats subscribed again by itself */
    before = g->n;
    for (int tries = 0; tries < 50 && g->n == before; tries++) {
        assert_int_equal(cl_bus_publish(t.bus, "cl.test.k", NULL, "after", 5), 0);
        uv_run(&t.loop, UV_RUN_NOWAIT);
        usleep(20 * 1000);
        uv_run(&t.loop, UV_RUN_NOWAIT);
    }
    assert_true(g->n > before);
    assert_string_equal(g->data[before], "after");
    cl_bus_unsubscribe(s);
    tb_close(&t);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls_parse),
        cmocka_unit_test(test_urls_refused),
        cmocka_unit_test(test_pubsub_in_order),
        cmocka_unit_test(test_publish_refused),
        cmocka_unit_test(test_unsubscribe_drops_queued),
        cmocka_unit_test(test_close_with_queue),
        cmocka_unit_test(test_server_not_there_at_start),
        cmocka_unit_test(test_server_killed_and_back),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
