/*
 * libFuzzer harness for the /events message parser (src/relay/events.c,
 * cl_events_parse).
 *
 * Any bytes go to the parser; an accepted message is auth (with a token of
 * 1..CL_TOKEN_MAX bytes, NUL-terminated) or ping, and a refused one names
 * one of the documented error codes and a message.
 * Seed corpus: tests/fuzz/corpus/events/.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "core/json.h"
#include "relay/events.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cl_json_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cl_events_msg m;
    const char *code = NULL;
    char err[200];
    int rc;

    err[0] = 0;
    rc = cl_events_parse((const char *)data, size, &m, &code, err, sizeof err);
    if (rc == 0) {
        CHECK(m.type == CL_EVMSG_AUTH || m.type == CL_EVMSG_PING);
        if (m.type == CL_EVMSG_AUTH) {
            /* empty: no token given, the session cookie may stand in */
            size_t n = strnlen(m.token, sizeof m.token);
            CHECK(n <= CL_TOKEN_MAX);
        } else {
            CHECK(m.token[0] == 0);
        }
    } else {
        CHECK(code != NULL && err[0] != 0);
        CHECK(strcmp(code, "bad_json") == 0 || strcmp(code, "bad_message") == 0 ||
              strcmp(code, "unknown_type") == 0);
    }
    return 0;
}
