/* store_pool: store work on threads of its own (store_pool.h). */
#include "relay/store_pool.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "relay/store_metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cl__store_job {
    struct cl__store_job *next;
    cl_store_work_fn work;
    cl_store_done_fn done;
    void *arg;
};

struct cl__store_worker {
    struct cl_store_pool *pool;
    uv_thread_t thread;
    struct cl_store store;
    bool started;
};

struct cl_store_pool {
    uv_loop_t *loop;
    uv_async_t wake;
    uv_mutex_t lock;
    uv_cond_t work_cv;
    struct cl__store_job *head, *tail;           /* waiting for a worker */
    struct cl__store_job *done_head, *done_tail; /* waiting for the loop */
    size_t queued, running;
    uint64_t finished, refused;
    bool stopping;
    unsigned n;
    struct cl__store_worker workers[CL_RELAY_STORE_WORKERS_MAX];
};

static void cl__store_pool_run(void *arg)
{
    struct cl__store_worker *w = arg;
    struct cl_store_pool *p = w->pool;

    uv_mutex_lock(&p->lock);
    for (;;) {
        struct cl__store_job *j;
        while (!p->head && !p->stopping)
            uv_cond_wait(&p->work_cv, &p->lock);
        if (!p->head)
            break; /* stopping, and nothing left */
        j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        p->running++;
        uv_mutex_unlock(&p->lock);

        j->work(&w->store, j->arg);

        uv_mutex_lock(&p->lock);
        p->running--;
        j->next = NULL;
        if (p->done_tail)
            p->done_tail->next = j;
        else
            p->done_head = j;
        p->done_tail = j;
        uv_async_send(&p->wake);
    }
    uv_mutex_unlock(&p->lock);
}

/* Loop: the done callbacks of finished jobs, in finishing order. */
static void cl__store_pool_done(uv_async_t *h)
{
    struct cl_store_pool *p = h->data;
    struct cl__store_job *j, *next;

    uv_mutex_lock(&p->lock);
    j = p->done_head;
    p->done_head = p->done_tail = NULL;
    uv_mutex_unlock(&p->lock);
    for (; j; j = next) {
        next = j->next;
        j->done(j->arg);
        p->finished++;
        free(j);
    }
}

int cl_store_pool_open(uv_loop_t *loop, const char *url, unsigned n, struct cl_store_pool **out,
                       char *err, size_t errcap)
{
    struct cl_store_pool *p;
    unsigned i;

    *out = NULL;
    if (n == 0 || n > CL_RELAY_STORE_WORKERS_MAX) {
        snprintf(err, errcap, "store workers must be 1 to %d", CL_RELAY_STORE_WORKERS_MAX);
        return CL_EINVAL;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->loop = loop;
    p->n = n;
    if (uv_mutex_init(&p->lock) || uv_cond_init(&p->work_cv))
        abort();
    p->wake.data = p;
    uv_async_init(loop, &p->wake, cl__store_pool_done);
    for (i = 0; i < n; i++) {
        struct cl__store_worker *w = &p->workers[i];
        w->pool = p;
        if (cl_store_open(&w->store, url, err, errcap))
            goto out_close;
        cl_store_metrics_wrap(&w->store);
        if (uv_thread_create(&w->thread, cl__store_pool_run, w)) {
            w->store.ops->close(&w->store);
            snprintf(err, errcap, "cannot start a store worker thread");
            goto out_close;
        }
        w->started = true;
    }
    *out = p;
    return 0;

out_close:
    cl_store_pool_close(p);
    return CL_EIO;
}

int cl_store_pool_submit(struct cl_store_pool *p, cl_store_work_fn work, cl_store_done_fn done,
                         void *arg)
{
    struct cl__store_job *j;

    uv_mutex_lock(&p->lock);
    if (p->stopping) {
        uv_mutex_unlock(&p->lock);
        return CL_ESTATE;
    }
    if (p->queued >= CL_RELAY_STORE_QUEUE_MAX) {
        p->refused++;
        uv_mutex_unlock(&p->lock);
        return CL_ELIMIT;
    }
    uv_mutex_unlock(&p->lock);
    j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->work = work;
    j->done = done;
    j->arg = arg;
    uv_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    uv_cond_signal(&p->work_cv);
    uv_mutex_unlock(&p->lock);
    return 0;
}

void cl_store_pool_stats(struct cl_store_pool *p, struct cl_store_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    uv_mutex_lock(&p->lock);
    out->workers = p->n;
    out->queued = p->queued;
    out->running = p->running;
    out->refused = p->refused;
    uv_mutex_unlock(&p->lock);
    out->done = p->finished;
}

static void cl__store_pool_freed(uv_handle_t *h)
{
    struct cl_store_pool *p = h->data;
    uv_cond_destroy(&p->work_cv);
    uv_mutex_destroy(&p->lock);
    free(p);
}

void cl_store_pool_close(struct cl_store_pool *p)
{
    if (!p)
        return;
    uv_mutex_lock(&p->lock);
    p->stopping = true;
    uv_cond_broadcast(&p->work_cv);
    uv_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->n; i++) {
        struct cl__store_worker *w = &p->workers[i];
        if (w->started) {
            uv_thread_join(&w->thread);
            w->store.ops->close(&w->store);
            w->started = false;
        }
    }
    cl__store_pool_done(&p->wake); /* what finished after the loop last looked */
    uv_close((uv_handle_t *)&p->wake, cl__store_pool_freed);
}
