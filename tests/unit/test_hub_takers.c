/*
 * Unit tests for the hub's table of agent message takers (cl_hub_take,
 * decision 62): what it refuses, and that an agent's message of a
 * registered type reaches its taker and no other, through the agent
 * connection's handler table as server.c calls it.
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
#include "relay/conn.h"
#include "relay/hub.h"
#include "relay/relay.h"
#include "relay/store.h"

struct fx {
    char dir[64];
    uv_loop_t loop;
    struct cl_relay r;
};

struct seen {
    int messages;
    enum cl_msg_type last;
    bool take; /* what on_message answers */
};

static bool on_message(void *ctx, struct cl_conn *c, const struct cl_msg *m)
{
    struct seen *s = ctx;
    (void)c;
    s->messages++;
    s->last = m->type;
    return s->take;
}

static const struct cl_agent_taker taker = {.on_message = on_message};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256] = "";
    cl_log_set_level(CL_LOG_ERROR);
    assert_int_equal(cl_secret_init(), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/cl-hub-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->r.loop = &f->loop;
    assert_int_equal(cl_store_open_sqlite(&f->r.store, f->dir, err, sizeof err), 0);
    f->r.hub = cl_hub_new(&f->r);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    cl_hub_free(f->r.hub);
    while (uv_run(&f->loop, UV_RUN_NOWAIT))
        ;
    assert_int_equal(uv_loop_close(&f->loop), 0);
    f->r.store.ops->close(&f->r.store);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void test_refusals(void **state)
{
    struct fx *f = *state;
    struct seen a = {0};
    const enum cl_msg_type hb[] = {CL_MSG_HEARTBEAT, CL_MSG_TOKEN};
    const enum cl_msg_type token[] = {CL_MSG_TOKEN};
    const enum cl_msg_type unknown[] = {CL_MSG_UNKNOWN};
    const enum cl_msg_type past[] = {CL_MSG__COUNT};
    const enum cl_msg_type none[] = {CL_MSG_CHAT_EVENT};

    assert_int_equal(cl_hub_take(f->r.hub, &taker, &a, hb, 2), 0);
    /* a type has one taker */
    assert_int_equal(cl_hub_take(f->r.hub, &taker, &a, token, 1), CL_ESTATE);
    assert_int_equal(cl_hub_take(f->r.hub, &taker, &a, unknown, 1), CL_ESTATE);
    assert_int_equal(cl_hub_take(f->r.hub, &taker, &a, past, 1), CL_ESTATE);
    /* refused registrations took no slot: the table fills at the limit */
    for (int i = 1; i < CL_HUB_AGENT_TAKERS_MAX; i++)
        assert_int_equal(cl_hub_take(f->r.hub, &taker, &a, NULL, 0), 0);
    assert_int_equal(cl_hub_take(f->r.hub, &taker, &a, none, 1), CL_ELIMIT);
}

static void test_route_by_type(void **state)
{
    struct fx *f = *state;
    struct seen errors = {.take = true}, chat = {.take = true};
    const enum cl_msg_type err_types[] = {CL_MSG_ERROR};
    const enum cl_msg_type chat_types[] = {CL_MSG_CHAT_RESPONSE, CL_MSG_CHAT_EVENT};
    static const char err_msg[] =
        "{\"type\":\"error\",\"data\":{\"code\":\"x\",\"message\":\"y\"}}";
    struct cl_conn *c = calloc(1, sizeof *c);

    assert_int_equal(cl_hub_take(f->r.hub, &taker, &errors, err_types, 1), 0);
    assert_int_equal(cl_hub_take(f->r.hub, &taker, &chat, chat_types, 2), 0);
    /* an authenticated agent, as its hello leaves it */
    c->ops = &cl_hub_agent_ops;
    c->kind = cl_hub_agent_ops.kind;
    c->relay = &f->r;
    c->authed = true;
    c->proto = 1;
    snprintf(c->device_id, sizeof c->device_id, "dev1");

    c->ops->on_message(c, err_msg, strlen(err_msg), false, NULL);
    assert_int_equal(errors.messages, 1);
    assert_int_equal(errors.last, CL_MSG_ERROR);
    assert_int_equal(chat.messages, 0);

    /* a taker that declines leaves the message to the hub (it logs an
     * agent's error) */
    errors.take = false;
    c->ops->on_message(c, err_msg, strlen(err_msg), false, NULL);
    assert_int_equal(errors.messages, 2);
    assert_int_equal(chat.messages, 0);
    assert_false(c->close_pending);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_by_type, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
