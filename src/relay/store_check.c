/*
 * store_check: the store's input checks, once, in front of every backend.
 *
 * A wrapping table of function pointers, as store_metrics.c's:
 * cl_store_check_wrap gives the store a copy of its backend's ops in which
 * each operation that takes caller input first checks it — ids' shape
 * (1..CL_UUID_LEN bytes), lengths against their CL_*_MAX, required
 * pointers and non-empty strings, enum values (roles, share modes, the
 * session filter's status) — and answers as store.h says (CL_EINVAL, or
 * CL_ENOTFOUND where an id no row can have means "no such row") without
 * calling the backend. A backend may take these as given; what it still
 * checks is only what it alone can know (uniqueness, existence, state).
 * cl_store_open wraps every store it opens, before any other wrapper;
 * s->impl and s->backend are left alone.
 */
#include "relay/store_check.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

struct cl__check_wrap {
    struct cl_store_ops ops; /* first: s->ops points here until another wrap goes on top */
    const struct cl_store_ops *inner;
};

/* The checks sit right on the backend (cl_store_open puts them there), so
 * they call s->backend, which every wrapper leaves alone: s->ops may be
 * another wrapper's table by now (store_metrics.c's, on top), and taking
 * it for ours would call that wrapper again, for ever. */
static const struct cl_store_ops *cl__inner(struct cl_store *s)
{
    return s->backend;
}

/* true if s is a string of at most max bytes (its NUL within max + 1). */
static bool cl__fits(const char *s, size_t max)
{
    return s && strnlen(s, max + 1) <= max;
}

/* true if s can be an id: 1..CL_UUID_LEN bytes. */
static bool cl__id_ok(const char *s)
{
    return cl__fits(s, CL_UUID_LEN) && s[0];
}

/* a password hash: a non-empty encoded string that fits struct cl_user */
static bool cl__pw_ok(const char *s)
{
    return cl__fits(s, CL_PWHASH_MAX - 1) && s[0];
}

static int cl__user_create(struct cl_store *s, const struct cl_user *u)
{
    if (!u || !cl__id_ok(u->id) || !cl__fits(u->email, CL_EMAIL_MAX) || !u->email[0] ||
        !cl__pw_ok(u->pw_hash) || !cl__fits(u->display_name, CL_NAME_MAX))
        return CL_EINVAL;
    return cl__inner(s)->user_create(s, u);
}

static int cl__token_create(struct cl_store *s, const uint8_t hash[CL_HASH_LEN],
                            const char *user_id, int64_t now, int64_t expires_at)
{
    if (!hash || !cl__id_ok(user_id))
        return CL_EINVAL;
    return cl__inner(s)->token_create(s, hash, user_id, now, expires_at);
}

static int cl__token_user(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                          char user_id[CL_UUID_LEN + 1])
{
    if (!hash)
        return CL_ENOTFOUND;
    return cl__inner(s)->token_user(s, hash, now, user_id);
}

static int cl__token_revoke(struct cl_store *s, const uint8_t hash[CL_HASH_LEN])
{
    if (!hash)
        return CL_ENOTFOUND;
    return cl__inner(s)->token_revoke(s, hash);
}

static int cl__profile_update(struct cl_store *s, const char *user_id, const char *display_name,
                              const char *avatar_url)
{
    if ((display_name && !cl__fits(display_name, CL_NAME_MAX)) ||
        (avatar_url && !cl__fits(avatar_url, CL_AVATAR_URL_MAX)))
        return CL_EINVAL;
    return cl__inner(s)->profile_update(s, user_id, display_name, avatar_url);
}

static int cl__user_set_password(struct cl_store *s, const char *user_id, const char *pw_hash,
                                 const uint8_t keep[CL_HASH_LEN], int64_t now)
{
    if (!cl__id_ok(user_id) || !cl__pw_ok(pw_hash))
        return CL_EINVAL;
    return cl__inner(s)->user_set_password(s, user_id, pw_hash, keep, now);
}

static int cl__user_delete(struct cl_store *s, const char *user_id, int64_t now,
                           struct cl_store_cascade *out)
{
    if (!cl__id_ok(user_id))
        return CL_EINVAL;
    return cl__inner(s)->user_delete(s, user_id, now, out);
}

static int cl__reset_create(struct cl_store *s, const char *user_id,
                            const uint8_t hash[CL_HASH_LEN], int64_t now, int64_t expires_at)
{
    if (!hash || !cl__id_ok(user_id))
        return CL_EINVAL;
    return cl__inner(s)->reset_create(s, user_id, hash, now, expires_at);
}

static int cl__reset_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                             const char *pw_hash, char user_id[CL_UUID_LEN + 1])
{
    if (!hash || !cl__pw_ok(pw_hash))
        return CL_EINVAL;
    return cl__inner(s)->reset_consume(s, hash, now, pw_hash, user_id);
}

static int cl__signin_code_create(struct cl_store *s, const uint8_t hash[CL_HASH_LEN],
                                  const char *user_id, int64_t now, int64_t expires_at)
{
    if (!hash || !cl__id_ok(user_id))
        return CL_EINVAL;
    return cl__inner(s)->signin_code_create(s, hash, user_id, now, expires_at);
}

static int cl__signin_code_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                                   char user_id[CL_UUID_LEN + 1])
{
    if (!hash)
        return CL_EINVAL;
    return cl__inner(s)->signin_code_consume(s, hash, now, user_id);
}

static int cl__project_create(struct cl_store *s, const struct cl_project *p)
{
    if (!p || !cl__id_ok(p->id) || !cl__id_ok(p->owner_id) || !cl__fits(p->name, CL_NAME_MAX))
        return CL_EINVAL;
    return cl__inner(s)->project_create(s, p);
}

static int cl__member_add(struct cl_store *s, const char *project_id, const char *user_id,
                          enum cl_role role, const char *invited_by, int64_t now)
{
    if (!cl__id_ok(project_id) || !cl__id_ok(user_id) ||
        (role != CL_ROLE_OWNER && role != CL_ROLE_MEMBER) ||
        (invited_by && !cl__fits(invited_by, CL_UUID_LEN)))
        return CL_EINVAL;
    return cl__inner(s)->member_add(s, project_id, user_id, role, invited_by, now);
}

static int cl__invitation_create(struct cl_store *s, const char *project_id, const char *email,
                                 const char *invited_by, int64_t now, char id[CL_UUID_LEN + 1])
{
    if (!cl__id_ok(project_id) || !cl__fits(email, CL_EMAIL_MAX))
        return CL_EINVAL;
    return cl__inner(s)->invitation_create(s, project_id, email, invited_by, now, id);
}

static int cl__invitation_respond(struct cl_store *s, const char *id, const char *user_id,
                                  bool accept, int64_t now)
{
    if (!cl__id_ok(id) || !cl__id_ok(user_id))
        return CL_ENOTFOUND;
    return cl__inner(s)->invitation_respond(s, id, user_id, accept, now);
}

static int cl__verify_create(struct cl_store *s, const char *user_id, const char *email,
                             const uint8_t hash[CL_HASH_LEN], int64_t now, int64_t expires_at)
{
    if (!hash || !cl__id_ok(user_id) || !cl__fits(email, CL_EMAIL_MAX) || !email[0])
        return CL_EINVAL;
    return cl__inner(s)->verify_create(s, user_id, email, hash, now, expires_at);
}

static int cl__verify_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                              char user_id[CL_UUID_LEN + 1])
{
    if (!hash)
        return CL_EINVAL;
    return cl__inner(s)->verify_consume(s, hash, now, user_id);
}

static int cl__user_set_email_verified(struct cl_store *s, const char *user_id, int64_t at)
{
    if (!cl__id_ok(user_id))
        return CL_ENOTFOUND;
    return cl__inner(s)->user_set_email_verified(s, user_id, at);
}

static int cl__device_create(struct cl_store *s, const struct cl_device *d,
                             const uint8_t code_hash[CL_HASH_LEN], int64_t code_expires_at)
{
    if (!d || !code_hash || !cl__id_ok(d->id) || !cl__id_ok(d->project_id) ||
        !cl__fits(d->name, CL_NAME_MAX))
        return CL_EINVAL;
    return cl__inner(s)->device_create(s, d, code_hash, code_expires_at);
}

static int cl__device_pair(struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN], int64_t now,
                           const char *name, const uint8_t token_hash[CL_HASH_LEN],
                           struct cl_device *out)
{
    if (!code_hash || !token_hash || (name && !cl__fits(name, CL_NAME_MAX)))
        return CL_EINVAL;
    return cl__inner(s)->device_pair(s, code_hash, now, name, token_hash, out);
}

static int cl__device_code_check(struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN],
                                 int64_t now, char *id_out)
{
    if (!code_hash || !id_out)
        return CL_EINVAL;
    return cl__inner(s)->device_code_check(s, code_hash, now, id_out);
}

static int cl__device_code_void(struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN],
                                char *id_out)
{
    if (!code_hash)
        return CL_EINVAL;
    return cl__inner(s)->device_code_void(s, code_hash, id_out);
}

static int cl__session_create(struct cl_store *s, const struct cl_session *sess)
{
    if (!sess || !cl__id_ok(sess->id) || !cl__id_ok(sess->device_id) ||
        !cl__fits(sess->user_id, CL_UUID_LEN) || !cl__fits(sess->end_reason, CL_REASON_MAX))
        return CL_EINVAL;
    return cl__inner(s)->session_create(s, sess);
}

static int cl__session_count_open(struct cl_store *s, const char *device_id, const char *user_id,
                                  size_t *per_device, size_t *per_user)
{
    if (!cl__id_ok(device_id) || !cl__fits(user_id, CL_UUID_LEN))
        return CL_EINVAL;
    return cl__inner(s)->session_count_open(s, device_id, user_id, per_device, per_user);
}

static int cl__share_set(struct cl_store *s, const char *session_id, const char *user_id,
                         enum cl_share_mode mode, const char *created_by, int64_t now)
{
    if (mode != CL_SHARE_VIEW && mode != CL_SHARE_CONTROL)
        return CL_EINVAL;
    return cl__inner(s)->share_set(s, session_id, user_id, mode, created_by, now);
}

static int cl__session_set_name(struct cl_store *s, const char *id, const char *name)
{
    if (!cl__fits(name, CL_SESSION_NAME_MAX))
        return CL_EINVAL;
    return cl__inner(s)->session_set_name(s, id, name);
}

static int cl__session_set_title(struct cl_store *s, const char *id, const char *title)
{
    if (!cl__fits(title, CL_SESSION_TITLE_MAX))
        return CL_EINVAL;
    return cl__inner(s)->session_set_title(s, id, title);
}

/* The reason is any string a peer sent (proto.h: the relay stores it as it
 * came), so only its length is checked. */
static int cl__session_end(struct cl_store *s, const char *id, int64_t now, const char *reason,
                           bool has_exit_code, int exit_code)
{
    if (reason && !cl__fits(reason, CL_REASON_MAX))
        return CL_EINVAL;
    return cl__inner(s)->session_end(s, id, now, reason, has_exit_code, exit_code);
}

static int cl__project_rename(struct cl_store *s, const char *id, const char *name, int64_t now)
{
    if (!cl__fits(name, CL_NAME_MAX))
        return CL_EINVAL;
    return cl__inner(s)->project_rename(s, id, name, now);
}

static int cl__member_remove(struct cl_store *s, const char *project_id, const char *user_id,
                             int64_t now, struct cl_store_cascade *out)
{
    if (!cl__id_ok(project_id) || !cl__id_ok(user_id))
        return CL_ENOTFOUND;
    return cl__inner(s)->member_remove(s, project_id, user_id, now, out);
}

static int cl__device_rename(struct cl_store *s, const char *id, const char *name)
{
    if (!cl__fits(name, CL_NAME_MAX))
        return CL_EINVAL;
    return cl__inner(s)->device_rename(s, id, name);
}

static int cl__device_new_code(struct cl_store *s, const char *id,
                               const uint8_t code_hash[CL_HASH_LEN], int64_t expires_at)
{
    if (!code_hash)
        return CL_EINVAL;
    return cl__inner(s)->device_new_code(s, id, code_hash, expires_at);
}

static int cl__device_set_info(struct cl_store *s, const char *id, const char *meta,
                               const char *remote_addr, int64_t now)
{
    if (meta && strlen(meta) > CL_DEVICE_META_MAX)
        return CL_EINVAL;
    return cl__inner(s)->device_set_info(s, id, meta, remote_addr, now);
}

static int cl__session_list(struct cl_store *s, const struct cl_session_filter *f,
                            cl_session_info_cb cb, void *ctx)
{
    if (!f || !f->project_id || f->status > CL_SESSIONS_ENDED)
        return CL_EINVAL;
    return cl__inner(s)->session_list(s, f, cb, ctx);
}

/* Closes the backend, then frees the wrapping table. */
static void cl__close(struct cl_store *s)
{
    struct cl__check_wrap *w = (struct cl__check_wrap *)s->ops;
    s->ops = w->inner;
    w->inner->close(s);
    free(w);
}

// clang-format off
#define CL__CHECKED(X) \
    X(user_create) X(token_create) X(token_user) X(token_revoke) X(profile_update) \
    X(user_set_password) X(user_delete) X(reset_create) X(reset_consume) \
    X(signin_code_create) X(signin_code_consume) X(project_create) X(member_add) \
    X(invitation_create) X(invitation_respond) X(verify_create) X(verify_consume) \
    X(user_set_email_verified) X(device_create) X(device_pair) X(device_code_check) \
    X(device_code_void) X(session_create) X(session_count_open) X(share_set) \
    X(session_set_name) X(session_set_title) X(session_end) X(project_rename) \
    X(member_remove) X(device_rename) X(device_new_code) X(device_set_info) X(session_list)
// clang-format on

void cl_store_check_wrap(struct cl_store *s)
{
    struct cl__check_wrap *w;
    if (s->ops != s->backend)
        abort(); /* the checks go first, right on the backend */
    w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->ops = *s->ops;
    w->inner = s->ops;
#define CL__SET(name) w->ops.name = cl__##name;
    CL__CHECKED(CL__SET)
#undef CL__SET
    w->ops.close = cl__close;
    s->ops = &w->ops;
}
