/*
 * libFuzzer harness: what the relay's HTTP layer parses from a request
 * before any route runs — the path against every route pattern, the
 * email normaliser and the pairing-code normaliser. Input: three fields
 * separated by NUL bytes (path, email, code).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/secret.h"
#include "relay/auth.h"
#include "relay/http.h"

#include "fuzz_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[] = {
    "/healthz",
    "/api/v1/projects",
    "/api/v1/projects/:id",
    "/api/v1/projects/:id/devices",
    "/functions/v1/pair-device",
    "/a/:x/:y",
    "/a/:x/:y/:z",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *field[3];
    char *buf = fuzz_fields(data, size, field);
    if (!buf)
        return 0;

    for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
        const char *params[CL_HTTP_MAX_PARAMS] = {NULL, NULL};
        char scratch[256];
        if (cl_http_match(patterns[p], field[0], params, scratch, sizeof scratch)) {
            for (int i = 0; i < CL_HTTP_MAX_PARAMS; i++)
                if (params[i] && (!params[i][0] || strchr(params[i], '/')))
                    __builtin_trap(); /* a captured segment is never empty nor spans '/' */
        }
    }
    {
        char email[CL_EMAIL_MAX + 1];
        if (cl_auth_normalize_email(field[1], email) == 0 &&
            (strlen(email) < 3 || strlen(email) > CL_EMAIL_MAX || !strchr(email, '@')))
            __builtin_trap();
    }
    {
        char code[CL_PAIRING_CODE_LEN + 1];
        if (cl_pairing_code_normalize(field[2], code) == 0) {
            if (strlen(code) != CL_PAIRING_CODE_LEN ||
                strspn(code, CL_PAIRING_ALPHABET) != CL_PAIRING_CODE_LEN)
                __builtin_trap();
        }
    }
    free(buf);
    return 0;
}
