/*
 * Unit tests for the gateway connection's subscribers (src/agent/gateway.c
 * on src/agent/wsclient.c), against a fake gateway on loopback
 * (fake_gateway.h: a libuv TCP server speaking just enough WebSocket). Two subscribers each see the
 * state going online and every event; each sends a request and gets its own answer; the subscriber
 * table is bounded and a slot comes back on unsubscribe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <uv.h>

#include "agent/gateway.h"
#include "agent/wsclient.h"
#include "core/err.h"
#include "core/json.h"
#include "core/secret.h"

#include "fake_gateway.h"

/* ---- what this gateway answers ---------------------------------------------- */

static void fake_on_frame(struct fake *f, const char *text, size_t len)
{
    json_t *root = json_loadb(text, len, 0, NULL);
    const char *method = json_string_value(json_object_get(root, "method"));
    const char *id = json_string_value(json_object_get(root, "id"));
    char out[512];

    if (method && strcmp(method, "connect") == 0) {
        fake_send_text(f, "{\"type\":\"res\",\"id\":\"connect\",\"ok\":true,\"payload\":{"
                          "\"protocol\":4,\"server\":{\"version\":\"fake\"},"
                          "\"policy\":{\"tickIntervalMs\":30000}}}");
        fake_send_text(f, "{\"type\":\"event\",\"event\":\"chat\",\"payload\":{\"runId\":\"r1\"}}");
        fake_send_text(f,
                       "{\"type\":\"event\",\"event\":\"agent\",\"payload\":{\"runId\":\"r2\"}}");
    } else if (method && strcmp(method, "echo") == 0 && id) {
        const char *who =
            json_string_value(json_object_get(json_object_get(root, "params"), "who"));
        snprintf(out, sizeof out,
                 "{\"type\":\"res\",\"id\":\"%s\",\"ok\":true,\"payload\":{\"who\":\"%s\"}}", id,
                 who ? who : "");
        fake_send_text(f, out);
    }
    json_decref(root);
}

/* ---- subscribers ------------------------------------------------------------ */

struct sub {
    const char *name;
    struct cl_gw *gw;
    int online;
    int events;
    char seen[2][16];
    char answer[16];
    bool answered;
};

static void sub_on_reply(void *ctx, bool ok, json_t *payload, const char *message)
{
    struct sub *s = ctx;
    (void)message;
    assert_true(ok);
    snprintf(s->answer, sizeof s->answer, "%s", json_string_value(json_object_get(payload, "who")));
    s->answered = true;
}

static void sub_on_state(void *ctx, enum cl_node_state state, const char *why)
{
    struct sub *s = ctx;
    (void)why;
    if (state != CL_NODE_ONLINE)
        return;
    s->online++;
    assert_int_equal(cl_gw_request(s->gw, "echo", json_pack("{s:s}", "who", s->name), 5000,
                                   sub_on_reply, s, NULL),
                     0);
}

static void sub_on_event(void *ctx, const char *event, json_t *payload)
{
    struct sub *s = ctx;
    (void)payload;
    if (s->events < 2)
        snprintf(s->seen[s->events], sizeof s->seen[0], "%s", event);
    s->events++;
}

static struct sub *g_subs[2];
static bool g_timed_out;

static void on_check(uv_timer_t *t)
{
    if (g_subs[0]->events >= 2 && g_subs[1]->events >= 2 && g_subs[0]->answered &&
        g_subs[1]->answered)
        uv_stop(t->loop);
}

static void on_deadline(uv_timer_t *t)
{
    g_timed_out = true;
    uv_stop(t->loop);
}

static void drain(uv_loop_t *loop)
{
    for (int i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++)
        ;
}

static void test_every_subscriber_sees_every_event(void **state)
{
    static const struct cl_gw_handler h = {sub_on_state, sub_on_event};
    uv_loop_t loop;
    struct fake f;
    struct cl_wsc_ctx *wsc = NULL;
    struct cl_gw_settings set;
    struct cl_gw_identity id;
    struct cl_gw *gw = NULL;
    struct sub a = {.name = "A"}, b = {.name = "B"};
    uv_timer_t check, deadline;
    char err[256];
    int port, dummy[CL_GW_MAX_SUBSCRIBERS];
    (void)state;

    memset(&f, 0, sizeof f);
    memset(&set, 0, sizeof set);
    memset(&id, 0, sizeof id);
    uv_loop_init(&loop);
    port = fake_listen(&loop, &f);
    set.configured = true;
    snprintf(set.url, sizeof set.url, "ws://127.0.0.1:%d", port);
    snprintf(set.token, sizeof set.token, "test-token");
    snprintf(set.client_id, sizeof set.client_id, "cli");
    snprintf(set.client_mode, sizeof set.client_mode, "cli");
    crypto_sign_keypair(id.pk, id.sk);
    cl_gw_identity_derive(&id);

    assert_int_equal(cl_wsc_ctx_new(&loop, false, NULL, &wsc, err, sizeof err), 0);
    assert_int_equal(cl_gw_new(&loop, wsc, &set, &id, NULL, 0, &gw, err, sizeof err), 0);
    a.gw = b.gw = gw;

    /* the table is bounded; a slot comes back on unsubscribe */
    for (int i = 0; i < CL_GW_MAX_SUBSCRIBERS; i++)
        assert_int_equal(cl_gw_subscribe(gw, &h, &dummy[i]), 0);
    assert_int_equal(cl_gw_subscribe(gw, &h, &a), CL_ELIMIT);
    for (int i = 0; i < CL_GW_MAX_SUBSCRIBERS; i++)
        cl_gw_unsubscribe(gw, &dummy[i]);

    assert_int_equal(cl_gw_subscribe(gw, &h, &a), 0);
    assert_int_equal(cl_gw_subscribe(gw, &h, &b), 0);
    g_subs[0] = &a;
    g_subs[1] = &b;
    uv_timer_init(&loop, &check);
    uv_timer_init(&loop, &deadline);
    uv_timer_start(&check, on_check, 20, 20);
    uv_timer_start(&deadline, on_deadline, 10000, 0);
    cl_gw_start(gw);
    uv_run(&loop, UV_RUN_DEFAULT);

    assert_false(g_timed_out);
    assert_int_equal(cl_gw_state(gw), CL_NODE_ONLINE);
    assert_string_equal(cl_gw_server_version(gw), "fake");
    for (int i = 0; i < 2; i++) {
        struct sub *s = g_subs[i];
        assert_int_equal(s->online, 1);
        assert_int_equal(s->events, 2);
        assert_string_equal(s->seen[0], "chat");
        assert_string_equal(s->seen[1], "agent");
        assert_string_equal(s->answer, s->name); /* its own answer */
    }

    cl_gw_close(gw);
    cl_gw_destroy(gw);
    cl_wsc_ctx_destroy(wsc);
    uv_close((uv_handle_t *)&check, NULL);
    uv_close((uv_handle_t *)&deadline, NULL);
    if (f.have_conn)
        uv_close((uv_handle_t *)&f.conn, NULL);
    uv_close((uv_handle_t *)&f.server, NULL);
    drain(&loop);
    for (int i = 0; i < 10 && !cl_wsc_ctx_destroyed(wsc); i++) {
        cl_wsc_ctx_destroy(wsc);
        drain(&loop);
    }
    assert_true(cl_wsc_ctx_destroyed(wsc));
    cl_gw_free(gw);
    cl_wsc_ctx_free(wsc);
    cl_gw_identity_wipe(&id);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_subscriber_sees_every_event),
    };
    cl_json_init();
    if (cl_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
