/*
 * store_metrics: times every store operation (metrics.h, the histogram
 * clawlink_store_operation_duration_seconds{op}).
 *
 * A wrapping table of function pointers: cl_store_metrics_wrap gives the
 * store a copy of its backend's ops with each operation named below
 * replaced by one that reads the monotonic clock around the backend's
 * own. s->impl and s->backend are left alone, so a wrapper passes s
 * through unchanged (store_check.c wraps the same way). Every operation of
 * struct cl_store_ops but close is listed in CL__STORE_OPS, whose lines
 * are its declarations; a static assertion fails the build when one is
 * missing.
 */
#include "relay/store_metrics.h"
#include "relay/metrics.h"

#include <stddef.h>
#include <stdlib.h>

struct cl__store_wrap {
    struct cl_store_ops ops; /* first: s->ops points here */
    const struct cl_store_ops *inner;
};

/* name, parameters, arguments */
// clang-format off
#define CL__STORE_OPS(X) \
    X(user_create, (struct cl_store *s, const struct cl_user *u), (s, u)) \
    X(user_by_email, (struct cl_store *s, const char *email, struct cl_user *out), (s, email, out)) \
    X(user_by_id, (struct cl_store *s, const char *id, struct cl_user *out), (s, id, out)) \
    X(token_create, (struct cl_store *s, const uint8_t hash[CL_HASH_LEN], const char *user_id, int64_t now, int64_t expires_at), (s, hash, user_id, now, expires_at)) \
    X(token_user, (struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now, char user_id[CL_UUID_LEN + 1]), (s, hash, now, user_id)) \
    X(token_revoke, (struct cl_store *s, const uint8_t hash[CL_HASH_LEN]), (s, hash)) \
    X(token_list, (struct cl_store *s, const char *user_id, int64_t now, const uint8_t current[CL_HASH_LEN], cl_token_cb cb, void *ctx), (s, user_id, now, current, cb, ctx)) \
    X(token_get, (struct cl_store *s, const char *id, struct cl_token *out), (s, id, out)) \
    X(token_revoke_id, (struct cl_store *s, const char *id, int64_t now), (s, id, now)) \
    X(tokens_revoke_all, (struct cl_store *s, const char *user_id, const uint8_t keep[CL_HASH_LEN], int64_t now, int *revoked), (s, user_id, keep, now, revoked)) \
    X(profile_update, (struct cl_store *s, const char *user_id, const char *display_name, const char *avatar_url), (s, user_id, display_name, avatar_url)) \
    X(user_set_password, (struct cl_store *s, const char *user_id, const char *pw_hash, const uint8_t keep[CL_HASH_LEN], int64_t now), (s, user_id, pw_hash, keep, now)) \
    X(user_delete, (struct cl_store *s, const char *user_id, int64_t now, struct cl_store_cascade *out), (s, user_id, now, out)) \
    X(reset_create, (struct cl_store *s, const char *user_id, const uint8_t hash[CL_HASH_LEN], int64_t now, int64_t expires_at), (s, user_id, hash, now, expires_at)) \
    X(reset_consume, (struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now, const char *pw_hash, char user_id[CL_UUID_LEN + 1]), (s, hash, now, pw_hash, user_id)) \
    X(secret_get, (struct cl_store *s, const char *name, const uint8_t fresh[CL_HASH_LEN], uint8_t out[CL_HASH_LEN]), (s, name, fresh, out)) \
    X(user_count, (struct cl_store *s, int64_t *out), (s, out)) \
    X(signin_code_create, (struct cl_store *s, const uint8_t hash[CL_HASH_LEN], const char *user_id, int64_t now, int64_t expires_at), (s, hash, user_id, now, expires_at)) \
    X(signin_code_consume, (struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now, char user_id[CL_UUID_LEN + 1]), (s, hash, now, user_id)) \
    X(project_create, (struct cl_store *s, const struct cl_project *p), (s, p)) \
    X(project_get, (struct cl_store *s, const char *id, struct cl_project *out), (s, id, out)) \
    X(project_list_for_user, (struct cl_store *s, const char *user_id, cl_project_cb cb, void *ctx), (s, user_id, cb, ctx)) \
    X(member_add, (struct cl_store *s, const char *project_id, const char *user_id, enum cl_role role, const char *invited_by, int64_t now), (s, project_id, user_id, role, invited_by, now)) \
    X(invitation_create, (struct cl_store *s, const char *project_id, const char *email, const char *invited_by, int64_t now, char id[CL_UUID_LEN + 1]), (s, project_id, email, invited_by, now, id)) \
    X(invitation_count_pending, (struct cl_store *s, const char *project_id, size_t *out), (s, project_id, out)) \
    X(invitation_get, (struct cl_store *s, const char *id, struct cl_invitation *out), (s, id, out)) \
    X(invitation_list_for_email, (struct cl_store *s, const char *email, cl_invitation_cb cb, void *ctx), (s, email, cb, ctx)) \
    X(invitation_respond, (struct cl_store *s, const char *id, const char *user_id, bool accept, int64_t now), (s, id, user_id, accept, now)) \
    X(user_set_email_verified, (struct cl_store *s, const char *user_id, int64_t at), (s, user_id, at)) \
    X(verify_create, (struct cl_store *s, const char *user_id, const char *email, const uint8_t hash[CL_HASH_LEN], int64_t now, int64_t expires_at), (s, user_id, email, hash, now, expires_at)) \
    X(verify_consume, (struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now, char user_id[CL_UUID_LEN + 1]), (s, hash, now, user_id)) \
    X(device_code_void, (struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN], char *id_out), (s, code_hash, id_out)) \
    X(ping, (struct cl_store *s, char *err, size_t errlen), (s, err, errlen)) \
    X(member_role, (struct cl_store *s, const char *project_id, const char *user_id, enum cl_role *out), (s, project_id, user_id, out)) \
    X(device_create, (struct cl_store *s, const struct cl_device *d, const uint8_t code_hash[CL_HASH_LEN], int64_t code_expires_at), (s, d, code_hash, code_expires_at)) \
    X(device_get, (struct cl_store *s, const char *id, struct cl_device *out), (s, id, out)) \
    X(device_list, (struct cl_store *s, const char *project_id, cl_device_cb cb, void *ctx), (s, project_id, cb, ctx)) \
    X(device_pair, (struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN], int64_t now, const char *name, const uint8_t token_hash[CL_HASH_LEN], struct cl_device *out), (s, code_hash, now, name, token_hash, out)) \
    X(device_code_check, (struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN], int64_t now, char *id_out), (s, code_hash, now, id_out)) \
    X(device_token_hash, (struct cl_store *s, const char *device_id, uint8_t out[CL_HASH_LEN]), (s, device_id, out)) \
    X(device_set_online, (struct cl_store *s, const char *device_id, bool online, int64_t now), (s, device_id, online, now)) \
    X(device_all_offline, (struct cl_store *s, int64_t now), (s, now)) \
    X(session_create, (struct cl_store *s, const struct cl_session *sess), (s, sess)) \
    X(session_count_open, (struct cl_store *s, const char *device_id, const char *user_id, size_t *per_device, size_t *per_user), (s, device_id, user_id, per_device, per_user)) \
    X(session_get, (struct cl_store *s, const char *id, struct cl_session *out), (s, id, out)) \
    X(session_list_active, (struct cl_store *s, const char *device_id, cl_session_cb cb, void *ctx), (s, device_id, cb, ctx)) \
    X(share_set, (struct cl_store *s, const char *session_id, const char *user_id, enum cl_share_mode mode, const char *created_by, int64_t now), (s, session_id, user_id, mode, created_by, now)) \
    X(share_get, (struct cl_store *s, const char *session_id, const char *user_id, enum cl_share_mode *out), (s, session_id, user_id, out)) \
    X(share_remove, (struct cl_store *s, const char *session_id, const char *user_id), (s, session_id, user_id)) \
    X(share_list, (struct cl_store *s, const char *session_id, cl_share_cb cb, void *ctx), (s, session_id, cb, ctx)) \
    X(session_set_name, (struct cl_store *s, const char *id, const char *name), (s, id, name)) \
    X(session_set_title, (struct cl_store *s, const char *id, const char *title), (s, id, title)) \
    X(session_end, (struct cl_store *s, const char *id, int64_t now, const char *reason, bool has_exit_code, int exit_code), (s, id, now, reason, has_exit_code, exit_code)) \
    X(project_rename, (struct cl_store *s, const char *id, const char *name, int64_t now), (s, id, name, now)) \
    X(project_delete, (struct cl_store *s, const char *id, struct cl_store_cascade *out), (s, id, out)) \
    X(member_list, (struct cl_store *s, const char *project_id, cl_member_cb cb, void *ctx), (s, project_id, cb, ctx)) \
    X(member_remove, (struct cl_store *s, const char *project_id, const char *user_id, int64_t now, struct cl_store_cascade *out), (s, project_id, user_id, now, out)) \
    X(invitation_list, (struct cl_store *s, const char *project_id, cl_invitation_cb cb, void *ctx), (s, project_id, cb, ctx)) \
    X(invitation_cancel, (struct cl_store *s, const char *project_id, const char *id), (s, project_id, id)) \
    X(device_rename, (struct cl_store *s, const char *id, const char *name), (s, id, name)) \
    X(device_delete, (struct cl_store *s, const char *id, struct cl_store_cascade *out), (s, id, out)) \
    X(device_new_code, (struct cl_store *s, const char *id, const uint8_t code_hash[CL_HASH_LEN], int64_t expires_at), (s, id, code_hash, expires_at)) \
    X(device_heartbeat, (struct cl_store *s, const char *id, int64_t now), (s, id, now)) \
    X(device_set_kind, (struct cl_store *s, const char *id, const char *kind), (s, id, kind)) \
    X(device_set_info, (struct cl_store *s, const char *id, const char *meta, const char *remote_addr, int64_t now), (s, id, meta, remote_addr, now)) \
    X(device_get_info, (struct cl_store *s, const char *id, struct cl_device_info *out), (s, id, out)) \
    X(device_list_for_user, (struct cl_store *s, const char *user_id, cl_device_cb cb, void *ctx), (s, user_id, cb, ctx)) \
    X(session_list, (struct cl_store *s, const struct cl_session_filter *f, cl_session_info_cb cb, void *ctx), (s, f, cb, ctx))
// clang-format on

enum {
#define CL__OP_ID(name, params, args) CL__OP_##name,
    CL__STORE_OPS(CL__OP_ID)
#undef CL__OP_ID
        CL__OP__COUNT
};

_Static_assert(CL__OP__COUNT <= CL_METRICS_STORE_OPS, "raise CL_METRICS_STORE_OPS");
/* Every operation is timed: the table is its name, CL__STORE_OPS and close. An
 * operation added to struct cl_store_ops fails here until it is listed. */
_Static_assert(sizeof(struct cl_store_ops) ==
                   sizeof(const char *) + (CL__OP__COUNT + 1) * sizeof(int (*)(void)),
               "an operation of struct cl_store_ops is missing from CL__STORE_OPS");

/* s->ops is this wrapper's table: it is the outermost one (main.c puts it
 * on last, over store_check.c's). */
static const struct cl_store_ops *cl__inner(struct cl_store *s)
{
    return ((const struct cl__store_wrap *)s->ops)->inner;
}

#define CL__WRAPPER(name, params, args)                                                            \
    static int cl__timed_##name params                                                             \
    {                                                                                              \
        double t0 = cl_metrics_now();                                                              \
        int rc = cl__inner(s)->name args;                                                          \
        cl_metrics_store(CL__OP_##name, #name, cl_metrics_now() - t0);                             \
        return rc;                                                                                 \
    }
CL__STORE_OPS(CL__WRAPPER)
#undef CL__WRAPPER

/* Closes the backend, then frees the wrapping table. */
static void cl__timed_close(struct cl_store *s)
{
    struct cl__store_wrap *w = (struct cl__store_wrap *)s->ops;
    s->ops = w->inner;
    w->inner->close(s);
    free(w);
}

void cl_store_metrics_wrap(struct cl_store *s)
{
    struct cl__store_wrap *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->ops = *s->ops;
    w->inner = s->ops;
#define CL__SET(name, params, args) w->ops.name = cl__timed_##name;
    CL__STORE_OPS(CL__SET)
#undef CL__SET
    w->ops.close = cl__timed_close;
    s->ops = &w->ops;
}
