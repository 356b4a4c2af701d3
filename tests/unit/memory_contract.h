/*
 * memory_contract: the behaviour every memory provider (src/agent/memory.h)
 * owes its callers, as one table of cmocka cases any provider's test file
 * runs against its own provider (STYLE.md: backends proven by one contract
 * suite). test_agent_memory_pg.c runs it on a real PostgreSQL server; the
 * built-in provider's test can run it on a chat store.
 *
 * A test file includes this after <cmocka.h>, and gives each case (through
 * cmocka's per-test setup) a struct mc_env whose provider is empty:
 *   - mem: the provider under test;
 *   - loop: the loop a provider answers on (NULL when every callback runs
 *     before its operation returns, as the built-in one does);
 *   - thread(env, k): the id of an existing chat thread, k = 1, 2, 3
 *     (the built-in provider refuses a source thread that does not exist);
 *   - delete_thread(env, id): deletes that thread where threads live,
 *     before forget_thread is called as the bridge calls it (NULL when the
 *     provider keeps no threads).
 * Then lists MC_CONTRACT_CASES(setup, teardown) among its tests.
 */
#ifndef CL_TEST_MEMORY_CONTRACT_H
#define CL_TEST_MEMORY_CONTRACT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "agent/memory.h"
#include "core/err.h"
#include "core/limits.h"

struct mc_env {
    struct cl_memory mem;
    uv_loop_t *loop;
    int64_t (*thread)(struct mc_env *env, int k);
    void (*delete_thread)(struct mc_env *env, int64_t id);
    void *arg;
};

/* What one callback answered, copied out (rows live only during it). */
#define MC_ROWS_MAX (CL_CHAT_PAGE_MAX + 1)
struct mc_res {
    bool done;
    int rc;
    int64_t id;
    size_t n;
    bool more;
    int64_t ids[MC_ROWS_MAX];
    int64_t threads[MC_ROWS_MAX];
    int64_t created[MC_ROWS_MAX], updated[MC_ROWS_MAX];
    double scores[MC_ROWS_MAX];
    char *texts[MC_ROWS_MAX];
    char *tags[MC_ROWS_MAX];
    char *snippets[MC_ROWS_MAX];
};

static void mc_res_clear(struct mc_res *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->texts[i]);
        free(r->tags[i]);
        free(r->snippets[i]);
    }
    memset(r, 0, sizeof *r);
}

static void mc_on_done(void *ctx, int rc, int64_t id)
{
    struct mc_res *r = ctx;
    assert_false(r->done); /* exactly once */
    r->done = true;
    r->rc = rc;
    r->id = id;
}

static void mc_on_notes(void *ctx, int rc, const struct cl_memory_note *notes, size_t n,
                        bool has_more)
{
    struct mc_res *r = ctx;
    assert_false(r->done);
    assert_true(n <= MC_ROWS_MAX);
    r->done = true;
    r->rc = rc;
    r->n = n;
    r->more = has_more;
    for (size_t i = 0; i < n; i++) {
        r->ids[i] = notes[i].id;
        r->threads[i] = notes[i].source_thread_id;
        r->created[i] = notes[i].created_at;
        r->updated[i] = notes[i].updated_at;
        r->texts[i] = strdup(notes[i].text);
        r->tags[i] = strdup(notes[i].tags);
    }
}

static void mc_on_hits(void *ctx, int rc, const struct cl_memory_hit *hits, size_t n)
{
    struct mc_res *r = ctx;
    assert_false(r->done);
    assert_true(n <= MC_ROWS_MAX);
    r->done = true;
    r->rc = rc;
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        r->ids[i] = hits[i].id;
        r->threads[i] = hits[i].source_thread_id;
        r->created[i] = hits[i].created_at;
        r->scores[i] = hits[i].score;
        r->texts[i] = strdup(hits[i].text);
        r->snippets[i] = strdup(hits[i].snippet);
    }
}

static void mc_on_guard(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs env's loop until *done (a synchronous provider is done already),
 * failing the case after 20 s. */
static void mc_wait(struct mc_env *env, const bool *done)
{
    uv_timer_t guard;
    bool expired = false;

    if (*done)
        return;
    assert_non_null(env->loop);
    uv_timer_init(env->loop, &guard);
    guard.data = &expired;
    uv_timer_start(&guard, mc_on_guard, 20000, 0);
    while (!*done && !expired)
        uv_run(env->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(env->loop, UV_RUN_NOWAIT);
    if (!*done)
        fail_msg("the provider did not answer within 20 s");
}

static int mc_add(struct mc_env *env, const char *text, const char *tags, int64_t thread,
                  int64_t *id)
{
    struct mc_res r = {0};
    env->mem.ops->add(env->mem.self, text, tags, thread, mc_on_done, &r);
    mc_wait(env, &r.done);
    if (id)
        *id = r.id;
    return r.rc;
}

static int64_t mc_add_ok(struct mc_env *env, const char *text, const char *tags, int64_t thread)
{
    int64_t id = 0;
    assert_int_equal(mc_add(env, text, tags, thread, &id), 0);
    assert_true(id > 0);
    return id;
}

static int mc_list(struct mc_env *env, int64_t before, int limit, struct mc_res *r)
{
    mc_res_clear(r);
    env->mem.ops->list(env->mem.self, before, limit, mc_on_notes, r);
    mc_wait(env, &r->done);
    return r->rc;
}

static int mc_search(struct mc_env *env, const char *q, const char *open, const char *close,
                     int limit, struct mc_res *r)
{
    mc_res_clear(r);
    env->mem.ops->search(env->mem.self, q, open, close, limit, mc_on_hits, r);
    mc_wait(env, &r->done);
    return r->rc;
}

static int mc_remove(struct mc_env *env, int64_t id)
{
    struct mc_res r = {0};
    env->mem.ops->remove(env->mem.self, id, mc_on_done, &r);
    mc_wait(env, &r.done);
    return r.rc;
}

static int mc_forget(struct mc_env *env, int64_t thread)
{
    struct mc_res r = {0};
    env->mem.ops->forget_thread(env->mem.self, thread, mc_on_done, &r);
    mc_wait(env, &r.done);
    return r.rc;
}

/* How many notes there are (all pages). */
static size_t mc_count(struct mc_env *env)
{
    struct mc_res *r = calloc(1, sizeof *r);
    size_t total = 0;
    int64_t before = 0;

    do {
        assert_int_equal(mc_list(env, before, CL_CHAT_PAGE_MAX, r), 0);
        total += r->n;
        before = r->n ? r->ids[r->n - 1] : 0;
    } while (r->more);
    mc_res_clear(r);
    free(r);
    return total;
}

/* ---- the cases ---------------------------------------------------------------------- */

/* Newest first, in pages: before_id and has_more walk every note once;
 * each note comes back as it was added. */
static void mc_add_list_pages(void **state)
{
    struct mc_env *env = *state;
    struct mc_res *r = calloc(1, sizeof *r);
    int64_t t1 = env->thread(env, 1), ids[5];
    char text[64];

    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "note number %d", i);
        ids[i] = mc_add_ok(env, text, i % 2 ? "odd tag" : "", i == 2 ? t1 : 0);
        if (i)
            assert_true(ids[i] > ids[i - 1]);
    }
    assert_int_equal(mc_list(env, 0, 2, r), 0);
    assert_int_equal(r->n, 2);
    assert_true(r->more);
    assert_true(r->ids[0] == ids[4] && r->ids[1] == ids[3]);
    assert_string_equal(r->texts[0], "note number 4");
    assert_string_equal(r->tags[0], "");
    assert_string_equal(r->tags[1], "odd tag");
    assert_true(r->created[0] > 1600000000000LL); /* Unix milliseconds */
    assert_true(r->updated[0] >= r->created[0]);
    assert_true(r->created[0] >= r->created[1]);

    assert_int_equal(mc_list(env, r->ids[1], 2, r), 0);
    assert_int_equal(r->n, 2);
    assert_true(r->more);
    assert_true(r->ids[0] == ids[2] && r->ids[1] == ids[1]);
    assert_true(r->threads[0] == t1 && r->threads[1] == 0);

    assert_int_equal(mc_list(env, r->ids[1], 2, r), 0);
    assert_int_equal(r->n, 1);
    assert_false(r->more);
    assert_true(r->ids[0] == ids[0]);

    /* exactly a page left: no more */
    assert_int_equal(mc_list(env, ids[2], 2, r), 0);
    assert_int_equal(r->n, 2);
    assert_false(r->more);
    /* a limit below 1 is 1, above the page maximum is the maximum */
    assert_int_equal(mc_list(env, 0, 0, r), 0);
    assert_int_equal(r->n, 1);
    assert_true(r->more);
    assert_int_equal(mc_list(env, 0, 100000, r), 0);
    assert_int_equal(r->n, 5);
    assert_false(r->more);
    mc_res_clear(r);
    free(r);
}

/* Best first by score; snippets mark the matched words with the caller's
 * markers; every word is required, the last one also as a prefix; tags
 * are searched too. */
static void mc_search_ranks_and_marks(void **state)
{
    struct mc_env *env = *state;
    struct mc_res *r = calloc(1, sizeof *r);
    int64_t once, often, tagged;

    once = mc_add_ok(env, "the quick brown fox jumps over the lazy dog near the river bank", "", 0);
    often = mc_add_ok(env, "fox fox fox: the fox den", "", env->thread(env, 2));
    mc_add_ok(env, "nothing relevant in this one", "", 0);
    tagged = mc_add_ok(env, "tomatoes need sun and water", "gardening summer", 0);

    assert_int_equal(mc_search(env, "fox", "[", "]", 10, r), 0);
    assert_int_equal(r->n, 2);
    assert_true(r->ids[0] == often && r->ids[1] == once);
    assert_true(r->scores[0] > r->scores[1]);
    assert_true(r->threads[0] == env->thread(env, 2) && r->threads[1] == 0);
    assert_string_equal(r->texts[1],
                        "the quick brown fox jumps over the lazy dog near the river bank");
    assert_non_null(strstr(r->snippets[0], "[fox]"));
    assert_non_null(strstr(r->snippets[1], "[fox]"));
    assert_null(strstr(r->snippets[1], "[the]"));
    assert_true(r->created[1] > 1600000000000LL);

    /* markers of any bytes, up to 16 */
    assert_int_equal(mc_search(env, "lazy", "<mark a=\"1\">", "</mark>", 10, r), 0);
    assert_int_equal(r->n, 1);
    assert_non_null(strstr(r->snippets[0], "<mark a=\"1\">lazy</mark>"));

    /* at most limit hits, the best */
    assert_int_equal(mc_search(env, "fox", "[", "]", 1, r), 0);
    assert_int_equal(r->n, 1);
    assert_true(r->ids[0] == often);

    /* all words required */
    assert_int_equal(mc_search(env, "quick dog", "[", "]", 10, r), 0);
    assert_int_equal(r->n, 1);
    assert_true(r->ids[0] == once);
    assert_int_equal(mc_search(env, "quick den", "[", "]", 10, r), 0);
    assert_int_equal(r->n, 0);
    /* the last word is a prefix as one types */
    assert_int_equal(mc_search(env, "brown jum", "[", "]", 10, r), 0);
    assert_int_equal(r->n, 1);
    assert_true(r->ids[0] == once);
    /* tags are searched */
    assert_int_equal(mc_search(env, "gardening", "[", "]", 10, r), 0);
    assert_int_equal(r->n, 1);
    assert_true(r->ids[0] == tagged);
    mc_res_clear(r);
    free(r);
}

/* What a person types is never query syntax: operators, quotes,
 * parentheses and prefixes are words or nothing, never an error. */
static void mc_search_typed_text_is_words(void **state)
{
    struct mc_env *env = *state;
    struct mc_res *r = calloc(1, sizeof *r);
    int64_t id;
    static const char *const nasty[] = {
        "a & b | !c :*", "\"unbalanced",        "(",  "NOT fox",  "fox OR -den",
        "NEAR(fox den)", "'; DROP TABLE x; --", "\\", "*",        "fox:*",
        "x <-> y",       "col:value ^start",    "'",  "a''b\\'c", "&&&& ||| !!!",
    };

    id = mc_add_ok(env, "alpha & beta | !gamma :* omega", "", 0);
    assert_int_equal(mc_search(env, "alpha & beta | !gamma :*", "[", "]", 10, r), 0);
    assert_int_equal(r->n, 1);
    assert_true(r->ids[0] == id);
    assert_int_equal(mc_search(env, "!gamma", "[", "]", 10, r), 0);
    assert_int_equal(r->n, 1); /* "!" is not NOT */
    assert_int_equal(mc_search(env, "alpha | zeta", "[", "]", 10, r), 0);
    assert_int_equal(r->n, 0); /* "|" is not OR */
    for (size_t i = 0; i < sizeof nasty / sizeof *nasty; i++) {
        if (mc_search(env, nasty[i], "[", "]", 10, r) != 0)
            fail_msg("query %zu (%s) failed: %d", i, nasty[i], r->rc);
    }
    assert_int_equal(mc_count(env), 1); /* and nothing was dropped */
    mc_res_clear(r);
    free(r);
}

/* remove: gone from lists and searches; a second time CL_ENOTFOUND. */
static void mc_remove_note(void **state)
{
    struct mc_env *env = *state;
    struct mc_res *r = calloc(1, sizeof *r);
    int64_t keep = mc_add_ok(env, "keep this zebra", "", 0);
    int64_t gone = mc_add_ok(env, "remove this zebra", "", 0);

    assert_int_equal(mc_remove(env, gone), 0);
    assert_int_equal(mc_remove(env, gone), CL_ENOTFOUND);
    assert_int_equal(mc_remove(env, gone + 1000), CL_ENOTFOUND);
    assert_int_equal(mc_list(env, 0, 10, r), 0);
    assert_int_equal(r->n, 1);
    assert_true(r->ids[0] == keep);
    assert_int_equal(mc_search(env, "zebra", "[", "]", 10, r), 0);
    assert_int_equal(r->n, 1);
    assert_true(r->ids[0] == keep);
    mc_res_clear(r);
    free(r);
}

/* forget_thread: that thread's notes stay, without a source thread;
 * other threads' notes keep theirs. */
static void mc_forget_thread_keeps_notes(void **state)
{
    struct mc_env *env = *state;
    struct mc_res *r = calloc(1, sizeof *r);
    int64_t t1 = env->thread(env, 1), t3 = env->thread(env, 3);

    mc_add_ok(env, "from thread one, first", "", t1);
    mc_add_ok(env, "from thread three", "", t3);
    mc_add_ok(env, "from thread one, second", "", t1);
    if (env->delete_thread)
        env->delete_thread(env, t1);
    assert_int_equal(mc_forget(env, t1), 0);
    assert_int_equal(mc_list(env, 0, 10, r), 0);
    assert_int_equal(r->n, 3);
    assert_true(r->threads[0] == 0 && r->threads[1] == t3 && r->threads[2] == 0);
    assert_string_equal(r->texts[2], "from thread one, first");
    assert_int_equal(mc_search(env, "thread", "[", "]", 10, r), 0);
    assert_int_equal(r->n, 3);
    assert_int_equal(mc_forget(env, t1), 0); /* again: nothing to do */
    mc_res_clear(r);
    free(r);
}

/* Over a limit: CL_ELIMIT and nothing written; empty where required:
 * CL_EINVAL. At the limit: kept whole. */
static void mc_limits_refused(void **state)
{
    struct mc_env *env = *state;
    struct mc_res *r = calloc(1, sizeof *r);
    char *big = malloc(CL_CHAT_NOTE_MAX + 2), tags[CL_CHAT_TAGS_MAX + 2], q[CL_CHAT_QUERY_MAX + 2],
         mark[18];
    int64_t id;

    memset(big, 'n', CL_CHAT_NOTE_MAX + 1);
    big[CL_CHAT_NOTE_MAX + 1] = 0;
    memset(tags, 't', CL_CHAT_TAGS_MAX + 1);
    tags[CL_CHAT_TAGS_MAX + 1] = 0;
    memset(q, 'q', CL_CHAT_QUERY_MAX + 1);
    q[CL_CHAT_QUERY_MAX + 1] = 0;
    memset(mark, 'm', 17);
    mark[17] = 0;

    assert_int_equal(mc_add(env, big, "", 0, NULL), CL_ELIMIT);
    assert_int_equal(mc_add(env, "fine text", tags, 0, NULL), CL_ELIMIT);
    assert_int_equal(mc_add(env, "", "", 0, NULL), CL_EINVAL);
    assert_int_equal(mc_add(env, NULL, "", 0, NULL), CL_EINVAL);
    assert_int_equal(mc_count(env), 0);

    assert_int_equal(mc_search(env, q, "[", "]", 10, r), CL_ELIMIT);
    assert_int_equal(mc_search(env, " \t ", "[", "]", 10, r), CL_EINVAL);
    assert_int_equal(mc_search(env, "fine", mark, "]", 10, r), CL_EINVAL);
    assert_int_equal(mc_search(env, "fine", "[", mark, 10, r), CL_EINVAL);

    /* exactly at the limits: accepted, stored whole */
    big[CL_CHAT_NOTE_MAX] = 0;
    tags[CL_CHAT_TAGS_MAX] = 0;
    q[CL_CHAT_QUERY_MAX] = 0;
    id = mc_add_ok(env, big, tags, 0);
    assert_int_equal(mc_list(env, 0, 1, r), 0);
    assert_int_equal(r->n, 1);
    assert_true(r->ids[0] == id);
    assert_int_equal(strlen(r->texts[0]), CL_CHAT_NOTE_MAX);
    assert_int_equal(strlen(r->tags[0]), CL_CHAT_TAGS_MAX);
    assert_int_equal(mc_search(env, q, "[", "]", 10, r), 0);
    mark[16] = 0;
    assert_int_equal(mc_search(env, "nnn", mark, mark, 10, r), 0);
    free(big);
    mc_res_clear(r);
    free(r);
}

/* A callback may issue the next operation (a provider must not be in the
 * middle of something when it calls back). */
struct mc_chain {
    struct mc_env *env;
    struct mc_res list;
    bool added;
};

static void mc_chain_added(void *ctx, int rc, int64_t id)
{
    struct mc_chain *c = ctx;
    assert_int_equal(rc, 0);
    assert_true(id > 0);
    c->added = true;
    c->env->mem.ops->list(c->env->mem.self, 0, 10, mc_on_notes, &c->list);
}

static void mc_callback_may_call_again(void **state)
{
    struct mc_env *env = *state;
    struct mc_chain *c = calloc(1, sizeof *c);

    c->env = env;
    env->mem.ops->add(env->mem.self, "chained", "", 0, mc_chain_added, c);
    mc_wait(env, &c->list.done);
    assert_true(c->added);
    assert_int_equal(c->list.rc, 0);
    assert_int_equal(c->list.n, 1);
    assert_string_equal(c->list.texts[0], "chained");
    mc_res_clear(&c->list);
    free(c);
}

#define MC_CONTRACT_CASES(setup, teardown)                                                         \
    cmocka_unit_test_setup_teardown(mc_add_list_pages, setup, teardown),                           \
        cmocka_unit_test_setup_teardown(mc_search_ranks_and_marks, setup, teardown),               \
        cmocka_unit_test_setup_teardown(mc_search_typed_text_is_words, setup, teardown),           \
        cmocka_unit_test_setup_teardown(mc_remove_note, setup, teardown),                          \
        cmocka_unit_test_setup_teardown(mc_forget_thread_keeps_notes, setup, teardown),            \
        cmocka_unit_test_setup_teardown(mc_limits_refused, setup, teardown),                       \
        cmocka_unit_test_setup_teardown(mc_callback_may_call_again, setup, teardown)

#endif
