/*
 * Tests for src/relay/store_pool.c: store work off the loop. Jobs run on
 * the pool's threads, each with its own store opened from the same URL
 * (what one writes, the loop's store and the others read); done callbacks
 * run on the loop thread in finishing order; the queue is bounded
 * (CL_ELIMIT past CL_RELAY_STORE_QUEUE_MAX); a stalled worker (a
 * database locked by another connection) holds up its jobs only, never
 * the loop; closing runs what was queued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/sqlite.h"
#include "relay/store.h"
#include "relay/store_pool.h"
#include "store_fixtures.h"

struct fx {
    char dir[64];
    char url[96];
    uv_loop_t loop;
    struct cl_store store; /* the loop's own */
    struct cl_store_pool *pool;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256];
    cl_log_set_level(CL_LOG_ERROR);
    snprintf(f->dir, sizeof f->dir, "/tmp/cl-pool-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->url, sizeof f->url, "sqlite:%s", f->dir);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(cl_store_open(&f->store, f->url, err, sizeof err), 0);
    assert_int_equal(cl_store_pool_open(&f->loop, f->url, 3, &f->pool, err, sizeof err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    cl_store_pool_close(f->pool);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    f->store.ops->close(&f->store);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Runs the loop until *n reaches want (10 s at most). */
static void tick(uv_timer_t *t)
{
    (void)t;
}

static bool run_until(struct fx *f, const int *n, int want)
{
    uv_timer_t t;
    uint64_t end = uv_hrtime() + 10ull * 1000 * 1000 * 1000;
    uv_timer_init(&f->loop, &t);
    uv_timer_start(&t, tick, 5, 5);
    while (*n < want && uv_hrtime() < end)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return *n >= want;
}

struct job {
    struct fx *f;
    int i;
    uv_thread_t loop_thread, ran_on;
    struct cl_store *used;
    char email[64];
    int rc;
    int *done;
    int *order;
    int *order_n;
};

static void work_create(struct cl_store *s, void *arg)
{
    struct job *j = arg;
    struct cl_user u;
    j->ran_on = uv_thread_self();
    j->used = s;
    snprintf(j->email, sizeof j->email, "pool%d@example.test", j->i);
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "00000000-0000-4000-8000-%012d", j->i);
    snprintf(u.email, sizeof u.email, "%s", j->email);
    snprintf(u.pw_hash, sizeof u.pw_hash, "x");
    u.created_at = 1;
    j->rc = s->ops->user_create(s, &u);
}

static void done_count(void *arg)
{
    struct job *j = arg;
    /* on the loop thread */
    assert_true(uv_thread_equal(&j->loop_thread, &(uv_thread_t){uv_thread_self()}));
    j->order[(*j->order_n)++] = j->i;
    (*j->done)++;
}

static void test_jobs_on_workers_with_their_stores(void **state)
{
    struct fx *f = *state;
    enum { N = 40 };
    struct job jobs[N];
    int done = 0, order[N], order_n = 0;
    struct cl_store_pool_stats st;

    for (int i = 0; i < N; i++) {
        jobs[i] = (struct job){.f = f,
                               .i = i,
                               .loop_thread = uv_thread_self(),
                               .done = &done,
                               .order = order,
                               .order_n = &order_n};
        assert_int_equal(cl_store_pool_submit(f->pool, work_create, done_count, &jobs[i]), 0);
    }
    assert_true(run_until(f, &done, N));
    for (int i = 0; i < N; i++) {
        struct cl_user u;
        assert_int_equal(jobs[i].rc, 0);
        assert_false(uv_thread_equal(&jobs[i].ran_on, &jobs[i].loop_thread));
        assert_true(jobs[i].used != &f->store); /* a worker's own store */
        /* what a worker wrote, the loop's store reads */
        assert_int_equal(f->store.ops->user_by_email(&f->store, jobs[i].email, &u), 0);
    }
    cl_store_pool_stats(f->pool, &st);
    assert_int_equal(st.workers, 3);
    assert_int_equal(st.done, N);
    assert_int_equal(st.queued, 0);
}

/* A worker stalled by a lock another connection holds: the loop goes on
 * (a timer fires many times), the job finishes once the lock is gone. */
struct stall {
    int done;
    int rc;
    int ticks;
};

static void work_write(struct cl_store *s, void *arg)
{
    struct stall *x = arg;
    struct cl_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.id, sizeof u.id, "00000000-0000-4000-8000-999999999999");
    snprintf(u.email, sizeof u.email, "stalled@example.test");
    snprintf(u.pw_hash, sizeof u.pw_hash, "x");
    u.created_at = 1;
    x->rc = s->ops->user_create(s, &u);
}

static void done_stall(void *arg)
{
    ((struct stall *)arg)->done++;
}

static void on_tick(uv_timer_t *t)
{
    struct stall *x = t->data;
    x->ticks++;
}

static void test_stalled_worker_never_stalls_the_loop(void **state)
{
    struct fx *f = *state;
    struct stall x = {0};
    sqlite3 *locker;
    char path[128], err[256];
    uv_timer_t t;

    snprintf(path, sizeof path, "%s/clawlink.db", f->dir);
    assert_int_equal(cl_sqlite_open(path, &locker, err, sizeof err), 0);
    assert_int_equal(sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(cl_store_pool_submit(f->pool, work_write, done_stall, &x), 0);
    uv_timer_init(&f->loop, &t);
    t.data = &x;
    uv_timer_start(&t, on_tick, 10, 10);
    while (x.ticks < 30) /* 300 ms of a loop that turns while the worker waits */
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(x.done, 0);
    assert_int_equal(sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    uv_timer_stop(&t);
    uv_close((uv_handle_t *)&t, NULL);
    assert_true(run_until(f, &x.done, 1));
    assert_int_equal(x.rc, 0);
    cl_sqlite_close(locker);
}

/* The queue is bounded: past CL_RELAY_STORE_QUEUE_MAX waiting jobs,
 * submit refuses (and runs nothing); closing runs what was queued. */
static void test_queue_bound_and_close(void **state)
{
    struct fx *f = *state;
    static struct stall xs[CL_RELAY_STORE_QUEUE_MAX + 8];
    struct stall blocker = {0};
    sqlite3 *locker;
    char path[128], err[256];
    int accepted = 0, refused = 0;
    struct cl_store_pool_stats st;

    memset(xs, 0, sizeof xs);
    snprintf(path, sizeof path, "%s/clawlink.db", f->dir);
    assert_int_equal(cl_sqlite_open(path, &locker, err, sizeof err), 0);
    assert_int_equal(sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    /* three writers stall the three workers; the rest wait in the queue */
    for (int i = 0; i < 3; i++)
        assert_int_equal(cl_store_pool_submit(f->pool, work_write, done_stall, &blocker), 0);
    usleep(100 * 1000);
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        int rc = cl_store_pool_submit(f->pool, work_write, done_stall, &xs[i]);
        if (rc == 0)
            accepted++;
        else if (rc == CL_ELIMIT)
            refused++;
        else
            fail_msg("submit: %d", rc);
    }
    assert_int_equal(accepted, CL_RELAY_STORE_QUEUE_MAX);
    assert_int_equal(refused, 8);
    cl_store_pool_stats(f->pool, &st);
    assert_int_equal(st.refused, 8);
    assert_int_equal(sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    cl_sqlite_close(locker);
    /* closing runs everything queued, work and done */
    cl_store_pool_close(f->pool);
    f->pool = NULL;
    int ran = 0;
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++)
        ran += xs[i].done;
    assert_int_equal(ran, CL_RELAY_STORE_QUEUE_MAX);
    assert_int_equal(blocker.done, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_jobs_on_workers_with_their_stores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_worker_never_stalls_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_bound_and_close, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
