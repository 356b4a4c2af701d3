/* urlq: percent-encoding the parts of a query string again (urlq.h). */
#include "core/urlq.h"
#include "core/err.h"

#include <stdbool.h>
#include <string.h>

static bool cl__enc(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
        if (*n + (plain ? 1 : 3) >= cap)
            return false;
        if (plain) {
            out[(*n)++] = (char)ch;
        } else {
            out[(*n)++] = '%';
            out[(*n)++] = hex[ch >> 4];
            out[(*n)++] = hex[ch & 15];
        }
    }
    out[*n] = '\0';
    return true;
}

int cl_urlq_add(char *out, size_t cap, size_t *n, const char *part, size_t len)
{
    const char *eq = memchr(part, '=', len);
    size_t name = eq ? (size_t)(eq - part) : len;

    if (!len)
        return 0;
    if (*n) {
        if (*n + 1 >= cap)
            return CL_ELIMIT;
        out[(*n)++] = '&';
        out[*n] = '\0';
    }
    if (!cl__enc(out, cap, n, part, name))
        return CL_ELIMIT;
    if (!eq)
        return 0;
    if (*n + 1 >= cap)
        return CL_ELIMIT;
    out[(*n)++] = '=';
    out[*n] = '\0';
    return cl__enc(out, cap, n, eq + 1, len - name - 1) ? 0 : CL_ELIMIT;
}
