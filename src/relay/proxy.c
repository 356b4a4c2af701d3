/* proxy: the client's address behind a trusted load balancer (proxy.h). */
#include "relay/proxy.h"
#include "core/err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* addr (text) as family and bytes; an IPv4-mapped IPv6 address becomes
 * IPv4. False when it is not an address. */
static bool cl__proxy_addr(const char *text, size_t n, int *family, uint8_t out[16])
{
    char buf[INET6_ADDRSTRLEN + 1];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, text, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, out) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, buf, out) == 1) {
        if (memcmp(out, mapped, sizeof mapped) == 0) {
            memmove(out, out + 12, 4);
            *family = AF_INET;
        } else {
            *family = AF_INET6;
        }
        return true;
    }
    return false;
}

static bool cl__proxy_in(const struct cl_proxy_nets *nets, int family, const uint8_t *a)
{
    if (!nets)
        return false;
    for (int i = 0; i < nets->n; i++) {
        unsigned bits = nets->net[i].bits, whole = bits / 8, rest = bits % 8;
        if (nets->net[i].family != family)
            continue;
        if (memcmp(nets->net[i].addr, a, whole) != 0)
            continue;
        if (rest && ((nets->net[i].addr[whole] ^ a[whole]) & (uint8_t)(0xff << (8 - rest))))
            continue;
        return true;
    }
    return false;
}

int cl_proxy_nets_parse(const char *spec, struct cl_proxy_nets *out, char *err, size_t errcap)
{
    const char *p = spec;

    memset(out, 0, sizeof *out);
    if (!spec || !*spec) {
        snprintf(err, errcap, "no address given");
        return CL_EINVAL;
    }
    for (;;) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        const char *slash = memchr(p, '/', (size_t)(end - p));
        int family;
        unsigned max, bits;
        uint8_t a[16] = {0};

        if (out->n == CL_RELAY_TRUSTED_PROXIES_MAX) {
            snprintf(err, errcap, "more than %d addresses", CL_RELAY_TRUSTED_PROXIES_MAX);
            return CL_EINVAL;
        }
        if (!cl__proxy_addr(p, (size_t)((slash ? slash : end) - p), &family, a)) {
            snprintf(err, errcap, "entry %d is not an IP address or ADDR/BITS", out->n + 1);
            return CL_EINVAL;
        }
        max = family == AF_INET ? 32 : 128;
        bits = max;
        if (slash) {
            const char *d = slash + 1;
            if (d == end || end - d > 3) {
                snprintf(err, errcap, "entry %d has a bad prefix length", out->n + 1);
                return CL_EINVAL;
            }
            bits = 0;
            for (; d < end; d++) {
                if (*d < '0' || *d > '9') {
                    snprintf(err, errcap, "entry %d has a bad prefix length", out->n + 1);
                    return CL_EINVAL;
                }
                bits = bits * 10 + (unsigned)(*d - '0');
            }
            if (bits > max) {
                snprintf(err, errcap, "entry %d has a prefix longer than %u bits", out->n + 1, max);
                return CL_EINVAL;
            }
        }
        out->net[out->n].family = family;
        memcpy(out->net[out->n].addr, a, 16);
        out->net[out->n].bits = bits;
        out->n++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

bool cl_proxy_trusted(const struct cl_proxy_nets *nets, const char *addr)
{
    int family;
    uint8_t a[16];

    return nets && addr && cl__proxy_addr(addr, strlen(addr), &family, a) &&
           cl__proxy_in(nets, family, a);
}

/* One X-Forwarded-For entry, trimmed, without a port or brackets
 * ([::1]:80, 1.2.3.4:5), into *s and *n. */
static void cl__proxy_entry(const char **s, size_t *n)
{
    const char *b = *s, *e = *s + *n, *colon;

    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (b < e && *b == '[') {
        const char *close = memchr(b, ']', (size_t)(e - b));
        if (close) {
            b++;
            e = close;
        }
    } else if ((colon = memchr(b, ':', (size_t)(e - b))) != NULL &&
               !memchr(colon + 1, ':', (size_t)(e - colon - 1))) {
        e = colon; /* one colon: IPv4 with a port (IPv6 has several) */
    }
    *s = b;
    *n = (size_t)(e - b);
}

void cl_proxy_client(const struct cl_proxy_nets *nets, const char *peer, const char *xff, char *out,
                     size_t cap)
{
    const char *end;

    snprintf(out, cap, "%s", peer);
    if (!xff || !cl_proxy_trusted(nets, peer))
        return;
    end = xff + strlen(xff);
    while (end > xff) { /* right to left */
        const char *start = end, *s;
        size_t n;
        int family;
        uint8_t a[16];
        char text[INET6_ADDRSTRLEN];

        while (start > xff && start[-1] != ',')
            start--;
        s = start;
        n = (size_t)(end - start);
        cl__proxy_entry(&s, &n);
        if (!cl__proxy_addr(s, n, &family, a))
            return; /* not an address: the proxy's own stands */
        if (!cl__proxy_in(nets, family, a)) {
            if (inet_ntop(family, a, text, sizeof text))
                snprintf(out, cap, "%s", text);
            return;
        }
        end = start > xff ? start - 1 : xff;
    }
}

void cl_proxy_peer(const struct cl_proxy_nets *nets, struct lws *wsi, char *out, size_t cap)
{
    char peer[INET6_ADDRSTRLEN + 8], xff[CL_RELAY_XFF_MAX];
    int len;

    lws_get_peer_simple(wsi, peer, sizeof peer);
    if (!nets || !cl_proxy_trusted(nets, peer)) {
        snprintf(out, cap, "%s", peer);
        return;
    }
    len = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
    if (len <= 0 || len >= (int)sizeof xff ||
        lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) < 0) {
        snprintf(out, cap, "%s", peer);
        return;
    }
    cl_proxy_client(nets, peer, xff, out, cap);
}
