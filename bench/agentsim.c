/* agentsim: synthetic agents (see agentsim.h). */
#include "agentsim.h"
#include "procstat.h"
#include "term.h"

#include "core/b64.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define SIM__MSG_STDOUT 8

static void sim__send_json(struct sim_agent *a, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    if (s)
        wsc_send(a->ws, WSC_TEXT, s, strlen(s));
    free(s);
    json_decref(o);
}

/* Sends output while the window allows. */
static void sim__pump(struct sim_agent *a)
{
    struct sim_fleet *f = a->f;
    while (a->streaming && a->ws->state == WSC_OPEN && a->produced - a->acked < SIM_WINDOW) {
        int rc;
        if (a->proto >= 2) {
            uint8_t h[TERM_V2_HEADER + 64];
            size_t hl = term_v2_header(h, SIM__MSG_STDOUT, a->sid, a->produced);
            rc = wsc_send2(a->ws, WSC_BINARY, h, hl, f->payload, f->chunk);
        } else {
            char h[200];
            int hl =
                snprintf(h, sizeof h,
                         "{\"type\":\"stdout\",\"data\":{\"session_id\":\"%s\",\"offset\":%llu,"
                         "\"data_b64\":\"",
                         a->sid, (unsigned long long)a->produced);
            rc = wsc_send2(a->ws, WSC_TEXT, h, (size_t)hl, f->b64tail, f->b64tail_len);
        }
        if (rc)
            return;
        a->produced += f->chunk;
        f->sent_bytes += f->chunk;
    }
}

static void sim__on_open(struct wsc_conn *c)
{
    struct sim_agent *a = c->user;
    const struct prov_device *d = &a->f->rig->prov.dev[a->dev];
    json_t *data = json_pack("{s:s, s:s, s:{s:s}}", "device_id", d->id, "token", d->token, "meta",
                             "name", "bench-sim");
    if (a->f->proto_req >= 2)
        json_object_set_new(data, "proto", json_integer(a->f->proto_req));
    a->state = SIM_HELLO;
    a->t_hello_ns = ps_now_ns();
    sim__send_json(a, json_pack("{s:s, s:o}", "type", "hello", "data", data));
}

static void sim__on_message(struct wsc_conn *c, enum wsc_op op, const uint8_t *p, size_t n)
{
    struct sim_agent *a = c->user;
    json_t *o, *d;
    const char *type, *sid;

    a->last_rx_ns = ps_now_ns();
    if (op != WSC_TEXT)
        return;
    o = json_loadb((const char *)p, n, 0, NULL);
    type = json_string_value(json_object_get(o, "type"));
    d = json_object_get(o, "data");
    sid = json_string_value(json_object_get(d, "session_id"));
    if (!type) {
        /* not JSON: ignore */
    } else if (strcmp(type, "hello_ok") == 0 && a->state == SIM_HELLO) {
        json_t *pv = json_object_get(d, "proto");
        a->proto = json_is_integer(pv) ? (int)json_integer_value(pv) : 1;
        a->state = SIM_ONLINE;
        a->t_ok_ns = a->last_rx_ns;
        a->f->online++;
        a->f->t_last_ok_ns = a->t_ok_ns;
    } else if (strcmp(type, "session_start") == 0 && sid && strlen(sid) <= 64) {
        snprintf(a->sid, sizeof a->sid, "%s", sid);
        sim__send_json(
            a, json_pack("{s:s, s:{s:s}}", "type", "session_started", "data", "session_id", sid));
        a->streaming = true;
        sim__pump(a);
    } else if (strcmp(type, "ack") == 0) {
        json_t *ov = json_object_get(d, "offset");
        uint64_t off = json_is_integer(ov) ? (uint64_t)json_integer_value(ov) : 0;
        if (off > a->acked)
            a->acked = off;
        sim__pump(a);
    } else if (strcmp(type, "replay") == 0) {
        json_t *ov = json_object_get(d, "offset");
        uint64_t off = json_is_integer(ov) ? (uint64_t)json_integer_value(ov) : a->produced;
        if (off < a->produced)
            a->produced = off; /* the payload is the same everywhere: just rewind */
        sim__pump(a);
    } else if (strcmp(type, "session_end") == 0) {
        a->streaming = false;
    }
    json_decref(o);
}

static void sim__on_close(struct wsc_conn *c, int code)
{
    struct sim_agent *a = c->user;
    (void)code;
    if (a->state == SIM_ONLINE)
        a->f->online--;
    else if (a->state == SIM_HELLO)
        a->f->refused_hello++;
    a->state = SIM_DEAD;
    a->streaming = false;
    a->f->dead++;
}

static const struct wsc_handler sim__handler = {sim__on_open, sim__on_message, sim__on_close};

int sim_fleet_init(struct sim_fleet *f, struct rig *r, size_t first_dev, size_t n, int proto,
                   size_t chunk, int nsrc)
{
    size_t b64cap;
    long w;
    int rc;

    memset(f, 0, sizeof *f);
    if (first_dev + n > r->prov.ndev)
        return -ERANGE;
    rc = wsc_loop_init(&f->loop);
    if (rc)
        return rc;
    f->rig = r;
    f->proto_req = proto;
    f->n = n;
    f->nsrc = nsrc;
    f->chunk = chunk ? chunk : 1;
    f->a = calloc(n ? n : 1, sizeof *f->a);
    f->payload = malloc(f->chunk);
    b64cap = cl_b64_encoded_size(f->chunk) + 4;
    f->b64tail = malloc(b64cap);
    if (!f->a || !f->payload || !f->b64tail)
        abort();
    for (size_t i = 0; i < f->chunk; i++)
        f->payload[i] = (i % 80 == 79) ? '\n' : (uint8_t)('a' + i % 26);
    w = cl_b64_encode(f->payload, f->chunk, f->b64tail, b64cap);
    if (w < 0)
        abort();
    memcpy(f->b64tail + w, "\"}}", 4);
    f->b64tail_len = (size_t)w + 3;
    for (size_t i = 0; i < n; i++) {
        f->a[i].f = f;
        f->a[i].dev = first_dev + i;
    }
    return 0;
}

size_t sim_fleet_connect(struct sim_fleet *f)
{
    struct sockaddr_in src = {.sin_family = AF_INET};
    size_t failed = 0;
    f->t_start_ns = ps_now_ns();
    for (size_t i = 0; i < f->n; i++) {
        struct sim_agent *a = &f->a[i];
        if (f->nsrc > 0)
            src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i % (size_t)f->nsrc));
        a->state = SIM_CONNECTING;
        a->ws = wsc_connect(&f->loop, &f->rig->addr, f->nsrc > 0 ? &src : NULL, "/connect",
                            &sim__handler, a);
        if (!a->ws) {
            a->state = SIM_DEAD;
            f->dead++;
            failed++;
        }
    }
    return failed;
}

void sim_fleet_wait_online(struct sim_fleet *f, int timeout_ms)
{
    double deadline = ps_now_s() + timeout_ms / 1000.0;
    while (f->online + f->dead < f->n && ps_now_s() < deadline)
        wsc_loop_poll(&f->loop, 50);
}

void sim_fleet_run(struct sim_fleet *f, int ms)
{
    double end = ps_now_s() + ms / 1000.0, next_check = 0;
    static const uint8_t hb[] = "bench";
    for (double now = ps_now_s(); now < end; now = ps_now_s()) {
        int left = (int)((end - now) * 1000);
        wsc_loop_poll(&f->loop, left < 250 ? left : 250);
        if (now < next_check)
            continue;
        /* the real agent pings a link that has been silent for its ping
         * interval; so do we (each agent on its own clock) */
        next_check = now + 0.25;
        uint64_t stale = ps_now_ns() - (uint64_t)SIM_PING_INTERVAL * 1000000000u;
        for (size_t i = 0; i < f->n; i++) {
            struct sim_agent *a = &f->a[i];
            if (a->state == SIM_ONLINE && a->last_rx_ns < stale) {
                wsc_send(a->ws, WSC_PING, hb, sizeof hb - 1);
                a->last_rx_ns = ps_now_ns(); /* do not ping again before the next interval */
            }
        }
    }
}

void sim_fleet_free(struct sim_fleet *f)
{
    for (size_t i = 0; i < f->n; i++)
        wsc_conn_free(f->a[i].ws);
    free(f->a);
    free(f->payload);
    free(f->b64tail);
    wsc_loop_free(&f->loop);
    memset(f, 0, sizeof *f);
}
