/*
 * Unit tests for the message families of src/core/proto*.c (proto_family.h):
 * every type has exactly one row, in one family, under a unique name; the
 * families' number ranges are disjoint and hold their new types; every type
 * survives decode(encode(x)) byte for byte; and the end reasons' names are
 * the wire strings. tests/unit/test_proto.c tests the codec itself, field
 * by field, and is unchanged by the split into families.
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
#include "core/proto_family.h"
#include "core/secret.h"

/* 30..127: numbers no type has (the legacy types end at 29, chat starts
 * at 128). */
static bool unused_number(int t)
{
    return t > CL_MSG_STDIN_ACK && t < CL_MSG_CHAT_FIRST;
}

static void test_every_type_has_one_row(void **state)
{
    (void)state;
    for (int t = CL_MSG_UNKNOWN + 1; t < CL_MSG__COUNT; t++) {
        int rows = 0;
        if (unused_number(t)) {
            assert_null(cl_proto_codec_by_type((enum cl_msg_type)t));
            assert_null(cl_msg_type_name((enum cl_msg_type)t));
            continue;
        }
        for (size_t f = 0; f < cl_proto_nfamilies; f++)
            for (size_t i = 0; i < cl_proto_families[f]->ncodecs; i++)
                rows += cl_proto_families[f]->codecs[i].type == (enum cl_msg_type)t;
        if (rows != 1)
            print_error("type %d has %d rows\n", t, rows);
        assert_int_equal(rows, 1);
        assert_non_null(cl_proto_codec_by_type((enum cl_msg_type)t));
        assert_int_equal(cl_proto_codec_by_type((enum cl_msg_type)t)->type, t);
    }
    assert_null(cl_proto_codec_by_type(CL_MSG_UNKNOWN));
    assert_null(cl_proto_codec_by_type(CL_MSG__COUNT));
    assert_null(cl_proto_codec_by_name("nope"));
}

static void test_names_unique(void **state)
{
    (void)state;
    for (size_t f = 0; f < cl_proto_nfamilies; f++)
        for (size_t i = 0; i < cl_proto_families[f]->ncodecs; i++) {
            const struct cl_proto_codec *c = &cl_proto_families[f]->codecs[i];
            assert_non_null(c->name);
            assert_true(c->name[0] != '\0');
            /* the row found by name is this one: no other row has its name */
            assert_ptr_equal(cl_proto_codec_by_name(c->name), c);
            assert_string_equal(cl_msg_type_name(c->type), c->name);
            assert_int_equal(cl_msg_type_from_name(c->name), c->type);
            /* only a message without data may go without a decoder */
            if (!c->decode)
                assert_null(c->encode);
        }
}

/* Family numbers are unique and in order; their ranges lie past the types
 * numbered before families, within the v2 binary frame's type byte, and
 * apart; a type numbered since lies in its own family's range. */
static void test_family_ranges(void **state)
{
    (void)state;
    assert_int_equal(cl_proto_nfamilies, 4);
    assert_string_equal(cl_proto_families[0]->name, "link");
    assert_string_equal(cl_proto_families[1]->name, "terminal");
    assert_string_equal(cl_proto_families[2]->name, "node");
    assert_string_equal(cl_proto_families[3]->name, "chat");
    for (size_t f = 0; f < cl_proto_nfamilies; f++) {
        const struct cl_proto_family *a = cl_proto_families[f];
        assert_int_equal(a->id, f + 1);
        assert_true(a->first > CL_PROTO_LEGACY_LAST);
        assert_true(a->first <= a->last && a->last <= 255);
        assert_true(a->ncodecs > 0);
        for (size_t g = f + 1; g < cl_proto_nfamilies; g++) {
            const struct cl_proto_family *b = cl_proto_families[g];
            assert_true(a->last < b->first || b->last < a->first);
        }
        for (size_t i = 0; i < a->ncodecs; i++) {
            unsigned t = (unsigned)a->codecs[i].type;
            assert_true(t >= 1);
            assert_true(t <= CL_PROTO_LEGACY_LAST || (t >= a->first && t <= a->last));
        }
    }
    /* 160-255 stay free for families to come (docs/protocol.md) */
    assert_true(cl_proto_families[cl_proto_nfamilies - 1]->last < 160);
}

/* A message of type t with every field its type writes set to something
 * that is not a default. Not set: an error's session_id and a stdin's
 * offset, which are written for browsers and never read back. */
static void fill(struct cl_msg *m, enum cl_msg_type t, struct cl_msg_session *ss, uint8_t *bytes,
                 size_t nbytes, char *text)
{
    memset(m, 0, sizeof *m);
    m->type = t;
    if (t != CL_MSG_ERROR)
        strcpy(m->session_id, "sess-1");
    strcpy(m->device_id, "dev-1");
    strcpy(m->request_id, "req-1");
    strcpy(m->token, "tok");
    strcpy(m->name, "box");
    strcpy(m->kind, "linux");
    strcpy(m->message, "it \"broke\"\n");
    strcpy(m->code, "bad_message");
    m->proto = 2;
    m->stdin_window = 65536;
    m->has_resume_offset = true;
    m->resume_offset = 99;
    m->sessions = ss;
    m->nsessions = 2;
    strcpy(m->reason, "member_removed");
    strcpy(m->title, "vim · ~/src");
    m->cols = 132;
    m->rows = 43;
    m->has_exit_code = true;
    m->exit_code = -3;
    m->has_offset = t != CL_MSG_STDIN;
    m->offset = 1234;
    m->has_viewers = true;
    m->viewers = 3;
    m->gap_from = 5;
    m->gap_to = 9;
    m->data = bytes;
    m->data_len = nbytes;
    m->text = text;
    m->text_len = strlen(text);
    strcpy(m->key, "nightly");
    m->json = "{\"os\":\"linux\",\"cpus\":8}";
    m->has_health = true;
    m->uptime = 77;
    m->active_tasks = 2;
    strcpy(m->last_error, "gateway closed");
    m->has_last_error = true;
    m->node_state = CL_NODE_RECONNECTING;
    m->caps = CL_CAP_CHAT | CL_CAP_WORKFLOW;
    strcpy(m->method, "PATCH");
    m->path = "/threads/12";
    m->query = "limit=5&before=9";
    strcpy(m->user_id, "u-1");
    strcpy(m->user_name, "Ada · Lovelace");
    m->status = 201;
    strcpy(m->event, "delta");
    m->chat = CL_CHAT_PROTO_VERSION;
}

/* decode(encode(x)) encodes to the same bytes, for every type that is
 * sent; response, which is only received, wraps each answer it may carry
 * and decodes as that answer. */
static void test_every_type_round_trips(void **state)
{
    struct cl_msg_session ss[2] = {{"s-1", 10, 5, 2, 3, 4}, {"s-2", 7, 0, 0, 0, 0}};
    uint8_t bytes[] = {0, 1, 2, 0xff, 'a', 'b', 0x1b, '['};
    char text[] = "say \"hi\" ✓";
    char err[256];
    (void)state;
    for (int t = CL_MSG_UNKNOWN + 1; t < CL_MSG__COUNT; t++) {
        struct cl_msg in, out;
        size_t n1 = 0, n2 = 0;
        char *e1, *e2;
        int rc;
        if (unused_number(t))
            continue;
        fill(&in, (enum cl_msg_type)t, ss, bytes, sizeof bytes, text);
        e1 = cl_msg_encode(&in, &n1);
        assert_non_null(e1);
        if (t == CL_MSG_RESPONSE) {
            assert_string_equal(e1, "{\"type\":\"response\"}");
            free(e1);
            continue;
        }
        rc = cl_msg_decode(e1, n1, &out, err, sizeof err);
        if (rc)
            print_error("%s: %s\n", e1, err);
        assert_int_equal(rc, 0);
        assert_int_equal(out.type, t);
        e2 = cl_msg_encode(&out, &n2);
        assert_non_null(e2);
        assert_string_equal(e2, e1);
        if (t == CL_MSG_TOKEN || t == CL_MSG_DONE || t == CL_MSG_STATUS || t == CL_MSG_ERROR) {
            /* the skill's envelope: {"type":"response","data":{"type":T,...}} */
            json_t *root = json_loads(e1, 0, NULL), *d;
            char *wrapped, *e3;
            struct cl_msg w;
            assert_non_null(root);
            d = json_object_get(root, "data");
            json_object_set_new(d, "type", json_string(cl_msg_type_name(in.type)));
            json_object_set_new(root, "type", json_string("response"));
            wrapped = cl_json_dump(root, NULL);
            json_decref(root);
            assert_int_equal(cl_msg_decode(wrapped, strlen(wrapped), &w, err, sizeof err), 0);
            assert_int_equal(w.type, t);
            e3 = cl_msg_encode(&w, NULL);
            assert_string_equal(e3, e1);
            free(e3);
            free(wrapped);
            cl_msg_clear(&w);
        }
        free(e1);
        free(e2);
        cl_msg_clear(&out);
    }
}

/* The names are the wire strings (docs/protocol.md, docs/api.md, the web
 * app's endreasons.ts, the store's SQL for account_deleted and
 * member_removed): they never change. Unknown reasons are not ours but
 * still pass the decoder. */
static void test_end_reasons(void **state)
{
    static const char *const wire[CL_END__COUNT] = {
        "exit",
        "hangup",
        "idle",
        "limit",
        "error",
        "unknown_session",
        "capability_denied",
        "user_disconnect",
        "ended_by_user",
        "agent_lost",
        "not_resumed",
        "member_removed",
        "device_repaired",
        "device_deleted",
        "project_deleted",
        "account_deleted",
    };
    struct cl_msg m;
    char err[256];
    const char *odd = "{\"type\":\"session_end\",\"data\":{\"session_id\":\"s\","
                      "\"reason\":\"reasons_of_its_own\"}}";
    (void)state;
    for (int r = 0; r < CL_END__COUNT; r++) {
        enum cl_end_reason back;
        assert_string_equal(cl_end_reason_name((enum cl_end_reason)r), wire[r]);
        assert_int_equal(cl_end_reason_from_name(wire[r], &back), 0);
        assert_int_equal(back, r);
        for (int q = 0; q < r; q++)
            assert_string_not_equal(wire[q], wire[r]);
    }
    assert_string_equal(cl_end_reason_name(CL_END__COUNT), "exit");
    {
        enum cl_end_reason back = CL_END_IDLE;
        assert_int_equal(cl_end_reason_from_name("reasons_of_its_own", &back), CL_EINVAL);
        assert_int_equal(back, CL_END_IDLE);
    }
    assert_int_equal(cl_msg_decode(odd, strlen(odd), &m, err, sizeof err), 0);
    assert_string_equal(m.reason, "reasons_of_its_own");
    cl_msg_clear(&m);
}

/* Family 4: what a chat frame may carry, and what is refused. */
static int chat_dec(const char *text, struct cl_msg *m)
{
    char err[256];
    int rc = cl_msg_decode(text, strlen(text), m, err, sizeof err);
    if (rc)
        cl_msg_clear(m);
    return rc;
}

static void test_chat_family(void **state)
{
    struct cl_msg m;
    char big[CL_CHAT_PATH_MAX + 64];
    char *text;
    (void)state;
    assert_int_equal(chat_dec("{\"type\":\"chat_request\",\"data\":{\"request_id\":\"r1\","
                              "\"method\":\"POST\",\"path\":\"/threads/3/messages\","
                              "\"user\":{\"id\":\"u-1\",\"name\":\"Ada\"},"
                              "\"body\":{\"content\":\"hi\"}}}",
                              &m),
                     0);
    assert_int_equal(m.type, CL_MSG_CHAT_REQUEST);
    assert_string_equal(m.method, "POST");
    assert_string_equal(m.path, "/threads/3/messages");
    assert_null(m.query);
    assert_string_equal(m.user_id, "u-1");
    assert_string_equal(m.json, "{\"content\":\"hi\"}");
    cl_msg_clear(&m);
    /* bodies and data are any JSON value */
    assert_int_equal(chat_dec("{\"type\":\"chat_response\",\"data\":{\"request_id\":\"r1\","
                              "\"status\":200,\"body\":[1,\"two\"]}}",
                              &m),
                     0);
    assert_string_equal(m.json, "[1,\"two\"]");
    assert_int_equal(m.status, 200);
    text = cl_msg_encode(&m, NULL);
    assert_non_null(strstr(text, "\"body\":[1,\"two\"]"));
    free(text);
    cl_msg_clear(&m);
    assert_int_equal(chat_dec("{\"type\":\"chat_event\",\"data\":{\"request_id\":\"r1\","
                              "\"event\":\"ping\"}}",
                              &m),
                     0);
    assert_null(m.json);
    cl_msg_clear(&m);
    assert_int_equal(chat_dec("{\"type\":\"chat_cancel\",\"data\":{\"request_id\":\"r1\"}}", &m),
                     0);
    assert_int_equal(m.type, CL_MSG_CHAT_CANCEL);
    cl_msg_clear(&m);

    /* refused: each names what is wrong */
    static const char *const bad[] = {
        /* no request id */
        "{\"type\":\"chat_cancel\",\"data\":{}}",
        /* a method the API has not */
        "{\"type\":\"chat_request\",\"data\":{\"request_id\":\"r\",\"method\":\"TRACE\","
        "\"path\":\"/x\",\"user\":{\"id\":\"u\"}}}",
        /* a path not from the root, with a space, with a control character */
        "{\"type\":\"chat_request\",\"data\":{\"request_id\":\"r\",\"method\":\"GET\","
        "\"path\":\"threads\",\"user\":{\"id\":\"u\"}}}",
        "{\"type\":\"chat_request\",\"data\":{\"request_id\":\"r\",\"method\":\"GET\","
        "\"path\":\"/a b\",\"user\":{\"id\":\"u\"}}}",
        "{\"type\":\"chat_request\",\"data\":{\"request_id\":\"r\",\"method\":\"GET\","
        "\"path\":\"/a\\u0001\",\"user\":{\"id\":\"u\"}}}",
        /* no user, a user id that is no id, a name with a control character */
        "{\"type\":\"chat_request\",\"data\":{\"request_id\":\"r\",\"method\":\"GET\","
        "\"path\":\"/x\"}}",
        "{\"type\":\"chat_request\",\"data\":{\"request_id\":\"r\",\"method\":\"GET\","
        "\"path\":\"/x\",\"user\":{\"id\":\"u/1\"}}}",
        "{\"type\":\"chat_request\",\"data\":{\"request_id\":\"r\",\"method\":\"GET\","
        "\"path\":\"/x\",\"user\":{\"id\":\"u\",\"name\":\"a\\nb\"}}}",
        /* a status that is none */
        "{\"type\":\"chat_response\",\"data\":{\"request_id\":\"r\",\"status\":99}}",
        "{\"type\":\"chat_response\",\"data\":{\"request_id\":\"r\",\"status\":600}}",
        "{\"type\":\"chat_response\",\"data\":{\"request_id\":\"r\"}}",
        /* event names are [a-z0-9_] */
        "{\"type\":\"chat_event\",\"data\":{\"request_id\":\"r\",\"event\":\"Delta\"}}",
        "{\"type\":\"chat_event\",\"data\":{\"request_id\":\"r\",\"event\":\"a\\nevent: x\"}}",
        "{\"type\":\"chat_event\",\"data\":{\"request_id\":\"r\",\"event\":\"\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (chat_dec(bad[i], &m) != CL_EINVAL)
            print_error("accepted: %s\n", bad[i]);
        assert_int_equal(chat_dec(bad[i], &m), CL_EINVAL);
    }
    /* the bounds: a path of CL_CHAT_PATH_MAX passes, one byte more does not */
    for (int over = 0; over <= 1; over++) {
        char *frame;
        size_t n = CL_CHAT_PATH_MAX + (size_t)over;
        big[0] = '/';
        memset(big + 1, 'a', n - 1);
        big[n] = 0;
        frame = malloc(n + 200);
        snprintf(frame, n + 200,
                 "{\"type\":\"chat_request\",\"data\":{\"request_id\":\"r\",\"method\":\"GET\","
                 "\"path\":\"%s\",\"user\":{\"id\":\"u\"}}}",
                 big);
        assert_int_equal(chat_dec(frame, &m), over ? CL_EINVAL : 0);
        cl_msg_clear(&m);
        free(frame);
    }
    /* hello says which chat family version the agent serves */
    assert_int_equal(chat_dec("{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"t\","
                              "\"chat\":1}}",
                              &m),
                     0);
    assert_int_equal(m.chat, 1);
    cl_msg_clear(&m);
    assert_int_equal(chat_dec("{\"type\":\"hello\",\"data\":{\"device_id\":\"d\",\"token\":\"t\","
                              "\"chat\":0}}",
                              &m),
                     CL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_has_one_row),
        cmocka_unit_test(test_names_unique),
        cmocka_unit_test(test_family_ranges),
        cmocka_unit_test(test_every_type_round_trips),
        cmocka_unit_test(test_end_reasons),
        cmocka_unit_test(test_chat_family),
    };
    assert_int_equal(cl_secret_init(), 0);
    cl_json_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
