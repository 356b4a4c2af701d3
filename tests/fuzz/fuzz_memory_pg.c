/*
 * libFuzzer harness for what the PostgreSQL memory provider builds and
 * reads from text (src/agent/memory_pg.c): the tsquery it makes of what a
 * person typed (cl_memory_pg_tsquery), and the connection string it
 * names in logs without its password (cl_memory_pg_describe,
 * cl_memory_pg_url_has_password).
 *
 * Any bytes (cut at the first NUL) go in. The tsquery, with output
 * buffers of several sizes, must be NUL-terminated inside the buffer, fit
 * the documented worst case, and be only quoted words with every inner '
 * doubled and \ escaped, joined by " & ", ending in ":*": the shape that
 * leaves no character to tsquery's syntax. The description must be one
 * logfmt-safe line and never hold the password.
 * Seed corpus: tests/fuzz/corpus/memory_pg/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/memory_pg.h"
#include "core/err.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* True when s is "'w1' & 'w2' & ... & 'wn':*" with each inner ' doubled
 * and each \ escaped, and no whitespace inside a word. */
static bool well_formed(const char *s)
{
    size_t i = 0, n = strlen(s);

    if (n < 4 || s[n - 2] != ':' || s[n - 1] != '*')
        return false;
    n -= 2;
    for (;;) {
        if (i >= n || s[i++] != '\'')
            return false;
        for (;;) {
            if (i >= n)
                return false;
            if (s[i] == '\\') {
                if (i + 1 >= n || s[i + 1] != '\\')
                    return false;
                i += 2;
                continue;
            }
            if (s[i] == '\'') {
                if (i + 1 < n && s[i + 1] == '\'') {
                    i += 2;
                    continue;
                }
                i++;
                break;
            }
            if (space(s[i]))
                return false;
            i++;
        }
        if (i == n)
            return true;
        if (i + 3 > n || memcmp(s + i, " & ", 3) != 0)
            return false;
        i += 3;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[] = {1, 4, 9, 64, CL_MEMORY_PG_TSQUERY_CAP};
    char *q = malloc(size + 1), out[CL_MEMORY_PG_TSQUERY_CAP + 16], where[512];

    if (!q)
        return 0;
    memcpy(q, data, size);
    q[size] = 0;
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        memset(out, 0x5a, sizeof out);
        int rc = cl_memory_pg_tsquery(q, out, caps[c]);
        CHECK(rc == 0 || rc == CL_EINVAL || rc == CL_ELIMIT);
        for (size_t i = caps[c]; i < sizeof out; i++)
            CHECK((unsigned char)out[i] == 0x5a); /* nothing written past cap */
        if (rc == 0) {
            CHECK(memchr(out, 0, caps[c]) != NULL);
            CHECK(well_formed(out));
        }
        if (c == sizeof caps / sizeof caps[0] - 1 && strlen(q) <= CL_CHAT_QUERY_MAX)
            CHECK(rc != CL_ELIMIT); /* the documented size is always enough */
    }

    /* the input as a connection string */
    int rc = cl_memory_pg_describe(q, where, sizeof where);
    CHECK(rc == 0 || rc == CL_EINVAL);
    CHECK(memchr(where, 0, sizeof where) != NULL);
    CHECK(strchr(where, '\n') == NULL && strchr(where, '\r') == NULL);
    CHECK(strncmp(where, "host=\"", 6) == 0 || rc != 0);
    /* the only double quotes are the describer's own four */
    if (rc == 0) {
        int quotes = 0;
        for (const char *p = where; *p; p++)
            quotes += *p == '"';
        CHECK(quotes == 4);
    }
    (void)cl_memory_pg_url_has_password(q);
    free(q);
    return 0;
}
