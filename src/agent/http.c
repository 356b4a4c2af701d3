/*
 * http: one blocking HTTP/1.1 request on the libwebsockets client the agent
 * already links for its relay link, so the agent needs no HTTP library.
 *
 * Each request gets its own short-lived lws context on lws's default poll
 * loop, serviced here until the response completes, fails, or the deadline
 * (an lws timer) passes; destroying the context closes whatever is left.
 */
#include "agent/http.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/secret.h"

#include <errno.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(LWS_OPENSSL_SUPPORT) && !defined(LWS_WITH_MBEDTLS)
#include <openssl/x509.h>
#define CL__OPENSSL 1
#endif

/* Bytes read from the socket per RECEIVE_CLIENT_HTTP. */
#define CL__READ_CHUNK 4096

enum cl__outcome {
    CL__PENDING,
    CL__DONE,    /* a complete response */
    CL__OVER,    /* body longer than CL_HTTP_MAX_BODY */
    CL__TIMEOUT, /* the deadline passed first */
    CL__FAILED,  /* connection error or early close: why says which */
};

struct cl__req {
    /* request */
    uint8_t *body; /* LWS_PRE headroom + the JSON body, or NULL for a GET */
    size_t body_len;
    bool body_sent;

    /* response */
    long status;
    char hsts[160];
    bool framed; /* Content-Length or chunked: a close before COMPLETED is an error */
    char *buf;   /* CL_HTTP_MAX_BODY + 1 */
    size_t len;

    enum cl__outcome outcome; /* the first one reached stays */
    char why[200];            /* CL__FAILED: lws's reason, or "" when unknown */
    char cert_why[120];       /* why OpenSSL rejected the server's certificate */

    struct lws_context *ctx;
    lws_sorted_usec_list_t deadline;
};

static struct cl__req *cl__req_of(struct lws *wsi)
{
    return wsi ? lws_context_user(lws_get_context(wsi)) : NULL;
}

/* Records how the request ended; the first outcome stays (the close that
 * follows an error or a completed response changes nothing). lws runs
 * timers (ours, and its own timeouts that close the connection) before it
 * polls, so lws_service would sleep on after them: wake it. */
static void cl__finish(struct cl__req *r, enum cl__outcome o, const char *why)
{
    if (r->outcome != CL__PENDING)
        return;
    r->outcome = o;
    if (why)
        snprintf(r->why, sizeof r->why, "%s", why);
    lws_cancel_service(r->ctx);
}

static void cl__on_deadline(lws_sorted_usec_list_t *sul)
{
    cl__finish(lws_container_of(sul, struct cl__req, deadline), CL__TIMEOUT, NULL);
}

static int cl__append_headers(struct cl__req *r, struct lws *wsi, unsigned char **p,
                              unsigned char *end)
{
    static const char ua[] = "clawlink/" CL_VERSION, json[] = "application/json";
    char clen[24];
    int n;

    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT, (const unsigned char *)ua,
                                     (int)sizeof ua - 1, p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_ACCEPT, (const unsigned char *)json,
                                     (int)sizeof json - 1, p, end))
        return -1;
    if (!r->body)
        return 0;
    n = snprintf(clen, sizeof clen, "%zu", r->body_len);
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, (const unsigned char *)json,
                                     (int)sizeof json - 1, p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                     (const unsigned char *)clen, n, p, end))
        return -1;
    /* the body goes out from CLIENT_HTTP_WRITEABLE */
    lws_client_http_body_pending(wsi, 1);
    lws_callback_on_writable(wsi);
    return 0;
}

/* The status line and headers are in. A declared length over the cap
 * fails before any of the body is read. */
static int cl__on_established(struct cl__req *r, struct lws *wsi)
{
    char clen[24] = "";

    r->status = lws_http_client_http_response(wsi);
    if (lws_hdr_copy(wsi, r->hsts, sizeof r->hsts, WSI_TOKEN_HTTP_STRICT_TRANSPORT_SECURITY) < 0)
        r->hsts[0] = 0;
    if (lws_hdr_copy(wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
        r->framed = true;
        if (strtoull(clen, NULL, 10) > CL_HTTP_MAX_BODY) {
            cl__finish(r, CL__OVER, NULL);
            return -1;
        }
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
        r->framed = true;
    return 0;
}

static int cl__on_body(struct cl__req *r, const void *in, size_t len)
{
    if (len > CL_HTTP_MAX_BODY - r->len) {
        cl__finish(r, CL__OVER, NULL);
        return -1;
    }
    memcpy(r->buf + r->len, in, len);
    r->len += len;
    return 0;
}

static int cl__callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct cl__req *r = cl__req_of(wsi);
    char chunk[LWS_PRE + CL__READ_CHUNK], *p;
    int n;

    if (!r)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **hp = (unsigned char **)in;
        return cl__append_headers(r, wsi, hp, *hp + len);
    }
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
        if (!r->body || r->body_sent)
            return 0;
        r->body_sent = true;
        lws_client_http_body_pending(wsi, 0);
        n = lws_write(wsi, r->body + LWS_PRE, r->body_len, LWS_WRITE_HTTP_FINAL);
        if (n < 0) {
            cl__finish(r, CL__FAILED, "cannot send the request body");
            return -1;
        }
        return 0;

    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        return cl__on_established(r, wsi);

    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
        p = chunk + LWS_PRE;
        n = CL__READ_CHUNK;
        if (lws_http_client_read(wsi, &p, &n) < 0) {
            cl__finish(r, CL__FAILED, "connection closed before the response was complete");
            return -1;
        }
        return 0;

    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        return cl__on_body(r, in, len);

    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        cl__finish(r, CL__DONE, NULL);
        return 0;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        cl__finish(r, CL__FAILED, in ? (const char *)in : "connection failed");
        return 0;

#ifdef CL__OPENSSL
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        /* Only to say why: returning 0 keeps OpenSSL's verdict. */
        if (!len && !r->cert_why[0])
            snprintf(r->cert_why, sizeof r->cert_why, "%s",
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(user)));
        return 0;
#endif

    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        /* Without a length or chunking, the close is the end of the body. */
        if (r->status && !r->framed)
            cl__finish(r, CL__DONE, NULL);
        else
            cl__finish(r, CL__FAILED, "connection closed before the response was complete");
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols cl__protocols[] = {
    {"clawlink-http", cl__callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Why the request got no answer, said the way a user can act on: lws 4.1
 * reports "Unable to connect", "read failed", "connect SSL err ..." and,
 * for a name that does not resolve, nothing at all. */
static void cl__describe(const struct cl__req *r, const char *host, int port, char *err,
                         size_t errlen)
{
    const char *w = r->why;
    struct addrinfo hints, *ai = NULL;
    int gai;

    if (r->cert_why[0]) {
        snprintf(err, errlen, "TLS: the certificate of %s:%d did not verify: %s", host, port,
                 r->cert_why);
    } else if (strstr(w, "SSL") || strstr(w, "TLS") || strstr(w, "tls")) {
        snprintf(err, errlen, "TLS handshake with %s:%d failed (%s)", host, port, w);
    } else if (strstr(w, "Unable to connect") || strstr(w, "connect failed")) {
        snprintf(err, errlen, "cannot connect to %s port %d (refused or unreachable)", host, port);
    } else if (strstr(w, "read failed")) {
        snprintf(err, errlen, "%s:%d closed the connection without an HTTP answer", host, port);
    } else if (w[0]) {
        snprintf(err, errlen, "%s", w);
    } else {
        /* lws gave up before connecting: most likely the name lookup */
        memset(&hints, 0, sizeof hints);
        hints.ai_socktype = SOCK_STREAM;
        gai = getaddrinfo(host, NULL, &hints, &ai);
        if (gai)
            snprintf(err, errlen, "cannot resolve host name %s: %s", host, gai_strerror(gai));
        else
            snprintf(err, errlen, "cannot connect to %s port %d", host, port);
        if (ai)
            freeaddrinfo(ai);
    }
}

int cl_agent_http_request(const char *url, const char *json_body, const char *ca_file,
                          long timeout_s, struct cl_agent_http_resp *resp, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    struct lws_client_connect_info ci;
    char copy[CL_URL_MAX + 64], path[CL_URL_MAX + 64], host_hdr[300];
    const char *prot, *address, *upath;
    struct lws_context *ctx;
    struct cl__req r;
    bool tls;
    int port, n = 0, rc = 0;

    memset(resp, 0, sizeof *resp);
    memset(&r, 0, sizeof r);
    if (strlen(url) >= sizeof copy)
        return cl_seterr(err, errlen, CL_EINVAL, "URL too long");
    snprintf(copy, sizeof copy, "%s", url);
    if (lws_parse_uri(copy, &prot, &address, &port, &upath) != 0 || !address[0])
        return cl_seterr(err, errlen, CL_EINVAL, "not a URL: %s", url);
    if (strcmp(prot, "https") == 0)
        tls = true;
    else if (strcmp(prot, "http") == 0)
        tls = false;
    else
        return cl_seterr(err, errlen, CL_EINVAL, "URL must start with http:// or https://");
    /* lws_parse_uri drops the path's leading '/' */
    snprintf(path, sizeof path, "/%s", upath);
    if ((tls && port == 443) || (!tls && port == 80))
        snprintf(host_hdr, sizeof host_hdr, "%s", address);
    else
        snprintf(host_hdr, sizeof host_hdr, "%s:%d", address, port);

    if (ca_file && access(ca_file, R_OK) != 0)
        return cl_seterr(err, errlen, CL_EINVAL, "cannot read the CA file %s: %s", ca_file,
                         strerror(errno));

    r.buf = malloc(CL_HTTP_MAX_BODY + 1);
    if (!r.buf)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    if (json_body) {
        r.body_len = strlen(json_body);
        r.body = malloc(LWS_PRE + r.body_len);
        if (!r.body) {
            rc = cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
            goto out_free;
        }
        memcpy(r.body + LWS_PRE, json_body, r.body_len);
    }

    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = cl__protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.user = &r;
    info.fd_limit_per_thread = 4; /* lws's own pipe, our socket, spare */
    /* our deadline ends the request; lws's own timeouts are only a backstop */
    info.connect_timeout_secs = (unsigned)timeout_s + 1;
    info.timeout_secs = (unsigned)timeout_s + 1;
    if (ca_file) {
        /* the file replaces the system's CAs; it does not add to them */
        info.client_ssl_ca_filepath = ca_file;
        info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    }
    ctx = lws_create_context(&info);
    if (!ctx) {
        rc = cl_seterr(err, errlen, CL_EIO, "cannot create the HTTP client context");
        goto out_free;
    }
    r.ctx = ctx;
    lws_sul_schedule(ctx, 0, &r.deadline, cl__on_deadline, (lws_usec_t)timeout_s * LWS_US_PER_SEC);

    memset(&ci, 0, sizeof ci);
    ci.context = ctx;
    ci.address = address;
    ci.port = port;
    ci.path = path;
    ci.host = host_hdr;
    ci.method = json_body ? "POST" : "GET";
    ci.protocol = cl__protocols[0].name;
    ci.alpn = "http/1.1";
    ci.ssl_connection = LCCSCF_HTTP_NO_FOLLOW_REDIRECT | (tls ? LCCSCF_USE_SSL : 0);
    if (!lws_client_connect_via_info(&ci))
        cl__finish(&r, CL__FAILED, ""); /* reason unknown: cl__describe looks into it */

    /* Each lws_service is one poll, bounded by the deadline's timer. */
    while (n >= 0 && r.outcome == CL__PENDING)
        n = lws_service(ctx, 0);
    if (r.outcome == CL__PENDING)
        cl__finish(&r, CL__FAILED, "the HTTP client's event loop failed");
    lws_sul_cancel(&r.deadline);
    lws_context_destroy(ctx);

    if (r.outcome == CL__OVER)
        rc = cl_seterr(err, errlen, CL_ELIMIT, "response larger than %d bytes", CL_HTTP_MAX_BODY);
    else if (r.outcome == CL__TIMEOUT)
        rc = cl_seterr(err, errlen, CL_EIO, "no complete answer within %ld s", timeout_s);
    else if (r.outcome != CL__DONE) {
        char why[256];
        cl__describe(&r, address, port, why, sizeof why);
        rc = cl_seterr(err, errlen, CL_EIO, "%s", why);
    }
    if (rc)
        goto out_free;
    r.buf[r.len] = 0;
    resp->status = r.status;
    memcpy(resp->hsts, r.hsts, sizeof resp->hsts);
    resp->body = r.buf;
    resp->len = r.len;
    r.buf = NULL;

out_free:
    if (r.body) {
        cl_wipe(r.body, LWS_PRE + r.body_len);
        free(r.body);
    }
    if (r.buf) {
        cl_wipe(r.buf, CL_HTTP_MAX_BODY + 1);
        free(r.buf);
    }
    return rc;
}

void cl_agent_health_url(const char *relay_url, char *out, size_t cap)
{
    bool tls = strncmp(relay_url, "wss://", 6) == 0;
    const char *rest = relay_url + (tls ? 6 : 5);
    size_t n = strlen(rest);
    while (n && rest[n - 1] == '/')
        n--;
    snprintf(out, cap, "%s://%.*s/healthz", tls ? "https" : "http", (int)n, rest);
}

void cl_agent_http_resp_free(struct cl_agent_http_resp *resp)
{
    if (resp->body) {
        cl_wipe(resp->body, resp->len);
        free(resp->body);
    }
    memset(resp, 0, sizeof *resp);
}
