/*
 * Unit tests for src/agent/chat_store.c: the agent's chat store against a
 * real SQLite file under a fresh $XDG_DATA_HOME per test — migrations from
 * empty and on reopen, file and directory modes, refused directories,
 * idempotent import (streaming to final, never duplicated), paging,
 * FTS5 search (ranking, snippets, deletions), memory notes, cascades, and
 * the named limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "agent/chat_store.h"
#include "core/err.h"
#include "core/log.h"
#include "core/sqlite.h"

struct fx {
    char dir[64];
    char data[96];
    char path[160];
    struct cl_chat_store *cs;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256] = "";

    cl_log_set_level(CL_LOG_ERROR);
    snprintf(f->dir, sizeof f->dir, "/tmp/cl-chat-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    snprintf(f->path, sizeof f->path, "%s/clawlink/chat.db", f->data);
    setenv("XDG_DATA_HOME", f->data, 1);
    *state = f;
    (void)err;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[256];

    cl_chat_store_close(f->cs);
    snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s'; rm -rf '%s'", f->dir, f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct cl_chat_store *open_default(struct fx *f)
{
    char err[256] = "";
    int rc = cl_chat_store_open(NULL, &f->cs, err, sizeof err);
    if (rc)
        fail_msg("open: %d %s", rc, err);
    return f->cs;
}

/* Counts rows of a query on a separate read-only connection. */
static int64_t count(struct fx *f, const char *sql)
{
    sqlite3 *db;
    char err[128];
    int64_t v = -1;

    assert_int_equal(cl_sqlite_open_readonly(f->path, 1000, &db, err, sizeof err), 0);
    assert_int_equal(cl_sqlite_scalar(db, sql, 0, &v), 0);
    sqlite3_close(db);
    return v;
}

static int64_t thread(struct cl_chat_store *cs, int64_t ws, const char *key)
{
    int64_t id = 0;
    assert_int_equal(cl_chat_thread_upsert(cs, ws, key, NULL, &id), 0);
    assert_true(id > 0);
    return id;
}

static int64_t msg(struct cl_chat_store *cs, int64_t th, const char *gid, const char *text,
                   enum cl_chat_state state)
{
    struct cl_chat_message_in m = {
        .gateway_id = gid, .role = "assistant", .content_md = text, .state = state};
    int64_t id = 0;
    assert_int_equal(cl_chat_message_upsert(cs, th, &m, &id), 0);
    return id;
}

/* ---- collectors ---- */

struct rows {
    int n;
    int64_t id[64];
    char text[64][128];
    int64_t at[64];
};

static int on_message(const struct cl_chat_message *m, void *arg)
{
    struct rows *r = arg;
    r->id[r->n] = m->id;
    snprintf(r->text[r->n], sizeof r->text[0], "%s|%s", cl_chat_state_name(m->state),
             m->content_md);
    r->n++;
    return 0;
}

static int on_thread(const struct cl_chat_thread *t, void *arg)
{
    struct rows *r = arg;
    r->id[r->n] = t->id;
    r->at[r->n] = t->last_message_at;
    snprintf(r->text[r->n], sizeof r->text[0], "%s|%s|%d", t->session_key, t->title,
             t->title_set_by_user);
    r->n++;
    return 0;
}

static int on_hit(const struct cl_chat_hit *h, void *arg)
{
    struct rows *r = arg;
    r->id[r->n] = h->id;
    snprintf(r->text[r->n], sizeof r->text[0], "%s", h->snippet);
    r->n++;
    return 0;
}

static int on_note(const struct cl_chat_note *n, void *arg)
{
    struct rows *r = arg;
    r->id[r->n] = n->id;
    snprintf(r->text[r->n], sizeof r->text[0], "%s|%s|%lld", n->text, n->tags,
             (long long)n->source_thread_id);
    r->n++;
    return 0;
}

static int on_workspace(const struct cl_chat_workspace *w, void *arg)
{
    struct rows *r = arg;
    r->id[r->n] = w->id;
    snprintf(r->text[r->n], sizeof r->text[0], "%s|%s|%s", w->name, w->default_agent, w->folder);
    r->n++;
    return 0;
}

/* ---- tests ---- */

static void test_open_migrates_modes_and_fts5(void **state)
{
    struct fx *f = *state;
    char dir[160];
    struct stat sb;
    mode_t old = umask(0);

    open_default(f);
    umask(old);
    assert_int_equal(cl_chat_store_version(f->cs), cl_chat_migration_count);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    snprintf(dir, sizeof dir, "%s/clawlink", f->data);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0700);
    assert_int_equal(stat(f->data, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0700);
    /* Debian's libsqlite3 has FTS5 compiled in; the schema depends on it. */
    assert_true(sqlite3_compileoption_used("ENABLE_FTS5"));
    assert_int_equal(count(f, "SELECT count(*) FROM sqlite_master WHERE name IN ('workspaces',"
                              "'threads','messages','attachments','memory','messages_fts',"
                              "'memory_fts')"),
                     7);
    assert_int_equal(count(f, "PRAGMA journal_mode") == -1, 0);

    /* Reopening applies nothing again and keeps the data. */
    int64_t th = thread(f->cs, 0, "agent:main:main");
    msg(f->cs, th, "m1", "hello", CL_CHAT_FINAL);
    cl_chat_store_close(f->cs);
    f->cs = NULL;
    open_default(f);
    assert_int_equal(cl_chat_store_version(f->cs), cl_chat_migration_count);
    assert_int_equal(count(f, "SELECT count(*) FROM messages"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'hello'"),
                     1);
}

static void test_default_path(void **state)
{
    struct fx *f = *state;
    char p[256], err[128];

    assert_int_equal(cl_chat_store_default_path(p, sizeof p, err, sizeof err), 0);
    assert_string_equal(p, f->path);
    setenv("XDG_DATA_HOME", "relative/dir", 1); /* ignored, as XDG says */
    setenv("HOME", "/home/someone", 1);
    assert_int_equal(cl_chat_store_default_path(p, sizeof p, err, sizeof err), 0);
    assert_string_equal(p, "/home/someone/.local/share/clawlink/chat.db");
    assert_int_equal(cl_chat_store_default_path(p, 10, err, sizeof err), CL_ELIMIT);
}

static void test_refuses_unsafe_places(void **state)
{
    struct fx *f = *state;
    char dir[160], other[160], err[256] = "";
    struct cl_chat_store *cs = NULL;

    /* A group-writable clawlink directory. */
    snprintf(dir, sizeof dir, "%s/clawlink", f->data);
    assert_int_equal(mkdir(f->data, 0700), 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 0770), 0);
    assert_int_equal(cl_chat_store_open(NULL, &cs, err, sizeof err), CL_EFORBIDDEN);
    assert_null(cs);
    assert_non_null(strstr(err, "can be written by other users"));
    assert_int_equal(access(f->path, F_OK), -1); /* nothing created */

    /* A symbolic link in place of the directory, even to a safe one. */
    assert_int_equal(rmdir(dir), 0);
    snprintf(other, sizeof other, "%s/elsewhere", f->dir);
    assert_int_equal(mkdir(other, 0700), 0);
    assert_int_equal(symlink(other, dir), 0);
    assert_int_equal(cl_chat_store_open(NULL, &cs, err, sizeof err), CL_EFORBIDDEN);
    assert_non_null(strstr(err, "symbolic link"));

    /* A database file others can read. */
    assert_int_equal(unlink(dir), 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(chmod(f->path, 0644), 0);
    assert_int_equal(cl_chat_store_open(NULL, &cs, err, sizeof err), CL_EFORBIDDEN);
    assert_non_null(strstr(err, "chmod 600"));
}

static void test_idempotent_import(void **state)
{
    struct fx *f = *state;
    struct cl_chat_store *cs = open_default(f);
    struct rows r = {0};
    int64_t th = thread(cs, 0, "agent:main:main"), a, b;

    /* The same session key is the same thread. */
    assert_int_equal(thread(cs, 0, "agent:main:main"), th);

    struct cl_chat_message_in u = {.gateway_id = "u1",
                                   .role = "user",
                                   .content_md = "What is *WAL*?",
                                   .state = CL_CHAT_FINAL,
                                   .sender_user_id = "user-42"};
    assert_int_equal(cl_chat_message_upsert(cs, th, &u, &a), 0);
    assert_int_equal(cl_chat_message_upsert(cs, th, &u, &b), 0);
    assert_int_equal(a, b);

    /* A live reply, first under the run id, then streaming deltas, then the
     * transcript's final message with its own id: one row. */
    struct cl_chat_message_in s = {
        .gateway_id = "run:r1", .role = "assistant", .run_id = "r1", .state = CL_CHAT_STREAMING};
    assert_int_equal(cl_chat_message_upsert(cs, th, &s, &a), 0);
    assert_int_equal(cl_chat_message_append(cs, th, "run:r1", "Write-ahead "), 0);
    assert_int_equal(cl_chat_message_append(cs, th, "run:r1", "logging"), 0);
    /* Streaming text is not searchable yet. */
    assert_int_equal(
        count(f, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'logging'"), 0);
    struct cl_chat_message_in fin = {.gateway_id = "m2",
                                     .role = "assistant",
                                     .run_id = "r1",
                                     .content_md = "Write-ahead logging.",
                                     .state = CL_CHAT_FINAL,
                                     .usage = "{\"input\":3,\"output\":4}"};
    assert_int_equal(cl_chat_message_upsert(cs, th, &fin, &b), 0);
    assert_int_equal(a, b);
    assert_int_equal(cl_chat_message_upsert(cs, th, &fin, &b), 0);
    assert_int_equal(a, b);
    /* A late replay of the stream does not undo the final state. */
    s.gateway_id = "m2";
    s.content_md = "Write";
    assert_int_equal(cl_chat_message_upsert(cs, th, &s, &b), 0);
    assert_int_equal(cl_chat_message_append(cs, th, "m2", "more"), CL_ESTATE);
    assert_int_equal(cl_chat_message_append(cs, th, "nope", "more"), CL_ENOTFOUND);

    assert_int_equal(cl_chat_message_list(cs, th, 0, 50, on_message, &r), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.text[0], "final|What is *WAL*?");
    assert_string_equal(r.text[1], "final|Write-ahead logging.");
    assert_int_equal(count(f, "SELECT count(*) FROM messages"), 2);
    assert_int_equal(count(f, "SELECT count(*) FROM messages WHERE usage->>'output' = 4"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM messages WHERE sender_user_id = 'user-42'"), 1);
    assert_int_equal(
        count(f, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'logging'"), 1);
    /* The index holds exactly the settled rows (FTS5's own check). */
    assert_int_equal(count(f, "SELECT count(*) FROM messages_fts_docsize"), 2);

    /* Malformed JSON and unknown threads. */
    fin.gateway_id = "m3";
    fin.tool_calls = "{not json";
    assert_int_equal(cl_chat_message_upsert(cs, th, &fin, NULL), CL_EINVAL);
    fin.tool_calls = NULL;
    assert_int_equal(cl_chat_message_upsert(cs, th + 100, &fin, NULL), CL_ENOTFOUND);
    fin.state = (enum cl_chat_state)9;
    assert_int_equal(cl_chat_message_upsert(cs, th, &fin, NULL), CL_EINVAL);
}

static void test_titles(void **state)
{
    struct fx *f = *state;
    struct cl_chat_store *cs = open_default(f);
    struct rows r = {0};
    int64_t th = 0, ws = 0;

    assert_int_equal(cl_chat_thread_upsert(cs, 0, "k", "From gateway", &th), 0);
    assert_int_equal(cl_chat_thread_upsert(cs, 0, "k", "Newer", &th), 0);
    assert_int_equal(cl_chat_thread_get(cs, th, on_thread, &r), 0);
    assert_string_equal(r.text[0], "k|Newer|0");
    assert_int_equal(cl_chat_thread_rename(cs, th, "Mine"), 0);
    assert_int_equal(cl_chat_thread_upsert(cs, 0, "k", "Gateway again", &th), 0);
    r.n = 0;
    assert_int_equal(cl_chat_thread_get(cs, th, on_thread, &r), 0);
    assert_string_equal(r.text[0], "k|Mine|1");
    assert_int_equal(cl_chat_thread_get(cs, th + 1, on_thread, &r), CL_ENOTFOUND);
    assert_int_equal(cl_chat_thread_rename(cs, th + 1, "x"), CL_ENOTFOUND);
    assert_int_equal(cl_chat_thread_upsert(cs, 77, "new", NULL, &th), CL_ENOTFOUND);

    assert_int_equal(cl_chat_workspace_create(cs, "Work", "main", "/home/me/src", &ws), 0);
    assert_int_equal(cl_chat_workspace_create(cs, "Alpha", NULL, "", NULL), 0);
    assert_int_equal(cl_chat_workspace_rename(cs, ws, "Zeta"), 0);
    r.n = 0;
    assert_int_equal(cl_chat_workspace_list(cs, on_workspace, &r), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.text[0], "Alpha||");
    assert_string_equal(r.text[1], "Zeta|main|/home/me/src");
}

static void test_paging(void **state)
{
    struct fx *f = *state;
    struct cl_chat_store *cs = open_default(f);
    struct rows r = {0};
    int64_t ws = 0, th[5];
    char key[16], gid[16];

    assert_int_equal(cl_chat_workspace_create(cs, "W", NULL, NULL, &ws), 0);
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "s%d", i);
        th[i] = thread(cs, ws, key);
        struct cl_chat_message_in m = {.gateway_id = "g",
                                       .role = "user",
                                       .content_md = key,
                                       .state = CL_CHAT_FINAL,
                                       .created_at =
                                           1000 + (i * 7) % 5}; /* 1000,1002,1004,1001,1003 */
        assert_int_equal(cl_chat_message_upsert(cs, th[i], &m, NULL), 0);
    }
    thread(cs, 0, "elsewhere");
    struct cl_chat_cursor c = {0, 0};
    assert_int_equal(cl_chat_thread_list(cs, ws, &c, 2, on_thread, &r), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.id[0], th[2]);
    assert_int_equal(r.id[1], th[4]);
    c.at = r.at[1];
    c.id = r.id[1];
    assert_int_equal(cl_chat_thread_list(cs, ws, &c, 2, on_thread, &r), 0);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.id[2], th[1]);
    assert_int_equal(r.id[3], th[3]);
    c.at = r.at[3];
    c.id = r.id[3];
    assert_int_equal(cl_chat_thread_list(cs, ws, &c, 2, on_thread, &r), 0);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.id[4], th[0]);

    /* Messages by seq, in pages; the gateway's seq orders them. */
    for (int i = 0; i < 7; i++) {
        snprintf(gid, sizeof gid, "x%d", i);
        struct cl_chat_message_in m = {.gateway_id = gid,
                                       .role = "user",
                                       .content_md = gid,
                                       .state = CL_CHAT_FINAL,
                                       .seq = 10 - i};
        assert_int_equal(cl_chat_message_upsert(cs, th[0], &m, NULL), 0);
    }
    memset(&r, 0, sizeof r);
    int64_t after = 0;
    for (int page = 0; page < 3; page++) {
        int before = r.n;
        assert_int_equal(cl_chat_message_list(cs, th[0], after, 3, on_message, &r), 0);
        assert_true(r.n > before);
        after = r.id[r.n - 1];
    }
    assert_int_equal(r.n, 8);
    assert_string_equal(r.text[0], "final|s0"); /* seq 1 */
    assert_string_equal(r.text[1], "final|x6"); /* seq 4 */
    assert_string_equal(r.text[7], "final|x0"); /* seq 10 */
    assert_int_equal(cl_chat_message_list(cs, th[0], after, 3, on_message, &r), 0);
    assert_int_equal(r.n, 8);
}

static void test_search(void **state)
{
    struct fx *f = *state;
    struct cl_chat_store *cs = open_default(f);
    struct rows r = {0};
    int64_t th = thread(cs, 0, "k");

    int64_t weak =
        msg(cs, th, "a", "The cat sat on a long, long mat with many other words around it.",
            CL_CHAT_FINAL);
    int64_t strong = msg(cs, th, "b", "Cat cat cat!", CL_CHAT_FINAL);
    msg(cs, th, "c", "Nothing to see here", CL_CHAT_FINAL);
    msg(cs, th, "d", "a cat still streaming", CL_CHAT_STREAMING);

    assert_int_equal(cl_chat_message_search(cs, "cat", "[", "]", 10, on_hit, &r), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.id[0], strong);
    assert_int_equal(r.id[1], weak);
    assert_string_equal(r.text[0], "[Cat] [cat] [cat]!");
    assert_non_null(strstr(r.text[1], "The [cat] sat"));

    /* Prefix on the last word, FTS5 syntax characters are plain text. */
    memset(&r, 0, sizeof r);
    assert_int_equal(cl_chat_message_search(cs, "noth", "<b>", "</b>", 10, on_hit, &r), 0);
    assert_int_equal(r.n, 1);
    memset(&r, 0, sizeof r);
    assert_int_equal(cl_chat_message_search(cs, "cat AND NOT\" ( * :", "[", "]", 10, on_hit, &r),
                     0);
    assert_int_equal(r.n, 0);
    assert_int_equal(cl_chat_message_search(cs, "   ", "[", "]", 10, on_hit, &r), CL_EINVAL);

    /* Bounded. */
    memset(&r, 0, sizeof r);
    assert_int_equal(cl_chat_message_search(cs, "cat", "[", "]", 1, on_hit, &r), 0);
    assert_int_equal(r.n, 1);

    /* A deleted message leaves the index. */
    assert_int_equal(cl_chat_message_delete(cs, strong), 0);
    assert_int_equal(cl_chat_message_delete(cs, strong), CL_ENOTFOUND);
    memset(&r, 0, sizeof r);
    assert_int_equal(cl_chat_message_search(cs, "cat", "[", "]", 10, on_hit, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.id[0], weak);
    assert_int_equal(count(f, "SELECT count(*) FROM messages_fts_docsize"), 2);
}

static void test_fts_query(void **state)
{
    char out[3 * CL_CHAT_QUERY_MAX + 2], big[CL_CHAT_QUERY_MAX + 2];
    (void)state;

    assert_int_equal(cl_chat_fts_query("  hello  wor\"ld ", out, sizeof out), 0);
    assert_string_equal(out, "\"hello\" \"wor\"\"ld\"*");
    assert_int_equal(cl_chat_fts_query("", out, sizeof out), CL_EINVAL);
    assert_int_equal(cl_chat_fts_query("abc", out, 5), CL_ELIMIT);
    assert_int_equal(cl_chat_fts_query("abc", out, 7), 0);
    memset(big, '"', sizeof big - 2);
    big[sizeof big - 2] = 0;
    assert_int_equal(cl_chat_fts_query(big, out, sizeof out), 0);
    big[sizeof big - 2] = 'x';
    big[sizeof big - 1] = 0;
    assert_int_equal(cl_chat_fts_query(big, out, sizeof out), CL_ELIMIT);
    for (size_t i = 0; i < sizeof big - 2; i++)
        big[i] = i % 2 ? ' ' : '"';
    big[sizeof big - 2] = 0;
    assert_int_equal(cl_chat_fts_query(big, out, sizeof out), 0);
}

static void test_memory(void **state)
{
    struct fx *f = *state;
    struct cl_chat_store *cs = open_default(f);
    struct rows r = {0};
    int64_t th = thread(cs, 0, "k"), a, b, c;

    assert_int_equal(
        cl_chat_memory_add(cs, "The deploy key lives in the vault", "ops secrets", th, &a), 0);
    assert_int_equal(cl_chat_memory_add(cs, "Prefers tabs over spaces", "style", 0, &b), 0);
    assert_int_equal(cl_chat_memory_add(cs, "Coffee at nine", NULL, 0, &c), 0);
    assert_int_equal(cl_chat_memory_add(cs, "x", NULL, th + 9, NULL), CL_ENOTFOUND);

    assert_int_equal(cl_chat_memory_search(cs, "vault", "[", "]", 10, on_hit, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.id[0], a);
    assert_non_null(strstr(r.text[0], "[vault]"));
    memset(&r, 0, sizeof r);
    assert_int_equal(cl_chat_memory_search(cs, "style", "[", "]", 10, on_hit, &r), 0); /* tags */
    assert_int_equal(r.n, 1);
    assert_int_equal(r.id[0], b);

    memset(&r, 0, sizeof r);
    assert_int_equal(cl_chat_memory_list(cs, 0, 2, on_note, &r), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.id[0], c);
    assert_int_equal(r.id[1], b);
    assert_int_equal(cl_chat_memory_list(cs, r.id[1], 2, on_note, &r), 0);
    assert_int_equal(r.n, 3);
    char want[128];
    snprintf(want, sizeof want, "The deploy key lives in the vault|ops secrets|%lld",
             (long long)th);
    assert_string_equal(r.text[2], want);

    /* A note outlives its thread; a deleted note leaves the index. */
    assert_int_equal(cl_chat_thread_delete(cs, th), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(cl_chat_memory_search(cs, "vault", "[", "]", 10, on_hit, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(count(f, "SELECT count(*) FROM memory WHERE source_thread_id IS NULL"), 3);
    assert_int_equal(cl_chat_memory_delete(cs, a), 0);
    assert_int_equal(cl_chat_memory_delete(cs, a), CL_ENOTFOUND);
    memset(&r, 0, sizeof r);
    assert_int_equal(cl_chat_memory_search(cs, "vault", "[", "]", 10, on_hit, &r), 0);
    assert_int_equal(r.n, 0);
}

struct att_seen {
    int n;
    char names[64];
    int64_t size_sum, first_id;
    uint8_t sha[32];
};

static int att_seen_one(const struct cl_chat_attachment *a, void *arg)
{
    struct att_seen *s = arg;
    if (s->n++ == 0)
        s->first_id = a->id;
    strncat(s->names, a->name, sizeof s->names - strlen(s->names) - 2);
    strcat(s->names, ",");
    s->size_sum += a->size;
    memcpy(s->sha, a->sha256, 32);
    return 0;
}

static void test_cascades(void **state)
{
    struct fx *f = *state;
    struct cl_chat_store *cs = open_default(f);
    uint8_t sha[32] = {1};
    int64_t ws = 0, keep_ws = 0, n = -1, att = 0;

    assert_int_equal(cl_chat_workspace_create(cs, "Doomed", NULL, NULL, &ws), 0);
    assert_int_equal(cl_chat_workspace_create(cs, "Kept", NULL, NULL, &keep_ws), 0);
    int64_t t1 = thread(cs, ws, "d1"), t2 = thread(cs, ws, "d2"), t3 = thread(cs, keep_ws, "k1");
    int64_t m1 = msg(cs, t1, "a", "zebra one", CL_CHAT_FINAL);
    msg(cs, t2, "b", "zebra two", CL_CHAT_ERROR);
    msg(cs, t2, "c", "zebra streaming", CL_CHAT_STREAMING);
    int64_t m3 = msg(cs, t3, "c", "zebra kept", CL_CHAT_ABORTED);
    assert_int_equal(cl_chat_attachment_add(cs, m1, "a.png", "image/png", 10, sha, &att), 0);
    assert_int_equal(cl_chat_attachment_add(cs, m3, "b.txt", "text/plain", 3, sha, NULL), 0);
    assert_int_equal(cl_chat_attachment_add(cs, m3 + 99, "c", "text/plain", 3, sha, NULL),
                     CL_ENOTFOUND);
    assert_int_equal(cl_chat_attachment_count(cs, m1, &n), 0);
    assert_int_equal(n, 1);
    {
        /* listed in the order added, with their fields */
        struct att_seen seen = {0};
        assert_int_equal(cl_chat_attachment_add(cs, m1, "b.pdf", "application/pdf", 7, sha, NULL),
                         0);
        assert_int_equal(cl_chat_attachment_list(cs, m1, att_seen_one, &seen), 0);
        assert_int_equal(seen.n, 2);
        assert_string_equal(seen.names, "a.png,b.pdf,");
        assert_int_equal(seen.size_sum, 17);
        assert_memory_equal(seen.sha, sha, 32);
        assert_int_equal(seen.first_id, att);
    }
    assert_int_equal(cl_chat_memory_add(cs, "from d1", NULL, t1, NULL), 0);

    assert_int_equal(cl_chat_workspace_delete(cs, ws), 0);
    assert_int_equal(cl_chat_workspace_delete(cs, ws), CL_ENOTFOUND);
    assert_int_equal(count(f, "SELECT count(*) FROM threads"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM messages"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM attachments"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM memory WHERE source_thread_id IS NULL"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'zebra'"),
                     1);
    assert_int_equal(count(f, "SELECT count(*) FROM messages_fts_docsize"), 1);
    /* FTS5's integrity check against the content table. */
    sqlite3 *db;
    char err[128];
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO messages_fts(messages_fts, rank) "
                                  "VALUES ('integrity-check', 1);"
                                  "INSERT INTO memory_fts(memory_fts, rank) "
                                  "VALUES ('integrity-check', 1);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    (void)err;

    assert_int_equal(cl_chat_thread_delete(cs, t3), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM messages"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM attachments"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM messages_fts_docsize"), 0);
}

/* big as n bytes of 'a'. */
static void fill(char *big, size_t n)
{
    memset(big, 'a', n);
    big[n] = 0;
}

/* Migration 2: the bridge's per-thread sync state, memory flag, moves,
 * workspace updates, provisional ids rekeyed, paging backwards. */
static int on_ws_name(const struct cl_chat_workspace *w, void *arg)
{
    snprintf(arg, 128, "%s|%s|%s", w->name, w->default_agent, w->folder);
    return 0;
}

static int on_memflag(const struct cl_chat_thread *t, void *arg)
{
    *(int *)arg = t->memory_on ? 1 : 0;
    return 0;
}

static void test_bridge_state(void **state)
{
    struct fx *f = *state;
    struct cl_chat_store *cs = open_default(f);
    struct cl_chat_sync sy = {.seq_base = 7}, got;
    int64_t th = thread(cs, 0, "agent:main:a"), ws, found = 0, a, b, c, seq = 0;
    struct rows r = {0};
    char big[CL_CHAT_CURSOR_MAX + 2], name[128];
    int mem = -1;

    assert_int_equal(cl_chat_store_version(cs), cl_chat_migration_count);
    assert_int_equal(cl_chat_thread_find(cs, "agent:main:a", &found), 0);
    assert_int_equal(found, th);
    assert_int_equal(cl_chat_thread_find(cs, "nope", &found), CL_ENOTFOUND);

    /* sync state: empty, set, read back; a cursor over its limit is refused */
    assert_int_equal(cl_chat_thread_sync_get(cs, th, &got), 0);
    assert_string_equal(got.session_id, "");
    snprintf(sy.session_id, sizeof sy.session_id, "sess-1");
    snprintf(sy.cursor, sizeof sy.cursor, "eyJjdXJzb3IiOjF9");
    assert_int_equal(cl_chat_thread_sync_set(cs, th, &sy), 0);
    assert_int_equal(cl_chat_thread_sync_get(cs, th, &got), 0);
    assert_string_equal(got.session_id, "sess-1");
    assert_string_equal(got.cursor, "eyJjdXJzb3IiOjF9");
    assert_int_equal(got.seq_base, 7);
    assert_int_equal(cl_chat_thread_sync_get(cs, th + 9, &got), CL_ENOTFOUND);
    (void)big;

    /* memory flag */
    assert_int_equal(cl_chat_thread_set_memory(cs, th, true), 0);
    assert_int_equal(cl_chat_thread_get(cs, th, on_memflag, &mem), 0);
    assert_int_equal(mem, 1);
    assert_int_equal(cl_chat_thread_set_memory(cs, th + 9, true), CL_ENOTFOUND);

    /* moves and workspace updates */
    assert_int_equal(cl_chat_workspace_create(cs, "W", "main", "/tmp", &ws), 0);
    assert_int_equal(cl_chat_thread_move(cs, th, ws), 0);
    assert_int_equal(cl_chat_thread_list(cs, ws, NULL, 10, on_thread, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(cl_chat_thread_move(cs, th, ws + 5), CL_ENOTFOUND);
    assert_int_equal(cl_chat_thread_move(cs, th + 9, 0), CL_ENOTFOUND);
    assert_int_equal(cl_chat_workspace_update(cs, ws, NULL, "", NULL), 0);
    assert_int_equal(cl_chat_workspace_get(cs, ws, on_ws_name, name), 0);
    assert_string_equal(name, "W||/tmp");
    assert_int_equal(cl_chat_workspace_update(cs, ws, "V", "ops", ""), 0);
    assert_int_equal(cl_chat_workspace_get(cs, ws, on_ws_name, name), 0);
    assert_string_equal(name, "V|ops|");
    assert_int_equal(cl_chat_workspace_update(cs, ws + 5, "V", NULL, NULL), CL_ENOTFOUND);
    assert_int_equal(cl_chat_workspace_update(cs, ws, "", NULL, NULL), CL_EINVAL);

    /* a provisional id takes the gateway's; one that exists already stays */
    a = msg(cs, th, "run:r1:user", "hi", CL_CHAT_FINAL);
    assert_int_equal(cl_chat_message_rekey(cs, th, "run:r1:user", "uuid-1"), 0);
    assert_int_equal(cl_chat_message_upsert(cs, th,
                                            &(struct cl_chat_message_in){.gateway_id = "uuid-1",
                                                                         .role = "assistant",
                                                                         .content_md = "hi",
                                                                         .state = CL_CHAT_FINAL},
                                            &b),
                     0);
    assert_int_equal(a, b);
    assert_int_equal(cl_chat_message_rekey(cs, th, "run:zz", "uuid-2"), CL_ENOTFOUND);
    b = msg(cs, th, "x", "two", CL_CHAT_FINAL);
    c = msg(cs, th, "y", "three", CL_CHAT_STREAMING);
    assert_int_equal(cl_chat_message_rekey(cs, th, "y", "x"), CL_ENOTFOUND);

    /* by run */
    struct cl_chat_message_in rm = {.gateway_id = "run:r2",
                                    .role = "assistant",
                                    .content_md = "so far",
                                    .run_id = "r2",
                                    .state = CL_CHAT_STREAMING};
    assert_int_equal(cl_chat_message_upsert(cs, th, &rm, NULL), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(cl_chat_message_by_run(cs, th, "r2", "assistant", on_message, &r), 0);
    assert_string_equal(r.text[0], "streaming|so far");
    assert_int_equal(cl_chat_message_by_run(cs, th, "r2", "user", on_message, &r), CL_ENOTFOUND);

    /* backwards: newest first, before an id */
    memset(&r, 0, sizeof r);
    assert_int_equal(cl_chat_message_list_before(cs, th, 0, 2, on_message, &r), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.text[0], "streaming|so far");
    assert_int_equal(r.id[1], c);
    memset(&r, 0, sizeof r);
    assert_int_equal(cl_chat_message_list_before(cs, th, c, 10, on_message, &r), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.id[0], b);
    assert_int_equal(r.id[1], a);
    assert_int_equal(cl_chat_message_max_seq(cs, th, &seq), 0);
    assert_int_equal(seq, 4);
    memset(&r, 0, sizeof r);
    assert_int_equal(cl_chat_message_get(cs, b, on_message, &r), 0);
    assert_string_equal(r.text[0], "final|two");
    assert_int_equal(cl_chat_message_get(cs, 999, on_message, &r), CL_ENOTFOUND);
}

static void test_limits(void **state)
{
    struct fx *f = *state;
    struct cl_chat_store *cs = open_default(f);
    size_t big_n = CL_CHAT_MESSAGE_MAX + 1;
    char *big = malloc(big_n + 1);
    int64_t th = thread(cs, 0, "k");

    memset(big, 'a', big_n);
    big[big_n] = 0;

    /* Message text: at the limit is fine, one byte more is CL_ELIMIT. */
    big[CL_CHAT_MESSAGE_MAX] = 0;
    struct cl_chat_message_in m = {
        .gateway_id = "g", .role = "assistant", .content_md = big, .state = CL_CHAT_STREAMING};
    assert_int_equal(cl_chat_message_upsert(cs, th, &m, NULL), 0);
    assert_int_equal(cl_chat_message_append(cs, th, "g", "b"), CL_ELIMIT);
    big[CL_CHAT_MESSAGE_MAX] = 'a';
    m.gateway_id = "h";
    assert_int_equal(cl_chat_message_upsert(cs, th, &m, NULL), CL_ELIMIT);
    assert_int_equal(count(f, "SELECT count(*) FROM messages"), 1);
    assert_int_equal(count(f, "SELECT max(length(content_md)) FROM messages"), CL_CHAT_MESSAGE_MAX);

    fill(big, CL_CHAT_TITLE_MAX + 1);
    assert_int_equal(cl_chat_thread_rename(cs, th, big), CL_ELIMIT);
    assert_int_equal(cl_chat_thread_upsert(cs, 0, "k2", big, NULL), CL_ELIMIT);
    fill(big, CL_CHAT_TITLE_MAX);
    assert_int_equal(cl_chat_thread_rename(cs, th, big), 0);
    fill(big, CL_CHAT_KEY_MAX + 1);
    assert_int_equal(cl_chat_thread_upsert(cs, 0, big, NULL, NULL), CL_ELIMIT);
    assert_int_equal(cl_chat_thread_upsert(cs, 0, "", NULL, NULL), CL_EINVAL);
    assert_int_equal(cl_chat_thread_rename(cs, th, ""), CL_EINVAL);

    fill(big, CL_CHAT_TAGS_MAX + 1);
    assert_int_equal(cl_chat_memory_add(cs, "note", big, 0, NULL), CL_ELIMIT);
    fill(big, CL_CHAT_NOTE_MAX + 1);
    assert_int_equal(cl_chat_memory_add(cs, big, NULL, 0, NULL), CL_ELIMIT);
    assert_int_equal(cl_chat_memory_add(cs, "", NULL, 0, NULL), CL_EINVAL);
    fill(big, CL_NAME_MAX + 1);
    assert_int_equal(cl_chat_workspace_create(cs, big, NULL, NULL, NULL), CL_ELIMIT);
    assert_int_equal(cl_chat_workspace_create(cs, "", NULL, NULL, NULL), CL_EINVAL);
    fill(big, CL_CHAT_QUERY_MAX + 1);
    assert_int_equal(cl_chat_message_search(cs, big, "[", "]", 5, on_hit, NULL), CL_ELIMIT);
    fill(big, CL_CHAT_JSON_MAX + 1);
    m.gateway_id = "j";
    m.content_md = "x";
    m.tool_calls = big;
    assert_int_equal(cl_chat_message_upsert(cs, th, &m, NULL), CL_ELIMIT);
    assert_int_equal(count(f, "SELECT count(*) FROM memory"), 0);
    free(big);

    /* A page is at most CL_CHAT_PAGE_MAX rows whatever the caller asks. */
    assert_int_equal(cl_chat_memory_add(cs, "one", NULL, 0, NULL), 0);
    struct rows r = {0};
    assert_int_equal(cl_chat_memory_list(cs, 0, 100000, on_note, &r), 0);
    assert_int_equal(r.n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_migrates_modes_and_fts5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_unsafe_places, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotent_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_titles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search, setup, teardown),
        cmocka_unit_test(test_fts_query),
        cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bridge_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
