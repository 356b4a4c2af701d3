/*
 * memory_builtin: memory.h over the chat store (cl_chat_memory_*). The
 * store is synchronous, so each callback runs before the operation
 * returns; rows are collected first because a store callback must not call
 * the store, and the provider's callback may.
 */
#include "agent/memory_builtin.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

struct cl__builtin {
    struct cl_chat_store *cs;
};

/* Notes and hits copied out of the store's callbacks. */
struct cl__rows {
    struct cl_memory_note notes[CL_CHAT_PAGE_MAX + 1];
    struct cl_memory_hit hits[CL_CHAT_SEARCH_MAX];
    char *owned[2 * (CL_CHAT_PAGE_MAX + 1)];
    size_t n, nowned;
    int rc;
};

static const char *cl__keep(struct cl__rows *r, const char *s)
{
    char *c = strdup(s ? s : "");
    if (!c) {
        r->rc = CL_ENOMEM;
        return "";
    }
    r->owned[r->nowned++] = c;
    return c;
}

static void cl__rows_free(struct cl__rows *r)
{
    for (size_t i = 0; i < r->nowned; i++)
        free(r->owned[i]);
    free(r);
}

static int cl__on_note(const struct cl_chat_note *n, void *arg)
{
    struct cl__rows *r = arg;
    struct cl_memory_note *o = &r->notes[r->n++];
    o->id = n->id;
    o->text = cl__keep(r, n->text);
    o->tags = cl__keep(r, n->tags);
    o->source_thread_id = n->source_thread_id;
    o->created_at = n->created_at;
    o->updated_at = n->updated_at;
    return 0;
}

static int cl__on_hit(const struct cl_chat_hit *h, void *arg)
{
    struct cl__rows *r = arg;
    struct cl_memory_hit *o = &r->hits[r->n++];
    o->id = h->id;
    o->source_thread_id = h->thread_id;
    o->snippet = cl__keep(r, h->snippet);
    o->text = "";        /* filled below, outside the store's walk */
    o->score = -h->rank; /* bm25: lower is better */
    o->created_at = h->created_at;
    return 0;
}

static void cl__add(void *self, const char *text, const char *tags, int64_t source_thread_id,
                    cl_memory_done_fn fn, void *ctx)
{
    struct cl__builtin *b = self;
    int64_t id = 0;
    int rc = cl_chat_memory_add(b->cs, text, tags, source_thread_id, &id);
    fn(ctx, rc, rc ? 0 : id);
}

static void cl__list(void *self, int64_t before_id, int limit, cl_memory_notes_fn fn, void *ctx)
{
    struct cl__builtin *b = self;
    struct cl__rows *r = calloc(1, sizeof *r);
    int rc;

    if (!r) {
        fn(ctx, CL_ENOMEM, NULL, 0, false);
        return;
    }
    limit = limit < 1 ? 1 : limit > CL_CHAT_PAGE_MAX ? CL_CHAT_PAGE_MAX : limit;
    /* one more than asked tells whether older notes remain */
    rc = cl_chat_memory_list(b->cs, before_id, limit + 1, cl__on_note, r);
    if (rc == 0)
        rc = r->rc;
    bool more = r->n > (size_t)limit;
    fn(ctx, rc, rc ? NULL : r->notes, rc ? 0 : (more ? (size_t)limit : r->n), more);
    cl__rows_free(r);
}

/* The whole text of note id, for a hit. */
struct cl__text {
    int64_t id;
    struct cl__rows *r;
    const char *text;
};

static int cl__on_text(const struct cl_chat_note *n, void *arg)
{
    struct cl__text *t = arg;
    if (n->id == t->id) {
        t->text = cl__keep(t->r, n->text);
        return 1;
    }
    return 0;
}

static void cl__search(void *self, const char *query, const char *open, const char *close,
                       int limit, cl_memory_hits_fn fn, void *ctx)
{
    struct cl__builtin *b = self;
    struct cl__rows *r = calloc(1, sizeof *r);
    int rc;

    if (!r) {
        fn(ctx, CL_ENOMEM, NULL, 0);
        return;
    }
    rc = cl_chat_memory_search(b->cs, query, open, close, limit, cl__on_hit, r);
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        /* the note just above id, then id itself: one row */
        struct cl__text t = {.id = r->hits[i].id, .r = r, .text = ""};
        int lrc = cl_chat_memory_list(b->cs, r->hits[i].id + 1, 1, cl__on_text, &t);
        if (lrc < 0)
            rc = lrc;
        r->hits[i].text = t.text;
    }
    if (rc == 0)
        rc = r->rc;
    fn(ctx, rc, rc ? NULL : r->hits, rc ? 0 : r->n);
    cl__rows_free(r);
}

static void cl__remove(void *self, int64_t id, cl_memory_done_fn fn, void *ctx)
{
    struct cl__builtin *b = self;
    fn(ctx, cl_chat_memory_delete(b->cs, id), id);
}

static void cl__forget_thread(void *self, int64_t thread_id, cl_memory_done_fn fn, void *ctx)
{
    /* the store's foreign key does it (ON DELETE SET NULL) */
    (void)self;
    fn(ctx, 0, thread_id);
}

static void cl__close(void *self)
{
    free(self);
}

static const struct cl_memory_ops cl__ops = {
    .name = "builtin",
    .add = cl__add,
    .list = cl__list,
    .search = cl__search,
    .remove = cl__remove,
    .forget_thread = cl__forget_thread,
    .close = cl__close,
};

int cl_memory_builtin_new(struct cl_chat_store *cs, struct cl_memory *out)
{
    struct cl__builtin *b = calloc(1, sizeof *b);
    if (!b)
        return CL_ENOMEM;
    b->cs = cs;
    out->ops = &cl__ops;
    out->self = b;
    return 0;
}
