/*
 * Unit tests for the gateway connection's subscribers (src/agent/gateway.c
 * on src/agent/wsclient.c), against a fake gateway on loopback (a libuv TCP
 * server speaking just enough WebSocket: the upgrade, unmasked text frames
 * out, masked ones in). Two subscribers each see the state going online
 * and every event; each sends a request and gets its own answer; the
 * subscriber table is bounded and a slot comes back on unsubscribe.
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

/* ---- the fake gateway ----------------------------------------------------- */

struct fake {
    uv_tcp_t server, conn;
    bool have_conn;
    char buf[65536];
    size_t len;
    bool upgraded;
};

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void fake_write(struct fake *f, const void *data, size_t len)
{
    uv_write_t *w = malloc(sizeof *w);
    char *copy = malloc(len);
    uv_buf_t b;
    memcpy(copy, data, len);
    w->data = copy;
    b = uv_buf_init(copy, (unsigned)len);
    uv_write(w, (uv_stream_t *)&f->conn, &b, 1, on_written);
}

static void fake_send_text(struct fake *f, const char *text)
{
    size_t n = strlen(text), h = 2;
    unsigned char *frame = malloc(n + 4);
    frame[0] = 0x81;
    if (n < 126) {
        frame[1] = (unsigned char)n;
    } else {
        frame[1] = 126;
        frame[2] = (unsigned char)(n >> 8);
        frame[3] = (unsigned char)n;
        h = 4;
    }
    memcpy(frame + h, text, n);
    fake_write(f, frame, h + n);
    free(frame);
}

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

/* Client frames: masked, one per message here (the client does not
 * fragment small ones). */
static void fake_parse_frames(struct fake *f)
{
    for (;;) {
        size_t off = 2, n;
        unsigned char *b = (unsigned char *)f->buf, mask[4];
        if (f->len < 2)
            return;
        n = b[1] & 0x7f;
        if (n == 126) {
            if (f->len < 4)
                return;
            n = ((size_t)b[2] << 8) | b[3];
            off = 4;
        } else if (n == 127) {
            fail_msg("no 64-bit frames expected");
        }
        if (f->len < off + 4 + n)
            return;
        memcpy(mask, b + off, 4);
        off += 4;
        for (size_t i = 0; i < n; i++)
            b[off + i] ^= mask[i % 4];
        if ((b[0] & 0x0f) == 1)
            fake_on_frame(f, (char *)b + off, n);
        memmove(f->buf, f->buf + off + n, f->len - off - n);
        f->len -= off + n;
    }
}

static void fake_upgrade(struct fake *f)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char *end = strstr(f->buf, "\r\n\r\n"), *key, resp[256], cat[128];
    unsigned char sha[SHA_DIGEST_LENGTH], acc[64];
    size_t klen;

    if (!end)
        return;
    key = strcasestr(f->buf, "Sec-WebSocket-Key:");
    assert_non_null(key);
    key += strlen("Sec-WebSocket-Key:");
    while (*key == ' ')
        key++;
    klen = strcspn(key, "\r\n");
    snprintf(cat, sizeof cat, "%.*s%s", (int)klen, key, guid);
    SHA1((unsigned char *)cat, strlen(cat), sha);
    EVP_EncodeBlock(acc, sha, SHA_DIGEST_LENGTH);
    snprintf(resp, sizeof resp,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n\r\n",
             acc);
    fake_write(f, resp, strlen(resp));
    f->upgraded = true;
    f->len -= (size_t)(end + 4 - f->buf);
    memmove(f->buf, end + 4, f->len);
    fake_send_text(f, "{\"type\":\"event\",\"event\":\"connect.challenge\","
                      "\"payload\":{\"nonce\":\"n-1\",\"ts\":1}}");
}

static void fake_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct fake *f = h->data;
    (void)suggested;
    *b = uv_buf_init(f->buf + f->len, (unsigned)(sizeof f->buf - 1 - f->len));
}

static void fake_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct fake *f = s->data;
    (void)b;
    if (n <= 0)
        return;
    f->len += (size_t)n;
    f->buf[f->len] = 0;
    if (!f->upgraded)
        fake_upgrade(f);
    if (f->upgraded)
        fake_parse_frames(f);
}

static void fake_on_connection(uv_stream_t *server, int status)
{
    struct fake *f = server->data;
    assert_int_equal(status, 0);
    assert_false(f->have_conn);
    uv_tcp_init(server->loop, &f->conn);
    f->conn.data = f;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&f->conn), 0);
    f->have_conn = true;
    uv_read_start((uv_stream_t *)&f->conn, fake_alloc, fake_on_read);
}

static int fake_listen(uv_loop_t *loop, struct fake *f)
{
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_tcp_init(loop, &f->server);
    f->server.data = f;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&f->server, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&f->server, 4, fake_on_connection), 0);
    uv_tcp_getsockname(&f->server, (struct sockaddr *)&got, &len);
    return ntohs(((struct sockaddr_in *)&got)->sin_port);
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
