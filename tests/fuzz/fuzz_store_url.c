/*
 * libFuzzer harness for the --store URL parser (src/relay/store.c,
 * cl_store_url_parse).
 *
 * Any bytes as a URL: the parser returns 0 or CL_EINVAL, always with a
 * NUL-terminated reason; an accepted URL is "sqlite:" and a non-empty
 * path without control characters that is a prefix of what followed it,
 * or a postgres:// / postgresql:// URL without control characters, kept
 * whole; a refusal's reason never depends on the URL's text after "://"
 * (a postgres URL's password must not reach a log). Seed corpus:
 * tests/fuzz/corpus/store_url/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "core/err.h"
#include "relay/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1), err[256];
    struct cl_store_url u;
    int rc;

    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = 0;
    memset(err, 'x', sizeof err);
    err[sizeof err - 1] = 0;
    rc = cl_store_url_parse(url, &u, err, sizeof err);
    CHECK(rc == 0 || rc == CL_EINVAL);
    CHECK(memchr(err, 0, sizeof err) != NULL);
    if (rc == 0 && u.kind == CL_STORE_POSTGRES) {
        /* kept whole, for libpq */
        CHECK(strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0);
        CHECK(strcmp(u.path, url) == 0);
        for (size_t i = 0; url[i]; i++)
            CHECK((unsigned char)url[i] >= 0x20 && url[i] != 0x7f);
    } else if (rc == 0) {
        size_t n = strlen(u.path);
        CHECK(u.kind == CL_STORE_SQLITE);
        CHECK(strncmp(url, "sqlite:", 7) == 0);
        CHECK(n > 0 && n <= CL_STORE_URL_MAX);
        CHECK(strncmp(url + 7, u.path, n) == 0 || strcmp(u.path, ".") == 0);
        for (size_t i = 0; i < n; i++)
            CHECK((unsigned char)u.path[i] >= 0x20 && u.path[i] != 0x7f);
    } else {
        char *rest = strstr(url, "://"), err2[256];
        /* the reason never depends on what follows "://" (a password may
         * be there), only on its length and control characters: the same
         * URL with that text's other bytes made 'x' gets the same reason */
        if (rest) {
            for (char *c = rest + 3; *c; c++)
                if ((unsigned char)*c >= 0x20 && *c != 0x7f)
                    *c = 'x';
            CHECK(cl_store_url_parse(url, &u, err2, sizeof err2) == rc);
            CHECK(strcmp(err, err2) == 0);
        }
    }
    free(url);
    return 0;
}
