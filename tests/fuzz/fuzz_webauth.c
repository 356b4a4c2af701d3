/*
 * libFuzzer harness: what webauth.c reads from a browser's request before
 * any route runs — the Cookie header (cl_webauth_cookie_get) and the
 * Origin/Host pair of the same-origin check. Input: three fields
 * separated by NUL bytes (Cookie header, Origin, Host); the Cookie field
 * is passed with its length, not NUL-terminated.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "fuzz_check.h"
#include "relay/webauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *z = memchr(data, 0, size);
    size_t clen = z ? (size_t)(z - data) : size;
    char *hdr = malloc(clen ? clen : 1), *rest;
    const char *origin, *host;
    char v[CL_TOKEN_MAX + 1], small[8];
    int rc;

    if (!hdr)
        return 0;
    memcpy(hdr, data, clen); /* exactly clen bytes: ASan catches a read past them */
    rc = cl_webauth_cookie_get(hdr, clen, CL_SESSION_COOKIE, v, sizeof v);
    CHECK(rc == 0 || rc == CL_ENOTFOUND || rc == CL_ELIMIT || rc == CL_EINVAL);
    if (rc == 0) {
        CHECK(strlen(v) < sizeof v);
        for (const char *p = v; *p; p++)
            CHECK((unsigned char)*p > ' ' && *p != '"' && *p != ';' && *p != ',');
    }
    rc = cl_webauth_cookie_get(hdr, clen, CL_SESSION_COOKIE, small, sizeof small);
    CHECK(rc != 0 || strlen(small) < sizeof small);
    free(hdr);

    /* the rest: "origin\0host" */
    size_t rlen = z ? size - clen - 1 : 0;
    rest = malloc(rlen + 2);
    if (!rest)
        return 0;
    if (rlen)
        memcpy(rest, z + 1, rlen);
    rest[rlen] = rest[rlen + 1] = 0;
    origin = rest;
    host = rest + strlen(rest) + (strlen(rest) < rlen ? 1 : 0);
    bool same = cl_webauth_origin_same(origin, host, false, NULL);
    /* same-origin means the Origin names the host: never for "null" */
    CHECK(!same || strncasecmp(origin, "http://", 7) == 0);
    CHECK(!cl_webauth_origin_same("null", host, false, NULL));
    (void)cl_webauth_origin_same(origin, host, true, origin);
    (void)cl_webauth_addr_loopback(origin);
    free(rest);
    return 0;
}
