/*
 * The store's contract (src/relay/store.h): what every backend must do, as
 * the relay's callers rely on it, exercised through the ops table of a
 * store opened as the relay opens one (cl_store_open: the input checks of
 * store_check.c in front of the backend).
 *
 * Each backend is a factory below that opens a fresh, empty store in a
 * new temporary directory and cleans up after; every test runs once per
 * factory: SQLite, bare and with the relay's timing wrapper on top (the
 * stack main.c builds), and PostgreSQL (store_pg.c): a fresh database per
 * test on a server this binary starts once (pg_server.h; the test FAILS
 * without PostgreSQL's binaries: scripts/install-deps installs them).
 * Backend-specific matters (files, migrations, modes, reconnecting) stay
 * in that backend's own tests (test_store.c for SQLite, test_store_pg.c).
 *
 * Covered: not-found codes, uniqueness conflicts (CL_EEXIST), input
 * refusals, ordering (newest/oldest first, the session history's keyset
 * cursor), limits, one-time codes and their expiry, and the cascades with
 * what they report (struct cl_store_cascade).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libpq-fe.h>

#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/metrics.h"
#include "relay/store.h"
#include "relay/store_metrics.h"
#include "pg_server.h"
#include "store_fixtures.h"

/* ---- backends ------------------------------------------------------------ */

struct factory {
    const char *name;
    /* opens a fresh, empty store in dir (an empty directory of its own) */
    int (*open)(struct cl_store *s, const char *dir, char *err, size_t errlen);
};

static int open_sqlite(struct cl_store *s, const char *dir, char *err, size_t errlen)
{
    char url[128];
    snprintf(url, sizeof url, "sqlite:%s", dir);
    return cl_store_open(s, url, err, errlen);
}

/* as the relay runs it: with store_metrics.c's timing on top (main.c) */
static int open_sqlite_timed(struct cl_store *s, const char *dir, char *err, size_t errlen)
{
    int rc = open_sqlite(s, dir, err, errlen);
    if (rc == 0)
        cl_store_metrics_wrap(s);
    return rc;
}

/* a new database on the test server, started by the first test that
 * needs it (the SQLite factories run without it) */
static int open_postgres(struct cl_store *s, const char *dir, char *err, size_t errlen)
{
    static int seq;
    char url[sizeof srv.dir + 128], sql[64];
    PGconn *c;
    PGresult *r;

    (void)dir;
    if (!srv.running && pg_server_start("test_store_contract") != 0)
        fail_msg("postgres: the test server did not start (see above)");
    c = PQconnectdb(srv.url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("postgres: cannot connect to the test server: %s", PQerrorMessage(c));
    snprintf(sql, sizeof sql, "CREATE DATABASE contract_%d", ++seq);
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("postgres: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    snprintf(url, sizeof url, "postgresql:///contract_%d?host=%s&port=%d&user=postgres", seq,
             srv.dir, srv.port);
    return cl_store_open(s, url, err, errlen);
}

static const struct factory factories[] = {
    {"sqlite", open_sqlite},
    {"sqlite+metrics", open_sqlite_timed},
    {"postgres", open_postgres},
};
static const struct factory *backend; /* the one under test */

struct fx {
    char dir[64];
    struct cl_store s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256] = "";
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cl-contract-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    if (backend->open(&f->s, f->dir, err, sizeof err) != 0)
        fail_msg("%s: open failed: %s", backend->name, err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    f->s.ops->close(&f->s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ---- helpers --------------------------------------------------------------- */

#define OPS (f->s.ops)
#define S   (&f->s)

static void hash_of(const char *s, uint8_t h[CL_HASH_LEN])
{
    cl_hash_str(s, h);
}

/* Collects ids (and a few fields) from list callbacks, in call order. */
struct seen {
    struct cl_id_list ids;
    int roles[16];
    bool current[16];
};

static void seen_project(const struct cl_project *p, void *ctx)
{
    struct seen *x = ctx;
    if (x->ids.n < 16)
        x->roles[x->ids.n] = p->role;
    cl_id_list_add(&x->ids, p->id);
}
static void seen_device(const struct cl_device *d, void *ctx)
{
    cl_id_list_add(&((struct seen *)ctx)->ids, d->id);
}
static void seen_session(const struct cl_session *sess, void *ctx)
{
    cl_id_list_add(&((struct seen *)ctx)->ids, sess->id);
}
static void seen_session_info(const struct cl_session_info *si, void *ctx)
{
    cl_id_list_add(&((struct seen *)ctx)->ids, si->sess.id);
}
static void seen_share(const struct cl_share *sh, void *ctx)
{
    struct seen *x = ctx;
    if (x->ids.n < 16)
        x->roles[x->ids.n] = sh->mode;
    cl_id_list_add(&x->ids, sh->user_id);
}
static void seen_token(const struct cl_token *t, void *ctx)
{
    struct seen *x = ctx;
    if (x->ids.n < 16)
        x->current[x->ids.n] = t->current;
    cl_id_list_add(&x->ids, t->id);
}
static void seen_member(const struct cl_member *m, void *ctx)
{
    struct seen *x = ctx;
    if (x->ids.n < 16)
        x->roles[x->ids.n] = m->role;
    cl_id_list_add(&x->ids, m->user_id);
}
static void seen_invitation(const struct cl_invitation *inv, void *ctx)
{
    cl_id_list_add(&((struct seen *)ctx)->ids, inv->id);
}

static bool has(const struct cl_id_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->id[i], id) == 0)
            return true;
    return false;
}

static void seen_free(struct seen *x)
{
    cl_id_list_free(&x->ids);
}

/* ---- users, tokens, secrets ------------------------------------------------ */

static void test_users(void **state)
{
    struct fx *f = *state;
    struct cl_user a, got, dup;
    char unknown[CL_UUID_LEN + 1];
    int64_t n = -1;

    assert_int_equal(OPS->ping(S, NULL, 0), 0);
    assert_int_equal(OPS->user_count(S, &n), 0);
    assert_int_equal(n, 0);
    new_user(S, "Ann@Example.com", &a);
    /* stored lower-cased, found case-insensitively */
    assert_int_equal(OPS->user_by_email(S, "ANN@example.COM", &got), 0);
    assert_string_equal(got.id, a.id);
    assert_string_equal(got.email, "ann@example.com");
    assert_int_equal(got.email_verified_at, 0);
    assert_int_equal(OPS->user_by_id(S, a.id, &got), 0);
    assert_string_equal(got.display_name, "name of Ann@Example.com");
    assert_string_equal(got.pw_hash, a.pw_hash);
    /* uniqueness: the same address in another case */
    memset(&dup, 0, sizeof dup);
    cl_uuid_new(dup.id);
    snprintf(dup.email, sizeof dup.email, "ann@EXAMPLE.com");
    snprintf(dup.pw_hash, sizeof dup.pw_hash, "h");
    assert_int_equal(OPS->user_create(S, &dup), CL_EEXIST);
    /* not found */
    cl_uuid_new(unknown);
    assert_int_equal(OPS->user_by_id(S, unknown, &got), CL_ENOTFOUND);
    assert_int_equal(OPS->user_by_email(S, "nobody@example.com", &got), CL_ENOTFOUND);
    assert_int_equal(OPS->profile_update(S, unknown, "x", NULL), CL_ENOTFOUND);
    /* input refused before any backend */
    snprintf(dup.email, sizeof dup.email, "%s", "");
    assert_int_equal(OPS->user_create(S, &dup), CL_EINVAL);
    snprintf(dup.email, sizeof dup.email, "b@example.com");
    dup.pw_hash[0] = 0;
    assert_int_equal(OPS->user_create(S, &dup), CL_EINVAL);
    /* profile: NULL keeps, "" clears the avatar */
    assert_int_equal(OPS->profile_update(S, a.id, "Ann", "https://example.com/a.png"), 0);
    assert_int_equal(OPS->profile_update(S, a.id, NULL, NULL), 0);
    assert_int_equal(OPS->user_by_id(S, a.id, &got), 0);
    assert_string_equal(got.display_name, "Ann");
    assert_string_equal(got.avatar_url, "https://example.com/a.png");
    assert_int_equal(OPS->profile_update(S, a.id, NULL, ""), 0);
    assert_int_equal(OPS->user_by_id(S, a.id, &got), 0);
    assert_string_equal(got.avatar_url, "");
    {
        char big[CL_NAME_MAX + 2];
        memset(big, 'n', sizeof big - 1);
        big[sizeof big - 1] = 0;
        assert_int_equal(OPS->profile_update(S, a.id, big, NULL), CL_EINVAL);
    }
    /* verified, and unproven again */
    assert_int_equal(OPS->user_set_email_verified(S, a.id, 5000), 0);
    assert_int_equal(OPS->user_by_id(S, a.id, &got), 0);
    assert_int_equal(got.email_verified_at, 5000);
    assert_int_equal(OPS->user_set_email_verified(S, unknown, 5000), CL_ENOTFOUND);
    assert_int_equal(OPS->user_count(S, &n), 0);
    assert_int_equal(n, 1);
}

static void test_tokens(void **state)
{
    struct fx *f = *state;
    struct cl_user a;
    struct cl_token t;
    struct seen x = {0};
    uint8_t h1[CL_HASH_LEN], h2[CL_HASH_LEN], h3[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1];
    int revoked = -1;

    new_user(S, "a@example.com", &a);
    hash_of("t1", h1);
    hash_of("t2", h2);
    hash_of("t3", h3);
    assert_int_equal(OPS->token_create(S, h1, a.id, 100, 1000), 0);
    assert_int_equal(OPS->token_create(S, h2, a.id, 200, 1000), 0);
    assert_int_equal(OPS->token_create(S, h3, a.id, 300, 400), 0);
    assert_int_equal(OPS->token_user(S, h1, 150, uid), 0);
    assert_string_equal(uid, a.id);
    /* expired at now: not found */
    assert_int_equal(OPS->token_user(S, h3, 500, uid), CL_ENOTFOUND);
    assert_int_equal(OPS->token_user(S, NULL, 150, uid), CL_ENOTFOUND);
    /* live ones, newest first, the current one marked */
    assert_int_equal(OPS->token_list(S, a.id, 500, h2, seen_token, &x), 0);
    assert_int_equal(x.ids.n, 2);
    assert_true(x.current[0]);
    assert_false(x.current[1]);
    assert_int_equal(OPS->token_get(S, x.ids.id[1], &t), 0);
    assert_int_equal(t.created_at, 100);
    assert_string_equal(t.user_id, a.id);
    /* revoke by id, twice is fine */
    assert_int_equal(OPS->token_revoke_id(S, x.ids.id[1], 600), 0);
    assert_int_equal(OPS->token_revoke_id(S, x.ids.id[1], 600), 0);
    assert_int_equal(OPS->token_user(S, h1, 600, uid), CL_ENOTFOUND);
    /* a hash is unique, even once revoked or expired */
    assert_int_equal(OPS->token_create(S, h3, a.id, 700, 2000), CL_EEXIST);
    /* all but keep */
    hash_of("t4", h3);
    assert_int_equal(OPS->token_create(S, h3, a.id, 700, 2000), 0);
    assert_int_equal(OPS->tokens_revoke_all(S, a.id, h2, 800, &revoked), 0);
    /* at least the live one; whether expired, unrevoked ones count is left
     * open (SQLite counts them; store.h says "live") */
    assert_true(revoked >= 1);
    assert_int_equal(OPS->token_user(S, h3, 800, uid), CL_ENOTFOUND);
    assert_int_equal(OPS->token_user(S, h2, 800, uid), 0);
    assert_int_equal(OPS->token_revoke(S, h2), 0);
    assert_int_equal(OPS->token_user(S, h2, 800, uid), CL_ENOTFOUND);
    {
        char unknown[CL_UUID_LEN + 1];
        cl_uuid_new(unknown);
        assert_int_equal(OPS->token_get(S, unknown, &t), CL_ENOTFOUND);
    }
    assert_int_equal(OPS->token_create(S, NULL, a.id, 1, 2), CL_EINVAL);
    seen_free(&x);
}

static void test_secrets_and_signin_codes(void **state)
{
    struct fx *f = *state;
    struct cl_user a;
    uint8_t fresh[CL_HASH_LEN], other[CL_HASH_LEN], out[CL_HASH_LEN], code[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1];

    hash_of("fresh", fresh);
    hash_of("other", other);
    /* the first one stored stays */
    assert_int_equal(OPS->secret_get(S, "csrf", fresh, out), 0);
    assert_memory_equal(out, fresh, CL_HASH_LEN);
    assert_int_equal(OPS->secret_get(S, "csrf", other, out), 0);
    assert_memory_equal(out, fresh, CL_HASH_LEN);

    new_user(S, "a@example.com", &a);
    hash_of("code", code);
    assert_int_equal(OPS->signin_code_create(S, code, a.id, 100, 200), 0);
    assert_int_equal(OPS->signin_code_consume(S, code, 150, uid), 0);
    assert_string_equal(uid, a.id);
    assert_int_equal(OPS->signin_code_consume(S, code, 150, uid), CL_ENOTFOUND); /* once */
    assert_int_equal(OPS->signin_code_create(S, code, a.id, 100, 200), 0);
    assert_int_equal(OPS->signin_code_consume(S, code, 250, uid), CL_EEXPIRED);
    assert_int_equal(OPS->signin_code_consume(S, code, 150, uid), CL_ENOTFOUND); /* gone */
}

static void test_password_reset_and_verification(void **state)
{
    struct fx *f = *state;
    struct cl_user a, got;
    uint8_t h[CL_RESET_LINKS_MAX + 1][CL_HASH_LEN], keep[CL_HASH_LEN], v[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1], name[16];

    new_user(S, "a@example.com", &a);
    hash_of("session", keep);
    assert_int_equal(OPS->token_create(S, keep, a.id, 10, 100000), 0);
    for (int i = 0; i <= CL_RESET_LINKS_MAX; i++) {
        snprintf(name, sizeof name, "reset%d", i);
        hash_of(name, h[i]);
    }
    for (int i = 0; i < CL_RESET_LINKS_MAX; i++)
        assert_int_equal(OPS->reset_create(S, a.id, h[i], 100 + i, 1000), 0);
    assert_int_equal(OPS->reset_create(S, a.id, h[CL_RESET_LINKS_MAX], 200, 1000), CL_ELIMIT);
    /* one link works, voids the others and every sign-in token */
    assert_int_equal(OPS->reset_consume(S, h[1], 300, "$new", uid), 0);
    assert_string_equal(uid, a.id);
    assert_int_equal(OPS->user_by_id(S, a.id, &got), 0);
    assert_string_equal(got.pw_hash, "$new");
    assert_int_equal(OPS->reset_consume(S, h[0], 300, "$newer", uid), CL_ENOTFOUND);
    assert_int_equal(OPS->token_user(S, keep, 300, uid), CL_ENOTFOUND);
    assert_int_equal(OPS->reset_create(S, a.id, h[2], 400, 500), 0);
    assert_int_equal(OPS->reset_consume(S, h[2], 600, "$late", uid), CL_EEXPIRED);
    assert_int_equal(OPS->reset_consume(S, h[3], 300, "", uid), CL_EINVAL);

    /* verification links: proven while the address is the one sent to */
    hash_of("verify", v);
    assert_int_equal(OPS->verify_create(S, a.id, "a@example.com", v, 700, 800), 0);
    assert_int_equal(OPS->verify_consume(S, v, 750, uid), 0);
    assert_string_equal(uid, a.id);
    assert_int_equal(OPS->user_by_id(S, a.id, &got), 0);
    assert_int_equal(got.email_verified_at, 750);
    assert_int_equal(OPS->verify_consume(S, v, 750, uid), CL_ENOTFOUND);
    assert_int_equal(OPS->verify_create(S, a.id, "old@example.com", v, 700, 800), 0);
    assert_int_equal(OPS->verify_consume(S, v, 750, uid), CL_ESTATE);
    assert_int_equal(OPS->verify_create(S, a.id, "a@example.com", v, 700, 800), 0);
    assert_int_equal(OPS->verify_consume(S, v, 900, uid), CL_EEXPIRED);

    /* a new password: tokens but keep revoked */
    hash_of("session-2", keep);
    assert_int_equal(OPS->token_create(S, keep, a.id, 10, 100000), 0);
    assert_int_equal(OPS->user_set_password(S, a.id, "$p2", keep, 1000), 0);
    assert_int_equal(OPS->token_user(S, keep, 1000, uid), 0);
    assert_int_equal(OPS->user_set_password(S, a.id, "", NULL, 1000), CL_EINVAL);
}

/* ---- projects, members, invitations ---------------------------------------- */

static void test_projects_and_members(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m;
    struct cl_project p1, p2, got;
    struct seen x = {0}, y = {0};
    enum cl_role role;
    char unknown[CL_UUID_LEN + 1];

    new_user(S, "owner@example.com", &o);
    new_user(S, "member@example.com", &m);
    new_project(S, o.id, "first", 100, &p1);
    new_project(S, o.id, "second", 200, &p2);
    assert_int_equal(OPS->project_get(S, p1.id, &got), 0);
    assert_string_equal(got.name, "first");
    assert_string_equal(got.owner_id, o.id);
    /* the creator is its owner */
    assert_int_equal(OPS->member_role(S, p1.id, o.id, &role), 0);
    assert_int_equal(role, CL_ROLE_OWNER);
    assert_int_equal(OPS->member_role(S, p1.id, m.id, &role), 0);
    assert_int_equal(role, CL_ROLE_NONE);
    /* newest first, with the role */
    assert_int_equal(OPS->project_list_for_user(S, o.id, seen_project, &x), 0);
    assert_int_equal(x.ids.n, 2);
    assert_string_equal(x.ids.id[0], p2.id);
    assert_int_equal(x.roles[0], CL_ROLE_OWNER);
    assert_int_equal(OPS->member_add(S, p1.id, m.id, CL_ROLE_MEMBER, o.id, 300), 0);
    assert_int_equal(OPS->member_add(S, p1.id, m.id, CL_ROLE_MEMBER, o.id, 300), CL_EEXIST);
    assert_int_equal(OPS->member_add(S, p1.id, m.id, (enum cl_role)7, o.id, 300), CL_EINVAL);
    assert_int_equal(OPS->project_list_for_user(S, m.id, seen_project, &y), 0);
    assert_int_equal(y.ids.n, 1);
    assert_int_equal(y.roles[0], CL_ROLE_MEMBER);
    seen_free(&y);
    /* members: the owner first */
    memset(&y, 0, sizeof y);
    assert_int_equal(OPS->member_list(S, p1.id, seen_member, &y), 0);
    assert_int_equal(y.ids.n, 2);
    assert_string_equal(y.ids.id[0], o.id);
    assert_int_equal(y.roles[0], CL_ROLE_OWNER);
    assert_string_equal(y.ids.id[1], m.id);
    /* rename */
    assert_int_equal(OPS->project_rename(S, p1.id, "renamed", 400), 0);
    assert_int_equal(OPS->project_get(S, p1.id, &got), 0);
    assert_string_equal(got.name, "renamed");
    assert_int_equal(got.updated_at, 400);
    cl_uuid_new(unknown);
    assert_int_equal(OPS->project_get(S, unknown, &got), CL_ENOTFOUND);
    assert_int_equal(OPS->project_rename(S, unknown, "x", 400), CL_ENOTFOUND);
    assert_int_equal(OPS->project_delete(S, unknown, NULL), CL_ENOTFOUND);
    /* the owner cannot be removed; a non-member is not found */
    assert_int_equal(OPS->member_remove(S, p1.id, o.id, 500, NULL), CL_ESTATE);
    assert_int_equal(OPS->member_remove(S, p2.id, m.id, 500, NULL), CL_ENOTFOUND);
    assert_int_equal(OPS->member_remove(S, p1.id, "", 500, NULL), CL_ENOTFOUND);
    seen_free(&x);
    seen_free(&y);
}

static void test_invitations(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m;
    struct cl_project p;
    struct cl_invitation inv;
    struct seen x = {0};
    char id[CL_UUID_LEN + 1], id2[CL_UUID_LEN + 1];
    size_t n = 99;
    enum cl_role role;

    new_user(S, "owner@example.com", &o);
    new_user(S, "m@example.com", &m);
    new_project(S, o.id, "p", 100, &p);
    assert_int_equal(OPS->invitation_create(S, p.id, "m@example.com", o.id, 200, id), 0);
    assert_int_equal(OPS->invitation_create(S, p.id, "m@example.com", o.id, 201, id2), CL_EEXIST);
    assert_int_equal(OPS->invitation_create(S, p.id, "z@example.com", o.id, 202, id2), 0);
    assert_int_equal(OPS->invitation_count_pending(S, p.id, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(OPS->invitation_get(S, id, &inv), 0);
    assert_string_equal(inv.project_name, "p");
    assert_string_equal(inv.inviter_email, "owner@example.com");
    /* addressed case-insensitively */
    assert_int_equal(OPS->invitation_list_for_email(S, "M@EXAMPLE.com", seen_invitation, &x), 0);
    assert_int_equal(x.ids.n, 1);
    assert_string_equal(x.ids.id[0], id);
    seen_free(&x);
    memset(&x, 0, sizeof x);
    /* oldest first */
    assert_int_equal(OPS->invitation_list(S, p.id, seen_invitation, &x), 0);
    assert_int_equal(x.ids.n, 2);
    assert_string_equal(x.ids.id[0], id);
    assert_int_equal(OPS->invitation_respond(S, id, m.id, true, 300), 0);
    assert_int_equal(OPS->member_role(S, p.id, m.id, &role), 0);
    assert_int_equal(role, CL_ROLE_MEMBER);
    assert_int_equal(OPS->invitation_respond(S, id, m.id, true, 300), CL_ENOTFOUND);
    assert_int_equal(OPS->invitation_get(S, id, &inv), CL_ENOTFOUND);
    assert_int_equal(OPS->invitation_cancel(S, p.id, id2), 0);
    assert_int_equal(OPS->invitation_cancel(S, p.id, id2), CL_ENOTFOUND);
    assert_int_equal(OPS->invitation_count_pending(S, p.id, &n), 0);
    assert_int_equal(n, 0);
    seen_free(&x);
}

/* ---- devices ------------------------------------------------------------------- */

static void test_devices(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m;
    struct cl_project p;
    struct cl_device d1, d2, got;
    struct cl_device_info info;
    struct seen x = {0}, y = {0};
    uint8_t ch[CL_HASH_LEN], th[CL_HASH_LEN], th2[CL_HASH_LEN], out[CL_HASH_LEN];
    char id[CL_UUID_LEN + 1], unknown[CL_UUID_LEN + 1];

    new_user(S, "o@example.com", &o);
    new_user(S, "m@example.com", &m);
    new_project(S, o.id, "p", 100, &p);
    new_device(S, p.id, "one", 100, "code-1", 1000, &d1);
    new_device(S, p.id, "two", 200, "code-2", 1000, &d2);
    assert_int_equal(OPS->device_get(S, d1.id, &got), 0);
    assert_false(got.paired);
    assert_false(got.online);
    assert_int_equal(got.code_expires_at, 1000);
    /* oldest first */
    assert_int_equal(OPS->device_list(S, p.id, seen_device, &x), 0);
    assert_int_equal(x.ids.n, 2);
    assert_string_equal(x.ids.id[0], d1.id);
    /* a code checked is not spent; paired once; then unknown */
    hash_of("code-1", ch);
    hash_of("token-1", th);
    assert_int_equal(OPS->device_code_check(S, ch, 500, id), 0);
    assert_string_equal(id, d1.id);
    assert_int_equal(OPS->device_code_check(S, ch, 2000, id), CL_EEXPIRED);
    assert_int_equal(OPS->device_token_hash(S, d1.id, out), CL_ENOTFOUND); /* unpaired */
    assert_int_equal(OPS->device_pair(S, ch, 500, "renamed", th, &got), 0);
    assert_string_equal(got.id, d1.id);
    assert_string_equal(got.name, "renamed");
    assert_true(got.paired);
    assert_int_equal(got.code_expires_at, 0);
    assert_int_equal(OPS->device_pair(S, ch, 500, NULL, th, &got), CL_ENOTFOUND);
    assert_int_equal(OPS->device_token_hash(S, d1.id, out), 0);
    assert_memory_equal(out, th, CL_HASH_LEN);
    /* an expired code fails and is spent */
    hash_of("code-2", ch);
    assert_int_equal(OPS->device_pair(S, ch, 5000, NULL, th, &got), CL_EEXPIRED);
    assert_int_equal(OPS->device_code_check(S, ch, 500, id), CL_ENOTFOUND);
    /* a new code replaces any old one; the token stays until it is used */
    hash_of("code-3", ch);
    assert_int_equal(OPS->device_new_code(S, d1.id, ch, 9000), 0);
    assert_int_equal(OPS->device_token_hash(S, d1.id, out), 0);
    assert_memory_equal(out, th, CL_HASH_LEN);
    hash_of("token-2", th2);
    assert_int_equal(OPS->device_pair(S, ch, 600, NULL, th2, &got), 0);
    assert_int_equal(OPS->device_token_hash(S, d1.id, out), 0);
    assert_memory_equal(out, th2, CL_HASH_LEN);
    /* voiding a code */
    hash_of("code-4", ch);
    assert_int_equal(OPS->device_new_code(S, d2.id, ch, 9000), 0);
    assert_int_equal(OPS->device_code_void(S, ch, id), 0);
    assert_string_equal(id, d2.id);
    assert_int_equal(OPS->device_code_void(S, ch, id), CL_ENOTFOUND);
    /* online, heartbeat, kind, info */
    assert_int_equal(OPS->device_set_online(S, d1.id, true, 700), 0);
    assert_int_equal(OPS->device_heartbeat(S, d1.id, 710), 0);
    assert_int_equal(OPS->device_set_kind(S, d1.id, "openclaw"), 0);
    assert_int_equal(OPS->device_get(S, d1.id, &got), 0);
    assert_true(got.online);
    assert_int_equal(got.last_heartbeat, 710);
    assert_string_equal(got.kind, "openclaw");
    assert_int_equal(OPS->device_all_offline(S, 800), 0);
    assert_int_equal(OPS->device_get(S, d1.id, &got), 0);
    assert_false(got.online);
    assert_int_equal(OPS->device_set_info(S, d1.id, "{\"os\":\"linux\"}", "10.0.0.1", 900), 0);
    assert_int_equal(OPS->device_set_info(S, d1.id, NULL, NULL, 950), 0); /* keeps both */
    assert_int_equal(OPS->device_get_info(S, d1.id, &info), 0);
    assert_string_equal(info.meta, "{\"os\":\"linux\"}");
    assert_string_equal(info.remote_addr, "10.0.0.1");
    assert_int_equal(info.meta_updated_at, 900);
    {
        char *big = malloc(CL_DEVICE_META_MAX + 2);
        memset(big, ' ', CL_DEVICE_META_MAX + 1);
        big[CL_DEVICE_META_MAX + 1] = 0;
        assert_int_equal(OPS->device_set_info(S, d1.id, big, NULL, 900), CL_EINVAL);
        free(big);
    }
    /* paired devices of the user's projects only */
    assert_int_equal(OPS->device_list_for_user(S, o.id, seen_device, &y), 0);
    assert_int_equal(y.ids.n, 1);
    assert_string_equal(y.ids.id[0], d1.id);
    seen_free(&y);
    memset(&y, 0, sizeof y);
    assert_int_equal(OPS->device_list_for_user(S, m.id, seen_device, &y), 0);
    assert_int_equal(y.ids.n, 0);
    /* rename; not found */
    assert_int_equal(OPS->device_rename(S, d2.id, "deux"), 0);
    assert_int_equal(OPS->device_get(S, d2.id, &got), 0);
    assert_string_equal(got.name, "deux");
    cl_uuid_new(unknown);
    assert_int_equal(OPS->device_get(S, unknown, &got), CL_ENOTFOUND);
    assert_int_equal(OPS->device_rename(S, unknown, "x"), CL_ENOTFOUND);
    assert_int_equal(OPS->device_set_kind(S, unknown, "x"), CL_ENOTFOUND);
    assert_int_equal(OPS->device_get_info(S, unknown, &info), CL_ENOTFOUND);
    assert_int_equal(OPS->device_delete(S, unknown, NULL), CL_ENOTFOUND);
    hash_of("code-5", ch);
    assert_int_equal(OPS->device_new_code(S, unknown, ch, 9000), CL_ENOTFOUND);
    seen_free(&x);
    seen_free(&y);
}

/* ---- sessions and shares ----------------------------------------------------- */

static void test_sessions(void **state)
{
    struct fx *f = *state;
    struct cl_user o;
    struct cl_project p;
    struct cl_device d1, d2;
    struct cl_session a, b, c, got;
    struct seen x = {0};
    size_t per_device = 99, per_user = 99;
    char name[CL_SESSION_NAME_MAX + 2], unknown[CL_UUID_LEN + 1];

    new_user(S, "o@example.com", &o);
    new_project(S, o.id, "p", 100, &p);
    new_device(S, p.id, "one", 100, "c1", 1000, &d1);
    new_device(S, p.id, "two", 100, "c2", 1000, &d2);
    new_session(S, d1.id, o.id, 200, &a);
    new_session(S, d1.id, o.id, 300, &b);
    new_session(S, d2.id, o.id, 400, &c);
    assert_int_equal(OPS->session_create(S, &a), CL_EEXIST);
    assert_int_equal(OPS->session_get(S, a.id, &got), 0);
    assert_true(got.active);
    assert_string_equal(got.user_id, o.id);
    assert_int_equal(OPS->session_count_open(S, d1.id, o.id, &per_device, &per_user), 0);
    assert_int_equal(per_device, 2);
    assert_int_equal(per_user, 3);
    /* active ones, oldest first; per device */
    assert_int_equal(OPS->session_list_active(S, NULL, seen_session, &x), 0);
    assert_int_equal(x.ids.n, 3);
    assert_string_equal(x.ids.id[0], a.id);
    assert_string_equal(x.ids.id[2], c.id);
    seen_free(&x);
    memset(&x, 0, sizeof x);
    assert_int_equal(OPS->session_list_active(S, d2.id, seen_session, &x), 0);
    assert_int_equal(x.ids.n, 1);
    seen_free(&x);
    /* names and titles, with their limits */
    assert_int_equal(OPS->session_set_name(S, a.id, "build"), 0);
    assert_int_equal(OPS->session_set_title(S, a.id, "vim"), 0);
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = 0;
    assert_int_equal(OPS->session_set_name(S, a.id, name), CL_EINVAL);
    cl_uuid_new(unknown);
    assert_int_equal(OPS->session_set_name(S, unknown, "x"), CL_ENOTFOUND);
    assert_int_equal(OPS->session_get(S, unknown, &got), CL_ENOTFOUND);
    /* ending: reason and exit code kept; a second end changes nothing */
    assert_int_equal(OPS->session_end(S, a.id, 500, "exit", true, 3), 0);
    assert_int_equal(OPS->session_end(S, a.id, 600, "hangup", false, 0), 0);
    assert_int_equal(OPS->session_get(S, a.id, &got), 0);
    assert_false(got.active);
    assert_int_equal(got.ended_at, 500);
    assert_string_equal(got.end_reason, "exit");
    assert_true(got.has_exit_code);
    assert_int_equal(got.exit_code, 3);
    assert_string_equal(got.name, "build"); /* kept */
    assert_int_equal(OPS->session_set_name(S, a.id, "renamed"), 0);
    {
        char reason[CL_REASON_MAX + 2];
        memset(reason, 'r', sizeof reason - 1);
        reason[sizeof reason - 1] = 0;
        assert_int_equal(OPS->session_end(S, b.id, 500, reason, false, 0), CL_EINVAL);
    }
    /* the history: newest first, filters, a limit and a keyset cursor */
    {
        struct cl_session_filter flt = {.project_id = p.id};
        assert_int_equal(OPS->session_list(S, &flt, seen_session_info, &x), 0);
        assert_int_equal(x.ids.n, 3);
        assert_string_equal(x.ids.id[0], c.id);
        assert_string_equal(x.ids.id[2], a.id);
        seen_free(&x);
        memset(&x, 0, sizeof x);
        flt.limit = 1;
        flt.before_started_at = 400;
        flt.before_id = c.id;
        assert_int_equal(OPS->session_list(S, &flt, seen_session_info, &x), 0);
        assert_int_equal(x.ids.n, 1);
        assert_string_equal(x.ids.id[0], b.id);
        seen_free(&x);
        memset(&x, 0, sizeof x);
        flt = (struct cl_session_filter){.project_id = p.id, .status = CL_SESSIONS_ENDED};
        assert_int_equal(OPS->session_list(S, &flt, seen_session_info, &x), 0);
        assert_int_equal(x.ids.n, 1);
        assert_string_equal(x.ids.id[0], a.id);
        seen_free(&x);
        memset(&x, 0, sizeof x);
        flt = (struct cl_session_filter){
            .project_id = p.id, .device_id = d1.id, .status = CL_SESSIONS_ACTIVE};
        assert_int_equal(OPS->session_list(S, &flt, seen_session_info, &x), 0);
        assert_int_equal(x.ids.n, 1);
        assert_string_equal(x.ids.id[0], b.id);
        flt.status = (enum cl_session_status_filter)9;
        assert_int_equal(OPS->session_list(S, &flt, seen_session_info, &x), CL_EINVAL);
    }
    seen_free(&x);
}

static void test_shares(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m, n;
    struct cl_project p;
    struct cl_device d;
    struct cl_session sess;
    struct seen x = {0};
    enum cl_share_mode mode;

    new_user(S, "o@example.com", &o);
    new_user(S, "m@example.com", &m);
    new_user(S, "n@example.com", &n);
    new_project(S, o.id, "p", 100, &p);
    new_device(S, p.id, "d", 100, "c", 1000, &d);
    new_session(S, d.id, o.id, 200, &sess);
    assert_int_equal(OPS->share_get(S, sess.id, m.id, &mode), CL_ENOTFOUND);
    assert_int_equal(OPS->share_set(S, sess.id, m.id, CL_SHARE_VIEW, o.id, 300), 0);
    assert_int_equal(OPS->share_set(S, sess.id, n.id, CL_SHARE_CONTROL, o.id, 310), 0);
    assert_int_equal(OPS->share_set(S, sess.id, m.id, CL_SHARE_CONTROL, o.id, 320), 0); /* change */
    assert_int_equal(OPS->share_get(S, sess.id, m.id, &mode), 0);
    assert_int_equal(mode, CL_SHARE_CONTROL);
    assert_int_equal(OPS->share_set(S, sess.id, m.id, CL_SHARE_NONE, o.id, 330), CL_EINVAL);
    /* oldest first */
    assert_int_equal(OPS->share_list(S, sess.id, seen_share, &x), 0);
    assert_int_equal(x.ids.n, 2);
    assert_string_equal(x.ids.id[0], m.id);
    assert_int_equal(OPS->share_remove(S, sess.id, m.id), 0);
    assert_int_equal(OPS->share_remove(S, sess.id, m.id), CL_ENOTFOUND);
    assert_int_equal(OPS->share_get(S, sess.id, m.id, &mode), CL_ENOTFOUND);
    seen_free(&x);
}

/* ---- cascades and what they report ------------------------------------------- */

static void test_device_delete_cascade(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m;
    struct cl_project p;
    struct cl_device d, other;
    struct cl_session live, ended, elsewhere, got;
    struct cl_store_cascade c = {0};
    enum cl_share_mode mode;

    new_user(S, "o@example.com", &o);
    new_user(S, "m@example.com", &m);
    new_project(S, o.id, "p", 100, &p);
    new_device(S, p.id, "d", 100, "c", 1000, &d);
    new_device(S, p.id, "other", 100, "c2", 1000, &other);
    new_session(S, d.id, o.id, 200, &live);
    new_session(S, d.id, o.id, 210, &ended);
    new_session(S, other.id, o.id, 220, &elsewhere);
    assert_int_equal(OPS->session_end(S, ended.id, 300, "exit", false, 0), 0);
    assert_int_equal(OPS->share_set(S, live.id, m.id, CL_SHARE_VIEW, o.id, 300), 0);

    assert_int_equal(OPS->device_delete(S, d.id, &c), 0);
    assert_int_equal(c.devices.n, 1);
    assert_string_equal(c.devices.id[0], d.id);
    assert_int_equal(c.ended.n, 1); /* the active one only */
    assert_string_equal(c.ended.id[0], live.id);
    assert_int_equal(c.unshared.n + c.projects.n + c.left.n, 0);
    /* gone with its sessions and their shares; the rest untouched */
    assert_int_equal(OPS->session_get(S, live.id, &got), CL_ENOTFOUND);
    assert_int_equal(OPS->session_get(S, ended.id, &got), CL_ENOTFOUND);
    assert_int_equal(OPS->share_get(S, live.id, m.id, &mode), CL_ENOTFOUND);
    assert_int_equal(OPS->session_get(S, elsewhere.id, &got), 0);
    assert_true(got.active);
    cl_store_cascade_free(&c);
    /* an error leaves the report empty */
    assert_int_equal(OPS->device_delete(S, d.id, &c), CL_ENOTFOUND);
    assert_int_equal(c.devices.n + c.ended.n, 0);
    cl_store_cascade_free(&c);
}

static void test_project_delete_cascade(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m;
    struct cl_project p, keep;
    struct cl_device d1, d2, d3;
    struct cl_session s1, s2, s3, got;
    struct cl_store_cascade c = {0};
    struct cl_device dg;
    enum cl_role role;
    char inv[CL_UUID_LEN + 1];
    size_t n = 9;

    new_user(S, "o@example.com", &o);
    new_user(S, "m@example.com", &m);
    new_project(S, o.id, "p", 100, &p);
    new_project(S, o.id, "keep", 100, &keep);
    new_device(S, p.id, "d1", 100, "c1", 1000, &d1);
    new_device(S, p.id, "d2", 110, "c2", 1000, &d2);
    new_device(S, keep.id, "d3", 120, "c3", 1000, &d3);
    assert_int_equal(OPS->member_add(S, p.id, m.id, CL_ROLE_MEMBER, o.id, 150), 0);
    assert_int_equal(OPS->invitation_create(S, p.id, "x@example.com", o.id, 150, inv), 0);
    new_session(S, d1.id, o.id, 200, &s1);
    new_session(S, d2.id, m.id, 210, &s2);
    new_session(S, d3.id, o.id, 220, &s3);

    assert_int_equal(OPS->project_delete(S, p.id, &c), 0);
    assert_int_equal(c.devices.n, 2);
    assert_true(has(&c.devices, d1.id) && has(&c.devices, d2.id));
    assert_int_equal(c.ended.n, 2);
    assert_true(has(&c.ended, s1.id) && has(&c.ended, s2.id));
    assert_int_equal(c.projects.n, 1);
    assert_string_equal(c.projects.id[0], p.id);
    cl_store_cascade_free(&c);
    assert_int_equal(OPS->device_get(S, d1.id, &dg), CL_ENOTFOUND);
    assert_int_equal(OPS->session_get(S, s2.id, &got), CL_ENOTFOUND);
    assert_int_equal(OPS->member_role(S, p.id, m.id, &role), 0);
    assert_int_equal(role, CL_ROLE_NONE);
    assert_int_equal(OPS->invitation_count_pending(S, p.id, &n), 0);
    assert_int_equal(n, 0);
    /* the other project is untouched */
    assert_int_equal(OPS->session_get(S, s3.id, &got), 0);
    assert_true(got.active);
    assert_int_equal(OPS->project_delete(S, p.id, &c), CL_ENOTFOUND);
    assert_int_equal(c.devices.n + c.ended.n + c.projects.n, 0);
    cl_store_cascade_free(&c);
}

static void test_member_remove_cascade(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m, k;
    struct cl_project p, other;
    struct cl_device d, od;
    struct cl_session mine, shared_by_o, shared_by_k, not_shared, mine_elsewhere, got;
    struct cl_store_cascade c = {0};
    enum cl_share_mode mode;
    enum cl_role role;

    new_user(S, "o@example.com", &o);
    new_user(S, "m@example.com", &m);
    new_user(S, "k@example.com", &k);
    new_project(S, o.id, "p", 100, &p);
    new_project(S, o.id, "other", 100, &other);
    new_device(S, p.id, "d", 100, "c1", 1000, &d);
    new_device(S, other.id, "od", 100, "c2", 1000, &od);
    assert_int_equal(OPS->member_add(S, p.id, m.id, CL_ROLE_MEMBER, o.id, 150), 0);
    assert_int_equal(OPS->member_add(S, p.id, k.id, CL_ROLE_MEMBER, o.id, 150), 0);
    assert_int_equal(OPS->member_add(S, other.id, m.id, CL_ROLE_MEMBER, o.id, 150), 0);
    new_session(S, d.id, m.id, 200, &mine);
    new_session(S, d.id, o.id, 210, &shared_by_o);
    new_session(S, d.id, k.id, 220, &shared_by_k);
    new_session(S, d.id, o.id, 230, &not_shared);
    new_session(S, od.id, m.id, 240, &mine_elsewhere);
    assert_int_equal(OPS->share_set(S, shared_by_o.id, m.id, CL_SHARE_VIEW, o.id, 300), 0);
    assert_int_equal(OPS->share_set(S, shared_by_k.id, m.id, CL_SHARE_CONTROL, k.id, 300), 0);

    assert_int_equal(OPS->member_remove(S, p.id, m.id, 400, &c), 0);
    assert_int_equal(c.ended.n, 1);
    assert_string_equal(c.ended.id[0], mine.id);
    assert_int_equal(c.unshared.n, 2);
    assert_true(has(&c.unshared, shared_by_o.id) && has(&c.unshared, shared_by_k.id));
    assert_int_equal(c.devices.n + c.projects.n + c.left.n, 0);
    cl_store_cascade_free(&c);
    /* the business rule: the end reason is "member_removed" */
    assert_int_equal(OPS->session_get(S, mine.id, &got), 0);
    assert_false(got.active);
    assert_int_equal(got.ended_at, 400);
    assert_string_equal(got.end_reason, "member_removed");
    assert_int_equal(OPS->share_get(S, shared_by_k.id, m.id, &mode), CL_ENOTFOUND);
    assert_int_equal(OPS->member_role(S, p.id, m.id, &role), 0);
    assert_int_equal(role, CL_ROLE_NONE);
    /* others' sessions and the other project are untouched */
    assert_int_equal(OPS->session_get(S, not_shared.id, &got), 0);
    assert_true(got.active);
    assert_int_equal(OPS->session_get(S, mine_elsewhere.id, &got), 0);
    assert_true(got.active);
    assert_int_equal(OPS->member_role(S, other.id, m.id, &role), 0);
    assert_int_equal(role, CL_ROLE_MEMBER);
    /* refusals report nothing */
    assert_int_equal(OPS->member_remove(S, p.id, m.id, 400, &c), CL_ENOTFOUND);
    assert_int_equal(OPS->member_remove(S, p.id, o.id, 400, &c), CL_ESTATE);
    assert_int_equal(c.ended.n + c.unshared.n, 0);
    cl_store_cascade_free(&c);
}

static void test_user_delete_cascade(void **state)
{
    struct fx *f = *state;
    struct cl_user u, o, k, got_user;
    struct cl_project own, shared, joined;
    struct cl_device own_d, joined_d;
    struct cl_session own_s, mine_in_joined, others_shared, others_plain, got;
    struct cl_store_cascade c = {0};
    enum cl_share_mode mode;
    uint8_t th[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1];

    new_user(S, "u@example.com", &u);
    new_user(S, "o@example.com", &o);
    new_user(S, "k@example.com", &k);
    new_project(S, u.id, "own", 100, &own);
    new_project(S, o.id, "joined", 100, &joined);
    new_device(S, own.id, "own-d", 100, "c1", 1000, &own_d);
    new_device(S, joined.id, "joined-d", 100, "c2", 1000, &joined_d);
    assert_int_equal(OPS->member_add(S, joined.id, u.id, CL_ROLE_MEMBER, o.id, 150), 0);
    assert_int_equal(OPS->member_add(S, joined.id, k.id, CL_ROLE_MEMBER, o.id, 150), 0);
    new_session(S, own_d.id, u.id, 200, &own_s);
    new_session(S, joined_d.id, u.id, 210, &mine_in_joined);
    new_session(S, joined_d.id, k.id, 220, &others_shared);
    new_session(S, joined_d.id, o.id, 230, &others_plain);
    assert_int_equal(OPS->share_set(S, others_shared.id, u.id, CL_SHARE_VIEW, k.id, 300), 0);
    hash_of("u-token", th);
    assert_int_equal(OPS->token_create(S, th, u.id, 100, 100000), 0);

    /* refused, with nothing changed, while they own a project with members */
    new_project(S, u.id, "shared", 100, &shared);
    assert_int_equal(OPS->member_add(S, shared.id, k.id, CL_ROLE_MEMBER, u.id, 150), 0);
    assert_int_equal(OPS->user_delete(S, u.id, 400, &c), CL_ESTATE);
    assert_int_equal(c.ended.n + c.unshared.n + c.devices.n + c.projects.n + c.left.n, 0);
    assert_int_equal(OPS->session_get(S, own_s.id, &got), 0);
    assert_true(got.active);
    assert_int_equal(OPS->project_delete(S, shared.id, NULL), 0);

    assert_int_equal(OPS->user_delete(S, u.id, 400, &c), 0);
    assert_int_equal(c.ended.n, 2);
    assert_true(has(&c.ended, own_s.id) && has(&c.ended, mine_in_joined.id));
    assert_int_equal(c.unshared.n, 1);
    assert_string_equal(c.unshared.id[0], others_shared.id);
    assert_int_equal(c.devices.n, 1);
    assert_string_equal(c.devices.id[0], own_d.id);
    assert_int_equal(c.projects.n, 1);
    assert_string_equal(c.projects.id[0], own.id);
    assert_int_equal(c.left.n, 1);
    assert_string_equal(c.left.id[0], joined.id);
    cl_store_cascade_free(&c);

    assert_int_equal(OPS->user_by_id(S, u.id, &got_user), CL_ENOTFOUND);
    assert_int_equal(OPS->token_user(S, th, 500, uid), CL_ENOTFOUND);
    assert_int_equal(OPS->session_get(S, own_s.id, &got), CL_ENOTFOUND);
    /* their session in another's project is kept, ended, without a user */
    assert_int_equal(OPS->session_get(S, mine_in_joined.id, &got), 0);
    assert_false(got.active);
    assert_string_equal(got.end_reason, "account_deleted");
    assert_string_equal(got.user_id, "");
    assert_int_equal(OPS->share_get(S, others_shared.id, u.id, &mode), CL_ENOTFOUND);
    assert_int_equal(OPS->session_get(S, others_plain.id, &got), 0);
    assert_true(got.active);
    assert_int_equal(OPS->user_delete(S, u.id, 500, &c), CL_ENOTFOUND);
    cl_store_cascade_free(&c);
}

/* ---- per-operation checks (moved from test_store.c) ----------------------- */

struct proj_seen {
    int n;
    char id[8][CL_UUID_LEN + 1];
    enum cl_role role[8];
    char name[8][CL_NAME_MAX + 1];
};

struct dev_seen {
    struct fx *f;
    int n;
    char id[8][CL_UUID_LEN + 1];
};

struct tokens_seen {
    int n;
    struct cl_token t[8];
};

static void test_token_create_lookup(void **state)
{
    struct fx *f = *state;
    struct cl_user u;
    uint8_t h[CL_HASH_LEN], h2[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1];
    new_user(&f->s, "tok@example.com", &u);
    cl_hash_str("clu_first", h);
    cl_hash_str("clu_second", h2);

    assert_int_equal(f->s.ops->token_create(&f->s, h, u.id, 100, 200), 0);
    assert_int_equal(f->s.ops->token_create(&f->s, h, u.id, 100, 200), CL_EEXIST);
    assert_int_equal(
        f->s.ops->token_create(&f->s, h2, "00000000-0000-4000-8000-000000000000", 100, 200),
        CL_ENOTFOUND);

    memset(uid, 0, sizeof uid);
    assert_int_equal(f->s.ops->token_user(&f->s, h, 100, uid), 0);
    assert_string_equal(uid, u.id);
    assert_int_equal(f->s.ops->token_user(&f->s, h, 199, uid), 0);
    /* expired at expires_at */
    assert_int_equal(f->s.ops->token_user(&f->s, h, 200, uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->token_user(&f->s, h, 10000, uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->token_user(&f->s, h2, 100, uid), CL_ENOTFOUND);

    /* revoke */
    assert_int_equal(f->s.ops->token_create(&f->s, h2, u.id, 100, 1000), 0);
    assert_int_equal(f->s.ops->token_user(&f->s, h2, 150, uid), 0);
    assert_int_equal(f->s.ops->token_revoke(&f->s, h2), 0);
    assert_int_equal(f->s.ops->token_user(&f->s, h2, 150, uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->token_revoke(&f->s, h2), 0); /* twice is fine */
    /* the other token is untouched */
    assert_int_equal(f->s.ops->token_user(&f->s, h, 150, uid), 0);
    cl_hash_str("clu_unknown", h2);
    assert_int_equal(f->s.ops->token_revoke(&f->s, h2), CL_ENOTFOUND);
}

static void collect_project(const struct cl_project *p, void *ctx)
{
    struct proj_seen *s = ctx;
    assert_true(s->n < 8);
    snprintf(s->id[s->n], sizeof s->id[0], "%s", p->id);
    snprintf(s->name[s->n], sizeof s->name[0], "%s", p->name);
    s->role[s->n] = p->role;
    s->n++;
}

static void test_project_list_members_only(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m, other;
    struct cl_project p1, p2, p3;
    struct proj_seen seen;
    enum cl_role role = CL_ROLE_OWNER;
    new_user(&f->s, "o@example.com", &o);
    new_user(&f->s, "m@example.com", &m);
    new_user(&f->s, "x@example.com", &other);
    new_project(&f->s, o.id, "first", 100, &p1);
    new_project(&f->s, o.id, "second", 200, &p2);
    new_project(&f->s, other.id, "elsewhere", 300, &p3);
    assert_int_equal(f->s.ops->member_add(&f->s, p1.id, m.id, CL_ROLE_MEMBER, o.id, 150), 0);
    assert_int_equal(f->s.ops->member_add(&f->s, p1.id, m.id, CL_ROLE_MEMBER, o.id, 150),
                     CL_EEXIST);
    assert_int_equal(f->s.ops->member_add(&f->s, p1.id, m.id, CL_ROLE_NONE, NULL, 150), CL_EINVAL);
    assert_int_equal(f->s.ops->member_add(&f->s, "00000000-0000-4000-8000-000000000000", m.id,
                                          CL_ROLE_MEMBER, NULL, 150),
                     CL_ENOTFOUND);

    /* owner: both projects, newest first, role owner */
    memset(&seen, 0, sizeof seen);
    assert_int_equal(f->s.ops->project_list_for_user(&f->s, o.id, collect_project, &seen), 0);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.id[0], p2.id);
    assert_string_equal(seen.name[0], "second");
    assert_string_equal(seen.id[1], p1.id);
    assert_int_equal(seen.role[0], CL_ROLE_OWNER);
    assert_int_equal(seen.role[1], CL_ROLE_OWNER);

    /* member: only the project they were added to, role member */
    memset(&seen, 0, sizeof seen);
    assert_int_equal(f->s.ops->project_list_for_user(&f->s, m.id, collect_project, &seen), 0);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.id[0], p1.id);
    assert_int_equal(seen.role[0], CL_ROLE_MEMBER);

    /* outsider to o's projects sees only their own */
    memset(&seen, 0, sizeof seen);
    assert_int_equal(f->s.ops->project_list_for_user(&f->s, other.id, collect_project, &seen), 0);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.id[0], p3.id);

    /* unknown user: nothing, no error */
    memset(&seen, 0, sizeof seen);
    assert_int_equal(f->s.ops->project_list_for_user(&f->s, "nobody", collect_project, &seen), 0);
    assert_int_equal(seen.n, 0);

    assert_int_equal(f->s.ops->member_role(&f->s, p1.id, m.id, &role), 0);
    assert_int_equal(role, CL_ROLE_MEMBER);
    role = CL_ROLE_OWNER;
    assert_int_equal(f->s.ops->member_role(&f->s, p1.id, other.id, &role), 0);
    assert_int_equal(role, CL_ROLE_NONE);
    role = CL_ROLE_OWNER;
    assert_int_equal(f->s.ops->member_role(&f->s, p2.id, m.id, &role), 0);
    assert_int_equal(role, CL_ROLE_NONE);
}

static void collect_device(const struct cl_device *d, void *ctx)
{
    struct dev_seen *s = ctx;
    struct cl_device again;
    assert_true(s->n < 8);
    snprintf(s->id[s->n++], sizeof s->id[0], "%s", d->id);
    /* callbacks may call into the store */
    assert_int_equal(s->f->s.ops->device_get(&s->f->s, d->id, &again), 0);
    assert_string_equal(again.name, d->name);
}

static void test_device_create_get_list(void **state)
{
    struct fx *f = *state;
    struct cl_user o;
    struct cl_project p, p2;
    struct cl_device d1, d2, got;
    struct dev_seen seen = {.f = f};
    uint8_t h[CL_HASH_LEN];
    new_user(&f->s, "o@example.com", &o);
    new_project(&f->s, o.id, "p", 1, &p);
    new_project(&f->s, o.id, "p2", 2, &p2);
    new_device(&f->s, p.id, "beta", 20, "CODE0001", 1000, &d2);
    new_device(&f->s, p.id, "alpha", 10, "CODE0002", 1000, &d1);

    assert_int_equal(f->s.ops->device_get(&f->s, d1.id, &got), 0);
    assert_string_equal(got.id, d1.id);
    assert_string_equal(got.project_id, p.id);
    assert_string_equal(got.name, "alpha");
    assert_false(got.online);
    assert_false(got.paired);
    assert_int_equal(got.last_seen, 0);
    assert_int_equal(got.created_at, 10);
    assert_int_equal(got.code_expires_at, 1000);
    assert_int_equal(f->s.ops->device_get(&f->s, p.id, &got), CL_ENOTFOUND);

    /* oldest first */
    assert_int_equal(f->s.ops->device_list(&f->s, p.id, collect_device, &seen), 0);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.id[0], d1.id);
    assert_string_equal(seen.id[1], d2.id);
    seen.n = 0;
    assert_int_equal(f->s.ops->device_list(&f->s, p2.id, collect_device, &seen), 0);
    assert_int_equal(seen.n, 0);

    /* conflicts: same id, same live code; unknown project */
    got = d1;
    cl_hash_str("CODE0009", h);
    assert_int_equal(f->s.ops->device_create(&f->s, &got, h, 1000), CL_EEXIST);
    cl_uuid_new(got.id);
    cl_hash_str("CODE0001", h);
    assert_int_equal(f->s.ops->device_create(&f->s, &got, h, 1000), CL_EEXIST);
    cl_hash_str("CODE0009", h);
    cl_uuid_new(got.project_id);
    assert_int_equal(f->s.ops->device_create(&f->s, &got, h, 1000), CL_ENOTFOUND);
}

static void test_device_pair(void **state)
{
    struct fx *f = *state;
    struct cl_user o;
    struct cl_project p;
    struct cl_device d, out, got;
    uint8_t code[CL_HASH_LEN], tok[CL_HASH_LEN], tok2[CL_HASH_LEN], stored[CL_HASH_LEN];
    new_user(&f->s, "o@example.com", &o);
    new_project(&f->s, o.id, "p", 1, &p);
    new_device(&f->s, p.id, "unnamed", 10, "ABCD2345", 1000, &d);
    cl_hash_str("ABCD2345", code);
    cl_hash_str("cld_token", tok);
    cl_hash_str("cld_other", tok2);

    /* not paired yet: no token */
    assert_int_equal(f->s.ops->device_token_hash(&f->s, d.id, stored), CL_ENOTFOUND);

    /* checking the code (the installer's download) does not spend it */
    char id[CL_UUID_LEN + 1] = "";
    assert_int_equal(f->s.ops->device_code_check(&f->s, code, 999, id), 0);
    assert_string_equal(id, d.id);
    assert_int_equal(f->s.ops->device_code_check(&f->s, code, 1000, id), CL_EEXPIRED);
    assert_int_equal(f->s.ops->device_code_check(&f->s, tok, 999, id), CL_ENOTFOUND);

    /* voiding (too many failed attempts named it) clears a code; another
     * device's code and an unknown one are untouched */
    struct cl_device d2;
    uint8_t code2[CL_HASH_LEN];
    char vid[CL_UUID_LEN + 1] = "";
    new_device(&f->s, p.id, "doomed", 10, "WXYZ6789", 1000, &d2);
    cl_hash_str("WXYZ6789", code2);
    assert_int_equal(f->s.ops->device_code_void(&f->s, tok, vid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_code_void(&f->s, code2, vid), 0);
    assert_string_equal(vid, d2.id);
    assert_int_equal(f->s.ops->device_code_check(&f->s, code2, 999, id), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_get(&f->s, d2.id, &got), 0);
    assert_int_equal(got.code_expires_at, 0);
    assert_false(got.paired);
    assert_int_equal(f->s.ops->device_code_void(&f->s, code2, NULL), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_code_check(&f->s, code, 999, id), 0);

    memset(&out, 0, sizeof out);
    assert_int_equal(f->s.ops->device_pair(&f->s, code, 999, "My Server", tok, &out), 0);
    assert_string_equal(out.id, d.id);
    assert_string_equal(out.project_id, p.id);
    assert_string_equal(out.name, "My Server");
    assert_true(out.paired);
    assert_int_equal(out.code_expires_at, 0);

    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &got), 0);
    assert_true(got.paired);
    assert_string_equal(got.name, "My Server");
    assert_int_equal(got.code_expires_at, 0);
    assert_int_equal(f->s.ops->device_token_hash(&f->s, d.id, stored), 0);
    assert_memory_equal(stored, tok, CL_HASH_LEN);
    assert_true(cl_secret_equal(stored, tok));

    /* the code is spent: a second use finds nothing and changes nothing */
    assert_int_equal(f->s.ops->device_code_check(&f->s, code, 999, id), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_pair(&f->s, code, 999, "Thief", tok2, &out), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_token_hash(&f->s, d.id, stored), 0);
    assert_memory_equal(stored, tok, CL_HASH_LEN);
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &got), 0);
    assert_string_equal(got.name, "My Server");

    /* an unknown code */
    cl_hash_str("ZZZZZZZZ", code);
    assert_int_equal(f->s.ops->device_pair(&f->s, code, 0, NULL, tok2, &out), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_token_hash(&f->s, "no-such-device", stored), CL_ENOTFOUND);
}

static void test_device_pair_keeps_name(void **state)
{
    struct fx *f = *state;
    struct cl_user o;
    struct cl_project p;
    struct cl_device d, out;
    uint8_t code[CL_HASH_LEN], tok[CL_HASH_LEN];
    new_user(&f->s, "o@example.com", &o);
    new_project(&f->s, o.id, "p", 1, &p);
    new_device(&f->s, p.id, "kept", 10, "KEEP2345", 1000, &d);
    new_device(&f->s, p.id, "kept too", 11, "KEEP2346", 1000, &d);
    cl_hash_str("cld_t", tok);
    cl_hash_str("KEEP2345", code);
    assert_int_equal(f->s.ops->device_pair(&f->s, code, 5, NULL, tok, &out), 0);
    assert_string_equal(out.name, "kept");
    cl_hash_str("KEEP2346", code);
    cl_hash_str("cld_u", tok);
    assert_int_equal(f->s.ops->device_pair(&f->s, code, 5, "", tok, NULL), 0);
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &out), 0);
    assert_string_equal(out.name, "kept too");
    assert_true(out.paired);
}

static void test_device_pair_expired(void **state)
{
    struct fx *f = *state;
    struct cl_user o;
    struct cl_project p;
    struct cl_device d, out, got;
    uint8_t code[CL_HASH_LEN], tok[CL_HASH_LEN], stored[CL_HASH_LEN];
    new_user(&f->s, "o@example.com", &o);
    new_project(&f->s, o.id, "p", 1, &p);
    new_device(&f->s, p.id, "late", 10, "LATE2345", 1000, &d);
    cl_hash_str("LATE2345", code);
    cl_hash_str("cld_late", tok);

    /* expired at code_expires_at */
    assert_int_equal(f->s.ops->device_pair(&f->s, code, 1000, "x", tok, &out), CL_EEXPIRED);
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &got), 0);
    assert_false(got.paired);
    assert_string_equal(got.name, "late");
    assert_int_equal(got.code_expires_at, 0); /* cleared */
    assert_int_equal(f->s.ops->device_token_hash(&f->s, d.id, stored), CL_ENOTFOUND);
    /* once cleared it is simply unknown, even with an earlier clock */
    assert_int_equal(f->s.ops->device_pair(&f->s, code, 1, "x", tok, &out), CL_ENOTFOUND);
}

static void count_session(const struct cl_session *sess, void *ctx)
{
    assert_true(sess->active);
    (*(int *)ctx)++;
}

static void test_session_list_active(void **state)
{
    struct fx *f = *state;
    struct cl_user o;
    struct cl_project p;
    struct cl_device d1, d2;
    struct cl_session a, b, c;
    int n;
    new_user(&f->s, "o@example.com", &o);
    new_project(&f->s, o.id, "p", 1, &p);
    new_device(&f->s, p.id, "one", 10, "LST23456", 1000, &d1);
    new_device(&f->s, p.id, "two", 11, "LST34567", 1000, &d2);
    new_session(&f->s, d1.id, o.id, 100, &a);
    new_session(&f->s, d1.id, o.id, 100, &b);
    new_session(&f->s, d2.id, o.id, 100, &c);
    assert_int_equal(f->s.ops->session_end(&f->s, b.id, 200, "exit", true, 0), 0);
    n = 0;
    assert_int_equal(f->s.ops->session_list_active(&f->s, d1.id, count_session, &n), 0);
    assert_int_equal(n, 1); /* a; b has ended */
    n = 0;
    assert_int_equal(f->s.ops->session_list_active(&f->s, NULL, count_session, &n), 0);
    assert_int_equal(n, 2); /* a and c */
    n = 0;
    assert_int_equal(f->s.ops->session_list_active(&f->s, "no-such-device", count_session, &n), 0);
    assert_int_equal(n, 0);
}

static void collect_share(const struct cl_share *sh, void *ctx)
{
    struct cl_share *out = ctx;
    while (out->user_id[0])
        out++;
    *out = *sh;
}

static void test_session_shares(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m1, m2;
    struct cl_project p;
    struct cl_device d;
    struct cl_session sess;
    struct cl_share list[4];
    enum cl_share_mode mode = CL_SHARE_NONE;
    new_user(&f->s, "o@example.com", &o);
    new_user(&f->s, "m1@example.com", &m1);
    new_user(&f->s, "m2@example.com", &m2);
    new_project(&f->s, o.id, "p", 1, &p);
    new_device(&f->s, p.id, "d", 10, "SHR23456", 1000, &d);
    new_session(&f->s, d.id, o.id, 100, &sess);

    assert_int_equal(f->s.ops->share_get(&f->s, sess.id, m1.id, &mode), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->share_set(&f->s, sess.id, m1.id, CL_SHARE_VIEW, o.id, 5), 0);
    assert_int_equal(f->s.ops->share_set(&f->s, sess.id, m2.id, CL_SHARE_CONTROL, o.id, 6), 0);
    assert_int_equal(f->s.ops->share_get(&f->s, sess.id, m1.id, &mode), 0);
    assert_int_equal(mode, CL_SHARE_VIEW);
    /* setting again changes the mode, not the row count */
    assert_int_equal(f->s.ops->share_set(&f->s, sess.id, m1.id, CL_SHARE_CONTROL, o.id, 7), 0);
    assert_int_equal(f->s.ops->share_get(&f->s, sess.id, m1.id, &mode), 0);
    assert_int_equal(mode, CL_SHARE_CONTROL);
    memset(list, 0, sizeof list);
    assert_int_equal(f->s.ops->share_list(&f->s, sess.id, collect_share, list), 0);
    assert_string_equal(list[0].email, "m1@example.com");
    assert_string_equal(list[1].email, "m2@example.com");
    assert_int_equal(list[1].mode, CL_SHARE_CONTROL);
    assert_string_equal(list[2].user_id, "");

    assert_int_equal(f->s.ops->share_remove(&f->s, sess.id, m1.id), 0);
    assert_int_equal(f->s.ops->share_remove(&f->s, sess.id, m1.id), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->share_get(&f->s, sess.id, m1.id, &mode), CL_ENOTFOUND);
    /* unknown session or user: the foreign keys refuse it */
    assert_int_equal(f->s.ops->share_set(&f->s, "no-such-session", m1.id, CL_SHARE_VIEW, o.id, 8),
                     CL_ENOTFOUND);
    assert_int_equal(f->s.ops->share_set(&f->s, sess.id, m1.id, CL_SHARE_NONE, o.id, 8), CL_EINVAL);
}

static void collect_invitation(const struct cl_invitation *inv, void *ctx);

static void test_invitation_accept(void **state)
{
    struct fx *f = *state;
    struct cl_user o, later;
    struct cl_project p1, p2;
    struct cl_invitation inv[4], got;
    char id[CL_UUID_LEN + 1], id2[CL_UUID_LEN + 1];
    enum cl_role role = CL_ROLE_NONE;
    size_t n = 99;
    new_user(&f->s, "o@example.com", &o);
    new_project(&f->s, o.id, "p1", 1, &p1);
    new_project(&f->s, o.id, "p2", 2, &p2);
    assert_int_equal(f->s.ops->invitation_create(&f->s, p1.id, "new@example.com", o.id, 5, id), 0);
    assert_int_equal(strlen(id), CL_UUID_LEN);
    /* one pending invitation per address and project (case-insensitive) */
    assert_int_equal(f->s.ops->invitation_create(&f->s, p1.id, "NEW@example.com", o.id, 6, id),
                     CL_EEXIST);
    assert_int_equal(f->s.ops->invitation_create(&f->s, p2.id, "new@example.com", o.id, 7, id2), 0);
    assert_int_equal(f->s.ops->invitation_count_pending(&f->s, p1.id, &n), 0);
    assert_int_equal(n, 1);
    /* signing up joins nothing: the invitations wait for an answer */
    new_user(&f->s, "new@example.com", &later);
    assert_int_equal(f->s.ops->member_role(&f->s, p1.id, later.id, &role), 0);
    assert_int_equal(role, CL_ROLE_NONE);
    memset(inv, 0, sizeof inv);
    assert_int_equal(
        f->s.ops->invitation_list_for_email(&f->s, "NEW@example.com", collect_invitation, inv), 0);
    assert_string_equal(inv[0].project_name, "p1");
    assert_string_equal(inv[0].inviter_email, "o@example.com");
    assert_string_equal(inv[1].id, id2);
    assert_string_equal(inv[2].id, "");
    assert_int_equal(f->s.ops->invitation_get(&f->s, id2, &got), 0);
    assert_string_equal(got.project_id, p2.id);
    assert_string_equal(got.email, "new@example.com");
    /* accept p2's: a member; decline p1's: not; neither is pending any more */
    assert_int_equal(f->s.ops->invitation_respond(&f->s, id2, later.id, true, 8), 0);
    assert_int_equal(f->s.ops->member_role(&f->s, p2.id, later.id, &role), 0);
    assert_int_equal(role, CL_ROLE_MEMBER);
    assert_int_equal(f->s.ops->invitation_respond(&f->s, id2, later.id, true, 9), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->invitation_respond(&f->s, inv[0].id, later.id, false, 9), 0);
    assert_int_equal(f->s.ops->member_role(&f->s, p1.id, later.id, &role), 0);
    assert_int_equal(role, CL_ROLE_NONE);
    assert_int_equal(f->s.ops->invitation_get(&f->s, inv[0].id, &got), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->invitation_count_pending(&f->s, p1.id, &n), 0);
    assert_int_equal(n, 0);
    /* a declined address may be invited again */
    assert_int_equal(f->s.ops->invitation_create(&f->s, p1.id, "new@example.com", o.id, 10, id), 0);
    /* unknown project */
    assert_int_equal(
        f->s.ops->invitation_create(&f->s, "no-such-project", "x@example.com", o.id, 11, id),
        CL_ENOTFOUND);
}

static void test_session_lifecycle(void **state)
{
    struct fx *f = *state;
    struct cl_user o;
    struct cl_project p;
    struct cl_device d;
    struct cl_session s1, s2, got;
    new_user(&f->s, "o@example.com", &o);
    new_project(&f->s, o.id, "p", 1, &p);
    new_device(&f->s, p.id, "d", 10, "SESS2345", 1000, &d);
    new_session(&f->s, d.id, o.id, 100, &s1);
    new_session(&f->s, d.id, o.id, 100, &s2);

    assert_int_equal(f->s.ops->session_get(&f->s, s1.id, &got), 0);
    assert_string_equal(got.id, s1.id);
    assert_string_equal(got.device_id, d.id);
    assert_string_equal(got.user_id, o.id);
    assert_true(got.active);
    assert_int_equal(got.started_at, 100);
    assert_int_equal(got.ended_at, 0);
    assert_string_equal(got.end_reason, "");
    assert_false(got.has_exit_code);

    /* ended with an exit code; the first end wins */
    assert_int_equal(f->s.ops->session_end(&f->s, s1.id, 200, "exit", true, 3), 0);
    assert_int_equal(f->s.ops->session_end(&f->s, s1.id, 300, "idle", false, 0), 0);
    assert_int_equal(f->s.ops->session_get(&f->s, s1.id, &got), 0);
    assert_false(got.active);
    assert_int_equal(got.ended_at, 200);
    assert_string_equal(got.end_reason, "exit");
    assert_true(got.has_exit_code);
    assert_int_equal(got.exit_code, 3);

    /* exit code 0 is a code, not "unknown" */
    assert_int_equal(f->s.ops->session_end(&f->s, s2.id, 250, "hangup", false, 0), 0);
    assert_int_equal(f->s.ops->session_get(&f->s, s2.id, &got), 0);
    assert_false(got.active);
    assert_false(got.has_exit_code);
    assert_string_equal(got.end_reason, "hangup");
    new_session(&f->s, d.id, o.id, 100, &s2);
    assert_int_equal(f->s.ops->session_end(&f->s, s2.id, 260, NULL, true, 0), 0);
    assert_int_equal(f->s.ops->session_get(&f->s, s2.id, &got), 0);
    assert_true(got.has_exit_code);
    assert_int_equal(got.exit_code, 0);
    assert_string_equal(got.end_reason, "");

    assert_int_equal(f->s.ops->session_get(&f->s, d.id, &got), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->session_end(&f->s, d.id, 1, "exit", false, 0), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->session_create(&f->s, &s1), CL_EEXIST);

    /* a session on an unknown device */
    got = s1;
    cl_uuid_new(got.id);
    cl_uuid_new(got.device_id);
    assert_int_equal(f->s.ops->session_create(&f->s, &got), CL_ENOTFOUND);

    /* open sessions counted per device and per user (start-session's caps) */
    size_t per_dev = 99, per_user = 99;
    assert_int_equal(f->s.ops->session_count_open(&f->s, d.id, o.id, &per_dev, &per_user), 0);
    assert_int_equal(per_dev, 0); /* every session above has ended */
    assert_int_equal(per_user, 0);
    new_session(&f->s, d.id, o.id, 100, &s1);
    new_session(&f->s, d.id, o.id, 100, &s2);
    assert_int_equal(f->s.ops->session_count_open(&f->s, d.id, o.id, &per_dev, &per_user), 0);
    assert_int_equal(per_dev, 2);
    assert_int_equal(per_user, 2);
    assert_int_equal(f->s.ops->session_end(&f->s, s2.id, 300, "exit", false, 0), 0);
    assert_int_equal(f->s.ops->session_count_open(&f->s, d.id, "nobody", &per_dev, &per_user), 0);
    assert_int_equal(per_dev, 1);
    assert_int_equal(per_user, 0);
}

static void collect_token(const struct cl_token *t, void *ctx)
{
    struct tokens_seen *s = ctx;
    assert_true(s->n < 8);
    s->t[s->n++] = *t;
}

static void test_token_list_touch_revoke(void **state)
{
    struct fx *f = *state;
    struct cl_user u, other;
    uint8_t h[3][CL_HASH_LEN], ho[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1];
    struct tokens_seen seen;
    struct cl_token t;
    int revoked = -1;

    new_user(&f->s, "list@example.com", &u);
    new_user(&f->s, "other@example.com", &other);
    cl_hash_str("clu_a", h[0]);
    cl_hash_str("clu_b", h[1]);
    cl_hash_str("clu_c", h[2]);
    cl_hash_str("clu_other", ho);
    assert_int_equal(f->s.ops->token_create(&f->s, h[0], u.id, 100, 10000), 0);
    assert_int_equal(f->s.ops->token_create(&f->s, h[1], u.id, 200, 10000), 0);
    assert_int_equal(f->s.ops->token_create(&f->s, h[2], u.id, 300, 400), 0); /* expires */
    assert_int_equal(f->s.ops->token_create(&f->s, ho, other.id, 100, 10000), 0);

    /* newest first, live only, the current one marked, never used yet */
    memset(&seen, 0, sizeof seen);
    assert_int_equal(f->s.ops->token_list(&f->s, u.id, 350, h[1], collect_token, &seen), 0);
    assert_int_equal(seen.n, 3);
    assert_int_equal(seen.t[0].created_at, 300);
    assert_int_equal(seen.t[1].created_at, 200);
    assert_true(seen.t[1].current);
    assert_false(seen.t[0].current || seen.t[2].current);
    assert_int_equal(seen.t[2].last_used_at, 0);
    assert_int_equal(seen.t[2].expires_at, 10000);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(f->s.ops->token_list(&f->s, u.id, 400, NULL, collect_token, &seen), 0);
    assert_int_equal(seen.n, 2); /* the third expired */
    assert_false(seen.t[0].current || seen.t[1].current);

    /* last_used: written on use, then at most every CL_TOKEN_TOUCH_S */
    assert_int_equal(f->s.ops->token_user(&f->s, h[0], 1000, uid), 0);
    assert_int_equal(f->s.ops->token_get(&f->s, seen.t[1].id, &t), 0);
    assert_int_equal(t.last_used_at, 1000);
    assert_int_equal(f->s.ops->token_user(&f->s, h[0], 1000 + CL_TOKEN_TOUCH_S - 1, uid), 0);
    assert_int_equal(f->s.ops->token_get(&f->s, seen.t[1].id, &t), 0);
    assert_int_equal(t.last_used_at, 1000);
    assert_int_equal(f->s.ops->token_user(&f->s, h[0], 1000 + CL_TOKEN_TOUCH_S, uid), 0);
    assert_int_equal(f->s.ops->token_get(&f->s, seen.t[1].id, &t), 0);
    assert_int_equal(t.last_used_at, 1000 + CL_TOKEN_TOUCH_S);
    assert_string_equal(t.user_id, u.id);

    /* revoke one by id: it stops working and leaves the list */
    assert_int_equal(f->s.ops->token_revoke_id(&f->s, seen.t[1].id, 1100), 0);
    assert_int_equal(f->s.ops->token_revoke_id(&f->s, seen.t[1].id, 1200), 0); /* twice: fine */
    assert_int_equal(f->s.ops->token_user(&f->s, h[0], 1101, uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->token_get(&f->s, seen.t[1].id, &t), 0); /* still known */
    assert_int_equal(f->s.ops->token_revoke_id(&f->s, "00000000-0000-4000-8000-000000000000", 1),
                     CL_ENOTFOUND);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(f->s.ops->token_list(&f->s, u.id, 1101, NULL, collect_token, &seen), 0);
    assert_int_equal(seen.n, 1);

    /* revoke all but one, then all; other users are untouched */
    assert_int_equal(f->s.ops->token_create(&f->s, h[2], u.id, 1200, 10000), CL_EEXIST);
    cl_hash_str("clu_d", h[2]);
    assert_int_equal(f->s.ops->token_create(&f->s, h[2], u.id, 1200, 10000), 0);
    assert_int_equal(f->s.ops->tokens_revoke_all(&f->s, u.id, h[2], 1300, &revoked), 0);
    assert_int_equal(revoked, 2); /* b and the expired c (a was revoked already) */
    assert_int_equal(f->s.ops->token_user(&f->s, h[1], 1301, uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->token_user(&f->s, h[2], 1301, uid), 0);
    assert_int_equal(f->s.ops->tokens_revoke_all(&f->s, u.id, NULL, 1400, &revoked), 0);
    assert_int_equal(revoked, 1);
    assert_int_equal(f->s.ops->token_user(&f->s, h[2], 1401, uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->token_user(&f->s, ho, 1401, uid), 0);
    assert_string_equal(uid, other.id);
}

static void test_user_set_password(void **state)
{
    struct fx *f = *state;
    struct cl_user u, got;
    uint8_t keep[CL_HASH_LEN], other[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1];
    new_user(&f->s, "pw@example.com", &u);
    cl_hash_str("clu_keep", keep);
    cl_hash_str("clu_other", other);
    assert_int_equal(f->s.ops->token_create(&f->s, keep, u.id, 1, 1000), 0);
    assert_int_equal(f->s.ops->token_create(&f->s, other, u.id, 1, 1000), 0);

    assert_int_equal(f->s.ops->user_set_password(&f->s, u.id, "$argon2id$new", keep, 5), 0);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_string_equal(got.pw_hash, "$argon2id$new");
    assert_int_equal(f->s.ops->token_user(&f->s, keep, 6, uid), 0);
    assert_int_equal(f->s.ops->token_user(&f->s, other, 6, uid), CL_ENOTFOUND);

    assert_int_equal(f->s.ops->user_set_password(&f->s, u.id, "", keep, 5), CL_EINVAL);
    assert_int_equal(f->s.ops->user_set_password(&f->s, "00000000-0000-4000-8000-000000000000",
                                                 "$argon2id$x", NULL, 5),
                     CL_ENOTFOUND);
    /* a failed change leaves the tokens alone (one transaction) */
    assert_int_equal(f->s.ops->token_user(&f->s, keep, 6, uid), 0);
}

static void collect_member(const struct cl_member *m, void *ctx)
{
    struct cl_member *out = ctx;
    while (out->user_id[0])
        out++;
    *out = *m;
}

static void test_members_list_remove(void **state)
{
    struct fx *f = *state;
    struct cl_user o, a, b;
    struct cl_project p, other;
    struct cl_device d, d2;
    struct cl_session sa, sa_other, so, got;
    struct cl_member ms[4];
    enum cl_role role;
    enum cl_share_mode mode;
    new_user(&f->s, "o@example.com", &o);
    new_user(&f->s, "a@example.com", &a);
    new_user(&f->s, "b@example.com", &b);
    new_project(&f->s, o.id, "p", 1, &p);
    new_project(&f->s, o.id, "other", 1, &other);
    assert_int_equal(f->s.ops->member_add(&f->s, p.id, b.id, CL_ROLE_MEMBER, o.id, 3), 0);
    assert_int_equal(f->s.ops->member_add(&f->s, p.id, a.id, CL_ROLE_MEMBER, o.id, 2), 0);
    assert_int_equal(f->s.ops->member_add(&f->s, other.id, a.id, CL_ROLE_MEMBER, o.id, 2), 0);

    /* the owner first, then by when they joined */
    memset(ms, 0, sizeof ms);
    assert_int_equal(f->s.ops->member_list(&f->s, p.id, collect_member, ms), 0);
    assert_string_equal(ms[0].user_id, o.id);
    assert_int_equal(ms[0].role, CL_ROLE_OWNER);
    assert_string_equal(ms[0].invited_by, "");
    assert_string_equal(ms[1].user_id, a.id);
    assert_string_equal(ms[1].email, "a@example.com");
    assert_string_equal(ms[1].display_name, "name of a@example.com");
    assert_int_equal(ms[1].role, CL_ROLE_MEMBER);
    assert_string_equal(ms[1].invited_by, o.id);
    assert_int_equal(ms[1].created_at, 2);
    assert_string_equal(ms[2].user_id, b.id);
    assert_string_equal(ms[3].user_id, "");

    /* a's live session here ends; the owner's session shared with a loses
     * the share; a's session in the other project is untouched */
    new_device(&f->s, p.id, "d", 10, "MREM2345", 1000, &d);
    new_device(&f->s, other.id, "d2", 10, "MREM3456", 1000, &d2);
    new_session(&f->s, d.id, a.id, 100, &sa);
    new_session(&f->s, d.id, o.id, 100, &so);
    new_session(&f->s, d2.id, a.id, 100, &sa_other);
    assert_int_equal(f->s.ops->share_set(&f->s, so.id, a.id, CL_SHARE_CONTROL, o.id, 5), 0);
    assert_int_equal(f->s.ops->share_set(&f->s, so.id, b.id, CL_SHARE_VIEW, o.id, 5), 0);

    /* the owner cannot be removed; non-members are not found */
    assert_int_equal(f->s.ops->member_remove(&f->s, p.id, o.id, 9, NULL), CL_ESTATE);
    assert_int_equal(f->s.ops->member_role(&f->s, p.id, o.id, &role), 0);
    assert_int_equal(role, CL_ROLE_OWNER);
    assert_int_equal(f->s.ops->member_remove(&f->s, other.id, b.id, 9, NULL), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->member_remove(&f->s, "no-such-project", a.id, 9, NULL),
                     CL_ENOTFOUND);

    assert_int_equal(f->s.ops->member_remove(&f->s, p.id, a.id, 20, NULL), 0);
    assert_int_equal(f->s.ops->member_role(&f->s, p.id, a.id, &role), 0);
    assert_int_equal(role, CL_ROLE_NONE);
    assert_int_equal(f->s.ops->session_get(&f->s, sa.id, &got), 0);
    assert_false(got.active);
    assert_int_equal(got.ended_at, 20);
    assert_string_equal(got.end_reason, "member_removed");
    assert_int_equal(f->s.ops->share_get(&f->s, so.id, a.id, &mode), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->share_get(&f->s, so.id, b.id, &mode), 0);
    assert_int_equal(f->s.ops->session_get(&f->s, so.id, &got), 0);
    assert_true(got.active);
    assert_int_equal(f->s.ops->session_get(&f->s, sa_other.id, &got), 0);
    assert_true(got.active);
    assert_int_equal(f->s.ops->member_role(&f->s, other.id, a.id, &role), 0);
    assert_int_equal(role, CL_ROLE_MEMBER);
    assert_int_equal(f->s.ops->member_remove(&f->s, p.id, a.id, 21, NULL), CL_ENOTFOUND);
    /* removed members can be added again */
    assert_int_equal(f->s.ops->member_add(&f->s, p.id, a.id, CL_ROLE_MEMBER, o.id, 22), 0);
}

static void collect_invitation(const struct cl_invitation *inv, void *ctx)
{
    struct cl_invitation *out = ctx;
    while (out->id[0])
        out++;
    *out = *inv;
}

static void test_invitation_list_cancel(void **state)
{
    struct fx *f = *state;
    struct cl_user o, later;
    struct cl_project p, p2;
    struct cl_invitation inv[4];
    char i1[CL_UUID_LEN + 1], i2[CL_UUID_LEN + 1], i3[CL_UUID_LEN + 1];
    new_user(&f->s, "o@example.com", &o);
    new_project(&f->s, o.id, "p", 1, &p);
    new_project(&f->s, o.id, "p2", 1, &p2);
    assert_int_equal(f->s.ops->invitation_create(&f->s, p.id, "one@example.com", o.id, 5, i1), 0);
    assert_int_equal(f->s.ops->invitation_create(&f->s, p.id, "two@example.com", o.id, 6, i2), 0);
    assert_int_equal(f->s.ops->invitation_create(&f->s, p2.id, "two@example.com", o.id, 7, i3), 0);
    memset(inv, 0, sizeof inv);
    assert_int_equal(f->s.ops->invitation_list(&f->s, p.id, collect_invitation, inv), 0);
    assert_string_equal(inv[0].id, i1);
    assert_string_equal(inv[0].email, "one@example.com");
    assert_string_equal(inv[0].project_id, p.id);
    assert_string_equal(inv[0].invited_by, o.id);
    assert_int_equal(inv[0].created_at, 5);
    assert_string_equal(inv[1].id, i2);
    assert_string_equal(inv[2].id, "");

    /* cancel: only through its own project, only while pending */
    assert_int_equal(f->s.ops->invitation_cancel(&f->s, p2.id, i2), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->invitation_cancel(&f->s, p.id, i2), 0);
    assert_int_equal(f->s.ops->invitation_cancel(&f->s, p.id, i2), CL_ENOTFOUND);
    memset(inv, 0, sizeof inv);
    assert_int_equal(f->s.ops->invitation_list(&f->s, p.id, collect_invitation, inv), 0);
    assert_string_equal(inv[0].id, i1);
    assert_string_equal(inv[1].id, "");
    /* a cancelled invitation cannot be answered; the other project's can */
    new_user(&f->s, "two@example.com", &later);
    assert_int_equal(f->s.ops->invitation_respond(&f->s, i2, later.id, true, 8), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->invitation_respond(&f->s, i3, later.id, true, 8), 0);
    /* and the address may be invited again */
    assert_int_equal(f->s.ops->invitation_create(&f->s, p.id, "two@example.com", o.id, 9, i2), 0);
    /* accepted ones are not listed */
    memset(inv, 0, sizeof inv);
    assert_int_equal(f->s.ops->invitation_list(&f->s, p2.id, collect_invitation, inv), 0);
    assert_string_equal(inv[0].id, "");
}

static void test_user_create_and_get(void **state)
{
    struct fx *f = *state;
    struct cl_user u, got;
    new_user(&f->s, "Alice@Example.COM", &u);

    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_string_equal(got.id, u.id);
    assert_string_equal(got.email, "alice@example.com"); /* stored lower-cased */
    assert_string_equal(got.display_name, "name of Alice@Example.COM");
    assert_string_equal(got.pw_hash, u.pw_hash);
    assert_int_equal(got.created_at, 1000);

    memset(&got, 0, sizeof got);
    assert_int_equal(f->s.ops->user_by_email(&f->s, "ALICE@example.com", &got), 0);
    assert_string_equal(got.id, u.id);
    /* the key may live in the output struct */
    assert_int_equal(f->s.ops->user_by_email(&f->s, got.email, &got), 0);
    assert_string_equal(got.id, u.id);

    assert_int_equal(f->s.ops->user_by_email(&f->s, "bob@example.com", &got), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->user_by_id(&f->s, "00000000-0000-4000-8000-000000000000", &got),
                     CL_ENOTFOUND);
}

static void test_user_email_unique_case_insensitive(void **state)
{
    struct fx *f = *state;
    struct cl_user u;
    new_user(&f->s, "carol@example.com", &u);
    refuse_duplicate_users(&f->s, &u, "CAROL@EXAMPLE.com");
}

static void test_user_invalid_input(void **state)
{
    struct fx *f = *state;
    refuse_invalid_users(&f->s);
}

static void test_project_create_get(void **state)
{
    struct fx *f = *state;
    struct cl_user o;
    struct cl_project p, got, dup;
    enum cl_role role = CL_ROLE_MEMBER;
    new_user(&f->s, "owner@example.com", &o);
    new_project(&f->s, o.id, "Home Lab", 500, &p);

    assert_int_equal(f->s.ops->project_get(&f->s, p.id, &got), 0);
    assert_string_equal(got.id, p.id);
    assert_string_equal(got.name, "Home Lab");
    assert_string_equal(got.owner_id, o.id);
    assert_int_equal(got.created_at, 500);
    assert_int_equal(got.updated_at, 500);
    assert_int_equal(f->s.ops->project_get(&f->s, o.id, &got), CL_ENOTFOUND);

    /* the owner became an owner member */
    assert_int_equal(f->s.ops->member_role(&f->s, p.id, o.id, &role), 0);
    assert_int_equal(role, CL_ROLE_OWNER);

    dup = p;
    assert_int_equal(f->s.ops->project_create(&f->s, &dup), CL_EEXIST);
    /* an unknown owner creates nothing, not even half a project */
    cl_uuid_new(dup.id);
    cl_uuid_new(dup.owner_id);
    assert_int_equal(f->s.ops->project_create(&f->s, &dup), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->project_get(&f->s, dup.id, &got), CL_ENOTFOUND);
}

static void test_device_online(void **state)
{
    struct fx *f = *state;
    struct cl_user o;
    struct cl_project p;
    struct cl_device d1, d2, got;
    new_user(&f->s, "o@example.com", &o);
    new_project(&f->s, o.id, "p", 1, &p);
    new_device(&f->s, p.id, "one", 10, "ONE23456", 1000, &d1);
    new_device(&f->s, p.id, "two", 11, "TWO23456", 1000, &d2);

    assert_int_equal(f->s.ops->device_set_online(&f->s, d1.id, true, 50), 0);
    assert_int_equal(f->s.ops->device_set_online(&f->s, d2.id, true, 60), 0);
    assert_int_equal(f->s.ops->device_get(&f->s, d1.id, &got), 0);
    assert_true(got.online);
    assert_int_equal(got.last_seen, 50);

    assert_int_equal(f->s.ops->device_set_online(&f->s, d1.id, false, 70), 0);
    assert_int_equal(f->s.ops->device_get(&f->s, d1.id, &got), 0);
    assert_false(got.online);
    assert_int_equal(got.last_seen, 70);
    assert_int_equal(f->s.ops->device_get(&f->s, d2.id, &got), 0);
    assert_true(got.online);

    assert_int_equal(f->s.ops->device_set_online(&f->s, d1.id, true, 80), 0);
    assert_int_equal(f->s.ops->device_all_offline(&f->s, 90), 0);
    assert_int_equal(f->s.ops->device_get(&f->s, d1.id, &got), 0);
    assert_false(got.online);
    assert_int_equal(got.last_seen, 90);
    assert_int_equal(f->s.ops->device_get(&f->s, d2.id, &got), 0);
    assert_false(got.online);
    /* idempotent with nothing online */
    assert_int_equal(f->s.ops->device_all_offline(&f->s, 95), 0);

    assert_int_equal(f->s.ops->device_set_online(&f->s, "no-such-device", true, 1), CL_ENOTFOUND);
}

static void test_profile_update(void **state)
{
    struct fx *f = *state;
    struct cl_user u, got;
    char long_url[CL_AVATAR_URL_MAX + 2];
    new_user(&f->s, "prof@example.com", &u);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_string_equal(got.avatar_url, "");

    assert_int_equal(f->s.ops->profile_update(&f->s, u.id, "New Name", NULL), 0);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_string_equal(got.display_name, "New Name");
    assert_string_equal(got.avatar_url, "");
    assert_int_equal(f->s.ops->profile_update(&f->s, u.id, NULL, "https://x.test/a.png"), 0);
    assert_int_equal(f->s.ops->user_by_email(&f->s, "prof@example.com", &got), 0);
    assert_string_equal(got.display_name, "New Name");
    assert_string_equal(got.avatar_url, "https://x.test/a.png");
    /* "" clears the avatar (stored NULL, as seed 001's nullable column) */
    assert_int_equal(f->s.ops->profile_update(&f->s, u.id, "", ""), 0);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_string_equal(got.display_name, "");
    assert_string_equal(got.avatar_url, "");

    memset(long_url, 'a', sizeof long_url - 1);
    long_url[sizeof long_url - 1] = 0;
    assert_int_equal(f->s.ops->profile_update(&f->s, u.id, NULL, long_url), CL_EINVAL);
    assert_int_equal(
        f->s.ops->profile_update(&f->s, "00000000-0000-4000-8000-000000000000", "x", NULL),
        CL_ENOTFOUND);
}

static void test_user_delete_refused_then_cascades(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m, x;
    struct cl_project shared, solo, others;
    struct cl_device d_shared, d_solo, d_others;
    struct cl_session s_solo, s_others, got;
    uint8_t h[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1], inv[CL_UUID_LEN + 1];
    enum cl_role role;

    new_user(&f->s, "owner@example.com", &o);
    new_user(&f->s, "member@example.com", &m);
    new_user(&f->s, "x@example.com", &x);
    new_project(&f->s, o.id, "shared", 1, &shared);
    new_project(&f->s, o.id, "solo", 2, &solo);
    new_project(&f->s, x.id, "x's", 3, &others);
    assert_int_equal(f->s.ops->member_add(&f->s, shared.id, m.id, CL_ROLE_MEMBER, o.id, 2), 0);
    assert_int_equal(f->s.ops->member_add(&f->s, others.id, o.id, CL_ROLE_MEMBER, x.id, 3), 0);
    assert_int_equal(
        f->s.ops->invitation_create(&f->s, solo.id, "someone@example.com", o.id, 4, inv), 0);
    new_device(&f->s, shared.id, "ds", 10, "DSHA2345", 1000, &d_shared);
    new_device(&f->s, solo.id, "dl", 10, "DSOL2345", 1000, &d_solo);
    new_device(&f->s, others.id, "dx", 10, "DOTH2345", 1000, &d_others);
    new_session(&f->s, d_solo.id, o.id, 100, &s_solo);
    new_session(&f->s, d_others.id, o.id, 100, &s_others);
    cl_hash_str("clu_o", h);
    assert_int_equal(f->s.ops->token_create(&f->s, h, o.id, 1, 1000), 0);

    /* refused while a project they own has another member; nothing changed */
    assert_int_equal(f->s.ops->user_delete(&f->s, o.id, 50, NULL), CL_ESTATE);
    assert_int_equal(f->s.ops->user_by_id(&f->s, o.id, &x), 0);
    assert_int_equal(f->s.ops->session_get(&f->s, s_others.id, &got), 0);
    assert_true(got.active);
    assert_int_equal(f->s.ops->token_user(&f->s, h, 2, uid), 0);

    /* being a member elsewhere does not block; once the member is gone it goes */
    assert_int_equal(f->s.ops->member_remove(&f->s, shared.id, m.id, 55, NULL), 0);
    assert_int_equal(f->s.ops->user_delete(&f->s, o.id, 60, NULL), 0);
    assert_int_equal(f->s.ops->user_by_id(&f->s, o.id, &x), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->token_user(&f->s, h, 2, uid), CL_ENOTFOUND);
    /* owned projects with their devices, sessions and invitations */
    assert_int_equal(f->s.ops->project_get(&f->s, shared.id, &shared), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->project_get(&f->s, solo.id, &solo), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_get(&f->s, d_solo.id, &d_solo), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->session_get(&f->s, s_solo.id, &got), CL_ENOTFOUND);
    /* their session in someone else's project: ended, kept, without a user */
    assert_int_equal(f->s.ops->session_get(&f->s, s_others.id, &got), 0);
    assert_false(got.active);
    assert_int_equal(got.ended_at, 60);
    assert_string_equal(got.end_reason, "account_deleted");
    assert_string_equal(got.user_id, "");
    /* the other project stays, without them */
    assert_int_equal(f->s.ops->project_get(&f->s, others.id, &others), 0);
    assert_int_equal(f->s.ops->member_role(&f->s, others.id, o.id, &role), 0);
    assert_int_equal(role, CL_ROLE_NONE);
    assert_int_equal(f->s.ops->user_delete(&f->s, o.id, 70, NULL), CL_ENOTFOUND);
}

/* Email verification links (issue 14): one live per user, spent once,
 * expiring, and proving only the address they were sent to. */
static void test_email_verification(void **state)
{
    struct fx *f = *state;
    struct cl_user u, got;
    uint8_t v1[CL_HASH_LEN], v2[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1] = "";
    new_user(&f->s, "verify@example.com", &u);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_int_equal(got.email_verified_at, 0);
    cl_hash_str("clv_one", v1);
    cl_hash_str("clv_two", v2);
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, u.email, v1, 100, 200), 0);
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, u.email, v2, 110, 210), 0);
    /* the older link was replaced */
    assert_int_equal(f->s.ops->verify_consume(&f->s, v1, 120, uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->verify_consume(&f->s, v2, 120, uid), 0);
    assert_string_equal(uid, u.id);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_int_equal(got.email_verified_at, 120);
    /* once */
    assert_int_equal(f->s.ops->verify_consume(&f->s, v2, 121, uid), CL_ENOTFOUND);
    /* expired at expires_at, and spent by the attempt */
    assert_int_equal(f->s.ops->user_set_email_verified(&f->s, u.id, 0), 0);
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, u.email, v1, 200, 300), 0);
    assert_int_equal(f->s.ops->verify_consume(&f->s, v1, 300, uid), CL_EEXPIRED);
    assert_int_equal(f->s.ops->verify_consume(&f->s, v1, 250, uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_int_equal(got.email_verified_at, 0);
    /* a link sent to another address than the account's proves nothing */
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, "old@example.com", v1, 400, 500), 0);
    assert_int_equal(f->s.ops->verify_consume(&f->s, v1, 410, uid), CL_ESTATE);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_int_equal(got.email_verified_at, 0);
    /* the operator's mark drops a live link; unknown users */
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, u.email, v1, 500, 600), 0);
    assert_int_equal(f->s.ops->user_set_email_verified(&f->s, u.id, 510), 0);
    assert_int_equal(
        f->s.ops->user_set_email_verified(&f->s, "00000000-0000-4000-8000-000000000000", 1),
        CL_ENOTFOUND);
    /* deleting the user takes a live link with it */
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, u.email, v1, 700, 800), 0);
    assert_int_equal(f->s.ops->user_delete(&f->s, u.id, 710, NULL), 0);
    assert_int_equal(f->s.ops->verify_consume(&f->s, v1, 720, uid), CL_ENOTFOUND);
}

static void test_password_reset(void **state)
{
    struct fx *f = *state;
    struct cl_user u, got;
    uint8_t r1[CL_HASH_LEN], r2[CL_HASH_LEN], tok[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1] = "";
    new_user(&f->s, "reset@example.com", &u);
    cl_hash_str("clr_one", r1);
    cl_hash_str("clr_two", r2);
    cl_hash_str("clu_session", tok);
    assert_int_equal(f->s.ops->token_create(&f->s, tok, u.id, 1, 10000), 0);

    /* a newer request leaves the older link valid (a stranger asking
     * cannot void the owner's); up to CL_RESET_LINKS_MAX live at once */
    assert_int_equal(f->s.ops->reset_create(&f->s, u.id, r1, 100, 100 + CL_RESET_TOKEN_TTL_S), 0);
    assert_int_equal(f->s.ops->reset_create(&f->s, u.id, r2, 110, 110 + CL_RESET_TOKEN_TTL_S), 0);
    new_reset_links(&f->s, u.id, "clr_more", 2, CL_RESET_LINKS_MAX, 111,
                    111 + CL_RESET_TOKEN_TTL_S);
    assert_int_equal(f->s.ops->reset_create(&f->s, u.id, tok, 112, 112 + CL_RESET_TOKEN_TTL_S),
                     CL_ELIMIT);
    assert_int_equal(f->s.ops->reset_consume(&f->s, r2, 120, "", uid), CL_EINVAL);

    /* using the first link sets the password and voids all the others */
    assert_int_equal(f->s.ops->reset_consume(&f->s, r1, 120, "$argon2id$new", uid), 0);
    assert_string_equal(uid, u.id);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_string_equal(got.pw_hash, "$argon2id$new");
    /* every sign-in token is revoked; the reset token is used up */
    assert_int_equal(f->s.ops->token_user(&f->s, tok, 121, uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->reset_consume(&f->s, r1, 121, "$argon2id$again", uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->reset_consume(&f->s, r2, 121, "$argon2id$again", uid), CL_ENOTFOUND);

    /* expired links do not count towards the bound, and go at the next request */
    new_reset_links(&f->s, u.id, "clr_old", 0, CL_RESET_LINKS_MAX, 130, 140);
    assert_int_equal(f->s.ops->reset_create(&f->s, u.id, r2, 140, 150), 0);
    /* a password change voids outstanding links too */
    assert_int_equal(f->s.ops->user_set_password(&f->s, u.id, "$argon2id$changed", NULL, 141), 0);
    assert_int_equal(f->s.ops->reset_consume(&f->s, r2, 142, "$argon2id$x", uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->user_set_password(&f->s, u.id, "$argon2id$new", NULL, 143), 0);

    /* expired at expires_at, and spent by the attempt */
    assert_int_equal(f->s.ops->reset_create(&f->s, u.id, r1, 200, 300), 0);
    assert_int_equal(f->s.ops->reset_consume(&f->s, r1, 300, "$argon2id$late", uid), CL_EEXPIRED);
    assert_int_equal(f->s.ops->reset_consume(&f->s, r1, 250, "$argon2id$late", uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_string_equal(got.pw_hash, "$argon2id$new");

    /* deleting the user takes a pending reset with it */
    assert_int_equal(f->s.ops->reset_create(&f->s, u.id, r1, 400, 500), 0);
    assert_int_equal(f->s.ops->user_delete(&f->s, u.id, 410, NULL), 0);
    assert_int_equal(f->s.ops->reset_consume(&f->s, r1, 420, "$argon2id$gone", uid), CL_ENOTFOUND);
    assert_int_equal(
        f->s.ops->reset_create(&f->s, "00000000-0000-4000-8000-000000000000", r1, 1, 2),
        CL_ENOTFOUND);
}

static void test_project_rename_delete(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m;
    struct cl_project p, keep, got;
    struct cl_device d;
    struct cl_session s1;
    new_user(&f->s, "o@example.com", &o);
    new_user(&f->s, "m@example.com", &m);
    new_project(&f->s, o.id, "old", 1, &p);
    new_project(&f->s, o.id, "kept", 2, &keep);
    assert_int_equal(f->s.ops->project_rename(&f->s, p.id, "new name", 50), 0);
    assert_int_equal(f->s.ops->project_get(&f->s, p.id, &got), 0);
    assert_string_equal(got.name, "new name");
    assert_int_equal(got.created_at, 1);
    assert_int_equal(got.updated_at, 50);
    assert_int_equal(f->s.ops->project_rename(&f->s, "no-such-project", "x", 51), CL_ENOTFOUND);

    fill_project(&f->s, &p, o.id, m.id, &d, &s1);
    assert_int_equal(f->s.ops->project_delete(&f->s, p.id, NULL), 0);
    assert_int_equal(f->s.ops->project_get(&f->s, p.id, &got), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &d), CL_ENOTFOUND);
    /* the other project stays */
    assert_int_equal(f->s.ops->project_get(&f->s, keep.id, &got), 0);
    assert_int_equal(f->s.ops->project_delete(&f->s, p.id, NULL), CL_ENOTFOUND);
}

static void count_device(const struct cl_device *d, void *ctx)
{
    (*(int *)ctx)++;
}

static void test_device_manage(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m, x;
    struct cl_project p, q2, xp;
    struct cl_device d, d2, dx, got;
    struct cl_session s1;
    uint8_t tok[CL_HASH_LEN], h[CL_HASH_LEN], code2[CL_HASH_LEN];
    int n;
    new_user(&f->s, "o@example.com", &o);
    new_user(&f->s, "m@example.com", &m);
    new_user(&f->s, "x@example.com", &x);
    new_project(&f->s, o.id, "p", 1, &p);
    new_project(&f->s, o.id, "q", 1, &q2);
    new_project(&f->s, x.id, "x's", 1, &xp);
    assert_int_equal(f->s.ops->member_add(&f->s, p.id, m.id, CL_ROLE_MEMBER, o.id, 2), 0);
    new_device(&f->s, p.id, "d", 10, "MGMT2345", 1000, &d);
    new_device(&f->s, q2.id, "d2", 11, "MGMT3456", 1000, &d2);
    new_device(&f->s, xp.id, "dx", 12, "MGMT4567", 1000, &dx);

    /* a new device is a connector that never connected */
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &got), 0);
    assert_string_equal(got.kind, CL_DEVICE_KIND_CONNECTOR);
    assert_int_equal(got.connected_at, 0);
    assert_int_equal(got.last_heartbeat, 0);

    /* rename */
    assert_int_equal(f->s.ops->device_rename(&f->s, d.id, "renamed"), 0);
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &got), 0);
    assert_string_equal(got.name, "renamed");
    assert_int_equal(f->s.ops->device_rename(&f->s, "no-such-device", "x"), CL_ENOTFOUND);

    /* pair, then a new code: the old code is dead, the token lives until
     * the new code is used, which replaces it */
    cl_hash_str("MGMT2345", h);
    cl_hash_str("cld_first", tok);
    assert_int_equal(f->s.ops->device_pair(&f->s, h, 20, NULL, tok, &got), 0);
    cl_hash_str("NEWC2345", code2);
    assert_int_equal(f->s.ops->device_new_code(&f->s, d.id, code2, 2000), 0);
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &got), 0);
    assert_true(got.paired);
    assert_int_equal(got.code_expires_at, 2000);
    assert_int_equal(f->s.ops->device_token_hash(&f->s, d.id, h), 0);
    assert_memory_equal(h, tok, CL_HASH_LEN);
    cl_hash_str("MGMT2345", h);
    assert_int_equal(f->s.ops->device_pair(&f->s, h, 21, NULL, tok, &got), CL_ENOTFOUND);
    cl_hash_str("cld_second", tok);
    assert_int_equal(f->s.ops->device_pair(&f->s, code2, 22, NULL, tok, &got), 0);
    assert_int_equal(f->s.ops->device_token_hash(&f->s, d.id, h), 0);
    assert_memory_equal(h, tok, CL_HASH_LEN);
    /* replacing an unused code kills it too; a code another device holds
     * is a collision */
    cl_hash_str("MGMT3456", h);
    assert_int_equal(f->s.ops->device_new_code(&f->s, d.id, h, 3000), CL_EEXIST);
    assert_int_equal(f->s.ops->device_new_code(&f->s, d2.id, code2, 3000), 0);
    assert_int_equal(f->s.ops->device_pair(&f->s, h, 23, NULL, tok, &got), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_new_code(&f->s, "no-such-device", h, 1), CL_ENOTFOUND);

    /* online: connected_at and last_heartbeat; offline keeps them */
    assert_int_equal(f->s.ops->device_set_online(&f->s, d.id, true, 100), 0);
    assert_int_equal(f->s.ops->device_heartbeat(&f->s, d.id, 115), 0);
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &got), 0);
    assert_int_equal(got.connected_at, 100);
    assert_int_equal(got.last_heartbeat, 115);
    assert_int_equal(f->s.ops->device_set_online(&f->s, d.id, false, 130), 0);
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &got), 0);
    assert_int_equal(got.connected_at, 100);
    assert_int_equal(got.last_heartbeat, 115);
    assert_int_equal(got.last_seen, 130);
    assert_int_equal(f->s.ops->device_heartbeat(&f->s, "no-such-device", 1), CL_ENOTFOUND);
    /* kind: a connector until an OpenClaw node's heartbeats say otherwise */
    assert_string_equal(got.kind, CL_DEVICE_KIND_CONNECTOR);
    assert_int_equal(f->s.ops->device_set_kind(&f->s, d.id, CL_DEVICE_KIND_OPENCLAW), 0);
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &got), 0);
    assert_string_equal(got.kind, CL_DEVICE_KIND_OPENCLAW);
    assert_int_equal(f->s.ops->device_set_kind(&f->s, "no-such-device", "openclaw"), CL_ENOTFOUND);

    /* what the device said about itself, and where from */
    {
        struct cl_device_info info;
        char big[CL_DEVICE_META_MAX + 2];
        assert_int_equal(f->s.ops->device_get_info(&f->s, d.id, &info), 0);
        assert_string_equal(info.meta, "");
        assert_int_equal(
            f->s.ops->device_set_info(&f->s, d.id, "{\"os\":\"linux\"}", "10.0.0.7", 140), 0);
        assert_int_equal(f->s.ops->device_set_info(&f->s, d.id, "{\"os\":\"bsd\"}", NULL, 150), 0);
        assert_int_equal(f->s.ops->device_get_info(&f->s, d.id, &info), 0);
        assert_string_equal(info.meta, "{\"os\":\"bsd\"}");
        assert_string_equal(info.remote_addr, "10.0.0.7"); /* NULL kept it */
        assert_int_equal(info.meta_updated_at, 150);
        assert_int_equal(f->s.ops->device_set_info(&f->s, d.id, NULL, "10.0.0.8", 151), 0);
        assert_int_equal(f->s.ops->device_get_info(&f->s, d.id, &info), 0);
        assert_string_equal(info.meta, "{\"os\":\"bsd\"}"); /* NULL kept it */
        assert_int_equal(info.meta_updated_at, 150);
        assert_string_equal(info.remote_addr, "10.0.0.8");
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        assert_int_equal(f->s.ops->device_set_info(&f->s, d.id, big, NULL, 152), CL_EINVAL);
        assert_int_equal(f->s.ops->device_set_info(&f->s, "no-such-device", NULL, NULL, 1),
                         CL_ENOTFOUND);
        assert_int_equal(f->s.ops->device_get_info(&f->s, "no-such-device", &info), CL_ENOTFOUND);

        /* online_since: kept across a reconnect within CL_DEVICE_ONLINE_GAP_S
         * (and a new connection while still online), new after a longer
         * time offline; connected_at is each connection's own */
        assert_int_equal(f->s.ops->device_set_online(&f->s, d.id, true, 1000), 0);
        assert_int_equal(f->s.ops->device_set_online(&f->s, d.id, false, 1010), 0);
        assert_int_equal(
            f->s.ops->device_set_online(&f->s, d.id, true, 1010 + CL_DEVICE_ONLINE_GAP_S), 0);
        assert_int_equal(f->s.ops->device_get_info(&f->s, d.id, &info), 0);
        assert_int_equal(info.online_since, 1000);
        assert_int_equal(info.connected_at, 1010 + CL_DEVICE_ONLINE_GAP_S);
        assert_int_equal(f->s.ops->device_set_online(&f->s, d.id, true, 2000), 0); /* replaced */
        assert_int_equal(f->s.ops->device_get_info(&f->s, d.id, &info), 0);
        assert_int_equal(info.online_since, 1000);
        assert_int_equal(f->s.ops->device_set_online(&f->s, d.id, false, 2100), 0);
        assert_int_equal(
            f->s.ops->device_set_online(&f->s, d.id, true, 2101 + CL_DEVICE_ONLINE_GAP_S), 0);
        assert_int_equal(f->s.ops->device_get_info(&f->s, d.id, &info), 0);
        assert_int_equal(info.online_since, 2101 + CL_DEVICE_ONLINE_GAP_S);
    }

    /* relay nodes: paired devices of the user's projects only */
    n = 0;
    assert_int_equal(f->s.ops->device_list_for_user(&f->s, o.id, count_device, &n), 0);
    assert_int_equal(n, 1); /* d; d2 is not paired */
    n = 0;
    assert_int_equal(f->s.ops->device_list_for_user(&f->s, m.id, count_device, &n), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(f->s.ops->device_list_for_user(&f->s, x.id, count_device, &n), 0);
    assert_int_equal(n, 0); /* dx is not paired, d is not theirs */

    /* delete: the device, its sessions and their shares */
    new_session(&f->s, d.id, m.id, 100, &s1);
    assert_int_equal(f->s.ops->share_set(&f->s, s1.id, o.id, CL_SHARE_VIEW, m.id, 4), 0);
    assert_int_equal(f->s.ops->device_delete(&f->s, d.id, NULL), 0);
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &got), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->session_get(&f->s, s1.id, &s1), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_delete(&f->s, d.id, NULL), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_get(&f->s, d2.id, &got), 0);
}

struct page {
    struct cl_session_info row[8];
    int n;
};

static void collect_page(const struct cl_session_info *si, void *ctx)
{
    struct page *pg = ctx;
    assert_true(pg->n < 8);
    pg->row[pg->n++] = *si;
}

static void test_session_list(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m;
    struct cl_project p, other;
    struct cl_device d1, d2, dx;
    struct cl_session s[5], sx;
    struct cl_session_filter flt;
    struct page pg;
    new_user(&f->s, "o@example.com", &o);
    new_user(&f->s, "m@example.com", &m);
    new_project(&f->s, o.id, "p", 1, &p);
    new_project(&f->s, o.id, "other", 1, &other);
    assert_int_equal(f->s.ops->member_add(&f->s, p.id, m.id, CL_ROLE_MEMBER, o.id, 2), 0);
    new_device(&f->s, p.id, "one", 10, "HIST2345", 1000, &d1);
    new_device(&f->s, p.id, "two", 11, "HIST3456", 1000, &d2);
    new_device(&f->s, other.id, "x", 12, "HIST4567", 1000, &dx);
    /* s0..s4 at times 100, 200, 200, 300, 400 */
    for (int i = 0; i < 5; i++) {
        memset(&s[i], 0, sizeof s[i]);
        cl_uuid_new(s[i].id);
        snprintf(s[i].device_id, sizeof s[i].device_id, "%s", i % 2 ? d2.id : d1.id);
        snprintf(s[i].user_id, sizeof s[i].user_id, "%s", i == 4 ? m.id : o.id);
        s[i].active = true;
        s[i].started_at = i == 0 ? 100 : i <= 2 ? 200 : i == 3 ? 300 : 400;
        assert_int_equal(f->s.ops->session_create(&f->s, &s[i]), 0);
    }
    new_session(&f->s, dx.id, o.id, 100, &sx);
    assert_int_equal(f->s.ops->session_end(&f->s, s[0].id, 150, "exit", true, 7), 0);
    assert_int_equal(f->s.ops->session_end(&f->s, s[3].id, 350, "ended_by_user", false, 0), 0);

    /* everything of the project, newest first, ties by id descending */
    memset(&flt, 0, sizeof flt);
    flt.project_id = p.id;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(f->s.ops->session_list(&f->s, &flt, collect_page, &pg), 0);
    assert_int_equal(pg.n, 5);
    assert_string_equal(pg.row[0].sess.id, s[4].id);
    assert_string_equal(pg.row[0].user_email, "m@example.com");
    assert_string_equal(pg.row[0].user_display_name, "name of m@example.com");
    assert_string_equal(pg.row[0].device_name, "one");
    assert_string_equal(pg.row[1].sess.id, s[3].id);
    assert_false(pg.row[1].sess.active);
    assert_string_equal(pg.row[1].sess.end_reason, "ended_by_user");
    assert_true(strcmp(pg.row[2].sess.id, pg.row[3].sess.id) > 0);
    assert_int_equal(pg.row[2].sess.started_at, 200);
    assert_int_equal(pg.row[3].sess.started_at, 200);
    assert_string_equal(pg.row[4].sess.id, s[0].id);
    assert_true(pg.row[4].sess.has_exit_code);
    assert_int_equal(pg.row[4].sess.exit_code, 7);

    /* pages of two through the keyset cursor, across the tie at 200 */
    {
        char seen[5][CL_UUID_LEN + 1];
        int total = 0;
        struct cl_session_info last;
        flt.limit = 2;
        for (;;) {
            memset(&pg, 0, sizeof pg);
            assert_int_equal(f->s.ops->session_list(&f->s, &flt, collect_page, &pg), 0);
            for (int i = 0; i < pg.n; i++)
                memcpy(seen[total++], pg.row[i].sess.id, CL_UUID_LEN + 1);
            if (pg.n < 2)
                break;
            last = pg.row[pg.n - 1];
            flt.before_started_at = last.sess.started_at;
            flt.before_id = seen[total - 1];
        }
        assert_int_equal(total, 5);
        for (int i = 0; i < 5; i++)
            for (int j = i + 1; j < 5; j++)
                assert_string_not_equal(seen[i], seen[j]);
    }

    /* filters: device, status, user */
    memset(&flt, 0, sizeof flt);
    flt.project_id = p.id;
    flt.device_id = d2.id;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(f->s.ops->session_list(&f->s, &flt, collect_page, &pg), 0);
    assert_int_equal(pg.n, 2); /* s1, s3 */
    flt.status = CL_SESSIONS_ACTIVE;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(f->s.ops->session_list(&f->s, &flt, collect_page, &pg), 0);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.row[0].sess.id, s[1].id);
    flt.device_id = NULL;
    flt.status = CL_SESSIONS_ENDED;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(f->s.ops->session_list(&f->s, &flt, collect_page, &pg), 0);
    assert_int_equal(pg.n, 2); /* s3, s0 */
    flt.status = CL_SESSIONS_ANY;
    flt.user_id = m.id;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(f->s.ops->session_list(&f->s, &flt, collect_page, &pg), 0);
    assert_int_equal(pg.n, 1);
    /* a device of another project filters to nothing */
    flt.user_id = NULL;
    flt.device_id = dx.id;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(f->s.ops->session_list(&f->s, &flt, collect_page, &pg), 0);
    assert_int_equal(pg.n, 0);

    /* a deleted user's sessions stay, without a user */
    assert_int_equal(f->s.ops->user_delete(&f->s, m.id, 500, NULL), 0);
    memset(&flt, 0, sizeof flt);
    flt.project_id = p.id;
    flt.limit = 1;
    memset(&pg, 0, sizeof pg);
    assert_int_equal(f->s.ops->session_list(&f->s, &flt, collect_page, &pg), 0);
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.row[0].sess.id, s[4].id);
    assert_string_equal(pg.row[0].sess.user_id, "");
    assert_string_equal(pg.row[0].user_email, "");
    assert_int_equal(f->s.ops->session_list(&f->s, NULL, collect_page, &pg), CL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_and_signin_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_reset_and_verification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_projects_and_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invitations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shares, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_delete_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_project_delete_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_remove_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_delete_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_create_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_project_list_members_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_create_get_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_pair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_pair_keeps_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_pair_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_list_active, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_shares, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invitation_accept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_list_touch_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_set_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_members_list_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invitation_list_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_create_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_email_unique_case_insensitive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_invalid_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_project_create_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_online, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_delete_refused_then_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_email_verification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_project_rename_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_manage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_list, setup, teardown),
    };
    int failed = 0;

    cl_log_set_level(CL_LOG_ERROR);
    cl_metrics_init();
    if (cl_secret_init() != 0)
        return 1;
    for (size_t i = 0; i < sizeof factories / sizeof *factories; i++) {
        backend = &factories[i];
        failed +=
            _cmocka_run_group_tests(backend->name, tests, sizeof tests / sizeof *tests, NULL, NULL);
    }
    return failed ? 1 : 0;
}
