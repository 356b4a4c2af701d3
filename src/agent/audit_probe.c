/* audit_probe: does the OpenClaw gateway let in a client without credentials? */
#include "agent/audit_probe.h"
#include "agent/gateway_identity.h"
#include "core/b64.h"
#include "core/wsframe.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

/* The HTTP answer to the upgrade: its headers fit in this. */
#define CL__PROBE_HDR_MAX 8192
/* Frames read before giving up on an answer to connect. */
#define CL__PROBE_FRAMES_MAX 16

struct cl__probe {
    int fd;
    int64_t deadline_ms;
    uint8_t *buf;                            /* CL_AUDIT_PROBE_MAX + 1 */
    size_t have;                             /* bytes in buf not consumed yet */
    char device_id[CL_GW_DEVICE_ID_LEN + 1]; /* the probe's throwaway identity */
};

static int64_t cl__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for events before the deadline: 0, or -1. */
static int cl__probe_wait(struct cl__probe *p, short events)
{
    for (;;) {
        struct pollfd pfd = {.fd = p->fd, .events = events};
        int64_t left = p->deadline_ms - cl__now_ms();
        int n;
        if (left <= 0)
            return -1;
        n = poll(&pfd, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        return n > 0 ? 0 : -1;
    }
}

static int cl__probe_send(struct cl__probe *p, const void *data, size_t len)
{
    const uint8_t *d = data;
    while (len) {
        ssize_t n;
        if (cl__probe_wait(p, POLLOUT) != 0)
            return -1;
        n = send(p->fd, d, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        d += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads more into buf (after have). 0, or -1 on close, error, timeout or
 * a full buffer. */
static int cl__probe_fill(struct cl__probe *p)
{
    for (;;) {
        ssize_t n;
        if (p->have >= CL_AUDIT_PROBE_MAX || cl__probe_wait(p, POLLIN) != 0)
            return -1;
        n = recv(p->fd, p->buf + p->have, CL_AUDIT_PROBE_MAX - p->have, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        p->have += (size_t)n;
        return 0;
    }
}

static void cl__probe_consume(struct cl__probe *p, size_t n)
{
    memmove(p->buf, p->buf + n, p->have - n);
    p->have -= n;
}

/* Connects to host:port before the deadline. 0, or -1 with why. */
static int cl__probe_connect(struct cl__probe *p, const char *host, const char *port, char *why,
                             size_t whylen)
{
    struct addrinfo hints, *ai = NULL, *it;
    int gai;

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    gai = getaddrinfo(host, port, &hints, &ai);
    if (gai) {
        snprintf(why, whylen, "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    for (it = ai; it; it = it->ai_next) {
        int fd =
            socket(it->ai_family, it->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, it->ai_protocol);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (fd < 0)
            continue;
        p->fd = fd;
        if (connect(fd, it->ai_addr, it->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && cl__probe_wait(p, POLLOUT) == 0 &&
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)) {
            freeaddrinfo(ai);
            return 0;
        }
        close(fd);
        p->fd = -1;
    }
    freeaddrinfo(ai);
    snprintf(why, whylen, "nothing accepts connections on %s port %s", host, port);
    return -1;
}

/* Sends one masked text frame. */
static int cl__probe_send_text(struct cl__probe *p, const char *text)
{
    size_t len = strlen(text), flen;
    struct cl_ws_masker mk;
    struct cl_frame *f = calloc(1, sizeof *f + LWS_PRE + len);
    uint8_t *frame;
    int rc;

    if (!f)
        return -1;
    memset(&mk, 0, sizeof mk);
    f->len = len;
    f->cap = len;
    memcpy(cl_frame_payload(f), text, len);
    frame = cl_ws_client_frame(f, 1, &mk, &flen);
    rc = cl__probe_send(p, frame, flen);
    free(f);
    return rc;
}

/* Reads one whole frame (no fragmentation: the gateway sends none) into
 * *payload (valid until the next read; the caller consumes *frame_len).
 * A frame larger than the buffer is returned cut, with *cut set. */
static int cl__probe_frame(struct cl__probe *p, int *opcode, const uint8_t **payload, size_t *plen,
                           size_t *frame_len, bool *cut)
{
    size_t hdr = 2;
    uint64_t len;

    while (p->have < 2)
        if (cl__probe_fill(p) != 0)
            return -1;
    len = p->buf[1] & 0x7f;
    hdr += len == 126 ? 2 : len == 127 ? 8 : 0;
    if (p->buf[1] & 0x80)
        hdr += 4; /* a server must not mask; read past it all the same */
    while (p->have < hdr)
        if (cl__probe_fill(p) != 0)
            return -1;
    if (len == 126)
        len = ((uint64_t)p->buf[2] << 8) | p->buf[3];
    else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = (len << 8) | p->buf[2 + i];
    }
    /* A frame larger than the buffer (a 64-bit length can be anything)
     * is read as far as the buffer goes, or the peer sends. */
    *cut = len > CL_AUDIT_PROBE_MAX - hdr;
    if (*cut) {
        while (cl__probe_fill(p) == 0)
            ;
    } else {
        while (p->have < hdr + len)
            if (cl__probe_fill(p) != 0)
                return -1;
    }
    *opcode = p->buf[0] & 0x0f;
    *payload = p->buf + hdr;
    *plen = *cut ? p->have - hdr : (size_t)len;
    *frame_len = *cut ? p->have : hdr + (size_t)len;
    return 0;
}

/* A printable copy of s (n bytes) into out: control characters dropped. */
static void cl__probe_safe(const char *s, size_t n, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < n && s[i] && j + 1 < cap; i++)
        if ((unsigned char)s[i] >= 0x20 && s[i] != 0x7f)
            out[j++] = s[i];
    if (cap)
        out[j] = 0;
}

static const char *cl__probe_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The connect request of a stranger: client openclaw-probe in mode probe,
 * operator.read, no token or password, and a device identity made for
 * this probe alone (the gateway asks every client for one; anyone can make
 * one), signing the challenge's nonce. */
static json_t *cl__probe_connect_req(struct cl__probe *p, const char *nonce)
{
    struct cl_gw_identity id;
    struct timespec now;
    char payload[1024], sig[CL_GW_SIG_B64_LEN + 1];
    uint64_t ts;
    long n;
    json_t *r = NULL;

    clock_gettime(CLOCK_REALTIME, &now);
    ts = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
    memset(&id, 0, sizeof id);
    crypto_sign_keypair(id.pk, id.sk);
    cl_gw_identity_derive(&id);
    snprintf(p->device_id, sizeof p->device_id, "%s", id.device_id);
    struct cl_gw_auth_fields f = {
        .device_id = id.device_id,
        .client_id = "openclaw-probe",
        .client_mode = "probe",
        .role = "operator",
        .scopes = "operator.read",
        .signed_at_ms = ts,
        .token = "",
        .nonce = nonce,
        .platform = "linux",
        .device_family = "",
    };
    n = cl_gw_auth_payload_v3(&f, payload, sizeof payload);
    if (n >= 0) {
        cl_gw_identity_sign(&id, payload, (size_t)n, sig);
        r = json_pack("{s:s, s:s, s:s, s:{s:i, s:i, s:{s:s, s:s, s:s, s:s}, s:s, s:[s], "
                      "s:{s:s, s:s, s:s, s:I, s:s}}}",
                      "type", "req", "id", "probe", "method", "connect", "params", "minProtocol", 3,
                      "maxProtocol", 4, "client", "id", "openclaw-probe", "version", CL_VERSION,
                      "platform", "linux", "mode", "probe", "role", "operator", "scopes",
                      "operator.read", "device", "id", id.device_id, "publicKey", id.public_key,
                      "signature", sig, "signedAt", (json_int_t)ts, "nonce", nonce);
    }
    cl_gw_identity_wipe(&id);
    return r;
}

static void cl__probe_accepted(const struct cl__probe *p, char *why, size_t whylen)
{
    snprintf(why, whylen,
             "the gateway answered connect with hello-ok (the probe's device %s, whose key was "
             "never kept, may now be listed as paired: openclaw devices remove %s)",
             p->device_id, p->device_id);
}

/* Reads the connect answer and classifies it. */
static enum cl_audit_probe cl__probe_answer(struct cl__probe *p, char *why, size_t whylen)
{
    bool sent = false;

    for (int i = 0; i < CL__PROBE_FRAMES_MAX; i++) {
        const uint8_t *pl;
        size_t plen, flen;
        int op;
        bool cut;
        json_t *m;

        if (cl__probe_frame(p, &op, &pl, &plen, &flen, &cut) != 0) {
            snprintf(why, whylen, "the gateway closed the connection without a close frame%s",
                     sent ? " after connect" : "");
            return sent ? CL_AUDIT_PROBE_REFUSED : CL_AUDIT_PROBE_UNCLEAR;
        }
        if (op == 8) { /* close */
            char reason[160] = "";
            unsigned code = plen >= 2 ? (unsigned)(pl[0] << 8 | pl[1]) : 0;
            if (plen > 2)
                cl__probe_safe((const char *)pl + 2, plen - 2, reason, sizeof reason);
            snprintf(why, whylen, "the gateway closed the connection (%u%s%s)", code,
                     reason[0] ? " " : "", reason);
            return CL_AUDIT_PROBE_REFUSED;
        }
        if (op != 1) {
            cl__probe_consume(p, flen);
            continue;
        }
        if (cut) {
            /* Only a hello-ok is this large. */
            bool ok = memmem(pl, plen, "\"ok\":true", 9) != NULL;
            if (ok)
                cl__probe_accepted(p, why, whylen);
            else
                snprintf(why, whylen, "an answer too large to read");
            return ok ? CL_AUDIT_PROBE_ACCEPTED : CL_AUDIT_PROBE_UNCLEAR;
        }
        m = json_loadb((const char *)pl, plen, 0, NULL);
        cl__probe_consume(p, flen);
        if (!json_is_object(m)) {
            json_decref(m);
            continue;
        }
        const char *type = json_string_value(json_object_get(m, "type"));
        const char *event = json_string_value(json_object_get(m, "event"));
        if (!sent && type && strcmp(type, "event") == 0 && event &&
            strcmp(event, "connect.challenge") == 0) {
            const char *nonce = cl__probe_str(json_object_get(m, "payload"), "nonce");
            char *req = NULL;
            json_t *r = cl__probe_connect_req(p, nonce ? nonce : "");
            json_decref(m);
            req = r ? json_dumps(r, JSON_COMPACT) : NULL;
            json_decref(r);
            if (!req || cl__probe_send_text(p, req) != 0) {
                free(req);
                snprintf(why, whylen, "cannot send connect to the gateway");
                return CL_AUDIT_PROBE_UNCLEAR;
            }
            free(req);
            sent = true;
            continue;
        }
        if (sent && type && strcmp(type, "res") == 0) {
            json_t *err = json_object_get(m, "error");
            const char *code =
                json_string_value(json_object_get(json_object_get(err, "details"), "code"));
            const char *msg = json_string_value(json_object_get(err, "message"));
            char scode[64] = "", smsg[200] = "";
            enum cl_audit_probe res;
            if (json_is_true(json_object_get(m, "ok"))) {
                cl__probe_accepted(p, why, whylen);
                res = CL_AUDIT_PROBE_ACCEPTED;
            } else {
                if (code)
                    cl__probe_safe(code, strlen(code), scode, sizeof scode);
                if (msg)
                    cl__probe_safe(msg, strlen(msg), smsg, sizeof smsg);
                snprintf(why, whylen, "the gateway refused connect%s%s%s%s", scode[0] ? ": " : "",
                         scode, smsg[0] ? " — " : "", smsg);
                res = CL_AUDIT_PROBE_REFUSED;
            }
            json_decref(m);
            return res;
        }
        json_decref(m);
    }
    snprintf(why, whylen, "no answer to connect");
    return CL_AUDIT_PROBE_UNCLEAR;
}

enum cl_audit_probe cl_audit_probe_gateway(const char *url, unsigned timeout_s, char *why,
                                           size_t whylen)
{
    struct cl__probe p = {.fd = -1};
    char host[256], port[8] = "80", path[512] = "/", req[1024], key[32];
    uint8_t nonce[16];
    const char *h = url + 5, *end;
    enum cl_audit_probe res = CL_AUDIT_PROBE_UNCLEAR;
    size_t hl;
    char *hdr_end;

    why[0] = 0;
    if (strncmp(url, "ws://", 5) != 0) {
        snprintf(why, whylen, "only a plain ws:// gateway is probed");
        return CL_AUDIT_PROBE_UNCLEAR;
    }
    /* host[:port][/path] */
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end)
            goto out_bad_url;
        hl = (size_t)(end - h - 1);
        if (hl >= sizeof host)
            goto out_bad_url;
        memcpy(host, h + 1, hl);
        host[hl] = 0;
        end++;
    } else {
        end = h + strcspn(h, ":/?#");
        hl = (size_t)(end - h);
        if (hl == 0 || hl >= sizeof host)
            goto out_bad_url;
        memcpy(host, h, hl);
        host[hl] = 0;
    }
    if (*end == ':') {
        size_t pl = strspn(end + 1, "0123456789");
        if (pl == 0 || pl >= sizeof port)
            goto out_bad_url;
        memcpy(port, end + 1, pl);
        port[pl] = 0;
        end += 1 + pl;
    }
    if (*end == '/')
        snprintf(path, sizeof path, "%.*s", (int)strcspn(end, "#"), end);

    p.deadline_ms = cl__now_ms() + (int64_t)timeout_s * 1000;
    p.buf = malloc(CL_AUDIT_PROBE_MAX + 1);
    if (!p.buf) {
        snprintf(why, whylen, "out of memory");
        return CL_AUDIT_PROBE_UNCLEAR;
    }
    if (cl__probe_connect(&p, host, port, why, whylen) != 0) {
        res = CL_AUDIT_PROBE_UNREACHABLE;
        goto out_free;
    }
    randombytes_buf(nonce, sizeof nonce);
    cl_b64_encode(nonce, sizeof nonce, key, sizeof key);
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
             "User-Agent: clawlink-audit/" CL_VERSION "\r\n\r\n",
             path, host, port, key);
    if (cl__probe_send(&p, req, strlen(req)) != 0) {
        snprintf(why, whylen, "cannot send the WebSocket upgrade");
        goto out_close;
    }
    for (;;) {
        p.buf[p.have] = 0;
        hdr_end = strstr((char *)p.buf, "\r\n\r\n");
        if (hdr_end)
            break;
        if (p.have >= CL__PROBE_HDR_MAX || cl__probe_fill(&p) != 0) {
            snprintf(why, whylen, "no HTTP answer to the WebSocket upgrade");
            goto out_close;
        }
    }
    {
        int status = 0;
        if (sscanf((char *)p.buf, "HTTP/1.%*d %d", &status) != 1)
            status = 0;
        if (status != 101) {
            snprintf(why, whylen, "the gateway answered the upgrade with HTTP %d", status);
            res = status == 401 || status == 403 ? CL_AUDIT_PROBE_REFUSED : CL_AUDIT_PROBE_UNCLEAR;
            goto out_close;
        }
    }
    cl__probe_consume(&p, (size_t)(hdr_end + 4 - (char *)p.buf));
    res = cl__probe_answer(&p, why, whylen);

out_close:
    close(p.fd);
out_free:
    free(p.buf);
    return res;

out_bad_url:
    snprintf(why, whylen, "not a ws://host:port URL");
    return CL_AUDIT_PROBE_UNCLEAR;
}
