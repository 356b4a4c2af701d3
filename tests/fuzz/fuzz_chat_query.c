/*
 * libFuzzer harness for the chat store's search-query builder
 * (cl_chat_fts_query in src/agent/chat_store.c), which turns what a person
 * typed into an FTS5 query.
 *
 * Any bytes (cut at the first NUL) go in, with output buffers of several
 * sizes. On success the output must be NUL-terminated inside the buffer,
 * fit the documented worst case, and be made only of quoted strings with
 * every inner quote doubled, separated by single spaces, ending in '*':
 * the shape that leaves no character to FTS5's syntax.
 * Seed corpus: tests/fuzz/corpus/chat_query/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/chat_store.h"
#include "core/err.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when s is '"w1" "w2" ... "wn"*' with each inner '"' doubled. */
static bool well_formed(const char *s)
{
    size_t i = 0, n = strlen(s);

    if (n < 3 || s[n - 1] != '*')
        return false;
    n--; /* the final '*' */
    while (i < n) {
        if (s[i++] != '"')
            return false;
        for (;;) {
            if (i >= n)
                return false;
            if (s[i] == '"') {
                if (i + 1 < n && s[i + 1] == '"') {
                    i += 2;
                    continue;
                }
                i++;
                break;
            }
            if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
                return false;
            i++;
        }
        if (i == n)
            return true;
        if (s[i++] != ' ')
            return false;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[] = {1, 3, 8, 64, 3 * CL_CHAT_QUERY_MAX + 2};
    char *q = malloc(size + 1), out[3 * CL_CHAT_QUERY_MAX + 2 + 16];

    if (!q)
        return 0;
    memcpy(q, data, size);
    q[size] = 0;
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        memset(out, 0x5a, sizeof out);
        int rc = cl_chat_fts_query(q, out, caps[c]);
        CHECK(rc == 0 || rc == CL_EINVAL || rc == CL_ELIMIT);
        for (size_t i = caps[c]; i < sizeof out; i++)
            CHECK((unsigned char)out[i] == 0x5a); /* nothing written past cap */
        if (rc == 0) {
            CHECK(memchr(out, 0, caps[c]) != NULL);
            CHECK(well_formed(out));
        }
        /* The documented size is always enough for a short enough query. */
        if (c == sizeof caps / sizeof caps[0] - 1 && strlen(q) <= CL_CHAT_QUERY_MAX)
            CHECK(rc != CL_ELIMIT);
    }
    free(q);
    return 0;
}
