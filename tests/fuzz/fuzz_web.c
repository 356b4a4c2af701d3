/*
 * libFuzzer harness: what the relay's web module reads from a request
 * (src/relay/web.c): the path (page or file, its content type and cache
 * lifetime, --web-dir confinement, the app's routes), Accept-Encoding
 * (also read as a route pattern) and If-None-Match.
 * Input: three fields separated by NUL bytes (path, Accept-Encoding,
 * If-None-Match).
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "fuzz_check.h"
#include "fuzz_fields.h"
#include "relay/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A directory that exists and holds files: confinement is checked
 * against real lookups, read-only. */
#define ROOT "/usr/share"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *field[3];
    char out[PATH_MAX];
    int rc;
    char *buf = fuzz_fields(data, size, field);
    if (!buf)
        return 0;

    /* a page is never reserved for the API, never has an extension */
    if (cl_web_is_page(field[0])) {
        CHECK(!cl_web_is_reserved(field[0]));
        CHECK(strcmp(cl_web_content_type(field[0]), "application/octet-stream") == 0);
    }
    CHECK(cl_web_content_type(field[0]) != NULL);
    CHECK(cl_web_cache_control(field[0]) != NULL);
    /* a resolved file is under the root, whatever the path said */
    rc = cl_web_dir_resolve(ROOT, field[0], out, sizeof out);
    if (rc == 0) {
        CHECK(strncmp(out, ROOT "/", sizeof ROOT) == 0);
        CHECK(!strstr(field[0], "/.") && !strstr(field[0], "//"));
    }
    /* a route pattern matches itself where it has no parameter; an app
     * route is always a page */
    if (field[1][0] == '/' && !strchr(field[1], ':'))
        CHECK(cl_web_route_match(field[1], field[1]));
    (void)cl_web_route_match(field[1], field[0]);
    if (cl_web_is_app_route(field[0]) && field[0][0] == '/' && !strchr(field[0], '.'))
        CHECK(cl_web_is_page(field[0]) || cl_web_is_reserved(field[0]));
    (void)cl_web_accepts_gzip(field[1]);
    /* "*" matches anything; an exact strong tag matches */
    if (cl_web_etag_matches(field[2], "0123456789abcdef0123456789abcdef"))
        CHECK(strchr(field[2], '*') || strstr(field[2], "0123456789abcdef0123456789abcdef"));
    CHECK(cl_web_etag_matches("\"0123456789abcdef0123456789abcdef\"",
                              "0123456789abcdef0123456789abcdef"));
    free(buf);
    return 0;
}
