/*
 * proto_link: family 1 of the wire protocol, the link itself.
 *
 * What a connection says before and around the work it carries: hello /
 * hello_ok (an agent), auth / auth_ok (a browser), error, ping / pong,
 * restarting, and meta_update (a device's description of itself, read by
 * the same rules as hello's meta). docs/protocol.md, "Agent connection",
 * "Browser connection", "Errors and close codes", "Device information".
 */
#include "core/err.h"
#include "core/json.h"
#include "core/proto.h"
#include "core/proto_family.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* data.proto (optional): the protocol version asked for or accepted. */
static int cl__link_proto(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    long long v = 0;
    int rc = cl_json_int(d, "data", "proto", false, 1, 255, &v, NULL, err, errlen);
    m->proto = (int)v;
    return rc;
}

/* data.stdin_window (optional): an input window granted or honoured. */
static int cl__link_stdin_window(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    long long v = 0;
    int rc = cl_json_int(d, "data", "stdin_window", false, 1, CL_STDIN_WINDOW_MAX, &v, NULL, err,
                         errlen);
    m->stdin_window = (uint32_t)v;
    return rc;
}

/* hello.sessions: [{session_id, offset}], at most CL_AGENT_MAX_SESSIONS. */
static int cl__link_sessions(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    json_t *arr = json_object_get(d, "sessions"), *e;
    size_t i;
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return cl_seterr(err, errlen, CL_EINVAL, "field data.sessions must be an array");
    if (json_array_size(arr) > CL_AGENT_MAX_SESSIONS)
        return cl_seterr(err, errlen, CL_EINVAL, "field data.sessions has more than %d entries",
                         CL_AGENT_MAX_SESSIONS);
    if (json_array_size(arr) == 0)
        return 0;
    m->sessions = calloc(json_array_size(arr), sizeof *m->sessions);
    if (!m->sessions)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    json_array_foreach(arr, i, e)
    {
        long long off = 0;
        int rc;
        if (!json_is_object(e))
            return cl_seterr(err, errlen, CL_EINVAL, "data.sessions[%zu] must be an object", i);
        rc = cl__proto_str(e, "data.sessions[]", "session_id", true, m->sessions[i].session_id,
                           sizeof m->sessions[i].session_id, err, errlen);
        if (!rc)
            rc = cl_json_int(e, "data.sessions[]", "offset", true, 0, INT64_MAX, &off, NULL, err,
                             errlen);
        if (rc)
            return rc;
        if (!cl_proto_id_valid(m->sessions[i].session_id))
            return cl_seterr(err, errlen, CL_EINVAL,
                             "field data.sessions[].session_id has invalid characters");
        m->sessions[i].offset = (uint64_t)off;
        {
            long long acked = 0, viewers = 0, in_acked = 0, in_pending = 0;
            rc = cl_json_int(e, "data.sessions[]", "acked", false, 0, INT64_MAX, &acked, NULL, err,
                             errlen);
            if (!rc)
                rc = cl_json_int(e, "data.sessions[]", "viewers", false, 0, 1 << 20, &viewers, NULL,
                                 err, errlen);
            if (!rc)
                rc = cl_json_int(e, "data.sessions[]", "stdin_acked", false, 0, INT64_MAX / 2,
                                 &in_acked, NULL, err, errlen);
            if (!rc)
                rc = cl_json_int(e, "data.sessions[]", "stdin_pending", false, 0,
                                 CL_STDIN_WINDOW_MAX, &in_pending, NULL, err, errlen);
            if (rc)
                return rc;
            m->sessions[i].acked = (uint64_t)acked;
            m->sessions[i].viewers = (int)viewers;
            m->sessions[i].stdin_acked = (uint64_t)in_acked;
            m->sessions[i].stdin_pending = (uint64_t)in_pending;
        }
        m->nsessions = i + 1;
    }
    return 0;
}

/* A metadata key: 1..CL_DEVICE_META_KEY_MAX of [A-Za-z0-9_.-]. */
static bool cl__link_meta_key_ok(const char *k)
{
    size_t n = 0;
    for (; k[n]; n++) {
        char c = k[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return n > 0 && n <= CL_DEVICE_META_KEY_MAX;
}

/* A metadata string: at most CL_DEVICE_META_VALUE_MAX bytes, no control
 * characters (nor NUL). */
static bool cl__link_meta_str_ok(json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n > CL_DEVICE_META_VALUE_MAX || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* What a device says about itself (hello's meta, meta_update's data), kept
 * as the CL_DEVICE_META_* limits say: the object as received must fit
 * CL_DEVICE_META_MAX bytes; of it the first CL_DEVICE_META_FIELDS fields
 * with a usable key and a number or short string value are kept in
 * m->json (NULL when none is). skip_own drops name and kind (hello has
 * fields of its own for them). */
static int cl__link_meta(json_t *obj, const char *what, bool skip_own, struct cl_msg *m, char *err,
                         size_t errlen)
{
    json_t *keep, *v;
    const char *k;
    size_t n = 0, count = 0;
    char *text = cl_json_dump(obj, &n);

    if (!text)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    free(text);
    if (n > CL_DEVICE_META_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "field %s is larger than %d bytes", what,
                         CL_DEVICE_META_MAX);
    keep = json_object();
    json_object_foreach(obj, k, v)
    {
        if (count >= CL_DEVICE_META_FIELDS)
            break;
        if (!cl__link_meta_key_ok(k) ||
            (skip_own && (strcmp(k, "name") == 0 || strcmp(k, "kind") == 0)))
            continue;
        if (!json_is_number(v) && !(json_is_string(v) && cl__link_meta_str_ok(v)))
            continue;
        json_object_set(keep, k, v);
        count++;
    }
    if (count)
        m->json = cl_json_dump(keep, NULL);
    json_decref(keep);
    if (count && !m->json)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    return 0;
}

/* ---- hello (1), hello_ok (2) -------------------------------------------- */

static int cl__link_hello_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    json_t *meta = json_object_get(d, "meta");
    /* the PrivaClaw skill names its device node_id (docs/openclaw.md) */
    bool by_node = d && !json_object_get(d, "device_id") && json_object_get(d, "node_id");
    int rc = cl__proto_str(d, "data", by_node ? "node_id" : "device_id", true, m->device_id,
                           sizeof m->device_id, err, errlen);
    if (!rc)
        rc = cl__proto_str(d, "data", "token", true, m->token, sizeof m->token, err, errlen);
    if (!rc && meta && !json_is_null(meta)) {
        json_t *kind = json_object_get(meta, "kind");
        if (!json_is_object(meta))
            return cl_seterr(err, errlen, CL_EINVAL, "field data.meta must be an object");
        rc = cl__proto_str(meta, "data.meta", "name", false, m->name, sizeof m->name, err, errlen);
        /* a kind that is no short name is ignored, not refused */
        if (!rc && json_is_string(kind) && json_string_length(kind) <= CL_DEVICE_KIND_MAX &&
            cl__link_meta_key_ok(json_string_value(kind)))
            snprintf(m->kind, sizeof m->kind, "%s", json_string_value(kind));
        if (!rc)
            rc = cl__link_meta(meta, "data.meta", true, m, err, errlen);
    }
    if (!rc)
        rc = cl__link_proto(d, m, err, errlen);
    if (!rc)
        rc = cl__link_stdin_window(d, m, err, errlen);
    if (!rc) {
        /* the chat family version the agent serves; a newer one than ours
         * is served as ours (the relay only sends what it knows) */
        long long v = 0;
        rc = cl_json_int(d, "data", "chat", false, 1, 1000, &v, NULL, err, errlen);
        m->chat = (int)v;
    }
    return rc ? rc : cl__link_sessions(d, m, err, errlen);
}

static json_t *cl__link_hello_encode(const struct cl_msg *m)
{
    json_t *meta = json_pack("{s:s}", "name", m->name);
    json_t *extra = m->json ? json_loads(m->json, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *d;
    if (m->kind[0])
        json_object_set_new(meta, "kind", json_string(m->kind));
    if (json_is_object(extra))
        json_object_update_missing(meta, extra);
    json_decref(extra);
    d = json_pack("{s:s, s:s, s:o}", "device_id", m->device_id, "token", m->token, "meta", meta);
    if (d && m->nsessions) {
        json_t *arr = json_array();
        for (size_t i = 0; i < m->nsessions; i++) {
            const struct cl_msg_session *e = &m->sessions[i];
            json_t *o = json_pack("{s:s, s:I, s:I, s:i}", "session_id", e->session_id, "offset",
                                  (json_int_t)e->offset, "acked", (json_int_t)e->acked, "viewers",
                                  e->viewers);
            if (o && m->stdin_window) {
                json_object_set_new(o, "stdin_acked", json_integer((json_int_t)e->stdin_acked));
                json_object_set_new(o, "stdin_pending", json_integer((json_int_t)e->stdin_pending));
            }
            json_array_append_new(arr, o);
        }
        json_object_set_new(d, "sessions", arr);
    }
    if (d && m->proto)
        json_object_set_new(d, "proto", json_integer(m->proto));
    if (d && m->stdin_window)
        json_object_set_new(d, "stdin_window", json_integer(m->stdin_window));
    if (d && m->chat)
        json_object_set_new(d, "chat", json_integer(m->chat));
    return d;
}

/* hello_ok and auth_ok: what the relay accepted, or no data at all. */
static int cl__link_accepted_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    int rc;
    if (!d)
        return 0;
    rc = cl__link_proto(d, m, err, errlen);
    return rc ? rc : cl__link_stdin_window(d, m, err, errlen);
}

static json_t *cl__link_accepted_encode(const struct cl_msg *m)
{
    json_t *d = NULL;
    if (m->proto)
        d = json_pack("{s:i}", "proto", m->proto);
    if (m->stdin_window) {
        if (!d)
            d = json_object();
        json_object_set_new(d, "stdin_window", json_integer(m->stdin_window));
    }
    return d;
}

/* ---- auth (3), auth_ok (4) ---------------------------------------------- */

static int cl__link_auth_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    /* token optional: a browser may present its session cookie instead
     * (the relay decides; an empty token means none) */
    int rc = cl__proto_str(d, "data", "token", false, m->token, sizeof m->token, err, errlen);
    if (!rc)
        rc = cl__proto_session_id(d, m, err, errlen);
    if (!rc)
        rc = cl__proto_str(d, "data", "device_id", true, m->device_id, sizeof m->device_id, err,
                           errlen);
    if (!rc) {
        long long ro = 0;
        rc = cl_json_int(d, "data", "resume_offset", false, 0, INT64_MAX, &ro,
                         &m->has_resume_offset, err, errlen);
        m->resume_offset = (uint64_t)ro;
    }
    return rc ? rc : cl__link_proto(d, m, err, errlen);
}

static json_t *cl__link_auth_encode(const struct cl_msg *m)
{
    json_t *d = json_pack("{s:s, s:s, s:s}", "token", m->token, "session_id", m->session_id,
                          "device_id", m->device_id);
    if (d && m->has_resume_offset)
        json_object_set_new(d, "resume_offset", json_integer((json_int_t)m->resume_offset));
    if (d && m->proto)
        json_object_set_new(d, "proto", json_integer(m->proto));
    return d;
}

/* ---- error (11) --------------------------------------------------------- */

static int cl__link_error_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    int rc = cl__proto_str(d, "data", "message", false, m->message, sizeof m->message, err, errlen);
    if (!rc)
        rc = cl__proto_str(d, "data", "code", false, m->code, sizeof m->code, err, errlen);
    return rc ? rc : cl__proto_request_id(d, false, m, err, errlen);
}

static json_t *cl__link_error_encode(const struct cl_msg *m)
{
    json_t *d = json_pack("{s:s}", "message", m->message);
    if (d && m->code[0])
        json_object_set_new(d, "code", json_string(m->code));
    if (d && m->session_id[0])
        json_object_set_new(d, "session_id", json_string(m->session_id));
    if (d && m->request_id[0])
        json_object_set_new(d, "request_id", json_string(m->request_id));
    return d;
}

char *cl_msg_encode_error(const char *code, const char *message, size_t *len)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_ERROR;
    snprintf(m.code, sizeof m.code, "%s", code);
    snprintf(m.message, sizeof m.message, "%s", message);
    return cl_msg_encode(&m, len);
}

/* ---- meta_update (26) --------------------------------------------------- */

static int cl__link_meta_update_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    if (!d)
        return cl_seterr(err, errlen, CL_EINVAL, "meta_update needs a data object");
    return cl__link_meta(d, "data", false, m, err, errlen);
}

/* data is the kept metadata itself, {} when none is kept */
static json_t *cl__link_meta_update_encode(const struct cl_msg *m)
{
    json_t *d = m->json ? json_loads(m->json, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(d)) {
        json_decref(d);
        d = json_object();
    }
    return d;
}

/* ping, pong and restarting carry nothing: no decode, no encode. */
static const struct cl_proto_codec cl__link_codecs[] = {
    {CL_MSG_HELLO, "hello", cl__link_hello_decode, cl__link_hello_encode},
    {CL_MSG_HELLO_OK, "hello_ok", cl__link_accepted_decode, cl__link_accepted_encode},
    {CL_MSG_AUTH, "auth", cl__link_auth_decode, cl__link_auth_encode},
    {CL_MSG_AUTH_OK, "auth_ok", cl__link_accepted_decode, cl__link_accepted_encode},
    {CL_MSG_ERROR, "error", cl__link_error_decode, cl__link_error_encode},
    {CL_MSG_PING, "ping", NULL, NULL},
    {CL_MSG_PONG, "pong", NULL, NULL},
    {CL_MSG_RESTARTING, "restarting", NULL, NULL},
    {CL_MSG_META_UPDATE, "meta_update", cl__link_meta_update_decode, cl__link_meta_update_encode},
};

const struct cl_proto_family cl_proto_link = {
    1, "link", 32, 63, cl__link_codecs, sizeof cl__link_codecs / sizeof cl__link_codecs[0],
};
