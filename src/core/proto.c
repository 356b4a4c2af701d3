/*
 * proto: the frame of every message and the dispatch to its family.
 *
 * A text frame is {"type": name, "data": {...}}: this file parses and
 * builds that envelope, finds the type's row in the family tables
 * (proto_family.h) and lets the row read or write the data object. It also
 * holds the field readers the families share, and the terminal's fast
 * paths that skip the JSON tree: stdin/stdout encoded by hand, v1 stdout
 * recognised without parsing, and protocol v2's binary frames.
 */
#include "core/proto.h"
#include "core/b64.h"
#include "core/err.h"
#include "core/json.h"
#include "core/proto_family.h"
#include "core/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct cl_proto_family *const cl_proto_families[] = {&cl_proto_link, &cl_proto_term,
                                                           &cl_proto_node, &cl_proto_chat};
const size_t cl_proto_nfamilies = sizeof cl_proto_families / sizeof cl_proto_families[0];

/* A linear walk: 33 rows, cheaper than the JSON around any message. */
const struct cl_proto_codec *cl_proto_codec_by_type(enum cl_msg_type t)
{
    for (size_t f = 0; f < cl_proto_nfamilies; f++)
        for (size_t i = 0; i < cl_proto_families[f]->ncodecs; i++)
            if (cl_proto_families[f]->codecs[i].type == t)
                return &cl_proto_families[f]->codecs[i];
    return NULL;
}

const struct cl_proto_codec *cl_proto_codec_by_name(const char *name)
{
    for (size_t f = 0; f < cl_proto_nfamilies; f++)
        for (size_t i = 0; i < cl_proto_families[f]->ncodecs; i++)
            if (strcmp(cl_proto_families[f]->codecs[i].name, name) == 0)
                return &cl_proto_families[f]->codecs[i];
    return NULL;
}

const char *cl_msg_type_name(enum cl_msg_type t)
{
    const struct cl_proto_codec *c = cl_proto_codec_by_type(t);
    return c ? c->name : NULL;
}

enum cl_msg_type cl_msg_type_from_name(const char *name)
{
    const struct cl_proto_codec *c = cl_proto_codec_by_name(name);
    return c ? c->type : CL_MSG_UNKNOWN;
}

bool cl_proto_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return n > 0 && n <= CL_ID_MAX;
}

bool cl_proto_label_valid(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        /* U+0080..U+009F are C2 80..C2 9F in UTF-8 */
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return false;
    }
    return true;
}

/* ---- field readers the families share ---------------------------------- */

int cl__proto_str(json_t *obj, const char *what, const char *key, bool required, char *dst,
                  size_t cap, char *err, size_t errlen)
{
    const char *s;
    int rc = cl_json_str(obj, what, key, required, cap - 1, &s, err, errlen);
    if (rc)
        return rc;
    if (s)
        memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int cl__proto_session_id(json_t *d, struct cl_msg *m, char *err, size_t errlen)
{
    return cl__proto_str(d, "data", "session_id", true, m->session_id, sizeof m->session_id, err,
                         errlen);
}

int cl__proto_request_id(json_t *d, bool required, struct cl_msg *m, char *err, size_t errlen)
{
    int rc = cl__proto_str(d, "data", "request_id", required, m->request_id, sizeof m->request_id,
                           err, errlen);
    if (!rc && m->request_id[0] && !cl_proto_id_valid(m->request_id))
        return cl_seterr(err, errlen, CL_EINVAL, "field data.request_id has invalid characters");
    return rc;
}

/* ---- the envelope ------------------------------------------------------- */

int cl_msg_decode(const char *text, size_t len, struct cl_msg *out, char *err, size_t errlen)
{
    const struct cl_proto_codec *c;
    const char *type;
    json_t *root, *data;
    int rc;

    memset(out, 0, sizeof *out);
    root = cl_json_parse_object(text, len, err, errlen);
    if (!root)
        return CL_EINVAL;
    rc = cl_json_str(root, "message", "type", true, 64, &type, err, errlen);
    if (rc)
        goto out_decref;
    c = cl_proto_codec_by_name(type);
    if (!c) {
        rc = cl_seterr(err, errlen, CL_EPROTO, "unknown message type \"%.40s\"", type);
        goto out_decref;
    }
    out->type = c->type;
    data = json_object_get(root, "data");
    if (data && !json_is_object(data) && !json_is_null(data)) {
        rc = cl_seterr(err, errlen, CL_EINVAL, "field data must be an object");
        goto out_decref;
    }
    if (data && json_is_null(data))
        data = NULL;
    rc = c->decode ? c->decode(data, out, err, errlen) : 0;
    /* the common fields: checked here once for every type */
    if (!rc && out->session_id[0] && !cl_proto_id_valid(out->session_id))
        rc = cl_seterr(err, errlen, CL_EINVAL, "field data.session_id has invalid characters");
    if (!rc && out->device_id[0] && !cl_proto_id_valid(out->device_id))
        rc = cl_seterr(err, errlen, CL_EINVAL, "field data.device_id has invalid characters");
    if (rc) {
        enum cl_msg_type t = out->type;
        cl_msg_clear(out);
        out->type = t;
    }
out_decref:
    json_decref(root);
    return rc;
}

void cl_msg_clear(struct cl_msg *m)
{
    if (!m->data_borrowed)
        free(m->data);
    free(m->sessions);
    free(m->text);
    free(m->json);
    free(m->path);
    free(m->query);
    cl_wipe(m->token, sizeof m->token);
    memset(m, 0, sizeof *m);
}

char *cl_msg_encode(const struct cl_msg *m, size_t *len)
{
    const struct cl_proto_codec *c = cl_proto_codec_by_type(m->type);
    json_t *root, *d;
    char *out;

    if (!c)
        return NULL;
    root = json_object();
    json_object_set_new(root, "type", json_string(c->name));
    d = c->encode ? c->encode(m) : NULL;
    if (d)
        json_object_set_new(root, "data", d);
    out = cl_json_dump(root, len);
    json_decref(root);
    return out;
}

/* ---- the terminal's fast paths ------------------------------------------ */

size_t cl_msg_data_encoded_max(size_t session_id_len, size_t n)
{
    /* {"type":"stdout","data":{"session_id":"","offset":N,"data_b64":""}} */
    return 96 + session_id_len + 20 + cl_b64_encoded_size(n);
}

long cl_msg_encode_data(enum cl_msg_type type, const char *session_id, const uint8_t *bytes,
                        size_t n, int64_t offset, char *buf, size_t cap)
{
    size_t sid_len = strlen(session_id);
    int w;
    long b;

    if (cap < cl_msg_data_encoded_max(sid_len, n))
        return CL_ELIMIT;
    /* session ids are validated on entry (no quotes or backslashes). */
    if (offset >= 0)
        w = snprintf(buf, cap,
                     "{\"type\":\"%s\",\"data\":{\"session_id\":\"%s\",\"offset\":%lld,"
                     "\"data_b64\":\"",
                     cl_msg_type_name(type), session_id, (long long)offset);
    else
        w = snprintf(buf, cap, "{\"type\":\"%s\",\"data\":{\"session_id\":\"%s\",\"data_b64\":\"",
                     cl_msg_type_name(type), session_id);
    b = cl_b64_encode(bytes, n, buf + w, cap - (size_t)w);
    if (b < 0)
        return b;
    memcpy(buf + w + b, "\"}}", 4);
    return w + b + 3;
}

/* ---- protocol v2: binary data frames ---------------------------------- */

size_t cl_bin_write_header(uint8_t *dst, enum cl_msg_type type, const char *sid, uint64_t offset)
{
    size_t n = strlen(sid);
    dst[0] = (uint8_t)type;
    dst[1] = (uint8_t)n;
    for (int i = 0; i < 8; i++)
        dst[2 + i] = (uint8_t)(offset >> (56 - 8 * i));
    memcpy(dst + CL_BIN_FIXED, sid, n);
    return CL_BIN_FIXED + n;
}

int cl_bin_decode(const uint8_t *buf, size_t len, struct cl_msg *out, char *err, size_t errlen)
{
    size_t n;
    uint64_t off = 0;

    memset(out, 0, sizeof *out);
    if (len < CL_BIN_FIXED + 1)
        return cl_seterr(err, errlen, CL_EINVAL, "binary frame shorter than its header");
    if (buf[0] != CL_MSG_STDIN && buf[0] != CL_MSG_STDOUT)
        return cl_seterr(err, errlen, CL_EPROTO, "binary frame of unknown type %u",
                         (unsigned)buf[0]);
    n = buf[1];
    if (n == 0 || n > CL_ID_MAX || len < CL_BIN_FIXED + n)
        return cl_seterr(err, errlen, CL_EINVAL, "binary frame with a bad session id length");
    for (int i = 0; i < 8; i++)
        off = off << 8 | buf[2 + i];
    if (off > INT64_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "binary frame offset out of range");
    memcpy(out->session_id, buf + CL_BIN_FIXED, n);
    out->session_id[n] = '\0';
    if (strlen(out->session_id) != n || !cl_proto_id_valid(out->session_id)) {
        out->session_id[0] = '\0';
        return cl_seterr(err, errlen, CL_EINVAL, "binary frame session id has invalid characters");
    }
    out->type = (enum cl_msg_type)buf[0];
    out->has_offset = out->type == CL_MSG_STDOUT;
    out->offset = out->has_offset ? off : 0;
    out->data = (uint8_t *)(buf + CL_BIN_FIXED + n);
    out->data_len = len - CL_BIN_FIXED - n;
    out->data_borrowed = true;
    return 0;
}

/* ---- v1 output, read without JSON --------------------------------------- */

/* Consumes the literal lit at *p (bounded by end). */
static bool cl__lit(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

/* The shape cl_msg_encode_data writes for stdout with an offset or for
 * stdin without one, read and checked without JSON: out gets type,
 * session_id, (stdout) offset and data_len, and b64/b64_len pointing into
 * text. 0, or -1 with out cleared. */
static int cl__peek_data(const char *text, size_t len, enum cl_msg_type type, struct cl_msg *out)
{
    const char *p = text, *end = text + len, *q;
    bool out_dir = type == CL_MSG_STDOUT;
    uint64_t off = 0;
    size_t n;
    long dl;

    memset(out, 0, sizeof *out);
    if (!cl__lit(&p, end,
                 out_dir ? "{\"type\":\"stdout\",\"data\":{\"session_id\":\""
                         : "{\"type\":\"stdin\",\"data\":{\"session_id\":\""))
        return -1;
    q = memchr(p, '"', (size_t)(end - p));
    if (!q || q == p || (size_t)(q - p) > CL_ID_MAX)
        return -1;
    n = (size_t)(q - p);
    memcpy(out->session_id, p, n);
    out->session_id[n] = '\0';
    if (strlen(out->session_id) != n || !cl_proto_id_valid(out->session_id))
        goto fail;
    p = q + 1;
    if (out_dir) {
        if (!cl__lit(&p, end, ",\"offset\":") || p == end || *p < '0' || *p > '9')
            goto fail;
        if (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9')
            goto fail; /* leading zero */
        for (n = 0; p < end && *p >= '0' && *p <= '9'; p++, n++) {
            uint64_t d = (uint64_t)(*p - '0');
            if (n >= 19 || off > ((uint64_t)INT64_MAX - d) / 10)
                goto fail;
            off = off * 10 + d;
        }
    }
    if (!cl__lit(&p, end, ",\"data_b64\":\""))
        goto fail;
    q = memchr(p, '"', (size_t)(end - p));
    if (!q || (size_t)(end - q) != 3 || memcmp(q, "\"}}", 3) != 0)
        goto fail;
    dl = cl_b64_check(p, (size_t)(q - p)); /* strict: one encoding per payload */
    if (dl < 0)
        goto fail;
    out->type = type;
    out->has_offset = out_dir;
    out->offset = off;
    out->data_len = (size_t)dl;
    out->b64 = p;
    out->b64_len = (size_t)(q - p);
    return 0;
fail:
    memset(out, 0, sizeof *out);
    return -1;
}

int cl_msg_peek_stdout(const char *text, size_t len, struct cl_msg *out)
{
    return cl__peek_data(text, len, CL_MSG_STDOUT, out);
}

int cl_msg_peek_stdin(const char *text, size_t len, struct cl_msg *out)
{
    uint8_t *data;

    if (cl__peek_data(text, len, CL_MSG_STDIN, out) != 0)
        return -1;
    /* as the JSON decoder leaves it: a malloc'd copy, b64 not kept */
    data = malloc(out->data_len / 3 * 3 + 3);
    if (!data) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    cl_b64_decode(out->b64, out->b64_len, data, out->data_len); /* checked above */
    out->data = data;
    out->b64 = NULL;
    out->b64_len = 0;
    return 0;
}
