/*
 * Fixtures shared by the store's tests (test_store_contract.c, the contract
 * every backend passes, and test_store.c, SQLite's own): rows made through
 * the ops table of any open store, so the two suites build their data the
 * same way. Not a test itself: CMake globs tests/unit/test_*.c only.
 */
#ifndef CL_TESTS_STORE_FIXTURES_H
#define CL_TESTS_STORE_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/secret.h"
#include "relay/store.h"

/* display_name is "name of EMAIL", so a test can tell the two apart */
static inline void new_user(struct cl_store *s, const char *email, struct cl_user *u)
{
    memset(u, 0, sizeof *u);
    cl_uuid_new(u->id);
    snprintf(u->email, sizeof u->email, "%s", email);
    snprintf(u->display_name, sizeof u->display_name, "name of %s", email);
    snprintf(u->pw_hash, sizeof u->pw_hash, "$argon2id$v=19$m=65536,t=2,p=1$fake");
    u->created_at = 1000;
    assert_int_equal(s->ops->user_create(s, u), 0);
}

static inline void new_project(struct cl_store *s, const char *owner, const char *name, int64_t t,
                               struct cl_project *p)
{
    memset(p, 0, sizeof *p);
    cl_uuid_new(p->id);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->owner_id, sizeof p->owner_id, "%s", owner);
    p->created_at = p->updated_at = t;
    assert_int_equal(s->ops->project_create(s, p), 0);
}

/* a pending device whose pairing code is code, valid until code_expires_at */
static inline void new_device(struct cl_store *s, const char *project_id, const char *name,
                              int64_t t, const char *code, int64_t code_expires_at,
                              struct cl_device *d)
{
    uint8_t h[CL_HASH_LEN];
    memset(d, 0, sizeof *d);
    cl_uuid_new(d->id);
    snprintf(d->project_id, sizeof d->project_id, "%s", project_id);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->created_at = t;
    cl_hash_str(code, h);
    assert_int_equal(s->ops->device_create(s, d, h, code_expires_at), 0);
}

static inline void new_session(struct cl_store *s, const char *device_id, const char *user_id,
                               int64_t t, struct cl_session *sess)
{
    memset(sess, 0, sizeof *sess);
    cl_uuid_new(sess->id);
    snprintf(sess->device_id, sizeof sess->device_id, "%s", device_id);
    snprintf(sess->user_id, sizeof sess->user_id, "%s", user_id);
    sess->active = true;
    sess->started_at = t;
    assert_int_equal(s->ops->session_create(s, sess), 0);
}

/* everything that hangs off project p (owned by owner): member a member, a
 * device d with a session s of theirs shared with the owner, and a pending
 * invitation; what project_delete must take */
static inline void fill_project(struct cl_store *s, const struct cl_project *p, const char *owner,
                                const char *member, struct cl_device *d, struct cl_session *sess)
{
    char inv[CL_UUID_LEN + 1];
    assert_int_equal(s->ops->member_add(s, p->id, member, CL_ROLE_MEMBER, owner, 3), 0);
    new_device(s, p->id, "d", 10, "PDEL2345", 1000, d);
    new_session(s, d->id, member, 100, sess);
    assert_int_equal(s->ops->share_set(s, sess->id, owner, CL_SHARE_VIEW, member, 4), 0);
    assert_int_equal(s->ops->invitation_create(s, p->id, "x@example.com", owner, 5, inv), 0);
}

/* user_create refuses an empty email and a display name without its NUL */
static inline void refuse_invalid_users(struct cl_store *s)
{
    struct cl_user u;
    memset(&u, 0, sizeof u);
    cl_uuid_new(u.id);
    assert_int_equal(s->ops->user_create(s, &u), CL_EINVAL); /* empty email */
    snprintf(u.email, sizeof u.email, "x@example.com");
    memset(u.display_name, 'n', sizeof u.display_name); /* no NUL */
    assert_int_equal(s->ops->user_create(s, &u), CL_EINVAL);
}

/* user_create refuses u's email in another case (other_case) and u's id
 * under another email, both CL_EEXIST */
static inline void refuse_duplicate_users(struct cl_store *s, const struct cl_user *u,
                                          const char *other_case)
{
    struct cl_user dup = *u;
    cl_uuid_new(dup.id);
    snprintf(dup.email, sizeof dup.email, "%s", other_case);
    assert_int_equal(s->ops->user_create(s, &dup), CL_EEXIST);
    /* the same id is a conflict too */
    dup = *u;
    snprintf(dup.email, sizeof dup.email, "other@example.com");
    assert_int_equal(s->ops->user_create(s, &dup), CL_EEXIST);
}

/* password reset links PREFIX<from>..PREFIX<to - 1> for user_id, all taken */
static inline void new_reset_links(struct cl_store *s, const char *user_id, const char *prefix,
                                   int from, int to, int64_t t, int64_t expires_at)
{
    for (int i = from; i < to; i++) {
        uint8_t rn[CL_HASH_LEN];
        char name[32];
        snprintf(name, sizeof name, "%s%d", prefix, i);
        cl_hash_str(name, rn);
        assert_int_equal(s->ops->reset_create(s, user_id, rn, t, expires_at), 0);
    }
}

#endif
