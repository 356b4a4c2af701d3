/*
 * proto_chat: family 4 of the wire protocol, the agent's chat API carried
 * over the link (docs/protocol.md, "Chat"; the API itself: docs/chat.md).
 *
 *   chat_request  relay -> agent  {request_id, method, path, query?, user:
 *                                  {id, name}, body?}
 *   chat_response agent -> relay  {request_id, status, body?}
 *   chat_event    agent -> relay  {request_id, event, data?}
 *   chat_cancel   relay -> agent  {request_id}
 *
 * A request is answered by one chat_response, or by chat_events (a
 * stream) and then the chat_response that ends it. The codec checks the
 * shape and the bounds (CL_CHAT_PATH_MAX, CL_CHAT_QSTR_MAX,
 * CL_CHAT_EVENT_MAX); what a path means is the agent's business.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/proto.h"
#include "core/proto_family.h"

#include <stdlib.h>
#include <string.h>

static const char *const cl__chat_methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

/* Printable ASCII without space: a path or a raw (percent-encoded) query. */
static bool cl__chat_urlish(const char *s)
{
    for (; *s; s++)
        if (*s <= 0x20 || *s >= 0x7f)
            return false;
    return true;
}

static bool cl__chat_event_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* A malloc'd copy of string field key (1..max bytes, URL characters). */
static int cl__chat_url_field(json_t *d, const char *key, bool required, size_t max, char **out,
                              char *err, size_t errlen)
{
    const char *s;
    int rc = cl_json_str(d, "data", key, required, max, &s, err, errlen);
    if (rc || !s)
        return rc;
    if (required && !*s)
        return cl_seterr(err, errlen, CL_EINVAL, "field data.%s is empty", key);
    if (!cl__chat_urlish(s))
        return cl_seterr(err, errlen, CL_EINVAL,
                         "field data.%s must be printable ASCII without spaces", key);
    *out = strdup(s);
    return *out ? 0 : cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
}

/* Optional field key (any JSON value but null) kept as compact text. */
static int cl__chat_json_field(json_t *d, const char *key, struct cl_msg *m, char *err,
                               size_t errlen)
{
    json_t *v = json_object_get(d, key);
    if (!v || json_is_null(v))
        return 0;
    m->json = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return m->json ? 0 : cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
}

/* Sets key to the value held as text in m->json, if any. */
static void cl__chat_json_encode(json_t *d, const char *key, const struct cl_msg *m)
{
    json_t *v =
        m->json ? json_loads(m->json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (v)
        json_object_set_new(d, key, v);
}

/* ---- chat_request (128) ----------------------------------------------------- */

static int cl__chat_request_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    json_t *user = json_object_get(d, "user");
    bool known = false;
    int rc = cl__proto_request_id(d, true, m, err, errlen);
    if (!rc)
        rc = cl__proto_str(d, "data", "method", true, m->method, sizeof m->method, err, errlen);
    for (size_t i = 0; !rc && i < sizeof cl__chat_methods / sizeof cl__chat_methods[0]; i++)
        known |= strcmp(m->method, cl__chat_methods[i]) == 0;
    if (!rc && !known)
        return cl_seterr(err, errlen, CL_EINVAL, "field data.method is not a method the API has");
    if (!rc)
        rc = cl__chat_url_field(d, "path", true, CL_CHAT_PATH_MAX, &m->path, err, errlen);
    if (!rc && m->path[0] != '/')
        return cl_seterr(err, errlen, CL_EINVAL, "field data.path must start with \"/\"");
    if (!rc) {
        const char *q;
        rc = cl_json_str(d, "data", "query", false, CL_CHAT_QSTR_MAX, &q, err, errlen);
        if (!rc && q && *q)
            rc = cl__chat_url_field(d, "query", false, CL_CHAT_QSTR_MAX, &m->query, err, errlen);
    }
    if (rc)
        return rc;
    if (!json_is_object(user))
        return cl_seterr(err, errlen, CL_EINVAL, "field data.user must be an object");
    rc = cl__proto_str(user, "data.user", "id", true, m->user_id, sizeof m->user_id, err, errlen);
    if (!rc && !cl_proto_id_valid(m->user_id))
        return cl_seterr(err, errlen, CL_EINVAL, "field data.user.id has invalid characters");
    if (!rc)
        rc = cl__proto_str(user, "data.user", "name", false, m->user_name, sizeof m->user_name, err,
                           errlen);
    if (!rc && !cl_proto_label_valid(m->user_name))
        return cl_seterr(err, errlen, CL_EINVAL, "field data.user.name has control characters");
    return rc ? rc : cl__chat_json_field(d, "body", m, err, errlen);
}

static json_t *cl__chat_request_encode(const struct cl_msg *m)
{
    json_t *d =
        json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "request_id", m->request_id, "method", m->method,
                  "path", m->path ? m->path : "/", "user", "id", m->user_id, "name", m->user_name);
    if (d && m->query && m->query[0])
        json_object_set_new(d, "query", json_string(m->query));
    if (d)
        cl__chat_json_encode(d, "body", m);
    return d;
}

/* ---- chat_response (129) ---------------------------------------------------- */

static int cl__chat_response_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    long long status = 0;
    int rc = cl__proto_request_id(d, true, m, err, errlen);
    if (!rc)
        rc = cl_json_int(d, "data", "status", true, 100, 599, &status, NULL, err, errlen);
    m->status = (int)status;
    return rc ? rc : cl__chat_json_field(d, "body", m, err, errlen);
}

static json_t *cl__chat_response_encode(const struct cl_msg *m)
{
    json_t *d = json_pack("{s:s, s:i}", "request_id", m->request_id, "status", m->status);
    if (d)
        cl__chat_json_encode(d, "body", m);
    return d;
}

/* ---- chat_event (130) ------------------------------------------------------- */

static int cl__chat_event_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    int rc = cl__proto_request_id(d, true, m, err, errlen);
    if (!rc)
        rc = cl__proto_str(d, "data", "event", true, m->event, sizeof m->event, err, errlen);
    if (!rc && !cl__chat_event_name_ok(m->event))
        return cl_seterr(err, errlen, CL_EINVAL, "field data.event must be 1-%d of [a-z0-9_]",
                         CL_CHAT_EVENT_MAX);
    return rc ? rc : cl__chat_json_field(d, "data", m, err, errlen);
}

static json_t *cl__chat_event_encode(const struct cl_msg *m)
{
    json_t *d = json_pack("{s:s, s:s}", "request_id", m->request_id, "event", m->event);
    if (d)
        cl__chat_json_encode(d, "data", m);
    return d;
}

/* ---- chat_cancel (131) ------------------------------------------------------ */

static int cl__chat_cancel_decode(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    return cl__proto_request_id(d, true, m, err, errlen);
}

static json_t *cl__chat_cancel_encode(const struct cl_msg *m)
{
    return json_pack("{s:s}", "request_id", m->request_id);
}

static const struct cl_proto_codec cl__chat_codecs[] = {
    {CL_MSG_CHAT_REQUEST, "chat_request", cl__chat_request_decode, cl__chat_request_encode},
    {CL_MSG_CHAT_RESPONSE, "chat_response", cl__chat_response_decode, cl__chat_response_encode},
    {CL_MSG_CHAT_EVENT, "chat_event", cl__chat_event_decode, cl__chat_event_encode},
    {CL_MSG_CHAT_CANCEL, "chat_cancel", cl__chat_cancel_decode, cl__chat_cancel_encode},
};

const struct cl_proto_family cl_proto_chat = {
    4, "chat", 128, 159, cl__chat_codecs, sizeof cl__chat_codecs / sizeof cl__chat_codecs[0],
};
