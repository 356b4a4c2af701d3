/*
 * Unit tests for src/agent/http.c: the agent's HTTP client on lws, against
 * a one-connection server on loopback (a thread) that plays back a canned
 * answer — the request on the wire, status and body, the ways a body can
 * end (length, chunked, close), the size cap, truncation, the deadline,
 * refused connections, no redirects, and a TLS client meeting a plain
 * server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/http.h"
#include "core/err.h"
#include "core/limits.h"

struct srv {
    int lfd;
    int port;
    pthread_t th;
    const char *resp; /* written after the request (or at once: no_read) */
    size_t resp_len;
    bool no_read; /* answer without reading a request */
    bool hold;    /* after answering, keep the connection until the client closes it */
    char req[16384];
    size_t req_len;
};

/* The request's headers are complete and so is its body (Content-Length). */
static bool srv_request_done(const struct srv *s)
{
    const char *end = memmem(s->req, s->req_len, "\r\n\r\n", 4), *cl;
    size_t head, want = 0;

    if (!end)
        return false;
    head = (size_t)(end - s->req) + 4;
    cl = strcasestr(s->req, "\r\ncontent-length:");
    if (cl && cl < end)
        want = strtoul(cl + 17, NULL, 10);
    return s->req_len >= head + want;
}

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    struct pollfd pfd;
    char sink[512];
    ssize_t n;
    int fd = accept(s->lfd, NULL, NULL);

    if (fd < 0)
        return NULL;
    while (!s->no_read && !srv_request_done(s) && s->req_len < sizeof s->req - 1) {
        n = read(fd, s->req + s->req_len, sizeof s->req - 1 - s->req_len);
        if (n <= 0)
            break;
        s->req_len += (size_t)n;
    }
    s->req[s->req_len] = 0;
    for (size_t off = 0; off < s->resp_len; off += (size_t)n) {
        n = write(fd, s->resp + off, s->resp_len - off);
        if (n <= 0)
            break;
    }
    if (s->hold) {
        pfd.fd = fd;
        pfd.events = POLLIN;
        while (poll(&pfd, 1, 20000) == 1 && read(fd, sink, sizeof sink) > 0)
            ;
    }
    close(fd);
    return NULL;
}

static void srv_start(struct srv *s)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;

    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->lfd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 4), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    if (!s->resp_len && s->resp)
        s->resp_len = strlen(s->resp);
    assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
    pthread_join(s->th, NULL);
    close(s->lfd);
}

static void url_of(const struct srv *s, const char *scheme, const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s://127.0.0.1:%d%s", scheme, s->port, path);
}

static void test_get(void **state)
{
    static const char body[] = "{\"status\":\"ok\",\"version\":\"9\"}";
    char resp[256], url[128], err[256] = "";
    struct cl_agent_http_resp r;
    struct srv s = {.hold = true}; /* keep-alive: the length ends the body, not the close */
    (void)state;

    snprintf(resp, sizeof resp,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             sizeof body - 1, body);
    s.resp = resp;
    srv_start(&s);
    url_of(&s, "http", "/base/healthz", url, sizeof url);
    assert_int_equal(cl_agent_http_request(url, NULL, NULL, 5, &r, err, sizeof err), 0);
    srv_stop(&s);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, sizeof body - 1);
    assert_string_equal(r.body, body);
    assert_non_null(strstr(s.req, "GET /base/healthz HTTP/1.1\r\n"));
    assert_non_null(strcasestr(s.req, "\r\nhost: 127.0.0.1:"));
    assert_non_null(strcasestr(s.req, "\r\nuser-agent: clawlink/"));
    assert_non_null(strcasestr(s.req, "\r\naccept: application/json\r\n"));
    assert_null(strcasestr(s.req, "content-length"));
    cl_agent_http_resp_free(&r);
    assert_null(r.body);
}

static void test_post(void **state)
{
    static const char json[] = "{\"pairing_code\":\"ABCD-1234\",\"name\":\"dev\"}";
    char url[128], err[256] = "", clen[64];
    struct cl_agent_http_resp r;
    struct srv s = {.resp = "HTTP/1.1 400 Bad Request\r\nContent-Length: 17\r\n\r\n"
                            "{\"error\":\"nope\"}\n"};
    (void)state;

    srv_start(&s);
    url_of(&s, "http", "/functions/v1/pair-device", url, sizeof url);
    assert_int_equal(cl_agent_http_request(url, json, NULL, 5, &r, err, sizeof err), 0);
    srv_stop(&s);
    assert_int_equal(r.status, 400); /* any status is an answer */
    assert_string_equal(r.body, "{\"error\":\"nope\"}\n");
    assert_non_null(strstr(s.req, "POST /functions/v1/pair-device HTTP/1.1\r\n"));
    assert_non_null(strcasestr(s.req, "\r\ncontent-type: application/json\r\n"));
    snprintf(clen, sizeof clen, "\r\ncontent-length: %zu\r\n", sizeof json - 1);
    assert_non_null(strcasestr(s.req, clen));
    assert_true(s.req_len > sizeof json - 1);
    assert_string_equal(s.req + s.req_len - (sizeof json - 1), json);
    cl_agent_http_resp_free(&r);
}

static void test_body_framings(void **state)
{
    static const char *const answers[] = {
        /* chunked */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n "
        "world\r\n0\r\n\r\n",
        /* ended by the close */
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello world",
    };
    char url[128], err[256];
    struct cl_agent_http_resp r;
    (void)state;

    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        struct srv s = {.resp = answers[i]};
        srv_start(&s);
        url_of(&s, "http", "/", url, sizeof url);
        err[0] = 0;
        assert_int_equal(cl_agent_http_request(url, NULL, NULL, 5, &r, err, sizeof err), 0);
        srv_stop(&s);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "hello world");
        cl_agent_http_resp_free(&r);
    }
}

static void test_no_redirect(void **state)
{
    char url[128], err[256];
    struct cl_agent_http_resp r;
    struct srv s = {.resp = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\n"
                            "Content-Length: 0\r\n\r\n"};
    (void)state;

    srv_start(&s);
    url_of(&s, "http", "/", url, sizeof url);
    assert_int_equal(cl_agent_http_request(url, NULL, NULL, 5, &r, err, sizeof err), 0);
    srv_stop(&s);
    assert_int_equal(r.status, 302);
    assert_int_equal(r.len, 0);
    cl_agent_http_resp_free(&r);
}

/* A declared length over the cap, and an undeclared one that grows past it. */
static void test_too_big(void **state)
{
    size_t big = CL_HTTP_MAX_BODY + 1000, hlen;
    char *resp = malloc(big + 128), url[128], err[256];
    struct cl_agent_http_resp r;
    (void)state;

    assert_non_null(resp);
    for (int declared = 0; declared < 2; declared++) {
        struct srv s = {0};
        hlen = declared
                   ? (size_t)sprintf(resp, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", big)
                   : (size_t)sprintf(resp, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        memset(resp + hlen, 'a', big);
        s.resp = resp;
        s.resp_len = hlen + big;
        srv_start(&s);
        url_of(&s, "http", "/", url, sizeof url);
        err[0] = 0;
        assert_int_equal(cl_agent_http_request(url, NULL, NULL, 5, &r, err, sizeof err), CL_ELIMIT);
        srv_stop(&s);
        assert_non_null(strstr(err, "larger than"));
        assert_null(r.body);
    }
    free(resp);
}

static void test_truncated(void **state)
{
    char url[128], err[256] = "";
    struct cl_agent_http_resp r;
    struct srv s = {.resp = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"};
    (void)state;

    srv_start(&s);
    url_of(&s, "http", "/", url, sizeof url);
    assert_int_equal(cl_agent_http_request(url, NULL, NULL, 5, &r, err, sizeof err), CL_EIO);
    srv_stop(&s);
    assert_null(r.body);
    assert_true(err[0] != 0);
}

/* A server that takes the request and never answers: the deadline ends it. */
static void test_deadline(void **state)
{
    char url[128], err[256] = "";
    struct cl_agent_http_resp r;
    struct srv s = {.hold = true};
    (void)state;

    srv_start(&s);
    url_of(&s, "http", "/", url, sizeof url);
    assert_int_equal(cl_agent_http_request(url, NULL, NULL, 1, &r, err, sizeof err), CL_EIO);
    srv_stop(&s);
    assert_non_null(strstr(err, "within 1 s"));
}

static void test_refused(void **state)
{
    char url[128], err[256] = "";
    struct cl_agent_http_resp r;
    struct srv s = {0};
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    (void)state;

    /* a port that was just free: bound, never listened on */
    s.lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s.lfd, (struct sockaddr *)&a, &alen), 0);
    s.port = ntohs(a.sin_port);
    url_of(&s, "http", "/", url, sizeof url);
    assert_int_equal(cl_agent_http_request(url, NULL, NULL, 5, &r, err, sizeof err), CL_EIO);
    close(s.lfd);
    assert_non_null(strstr(err, "cannot connect"));
}

/* https to a server that answers in plain HTTP: a TLS failure, not a 200. */
static void test_tls_to_plain(void **state)
{
    char url[128], err[256] = "";
    struct cl_agent_http_resp r;
    struct srv s = {.no_read = true,
                    .resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"};
    (void)state;

    srv_start(&s);
    url_of(&s, "https", "/", url, sizeof url);
    assert_int_equal(cl_agent_http_request(url, NULL, NULL, 5, &r, err, sizeof err), CL_EIO);
    srv_stop(&s);
    assert_null(r.body);
    assert_non_null(strstr(err, "TLS"));
}

static void test_bad_input(void **state)
{
    char err[256];
    struct cl_agent_http_resp r;
    (void)state;

    assert_int_equal(cl_agent_http_request("ftp://127.0.0.1/", NULL, NULL, 1, &r, err, sizeof err),
                     CL_EINVAL);
    assert_int_equal(cl_agent_http_request("not a url", NULL, NULL, 1, &r, err, sizeof err),
                     CL_EINVAL);
    assert_int_equal(cl_agent_http_request("https://127.0.0.1:9/", NULL, "/nonexistent/ca.pem", 1,
                                           &r, err, sizeof err),
                     CL_EINVAL);
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
    assert_null(r.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get),           cmocka_unit_test(test_post),
        cmocka_unit_test(test_body_framings), cmocka_unit_test(test_no_redirect),
        cmocka_unit_test(test_too_big),       cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_deadline),      cmocka_unit_test(test_refused),
        cmocka_unit_test(test_tls_to_plain),  cmocka_unit_test(test_bad_input),
    };
    lws_set_log_level(LLL_ERR, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
