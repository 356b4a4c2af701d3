/*
 * Unit tests for src/agent/chat_mirror.c: the mirror of a gateway into a
 * real chat store, against a scripted gateway on loopback (fake_gateway.h:
 * a libuv TCP server speaking just enough WebSocket) whose answers are shaped as OpenClaw
 * 2026.9.6's (docs/chat.md, "What the gateway offers"). Checked: the pass on hello-ok (subscribe,
 * list, per session subscribe + pages, the cursor and sessionId kept, the title); a streamed reply
 * under run:<runId> adopted by its transcript entry whichever comes first; our own user message
 * adopted with its sender kept; a gap in the frame seq re-runs the pass,
 * which catches up through the delta cursor and stores nothing twice; a
 * new session from sessions.changed is imported.
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

#include "agent/chat_mirror.h"
#include "agent/chat_store.h"
#include "agent/gateway.h"
#include "agent/wsclient.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"

#include "fake_gateway.h"

/* ---- the script ------------------------------------------------------------ */

static int g_subscribes, g_lists, g_msg_subs, g_pages, g_deltas;
static long long g_seq;

static void fake_event(struct fake *f, const char *event, const char *payload, long long seq)
{
    char *out = malloc(strlen(payload) + 128);
    sprintf(out, "{\"type\":\"event\",\"event\":\"%s\",\"payload\":%s,\"seq\":%lld}", event,
            payload, seq);
    fake_send_text(f, out);
    free(out);
}

static void fake_res(struct fake *f, const char *id, const char *payload)
{
    char *out = malloc(strlen(payload) + 128);
    sprintf(out, "{\"type\":\"res\",\"id\":\"%s\",\"ok\":true,\"payload\":%s}", id, payload);
    fake_send_text(f, out);
    free(out);
}

#define MSG_USER1                                                                                  \
    "{\"role\":\"user\",\"content\":\"hello\",\"timestamp\":1000,\"idempotencyKey\":\"k1:user\","  \
    "\"__openclaw\":{\"id\":\"u1\",\"seq\":1}}"
#define MSG_ASSIST1                                                                                \
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"hi there\"}],"             \
    "\"timestamp\":2000,\"__openclaw\":{\"id\":\"a1\",\"seq\":2,\"runId\":\"k1\"}}"
#define MSG_CLI3                                                                                   \
    "{\"role\":\"user\",\"content\":\"from the cli\",\"timestamp\":3000,"                          \
    "\"__openclaw\":{\"id\":\"c3\",\"seq\":3}}"

static void fake_on_frame(struct fake *f, const char *text, size_t len)
{
    json_t *root = json_loadb(text, len, 0, NULL);
    const char *method = json_string_value(json_object_get(root, "method"));
    const char *id = json_string_value(json_object_get(root, "id"));
    json_t *params = json_object_get(root, "params");

    if (!method) {
        json_decref(root);
        return;
    }
    if (strcmp(method, "connect") == 0) {
        fake_send_text(f, "{\"type\":\"res\",\"id\":\"connect\",\"ok\":true,\"payload\":{"
                          "\"protocol\":4,\"server\":{\"version\":\"fake\"},"
                          "\"policy\":{\"tickIntervalMs\":30000}}}");
    } else if (strcmp(method, "sessions.subscribe") == 0) {
        g_subscribes++;
        fake_res(f, id, "{\"subscribed\":true}");
    } else if (strcmp(method, "sessions.list") == 0) {
        g_lists++;
        fake_res(f, id,
                 "{\"sessions\":[{\"key\":\"agent:main:a\",\"sessionId\":\"s1\","
                 "\"label\":\"Alpha\"}],\"hasMore\":false,\"nextOffset\":null}");
    } else if (strcmp(method, "sessions.messages.subscribe") == 0) {
        g_msg_subs++;
        fake_res(f, id, "{\"subscribed\":true}");
    } else if (strcmp(method, "chat.history") == 0) {
        const char *key = json_string_value(json_object_get(params, "sessionKey"));
        const char *cursor = json_string_value(json_object_get(params, "cursor"));
        if (strcmp(key, "agent:main:b") == 0) {
            g_pages++;
            fake_res(f, id,
                     "{\"sessionId\":\"s2\",\"hasMore\":false,\"deltaCursor\":\"b1\","
                     "\"messages\":[" MSG_CLI3 "]}");
        } else if (cursor) {
            g_deltas++;
            assert_string_equal(cursor, "c1");
            fake_res(f, id,
                     "{\"kind\":\"delta\",\"deltaCursor\":\"c2\",\"messages\":[{\"sessionKey\":"
                     "\"agent:main:a\",\"message\":" MSG_CLI3 ",\"messageId\":\"c3\","
                     "\"messageSeq\":3}]}");
        } else {
            g_pages++;
            fake_res(f, id,
                     "{\"sessionId\":\"s1\",\"hasMore\":false,\"deltaCursor\":\"c1\","
                     "\"messages\":[" MSG_USER1 "," MSG_ASSIST1 "]}");
        }
    }
    json_decref(root);
}

/* ---- the test --------------------------------------------------------------- */

struct rows {
    int n;
    char text[16][96];
};

struct env {
    uv_loop_t loop;
    struct fake f;
    struct cl_wsc_ctx *wsc;
    struct cl_gw *gw;
    struct cl_gw_identity id;
    struct cl_chat_store *cs;
    struct cl_chat_mirror *m;
    char dir[64];
    int ends, messages, threads;
    char last_end_run[64];
    size_t froms[8]; /* each delta's `from`, in order */
    int nfroms;
};

static void h_thread(void *ud, int64_t id)
{
    struct env *e = ud;
    (void)id;
    e->threads++;
}

static void h_message(void *ud, int64_t id)
{
    struct env *e = ud;
    (void)id;
    e->messages++;
}

static int on_stored(const struct cl_chat_message *m, void *arg)
{
    snprintf(arg, 64, "%.*s", (int)m->content_len, m->content_md);
    return 0;
}

/* Each delta: its `from`, and whether the streaming row holds the text so
 * far (written whole, or only its increment appended). */
static void h_delta(void *ud, int64_t th, const char *run, const char *text, size_t from)
{
    struct env *e = ud;
    char stored[64] = "";
    cl_chat_message_by_run(e->cs, th, run, "assistant", on_stored, stored);
    if (strcmp(stored, text) != 0)
        fail_msg("the streaming row holds \"%s\", the reply so far is \"%s\"", stored, text);
    if (e->nfroms < 8)
        e->froms[e->nfroms++] = from;
}

static void h_run_end(void *ud, int64_t th, const char *run, int64_t mid)
{
    struct env *e = ud;
    (void)th;
    (void)mid;
    e->ends++;
    snprintf(e->last_end_run, sizeof e->last_end_run, "%s", run);
}

static int nrows(struct env *e, const char *key);

/* Runs the loop until done(e) or 10 s. */
static void run_until(struct env *e, bool (*done)(struct env *e))
{
    uint64_t end = uv_now(&e->loop) + 10000;
    while (!done(e) && uv_now(&e->loop) < end)
        uv_run(&e->loop, UV_RUN_ONCE);
    if (!done(e))
        fail_msg("stuck: subscribes %d lists %d msg_subs %d pages %d deltas %d rows a %d b %d "
                 "ends %d busy %d",
                 g_subscribes, g_lists, g_msg_subs, g_pages, g_deltas, nrows(e, "agent:main:a"),
                 nrows(e, "agent:main:b"), e->ends, cl_chat_mirror_busy(e->m));
}

static int on_msg(const struct cl_chat_message *m, void *arg)
{
    struct rows *r = arg;
    if (r->n < 16)
        snprintf(r->text[r->n++], sizeof r->text[0], "%s|%s|%s|%s|%s|%lld", m->gateway_id, m->role,
                 m->content_md, cl_chat_state_name(m->state), m->sender_user_id, (long long)m->seq);
    return 0;
}

static struct rows rows_of(struct env *e, const char *key)
{
    struct rows r = {0};
    int64_t th;
    if (cl_chat_thread_find(e->cs, key, &th) == 0)
        cl_chat_message_list(e->cs, th, 0, 50, on_msg, &r);
    return r;
}

static int nrows(struct env *e, const char *key)
{
    return rows_of(e, key).n;
}

static bool imported(struct env *e)
{
    return rows_of(e, "agent:main:a").n == 2 && !cl_chat_mirror_busy(e->m);
}

static bool caught_up(struct env *e)
{
    return g_deltas == 1 && rows_of(e, "agent:main:a").n == 5 && !cl_chat_mirror_busy(e->m);
}

static bool b_imported(struct env *e)
{
    return rows_of(e, "agent:main:b").n == 1 && !cl_chat_mirror_busy(e->m);
}

static int e_ends_target;
static bool ended(struct env *e)
{
    return e->ends >= e_ends_target;
}

static int on_title(const struct cl_chat_thread *t, void *arg)
{
    snprintf(arg, 64, "%s", t->title);
    return 0;
}

static void test_import_follow_and_catch_up(void **state)
{
    static const struct cl_chat_mirror_hooks hooks = {
        .thread = h_thread, .message = h_message, .delta = h_delta, .run_end = h_run_end};
    struct env *e = calloc(1, sizeof *e);
    struct cl_gw_settings set;
    struct cl_chat_sync sync;
    struct rows r;
    char err[256], title[64];
    int64_t th;
    (void)state;

    cl_log_set_level(CL_LOG_ERROR);
    snprintf(e->dir, sizeof e->dir, "/tmp/cl-mirror-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    setenv("XDG_DATA_HOME", e->dir, 1);
    assert_int_equal(cl_chat_store_open(NULL, &e->cs, err, sizeof err), 0);

    memset(&set, 0, sizeof set);
    uv_loop_init(&e->loop);
    int port = fake_listen(&e->loop, &e->f);
    set.configured = true;
    snprintf(set.url, sizeof set.url, "ws://127.0.0.1:%d", port);
    snprintf(set.token, sizeof set.token, "t");
    snprintf(set.client_id, sizeof set.client_id, "cli");
    snprintf(set.client_mode, sizeof set.client_mode, "cli");
    crypto_sign_keypair(e->id.pk, e->id.sk);
    cl_gw_identity_derive(&e->id);
    assert_int_equal(cl_wsc_ctx_new(&e->loop, false, NULL, &e->wsc, err, sizeof err), 0);
    assert_int_equal(cl_gw_new(&e->loop, e->wsc, &set, &e->id, NULL, 0, &e->gw, err, sizeof err),
                     0);
    struct cl_chat_mirror_hooks h = hooks;
    h.ud = e;
    assert_int_equal(cl_chat_mirror_new(e->gw, e->cs, &h, &e->m), 0);

    /* our own send, stored before the gateway has it (chat_api does this) */
    assert_int_equal(cl_chat_thread_upsert(e->cs, 0, "agent:main:a", NULL, &th), 0);
    struct cl_chat_message_in mine = {.gateway_id = "run:k1:user",
                                      .role = "user",
                                      .content_md = "hello",
                                      .run_id = "k1",
                                      .state = CL_CHAT_FINAL,
                                      .sender_user_id = "user-7"};
    assert_int_equal(cl_chat_message_upsert(e->cs, th, &mine, NULL), 0);

    /* 1. the pass: subscribe, list, subscribe to the session, one page */
    cl_gw_start(e->gw);
    run_until(e, imported);
    assert_int_equal(g_subscribes, 1);
    assert_int_equal(g_lists, 1);
    assert_int_equal(g_msg_subs, 1);
    assert_int_equal(g_pages, 1);
    r = rows_of(e, "agent:main:a");
    assert_string_equal(r.text[0], "u1|user|hello|final|user-7|1"); /* adopted, sender kept */
    assert_string_equal(r.text[1], "a1|assistant|hi there|final||2");
    assert_int_equal(cl_chat_thread_sync_get(e->cs, th, &sync), 0);
    assert_string_equal(sync.session_id, "s1");
    assert_string_equal(sync.cursor, "c1");
    assert_int_equal(cl_chat_thread_get(e->cs, th, on_title, title), 0);
    assert_string_equal(title, "Alpha");

    /* 2. a reply streamed, then final, then its transcript entry: one row */
    g_seq = 10;
    fake_event(&e->f, "chat",
               "{\"runId\":\"r9\",\"sessionKey\":\"agent:main:a\",\"seq\":1,\"state\":\"delta\","
               "\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
               "\"text\":\"par\"}]}}",
               g_seq++);
    /* deltas that only append say how much the previous one had; a
     * replace, or a text that does not end with the increment, does not */
    fake_event(&e->f, "chat",
               "{\"runId\":\"r9\",\"sessionKey\":\"agent:main:a\",\"seq\":2,\"state\":\"delta\","
               "\"deltaText\":\"tial\",\"message\":{\"role\":\"assistant\",\"content\":[{"
               "\"type\":\"text\",\"text\":\"partial\"}]}}",
               g_seq++);
    fake_event(&e->f, "chat",
               "{\"runId\":\"r9\",\"sessionKey\":\"agent:main:a\",\"seq\":3,\"state\":\"delta\","
               "\"deltaText\":\" d\",\"replace\":true,\"message\":{\"role\":\"assistant\","
               "\"content\":[{\"type\":\"text\",\"text\":\"partial d\"}]}}",
               g_seq++);
    fake_event(&e->f, "chat",
               "{\"runId\":\"r9\",\"sessionKey\":\"agent:main:a\",\"seq\":4,\"state\":\"delta\","
               "\"deltaText\":\"zz\",\"message\":{\"role\":\"assistant\",\"content\":[{"
               "\"type\":\"text\",\"text\":\"partial do\"}]}}",
               g_seq++);
    fake_event(&e->f, "chat",
               "{\"runId\":\"r9\",\"sessionKey\":\"agent:main:a\",\"seq\":5,\"state\":\"delta\","
               "\"deltaText\":\"ne\",\"message\":{\"role\":\"assistant\",\"content\":[{"
               "\"type\":\"text\",\"text\":\"partial done\"}]}}",
               g_seq++);
    fake_event(&e->f, "chat",
               "{\"runId\":\"r9\",\"sessionKey\":\"agent:main:a\",\"seq\":6,\"state\":\"final\","
               "\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
               "\"text\":\"partial done\"}]}}",
               g_seq++);
    e_ends_target = 1;
    run_until(e, ended);
    assert_string_equal(e->last_end_run, "r9");
    assert_int_equal(e->nfroms, 5);
    assert_int_equal(e->froms[0], 0);  /* no deltaText */
    assert_int_equal(e->froms[1], 3);  /* "par" + "tial" */
    assert_int_equal(e->froms[2], 0);  /* replace */
    assert_int_equal(e->froms[3], 0);  /* does not end with "zz" */
    assert_int_equal(e->froms[4], 10); /* "partial do" + "ne" */
    fake_event(&e->f, "session.message",
               "{\"sessionKey\":\"agent:main:a\",\"sessionId\":\"s1\",\"messageId\":\"m9\","
               "\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
               "\"text\":\"partial done\"}],\"__openclaw\":{\"id\":\"m9\",\"seq\":5,"
               "\"runId\":\"r9\"}}}",
               g_seq++);
    /* the other order: the entry first, then the final event */
    fake_event(&e->f, "session.message",
               "{\"sessionKey\":\"agent:main:a\",\"sessionId\":\"s1\",\"messageId\":\"m8\","
               "\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
               "\"text\":\"stored first\"}],\"__openclaw\":{\"id\":\"m8\",\"seq\":6,"
               "\"runId\":\"r8\"}}}",
               g_seq++);
    fake_event(&e->f, "chat",
               "{\"runId\":\"r8\",\"sessionKey\":\"agent:main:a\",\"seq\":9,\"state\":\"final\","
               "\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
               "\"text\":\"stored first\"}]}}",
               g_seq++);
    e_ends_target = 2;
    run_until(e, ended);
    r = rows_of(e, "agent:main:a");
    assert_int_equal(r.n, 4);
    assert_string_equal(r.text[2], "m9|assistant|partial done|final||5");
    assert_string_equal(r.text[3], "m8|assistant|stored first|final||6");

    /* 3. a gap in the frame seq: the pass again, caught up by the cursor,
     * nothing twice */
    g_seq += 5;
    fake_event(&e->f, "health", "{}", g_seq++);
    run_until(e, caught_up);
    assert_int_equal(g_subscribes, 2);
    assert_int_equal(g_pages, 1); /* no page read again */
    r = rows_of(e, "agent:main:a");
    assert_string_equal(r.text[2], "c3|user|from the cli|final||3");
    assert_int_equal(cl_chat_thread_sync_get(e->cs, th, &sync), 0);
    assert_string_equal(sync.cursor, "c2");

    /* 4. a new session announced: imported */
    fake_event(&e->f, "sessions.changed",
               "{\"sessionKey\":\"agent:main:b\",\"reason\":\"create\",\"sessionId\":\"s2\"}",
               g_seq++);
    run_until(e, b_imported);
    assert_int_equal(g_msg_subs, 2); /* once per key per connection */

    cl_chat_mirror_free(e->m);
    cl_gw_close(e->gw);
    cl_gw_destroy(e->gw);
    cl_wsc_ctx_destroy(e->wsc);
    if (e->f.have_conn)
        uv_close((uv_handle_t *)&e->f.conn, NULL);
    uv_close((uv_handle_t *)&e->f.server, NULL);
    for (int i = 0; i < 10 && !cl_wsc_ctx_destroyed(e->wsc); i++) {
        for (int k = 0; k < 1000 && uv_run(&e->loop, UV_RUN_NOWAIT) != 0; k++)
            ;
        cl_wsc_ctx_destroy(e->wsc);
    }
    for (int k = 0; k < 1000 && uv_run(&e->loop, UV_RUN_NOWAIT) != 0; k++)
        ;
    cl_gw_free(e->gw);
    cl_wsc_ctx_free(e->wsc);
    cl_gw_identity_wipe(&e->id);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    cl_chat_store_close(e->cs);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    assert_int_equal(system(cmd), 0);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_import_follow_and_catch_up),
    };
    cl_json_init();
    if (cl_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
