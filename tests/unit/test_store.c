/*
 * Unit tests for src/relay/store_sqlite.c and migrations.c: every store op
 * against a real SQLite file in a fresh temporary directory per test.
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
    /* a profile row came with the user */
    assert_int_equal(raw_count(f, "SELECT count(*) FROM profiles"), 1);
}

static void test_user_email_unique_case_insensitive(void **state)
{
    struct fx *f = *state;
    struct cl_user u, dup;
    new_user(&f->s, "carol@example.com", &u);
    dup = u;
    cl_uuid_new(dup.id);
    snprintf(dup.email, sizeof dup.email, "CAROL@EXAMPLE.com");
    assert_int_equal(f->s.ops->user_create(&f->s, &dup), CL_EEXIST);
    /* the same id is a conflict too */
    dup = u;
    snprintf(dup.email, sizeof dup.email, "other@example.com");
    assert_int_equal(f->s.ops->user_create(&f->s, &dup), CL_EEXIST);
    /* neither attempt left a user or a profile behind */
    assert_int_equal(raw_count(f, "SELECT count(*) FROM users"), 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM profiles"), 1);
}

static void test_user_invalid_input(void **state)
{
    struct fx *f = *state;
    struct cl_user u;
    memset(&u, 0, sizeof u);
    cl_uuid_new(u.id);
    assert_int_equal(f->s.ops->user_create(&f->s, &u), CL_EINVAL); /* empty email */
    snprintf(u.email, sizeof u.email, "x@example.com");
    memset(u.display_name, 'n', sizeof u.display_name); /* no NUL */
    assert_int_equal(f->s.ops->user_create(&f->s, &u), CL_EINVAL);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM users"), 0);
}

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

/* ---- projects and members ------------------------------------------------ */

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
    assert_int_equal(raw_count(f, "SELECT count(*) FROM projects"), 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM project_members"), 1);
}

/* ---- devices -------------------------------------------------------------- */

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
    assert_int_equal(raw_count(f, "SELECT count(*) FROM devices WHERE status = 'online'"), 0);
    /* idempotent with nothing online */
    assert_int_equal(f->s.ops->device_all_offline(&f->s, 95), 0);

    assert_int_equal(f->s.ops->device_set_online(&f->s, "no-such-device", true, 1), CL_ENOTFOUND);
}

/* ---- sessions ------------------------------------------------------------- */

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
    assert_int_equal(raw_count(f, "SELECT count(*) FROM profiles WHERE avatar_url IS NULL"), 1);

    memset(long_url, 'a', sizeof long_url - 1);
    long_url[sizeof long_url - 1] = 0;
    assert_int_equal(f->s.ops->profile_update(&f->s, u.id, NULL, long_url), CL_EINVAL);
    assert_int_equal(
        f->s.ops->profile_update(&f->s, "00000000-0000-4000-8000-000000000000", "x", NULL),
        CL_ENOTFOUND);
}

static void test_user_delete(void **state)
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
    raw_exec(f, "DELETE FROM project_members WHERE role = 'member' AND user_id IN"
                " (SELECT id FROM users WHERE email = 'member@example.com')");
    assert_int_equal(f->s.ops->user_delete(&f->s, o.id, 60, NULL), 0);
    assert_int_equal(f->s.ops->user_by_id(&f->s, o.id, &x), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->token_user(&f->s, h, 2, uid), CL_ENOTFOUND);
    /* owned projects with their devices, sessions and invitations */
    assert_int_equal(f->s.ops->project_get(&f->s, shared.id, &shared), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->project_get(&f->s, solo.id, &solo), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_get(&f->s, d_solo.id, &d_solo), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->session_get(&f->s, s_solo.id, &got), CL_ENOTFOUND);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM invitations"), 0);
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
    assert_int_equal(raw_count(f, "SELECT count(*) FROM profiles"), 2);
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
    assert_int_equal(raw_count(f, "SELECT count(*) FROM email_verifications"), 1);
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
    assert_int_equal(raw_count(f, "SELECT count(*) FROM email_verifications"), 0);
    /* the operator's mark drops a live link; unknown users */
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, u.email, v1, 500, 600), 0);
    assert_int_equal(f->s.ops->user_set_email_verified(&f->s, u.id, 510), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM email_verifications"), 0);
    assert_int_equal(
        f->s.ops->user_set_email_verified(&f->s, "00000000-0000-4000-8000-000000000000", 1),
        CL_ENOTFOUND);
    /* deleting the user takes a live link with it */
    assert_int_equal(f->s.ops->verify_create(&f->s, u.id, u.email, v1, 700, 800), 0);
    raw_exec(f, "DELETE FROM users");
    assert_int_equal(raw_count(f, "SELECT count(*) FROM email_verifications"), 0);
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
    assert_int_equal(raw_count(f, "SELECT count(*) FROM password_resets"), 2);
    for (int i = 2; i < CL_RESET_LINKS_MAX; i++) {
        uint8_t rn[CL_HASH_LEN];
        char name[32];
        snprintf(name, sizeof name, "clr_more%d", i);
        cl_hash_str(name, rn);
        assert_int_equal(f->s.ops->reset_create(&f->s, u.id, rn, 111, 111 + CL_RESET_TOKEN_TTL_S),
                         0);
    }
    assert_int_equal(f->s.ops->reset_create(&f->s, u.id, tok, 112, 112 + CL_RESET_TOKEN_TTL_S),
                     CL_ELIMIT);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM password_resets"), CL_RESET_LINKS_MAX);
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
    assert_int_equal(raw_count(f, "SELECT count(*) FROM password_resets"), 0);

    /* expired links do not count towards the bound, and go at the next request */
    for (int i = 0; i < CL_RESET_LINKS_MAX; i++) {
        uint8_t rn[CL_HASH_LEN];
        char name[32];
        snprintf(name, sizeof name, "clr_old%d", i);
        cl_hash_str(name, rn);
        assert_int_equal(f->s.ops->reset_create(&f->s, u.id, rn, 130, 140), 0);
    }
    assert_int_equal(f->s.ops->reset_create(&f->s, u.id, r2, 140, 150), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM password_resets"), 1);
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
    raw_exec(f, "DELETE FROM users");
    assert_int_equal(raw_count(f, "SELECT count(*) FROM password_resets"), 0);
    assert_int_equal(
        f->s.ops->reset_create(&f->s, "00000000-0000-4000-8000-000000000000", r1, 1, 2),
        CL_ENOTFOUND);
}

/* ---- the control plane (migration 4) ---------------------------------------- */

static void test_project_rename_delete(void **state)
{
    struct fx *f = *state;
    struct cl_user o, m;
    struct cl_project p, keep, got;
    struct cl_device d;
    struct cl_session s1;
    char inv[CL_UUID_LEN + 1];
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

    assert_int_equal(f->s.ops->member_add(&f->s, p.id, m.id, CL_ROLE_MEMBER, o.id, 3), 0);
    new_device(&f->s, p.id, "d", 10, "PDEL2345", 1000, &d);
    new_session(&f->s, d.id, m.id, 100, &s1);
    assert_int_equal(f->s.ops->share_set(&f->s, s1.id, o.id, CL_SHARE_VIEW, m.id, 4), 0);
    assert_int_equal(f->s.ops->invitation_create(&f->s, p.id, "x@example.com", o.id, 5, inv), 0);
    assert_int_equal(f->s.ops->project_delete(&f->s, p.id, NULL), 0);
    assert_int_equal(f->s.ops->project_get(&f->s, p.id, &got), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->device_get(&f->s, d.id, &d), CL_ENOTFOUND);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM sessions"), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM session_shares"), 0);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM invitations"), 0);
    /* only the other project's owner membership is left; users stay */
    assert_int_equal(raw_count(f, "SELECT count(*) FROM project_members"), 1);
    assert_int_equal(raw_count(f, "SELECT count(*) FROM users"), 2);
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
    assert_int_equal(raw_count(f, "SELECT count(*) FROM session_shares"), 0);
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
    raw_exec(f, "DELETE FROM users WHERE email = 'm@example.com'");
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

/* --store URLs (store.c): sqlite:PATH names the directory (or its
 * clawlink.db); postgres:// is recognised and refused, without echoing the
 * URL; anything else is refused. */
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

    assert_int_equal(cl_store_url_parse("postgres://u:s3cret@h/db", &u, err, sizeof err),
                     CL_EINVAL);
    assert_int_equal(u.kind, CL_STORE_POSTGRES);
    assert_non_null(strstr(err, "postgres store is not built yet"));
    assert_null(strstr(err, "s3cret"));
    assert_int_equal(cl_store_url_parse("postgresql://h/db", &u, err, sizeof err), CL_EINVAL);
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
    assert_int_equal(cl_store_open(&s2, "postgres://h/db", err, sizeof err), CL_EINVAL);
    assert_null(s2.ops);
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
        cmocka_unit_test_setup_teardown(test_user_create_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_email_unique_case_insensitive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_invalid_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_delete_cascades_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_project_create_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_online, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_project_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_3_keeps_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_email_verification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_project_rename_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_manage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_list, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
