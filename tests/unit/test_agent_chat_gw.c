/*
 * Unit tests for src/agent/chat_gw.c, fed the frames a real OpenClaw
 * gateway (2026.9.6) sent (tests/unit/fixtures/gw/, captured as
 * docs/chat.md says): history pages and deltas, an aborted reply, the
 * `session.message` entries, `chat` events of every state; then hand-made
 * shapes from the gateway's schema the fake model does not produce (tool
 * calls, tool results, errors, reset) and malformed or oversized input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/chat_gw.h"
#include "core/err.h"
#include "core/json.h"

static json_t *fixture(const char *name)
{
    char path[512];
    json_error_t e;
    json_t *v;

    snprintf(path, sizeof path, "%s/gw/%s", CL_FIXTURES_DIR, name);
    v = json_load_file(path, 0, &e);
    if (!v)
        fail_msg("%s: %s (line %d)", path, e.text, e.line);
    return v;
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_ALLOW_NUL, &e);
    if (!v)
        fail_msg("bad test JSON: %s", e.text);
    return v;
}

static void test_history_page(void **state)
{
    json_t *p = fixture("history_page.json");
    struct cl_chat_gw_history h;
    char why[128] = "";
    (void)state;

    assert_int_equal(cl_chat_gw_history(p, &h, why, sizeof why), 0);
    assert_false(h.delta);
    assert_false(h.reset);
    assert_true(h.has_more);
    assert_int_equal(h.next_offset, 2);
    assert_string_equal(h.session_id, "3f1b83c5-088f-478e-ade9-fe6bad072c70");
    assert_non_null(h.delta_cursor);
    assert_int_equal(h.n, 2);
    /* the user's message: string content, its idempotency key, no run */
    assert_string_equal(h.msgs[0].role, "user");
    assert_string_equal(h.msgs[0].text, "second *question*");
    assert_string_equal(h.msgs[0].id, "4c8bbd91-4c4f-4fe6-a3e5-ec3cc3d59c1c");
    assert_int_equal(h.msgs[0].seq, 3);
    assert_string_equal(h.msgs[0].idem_key, "idem-0002:user");
    assert_string_equal(h.msgs[0].run_id, "");
    assert_int_equal(h.msgs[0].timestamp_ms, 1796626015522LL);
    assert_null(h.msgs[0].usage);
    assert_int_equal(h.msgs[0].state, CL_CHAT_GW_FINAL);
    /* the reply: text blocks, run id, usage */
    assert_string_equal(h.msgs[1].role, "assistant");
    assert_string_equal(h.msgs[1].text, "Hello **from** the fake model.");
    assert_string_equal(h.msgs[1].run_id, "idem-0002");
    assert_int_equal(h.msgs[1].seq, 4);
    assert_non_null(h.msgs[1].usage);
    assert_non_null(strstr(h.msgs[1].usage, "\"totalTokens\":5"));
    assert_null(h.msgs[1].tool_calls);
    assert_int_equal(h.msgs[1].state, CL_CHAT_GW_FINAL);
    cl_chat_gw_history_clear(&h);
    json_decref(p);
}

static void test_history_aborted(void **state)
{
    json_t *p = fixture("history_aborted.json");
    struct cl_chat_gw_history h;
    char why[128] = "";
    (void)state;

    assert_int_equal(cl_chat_gw_history(p, &h, why, sizeof why), 0);
    assert_false(h.has_more);
    assert_int_equal(h.next_offset, -1);
    assert_int_equal(h.n, 2);
    /* stored with stopReason "stop": openclawAbort makes it aborted */
    assert_int_equal(h.msgs[1].state, CL_CHAT_GW_ABORTED);
    assert_string_equal(h.msgs[1].text, "A slow reply that will be stop");
    assert_string_equal(h.msgs[1].run_id, "idem-0003");
    assert_string_equal(h.msgs[1].idem_key, "idem-0003:assistant");
    assert_string_equal(cl_chat_gw_state_name(h.msgs[1].state), "aborted");
    cl_chat_gw_history_clear(&h);
    json_decref(p);
}

static void test_history_delta(void **state)
{
    json_t *p = fixture("history_delta.json");
    struct cl_chat_gw_history h;
    char why[128] = "";
    (void)state;

    assert_int_equal(cl_chat_gw_history(p, &h, why, sizeof why), 0);
    assert_true(h.delta);
    assert_false(h.reset);
    assert_int_equal(h.n, 3);
    assert_non_null(h.delta_cursor);
    for (size_t i = 0; i < h.n; i++) {
        assert_int_equal(h.msgs[i].seq, (long long)i + 2);
        assert_true(h.msgs[i].id[0] != 0);
    }
    assert_string_equal(h.msgs[0].run_id, "idem-0001");
    assert_string_equal(h.msgs[1].role, "user");
    cl_chat_gw_history_clear(&h);
    json_decref(p);

    p = parse("{\"kind\":\"reset\"}");
    assert_int_equal(cl_chat_gw_history(p, &h, why, sizeof why), 0);
    assert_true(h.delta && h.reset);
    assert_int_equal(h.n, 0);
    cl_chat_gw_history_clear(&h);
    json_decref(p);
}

/* one bad entry in a history answer is skipped and counted; the others
 * are read (an import must not stall on one message) */
static void test_history_skips_bad_entries(void **state)
{
    struct cl_chat_gw_history h;
    char why[160] = "";
    json_t *v;
    (void)state;

    v = parse("{\"sessionId\":\"s\",\"messages\":[{\"role\":\"user\",\"content\":\"one\","
              "\"__openclaw\":{\"id\":\"a\",\"seq\":1}},{\"role\":1},\"x\","
              "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"two\"}],"
              "\"__openclaw\":{\"id\":\"b\",\"seq\":4}}]}");
    assert_int_equal(cl_chat_gw_history(v, &h, why, sizeof why), 0);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.skipped, 2);
    assert_non_null(strstr(why, "message 1: role"));
    assert_string_equal(h.msgs[0].text, "one");
    assert_string_equal(h.msgs[1].id, "b");
    assert_int_equal(h.msgs[1].seq, 4);
    cl_chat_gw_history_clear(&h);
    json_decref(v);

    /* delta mode: the envelope's messageId and messageSeq fill in */
    v = parse("{\"kind\":\"delta\",\"messages\":[\"x\",{\"messageId\":7},"
              "{\"message\":{\"role\":\"user\",\"content\":\"hi\"},\"messageId\":\"m9\","
              "\"messageSeq\":9}],\"deltaCursor\":\"c\"}");
    assert_int_equal(cl_chat_gw_history(v, &h, why, sizeof why), 0);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.skipped, 2);
    assert_string_equal(h.msgs[0].id, "m9");
    assert_int_equal(h.msgs[0].seq, 9);
    assert_string_equal(h.delta_cursor, "c");
    cl_chat_gw_history_clear(&h);
    json_decref(v);
}

static void test_session_message_events(void **state)
{
    static const char *const files[] = {"event_session_message_user.json",
                                        "event_session_message_assistant.json"};
    char why[128] = "";
    (void)state;

    for (size_t i = 0; i < 2; i++) {
        json_t *ev = fixture(files[i]);
        json_t *pl = json_object_get(ev, "payload");
        struct cl_chat_gw_msg m;

        assert_int_equal(cl_chat_gw_message(json_object_get(pl, "message"), &m, why, sizeof why),
                         0);
        /* the entry's own id and seq are the event's messageId/messageSeq */
        assert_string_equal(m.id, json_string_value(json_object_get(pl, "messageId")));
        assert_int_equal(m.seq, json_integer_value(json_object_get(pl, "messageSeq")));
        assert_string_equal(m.role, i == 0 ? "user" : "assistant");
        assert_true(m.text[0] != 0);
        cl_chat_gw_msg_clear(&m);
        json_decref(ev);
    }
}

static void test_chat_events(void **state)
{
    struct {
        const char *file;
        enum cl_chat_gw_state state;
        const char *text, *delta, *stop, *phase;
    } cases[] = {
        {"event_chat_status.json", CL_CHAT_GW_STATUS, NULL, NULL, "", "preparing_workspace"},
        {"event_chat_delta.json", CL_CHAT_GW_STREAMING, "Hello **from** t", "from** t", "", ""},
        {"event_chat_final.json", CL_CHAT_GW_FINAL, "Hello **from** the fake model.", NULL, "stop",
         ""},
        {"event_chat_aborted.json", CL_CHAT_GW_ABORTED, "A slow reply that will be stop", NULL,
         "rpc", ""},
    };
    char why[128] = "";
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *ev = fixture(cases[i].file);
        struct cl_chat_gw_event e;

        assert_int_equal(cl_chat_gw_event(json_object_get(ev, "payload"), &e, why, sizeof why), 0);
        assert_int_equal(e.state, cases[i].state);
        assert_true(strncmp(e.run_id, "idem-000", 8) == 0);
        assert_true(strncmp(e.session_key, "agent:main:", 11) == 0);
        assert_true(e.seq > 0);
        if (cases[i].text)
            assert_string_equal(e.text, cases[i].text);
        else
            assert_null(e.text);
        if (cases[i].delta)
            assert_string_equal(e.delta, cases[i].delta);
        else
            assert_null(e.delta);
        assert_string_equal(e.stop_reason, cases[i].stop);
        assert_string_equal(e.phase, cases[i].phase);
        assert_false(e.replace);
        cl_chat_gw_event_clear(&e);
        json_decref(ev);
    }
}

/* shapes from the gateway's schema that the fake model does not make */
static void test_schema_shapes(void **state)
{
    struct cl_chat_gw_msg m;
    struct cl_chat_gw_event e;
    char why[128] = "";
    json_t *v;
    (void)state;

    v = parse(
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\"},"
        "{\"type\":\"text\",\"text\":\"Let me look.\"},{\"type\":\"toolCall\",\"id\":\"call_1\","
        "\"name\":\"read\",\"arguments\":{\"path\":\"/tmp/"
        "x\"}},{\"type\":\"text\",\"text\":\"Done.\"}],"
        "\"timestamp\":1.5e3,\"__openclaw\":{\"id\":\"m1\",\"seq\":7,\"runId\":\"r1\"}}");
    assert_int_equal(cl_chat_gw_message(v, &m, why, sizeof why), 0);
    assert_string_equal(m.text, "Let me look.\nDone.");
    assert_string_equal(m.tool_calls, "[{\"type\":\"toolCall\",\"id\":\"call_1\",\"name\":\"read\","
                                      "\"arguments\":{\"path\":\"/tmp/x\"}}]");
    assert_int_equal(m.timestamp_ms, 1500);
    cl_chat_gw_msg_clear(&m);
    json_decref(v);

    v = parse("{\"role\":\"toolResult\",\"toolCallId\":\"call_1\",\"toolName\":\"read\","
              "\"content\":[{\"type\":\"text\",\"text\":\"contents\"}],\"isError\":false}");
    assert_int_equal(cl_chat_gw_message(v, &m, why, sizeof why), 0);
    assert_string_equal(m.role, "toolResult");
    assert_string_equal(m.tool_call_id, "call_1");
    assert_string_equal(m.text, "contents");
    assert_string_equal(m.id, "");
    assert_int_equal(m.seq, 0);
    cl_chat_gw_msg_clear(&m);
    json_decref(v);

    v = parse("{\"role\":\"assistant\",\"content\":[],\"stopReason\":\"error\","
              "\"errorMessage\":\"boom\"}");
    assert_int_equal(cl_chat_gw_message(v, &m, why, sizeof why), 0);
    assert_int_equal(m.state, CL_CHAT_GW_ERROR);
    assert_string_equal(m.text, "");
    cl_chat_gw_msg_clear(&m);
    json_decref(v);

    v = parse("{\"runId\":\"r\",\"sessionKey\":\"agent:main:main\",\"seq\":3,\"state\":\"error\","
              "\"errorMessage\":\"provider down\",\"errorKind\":\"rate_limit\","
              "\"usage\":{\"input\":1}}");
    assert_int_equal(cl_chat_gw_event(v, &e, why, sizeof why), 0);
    assert_int_equal(e.state, CL_CHAT_GW_ERROR);
    assert_string_equal(e.error_message, "provider down");
    assert_string_equal(e.error_kind, "rate_limit");
    assert_string_equal(e.usage, "{\"input\":1}");
    cl_chat_gw_event_clear(&e);
    json_decref(v);

    v = parse("{\"runId\":\"r\",\"sessionKey\":\"k\",\"seq\":4,\"state\":\"delta\","
              "\"deltaText\":\"\",\"replace\":true,\"message\":{\"content\":\"all new\"}}");
    assert_int_equal(cl_chat_gw_event(v, &e, why, sizeof why), 0);
    assert_true(e.replace);
    assert_string_equal(e.text, "all new");
    assert_string_equal(e.delta, "");
    cl_chat_gw_event_clear(&e);
    json_decref(v);
}

static void test_refused(void **state)
{
    static const char *const msgs[] = {
        "[]",
        "{\"content\":\"no role\"}",
        "{\"role\":7}",
        "{\"role\":\"user\",\"content\":42}",
        "{\"role\":\"user\",\"content\":[1]}",
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}",
        "{\"role\":\"user\",\"content\":\"a\\u0000b\"}",
        "{\"role\":\"user\",\"__openclaw\":[]}",
        "{\"role\":\"user\",\"__openclaw\":{\"seq\":\"1\"}}",
        "{\"role\":\"user\",\"usage\":\"lots\"}",
        "{\"role\":\"user\",\"timestamp\":1e300}",
    };
    static const char *const events[] = {
        "{\"sessionKey\":\"k\",\"state\":\"delta\"}",
        "{\"runId\":\"r\",\"sessionKey\":\"k\",\"state\":\"finished\"}",
        "{\"runId\":\"r\",\"sessionKey\":\"k\",\"state\":\"delta\",\"deltaText\":3}",
        "{\"runId\":\"r\",\"sessionKey\":\"k\",\"state\":\"final\",\"message\":\"x\"}",
    };
    static const char *const histories[] = {
        "{\"messages\":{}}",
        "{\"kind\":\"full\",\"messages\":[]}",
        "{\"messages\":[],\"nextOffset\":-1}",
    };
    struct cl_chat_gw_msg m;
    struct cl_chat_gw_event e;
    struct cl_chat_gw_history h;
    char why[128];
    (void)state;

    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        json_t *v = parse(msgs[i]);
        why[0] = 0;
        assert_int_equal(cl_chat_gw_message(v, &m, why, sizeof why), CL_EINVAL);
        assert_true(why[0] != 0);
        assert_null(m.text);
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        json_t *v = parse(events[i]);
        why[0] = 0;
        assert_int_equal(cl_chat_gw_event(v, &e, why, sizeof why), CL_EINVAL);
        assert_true(why[0] != 0);
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof histories / sizeof histories[0]; i++) {
        json_t *v = parse(histories[i]);
        why[0] = 0;
        assert_int_equal(cl_chat_gw_history(v, &h, why, sizeof why), CL_EINVAL);
        assert_true(why[0] != 0);
        assert_int_equal(h.n, 0);
        assert_null(h.msgs);
        json_decref(v);
    }
}

static void test_limits(void **state)
{
    struct cl_chat_gw_msg m;
    struct cl_chat_gw_history h;
    char why[128];
    char *big = malloc(CL_CHAT_GW_TEXT_MAX + 2);
    json_t *v, *arr;
    (void)state;

    assert_non_null(big);
    /* an id one byte over its limit */
    memset(big, 'i', CL_CHAT_GW_ID_MAX + 1);
    big[CL_CHAT_GW_ID_MAX + 1] = 0;
    v = json_pack("{s:s, s:{s:s}}", "role", "user", "__openclaw", "id", big);
    assert_int_equal(cl_chat_gw_message(v, &m, why, sizeof why), CL_EINVAL);
    assert_non_null(strstr(why, "too long"));
    json_decref(v);
    big[CL_CHAT_GW_ID_MAX] = 0; /* at the limit: accepted */
    v = json_pack("{s:s, s:{s:s}}", "role", "user", "__openclaw", "id", big);
    assert_int_equal(cl_chat_gw_message(v, &m, why, sizeof why), 0);
    assert_int_equal(strlen(m.id), CL_CHAT_GW_ID_MAX);
    cl_chat_gw_msg_clear(&m);
    json_decref(v);

    /* text: at the limit accepted; two blocks joined over it refused */
    memset(big, 't', CL_CHAT_GW_TEXT_MAX);
    big[CL_CHAT_GW_TEXT_MAX] = 0;
    v = json_pack("{s:s, s:s}", "role", "user", "content", big);
    assert_int_equal(cl_chat_gw_message(v, &m, why, sizeof why), 0);
    assert_int_equal(strlen(m.text), CL_CHAT_GW_TEXT_MAX);
    cl_chat_gw_msg_clear(&m);
    json_decref(v);
    big[CL_CHAT_GW_TEXT_MAX / 2 + 1] = 0;
    v = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "role", "assistant", "content", "type",
                  "text", "text", big, "type", "text", "text", big);
    assert_int_equal(cl_chat_gw_message(v, &m, why, sizeof why), CL_EINVAL);
    assert_non_null(strstr(why, "too long"));
    json_decref(v);

    /* more messages than a history answer may hold */
    arr = json_array();
    for (int i = 0; i <= CL_CHAT_GW_HISTORY_MAX; i++)
        json_array_append_new(arr, json_pack("{s:s}", "role", "user"));
    v = json_pack("{s:o}", "messages", arr);
    assert_int_equal(cl_chat_gw_history(v, &h, why, sizeof why), CL_EINVAL);
    assert_non_null(strstr(why, "too many"));
    json_array_remove(arr, 0);
    assert_int_equal(cl_chat_gw_history(v, &h, why, sizeof why), 0);
    assert_int_equal(h.n, CL_CHAT_GW_HISTORY_MAX);
    cl_chat_gw_history_clear(&h);
    json_decref(v);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_page),
        cmocka_unit_test(test_history_aborted),
        cmocka_unit_test(test_history_delta),
        cmocka_unit_test(test_history_skips_bad_entries),
        cmocka_unit_test(test_session_message_events),
        cmocka_unit_test(test_chat_events),
        cmocka_unit_test(test_schema_shapes),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_limits),
    };
    cl_json_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
