/* json: strict jansson helpers with precise error messages. */
#include "core/json.h"
#include "core/err.h"

#include <malloc.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static void cl__json_free(void *p)
{
    if (!p)
        return;
    sodium_memzero(p, malloc_usable_size(p));
    free(p);
}

void cl_json_init(void)
{
    json_set_alloc_funcs(malloc, cl__json_free);
}

json_t *cl_json_parse_object(const char *buf, size_t len, char *err, size_t errlen)
{
    json_error_t e;
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
    if (!v) {
        cl_seterr(err, errlen, CL_EINVAL, "malformed JSON at line %d column %d: %s", e.line,
                  e.column, e.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        cl_seterr(err, errlen, CL_EINVAL, "expected a JSON object");
        return NULL;
    }
    return v;
}

int cl_json_str(json_t *obj, const char *what, const char *key, bool required, size_t maxlen,
                const char **out, char *err, size_t errlen)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return cl_seterr(err, errlen, CL_EINVAL, "missing field %s.%s", what, key);
        return 0;
    }
    if (!json_is_string(v))
        return cl_seterr(err, errlen, CL_EINVAL, "field %s.%s must be a string", what, key);
    size_t n = json_string_length(v);
    if (n == 0 && required)
        return cl_seterr(err, errlen, CL_EINVAL, "field %s.%s must not be empty", what, key);
    if (n > maxlen)
        return cl_seterr(err, errlen, CL_EINVAL, "field %s.%s is longer than %zu bytes", what, key,
                         maxlen);
    *out = json_string_value(v);
    return 0;
}

bool cl_json_plain_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        /* U+0080..U+009F are C2 80..C2 9F in UTF-8 */
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9f)
            return false;
    }
    return true;
}

int cl_json_text(json_t *obj, const char *what, const char *key, bool required, size_t maxlen,
                 const char **out, char *err, size_t errlen)
{
    int rc = cl_json_str(obj, what, key, required, maxlen, out, err, errlen);
    if (rc || !*out)
        return rc;
    if (strlen(*out) != json_string_length(json_object_get(obj, key)) ||
        !cl_json_plain_text(*out, strlen(*out))) {
        *out = NULL;
        return cl_seterr(err, errlen, CL_EINVAL, "field %s.%s contains a control character", what,
                         key);
    }
    return 0;
}

int cl_json_int(json_t *obj, const char *what, const char *key, bool required, long long min,
                long long max, long long *out, bool *present, char *err, size_t errlen)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (present)
        *present = false;
    if (!v || json_is_null(v)) {
        if (required)
            return cl_seterr(err, errlen, CL_EINVAL, "missing field %s.%s", what, key);
        return 0;
    }
    if (!json_is_integer(v))
        return cl_seterr(err, errlen, CL_EINVAL, "field %s.%s must be an integer", what, key);
    long long n = json_integer_value(v);
    if (n < min || n > max)
        return cl_seterr(err, errlen, CL_EINVAL, "field %s.%s must be between %lld and %lld", what,
                         key, min, max);
    *out = n;
    if (present)
        *present = true;
    return 0;
}

char *cl_json_dump(const json_t *v, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT);
    if (s && len)
        *len = strlen(s);
    return s;
}
