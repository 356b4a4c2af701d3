/*
 * libFuzzer harness for the OpenClaw gateway's chat shapes
 * (src/agent/chat_gw.c).
 *
 * Any bytes that parse as a JSON object go to cl_chat_gw_history,
 * cl_chat_gw_event and cl_chat_gw_message, as the object itself and, for
 * an event frame, as its "payload" (and the payload's "message"). Checked:
 * on success every string fits its buffer, texts are never NULL where
 * promised, tool calls and usage are JSON that parses again, a history
 * holds at most CL_CHAT_GW_HISTORY_MAX messages, each entry read or
 * counted as skipped; on failure the error is
 * CL_EINVAL or CL_ENOMEM with a reason and the result is empty.
 * Seed corpus: tests/fuzz/corpus/chat_gw/ (frames captured from a real
 * gateway, tests/unit/fixtures/gw/).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "agent/chat_gw.h"
#include "core/err.h"
#include "core/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cl_json_init();
    return 0;
}

static void check_json(const char *s, bool array)
{
    json_error_t e;
    json_t *v;

    if (!s)
        return;
    CHECK(strlen(s) <= CL_CHAT_GW_JSON_MAX);
    v = json_loads(s, JSON_ALLOW_NUL, &e);
    CHECK(v != NULL);
    CHECK(array ? json_is_array(v) : (json_is_object(v) || json_is_array(v)));
    json_decref(v);
}

static void check_msg(const struct cl_chat_gw_msg *m)
{
    CHECK(strlen(m->id) <= CL_CHAT_GW_ID_MAX);
    CHECK(strlen(m->run_id) <= CL_CHAT_GW_ID_MAX);
    CHECK(strlen(m->idem_key) <= CL_CHAT_GW_ID_MAX);
    CHECK(strlen(m->tool_call_id) <= CL_CHAT_GW_ID_MAX);
    CHECK(m->role[0] && strlen(m->role) <= CL_CHAT_GW_ROLE_MAX);
    CHECK(m->text != NULL && strlen(m->text) <= CL_CHAT_GW_TEXT_MAX);
    CHECK(m->state == CL_CHAT_GW_FINAL || m->state == CL_CHAT_GW_ABORTED ||
          m->state == CL_CHAT_GW_ERROR);
    check_json(m->tool_calls, true);
    check_json(m->usage, false);
}

static void try_message(json_t *v)
{
    struct cl_chat_gw_msg m;
    char why[160] = "";
    int rc = cl_chat_gw_message(v, &m, why, sizeof why);

    if (rc == 0) {
        check_msg(&m);
    } else {
        CHECK(rc == CL_EINVAL || rc == CL_ENOMEM);
        CHECK(rc == CL_ENOMEM || why[0]);
        CHECK(m.text == NULL && m.usage == NULL && m.tool_calls == NULL);
    }
    cl_chat_gw_msg_clear(&m);
}

static void try_history(json_t *v)
{
    struct cl_chat_gw_history h;
    char why[160] = "";
    int rc = cl_chat_gw_history(v, &h, why, sizeof why);

    if (rc == 0) {
        CHECK(h.n <= CL_CHAT_GW_HISTORY_MAX);
        CHECK(!h.reset || (h.delta && h.n == 0));
        CHECK(h.next_offset >= -1);
        CHECK(strlen(h.session_id) <= CL_CHAT_GW_ID_MAX);
        CHECK(!h.delta_cursor || strlen(h.delta_cursor) <= CL_CHAT_GW_CURSOR_MAX);
        if (!h.reset)
            CHECK(h.n + h.skipped == json_array_size(json_object_get(v, "messages")));
        CHECK(h.skipped == 0 || why[0]);
        for (size_t i = 0; i < h.n; i++)
            check_msg(&h.msgs[i]);
    } else {
        CHECK(rc == CL_EINVAL || rc == CL_ENOMEM);
        CHECK(rc == CL_ENOMEM || why[0]);
        CHECK(h.n == 0 && h.msgs == NULL && h.delta_cursor == NULL);
    }
    cl_chat_gw_history_clear(&h);
}

static void try_event(json_t *v)
{
    struct cl_chat_gw_event e;
    char why[160] = "";
    int rc = cl_chat_gw_event(v, &e, why, sizeof why);

    if (rc == 0) {
        CHECK(e.run_id[0] && e.session_key[0]);
        CHECK(strlen(e.session_key) <= CL_CHAT_GW_KEY_MAX);
        CHECK((unsigned)e.state <= CL_CHAT_GW_ERROR);
        CHECK(strcmp(cl_chat_gw_state_name(e.state), "unknown") != 0);
        CHECK(!e.text || strlen(e.text) <= CL_CHAT_GW_TEXT_MAX);
        CHECK(!e.delta || strlen(e.delta) <= CL_CHAT_GW_TEXT_MAX);
        check_json(e.usage, false);
    } else {
        CHECK(rc == CL_EINVAL || rc == CL_ENOMEM);
        CHECK(rc == CL_ENOMEM || why[0]);
        CHECK(e.text == NULL && e.delta == NULL && e.usage == NULL && e.error_message == NULL);
    }
    cl_chat_gw_event_clear(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    json_t *root = cl_json_parse_object((const char *)data, size, err, sizeof err);
    json_t *payload;

    if (!root)
        return 0;
    try_history(root);
    try_event(root);
    try_message(root);
    payload = json_object_get(root, "payload");
    if (payload) {
        try_event(payload);
        try_history(payload);
        try_message(json_object_get(payload, "message"));
    }
    json_decref(root);
    return 0;
}
