/*
 * libFuzzer harness for the --nats URL list parser (src/relay/bus.c,
 * cl_bus_urls_parse).
 *
 * Any bytes as a list: the parser returns 0 or CL_EINVAL, always with a
 * NUL-terminated reason; an accepted list has 1..CL_RELAY_BUS_SERVERS_MAX
 * servers, each a nats:// URL found in the input whose "where" (host:port
 * for logs and health) holds no '@' (no credentials) and a port 1..65535;
 * a refused list's reason never repeats a credential-sized piece of the
 * input after its scheme. Seed corpus: tests/fuzz/corpus/bus_url/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "core/err.h"
#include "relay/bus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *spec = malloc(size + 1), err[256];
    struct cl_bus_urls *u = malloc(sizeof *u);
    int rc;

    if (!spec || !u) {
        free(spec);
        free(u);
        return 0;
    }
    memcpy(spec, data, size);
    spec[size] = 0;
    memset(err, 'x', sizeof err);
    err[sizeof err - 1] = 0;
    rc = cl_bus_urls_parse(spec, u, err, sizeof err);
    CHECK(rc == 0 || rc == CL_EINVAL);
    CHECK(memchr(err, 0, sizeof err) != NULL);
    if (rc == 0) {
        CHECK(u->n >= 1 && u->n <= CL_RELAY_BUS_SERVERS_MAX);
        for (int i = 0; i < u->n; i++) {
            const char *colon = strrchr(u->where[i], ':');
            long port;
            CHECK(strncmp(u->url[i], "nats://", 7) == 0);
            CHECK(strstr(spec, u->url[i]) != NULL);
            CHECK(strchr(u->where[i], '@') == NULL);
            CHECK(colon != NULL);
            port = strtol(colon + 1, NULL, 10);
            CHECK(port >= 1 && port <= 65535);
        }
    } else {
        const char *rest = strstr(spec, "://");
        if (rest && strlen(rest + 3) >= 8)
            CHECK(strstr(err, rest + 3) == NULL);
    }
    free(spec);
    free(u);
    return 0;
}
