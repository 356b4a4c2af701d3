/*
 * libFuzzer harness for the v1 protocol codec (src/core/proto.c).
 *
 * Any bytes go to cl_msg_decode. A failure must leave nothing to free. A
 * message that decodes must encode, and the encoding must decode again to
 * the same fields (the relay re-encodes what it decodes, and a peer must
 * accept what we send). stdin/stdout also go through the hand-formatted
 * hot path, cl_msg_encode_data, which must produce the same bytes, and what
 * the fast paths (cl_msg_peek_stdout, cl_msg_peek_stdin) accept decodes to
 * the same fields. The
 * OpenClaw node messages (prompt ... workflows) round-trip the same way,
 * and the requests also through the PrivaClaw skill's nested shape
 * (cl_msg_encode_skill); the skill's response envelope decodes to the
 * message it wraps. Seed corpus: tests/fuzz/corpus/proto/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "core/json.h"
#include "core/proto.h"
#include "core/secret.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cl_json_init(); /* as both binaries run: jansson wipes what it frees */
    return cl_secret_init();
}

/* The fields cl_msg_encode writes for m's type survived the trip to b. */
static void check_same(const struct cl_msg *a, const struct cl_msg *b)
{
    CHECK(a->type == b->type);
    CHECK(strcmp(a->session_id, b->session_id) == 0);
    CHECK(strcmp(a->device_id, b->device_id) == 0);
    CHECK(strcmp(a->token, b->token) == 0);
    CHECK(strcmp(a->name, b->name) == 0);
    /* session_end without a reason is sent as "exit" */
    CHECK(a->reason[0] ? strcmp(a->reason, b->reason) == 0 : true);
    CHECK(strcmp(a->message, b->message) == 0);
    CHECK(strcmp(a->code, b->code) == 0);
    CHECK(strcmp(a->title, b->title) == 0);
    /* a title that decoded has no control characters */
    CHECK(cl_proto_label_valid(b->title));
    if (a->type == CL_MSG_SESSION_START || a->type == CL_MSG_RESIZE) {
        CHECK(a->cols == b->cols);
        CHECK(a->rows == b->rows);
    }
    CHECK(a->proto == b->proto);
    /* input flow control: the window, and the sessions' input counts
     * (written only beside a window) */
    CHECK(a->stdin_window == b->stdin_window);
    CHECK(a->nsessions == b->nsessions);
    for (size_t i = 0; i < a->nsessions && i < b->nsessions; i++) {
        CHECK(a->sessions[i].offset == b->sessions[i].offset);
        CHECK(!a->stdin_window || (a->sessions[i].stdin_acked == b->sessions[i].stdin_acked &&
                                   a->sessions[i].stdin_pending == b->sessions[i].stdin_pending));
    }
    CHECK(a->has_exit_code == b->has_exit_code);
    CHECK(!a->has_exit_code || a->exit_code == b->exit_code);
    CHECK(a->has_offset == b->has_offset);
    CHECK(!a->has_offset || a->offset == b->offset);
    CHECK(a->data_len == b->data_len);
    CHECK(a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
    /* OpenClaw node messages */
    CHECK(strcmp(a->request_id, b->request_id) == 0);
    CHECK(strcmp(a->key, b->key) == 0);
    CHECK((a->text == NULL) == (b->text == NULL));
    CHECK(!a->text || (a->text_len == b->text_len && strcmp(a->text, b->text) == 0));
    CHECK((a->json == NULL) == (b->json == NULL));
    CHECK(!a->json || strcmp(a->json, b->json) == 0);
    CHECK(a->has_health == b->has_health);
    if (a->has_health) {
        CHECK(a->uptime == b->uptime && a->active_tasks == b->active_tasks);
        CHECK(a->node_state == b->node_state && a->caps == b->caps);
        CHECK(a->has_last_error == b->has_last_error);
        CHECK(strcmp(a->last_error, b->last_error) == 0);
    }
}

/* The hot-path encoder agrees with the decoder. */
static void check_encode_data(const struct cl_msg *m)
{
    size_t cap = cl_msg_data_encoded_max(strlen(m->session_id), m->data_len);
    char *buf = malloc(cap), err[256];
    struct cl_msg back;
    long n;

    CHECK(buf != NULL);
    n = cl_msg_encode_data(m->type, m->session_id, m->data, m->data_len,
                           m->has_offset ? (int64_t)m->offset : -1, buf, cap);
    CHECK(n > 0 && (size_t)n < cap);
    CHECK(cl_msg_decode(buf, (size_t)n, &back, err, sizeof err) == 0);
    check_same(m, &back);
    cl_msg_clear(&back);
    free(buf);
}

/* A request sent in the skill's shape decodes to the same fields (a
 * workflow without params goes as an empty object). */
static void check_skill(const struct cl_msg *m)
{
    struct cl_msg back;
    char err[256];
    size_t len = 0;
    char *text = cl_msg_encode_skill(m, &len);
    CHECK(text != NULL);
    if (cl_msg_decode(text, len, &back, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_proto: skill shape not read back: %s\n  text: %s\n", err, text);
        abort();
    }
    if (m->type == CL_MSG_WORKFLOW && !m->json) {
        CHECK(back.json && strcmp(back.json, "{}") == 0);
        free(back.json);
        back.json = NULL;
    }
    check_same(m, &back);
    cl_msg_clear(&back);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cl_msg m, again;
    char err[256];
    size_t len = 0;
    char *text;

    struct cl_msg pk, pi;
    int peeked = cl_msg_peek_stdout((const char *)data, size, &pk);
    int peeked_in = cl_msg_peek_stdin((const char *)data, size, &pi);

    if (cl_msg_decode((const char *)data, size, &m, err, sizeof err) != 0) {
        /* what the relay's fast path accepts, the decoder accepts too */
        if (peeked == 0)
            fprintf(stderr, "fuzz_proto: peek accepted what decode refused: %s\n", err);
        CHECK(peeked != 0);
        if (peeked_in == 0)
            fprintf(stderr, "fuzz_proto: peek_stdin accepted what decode refused: %s\n", err);
        CHECK(peeked_in != 0);
        CHECK(m.data == NULL);
        CHECK(err[0] != 0);
        return 0;
    }
    if (peeked == 0) {
        CHECK(m.type == CL_MSG_STDOUT && pk.type == CL_MSG_STDOUT);
        CHECK(strcmp(m.session_id, pk.session_id) == 0);
        CHECK(m.has_offset && pk.has_offset && m.offset == pk.offset);
        CHECK(m.data_len == pk.data_len);
        CHECK(pk.data == NULL && pk.b64 >= (const char *)data &&
              pk.b64 + pk.b64_len <= (const char *)data + size);
    }
    if (peeked_in == 0) {
        /* the typing fast path leaves what the decoder leaves */
        CHECK(m.type == CL_MSG_STDIN && pi.type == CL_MSG_STDIN);
        CHECK(strcmp(m.session_id, pi.session_id) == 0);
        CHECK(!pi.has_offset && m.has_offset == pi.has_offset);
        CHECK(m.data_len == pi.data_len && pi.data != NULL && pi.b64 == NULL);
        CHECK(m.data_len == 0 || memcmp(m.data, pi.data, m.data_len) == 0);
        cl_msg_clear(&pi);
    }
    CHECK(m.type > CL_MSG_UNKNOWN && m.type < CL_MSG__COUNT);
    CHECK(m.session_id[0] == 0 || cl_proto_id_valid(m.session_id));
    CHECK(m.device_id[0] == 0 || cl_proto_id_valid(m.device_id));

    text = cl_msg_encode(&m, &len);
    CHECK(text != NULL);
    CHECK(strlen(text) == len);
    if (cl_msg_decode(text, len, &again, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_proto: re-decoding failed: %s\n  text: %s\n", err, text);
        abort();
    }
    check_same(&m, &again);
    cl_msg_clear(&again);
    free(text);

    if (m.type == CL_MSG_STDIN || m.type == CL_MSG_STDOUT)
        check_encode_data(&m);
    if (m.type == CL_MSG_PROMPT || m.type == CL_MSG_WORKFLOW || m.type == CL_MSG_STATUS ||
        m.type == CL_MSG_RESTART)
        check_skill(&m);
    CHECK(m.type != CL_MSG_RESPONSE); /* always decoded as what it wraps */

    cl_msg_clear(&m);
    CHECK(m.data == NULL && m.token[0] == 0);
    return 0;
}
