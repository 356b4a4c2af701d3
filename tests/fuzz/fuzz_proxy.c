/*
 * libFuzzer harness for --trusted-proxy and X-Forwarded-For
 * (src/relay/proxy.c): input is three lines, the trusted list, the TCP
 * peer, the header.
 *
 * The parser returns 0 or CL_EINVAL with a NUL-terminated reason and at
 * most CL_RELAY_TRUSTED_PROXIES_MAX networks of valid prefix lengths. The
 * client chosen is the peer itself, or (only when the peer is trusted) an
 * address that parses and is not trusted: a header can never make a
 * request look as if it came from a trusted proxy, nor from a non-address.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "core/err.h"
#include "relay/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *peer, *xff, err[256], out[64];
    struct cl_proxy_nets nets;
    uint8_t a[16];
    int rc;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    peer = strchr(buf, '\n');
    xff = peer ? strchr(peer + 1, '\n') : NULL;
    if (peer)
        *peer++ = 0;
    if (xff)
        *xff++ = 0;
    memset(err, 'x', sizeof err);
    err[sizeof err - 1] = 0;
    rc = cl_proxy_nets_parse(buf, &nets, err, sizeof err);
    CHECK(rc == 0 || rc == CL_EINVAL);
    CHECK(memchr(err, 0, sizeof err) != NULL);
    if (rc == 0) {
        CHECK(nets.n >= 1 && nets.n <= CL_RELAY_TRUSTED_PROXIES_MAX);
        for (int i = 0; i < nets.n; i++)
            CHECK(nets.net[i].bits <= (nets.net[i].family == AF_INET ? 32u : 128u));
    }
    if (peer && strlen(peer) < 48) {
        cl_proxy_client(rc == 0 ? &nets : NULL, peer, xff, out, sizeof out);
        if (strcmp(out, peer) != 0) {
            CHECK(rc == 0 && cl_proxy_trusted(&nets, peer));
            CHECK(inet_pton(AF_INET, out, a) == 1 || inet_pton(AF_INET6, out, a) == 1);
            CHECK(!cl_proxy_trusted(&nets, out));
        }
    }
    free(buf);
    return 0;
}
