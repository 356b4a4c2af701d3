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

#endif
