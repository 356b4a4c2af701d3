/*
 * Unit tests for src/relay/store_sqlite.c and migrations.c: what is SQLite's
 * own (opening a directory, file modes, migrations and the schema version,
 * reopening, the store URL parser, rows and cascades only SQL can see),
 * against a real SQLite file in a fresh temporary directory per test. What
 * every backend must do is test_store_contract.c's.
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

#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/migrations.h"
#include "relay/store.h"
#include "relay/store_check.h"
#include "store_fixtures.h"

struct fx {
    char dir[64];
    struct cl_store s;
    bool open;
};

static void rm_rf(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256] = "";
    cl_log_set_level(CL_LOG_ERROR);
    assert_int_equal(cl_secret_init(), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/cl-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(cl_store_open_sqlite(&f->s, f->dir, err, sizeof err), 0);
    cl_store_check_wrap(&f->s); /* the checks cl_store_open adds */
    f->open = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->open)
        f->s.ops->close(&f->s);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static void reopen(struct fx *f)
{
    char err[256] = "";
    f->s.ops->close(&f->s);
    f->open = false;
    assert_int_equal(cl_store_open_sqlite(&f->s, f->dir, err, sizeof err), 0);
    cl_store_check_wrap(&f->s); /* the checks cl_store_open adds */
    f->open = true;
}

/* Runs sql on the database file through a second connection. */
static void raw_exec(struct fx *f, const char *sql)
{
    char path[128];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/clawlink.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static long long raw_count(struct fx *f, const char *sql)
{
    char path[128];
    sqlite3 *db;
    sqlite3_stmt *st;
    long long n;
    snprintf(path, sizeof path, "%s/clawlink.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* ---- open, migrations --------------------------------------------------- */

static void test_open_applies_migrations(void **state)
{
    struct fx *f = *state;
    char path[128];
    struct stat sb;
    assert_true(cl_sqlite_migration_count >= 1);
    assert_int_equal(cl_store_sqlite_schema_version(&f->s), cl_sqlite_migration_count);
    assert_string_equal(f->s.ops->name, "sqlite");
    snprintf(path, sizeof path, "%s/clawlink.db", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    /* WAL is persistent: another connection sees it */
    assert_int_equal(raw_count(f, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode"
                                  " = 'wal'"),
                     1);
    /* every table the brief names exists */
    assert_int_equal(raw_count(f, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND"
                                  " name IN ('users', 'profiles', 'api_tokens', 'projects',"
                                  " 'project_members', 'invitations', 'devices', 'sessions')"),
                     8);
}

static void test_open_creates_private_dir(void **state)
{
    struct fx *f = *state;
    char sub[128], err[256] = "";
    struct cl_store s2;
    struct stat sb;
    snprintf(sub, sizeof sub, "%s/a/b", f->dir);
    assert_int_equal(cl_store_open_sqlite(&s2, sub, err, sizeof err), 0);
    assert_int_equal(stat(sub, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(cl_store_sqlite_schema_version(&s2), cl_sqlite_migration_count);
    s2.ops->close(&s2);
}

static void test_open_fails_on_file(void **state)
{
    struct fx *f = *state;
    char file[128], err[256] = "";
    struct cl_store s2;
    FILE *fp;
    snprintf(file, sizeof file, "%s/not-a-dir", f->dir);
    fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(cl_store_open_sqlite(&s2, file, err, sizeof err), CL_EDB);
    assert_true(strlen(err) > 0);
}

static void test_reopen_is_idempotent(void **state)
{
    struct fx *f = *state;
    struct cl_user u, got;
    new_user(&f->s, "keep@example.com", &u);
    reopen(f);
    assert_int_equal(cl_store_sqlite_schema_version(&f->s), cl_sqlite_migration_count);
    reopen(f);
    assert_int_equal(cl_store_sqlite_schema_version(&f->s), cl_sqlite_migration_count);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_string_equal(got.email, "keep@example.com");
    assert_int_equal(raw_count(f, "SELECT count(*) FROM users"), 1);
}

/* Migration 10 (issue 14) on a database made by migrations 1-8: accounts
 * start unproven, invitations keep their state (the table is rebuilt for
 * 'declined'), memberships stay. */
static void test_migration_10_keeps_data(void **state)
{
    struct fx *f = *state;
    char path[160], err[256] = "";
    struct cl_invitation inv;
    struct cl_user got;
    enum cl_role role = CL_ROLE_NONE;
    sqlite3 *db;
    size_t n = 0;

    f->s.ops->close(&f->s);
    f->open = false;
    snprintf(path, sizeof path, "%s/clawlink.db", f->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/clawlink.db-wal", f->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/clawlink.db-shm", f->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/clawlink.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (int i = 0; i < 8; i++)
        assert_int_equal(sqlite3_exec(db, cl_sqlite_migrations[i], NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(
            db,
            "PRAGMA user_version = 8;"
            "INSERT INTO users (id, email, password_hash, created_at) VALUES"
            " ('u1', 'old@example.com', 'x', 1), ('u2', 'm@example.com', 'x', 1);"
            "INSERT INTO projects (id, name, owner_id, created_at, updated_at)"
            " VALUES ('p1', 'p', 'u1', 1, 1);"
            "INSERT INTO project_members (id, project_id, user_id, role, created_at)"
            " VALUES ('m1', 'p1', 'u1', 'owner', 1), ('m2', 'p1', 'u2', 'member', 2);"
            "INSERT INTO invitations (id, project_id, email, invited_by, status, created_at)"
            " VALUES ('i1', 'p1', 'new@example.com', 'u1', 'pending', 3),"
            " ('i2', 'p1', 'gone@example.com', 'u1', 'cancelled', 4);",
            NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(cl_store_open_sqlite(&f->s, f->dir, err, sizeof err), 0);
    cl_store_check_wrap(&f->s); /* the checks cl_store_open adds */
    f->open = true;
    assert_int_equal(cl_store_sqlite_schema_version(&f->s), cl_sqlite_migration_count);
    assert_int_equal(f->s.ops->user_by_id(&f->s, "u1", &got), 0);
    assert_int_equal(got.email_verified_at, 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM users WHERE email_verified_at IS NULL"), 2);
    assert_int_equal(f->s.ops->member_role(&f->s, "p1", "u2", &role), 0);
    assert_int_equal(role, CL_ROLE_MEMBER);
    assert_int_equal(f->s.ops->invitation_count_pending(&f->s, "p1", &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(f->s.ops->invitation_get(&f->s, "i1", &inv), 0);
    assert_string_equal(inv.email, "new@example.com");
    assert_string_equal(inv.inviter_email, "old@example.com");
    assert_int_equal(f->s.ops->invitation_get(&f->s, "i2", &inv), CL_ENOTFOUND);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM invitations WHERE status = 'cancelled'"),
                     1);
}

static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    char err[256] = "";
    f->s.ops->close(&f->s);
    f->open = false;
    raw_exec(f, "PRAGMA user_version = 999");
    assert_int_equal(cl_store_open_sqlite(&f->s, f->dir, err, sizeof err), CL_EDB);
    assert_non_null(strstr(err, "newer"));
}

static void test_schema_version_rejects_other_store(void **state)
{
    struct cl_store other = {0};
    (void)state;
    assert_int_equal(cl_store_sqlite_schema_version(&other), CL_EINVAL);
}

/* ---- users and tokens --------------------------------------------------- */

static void test_user_delete_cascades_tokens(void **state)
{
    struct fx *f = *state;
    struct cl_user u;
    uint8_t h[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1];
    new_user(&f->s, "gone@example.com", &u);
    cl_hash_str("clu_gone", h);
    assert_int_equal(f->s.ops->token_create(&f->s, h, u.id, 1, 100), 0);
    raw_exec(f, "DELETE FROM users");
    assert_int_equal(f->s.ops->token_user(&f->s, h, 2, uid), CL_ENOTFOUND);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM profiles"), 0);
}

/* ---- the schema's cascades ------------------------------------------------ */

static void test_delete_project_cascades(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m;
    struct cl_project p;
    struct cl_device d;
    struct cl_session s1, got;
    enum cl_role role;
    new_user(&f->s, "o@example.com", &o);
    new_user(&f->s, "m@example.com", &m);
    new_project(&f->s, o.id, "p", 1, &p);
    assert_int_equal(f->s.ops->member_add(&f->s, p.id, m.id, CL_ROLE_MEMBER, o.id, 2), 0);
    new_device(&f->s, p.id, "d", 10, "CASC2345", 1000, &d);
    new_session(&f->s, d.id, m.id, 100, &s1);

    /* a deleted member keeps the session history, without a user */
    raw_exec(f, "DELETE FROM users WHERE email = 'm@example.com'");
    assert_int_equal(f->s.ops->session_get(&f->s, s1.id, &got), 0);
    assert_string_equal(got.user_id, "");

    raw_exec(f, "DELETE FROM projects");
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &d), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->session_get(&f->s, s1.id, &got), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->member_role(&f->s, p.id, o.id, &role), 0);
    assert_int_equal(role, CL_ROLE_NONE);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM project_members"), 0);
}

/* ---- accounts (migration 3) ---------------------------------------------- */

/* A database left at schema 2 by an older relay keeps its sign-in tokens
 * through migration 3, each given a canonical UUID id. */
static void test_migration_3_keeps_tokens(void **state)
{
    struct fx *f = *state;
    char path[128], err[256] = "";
    sqlite3 *db;
    sqlite3_stmt *st;
    uint8_t h[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1];
    struct cl_token t;

    f->s.ops->close(&f->s);
    f->open = false;
    rm_rf(f->dir);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    snprintf(path, sizeof path, "%s/clawlink.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, cl_sqlite_migrations[0], NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, cl_sqlite_migrations[1], NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA user_version = 2;"
                                  "INSERT INTO users VALUES ('u1', 'old@example.com', 'x', 1);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    cl_hash_str("clu_old", h);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO api_tokens (token_hash, user_id, created_at,"
                                        " expires_at) VALUES (?1, 'u1', 5, 5000)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, h, CL_HASH_LEN, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);

    assert_int_equal(cl_store_open_sqlite(&f->s, f->dir, err, sizeof err), 0);
    cl_store_check_wrap(&f->s); /* the checks cl_store_open adds */
    f->open = true;
    assert_int_equal(cl_store_sqlite_schema_version(&f->s), cl_sqlite_migration_count);
    assert_int_equal(f->s.ops->token_user(&f->s, h, 10, uid), 0);
    assert_string_equal(uid, "u1");
    assert_int_equal(raw_count(f, "SELECT count(*) FROM api_tokens"), 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM api_tokens WHERE id LIKE"
                                  " '________-____-4___-____-____________'"),
                     1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM password_resets"), 0);
    /* the id is usable */
    {
        char path2[128];
        sqlite3_stmt *q;
        snprintf(path2, sizeof path2, "%s/clawlink.db", f->dir);
        assert_int_equal(sqlite3_open(path2, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT id FROM api_tokens", -1, &q, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_true(cl_uuid_valid((const char *)sqlite3_column_text(q, 0)));
        assert_int_equal(f->s.ops->token_get(&f->s, (const char *)sqlite3_column_text(q, 0), &t),
                         0);
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
    assert_string_equal(t.user_id, "u1");
    assert_int_equal(t.created_at, 5);
    assert_int_equal(t.last_used_at, 10); /* token_user touched it */
}

/* ---- what the ops leave in SQLite's tables --------------------------------
 * The behaviour of these ops is the contract's (test_store_contract.c); what
 * stays here is what only SQL can see: rows left behind or not, columns
 * stored NULL, and the schema's own cascades (a row deleted by SQL, not by
 * an op). */

static void test_sqlite_user_rows(void **state)
{
    struct fx *f = *state;
    struct cl_user u;
    refuse_invalid_users(&f->s);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM users"), 0);
    /* a profile row comes with the user */
    new_user(&f->s, "carol@example.com", &u);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM profiles"), 1);
    /* refused duplicates (email in another case, or the same id) leave nothing */
    refuse_duplicate_users(&f->s, &u, "CAROL@EXAMPLE.com");
    assert_int_equal(raw_count(f, "SELECT count(*) FROM users"), 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM profiles"), 1);
    /* "" clears the avatar: stored NULL, as seed 001's nullable column */
    assert_int_equal(f->s.ops->profile_update(&f->s, u.id, NULL, "https://x.test/a.png"), 0);
    assert_int_equal(f->s.ops->profile_update(&f->s, u.id, "", ""), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM profiles WHERE avatar_url IS NULL"), 1);
}

static void test_sqlite_project_rows(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m;
    struct cl_project p, keep, dup;
    struct cl_device d, d2;
    struct cl_session s1, s2;
    new_user(&f->s, "o@example.com", &o);
    new_user(&f->s, "m@example.com", &m);
    new_project(&f->s, o.id, "p", 1, &p);
    /* an unknown owner creates nothing, not even half a project */
    dup = p;
    assert_int_equal(f->s.ops->project_create(&f->s, &dup), CL_EEXIST);
    cl_uuid_new(dup.id);
    cl_uuid_new(dup.owner_id);
    assert_int_equal(f->s.ops->project_create(&f->s, &dup), CL_ENOTFOUND);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM projects"), 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM project_members"), 1);

    /* online and all offline: no row left online */
    new_project(&f->s, o.id, "kept", 2, &keep);
    new_device(&f->s, keep.id, "d2", 11, "KEEP2345", 1000, &d2);
    assert_int_equal(f->s.ops->device_set_online(&f->s, d2.id, true, 50), 0);
    assert_int_equal(f->s.ops->device_all_offline(&f->s, 90), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM devices WHERE status = 'online'"), 0);

    /* device_delete takes its sessions' shares */
    new_session(&f->s, d2.id, o.id, 100, &s2);
    assert_int_equal(f->s.ops->share_set(&f->s, s2.id, m.id, CL_SHARE_VIEW, o.id, 4), 0);
    assert_int_equal(f->s.ops->device_delete(&f->s, d2.id, NULL), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM session_shares"), 0);

    /* project_delete takes sessions, shares, invitations, memberships */
    fill_project(&f->s, &p, o.id, m.id, &d, &s1);
    assert_int_equal(f->s.ops->project_delete(&f->s, p.id, NULL), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM sessions"), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM session_shares"), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM invitations"), 0);
    /* only the other project's owner membership is left; users stay */
    assert_int_equal(raw_count(f, "SELECT count(*) FROM project_members"), 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM users"), 2);
}

/* user_delete once the blocking member's row is gone (deleted by SQL):
 * their invitations go, the other users' profiles stay */
static void test_sqlite_user_delete_rows(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m, x;
    struct cl_project shared, solo;
    char inv[CL_UUID_LEN + 1];
    new_user(&f->s, "owner@example.com", &o);
    new_user(&f->s, "member@example.com", &m);
    new_user(&f->s, "x@example.com", &x);
    new_project(&f->s, o.id, "shared", 1, &shared);
    new_project(&f->s, o.id, "solo", 2, &solo);
    assert_int_equal(f->s.ops->member_add(&f->s, shared.id, m.id, CL_ROLE_MEMBER, o.id, 2), 0);
    assert_int_equal(
        f->s.ops->invitation_create(&f->s, solo.id, "someone@example.com", o.id, 4, inv), 0);
    assert_int_equal(f->s.ops->user_delete(&f->s, o.id, 50, NULL), CL_ESTATE);
    raw_exec(f, "DELETE FROM project_members WHERE role = 'member' AND user_id IN"
                " (SELECT id FROM users WHERE email = 'member@example.com')");
    assert_int_equal(f->s.ops->user_delete(&f->s, o.id, 60, NULL), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM invitations"), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM profiles"), 2);
}

/* one row per live verification link; reset links up to the bound; both
 * go with a user deleted by SQL */
static void test_sqlite_link_rows(void **state)
{
    struct fx *f = *state;
    struct cl_user u;
    uint8_t v1[CL_HASH_LEN], v2[CL_HASH_LEN], r1[CL_HASH_LEN], r2[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1] = "";
    new_user(&f->s, "verify@example.com", &u);
    cl_hash_str("clv_one", v1);
    cl_hash_str("clv_two", v2);
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, u.email, v1, 100, 200), 0);
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, u.email, v2, 110, 210), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM email_verifications"), 1);
    /* a link to another address is spent by the attempt */
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, "old@example.com", v1, 400, 500), 0);
    assert_int_equal(f->s.ops->verify_consume(&f->s, v1, 410, uid), CL_ESTATE);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM email_verifications"), 0);
    /* the operator's mark drops a live link */
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, u.email, v1, 500, 600), 0);
    assert_int_equal(f->s.ops->user_set_email_verified(&f->s, u.id, 510), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM email_verifications"), 0);

    cl_hash_str("clr_one", r1);
    cl_hash_str("clr_two", r2);
    assert_int_equal(f->s.ops->reset_create(&f->s, u.id, r1, 100, 100 + CL_RESET_TOKEN_TTL_S), 0);
    assert_int_equal(f->s.ops->reset_create(&f->s, u.id, r2, 110, 110 + CL_RESET_TOKEN_TTL_S), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM password_resets"), 2);
    new_reset_links(&f->s, u.id, "clr_more", 2, CL_RESET_LINKS_MAX, 111,
                    111 + CL_RESET_TOKEN_TTL_S);
    cl_hash_str("clr_over", r1);
    assert_int_equal(f->s.ops->reset_create(&f->s, u.id, r1, 112, 112 + CL_RESET_TOKEN_TTL_S),
                     CL_ELIMIT);
    cl_hash_str("clr_one", r1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM password_resets"), CL_RESET_LINKS_MAX);
    /* using one voids all */
    assert_int_equal(f->s.ops->reset_consume(&f->s, r1, 120, "$argon2id$new", uid), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM password_resets"), 0);
    /* expired links go at the next request */
    new_reset_links(&f->s, u.id, "clr_old", 0, CL_RESET_LINKS_MAX, 130, 140);
    assert_int_equal(f->s.ops->reset_create(&f->s, u.id, r2, 140, 150), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM password_resets"), 1);

    /* deleting the user (by SQL) takes live links with it */
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, u.email, v1, 700, 800), 0);
    raw_exec(f, "DELETE FROM users");
    assert_int_equal(raw_count(f, "SELECT count(*) FROM email_verifications"), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM password_resets"), 0);
}

static void collect_page_row(const struct cl_session_info *si, void *ctx)
{
    *(struct cl_session_info *)ctx = *si;
}

/* a user deleted by SQL: their sessions stay in the history, without a user */
static void test_sqlite_deleted_user_sessions(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m;
    struct cl_project p;
    struct cl_device d;
    struct cl_session s;
    struct cl_session_filter flt;
    struct cl_session_info row;
    new_user(&f->s, "o@example.com", &o);
    new_user(&f->s, "m@example.com", &m);
    new_project(&f->s, o.id, "p", 1, &p);
    assert_int_equal(f->s.ops->member_add(&f->s, p.id, m.id, CL_ROLE_MEMBER, o.id, 2), 0);
    new_device(&f->s, p.id, "one", 10, "HIST2345", 1000, &d);
    new_session(&f->s, d.id, m.id, 400, &s);
    raw_exec(f, "DELETE FROM users WHERE email = 'm@example.com'");
    memset(&flt, 0, sizeof flt);
    flt.project_id = p.id;
    flt.limit = 1;
    memset(&row, 0, sizeof row);
    assert_int_equal(f->s.ops->session_list(&f->s, &flt, collect_page_row, &row), 0);
    assert_string_equal(row.sess.id, s.id);
    assert_string_equal(row.sess.user_id, "");
    assert_string_equal(row.user_email, "");
}

/* --store URLs (store.c): sqlite:PATH names the directory (or its
 * clawlink.db); postgres:// and postgresql:// are kept whole for libpq;
 * anything else is refused. */
static void test_store_url(void **state)
{
    struct fx *f = *state;
    struct cl_store_url u;
    struct cl_store s2;
    char err[256], url[128], big[CL_STORE_URL_MAX + 16];

    assert_int_equal(cl_store_url_parse("sqlite:./var", &u, err, sizeof err), 0);
    assert_int_equal(u.kind, CL_STORE_SQLITE);
    assert_string_equal(u.path, "./var");
    assert_int_equal(cl_store_url_parse("sqlite:/a/b/clawlink.db", &u, err, sizeof err), 0);
    assert_string_equal(u.path, "/a/b");
    assert_int_equal(cl_store_url_parse("sqlite:clawlink.db", &u, err, sizeof err), 0);
    assert_string_equal(u.path, ".");

    /* libpq reads the rest when the store opens (test_store_pg.c) */
    assert_int_equal(cl_store_url_parse("postgres://u:s3cret@h/db", &u, err, sizeof err), 0);
    assert_int_equal(u.kind, CL_STORE_POSTGRES);
    assert_string_equal(u.path, "postgres://u:s3cret@h/db");
    assert_int_equal(cl_store_url_parse("postgresql://h/db", &u, err, sizeof err), 0);
    assert_int_equal(u.kind, CL_STORE_POSTGRES);
    for (const char *bad[] = {"", "sqlite:", "sqlite:/clawlink.db", "./var", "mysql://h",
                              "sqlite:a\nb", "SQLITE:x"},
                    **b = bad;
         b < bad + sizeof bad / sizeof *bad; b++)
        assert_int_equal(cl_store_url_parse(*b, &u, err, sizeof err), CL_EINVAL);
    assert_int_equal(cl_store_url_parse(NULL, &u, err, sizeof err), CL_EINVAL);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big, "sqlite:", 7);
    assert_int_equal(cl_store_url_parse(big, &u, err, sizeof err), CL_EINVAL);

    /* cl_store_open opens the same database as cl_store_open_sqlite */
    snprintf(url, sizeof url, "sqlite:%s", f->dir);
    assert_int_equal(cl_store_open(&s2, url, err, sizeof err), 0);
    assert_int_equal(cl_store_sqlite_schema_version(&s2), cl_sqlite_migration_count);
    s2.ops->close(&s2);
    assert_int_equal(cl_store_open(&s2, "mysql://h/db", err, sizeof err), CL_EINVAL);
    assert_null(s2.ops);

    /* --store-file: one line, its trailing whitespace dropped; a bad one is
     * refused naming the file, never quoting it */
    {
        char path[160], buf[CL_STORE_URL_MAX + 2];
        FILE *fp;
        snprintf(path, sizeof path, "%s/store-url", f->dir);
        fp = fopen(path, "w");
        assert_non_null(fp);
        fputs("postgresql://u:s3cret@db.example/clawlink \n", fp);
        fclose(fp);
        assert_int_equal(cl_store_url_load(path, buf, sizeof buf, err, sizeof err), 0);
        assert_string_equal(buf, "postgresql://u:s3cret@db.example/clawlink");
        fp = fopen(path, "w");
        fputs("mysql://u:s3cret@db.example/clawlink\n", fp);
        fclose(fp);
        assert_int_equal(cl_store_url_load(path, buf, sizeof buf, err, sizeof err), CL_EINVAL);
        assert_non_null(strstr(err, path));
        assert_null(strstr(err, "s3cret"));
        assert_int_equal(buf[0], 0);
        snprintf(path, sizeof path, "%s/no-such-file", f->dir);
        assert_int_equal(cl_store_url_load(path, buf, sizeof buf, err, sizeof err), CL_EIO);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_applies_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_creates_private_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_fails_on_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_10_keeps_data, setup, teardown),
        cmocka_unit_test(test_schema_version_rejects_other_store),
        cmocka_unit_test_setup_teardown(test_user_delete_cascades_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_project_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_3_keeps_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_user_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_project_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_user_delete_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_link_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqlite_deleted_user_sessions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
