/*
 * chat_files: the /files routes of the chat API (chat_files.h), the JSON
 * side of files.c: parse the query or body, call files.c, shape the
 * answer and map its errors to the contract's codes (docs/chat.md
 * "Files", "Errors").
 */
#include "agent/chat_files.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/err.h"
#include "core/limits.h"

/* What a listing may grow to in JSON: a frame, less room for the rest. */
#define CL__LIST_BUDGET (CL_CHAT_FRAME_MAX - 16 * 1024)

static json_t *cl__err(int *status, int st, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static json_t *cl__err(int *status, int st, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *status = st;
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

/* A files.c refusal as the contract's error; why is its reason. */
static json_t *cl__err_rc(int *status, int rc, const char *why, bool upload)
{
    switch (rc) {
    case CL_EINVAL:
        return cl__err(status, 400, "bad_path", "%s", why);
    case CL_EFORBIDDEN:
        return cl__err(status, 403, "forbidden_path", "%s", why);
    case CL_ENOTFOUND:
        return cl__err(status, 404, upload ? "no_upload" : "not_found", "%s", why);
    case CL_EEXIST:
        return cl__err(status, 409, "exists", "%s", why);
    case CL_ESTATE:
        return cl__err(status, 409, "bad_offset", "%s", why);
    case CL_ELIMIT:
        return cl__err(status, 413, "upload_too_large", "%s", why);
    case CL_EAGAIN:
        return cl__err(status, 429, "too_many_uploads", "%s", why);
    default:
        return cl__err(status, 500, "io_error", "%s", why[0] ? why : cl_strerror(rc));
    }
}

/* name's value in the raw query q, percent-decoded into out (cap bytes)
 * with its length in *len. 1 found, 0 absent, -1 longer than cap - 1. A
 * "%00" decodes to a NUL inside the value, which the path check sees. */
static int cl__qget(const char *q, const char *name, char *out, size_t cap, size_t *len)
{
    size_t nlen = strlen(name);
    const char *p = q;

    while (p && *p) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) >= nlen && strncmp(p, name, nlen) == 0 &&
            (p[nlen] == '=' || p + nlen == end)) {
            size_t o = 0;
            for (const char *s = p + nlen + (p + nlen < end); s < end; s++) {
                if (o + 1 >= cap)
                    return -1;
                if (*s == '+') {
                    out[o++] = ' ';
                } else if (*s == '%' && end - s >= 3 && isxdigit((unsigned char)s[1]) &&
                           isxdigit((unsigned char)s[2])) {
                    char hex[3] = {s[1], s[2], 0};
                    out[o++] = (char)strtol(hex, NULL, 16);
                    s += 2;
                } else {
                    out[o++] = *s;
                }
            }
            out[o] = '\0';
            *len = o;
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* ?name= as a non-negative integer (def when absent); false and an error
 * when malformed. */
static bool cl__qnum(const char *q, const char *name, uint64_t def, uint64_t *out, int *status,
                     json_t **answer)
{
    char buf[32], *end;
    size_t len;
    int got = cl__qget(q, name, buf, sizeof buf, &len);
    unsigned long long v;

    *out = def;
    if (got == 0)
        return true;
    errno = 0;
    v = got > 0 && isdigit((unsigned char)buf[0]) ? strtoull(buf, &end, 10) : 0;
    if (got < 0 || !isdigit((unsigned char)buf[0]) || errno || *end || v > (uint64_t)INT64_MAX) {
        *answer = cl__err(status, 400, "bad_request", "%s must be a non-negative integer", name);
        return false;
    }
    *out = v;
    return true;
}

/* The path from ?path= (absent: $HOME); false and an error when it cannot
 * be one. */
static bool cl__qpath(const char *q, char *out, size_t *len, int *status, json_t **answer)
{
    int got = cl__qget(q, "path", out, CL_FILES_PATH_MAX + 1, len);
    if (got < 0) {
        *answer =
            cl__err(status, 400, "bad_path", "the path is longer than CL_FILES_PATH_MAX (%d bytes)",
                    CL_FILES_PATH_MAX);
        return false;
    }
    if (got == 0) {
        out[0] = '\0';
        *len = 0;
    }
    return true;
}

/* A path JSON can carry: valid UTF-8 (an answer names it). */
static bool cl__utf8(const char *s, size_t len, int *status, json_t **answer)
{
    json_t *t = json_stringn(s, len);
    if (t) {
        json_decref(t);
        return true;
    }
    *answer = cl__err(status, 400, "bad_path", "the path is not valid UTF-8");
    return false;
}

static json_t *cl__entry_obj(const char *path, const struct cl_files_entry *e)
{
    json_t *name = json_string(e->name), *o;
    if (!name)
        return NULL;
    o = json_pack("{s:o, s:s, s:s, s:I, s:I, s:i}", "name", name, "path", path, "type",
                  cl_files_type_name(e->type), "size", (json_int_t)e->size, "mtime",
                  (json_int_t)e->mtime_ms, "mode", (int)e->mode);
    return o;
}

static void cl__list(struct cl_files *files, const char *q, int *status, json_t **answer)
{
    char path[CL_FILES_PATH_MAX + 1], norm[CL_FILES_PATH_MAX + 1], why[512] = "";
    char child[CL_FILES_PATH_MAX + CL_FILES_NAME_MAX + 2];
    struct cl_files_entry *ents;
    size_t len, n, used;
    bool truncated;
    json_t *arr;
    int rc;

    if (!cl__qpath(q, path, &len, status, answer) || !cl__utf8(path, len, status, answer))
        return;
    rc = cl_files_list(files, path, len, norm, &ents, &n, &truncated, why, sizeof why);
    if (rc) {
        *answer = cl__err_rc(status, rc, why, false);
        return;
    }
    arr = json_array();
    used = strlen(norm) + 64;
    for (size_t i = 0; i < n; i++) {
        json_t *o;
        snprintf(child, sizeof child, "%s%s%s", norm, strcmp(norm, "/") ? "/" : "", ents[i].name);
        o = cl__entry_obj(child, &ents[i]);
        if (!o)
            continue; /* a name that is not UTF-8: JSON cannot say it */
        used += json_dumpb(o, NULL, 0, JSON_COMPACT) + 1;
        if (used > CL__LIST_BUDGET) {
            json_decref(o);
            truncated = true;
            break;
        }
        json_array_append_new(arr, o);
    }
    free(ents);
    *status = 200;
    *answer = json_pack("{s:s, s:o, s:b}", "path", norm, "entries", arr, "truncated", truncated);
}

static void cl__stat(struct cl_files *files, const char *q, int *status, json_t **answer)
{
    char path[CL_FILES_PATH_MAX + 1], norm[CL_FILES_PATH_MAX + 1], why[512] = "";
    struct cl_files_entry e;
    size_t len;
    int rc;

    if (!cl__qpath(q, path, &len, status, answer) || !cl__utf8(path, len, status, answer))
        return;
    rc = cl_files_stat(files, path, len, norm, &e, why, sizeof why);
    if (rc) {
        *answer = cl__err_rc(status, rc, why, false);
        return;
    }
    *answer = cl__entry_obj(norm, &e);
    if (!*answer)
        *answer = cl__err(status, 400, "bad_path", "the name is not valid UTF-8");
    else
        *status = 200;
}

static void cl__download(struct cl_files *files, const char *q, int *status, json_t **answer)
{
    char path[CL_FILES_PATH_MAX + 1], norm[CL_FILES_PATH_MAX + 1], why[512] = "", *b64;
    uint64_t offset, length;
    int64_t size = 0, mtime = 0;
    uint8_t *buf;
    size_t len, got;
    int rc;

    if (!cl__qpath(q, path, &len, status, answer) || !cl__utf8(path, len, status, answer) ||
        !cl__qnum(q, "offset", 0, &offset, status, answer) ||
        !cl__qnum(q, "length", CL_FILES_CHUNK_MAX, &length, status, answer))
        return;
    if (length > CL_FILES_CHUNK_MAX || length == 0)
        length = CL_FILES_CHUNK_MAX;
    buf = malloc(length);
    b64 = malloc(cl_b64_encoded_size(length));
    if (!buf || !b64)
        abort();
    rc = cl_files_read(files, path, len, norm, offset, buf, length, &got, &size, &mtime, why,
                       sizeof why);
    if (rc) {
        *answer = cl__err_rc(status, rc, why, false);
    } else {
        long n = cl_b64_encode(buf, got, b64, cl_b64_encoded_size(length));
        *status = 200;
        *answer = json_pack("{s:s, s:I, s:I, s:I, s:s#, s:b, s:I}", "path", norm, "size",
                            (json_int_t)size, "offset", (json_int_t)offset, "length",
                            (json_int_t)got, "data_b64", b64, (int)(n > 0 ? n : 0), "eof",
                            offset + got >= (uint64_t)size, "mtime", (json_int_t)mtime);
    }
    free(buf);
    free(b64);
}

/* body[key] as a string (NULL when absent); false and an error when it is
 * something else. */
static bool cl__bstr(json_t *body, const char *key, const char **out, size_t *len, int *status,
                     json_t **answer)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    *len = 0;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        *answer = cl__err(status, 400, "bad_request", "%s must be a string", key);
        return false;
    }
    *out = json_string_value(v);
    *len = json_string_length(v);
    return true;
}

static bool cl__bbool(json_t *body, const char *key, bool *out, int *status, json_t **answer)
{
    json_t *v = json_object_get(body, key);
    *out = false;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_boolean(v)) {
        *answer = cl__err(status, 400, "bad_request", "%s must be true or false", key);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

static void cl__upload(struct cl_files *files, json_t *body, const char *user, int *status,
                       json_t **answer)
{
    char norm[CL_FILES_PATH_MAX + 1], why[512] = "", id[CL_FILES_UPLOAD_ID_LEN + 1];
    char hex[65];
    struct cl_files_chunk c = {.owner = user ? user : ""};
    struct cl_files_entry e;
    const char *b64;
    size_t b64len, idlen;
    uint8_t *data, sha[32];
    uint64_t received;
    json_t *off;
    bool done;
    long n;
    int rc;

    if (!json_is_object(body)) {
        *answer = cl__err(status, 400, "bad_request", "the body must be a JSON object");
        return;
    }
    if (!cl__bstr(body, "path", &c.path, &c.path_len, status, answer) ||
        !cl__bstr(body, "upload_id", &c.upload_id, &idlen, status, answer) ||
        !cl__bstr(body, "data_b64", &b64, &b64len, status, answer) ||
        !cl__bbool(body, "final", &c.final, status, answer) ||
        !cl__bbool(body, "overwrite", &c.overwrite, status, answer))
        return;
    if (!c.upload_id && !c.path) {
        *answer = cl__err(status, 400, "bad_request", "path is required to start an upload");
        return;
    }
    if (c.path && !cl__utf8(c.path, c.path_len, status, answer))
        return;
    off = json_object_get(body, "offset");
    if (off && !(json_is_integer(off) && json_integer_value(off) >= 0)) {
        *answer = cl__err(status, 400, "bad_request", "offset must be a non-negative integer");
        return;
    }
    c.offset = off ? (uint64_t)json_integer_value(off) : 0;
    if (b64len > cl_b64_encoded_size(CL_FILES_UPLOAD_CHUNK)) {
        *answer = cl__err(status, 413, "chunk_too_large",
                          "a chunk is over CL_FILES_UPLOAD_CHUNK (%d bytes decoded)",
                          CL_FILES_UPLOAD_CHUNK);
        return;
    }
    data = malloc(CL_FILES_UPLOAD_CHUNK);
    if (!data)
        abort();
    n = b64len ? cl_b64_decode(b64, b64len, data, CL_FILES_UPLOAD_CHUNK) : 0;
    if (n < 0) {
        *answer = n == CL_ELIMIT ? cl__err(status, 413, "chunk_too_large",
                                           "a chunk is over CL_FILES_UPLOAD_CHUNK (%d bytes "
                                           "decoded)",
                                           CL_FILES_UPLOAD_CHUNK)
                                 : cl__err(status, 400, "bad_request",
                                           "data_b64 is not base64 (RFC 4648, with padding)");
        free(data);
        return;
    }
    c.data = data;
    c.n = (size_t)n;
    rc = cl_files_upload(files, &c, norm, id, &received, &done, &e, sha, why, sizeof why);
    free(data);
    if (rc) {
        *answer = cl__err_rc(status, rc, why, c.upload_id && c.upload_id[0]);
        if (rc == CL_ESTATE)
            json_object_set_new(json_object_get(*answer, "error"), "expected_offset",
                                json_integer((json_int_t)received));
        return;
    }
    *status = 200;
    if (!done) {
        *answer = json_pack("{s:s, s:s, s:I, s:b}", "upload_id", id, "path", norm, "received",
                            (json_int_t)received, "done", 0);
        return;
    }
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", sha[i]);
    *answer = cl__entry_obj(norm, &e);
    if (!*answer)
        *answer = json_pack("{s:s, s:I}", "path", norm, "size", (json_int_t)e.size);
    json_object_set_new(*answer, "sha256", json_string(hex));
    json_object_set_new(*answer, "done", json_true());
}

static void cl__mkdir(struct cl_files *files, json_t *body, int *status, json_t **answer)
{
    char norm[CL_FILES_PATH_MAX + 1], why[512] = "";
    struct cl_files_entry e;
    const char *path;
    size_t len;
    int rc;

    if (!json_is_object(body)) {
        *answer = cl__err(status, 400, "bad_request", "the body must be a JSON object");
        return;
    }
    if (!cl__bstr(body, "path", &path, &len, status, answer))
        return;
    if (!path || !len) {
        *answer = cl__err(status, 400, "bad_request", "path is required");
        return;
    }
    if (!cl__utf8(path, len, status, answer))
        return;
    rc = cl_files_mkdir(files, path, len, norm, &e, why, sizeof why);
    if (rc) {
        *answer = cl__err_rc(status, rc, why, false);
        return;
    }
    *answer = cl__entry_obj(norm, &e);
    *status = 201;
}

void cl_chat_files_handle(struct cl_files *files, const char *method, const char *sub,
                          const char *q, json_t *body, const char *user, int *status,
                          json_t **answer)
{
    bool get = strcmp(method, "GET") == 0;

    *answer = NULL;
    if (!sub) {
        if (get)
            cl__list(files, q, status, answer);
        else
            *answer = cl__err(status, 405, "method_not_allowed", "%s is not allowed here", method);
    } else if (strcmp(sub, "stat") == 0) {
        if (get)
            cl__stat(files, q, status, answer);
        else
            *answer = cl__err(status, 405, "method_not_allowed", "%s is not allowed here", method);
    } else if (strcmp(sub, "content") == 0) {
        if (get)
            cl__download(files, q, status, answer);
        else if (strcmp(method, "PUT") == 0)
            cl__upload(files, body, user, status, answer);
        else
            *answer = cl__err(status, 405, "method_not_allowed", "%s is not allowed here", method);
    } else if (strcmp(sub, "mkdir") == 0) {
        if (strcmp(method, "POST") == 0)
            cl__mkdir(files, body, status, answer);
        else
            *answer = cl__err(status, 405, "method_not_allowed", "%s is not allowed here", method);
    } else {
        *answer = cl__err(status, 404, "not_found", "no such route");
    }
}
