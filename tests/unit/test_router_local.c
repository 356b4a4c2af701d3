/*
 * Unit tests for the local router (router_local.c, decision 65): with no
 * agent and no viewer connected, its entries answer as the hub's lookups
 * did (offline, nothing sent, CL_ENOTFOUND), and a session it opened is
 * live until it ends. The entries between the hub's halves (decision 70)
 * are checked here where no socket is needed: what reaches no agent or no
 * viewer changes nothing, a held place counts as a viewer in what the
 * agent's half is told, and what the agent's half was told is what its
 * acks are made of. The paths through real connections are the e2e
 * suites' (terminal, resume, shares, chat_relay, openclaw).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/events.h"
#include "relay/hub.h"
#include "relay/hub_internal.h" /* to see what one half told the other */
#include "relay/relay.h"
#include "relay/router_local.h"
#include "relay/store.h"

struct fx {
    char dir[64];
    uv_loop_t loop;
    struct cl_relay r;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256] = "";
    cl_log_set_level(CL_LOG_ERROR);
    assert_int_equal(cl_secret_init(), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/cl-router-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->r.loop = &f->loop;
    assert_int_equal(cl_store_open_sqlite(&f->r.store, f->dir, err, sizeof err), 0);
    f->r.hub = cl_hub_new(&f->r);
    f->r.events = cl_events_new(&f->r);
    cl_router_local_init(&f->r.router, f->r.hub);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    cl_hub_free(f->r.hub);
    cl_events_free(f->r.events);
    while (uv_run(&f->loop, UV_RUN_NOWAIT))
        ;
    assert_int_equal(uv_loop_close(&f->loop), 0);
    f->r.store.ops->close(&f->r.store);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void count_viewer(const char *user_id, bool view_only, const char *peer, void *ctx)
{
    (void)user_id;
    (void)view_only;
    (void)peer;
    (*(int *)ctx)++;
}

static void test_no_agent(void **state)
{
    struct fx *f = *state;
    struct cl_router *rt = &f->r.router;
    struct cl_router_agent a = {.skill = true, .chat = 7};
    const char *dev = "00000000-0000-4000-8000-000000000001";

    assert_ptr_equal(rt->impl, f->r.hub);
    assert_false(rt->ops->agent_online(rt, dev));
    assert_false(rt->ops->agent_find(rt, dev, &a));
    assert_true(a.skill); /* untouched when there is none */
    assert_int_equal(a.chat, 7);
    assert_false(rt->ops->agent_find(rt, dev, NULL));
    assert_int_equal(rt->ops->agent_send(rt, dev, "{}", 2), CL_ENOTFOUND);
    /* nothing to remove: no effect */
    rt->ops->device_removed(rt, dev, CL_END_DEVICE_DELETED);
    rt->ops->user_recheck(rt, "00000000-0000-4000-8000-000000000002");
}

static void test_session_lifecycle(void **state)
{
    struct fx *f = *state;
    struct cl_router *rt = &f->r.router;
    struct cl_session s;
    char title[32] = "x";
    size_t viewers = 99;
    int n = 0;

    memset(&s, 0, sizeof s);
    snprintf(s.id, sizeof s.id, "00000000-0000-4000-8000-00000000000a");
    snprintf(s.device_id, sizeof s.device_id, "00000000-0000-4000-8000-00000000000b");
    assert_false(rt->ops->session_live(rt, s.id, title, sizeof title, &viewers));

    rt->ops->session_opened(rt, &s);
    assert_true(rt->ops->session_live(rt, s.id, title, sizeof title, &viewers));
    assert_string_equal(title, "");
    assert_int_equal(viewers, 0);
    assert_true(rt->ops->session_live(rt, s.id, NULL, 0, NULL));
    rt->ops->session_viewers(rt, s.id, count_viewer, &n);
    assert_int_equal(n, 0);
    rt->ops->share_changed(rt, s.id, "00000000-0000-4000-8000-000000000002", CL_SHARE_NONE);

    rt->ops->session_end(rt, s.id, CL_END_ENDED_BY_USER);
    assert_false(rt->ops->session_live(rt, s.id, NULL, 0, NULL));
    /* ending what is not live: no effect */
    rt->ops->session_end(rt, s.id, CL_END_ENDED_BY_USER);
}

static void open_session(struct cl_router *rt, struct cl_session *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "00000000-0000-4000-8000-00000000000c");
    snprintf(s->device_id, sizeof s->device_id, "00000000-0000-4000-8000-00000000000d");
    rt->ops->session_opened(rt, s);
}

/* From the agent's half to the viewers': output, messages, notices, to a
 * session without viewers or not live, change nothing. */
static void test_to_viewers(void **state)
{
    struct fx *f = *state;
    struct cl_router *rt = &f->r.router;
    static const uint8_t bytes[] = "hello";
    struct cl_router_output out = {.offset = 0, .n = 5, .data = bytes};
    struct cl_session s;
    size_t viewers = 99;

    out.session_id = "00000000-0000-4000-8000-0000000000ff"; /* not live */
    rt->ops->session_output(rt, &out);
    rt->ops->session_forward(rt, out.session_id, "{}", 2);
    rt->ops->session_notice(rt, out.session_id, "device_offline", "gone");
    rt->ops->session_hold(rt, out.session_id, 10);
    rt->ops->session_resume(rt, out.session_id);
    rt->ops->viewer_credit(rt, out.session_id, 1, 5, true);

    open_session(rt, &s);
    out.session_id = s.id;
    rt->ops->session_output(rt, &out);
    rt->ops->session_forward(rt, s.id, "{}", 2);
    rt->ops->session_notice(rt, s.id, "device_offline", "gone");
    rt->ops->session_resume(rt, s.id);
    rt->ops->viewer_credit(rt, s.id, 1, 5, true); /* no such viewer */
    assert_true(rt->ops->session_live(rt, s.id, NULL, 0, &viewers));
    assert_int_equal(viewers, 0);
}

/* A held place (the agent said it had viewers) counts: the agent's half is
 * told one viewer at the held ack; a second hold changes nothing; the
 * place is not a viewer of the session (who is watching: nobody). */
static void test_hold_tells_agent_half(void **state)
{
    struct fx *f = *state;
    struct cl_router *rt = &f->r.router;
    struct cl_session s;
    struct cl_agent_session *ls;
    size_t viewers = 99;

    open_session(rt, &s);
    ls = cl_hub_agent_session(f->r.hub, s.id);
    assert_non_null(ls);
    assert_int_equal(ls->viewers_count, 0);
    rt->ops->session_hold(rt, s.id, 4096);
    assert_int_equal(ls->viewers_count, 1);
    assert_int_equal(ls->viewers_acked, 4096);
    rt->ops->session_hold(rt, s.id, 8192); /* a place is held already */
    assert_int_equal(ls->viewers_acked, 4096);
    assert_true(rt->ops->session_live(rt, s.id, NULL, 0, &viewers));
    assert_int_equal(viewers, 0);
}

/* From the viewers' half to the agent's: with no agent, stdin and control
 * say so (the viewer is told device_offline), acks are kept for when it
 * comes, a replay is not asked, nothing was produced. */
static void test_to_agent(void **state)
{
    struct fx *f = *state;
    struct cl_router *rt = &f->r.router;
    static const uint8_t key[] = "x";
    struct cl_session s;
    struct cl_agent_session *ls;
    struct cl_msg m;
    struct cl_router_stdin in = {.viewer = 1, .data = key, .n = 1, .frame = "x", .frame_len = 1};
    bool started = true;
    uint64_t produced = 77;

    open_session(rt, &s);
    ls = cl_hub_agent_session(f->r.hub, s.id);
    in.session_id = s.id;
    assert_int_equal(rt->ops->session_stdin(rt, &in), CL_ROUTER_STDIN_OFFLINE);
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_RESIZE;
    snprintf(m.session_id, sizeof m.session_id, "%s", s.id);
    assert_int_equal(rt->ops->session_control(rt, s.id, &m, "{}", 2, &started), CL_ENOTFOUND);
    assert_false(started);
    assert_false(rt->ops->session_produced(rt, s.id, &produced));
    assert_int_equal(produced, 77);
    rt->ops->session_acked(rt, s.id, 1234, 2, 1);
    assert_int_equal(ls->viewers_acked, 1234);
    assert_int_equal(ls->viewers_count, 2);
    assert_int_equal(ls->ack_sent, 0); /* no agent: no ack went */
    rt->ops->session_replay(rt, s.id, 0);
    rt->ops->viewer_left(rt, s.id, 1);
    /* not live: nothing */
    in.session_id = "00000000-0000-4000-8000-0000000000ff";
    assert_int_equal(rt->ops->session_stdin(rt, &in), CL_ROUTER_STDIN_OFFLINE);
    rt->ops->session_acked(rt, in.session_id, 1, 1, 1);
    rt->ops->viewer_left(rt, in.session_id, 1);
}

/* A viewer's subscription makes the session live on the agent's side (a
 * viewer back at a restarted relay before its agent); the idle backstop
 * runs while the viewers' side says none is attached; session_closed makes
 * the viewers' side forget a session (its held place too). */
static void test_attach_idle_close(void **state)
{
    struct fx *f = *state;
    struct cl_router *rt = &f->r.router;
    const char *id = "00000000-0000-4000-8000-0000000000e1";
    const char *dev = "00000000-0000-4000-8000-0000000000e2";
    struct cl_agent_session *ls;

    assert_false(rt->ops->session_live(rt, id, NULL, 0, NULL));
    rt->ops->session_attach(rt, id, dev);
    assert_true(rt->ops->session_live(rt, id, NULL, 0, NULL));
    ls = cl_hub_agent_session(f->r.hub, id);
    assert_non_null(ls);
    assert_string_equal(ls->device_id, dev);
    assert_true(uv_is_active((uv_handle_t *)&ls->idle)); /* nobody attached yet */
    rt->ops->session_attach(rt, id, dev);                /* once is enough */
    assert_ptr_equal(cl_hub_agent_session(f->r.hub, id), ls);

    rt->ops->session_acked(rt, id, 0, 1, 1);
    assert_false(uv_is_active((uv_handle_t *)&ls->idle));
    rt->ops->session_acked(rt, id, 0, 1, 0); /* left, a place held: idle again */
    assert_true(uv_is_active((uv_handle_t *)&ls->idle));

    rt->ops->session_hold(rt, id, 5);
    assert_non_null(cl_hub_viewer_session(f->r.hub, id));
    rt->ops->session_closed(rt, id, CL_END_ENDED_BY_USER, true);
    assert_null(cl_hub_viewer_session(f->r.hub, id));
    rt->ops->session_closed(rt, id, CL_END_ENDED_BY_USER, true); /* again: nothing */
    rt->ops->session_end(rt, id, CL_END_ENDED_BY_USER);
    assert_false(rt->ops->session_live(rt, id, NULL, 0, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_to_viewers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_tells_agent_half, setup, teardown),
        cmocka_unit_test_setup_teardown(test_to_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attach_idle_close, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
