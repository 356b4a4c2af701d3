/*
 * proto_term: family 2 of the wire protocol, terminal sessions.
 *
 * session_start / session_started / resize / session_end, the bytes
 * (stdin, stdout), their flow control (ack, replay, gap, stdin_ack) and
 * session_title; and the names of the reasons a session ends. The bytes'
 * hand-written fast paths (v1 stdout without a JSON tree, v2 binary
 * frames) are in proto.c. docs/protocol.md, "Agent connection", "Lossless
 * resume and flow control", "Input flow control", "Session titles".
 */
#include "core/b64.h"
#include "core/err.h"
#include "core/json.h"
#include "core/proto.h"
#include "core/proto_family.h"

#include <stdlib.h>
#include <string.h>

static const char *const cl__end_reason_names[CL_END__COUNT] = {
    [CL_END_EXIT] = "exit",
    [CL_END_HANGUP] = "hangup",
    [CL_END_IDLE] = "idle",
    [CL_END_LIMIT] = "limit",
    [CL_END_ERROR] = "error",
    [CL_END_UNKNOWN_SESSION] = "unknown_session",
    [CL_END_CAPABILITY_DENIED] = "capability_denied",
    [CL_END_USER_DISCONNECT] = "user_disconnect",
    [CL_END_ENDED_BY_USER] = "ended_by_user",
    [CL_END_AGENT_LOST] = "agent_lost",
    [CL_END_NOT_RESUMED] = "not_resumed",
    [CL_END_MEMBER_REMOVED] = "member_removed",
    [CL_END_DEVICE_REPAIRED] = "device_repaired",
    [CL_END_DEVICE_DELETED] = "device_deleted",
    [CL_END_PROJECT_DELETED] = "project_deleted",
    [CL_END_ACCOUNT_DELETED] = "account_deleted",
};

const char *cl_end_reason_name(enum cl_end_reason r)
{
    return (unsigned)r < CL_END__COUNT ? cl__end_reason_names[r]
                                       : cl__end_reason_names[CL_END_EXIT];
}

int cl_end_reason_from_name(const char *name, enum cl_end_reason *out)
{
    for (int r = 0; r < CL_END__COUNT; r++)
        if (strcmp(cl__end_reason_names[r], name) == 0) {
            *out = (enum cl_end_reason)r;
            return 0;
        }
    return CL_EINVAL;
}

/* data.cols and data.rows, 80x24 when optional and absent. */
static int cl__term_size(json_t *d, bool required, struct cl_msg *m, char *err, size_t errlen)
{
    long long cols = 80, rows = 24;
    int rc =
        cl_json_int(d, "data", "cols", required, 1, CL_TERM_MAX_COLS, &cols, NULL, err, errlen);
    if (!rc)
        rc =
            cl_json_int(d, "data", "rows", required, 1, CL_TERM_MAX_ROWS, &rows, NULL, err, errlen);
    m->cols = (int)cols;
    m->rows = (int)rows;
    return rc;
}

/* data.data_b64, decoded into a malloc'd m->data. */
static int cl__term_bytes(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    const char *b64;
    /* not required in cl_json_str's sense, which refuses "": the base64 of
     * zero bytes is "", and cl_msg_encode writes it for an empty chunk */
    int rc = cl_json_str(d, "data", "data_b64", false, CL_WS_MAX_MESSAGE, &b64, err, errlen);
    if (rc)
        return rc;
    if (!b64)
        return cl_seterr(err, errlen, CL_EINVAL, "missing field data.data_b64");
    size_t n = strlen(b64);
    size_t cap = n / 4 * 3 + 3;
    m->data = malloc(cap);
    if (!m->data)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    long got = cl_b64_decode(b64, n, m->data, cap);
    if (got < 0) {
        free(m->data);
        m->data = NULL;
        return cl_seterr(err, errlen, CL_EINVAL, "field data.data_b64 is not valid base64");
    }
    m->data_len = (size_t)got;
    return 0;
}

/* ---- session_start (5), resize (9), session_started (6) ----------------- */

static int cl__term_start_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    int rc = cl__proto_session_id(d, m, err, errlen);
    return rc ? rc : cl__term_size(d, false, m, err, errlen);
}

static int cl__term_resize_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    int rc = cl__proto_session_id(d, m, err, errlen);
    return rc ? rc : cl__term_size(d, true, m, err, errlen);
}

static json_t *cl__term_size_encode(const struct cl_msg *m)
{
    return json_pack("{s:s, s:i, s:i}", "session_id", m->session_id, "cols", m->cols, "rows",
                     m->rows);
}

static json_t *cl__term_session_id_encode(const struct cl_msg *m)
{
    return json_pack("{s:s}", "session_id", m->session_id);
}

/* ---- stdin (7), stdout (8) ---------------------------------------------- */

static int cl__term_data_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    long long off = 0;
    int rc = cl__proto_session_id(d, m, err, errlen);
    if (!rc && m->type == CL_MSG_STDOUT)
        rc = cl_json_int(d, "data", "offset", false, 0, INT64_MAX, &off, &m->has_offset, err,
                         errlen);
    m->offset = (uint64_t)off;
    return rc ? rc : cl__term_bytes(d, m, err, errlen);
}

/* The JSON tree way, for any message; the relay and the agent send bytes
 * with cl_msg_encode_data, which writes the same text. */
static json_t *cl__term_data_encode(const struct cl_msg *m)
{
    size_t cap = cl_b64_encoded_size(m->data_len);
    char *b64 = malloc(cap);
    json_t *d;
    if (!b64)
        return NULL;
    cl_b64_encode(m->data, m->data_len, b64, cap);
    d = json_pack("{s:s, s:s}", "session_id", m->session_id, "data_b64", b64);
    free(b64);
    if (d && m->has_offset)
        json_object_set_new(d, "offset", json_integer((json_int_t)m->offset));
    return d;
}

/* ---- session_end (10) --------------------------------------------------- */

static int cl__term_end_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    long long code = 0;
    /* any reason string passes: a peer may have reasons of its own */
    int rc = cl__proto_session_id(d, m, err, errlen);
    if (!rc)
        rc = cl__proto_str(d, "data", "reason", false, m->reason, sizeof m->reason, err, errlen);
    if (!rc)
        rc = cl_json_int(d, "data", "exit_code", false, -255, 255, &code, &m->has_exit_code, err,
                         errlen);
    m->exit_code = (int)code;
    return rc;
}

static json_t *cl__term_end_encode(const struct cl_msg *m)
{
    json_t *d = json_pack("{s:s, s:s}", "session_id", m->session_id, "reason",
                          m->reason[0] ? m->reason : cl_end_reason_name(CL_END_EXIT));
    if (d && m->has_exit_code)
        json_object_set_new(d, "exit_code", json_integer(m->exit_code));
    return d;
}

/* ---- ack (14), replay (15), stdin_ack (29), gap (16) -------------------- */

static int cl__term_offset_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    long long off = 0, viewers = 0;
    int rc = cl__proto_session_id(d, m, err, errlen);
    if (!rc)
        rc =
            cl_json_int(d, "data", "offset", true, 0, INT64_MAX, &off, &m->has_offset, err, errlen);
    if (!rc && m->type == CL_MSG_ACK)
        rc = cl_json_int(d, "data", "viewers", false, 0, 1 << 20, &viewers, &m->has_viewers, err,
                         errlen);
    m->offset = (uint64_t)off;
    m->viewers = (int)viewers;
    return rc;
}

static json_t *cl__term_offset_encode(const struct cl_msg *m)
{
    json_t *d =
        json_pack("{s:s, s:I}", "session_id", m->session_id, "offset", (json_int_t)m->offset);
    if (d && m->type == CL_MSG_ACK && m->has_viewers)
        json_object_set_new(d, "viewers", json_integer(m->viewers));
    return d;
}

static int cl__term_gap_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    long long from = 0, to = 0;
    int rc = cl__proto_session_id(d, m, err, errlen);
    if (!rc)
        rc = cl_json_int(d, "data", "from", true, 0, INT64_MAX, &from, NULL, err, errlen);
    if (!rc)
        rc = cl_json_int(d, "data", "to", true, from, INT64_MAX, &to, NULL, err, errlen);
    m->gap_from = (uint64_t)from;
    m->gap_to = (uint64_t)to;
    return rc;
}

static json_t *cl__term_gap_encode(const struct cl_msg *m)
{
    return json_pack("{s:s, s:I, s:I}", "session_id", m->session_id, "from",
                     (json_int_t)m->gap_from, "to", (json_int_t)m->gap_to);
}

/* ---- session_title (28) ------------------------------------------------- */

static int cl__term_title_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    const char *t = NULL;
    int rc = cl__proto_session_id(d, m, err, errlen);
    /* "" is allowed (nothing known); absent is not */
    if (!rc)
        rc = cl_json_str(d, "data", "title", false, CL_SESSION_TITLE_MAX, &t, err, errlen);
    if (rc)
        return rc;
    if (!t)
        return cl_seterr(err, errlen, CL_EINVAL, "missing field data.title");
    if (!cl_proto_label_valid(t))
        return cl_seterr(err, errlen, CL_EINVAL, "field data.title has control characters");
    memcpy(m->title, t, strlen(t) + 1);
    return 0;
}

static json_t *cl__term_title_encode(const struct cl_msg *m)
{
    return json_pack("{s:s, s:s}", "session_id", m->session_id, "title", m->title);
}

static const struct cl_proto_codec cl__term_codecs[] = {
    {CL_MSG_SESSION_START, "session_start", cl__term_start_decode, cl__term_size_encode},
    {CL_MSG_SESSION_STARTED, "session_started", cl__proto_session_id, cl__term_session_id_encode},
    {CL_MSG_STDIN, "stdin", cl__term_data_decode, cl__term_data_encode},
    {CL_MSG_STDOUT, "stdout", cl__term_data_decode, cl__term_data_encode},
    {CL_MSG_RESIZE, "resize", cl__term_resize_decode, cl__term_size_encode},
    {CL_MSG_SESSION_END, "session_end", cl__term_end_decode, cl__term_end_encode},
    {CL_MSG_ACK, "ack", cl__term_offset_decode, cl__term_offset_encode},
    {CL_MSG_REPLAY, "replay", cl__term_offset_decode, cl__term_offset_encode},
    {CL_MSG_GAP, "gap", cl__term_gap_decode, cl__term_gap_encode},
    {CL_MSG_SESSION_TITLE, "session_title", cl__term_title_decode, cl__term_title_encode},
    {CL_MSG_STDIN_ACK, "stdin_ack", cl__term_offset_decode, cl__term_offset_encode},
};

const struct cl_proto_family cl_proto_term = {
    2, "terminal", 64, 95, cl__term_codecs, sizeof cl__term_codecs / sizeof cl__term_codecs[0],
};
