/*
 * Unit tests for the local router (router_local.c, decision 65): with no
 * agent and no viewer connected, its entries answer as the hub's lookups
 * did (offline, nothing sent, CL_ENOTFOUND), and a session it opened is
 * live until it ends. The paths through real connections are the e2e
 * suites' (terminal, chat_relay, openclaw, shares).
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_lifecycle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
