/* term: a browser-side session viewer (see term.h). */
#include "term.h"
#include "procstat.h"

#include "core/b64.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define TERM__MSG_STDIN  7
#define TERM__MSG_STDOUT 8

size_t term_v2_header(uint8_t *h, int type, const char *sid, uint64_t offset)
{
    size_t l = strlen(sid);
    h[0] = (uint8_t)type;
    h[1] = (uint8_t)l;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (uint8_t)(offset >> (56 - 8 * i));
    memcpy(h + TERM_V2_HEADER, sid, l);
    return TERM_V2_HEADER + l;
}

bool term_v2_parse(const uint8_t *p, size_t n, int *type, const char **sid, size_t *sid_len,
                   uint64_t *offset, const uint8_t **payload, size_t *payload_len)
{
    size_t l;
    if (n < TERM_V2_HEADER + 1)
        return false;
    l = p[1];
    if (l < 1 || l > 64 || n < TERM_V2_HEADER + l)
        return false;
    *type = p[0];
    *sid_len = l;
    *sid = (const char *)p + TERM_V2_HEADER;
    *offset = 0;
    for (int i = 0; i < 8; i++)
        *offset = *offset << 8 | p[2 + i];
    *payload = p + TERM_V2_HEADER + l;
    *payload_len = n - TERM_V2_HEADER - l;
    return true;
}

static void term__send_json(struct term *t, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (s)
        wsc_send(t->ws, WSC_TEXT, s, strlen(s));
    free(s);
    json_decref(o);
}

void term_ack(struct term *t)
{
    char buf[160];
    int n;
    if (t->next_off <= t->acked || t->state != TERM_READY)
        return;
    n = snprintf(buf, sizeof buf,
                 "{\"type\":\"ack\",\"data\":{\"session_id\":\"%s\",\"offset\":%llu}}", t->sid,
                 (unsigned long long)t->next_off);
    wsc_send(t->ws, WSC_TEXT, buf, (size_t)n);
    t->acked = t->next_off;
}

static void term__output(struct term *t, uint64_t off, const uint8_t *p, size_t n)
{
    /* replays may overlap what we have: count each byte once */
    if (off + n <= t->next_off)
        return;
    if (off < t->next_off) {
        p += t->next_off - off;
        n -= (size_t)(t->next_off - off);
    }
    t->last_rx_ns = ps_now_ns();
    t->bytes += n;
    t->msgs++;
    t->next_off = (off > t->next_off ? off : t->next_off) + n;
    if (t->on_output)
        t->on_output(t, p, n);
    if (t->next_off - t->acked >= t->ack_every)
        term_ack(t);
}

/* The hot v1 path: a stdout text frame as the agent encodes it,
 * {"type":"stdout","data":{"session_id":..,"offset":N,"data_b64":".."}},
 * read without building a JSON tree. false: not of that shape. */
static bool term__fast_stdout(struct term *t, const uint8_t *p, size_t n)
{
    static const char head[] = "{\"type\":\"stdout\"";
    const uint8_t *o, *b, *e;
    uint64_t off = t->next_off;
    long dl;

    if (n < sizeof head || memcmp(p, head, sizeof head - 1) != 0)
        return false;
    b = memmem(p, n < 256 ? n : 256, "\"data_b64\":\"", 12);
    if (!b)
        return false;
    o = memmem(p, (size_t)(b - p), "\"offset\":", 9);
    if (o)
        off = strtoull((const char *)o + 9, NULL, 10);
    b += 12;
    e = memchr(b, '"', n - (size_t)(b - p));
    if (!e)
        return false;
    if (t->scratch_cap < (size_t)(e - b)) {
        t->scratch_cap = (size_t)(e - b);
        t->scratch = realloc(t->scratch, t->scratch_cap);
        if (!t->scratch)
            abort();
    }
    dl = cl_b64_decode((const char *)b, (size_t)(e - b), t->scratch, t->scratch_cap);
    if (dl < 0)
        return false;
    term__output(t, off, t->scratch, (size_t)dl);
    return true;
}

static void term__fail(struct term *t, const char *why)
{
    if (!t->err[0])
        snprintf(t->err, sizeof t->err, "%s", why);
}

static void term__on_open(struct wsc_conn *c)
{
    struct term *t = c->user;
    json_t *d = json_pack("{s:s, s:s, s:s}", "token", t->token, "session_id", t->sid, "device_id",
                          t->device_id);
    if (t->proto_req >= 2)
        json_object_set_new(d, "proto", json_integer(t->proto_req));
    t->state = TERM_AUTH;
    term__send_json(t, json_pack("{s:s, s:o}", "type", "auth", "data", d));
}

static void term__on_text(struct term *t, const uint8_t *p, size_t n)
{
    json_t *o, *d;
    const char *type;

    if (term__fast_stdout(t, p, n))
        return;
    o = json_loadb((const char *)p, n, 0, NULL);
    type = json_string_value(json_object_get(o, "type"));
    d = json_object_get(o, "data");
    if (!type) {
        term__fail(t, "relay sent a message without a type");
    } else if (strcmp(type, "auth_ok") == 0) {
        json_t *pv = json_object_get(d, "proto");
        t->proto = json_is_integer(pv) ? (int)json_integer_value(pv) : 1;
        t->state = TERM_STARTING;
        term__send_json(t, json_pack("{s:s, s:{s:s, s:i, s:i}}", "type", "session_start", "data",
                                     "session_id", t->sid, "cols", 80, "rows", 24));
    } else if (strcmp(type, "session_started") == 0) {
        if (t->state == TERM_STARTING)
            t->state = TERM_READY;
    } else if (strcmp(type, "stdout") == 0) {
        const char *b64 = json_string_value(json_object_get(d, "data_b64"));
        json_t *ov = json_object_get(d, "offset");
        size_t bl = b64 ? strlen(b64) : 0;
        uint8_t *buf = malloc(bl + 1);
        long dl = buf && b64 ? cl_b64_decode(b64, bl, buf, bl + 1) : -1;
        if (dl >= 0)
            term__output(t, json_is_integer(ov) ? (uint64_t)json_integer_value(ov) : t->next_off,
                         buf, (size_t)dl);
        free(buf);
    } else if (strcmp(type, "gap") == 0) {
        json_t *to = json_object_get(d, "to");
        if (json_is_integer(to) && (uint64_t)json_integer_value(to) > t->next_off)
            t->next_off = (uint64_t)json_integer_value(to);
    } else if (strcmp(type, "session_end") == 0) {
        t->state = TERM_ENDED;
        term__fail(t, "session ended");
    } else if (strcmp(type, "error") == 0) {
        char why[150];
        snprintf(why, sizeof why, "relay error %s: %s",
                 json_string_value(json_object_get(d, "code")) ?: "?",
                 json_string_value(json_object_get(d, "message")) ?: "?");
        term__fail(t, why);
    }
    json_decref(o);
}

static void term__on_message(struct wsc_conn *c, enum wsc_op op, const uint8_t *p, size_t n)
{
    struct term *t = c->user;
    if (op == WSC_BINARY) {
        int type;
        const char *sid;
        size_t sl, pl;
        uint64_t off;
        const uint8_t *pay;
        if (term_v2_parse(p, n, &type, &sid, &sl, &off, &pay, &pl) && type == TERM__MSG_STDOUT) {
            t->binary_msgs++;
            term__output(t, off, pay, pl);
        }
        return;
    }
    term__on_text(t, p, n);
}

static void term__on_close(struct wsc_conn *c, int code)
{
    struct term *t = c->user;
    char why[64];
    snprintf(why, sizeof why, "connection closed (code %d)", code);
    term__fail(t, why);
    t->state = TERM_ENDED;
}

static const struct wsc_handler term__handler = {term__on_open, term__on_message, term__on_close};

int term_open(struct term *t, struct wsc_loop *l, const struct sockaddr_in *addr, const char *token,
              const char *sid, const char *device_id, int proto)
{
    memset(t, 0, sizeof *t);
    snprintf(t->sid, sizeof t->sid, "%s", sid);
    snprintf(t->device_id, sizeof t->device_id, "%s", device_id);
    t->token = token;
    t->proto_req = proto;
    t->proto = 1;
    t->ack_every = 64 * 1024;
    t->ws = wsc_connect(l, addr, NULL, "/session", &term__handler, t);
    return t->ws ? 0 : -errno;
}

int term_write(struct term *t, const void *p, size_t n)
{
    if (t->proto >= 2) {
        uint8_t h[TERM_V2_HEADER + 64];
        size_t hl = term_v2_header(h, TERM__MSG_STDIN, t->sid, 0);
        return wsc_send2(t->ws, WSC_BINARY, h, hl, p, n);
    } else {
        char buf[512];
        long w;
        int hn =
            snprintf(buf, sizeof buf,
                     "{\"type\":\"stdin\",\"data\":{\"session_id\":\"%s\",\"data_b64\":\"", t->sid);
        w = cl_b64_encode(p, n, buf + hn, sizeof buf - (size_t)hn - 4);
        if (w < 0)
            return -E2BIG;
        memcpy(buf + hn + w, "\"}}", 3);
        return wsc_send(t->ws, WSC_TEXT, buf, (size_t)(hn + w + 3));
    }
}

int term_wait_ready(struct term *t, struct wsc_loop *l, int timeout_ms)
{
    double deadline = ps_now_s() + timeout_ms / 1000.0;
    while (t->state != TERM_READY && t->state != TERM_ENDED && ps_now_s() < deadline)
        wsc_loop_poll(l, 50);
    if (t->state == TERM_READY)
        return 0;
    term__fail(t, "timed out waiting for session_started");
    return -ETIMEDOUT;
}

void term_close(struct term *t)
{
    if (t->ws) {
        wsc_close(t->ws);
        wsc_conn_free(t->ws);
        t->ws = NULL;
    }
    free(t->scratch);
    t->scratch = NULL;
}
