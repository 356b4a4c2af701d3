/*
 * Unit tests for src/core/proto.c: decoding PrivaClaw's v1 messages as
 * written in docs/protocol.md (seed 001, Appendix B), encode/decode round
 * trips, every class of malformed input, and the hand-formatted stdout
 * hot path (cl_msg_encode_data).
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

#include "core/err.h"
#include "core/json.h"
#include "core/proto.h"
#include "core/secret.h"

#define UUID1 "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
#define UUID2 "0a0b0c0d-1e1f-4a2b-9c3d-4e5f6a7b8c9d"

static char err[256];

/* Decodes a C string; asserts the return code. */
static int dec(const char *text, struct cl_msg *m)
{
    err[0] = 0;
    return cl_msg_decode(text, strlen(text), m, err, sizeof err);
}

static void expect_fail(const char *text, int code)
{
    struct cl_msg m;
    int rc = dec(text, &m);
    if (rc != code)
        print_error("input: %s\nrc=%d err=%s\n", text, rc, err);
    assert_int_equal(rc, code);
    assert_true(strlen(err) > 0);
    assert_null(m.data); /* nothing to free after a failure */
    cl_msg_clear(&m);
}

/* ---- decoding each message type ------------------------------------------ */

static void test_decode_hello(void **state)
{
    struct cl_msg m;
    (void)state;
    assert_int_equal(dec("{\"type\": \"hello\", \"data\": {\"device_id\": \"" UUID1 "\","
                         " \"token\": \"device-token\", \"meta\": {\"name\": \"My Server\"}}}",
                         &m),
                     0);
    assert_int_equal(m.type, CL_MSG_HELLO);
    assert_string_equal(m.device_id, UUID1);
    assert_string_equal(m.token, "device-token");
    assert_string_equal(m.name, "My Server");
    cl_msg_clear(&m);
    assert_string_equal(m.token, ""); /* wiped */

    /* meta is optional, and may be null */
    assert_int_equal(
        dec("{\"type\":\"hello\",\"data\":{\"device_id\":\"dev-1\",\"token\":\"t\"}}", &m), 0);
    assert_string_equal(m.device_id, "dev-1");
    assert_string_equal(m.name, "");
    cl_msg_clear(&m);
    assert_int_equal(dec("{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"t\","
                         "\"meta\":null}}",
                         &m),
                     0);
    cl_msg_clear(&m);
}

/* ---- PrivaClaw's peers as they are (issue 13) ------------------------------ */

/* Encodes m and decodes the text again into back. */
static char *reencode(const struct cl_msg *m, struct cl_msg *back)
{
    size_t len = 0;
    char *text = cl_msg_encode(m, &len);
    assert_non_null(text);
    assert_int_equal(cl_msg_decode(text, len, back, err, sizeof err), 0);
    return text;
}

static void test_skill_hello(void **state)
{
    struct cl_msg m, back;
    char *text;
    (void)state;
    /* the skill names its device node_id and says what it is in meta.kind */
    assert_int_equal(dec("{\"type\":\"hello\",\"data\":{\"node_id\":\"" UUID1 "\","
                         "\"token\":\"tok\",\"meta\":{\"kind\":\"openclaw\"}}}",
                         &m),
                     0);
    assert_string_equal(m.device_id, UUID1);
    assert_string_equal(m.kind, "openclaw");
    assert_null(m.json); /* nothing beyond name and kind */
    assert_int_equal(m.proto, 0);
    text = reencode(&m, &back); /* sent back as device_id, kind kept */
    assert_non_null(strstr(text, "\"device_id\":\"" UUID1 "\""));
    assert_string_equal(back.kind, "openclaw");
    free(text);
    cl_msg_clear(&back);
    cl_msg_clear(&m);

    /* device_id wins over node_id; an unusable kind is ignored, not refused */
    assert_int_equal(dec("{\"type\":\"hello\",\"data\":{\"device_id\":\"a\",\"node_id\":\"b\","
                         "\"token\":\"t\",\"meta\":{\"kind\":42}}}",
                         &m),
                     0);
    assert_string_equal(m.device_id, "a");
    assert_string_equal(m.kind, "");
    cl_msg_clear(&m);
    assert_int_equal(dec("{\"type\":\"hello\",\"data\":{\"node_id\":\"b\",\"token\":\"t\","
                         "\"meta\":{\"kind\":\"a-kind-name-longer-than-sixteen\"}}}",
                         &m),
                     0);
    assert_string_equal(m.kind, "");
    cl_msg_clear(&m);
    /* node_id is checked as any id */
    expect_fail("{\"type\":\"hello\",\"data\":{\"node_id\":\"a b\",\"token\":\"t\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"hello\",\"data\":{\"node_id\":\"a\"}}", CL_EINVAL);
}

static void test_hello_meta_kept_within_limits(void **state)
{
    struct cl_msg m, back;
    char big[CL_DEVICE_META_MAX + 200], *text;
    (void)state;
    assert_int_equal(
        dec("{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"t\",\"proto\":2,"
            "\"meta\":{\"name\":\"box\",\"hostname\":\"h1\",\"uptime\":12,"
            "\"load\":0.5,\"nested\":{\"a\":1},\"list\":[1],\"flag\":true,"
            "\"nil\":null,\"bad key\":\"v\",\"ctl\":\"a\\nb\",\"os\":\"Linux 6.1\"}}}",
            &m),
        0);
    assert_string_equal(m.name, "box");
    assert_string_equal(m.json,
                        "{\"hostname\":\"h1\",\"uptime\":12,\"load\":0.5,\"os\":\"Linux 6.1\"}");
    text = reencode(&m, &back);
    assert_string_equal(back.json, m.json);
    assert_string_equal(back.name, "box");
    free(text);
    cl_msg_clear(&back);
    cl_msg_clear(&m);

    /* a meta over CL_DEVICE_META_MAX: the hello is refused */
    memset(big, 0, sizeof big);
    snprintf(big, sizeof big,
             "{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"t\","
             "\"meta\":{\"blob\":\"");
    memset(big + strlen(big), 'x', CL_DEVICE_META_MAX);
    strcat(big, "\"}}}");
    expect_fail(big, CL_EINVAL);
    assert_non_null(strstr(err, "larger than"));
}

static void test_meta_update(void **state)
{
    struct cl_msg m, back;
    char *text, buf[4096];
    size_t n;
    (void)state;
    assert_int_equal(CL_MSG_META_UPDATE, 26);
    assert_int_equal(CL_MSG_RESPONSE, 27);
    assert_int_equal(
        dec("{\"type\":\"meta_update\",\"data\":{\"shell\":\"/bin/zsh\",\"os\":\"linux\","
            "\"cpus\":8,\"env\":{\"A\":\"1\"}}}",
            &m),
        0);
    assert_int_equal(m.type, CL_MSG_META_UPDATE);
    assert_string_equal(m.json, "{\"shell\":\"/bin/zsh\",\"os\":\"linux\",\"cpus\":8}");
    text = reencode(&m, &back);
    assert_string_equal(back.json, m.json);
    free(text);
    cl_msg_clear(&back);
    cl_msg_clear(&m);

    /* only the first CL_DEVICE_META_FIELDS usable fields are kept */
    n = (size_t)snprintf(buf, sizeof buf, "{\"type\":\"meta_update\",\"data\":{");
    for (int i = 0; i < CL_DEVICE_META_FIELDS + 5; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    snprintf(buf + n, sizeof buf - n, "}}");
    assert_int_equal(dec(buf, &m), 0);
    {
        json_t *o = json_loads(m.json, 0, NULL);
        assert_int_equal(json_object_size(o), CL_DEVICE_META_FIELDS);
        assert_non_null(json_object_get(o, "k0"));
        assert_null(json_object_get(o, "k32"));
        json_decref(o);
    }
    cl_msg_clear(&m);

    /* nothing usable: no json; no data at all: refused */
    assert_int_equal(dec("{\"type\":\"meta_update\",\"data\":{\"a\":[1]}}", &m), 0);
    assert_null(m.json);
    cl_msg_clear(&m);
    expect_fail("{\"type\":\"meta_update\"}", CL_EINVAL);
    expect_fail("{\"type\":\"meta_update\",\"data\":[1]}", CL_EINVAL);
}

static void test_skill_response_envelope(void **state)
{
    struct cl_msg m;
    (void)state;
    assert_int_equal(
        dec("{\"type\":\"response\",\"data\":{\"type\":\"token\",\"request_id\":\"r1\","
            "\"content\":\"Hel\"}}",
            &m),
        0);
    assert_int_equal(m.type, CL_MSG_TOKEN);
    assert_string_equal(m.request_id, "r1");
    assert_string_equal(m.text, "Hel");
    cl_msg_clear(&m);

    assert_int_equal(
        dec("{\"type\":\"response\",\"data\":{\"type\":\"done\",\"request_id\":\"r1\"}}", &m), 0);
    assert_int_equal(m.type, CL_MSG_DONE);
    assert_null(m.json);
    cl_msg_clear(&m);

    assert_int_equal(
        dec("{\"type\":\"response\",\"data\":{\"type\":\"status\",\"request_id\":\"r2\","
            "\"node_id\":\"n\",\"uptime\":5,\"active_tasks\":1,\"last_error\":null,"
            "\"connection_state\":\"online\"}}",
            &m),
        0);
    assert_int_equal(m.type, CL_MSG_STATUS);
    assert_true(m.has_health);
    assert_int_equal(m.uptime, 5);
    assert_int_equal(m.node_state, CL_NODE_ONLINE);
    cl_msg_clear(&m);

    assert_int_equal(
        dec("{\"type\":\"response\",\"data\":{\"type\":\"error\",\"request_id\":\"r3\","
            "\"message\":\"boom\"}}",
            &m),
        0);
    assert_int_equal(m.type, CL_MSG_ERROR);
    assert_string_equal(m.request_id, "r3");
    assert_string_equal(m.message, "boom");
    assert_string_equal(m.code, "");
    cl_msg_clear(&m);

    /* only those four; the inner message is checked as its type */
    expect_fail("{\"type\":\"response\",\"data\":{\"type\":\"hello\",\"request_id\":\"r\"}}",
                CL_EPROTO);
    expect_fail("{\"type\":\"response\",\"data\":{\"type\":\"response\"}}", CL_EPROTO);
    expect_fail("{\"type\":\"response\",\"data\":{\"request_id\":\"r\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"response\"}", CL_EINVAL);
    expect_fail("{\"type\":\"response\",\"data\":{\"type\":\"token\",\"request_id\":\"r\"}}",
                CL_EINVAL);
}

static void test_skill_requests(void **state)
{
    struct cl_msg m, back;
    size_t len = 0;
    char *text;
    (void)state;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_PROMPT;
    snprintf(m.request_id, sizeof m.request_id, "rq-1");
    m.text = (char *)"say \"hi\"";
    m.text_len = strlen(m.text);
    text = cl_msg_encode_skill(&m, &len);
    assert_string_equal(text, "{\"type\":\"prompt\",\"data\":{\"request_id\":\"rq-1\","
                              "\"data\":{\"prompt\":\"say \\\"hi\\\"\"}}}");
    assert_int_equal(cl_msg_decode(text, len, &back, err, sizeof err), 0); /* read back */
    assert_string_equal(back.text, m.text);
    assert_string_equal(back.request_id, "rq-1");
    cl_msg_clear(&back);
    free(text);

    m.type = CL_MSG_WORKFLOW;
    m.text = NULL;
    snprintf(m.key, sizeof m.key, "nightly");
    m.json = (char *)"{\"depth\":2}";
    text = cl_msg_encode_skill(&m, &len);
    assert_string_equal(text, "{\"type\":\"workflow\",\"data\":{\"request_id\":\"rq-1\","
                              "\"data\":{\"workflow_id\":\"nightly\",\"params\":{\"depth\":2}}}}");
    assert_int_equal(cl_msg_decode(text, len, &back, err, sizeof err), 0);
    assert_string_equal(back.key, "nightly");
    assert_string_equal(back.json, "{\"depth\":2}");
    cl_msg_clear(&back);
    free(text);
    m.json = NULL; /* no params: an empty object for the skill */
    text = cl_msg_encode_skill(&m, &len);
    assert_non_null(strstr(text, "\"params\":{}"));
    free(text);

    m.type = CL_MSG_RESTART; /* request_id only, as ours */
    text = cl_msg_encode_skill(&m, &len);
    assert_string_equal(text, "{\"type\":\"restart\",\"data\":{\"request_id\":\"rq-1\"}}");
    free(text);
}

static void test_decode_control_without_data(void **state)
{
    static const struct {
        const char *text;
        enum cl_msg_type type;
    } cases[] = {
        {"{\"type\": \"hello_ok\"}", CL_MSG_HELLO_OK},
        {"{\"type\": \"auth_ok\"}", CL_MSG_AUTH_OK},
        {"{\"type\": \"ping\"}", CL_MSG_PING},
        {"{\"type\": \"pong\", \"data\": {}}", CL_MSG_PONG},
        {"{\"type\": \"pong\", \"data\": null}", CL_MSG_PONG},
        {" \n{\"type\":\"hello_ok\"}\n ", CL_MSG_HELLO_OK},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cl_msg m;
        assert_int_equal(dec(cases[i].text, &m), 0);
        assert_int_equal(m.type, cases[i].type);
        assert_null(m.data);
        cl_msg_clear(&m);
    }
}

static void test_decode_auth(void **state)
{
    struct cl_msg m;
    (void)state;
    assert_int_equal(dec("{\"type\":\"auth\",\"data\":{\"token\":\"supabase-jwt\",\"session_id\":"
                         "\"" UUID1 "\",\"device_id\":\"" UUID2 "\"}}",
                         &m),
                     0);
    assert_int_equal(m.type, CL_MSG_AUTH);
    assert_string_equal(m.token, "supabase-jwt");
    assert_string_equal(m.session_id, UUID1);
    assert_string_equal(m.device_id, UUID2);
    cl_msg_clear(&m);
}

static void test_decode_session_start_and_resize(void **state)
{
    struct cl_msg m;
    (void)state;
    assert_int_equal(dec("{\"type\":\"session_start\",\"data\":{\"session_id\":\"" UUID1 "\","
                         "\"cols\":120,\"rows\":40}}",
                         &m),
                     0);
    assert_int_equal(m.type, CL_MSG_SESSION_START);
    assert_string_equal(m.session_id, UUID1);
    assert_int_equal(m.cols, 120);
    assert_int_equal(m.rows, 40);
    cl_msg_clear(&m);

    /* size is optional on session_start: 80x24 */
    assert_int_equal(dec("{\"type\":\"session_start\",\"data\":{\"session_id\":\"s\"}}", &m), 0);
    assert_int_equal(m.cols, 80);
    assert_int_equal(m.rows, 24);
    cl_msg_clear(&m);

    assert_int_equal(dec("{\"type\":\"resize\",\"data\":{\"session_id\":\"" UUID1 "\","
                         "\"cols\":1000,\"rows\":1}}",
                         &m),
                     0);
    assert_int_equal(m.type, CL_MSG_RESIZE);
    assert_int_equal(m.cols, 1000);
    assert_int_equal(m.rows, 1);
    cl_msg_clear(&m);

    assert_int_equal(
        dec("{\"type\":\"session_started\",\"data\":{\"session_id\":\"" UUID1 "\"}}", &m), 0);
    assert_int_equal(m.type, CL_MSG_SESSION_STARTED);
    assert_string_equal(m.session_id, UUID1);
    cl_msg_clear(&m);
}

static void test_decode_stdin_stdout(void **state)
{
    struct cl_msg m;
    (void)state;
    assert_int_equal(dec("{\"type\":\"stdin\",\"data\":{\"session_id\":\"" UUID1 "\","
                         "\"data_b64\":\"bHMgLWxhDQ==\"}}",
                         &m),
                     0);
    assert_int_equal(m.type, CL_MSG_STDIN);
    assert_int_equal(m.data_len, 7);
    assert_memory_equal(m.data, "ls -la\r", 7);
    assert_false(m.has_offset);
    cl_msg_clear(&m);
    assert_null(m.data);

    assert_int_equal(dec("{\"type\":\"stdout\",\"data\":{\"session_id\":\"" UUID1 "\","
                         "\"data_b64\":\"AP8Kgg==\",\"offset\":4096}}",
                         &m),
                     0);
    assert_int_equal(m.type, CL_MSG_STDOUT);
    assert_int_equal(m.data_len, 4);
    assert_memory_equal(m.data, "\x00\xff\n\x82", 4);
    assert_true(m.has_offset);
    assert_int_equal(m.offset, 4096);
    cl_msg_clear(&m);

    /* PrivaClaw's stdout has no offset */
    assert_int_equal(dec("{\"type\":\"stdout\",\"data\":{\"session_id\":\"s\",\"data_b64\":"
                         "\"aGk=\"}}",
                         &m),
                     0);
    assert_false(m.has_offset);
    assert_int_equal(m.data_len, 2);
    cl_msg_clear(&m);
}

static void test_decode_session_end_and_error(void **state)
{
    struct cl_msg m;
    (void)state;
    assert_int_equal(dec("{\"type\":\"session_end\",\"data\":{\"session_id\":\"" UUID1 "\","
                         "\"reason\":\"exit\"}}",
                         &m),
                     0);
    assert_int_equal(m.type, CL_MSG_SESSION_END);
    assert_string_equal(m.reason, "exit");
    assert_false(m.has_exit_code);
    cl_msg_clear(&m);

    assert_int_equal(dec("{\"type\":\"session_end\",\"data\":{\"session_id\":\"" UUID1 "\","
                         "\"reason\":\"exit\",\"exit_code\":0}}",
                         &m),
                     0);
    assert_true(m.has_exit_code);
    assert_int_equal(m.exit_code, 0);
    cl_msg_clear(&m);

    assert_int_equal(dec("{\"type\":\"session_end\",\"data\":{\"session_id\":\"s\","
                         "\"reason\":\"user_disconnect\",\"exit_code\":137}}",
                         &m),
                     0);
    assert_string_equal(m.reason, "user_disconnect");
    assert_int_equal(m.exit_code, 137);
    cl_msg_clear(&m);

    assert_int_equal(dec("{\"type\":\"error\",\"data\":{\"message\":\"device is offline\","
                         "\"code\":\"device_offline\"}}",
                         &m),
                     0);
    assert_int_equal(m.type, CL_MSG_ERROR);
    assert_string_equal(m.message, "device is offline");
    assert_string_equal(m.code, "device_offline");
    cl_msg_clear(&m);
}

static void test_decode_ignores_extra_fields(void **state)
{
    struct cl_msg m;
    (void)state;
    assert_int_equal(dec("{\"type\":\"resize\",\"v\":2,\"data\":{\"session_id\":\"s\","
                         "\"cols\":10,\"rows\":5,\"extra\":[1,{\"x\":null}]}}",
                         &m),
                     0);
    assert_int_equal(m.cols, 10);
    cl_msg_clear(&m);
}

/* ---- errors ---------------------------------------------------------------- */

static void test_decode_malformed_json(void **state)
{
    (void)state;
    expect_fail("", CL_EINVAL);
    expect_fail("{", CL_EINVAL);
    expect_fail("{\"type\":\"ping\"", CL_EINVAL);
    expect_fail("{\"type\":\"ping\"}}", CL_EINVAL);
    expect_fail("{'type':'ping'}", CL_EINVAL);
    expect_fail("{\"type\":\"ping\",}", CL_EINVAL);
    expect_fail("{\"type\":\"ping\"} {\"type\":\"ping\"}", CL_EINVAL);
    expect_fail("{\"type\":\"\\ud800\"}", CL_EINVAL); /* lone surrogate */
    expect_fail("{\"type\":\"p\xffng\"}", CL_EINVAL); /* invalid UTF-8 */
    expect_fail("{\"type\":\"hello\",\"data\":{\"device_id\":\"a\\u0000b\",\"token\":\"t\"}}",
                CL_EINVAL);
}

static void test_decode_non_object(void **state)
{
    (void)state;
    expect_fail("[]", CL_EINVAL);
    expect_fail("[{\"type\":\"ping\"}]", CL_EINVAL);
    expect_fail("\"ping\"", CL_EINVAL);
    expect_fail("42", CL_EINVAL);
    expect_fail("null", CL_EINVAL);
    expect_fail("{\"type\":\"ping\",\"data\":[]}", CL_EINVAL);
    expect_fail("{\"type\":\"ping\",\"data\":\"x\"}", CL_EINVAL);
}

static void test_decode_unknown_type(void **state)
{
    struct cl_msg m;
    (void)state;
    expect_fail("{\"type\":\"subscribe\",\"data\":{}}", CL_EPROTO);
    expect_fail("{\"type\":\"HELLO\"}", CL_EPROTO);
    expect_fail("{\"type\":\"hello \"}", CL_EPROTO);
    assert_int_equal(dec("{\"type\":\"launch_missiles\"}", &m), CL_EPROTO);
    assert_int_equal(m.type, CL_MSG_UNKNOWN);
    assert_non_null(strstr(err, "launch_missiles"));
    cl_msg_clear(&m);
    /* a missing or non-string type is malformed, not unknown */
    expect_fail("{\"data\":{}}", CL_EINVAL);
    expect_fail("{\"type\":7}", CL_EINVAL);
    expect_fail("{\"type\":null}", CL_EINVAL);
    expect_fail("{\"type\":\"\"}", CL_EINVAL);
}

static void test_decode_missing_fields(void **state)
{
    struct cl_msg m;
    (void)state;
    expect_fail("{\"type\":\"hello\",\"data\":{\"token\":\"t\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"hello\",\"data\":{\"device_id\":\"d\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"hello\"}", CL_EINVAL);
    expect_fail("{\"type\":\"auth\",\"data\":{\"token\":\"t\",\"device_id\":\"d\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"auth\",\"data\":{\"token\":\"t\",\"session_id\":\"s\"}}", CL_EINVAL);
    /* auth without a token decodes: the relay may use the session cookie */
    assert_int_equal(
        dec("{\"type\":\"auth\",\"data\":{\"session_id\":\"s\",\"device_id\":\"d\"}}", &m), 0);
    assert_string_equal(m.token, "");
    cl_msg_clear(&m);
    expect_fail("{\"type\":\"session_start\",\"data\":{\"cols\":80,\"rows\":24}}", CL_EINVAL);
    expect_fail("{\"type\":\"session_started\",\"data\":{}}", CL_EINVAL);
    expect_fail("{\"type\":\"stdin\",\"data\":{\"session_id\":\"s\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"stdout\",\"data\":{\"data_b64\":\"aGk=\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"resize\",\"data\":{\"session_id\":\"s\",\"cols\":80}}", CL_EINVAL);
    expect_fail("{\"type\":\"resize\",\"data\":{\"session_id\":\"s\",\"rows\":24}}", CL_EINVAL);
    expect_fail("{\"type\":\"session_end\",\"data\":{\"reason\":\"exit\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"session_end\"}", CL_EINVAL);
    /* empty required strings count as missing */
    expect_fail("{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"\"}}", CL_EINVAL);

    /* the type is still reported when it was recognised */
    assert_int_equal(dec("{\"type\":\"auth\",\"data\":{\"token\":\"secret\"}}", &m), CL_EINVAL);
    assert_int_equal(m.type, CL_MSG_AUTH);
    assert_string_equal(m.token, ""); /* and the token did not linger */
    assert_non_null(strstr(err, "session_id"));
    cl_msg_clear(&m);
}

static void test_decode_wrong_types(void **state)
{
    (void)state;
    expect_fail("{\"type\":\"resize\",\"data\":{\"session_id\":\"s\",\"cols\":\"80\",\"rows\":24}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"resize\",\"data\":{\"session_id\":\"s\",\"cols\":80.5,\"rows\":24}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"resize\",\"data\":{\"session_id\":5,\"cols\":80,\"rows\":24}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"resize\",\"data\":{\"session_id\":\"s\",\"cols\":true,\"rows\":24}}",
                CL_EINVAL);
    expect_fail(
        "{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"t\",\"meta\":\"x\"}}",
        CL_EINVAL);
    expect_fail("{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"t\","
                "\"meta\":{\"name\":3}}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"hello\",\"data\":{\"device_id\":[\"d\"],\"token\":\"t\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"stdin\",\"data\":{\"session_id\":\"s\",\"data_b64\":[]}}", CL_EINVAL);
    expect_fail("{\"type\":\"stdout\",\"data\":{\"session_id\":\"s\",\"data_b64\":\"aGk=\","
                "\"offset\":\"12\"}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"stdout\",\"data\":{\"session_id\":\"s\",\"data_b64\":\"aGk=\","
                "\"offset\":-1}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"session_end\",\"data\":{\"session_id\":\"s\",\"exit_code\":\"1\"}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"session_end\",\"data\":{\"session_id\":\"s\",\"exit_code\":256}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"session_end\",\"data\":{\"session_id\":\"s\",\"reason\":1}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"error\",\"data\":{\"message\":{}}}", CL_EINVAL);
}

static void test_decode_invalid_base64(void **state)
{
    static const char *bad[] = {
        "aGk",      /* no padding */
        "aGk=aGk=", /* padding in the middle */
        "a===",     /* too much padding */
        "aG k=",    /* whitespace */
        "aGk=\\n",  /* escaped newline */
        "aGk_",     /* url-safe alphabet */
        "@@@@",     /* not the alphabet */
        "====",
    };
    char text[256];
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text,
                 "{\"type\":\"stdin\",\"data\":{\"session_id\":\"s\",\"data_b64\":\"%s\"}}",
                 bad[i]);
        expect_fail(text, CL_EINVAL);
    }
}

static void test_decode_bad_ids(void **state)
{
    char text[512], id[CL_ID_MAX + 2];
    struct cl_msg m;
    (void)state;
    expect_fail("{\"type\":\"session_started\",\"data\":{\"session_id\":\"a\\\"b\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"session_started\",\"data\":{\"session_id\":\"a\\\\b\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"session_started\",\"data\":{\"session_id\":\"a b\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"session_started\",\"data\":{\"session_id\":\"a/b\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"session_started\",\"data\":{\"session_id\":\"\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"session_started\",\"data\":{\"session_id\":\"\xc3\xa9\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"hello\",\"data\":{\"device_id\":\"d<script>\",\"token\":\"t\"}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"auth\",\"data\":{\"token\":\"t\",\"session_id\":\"s\","
                "\"device_id\":\"d\\\"\"}}",
                CL_EINVAL);

    /* CL_ID_MAX characters pass, one more does not */
    memset(id, 'a', CL_ID_MAX);
    id[CL_ID_MAX] = 0;
    snprintf(text, sizeof text, "{\"type\":\"session_started\",\"data\":{\"session_id\":\"%s\"}}",
             id);
    assert_int_equal(dec(text, &m), 0);
    assert_string_equal(m.session_id, id);
    cl_msg_clear(&m);
    strcat(id, "a");
    snprintf(text, sizeof text, "{\"type\":\"session_started\",\"data\":{\"session_id\":\"%s\"}}",
             id);
    expect_fail(text, CL_EINVAL);

    assert_true(cl_proto_id_valid(UUID1));
    assert_true(cl_proto_id_valid("node:dev_01.prod-2"));
    assert_false(cl_proto_id_valid(""));
    assert_false(cl_proto_id_valid("a\"b"));
    assert_false(cl_proto_id_valid(id));
}

static void test_decode_size_range(void **state)
{
    static const char *bad[] = {"0", "-1", "1001", "100000000000", "99999999999999999999"};
    char text[256];
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text,
                 "{\"type\":\"resize\",\"data\":{\"session_id\":\"s\",\"cols\":%s,\"rows\":24}}",
                 bad[i]);
        expect_fail(text, CL_EINVAL);
        snprintf(text, sizeof text,
                 "{\"type\":\"session_start\",\"data\":{\"session_id\":\"s\",\"cols\":80,"
                 "\"rows\":%s}}",
                 bad[i]);
        expect_fail(text, CL_EINVAL);
    }
}

static void test_decode_duplicate_keys(void **state)
{
    (void)state;
    expect_fail("{\"type\":\"ping\",\"type\":\"pong\"}", CL_EINVAL);
    expect_fail("{\"type\":\"session_started\",\"data\":{\"session_id\":\"a\","
                "\"session_id\":\"b\"}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"ping\",\"data\":{},\"data\":{}}", CL_EINVAL);
}

static void test_decode_field_limits(void **state)
{
    char text[1024], tok[CL_TOKEN_MAX + 2], name[CL_NAME_MAX + 2];
    struct cl_msg m;
    (void)state;
    memset(tok, 't', CL_TOKEN_MAX);
    tok[CL_TOKEN_MAX] = 0;
    snprintf(text, sizeof text,
             "{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"%s\"}}", tok);
    assert_int_equal(dec(text, &m), 0);
    assert_string_equal(m.token, tok);
    cl_msg_clear(&m);
    strcat(tok, "t");
    snprintf(text, sizeof text,
             "{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"%s\"}}", tok);
    expect_fail(text, CL_EINVAL);

    memset(name, 'n', CL_NAME_MAX + 1);
    name[CL_NAME_MAX + 1] = 0;
    snprintf(text, sizeof text,
             "{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"t\","
             "\"meta\":{\"name\":\"%s\"}}}",
             name);
    expect_fail(text, CL_EINVAL);
}

/* ---- round trips -------------------------------------------------------------- */

static void roundtrip(const struct cl_msg *in, struct cl_msg *out)
{
    size_t len = 0;
    char *text = cl_msg_encode(in, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    int rc = cl_msg_decode(text, len, out, err, sizeof err);
    if (rc != 0)
        print_error("encoded: %s\nerr: %s\n", text, err);
    assert_int_equal(rc, 0);
    free(text);
    assert_int_equal(out->type, in->type);
}

static void test_roundtrip_all_types(void **state)
{
    struct cl_msg in, out;
    uint8_t bytes[300];
    (void)state;
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i * 7);

    memset(&in, 0, sizeof in);
    in.type = CL_MSG_HELLO;
    strcpy(in.device_id, UUID1);
    strcpy(in.token, "cld_abcdef");
    strcpy(in.name, "büro \"box\"");
    roundtrip(&in, &out);
    assert_string_equal(out.device_id, UUID1);
    assert_string_equal(out.token, "cld_abcdef");
    assert_string_equal(out.name, "büro \"box\"");
    cl_msg_clear(&out);

    memset(&in, 0, sizeof in);
    in.type = CL_MSG_AUTH;
    strcpy(in.token, "clu_x");
    strcpy(in.session_id, UUID1);
    strcpy(in.device_id, UUID2);
    roundtrip(&in, &out);
    assert_string_equal(out.token, "clu_x");
    assert_string_equal(out.session_id, UUID1);
    assert_string_equal(out.device_id, UUID2);
    cl_msg_clear(&out);

    for (int t = CL_MSG_SESSION_START; t <= CL_MSG_RESIZE;
         t += CL_MSG_RESIZE - CL_MSG_SESSION_START) {
        memset(&in, 0, sizeof in);
        in.type = (enum cl_msg_type)t;
        strcpy(in.session_id, UUID1);
        in.cols = 211;
        in.rows = 57;
        roundtrip(&in, &out);
        assert_string_equal(out.session_id, UUID1);
        assert_int_equal(out.cols, 211);
        assert_int_equal(out.rows, 57);
        cl_msg_clear(&out);
    }

    memset(&in, 0, sizeof in);
    in.type = CL_MSG_SESSION_STARTED;
    strcpy(in.session_id, "s-1");
    roundtrip(&in, &out);
    assert_string_equal(out.session_id, "s-1");
    cl_msg_clear(&out);

    for (int t = CL_MSG_STDIN; t <= CL_MSG_STDOUT; t++) {
        memset(&in, 0, sizeof in);
        in.type = (enum cl_msg_type)t;
        strcpy(in.session_id, UUID2);
        in.data = bytes;
        in.data_len = sizeof bytes;
        in.has_offset = t == CL_MSG_STDOUT;
        in.offset = 1234567890123ULL;
        roundtrip(&in, &out);
        assert_string_equal(out.session_id, UUID2);
        assert_int_equal(out.data_len, sizeof bytes);
        assert_memory_equal(out.data, bytes, sizeof bytes);
        assert_int_equal(out.has_offset, t == CL_MSG_STDOUT);
        if (out.has_offset)
            assert_int_equal(out.offset, 1234567890123ULL);
        cl_msg_clear(&out);
    }

    memset(&in, 0, sizeof in);
    in.type = CL_MSG_SESSION_END;
    strcpy(in.session_id, UUID1);
    strcpy(in.reason, "exit");
    in.has_exit_code = true;
    in.exit_code = 130;
    roundtrip(&in, &out);
    assert_string_equal(out.reason, "exit");
    assert_true(out.has_exit_code);
    assert_int_equal(out.exit_code, 130);
    cl_msg_clear(&out);
    in.has_exit_code = false;
    roundtrip(&in, &out);
    assert_false(out.has_exit_code);
    cl_msg_clear(&out);

    memset(&in, 0, sizeof in);
    in.type = CL_MSG_ERROR;
    strcpy(in.message, "line\nbreak \"quoted\" \\ back");
    strcpy(in.code, "bad_message");
    roundtrip(&in, &out);
    assert_string_equal(out.message, "line\nbreak \"quoted\" \\ back");
    assert_string_equal(out.code, "bad_message");
    cl_msg_clear(&out);

    for (int t = CL_MSG_HELLO_OK; t < CL_MSG__COUNT; t++) {
        if (t != CL_MSG_HELLO_OK && t != CL_MSG_AUTH_OK && t != CL_MSG_PING && t != CL_MSG_PONG)
            continue;
        memset(&in, 0, sizeof in);
        in.type = (enum cl_msg_type)t;
        roundtrip(&in, &out);
        cl_msg_clear(&out);
    }
}

static void test_roundtrip_empty_data(void **state)
{
    struct cl_msg in, out;
    (void)state;
    memset(&in, 0, sizeof in);
    in.type = CL_MSG_STDIN;
    strcpy(in.session_id, "s");
    roundtrip(&in, &out);
    assert_int_equal(out.data_len, 0);
    cl_msg_clear(&out);
}

static void test_encode_unknown_type(void **state)
{
    struct cl_msg m;
    size_t len = 99;
    (void)state;
    memset(&m, 0, sizeof m);
    assert_null(cl_msg_encode(&m, &len));
    m.type = CL_MSG__COUNT;
    assert_null(cl_msg_encode(&m, &len));
}

static void test_encode_error_helper(void **state)
{
    struct cl_msg m;
    size_t len;
    char *text = cl_msg_encode_error("device_offline", "the device is offline", &len);
    (void)state;
    assert_non_null(text);
    assert_int_equal(dec(text, &m), 0);
    assert_int_equal(m.type, CL_MSG_ERROR);
    assert_string_equal(m.code, "device_offline");
    assert_string_equal(m.message, "the device is offline");
    cl_msg_clear(&m);
    free(text);
}

static void test_type_names(void **state)
{
    (void)state;
    for (int t = 1; t < CL_MSG__COUNT; t++) {
        const char *name = cl_msg_type_name((enum cl_msg_type)t);
        if (t > CL_MSG_STDIN_ACK && t < CL_MSG_CHAT_FIRST) {
            assert_null(name); /* numbers no type has */
            continue;
        }
        assert_non_null(name);
        assert_int_equal(cl_msg_type_from_name(name), t);
    }
    /* the numbering is part of the protocol (docs/protocol.md) */
    assert_string_equal(cl_msg_type_name(CL_MSG_HELLO), "hello");
    assert_string_equal(cl_msg_type_name(CL_MSG_STDOUT), "stdout");
    assert_int_equal(CL_MSG_STDOUT, 8);
    assert_int_equal(CL_MSG_PONG, 13);
    assert_null(cl_msg_type_name(CL_MSG_UNKNOWN));
    assert_null(cl_msg_type_name(CL_MSG__COUNT));
    assert_int_equal(cl_msg_type_from_name("nope"), CL_MSG_UNKNOWN);
    assert_int_equal(cl_msg_type_from_name(""), CL_MSG_UNKNOWN);
}

/* ---- session_title (28, issue 13) ------------------------------------------- */

static void test_session_title(void **state)
{
    struct cl_msg in, out;
    char big[CL_SESSION_TITLE_MAX + 64];
    (void)state;
    assert_int_equal(CL_MSG_SESSION_TITLE, 28);
    assert_string_equal(cl_msg_type_name(CL_MSG_SESSION_TITLE), "session_title");

    assert_int_equal(dec("{\"type\":\"session_title\",\"data\":{\"session_id\":\"s-1\","
                         "\"title\":\"vim \u00b7 ~/src\"}}",
                         &out),
                     0);
    assert_int_equal(out.type, CL_MSG_SESSION_TITLE);
    assert_string_equal(out.session_id, "s-1");
    assert_string_equal(out.title, "vim \xc2\xb7 ~/src");
    cl_msg_clear(&out);
    /* "" says nothing is known; it is not absent */
    assert_int_equal(
        dec("{\"type\":\"session_title\",\"data\":{\"session_id\":\"s\",\"title\":\"\"}}", &out),
        0);
    assert_string_equal(out.title, "");
    cl_msg_clear(&out);

    memset(&in, 0, sizeof in);
    in.type = CL_MSG_SESSION_TITLE;
    strcpy(in.session_id, "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f");
    strcpy(in.title, "bash \xc2\xb7 /tmp");
    roundtrip(&in, &out);
    assert_string_equal(out.session_id, in.session_id);
    assert_string_equal(out.title, in.title);
    cl_msg_clear(&out);

    expect_fail("{\"type\":\"session_title\",\"data\":{\"session_id\":\"s\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"session_title\",\"data\":{\"title\":\"bash\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"session_title\",\"data\":{\"session_id\":\"s\",\"title\":7}}",
                CL_EINVAL);
    /* control characters: C0, DEL, C1 (an escape sequence in a title) */
    expect_fail("{\"type\":\"session_title\",\"data\":{\"session_id\":\"s\","
                "\"title\":\"a\\u001b]0;x\"}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"session_title\",\"data\":{\"session_id\":\"s\","
                "\"title\":\"a\\u007f\"}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"session_title\",\"data\":{\"session_id\":\"s\","
                "\"title\":\"a\\u009b\"}}",
                CL_EINVAL);
    /* longer than CL_SESSION_TITLE_MAX bytes */
    memset(big, 'x', sizeof big);
    snprintf(big, sizeof big,
             "{\"type\":\"session_title\",\"data\":{\"session_id\":\"s\",\"title\":\"%0*d\"}}",
             CL_SESSION_TITLE_MAX + 1, 0);
    expect_fail(big, CL_EINVAL);
    assert_true(cl_proto_label_valid("vim \xc2\xb7 ~/src \xc2\xa0"));
    assert_false(cl_proto_label_valid("tab\there"));
}

/* ---- OpenClaw node messages (18-25) ----------------------------------------- */

static void test_node_numbering(void **state)
{
    (void)state;
    /* appended after 17; the numbers are part of the protocol */
    assert_int_equal(CL_MSG_PROMPT, 18);
    assert_int_equal(CL_MSG_STATUS, 19);
    assert_int_equal(CL_MSG_RESTART, 20);
    assert_int_equal(CL_MSG_WORKFLOW, 21);
    assert_int_equal(CL_MSG_TOKEN, 22);
    assert_int_equal(CL_MSG_DONE, 23);
    assert_int_equal(CL_MSG_HEARTBEAT, 24);
    assert_int_equal(CL_MSG_WORKFLOWS, 25);
    assert_string_equal(cl_msg_type_name(CL_MSG_HEARTBEAT), "heartbeat");
    assert_string_equal(cl_node_state_name(CL_NODE_RECONNECTING), "reconnecting");
    assert_string_equal(cl_cap_name(CL_CAP_RESTART), "restart");
    assert_null(cl_cap_name(CL_CAP_CHAT | CL_CAP_STATUS));
    assert_int_equal(cl_cap_from_name("workflow"), CL_CAP_WORKFLOW);
    assert_int_equal(cl_cap_from_name("remote_chat"), 0);
    assert_false(CL_CAP_DEFAULT & CL_CAP_RESTART);
}

static void test_decode_prompt(void **state)
{
    struct cl_msg m;
    (void)state;
    assert_int_equal(dec("{\"type\":\"prompt\",\"data\":{\"request_id\":\"r-1\","
                         "\"prompt\":\"hello \\u00e9\",\"session_key\":\"work\"}}",
                         &m),
                     0);
    assert_int_equal(m.type, CL_MSG_PROMPT);
    assert_string_equal(m.request_id, "r-1");
    assert_string_equal(m.text, "hello \xc3\xa9");
    assert_int_equal(m.text_len, 8);
    assert_string_equal(m.key, "work");
    cl_msg_clear(&m);
    assert_int_equal(
        dec("{\"type\":\"prompt\",\"data\":{\"request_id\":\"r-1\",\"prompt\":\"x\"}}", &m), 0);
    assert_string_equal(m.key, "");
    cl_msg_clear(&m);
    expect_fail("{\"type\":\"prompt\",\"data\":{\"prompt\":\"x\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"prompt\",\"data\":{\"request_id\":\"r-1\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"prompt\",\"data\":{\"request_id\":\"r-1\",\"prompt\":\"\"}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"prompt\",\"data\":{\"request_id\":\"r 1\",\"prompt\":\"x\"}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"prompt\",\"data\":{\"request_id\":\"r-1\",\"prompt\":7}}", CL_EINVAL);
    expect_fail("{\"type\":\"prompt\"}", CL_EINVAL);
}

static void test_decode_prompt_limit(void **state)
{
    size_t n = CL_NODE_PROMPT_MAX + 1;
    char *text = malloc(n + 100), *p;
    struct cl_msg m;
    (void)state;
    p = text + sprintf(text, "{\"type\":\"prompt\",\"data\":{\"request_id\":\"r\",\"prompt\":\"");
    memset(p, 'a', n);
    strcpy(p + n, "\"}}");
    assert_int_equal(cl_msg_decode(text, strlen(text), &m, err, sizeof err), CL_EINVAL);
    assert_null(m.text);
    cl_msg_clear(&m);
    /* exactly at the limit is fine */
    strcpy(p + n - 1, "\"}}");
    assert_int_equal(cl_msg_decode(text, strlen(text), &m, err, sizeof err), 0);
    assert_int_equal(m.text_len, CL_NODE_PROMPT_MAX);
    cl_msg_clear(&m);
    free(text);
}

static void test_decode_health(void **state)
{
    struct cl_msg m;
    (void)state;
    assert_int_equal(dec("{\"type\":\"heartbeat\",\"data\":{\"node_id\":\"" UUID1
                         "\",\"uptime\":3600,"
                         "\"active_tasks\":2,\"last_error\":null,\"connection_state\":\"online\","
                         "\"capabilities\":[\"chat\",\"status\",\"future\"]}}",
                         &m),
                     0);
    assert_int_equal(m.type, CL_MSG_HEARTBEAT);
    assert_true(m.has_health);
    assert_string_equal(m.device_id, UUID1);
    assert_int_equal(m.uptime, 3600);
    assert_int_equal(m.active_tasks, 2);
    assert_false(m.has_last_error);
    assert_int_equal(m.node_state, CL_NODE_ONLINE);
    assert_int_equal(m.caps, CL_CAP_CHAT | CL_CAP_STATUS); /* unknown names ignored */
    cl_msg_clear(&m);
    /* the skill's own heartbeat (no capabilities) */
    assert_int_equal(dec("{\"type\":\"heartbeat\",\"data\":{\"node_id\":\"my-node\",\"uptime\":0,"
                         "\"active_tasks\":0,\"last_error\":\"boom\","
                         "\"connection_state\":\"reconnecting\"}}",
                         &m),
                     0);
    assert_true(m.has_last_error);
    assert_string_equal(m.last_error, "boom");
    assert_int_equal(m.node_state, CL_NODE_RECONNECTING);
    cl_msg_clear(&m);
    /* status from the relay: only the id; from an agent: the payload */
    assert_int_equal(dec("{\"type\":\"status\",\"data\":{\"request_id\":\"q1\"}}", &m), 0);
    assert_false(m.has_health);
    cl_msg_clear(&m);
    assert_int_equal(dec("{\"type\":\"status\",\"data\":{\"request_id\":\"q1\",\"node_id\":\"n\","
                         "\"uptime\":5,\"active_tasks\":0,\"last_error\":null,"
                         "\"connection_state\":\"offline\"}}",
                         &m),
                     0);
    assert_true(m.has_health);
    assert_int_equal(m.node_state, CL_NODE_OFFLINE);
    cl_msg_clear(&m);
    expect_fail(
        "{\"type\":\"heartbeat\",\"data\":{\"node_id\":\"n\",\"uptime\":1,\"active_tasks\":0,"
        "\"connection_state\":\"sleeping\"}}",
        CL_EINVAL);
    expect_fail(
        "{\"type\":\"heartbeat\",\"data\":{\"node_id\":\"n\",\"uptime\":-1,\"active_tasks\":0,"
        "\"connection_state\":\"online\"}}",
        CL_EINVAL);
    expect_fail(
        "{\"type\":\"heartbeat\",\"data\":{\"node_id\":\"n\",\"uptime\":1,\"active_tasks\":0,"
        "\"connection_state\":\"online\",\"capabilities\":\"chat\"}}",
        CL_EINVAL);
    expect_fail("{\"type\":\"heartbeat\",\"data\":{\"uptime\":1,\"active_tasks\":0,"
                "\"connection_state\":\"online\"}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"status\",\"data\":{}}", CL_EINVAL);
}

static void test_decode_token_done_workflow(void **state)
{
    struct cl_msg m;
    (void)state;
    assert_int_equal(
        dec("{\"type\":\"token\",\"data\":{\"request_id\":\"r\",\"content\":\"\"}}", &m), 0);
    assert_string_equal(m.text, "");
    cl_msg_clear(&m);
    expect_fail("{\"type\":\"token\",\"data\":{\"request_id\":\"r\"}}", CL_EINVAL);
    assert_int_equal(dec("{\"type\":\"done\",\"data\":{\"request_id\":\"r\"}}", &m), 0);
    assert_null(m.json);
    cl_msg_clear(&m);
    assert_int_equal(
        dec("{\"type\":\"done\",\"data\":{\"request_id\":\"r\",\"result\":{\"a\":[1,2]}}}", &m), 0);
    assert_string_equal(m.json, "{\"a\":[1,2]}");
    cl_msg_clear(&m);
    expect_fail("{\"type\":\"done\",\"data\":{\"request_id\":\"r\",\"result\":[1]}}", CL_EINVAL);
    assert_int_equal(
        dec("{\"type\":\"workflow\",\"data\":{\"request_id\":\"r\",\"name\":\"nightly\","
            "\"params\":{\"mode\":\"due\"}}}",
            &m),
        0);
    assert_string_equal(m.key, "nightly");
    assert_string_equal(m.json, "{\"mode\":\"due\"}");
    cl_msg_clear(&m);
    expect_fail("{\"type\":\"workflow\",\"data\":{\"request_id\":\"r\"}}", CL_EINVAL);
    expect_fail(
        "{\"type\":\"workflow\",\"data\":{\"request_id\":\"r\",\"name\":\"n\",\"params\":3}}",
        CL_EINVAL);
    assert_int_equal(dec("{\"type\":\"workflows\",\"data\":{\"request_id\":\"r\"}}", &m), 0);
    cl_msg_clear(&m);
    assert_int_equal(dec("{\"type\":\"restart\",\"data\":{\"request_id\":\"r\"}}", &m), 0);
    cl_msg_clear(&m);
    expect_fail("{\"type\":\"restart\"}", CL_EINVAL);
    /* error may name a request */
    assert_int_equal(
        dec("{\"type\":\"error\",\"data\":{\"request_id\":\"r\",\"code\":\"capability_denied\","
            "\"message\":\"no\"}}",
            &m),
        0);
    assert_string_equal(m.request_id, "r");
    assert_string_equal(m.code, "capability_denied");
    cl_msg_clear(&m);
}

static void test_node_roundtrip(void **state)
{
    struct cl_msg in, out;
    (void)state;

    memset(&in, 0, sizeof in);
    in.type = CL_MSG_PROMPT;
    strcpy(in.request_id, "req-1");
    in.text = strdup("what \"is\" up?\n");
    in.text_len = strlen(in.text);
    strcpy(in.key, "main");
    roundtrip(&in, &out);
    assert_string_equal(out.text, in.text);
    assert_string_equal(out.key, "main");
    cl_msg_clear(&out);
    in.type = CL_MSG_TOKEN;
    roundtrip(&in, &out);
    assert_string_equal(out.text, in.text);
    cl_msg_clear(&out);
    free(in.text);

    memset(&in, 0, sizeof in);
    in.type = CL_MSG_HEARTBEAT;
    strcpy(in.device_id, UUID2);
    in.uptime = 12345;
    in.active_tasks = 3;
    in.has_last_error = true;
    strcpy(in.last_error, "gateway went away");
    in.node_state = CL_NODE_RECONNECTING;
    in.caps = CL_CAP_DEFAULT;
    in.has_health = true;
    roundtrip(&in, &out);
    assert_true(out.has_health);
    assert_string_equal(out.device_id, UUID2);
    assert_int_equal(out.uptime, 12345);
    assert_int_equal(out.active_tasks, 3);
    assert_string_equal(out.last_error, "gateway went away");
    assert_int_equal(out.node_state, CL_NODE_RECONNECTING);
    assert_int_equal(out.caps, CL_CAP_DEFAULT);
    cl_msg_clear(&out);
    in.type = CL_MSG_STATUS;
    strcpy(in.request_id, "s1");
    roundtrip(&in, &out);
    assert_true(out.has_health);
    assert_string_equal(out.request_id, "s1");
    cl_msg_clear(&out);

    memset(&in, 0, sizeof in);
    in.type = CL_MSG_DONE;
    strcpy(in.request_id, "d1");
    in.json = strdup("{\"workflows\":[{\"name\":\"x\"}]}");
    roundtrip(&in, &out);
    assert_string_equal(out.json, in.json);
    cl_msg_clear(&out);
    in.type = CL_MSG_WORKFLOW;
    strcpy(in.key, "x");
    roundtrip(&in, &out);
    assert_string_equal(out.key, "x");
    assert_string_equal(out.json, in.json);
    cl_msg_clear(&out);
    free(in.json);

    memset(&in, 0, sizeof in);
    in.type = CL_MSG_ERROR;
    strcpy(in.request_id, "e1");
    strcpy(in.code, "timeout");
    strcpy(in.message, "no answer");
    roundtrip(&in, &out);
    assert_string_equal(out.request_id, "e1");
    cl_msg_clear(&out);
}

/* ---- the hot path --------------------------------------------------------- */

static void check_encode_data(enum cl_msg_type type, const char *sid, const uint8_t *bytes,
                              size_t n, int64_t offset)
{
    size_t cap = cl_msg_data_encoded_max(strlen(sid), n);
    char *buf = malloc(cap);
    struct cl_msg m;
    json_t *root;
    json_error_t je;
    long len;

    assert_non_null(buf);
    len = cl_msg_encode_data(type, sid, bytes, n, offset, buf, cap);
    assert_true(len > 0);
    assert_true((size_t)len < cap);
    assert_int_equal(strlen(buf), (size_t)len);
    /* valid JSON by an independent parser, with exactly the fields expected */
    root = json_loadb(buf, (size_t)len, JSON_REJECT_DUPLICATES, &je);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "type")), cl_msg_type_name(type));
    assert_int_equal(json_object_size(json_object_get(root, "data")), offset >= 0 ? 3 : 2);
    json_decref(root);

    assert_int_equal(cl_msg_decode(buf, (size_t)len, &m, err, sizeof err), 0);
    assert_int_equal(m.type, type);
    assert_string_equal(m.session_id, sid);
    assert_int_equal(m.data_len, n);
    if (n)
        assert_memory_equal(m.data, bytes, n);
    if (type == CL_MSG_STDOUT) {
        assert_int_equal(m.has_offset, offset >= 0);
        if (offset >= 0)
            assert_int_equal(m.offset, (uint64_t)offset);
    }
    cl_msg_clear(&m);
    free(buf);
}

static void test_encode_data(void **state)
{
    uint8_t bytes[1024];
    char sid[CL_ID_MAX + 1];
    (void)state;
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(255 - i % 256);
    check_encode_data(CL_MSG_STDOUT, UUID1, bytes, sizeof bytes, 0);
    check_encode_data(CL_MSG_STDOUT, UUID1, bytes, 1, 987654321);
    check_encode_data(CL_MSG_STDOUT, UUID1, bytes, 2, INT64_MAX);
    check_encode_data(CL_MSG_STDOUT, UUID1, bytes, 3, -1);
    check_encode_data(CL_MSG_STDIN, "s", (const uint8_t *)"\x03", 1, -1);
    memset(sid, 'x', CL_ID_MAX);
    sid[CL_ID_MAX] = 0;
    check_encode_data(CL_MSG_STDOUT, sid, bytes, 100, INT64_MAX);
    for (size_t n = 1; n < 70; n++)
        check_encode_data(CL_MSG_STDOUT, "abc", bytes, n, (int64_t)n);
}

static void test_encode_data_short_buffer(void **state)
{
    char buf[4096];
    size_t need = cl_msg_data_encoded_max(CL_UUID_LEN, 100);
    uint8_t bytes[100] = {0};
    (void)state;
    assert_true(need < sizeof buf);
    assert_int_equal(cl_msg_encode_data(CL_MSG_STDOUT, UUID1, bytes, 100, 5, buf, need - 1),
                     CL_ELIMIT);
    assert_true(cl_msg_encode_data(CL_MSG_STDOUT, UUID1, bytes, 100, 5, buf, need) > 0);
    /* the estimate covers the largest offset */
    assert_true(cl_msg_encode_data(CL_MSG_STDOUT, UUID1, bytes, 100, INT64_MAX, buf, need) > 0);
}

static void test_flow_control_messages(void **state)
{
    struct cl_msg m;
    assert_int_equal(
        dec("{\"type\":\"ack\",\"data\":{\"session_id\":\"" UUID1 "\",\"offset\":4096}}", &m), 0);
    assert_int_equal(m.type, CL_MSG_ACK);
    assert_int_equal(m.offset, 4096);
    assert_false(m.has_viewers);
    cl_msg_clear(&m);
    assert_int_equal(dec("{\"type\":\"ack\",\"data\":{\"session_id\":\"" UUID1
                         "\",\"offset\":7,\"viewers\":2}}",
                         &m),
                     0);
    assert_true(m.has_viewers);
    assert_int_equal(m.viewers, 2);
    cl_msg_clear(&m);
    assert_int_equal(
        dec("{\"type\":\"replay\",\"data\":{\"session_id\":\"" UUID1 "\",\"offset\":0}}", &m), 0);
    assert_int_equal(m.type, CL_MSG_REPLAY);
    cl_msg_clear(&m);
    assert_int_equal(
        dec("{\"type\":\"gap\",\"data\":{\"session_id\":\"" UUID1 "\",\"from\":10,\"to\":90}}", &m),
        0);
    assert_int_equal(m.gap_from, 10);
    assert_int_equal(m.gap_to, 90);
    cl_msg_clear(&m);
    assert_int_equal(dec("{\"type\":\"restarting\"}", &m), 0);
    assert_int_equal(m.type, CL_MSG_RESTARTING);
    cl_msg_clear(&m);
    /* required fields, and a gap must not run backwards */
    expect_fail("{\"type\":\"ack\",\"data\":{\"session_id\":\"" UUID1 "\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"ack\",\"data\":{\"session_id\":\"" UUID1 "\",\"offset\":-1}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"gap\",\"data\":{\"session_id\":\"" UUID1 "\",\"from\":9,\"to\":3}}",
                CL_EINVAL);
}

static void test_hello_sessions_and_resume_offset_round_trip(void **state)
{
    struct cl_msg m, back;
    struct cl_msg_session ss[2] = {{UUID1, 123, 100, 1, 0, 0}, {UUID2, 0, 0, 0, 0, 0}};
    size_t len;
    char *text;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_HELLO;
    strcpy(m.device_id, UUID1);
    strcpy(m.token, "cld_x");
    m.sessions = ss;
    m.nsessions = 2;
    text = cl_msg_encode(&m, &len);
    assert_non_null(text);
    assert_int_equal(dec(text, &back), 0);
    assert_int_equal(back.nsessions, 2);
    assert_string_equal(back.sessions[0].session_id, UUID1);
    assert_int_equal(back.sessions[0].offset, 123);
    assert_int_equal(back.sessions[0].acked, 100);
    assert_int_equal(back.sessions[0].viewers, 1);
    assert_string_equal(back.sessions[1].session_id, UUID2);
    cl_msg_clear(&back);
    free(text);

    memset(&m, 0, sizeof m);
    m.type = CL_MSG_AUTH;
    strcpy(m.token, "clu_x");
    strcpy(m.session_id, UUID1);
    strcpy(m.device_id, UUID2);
    m.has_resume_offset = true;
    m.resume_offset = 1u << 20;
    text = cl_msg_encode(&m, &len);
    assert_int_equal(dec(text, &back), 0);
    assert_true(back.has_resume_offset);
    assert_int_equal(back.resume_offset, 1u << 20);
    cl_msg_clear(&back);
    free(text);
    /* a session list with a bad id or too many entries is refused */
    expect_fail("{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"t\","
                "\"sessions\":[{\"session_id\":\"a\\\"b\",\"offset\":1}]}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"t\","
                "\"sessions\":{}}}",
                CL_EINVAL);
}

/* ---- protocol v2 ------------------------------------------------------ */

static void test_proto_negotiation_fields(void **state)
{
    struct cl_msg m, back;
    (void)state;
    assert_int_equal(dec("{\"type\":\"hello\",\"data\":{\"device_id\":\"" UUID1
                         "\",\"token\":\"t\",\"proto\":2}}",
                         &m),
                     0);
    assert_int_equal(m.proto, 2);
    cl_msg_clear(&m);
    assert_int_equal(dec("{\"type\":\"auth\",\"data\":{\"token\":\"t\",\"session_id\":\"" UUID1
                         "\",\"device_id\":\"" UUID2 "\"}}",
                         &m),
                     0);
    assert_int_equal(m.proto, 0); /* absent: v1 */
    cl_msg_clear(&m);
    assert_int_equal(dec("{\"type\":\"auth_ok\",\"data\":{\"proto\":2}}", &m), 0);
    assert_int_equal(m.proto, 2);
    expect_fail("{\"type\":\"hello_ok\",\"data\":{\"proto\":0}}", CL_EINVAL);
    expect_fail("{\"type\":\"hello_ok\",\"data\":{\"proto\":\"2\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"auth\",\"data\":{\"token\":\"t\",\"session_id\":\"s\","
                "\"device_id\":\"d\",\"proto\":256}}",
                CL_EINVAL);

    memset(&m, 0, sizeof m);
    m.type = CL_MSG_HELLO_OK;
    m.proto = 2;
    roundtrip(&m, &back);
    assert_int_equal(back.proto, 2);
    cl_msg_clear(&back);
    m.type = CL_MSG_AUTH;
    snprintf(m.token, sizeof m.token, "tok");
    snprintf(m.session_id, sizeof m.session_id, UUID1);
    snprintf(m.device_id, sizeof m.device_id, UUID2);
    roundtrip(&m, &back);
    assert_int_equal(back.proto, 2);
    cl_msg_clear(&back);
    m.type = CL_MSG_HELLO;
    roundtrip(&m, &back);
    assert_int_equal(back.proto, 2);
    cl_msg_clear(&back);
}

static void test_bin_round_trip(void **state)
{
    uint8_t buf[256];
    const uint8_t payload[] = {0, 1, 2, 0xff, '\n', 0x1b};
    struct cl_msg m;
    size_t h;
    (void)state;

    h = cl_bin_write_header(buf, CL_MSG_STDOUT, UUID1, 0x0102030405060708ULL);
    assert_int_equal(h, cl_bin_header_len(strlen(UUID1)));
    assert_int_equal(h, 10 + 36);
    assert_int_equal(buf[0], 8);
    assert_int_equal(buf[1], 36);
    assert_int_equal(buf[2], 1);
    assert_int_equal(buf[9], 8); /* big-endian */
    memcpy(buf + h, payload, sizeof payload);
    assert_int_equal(cl_bin_decode(buf, h + sizeof payload, &m, err, sizeof err), 0);
    assert_int_equal(m.type, CL_MSG_STDOUT);
    assert_string_equal(m.session_id, UUID1);
    assert_true(m.has_offset);
    assert_true(m.offset == 0x0102030405060708ULL);
    assert_int_equal(m.data_len, sizeof payload);
    assert_ptr_equal(m.data, buf + h); /* no copy */
    assert_memory_equal(m.data, payload, sizeof payload);
    cl_msg_clear(&m); /* borrowed data is not freed */

    h = cl_bin_write_header(buf, CL_MSG_STDIN, "s", 0);
    assert_int_equal(cl_bin_decode(buf, h, &m, err, sizeof err), 0); /* empty payload */
    assert_int_equal(m.type, CL_MSG_STDIN);
    assert_false(m.has_offset);
    assert_int_equal(m.data_len, 0);
    cl_msg_clear(&m);
}

static void test_bin_malformed(void **state)
{
    uint8_t buf[128];
    struct cl_msg m;
    size_t h;
    (void)state;

    h = cl_bin_write_header(buf, CL_MSG_STDOUT, UUID1, 5);
    assert_int_equal(cl_bin_decode(buf, 0, &m, err, sizeof err), CL_EINVAL);
    assert_int_equal(cl_bin_decode(buf, 10, &m, err, sizeof err), CL_EINVAL);
    assert_int_equal(cl_bin_decode(buf, h - 1, &m, err, sizeof err), CL_EINVAL); /* id cut */
    buf[1] = 0;
    assert_int_equal(cl_bin_decode(buf, h, &m, err, sizeof err), CL_EINVAL);
    buf[1] = CL_ID_MAX + 1;
    assert_int_equal(cl_bin_decode(buf, sizeof buf, &m, err, sizeof err), CL_EINVAL);
    buf[1] = 36;
    buf[12] = '"';
    assert_int_equal(cl_bin_decode(buf, h, &m, err, sizeof err), CL_EINVAL);
    assert_string_equal(m.session_id, "");
    h = cl_bin_write_header(buf, CL_MSG_STDOUT, UUID1, 5);
    buf[16] = 0; /* a NUL inside the id: not a shorter id (found by fuzz_bin) */
    assert_int_equal(cl_bin_decode(buf, h, &m, err, sizeof err), CL_EINVAL);
    assert_string_equal(m.session_id, "");
    h = cl_bin_write_header(buf, CL_MSG_STDOUT, UUID1, 5);
    buf[2] = 0x80; /* offset beyond INT64_MAX */
    assert_int_equal(cl_bin_decode(buf, h, &m, err, sizeof err), CL_EINVAL);
    h = cl_bin_write_header(buf, CL_MSG_ACK, UUID1, 5);
    assert_int_equal(cl_bin_decode(buf, h, &m, err, sizeof err), CL_EPROTO);
    buf[0] = 0;
    assert_int_equal(cl_bin_decode(buf, h, &m, err, sizeof err), CL_EPROTO);
    buf[0] = 200;
    assert_int_equal(cl_bin_decode(buf, h, &m, err, sizeof err), CL_EPROTO);
}

static void test_peek_stdout(void **state)
{
    struct cl_msg m;
    char buf[256];
    (void)state;
#define HOT(id, off, b64)                                                                          \
    "{\"type\":\"stdout\",\"data\":{\"session_id\":\"" id "\",\"offset\":" off                     \
    ",\"data_b64\":\"" b64 "\"}}"
    static const char ok[] = HOT(UUID1, "4096", "aGVsbG8NCg==");
    assert_int_equal(cl_msg_peek_stdout(ok, strlen(ok), &m), 0);
    assert_int_equal(m.type, CL_MSG_STDOUT);
    assert_string_equal(m.session_id, UUID1);
    assert_true(m.has_offset && m.offset == 4096);
    assert_int_equal(m.data_len, 7);
    assert_null(m.data);
    assert_int_equal(m.b64_len, 12);
    assert_memory_equal(m.b64, "aGVsbG8NCg==", 12);
    /* what the hot-path encoder writes, the fast path reads */
    long n = cl_msg_encode_data(CL_MSG_STDOUT, UUID2, (const uint8_t *)"x", 1,
                                9223372036854775807LL, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(cl_msg_peek_stdout(buf, (size_t)n, &m), 0);
    assert_true(m.offset == 9223372036854775807ULL);
    assert_int_equal(m.data_len, 1);
    static const char *const bad[] = {
        HOT(UUID1, "4096", "aGVsbG8NCg="),     /* length not a multiple of 4 */
        HOT(UUID1, "4096", "aGVsbG8NCh=="),    /* trailing bits set */
        HOT(UUID1, "4096", "aGVs*G8NCg=="),    /* not the alphabet */
        HOT(UUID1, "04096", "aGVsbG8NCg=="),   /* leading zero */
        HOT(UUID1, "9223372036854775808", ""), /* past INT64_MAX */
        HOT(UUID1, "-1", ""),
        HOT("bad id", "0", ""),
        HOT("", "0", ""),
        "{\"type\":\"stdout\",\"data\":{\"session_id\":\"s\",\"data_b64\":\"\"}}", /* no offset */
        "{\"data\":{\"session_id\":\"s\",\"offset\":0,\"data_b64\":\"\"},\"type\":\"stdout\"}",
        HOT("s", "0", "") " ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cl_msg_peek_stdout(bad[i], strlen(bad[i]), &m), -1);
        assert_string_equal(m.session_id, "");
    }
#undef HOT
}

/* The typing fast path: the exact shape cl_msg_encode_data writes for
 * stdin, left as cl_msg_decode leaves it; anything else is -1. */
static void test_peek_stdin(void **state)
{
    struct cl_msg m, d;
    char buf[256], why[128];
    (void)state;
#define IN(id, b64)                                                                                \
    "{\"type\":\"stdin\",\"data\":{\"session_id\":\"" id "\",\"data_b64\":\"" b64 "\"}}"
    static const char *const ok[] = {IN(UUID1, "YQ=="), IN(UUID1, ""), IN("s", "aGVsbG8NCg==")};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(cl_msg_peek_stdin(ok[i], strlen(ok[i]), &m), 0);
        assert_int_equal(cl_msg_decode(ok[i], strlen(ok[i]), &d, why, sizeof why), 0);
        assert_int_equal(m.type, CL_MSG_STDIN);
        assert_string_equal(m.session_id, d.session_id);
        assert_false(m.has_offset);
        assert_int_equal(m.data_len, d.data_len);
        assert_non_null(m.data);
        assert_null(m.b64);
        assert_memory_equal(m.data, d.data, d.data_len);
        cl_msg_clear(&m);
        cl_msg_clear(&d);
    }
    /* what the hot-path encoder writes (the relay to a v1 agent), read */
    long n =
        cl_msg_encode_data(CL_MSG_STDIN, UUID2, (const uint8_t *)"\x7f", 1, -1, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(cl_msg_peek_stdin(buf, (size_t)n, &m), 0);
    assert_int_equal(m.data_len, 1);
    assert_int_equal(m.data[0], 0x7f);
    cl_msg_clear(&m);
    static const char *const bad[] = {
        IN(UUID1, "YQ="),   /* length not a multiple of 4 */
        IN(UUID1, "YR=="),  /* trailing bits set */
        IN(UUID1, "Y\\Q="), /* an escape: the JSON decoder's business */
        IN("bad id", "YQ=="),
        IN("", "YQ=="),
        "{\"type\":\"stdin\",\"data\":{\"session_id\":\"s\",\"offset\":0,\"data_b64\":\"\"}}",
        "{\"type\":\"stdout\",\"data\":{\"session_id\":\"s\",\"data_b64\":\"\"}}",
        "{\"data\":{\"session_id\":\"s\",\"data_b64\":\"\"},\"type\":\"stdin\"}",
        IN("s", "") " ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(cl_msg_peek_stdin(bad[i], strlen(bad[i]), &m), -1);
        assert_string_equal(m.session_id, "");
        assert_null(m.data);
    }
#undef IN
}

/* Input flow control: stdin_window in hello / hello_ok / auth_ok, the
 * sessions' stdin_acked / stdin_pending in hello, and stdin_ack (29) both
 * ways, round trip; absent means 0 (no flow control); out of range is
 * bad_message. */
static void test_stdin_flow_fields(void **state)
{
    struct cl_msg m, back;
    struct cl_msg_session ss[1] = {{UUID1, 10, 5, 1, 4096, 777}};
    size_t len;
    char *text;
    (void)state;

    memset(&m, 0, sizeof m);
    m.type = CL_MSG_HELLO;
    strcpy(m.device_id, UUID1);
    strcpy(m.token, "cld_x");
    m.proto = 2;
    m.stdin_window = CL_AGENT_STDIN_WINDOW;
    m.sessions = ss;
    m.nsessions = 1;
    text = cl_msg_encode(&m, &len);
    assert_non_null(text);
    assert_int_equal(dec(text, &back), 0);
    assert_int_equal(back.stdin_window, CL_AGENT_STDIN_WINDOW);
    assert_int_equal(back.sessions[0].stdin_acked, 4096);
    assert_int_equal(back.sessions[0].stdin_pending, 777);
    cl_msg_clear(&back);
    free(text);
    /* without a window the sessions carry no input counts (an old peer's hello) */
    m.stdin_window = 0;
    text = cl_msg_encode(&m, &len);
    assert_null(strstr(text, "stdin"));
    assert_int_equal(dec(text, &back), 0);
    assert_int_equal(back.stdin_window, 0);
    assert_int_equal(back.sessions[0].stdin_acked, 0);
    cl_msg_clear(&back);
    free(text);

    for (int t = CL_MSG_HELLO_OK; t <= CL_MSG_AUTH_OK; t += CL_MSG_AUTH_OK - CL_MSG_HELLO_OK) {
        memset(&m, 0, sizeof m);
        m.type = (enum cl_msg_type)t;
        m.stdin_window = CL_RELAY_STDIN_VIEWER_WINDOW;
        text = cl_msg_encode(&m, &len); /* without proto: {"stdin_window":N} alone */
        assert_int_equal(dec(text, &back), 0);
        assert_int_equal(back.stdin_window, CL_RELAY_STDIN_VIEWER_WINDOW);
        assert_int_equal(back.proto, 0);
        cl_msg_clear(&back);
        free(text);
    }
    assert_int_equal(dec("{\"type\":\"hello_ok\"}", &back), 0);
    assert_int_equal(back.stdin_window, 0);
    cl_msg_clear(&back);

    memset(&m, 0, sizeof m);
    m.type = CL_MSG_STDIN_ACK;
    strcpy(m.session_id, UUID2);
    m.offset = 1234567;
    text = cl_msg_encode(&m, &len);
    assert_non_null(strstr(text, "\"stdin_ack\""));
    assert_int_equal(dec(text, &back), 0);
    assert_int_equal(back.type, CL_MSG_STDIN_ACK);
    assert_string_equal(back.session_id, UUID2);
    assert_int_equal(back.offset, 1234567);
    cl_msg_clear(&back);
    free(text);
    assert_string_equal(cl_msg_type_name(CL_MSG_STDIN_ACK), "stdin_ack");
    assert_int_equal(CL_MSG_STDIN_ACK, 29);

    expect_fail("{\"type\":\"stdin_ack\",\"data\":{\"session_id\":\"" UUID1 "\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"stdin_ack\",\"data\":{\"session_id\":\"" UUID1 "\",\"offset\":-1}}",
                CL_EINVAL);
    expect_fail("{\"type\":\"hello_ok\",\"data\":{\"stdin_window\":0}}", CL_EINVAL);
    expect_fail("{\"type\":\"auth_ok\",\"data\":{\"stdin_window\":\"big\"}}", CL_EINVAL);
    expect_fail("{\"type\":\"hello_ok\",\"data\":{\"stdin_window\":999999999999}}", CL_EINVAL);
    expect_fail("{\"type\":\"hello\",\"data\":{\"device_id\":\"" UUID1
                "\",\"token\":\"t\",\"sessions\":[{\"session_id\":\"" UUID1
                "\",\"offset\":0,\"stdin_pending\":999999999999}]}}",
                CL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_hello),
        cmocka_unit_test(test_node_numbering),
        cmocka_unit_test(test_skill_hello),
        cmocka_unit_test(test_hello_meta_kept_within_limits),
        cmocka_unit_test(test_meta_update),
        cmocka_unit_test(test_skill_response_envelope),
        cmocka_unit_test(test_skill_requests),
        cmocka_unit_test(test_decode_prompt),
        cmocka_unit_test(test_decode_prompt_limit),
        cmocka_unit_test(test_decode_health),
        cmocka_unit_test(test_decode_token_done_workflow),
        cmocka_unit_test(test_node_roundtrip),
        cmocka_unit_test(test_proto_negotiation_fields),
        cmocka_unit_test(test_bin_round_trip),
        cmocka_unit_test(test_bin_malformed),
        cmocka_unit_test(test_peek_stdout),
        cmocka_unit_test(test_peek_stdin),
        cmocka_unit_test(test_flow_control_messages),
        cmocka_unit_test(test_hello_sessions_and_resume_offset_round_trip),
        cmocka_unit_test(test_decode_control_without_data),
        cmocka_unit_test(test_decode_auth),
        cmocka_unit_test(test_decode_session_start_and_resize),
        cmocka_unit_test(test_decode_stdin_stdout),
        cmocka_unit_test(test_decode_session_end_and_error),
        cmocka_unit_test(test_decode_ignores_extra_fields),
        cmocka_unit_test(test_decode_malformed_json),
        cmocka_unit_test(test_decode_non_object),
        cmocka_unit_test(test_decode_unknown_type),
        cmocka_unit_test(test_decode_missing_fields),
        cmocka_unit_test(test_decode_wrong_types),
        cmocka_unit_test(test_decode_invalid_base64),
        cmocka_unit_test(test_decode_bad_ids),
        cmocka_unit_test(test_decode_size_range),
        cmocka_unit_test(test_decode_duplicate_keys),
        cmocka_unit_test(test_decode_field_limits),
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_roundtrip_empty_data),
        cmocka_unit_test(test_encode_unknown_type),
        cmocka_unit_test(test_encode_error_helper),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_session_title),
        cmocka_unit_test(test_stdin_flow_fields),
        cmocka_unit_test(test_encode_data),
        cmocka_unit_test(test_encode_data_short_buffer),
    };
    assert_int_equal(cl_secret_init(), 0);
    cl_json_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
