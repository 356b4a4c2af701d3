/*
 * libFuzzer harness: the loopback chat door's --chat-listen value
 * (src/agent/chat_http.c, cl_chat_http_parse_listen), and the query parts
 * both chat doors percent-encode again (src/core/urlq.c).
 * Input: the bytes up to the first NUL are the listen value; the rest,
 * split at NULs, are query parts.
 * Checked: an accepted address is loopback (127.x.x.x or ::1), its port
 * 1..65535, its address NUL-terminated within its buffer; a rebuilt query
 * never overruns and holds only unreserved characters, '%', '=' and '&'.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/chat_http.h"
#include "core/urlq.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), addr[64], err[256], q[64];
    const char *p, *end;
    size_t n = 0;
    int port = 0;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (cl_chat_http_parse_listen(buf, addr, sizeof addr, &port, err, sizeof err) == 0) {
        struct in_addr a4;
        struct in6_addr a6;
        CHECK(memchr(addr, '\0', sizeof addr) != NULL);
        CHECK(port >= 1 && port <= 65535);
        if (inet_pton(AF_INET, addr, &a4) == 1)
            CHECK((ntohl(a4.s_addr) >> 24) == 127);
        else
            CHECK(inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6));
    }
    /* the query parts after the first NUL */
    p = buf + strlen(buf);
    end = buf + size;
    q[0] = '\0';
    while (p < end) {
        const char *part = p + 1;
        const char *stop = memchr(part, '\0', (size_t)(end - part));
        size_t len = stop ? (size_t)(stop - part) : (size_t)(end - part);
        if (part > end)
            break;
        if (cl_urlq_add(q, sizeof q, &n, part, len) != 0)
            break;
        CHECK(n < sizeof q && q[n] == '\0' && strlen(q) == n);
        p = part + len;
    }
    for (size_t i = 0; i < strlen(q); i++)
        CHECK(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%=&", q[i]));
    free(buf);
    return 0;
}
