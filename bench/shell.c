/* shell: a real shell session through the relay and agent (see bench.h). */
#include "bench.h"
#include "procstat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int shell_open(struct shell *s, struct bench *b, struct wsc_loop *l, int proto, char *err,
               size_t errlen)
{
    struct keyio io;
    char sid[65];
    int rc;

    memset(s, 0, sizeof *s);
    s->loop = l;
    rc = rig_session_new(&b->rig, 0, sid, 15000, err, errlen);
    if (rc)
        return rc;
    rc = term_open(&s->t, l, &b->rig.addr, b->rig.prov.user_token, sid, b->rig.prov.dev[0].id,
                   proto);
    if (rc) {
        snprintf(err, errlen, "connect: %s", strerror(-rc));
        return rc;
    }
    rc = term_wait_ready(&s->t, l, 15000);
    if (rc) {
        snprintf(err, errlen, "session %s: %s", sid, s->t.err);
        return rc;
    }
    shell_keyio(s, &io);
    return keys_settle(&io, 300, 10000); /* the login shell's prompt */
}

static int shell__send(void *ctx, const uint8_t *p, size_t n)
{
    struct shell *s = ctx;
    return term_write(&s->t, p, n);
}

static long shell__wait(void *ctx, int timeout_ms, uint64_t *t_ns)
{
    struct shell *s = ctx;
    uint64_t before = s->t.bytes;
    double deadline = ps_now_s() + timeout_ms / 1000.0;
    for (;;) {
        double left = deadline - ps_now_s();
        if (s->t.bytes > before) {
            *t_ns = s->t.last_rx_ns;
            return (long)(s->t.bytes - before);
        }
        if (s->t.state == TERM_ENDED)
            return -EPIPE;
        if (left <= 0)
            return 0;
        wsc_loop_poll(s->loop, (int)(left * 1000) + 1);
    }
}

void shell_keyio(struct shell *s, struct keyio *io)
{
    io->send = shell__send;
    io->wait = shell__wait;
    io->ctx = s;
}

void shell_close(struct shell *s)
{
    term_close(&s->t);
}
