/*
 * Unit tests for src/relay/policy.c, table-driven: every action is checked
 * for owner, member, another user and anonymous against a real SQLite store
 * (account actions on the owner's account and sign-in token).
 * Adding an action without a row here fails test_every_action_has_rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/policy.h"
#include "relay/store.h"

enum who { OWNER, MEMBER, OTHER, ANON, WHO__COUNT };
static const char *who_name[] = {"owner", "member", "other", "anonymous"};

struct fixture {
    char dir[64];
    struct cl_store s;
    char user[WHO__COUNT][CL_UUID_LEN + 1];
    struct cl_project p;
    struct cl_device d;
    struct cl_session owner_sess, member_sess;
    char owner_token_id[CL_UUID_LEN + 1];
    char invitation_id[CL_UUID_LEN + 1]; /* p's, to OTHER's proven address */
};

static void first_token(const struct cl_token *t, void *ctx)
{
    memcpy(ctx, t->id, CL_UUID_LEN + 1);
}

static void add_user(struct fixture *f, enum who w)
{
    struct cl_user u;
    memset(&u, 0, sizeof u);
    cl_uuid_new(u.id);
    snprintf(u.email, sizeof u.email, "%s-%s@example.com", who_name[w], u.id);
    snprintf(u.pw_hash, sizeof u.pw_hash, "x");
    u.created_at = 1;
    assert_int_equal(f->s.ops->user_create(&f->s, &u), 0);
    memcpy(f->user[w], u.id, sizeof u.id);
    /* every address proven but MEMBER's, so the inbox rows tell apart */
    if (w != MEMBER)
        assert_int_equal(f->s.ops->user_set_email_verified(&f->s, u.id, 2), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[256];
    uint8_t code_hash[CL_HASH_LEN] = {1};
    cl_log_set_level(CL_LOG_ERROR);
    assert_int_equal(cl_secret_init(), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/cl-policy-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(cl_store_open_sqlite(&f->s, f->dir, err, sizeof err), 0);
    add_user(f, OWNER);
    add_user(f, MEMBER);
    add_user(f, OTHER);
    f->user[ANON][0] = 0;

    cl_uuid_new(f->p.id);
    snprintf(f->p.name, sizeof f->p.name, "p");
    memcpy(f->p.owner_id, f->user[OWNER], sizeof f->p.owner_id);
    f->p.created_at = f->p.updated_at = 1;
    assert_int_equal(f->s.ops->project_create(&f->s, &f->p), 0);
    assert_int_equal(
        f->s.ops->member_add(&f->s, f->p.id, f->user[MEMBER], CL_ROLE_MEMBER, f->user[OWNER], 1),
        0);
    /* OTHER owns a project of their own: owning something elsewhere grants nothing here */
    {
        struct cl_project other;
        memset(&other, 0, sizeof other);
        cl_uuid_new(other.id);
        snprintf(other.name, sizeof other.name, "other's");
        memcpy(other.owner_id, f->user[OTHER], sizeof other.owner_id);
        assert_int_equal(f->s.ops->project_create(&f->s, &other), 0);
    }
    cl_uuid_new(f->d.id);
    memcpy(f->d.project_id, f->p.id, sizeof f->d.project_id);
    snprintf(f->d.name, sizeof f->d.name, "d");
    assert_int_equal(f->s.ops->device_create(&f->s, &f->d, code_hash, 100), 0);

    cl_uuid_new(f->owner_sess.id);
    memcpy(f->owner_sess.device_id, f->d.id, sizeof f->d.id);
    memcpy(f->owner_sess.user_id, f->user[OWNER], sizeof f->owner_sess.user_id);
    f->owner_sess.active = true;
    f->owner_sess.started_at = 1;
    assert_int_equal(f->s.ops->session_create(&f->s, &f->owner_sess), 0);
    f->member_sess = f->owner_sess;
    cl_uuid_new(f->member_sess.id);
    memcpy(f->member_sess.user_id, f->user[MEMBER], sizeof f->member_sess.user_id);
    assert_int_equal(f->s.ops->session_create(&f->s, &f->member_sess), 0);
    {
        uint8_t h[CL_HASH_LEN];
        cl_hash_str("clu_owner", h);
        assert_int_equal(f->s.ops->token_create(&f->s, h, f->user[OWNER], 1, 1000), 0);
        assert_int_equal(
            f->s.ops->token_list(&f->s, f->user[OWNER], 2, NULL, first_token, f->owner_token_id),
            0);
        assert_true(cl_uuid_valid(f->owner_token_id));
    }
    {
        struct cl_user o;
        assert_int_equal(f->s.ops->user_by_id(&f->s, f->user[OTHER], &o), 0);
        assert_int_equal(f->s.ops->invitation_create(&f->s, f->p.id, o.email, f->user[OWNER], 3,
                                                     f->invitation_id),
                         0);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    f->s.ops->close(&f->s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

struct row {
    enum cl_action act;
    int want[WHO__COUNT]; /* owner, member, other user, anonymous */
};

/* seed 001 "Roles & Permissions" */
static const struct row project_rows[] = {
    {CL_ACT_PROJECT_VIEW, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_PROJECT_MODIFY, {0, CL_EFORBIDDEN, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_DEVICE_ADD, {0, CL_EFORBIDDEN, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_MEMBER_INVITE, {0, CL_EFORBIDDEN, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_MEMBER_LIST, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_MEMBER_REMOVE, {0, CL_EFORBIDDEN, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_INVITATION_LIST, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_INVITATION_CANCEL, {0, CL_EFORBIDDEN, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_SESSION_HISTORY, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_PROJECT_EVENTS, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
};
static const struct row device_rows[] = {
    {CL_ACT_DEVICE_VIEW, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_DEVICE_MODIFY, {0, CL_EFORBIDDEN, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_SESSION_START, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
    /* issue 6: OpenClaw nodes */
    {CL_ACT_NODE_PROMPT, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_NODE_STATUS, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_NODE_RESTART, {0, CL_EFORBIDDEN, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_NODE_WORKFLOW, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
    /* issue 15: the chat API, as starting a terminal session */
    {CL_ACT_CHAT, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
};
/* on the owner's session: members do not learn of it */
static const struct row owner_session_rows[] = {
    {CL_ACT_SESSION_ATTACH, {0, CL_ENOTFOUND, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_SESSION_END, {0, CL_ENOTFOUND, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_SESSION_SHARE, {0, CL_ENOTFOUND, CL_ENOTFOUND, CL_EAUTH}},
    /* issue 13: only its starter (and the owner) names a session */
    {CL_ACT_SESSION_RENAME, {0, CL_ENOTFOUND, CL_ENOTFOUND, CL_EAUTH}},
};
/* on a member's session: the owner may end and rename it but not attach */
static const struct row member_session_rows[] = {
    {CL_ACT_SESSION_ATTACH, {CL_EFORBIDDEN, 0, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_SESSION_END, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_SESSION_SHARE, {CL_EFORBIDDEN, 0, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_SESSION_RENAME, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
};

/* issue 14: every member may leave (the owner too, as far as the policy
 * goes: the store refuses the last owner) */
static const struct row leave_rows[] = {
    {CL_ACT_MEMBER_LEAVE, {0, 0, CL_ENOTFOUND, CL_EAUTH}},
};

/* on the owner's account and the owner's sign-in token: nobody else may
 * learn of them */
static const struct row account_rows[] = {
    {CL_ACT_ACCOUNT_MANAGE, {0, CL_ENOTFOUND, CL_ENOTFOUND, CL_EAUTH}},
    /* what the account sees: its own projects' devices, the agent download */
    {CL_ACT_NODES_LIST, {0, CL_ENOTFOUND, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_CONNECTOR_DOWNLOAD, {0, CL_ENOTFOUND, CL_ENOTFOUND, CL_EAUTH}},
    /* issue 14: one's own verification link, one's own invitations */
    {CL_ACT_EMAIL_VERIFY, {0, CL_ENOTFOUND, CL_ENOTFOUND, CL_EAUTH}},
    {CL_ACT_INVITATION_INBOX, {0, CL_ENOTFOUND, CL_ENOTFOUND, CL_EAUTH}},
};
/* the invitation to OTHER's (proven) address: theirs alone to answer;
 * MEMBER's address is unproven: refused whatever the invitation */
static const struct row invitation_rows[] = {
    {CL_ACT_INVITATION_RESPOND, {CL_ENOTFOUND, CL_ESTATE, 0, CL_EAUTH}},
};
static const struct row token_rows[] = {
    {CL_ACT_TOKEN_REVOKE, {0, CL_ENOTFOUND, CL_ENOTFOUND, CL_EAUTH}},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void check(struct fixture *f, const struct row *rows, size_t n, int kind)
{
    for (size_t i = 0; i < n; i++) {
        for (int w = 0; w < WHO__COUNT; w++) {
            int got;
            if (kind == 0)
                got = cl_policy_project(&f->s, f->user[w], rows[i].act, f->p.id, NULL);
            else if (kind == 1)
                got = cl_policy_device(&f->s, f->user[w], rows[i].act, f->d.id, NULL);
            else if (kind == 4)
                got = cl_policy_account(&f->s, f->user[w], rows[i].act, f->user[OWNER]);
            else if (kind == 5)
                got = cl_policy_token(&f->s, f->user[w], rows[i].act, f->owner_token_id, NULL);
            else if (kind == 6)
                got = cl_policy_invitation(&f->s, f->user[w], rows[i].act, f->invitation_id, NULL);
            else
                got = cl_policy_session(&f->s, f->user[w], rows[i].act,
                                        kind == 2 ? f->owner_sess.id : f->member_sess.id, NULL,
                                        NULL, NULL);
            if (got != rows[i].want[w])
                fail_msg("%s as %s: got %d (%s), want %d", cl_action_name(rows[i].act), who_name[w],
                         got, cl_strerror(got), rows[i].want[w]);
        }
    }
}

static void test_project_actions(void **state)
{
    check(*state, project_rows, N(project_rows), 0);
    check(*state, leave_rows, N(leave_rows), 0);
}

static void test_device_actions(void **state)
{
    check(*state, device_rows, N(device_rows), 1);
}

/* issue 15: whoever may open a terminal on a device may chat with its
 * agent, and nobody else: the two actions answer alike for every caller
 * on every device (a terminal is more power than chat). */
static void test_chat_follows_session_start(void **state)
{
    struct fixture *f = *state;
    for (int w = 0; w < WHO__COUNT; w++) {
        int term = cl_policy_device(&f->s, f->user[w], CL_ACT_SESSION_START, f->d.id, NULL);
        int chat = cl_policy_device(&f->s, f->user[w], CL_ACT_CHAT, f->d.id, NULL);
        if (term != chat)
            fail_msg("as %s: session.start %d, chat.use %d", who_name[w], term, chat);
    }
    assert_int_equal(cl_policy_device(&f->s, f->user[OWNER], CL_ACT_CHAT, "no-such-device", NULL),
                     CL_ENOTFOUND);
}

static void test_session_actions(void **state)
{
    check(*state, owner_session_rows, N(owner_session_rows), 2);
    check(*state, member_session_rows, N(member_session_rows), 3);
}

static void test_account_actions(void **state)
{
    check(*state, account_rows, N(account_rows), 4);
    check(*state, token_rows, N(token_rows), 5);
    check(*state, invitation_rows, N(invitation_rows), 6);
}

/* An unproven address sees no invitations and answers none; proven, the
 * invitee answers theirs; answered, it is gone. */
static void test_invitations_need_a_proven_address(void **state)
{
    struct fixture *f = *state;
    struct cl_invitation inv;
    assert_int_equal(
        cl_policy_account(&f->s, f->user[MEMBER], CL_ACT_INVITATION_INBOX, f->user[MEMBER]),
        CL_ESTATE);
    assert_int_equal(
        cl_policy_account(&f->s, f->user[OTHER], CL_ACT_INVITATION_INBOX, f->user[OTHER]), 0);
    assert_int_equal(f->s.ops->user_set_email_verified(&f->s, f->user[OTHER], 0), 0);
    assert_int_equal(cl_policy_invitation(&f->s, f->user[OTHER], CL_ACT_INVITATION_RESPOND,
                                          f->invitation_id, NULL),
                     CL_ESTATE);
    assert_int_equal(f->s.ops->user_set_email_verified(&f->s, f->user[OTHER], 5), 0);
    assert_int_equal(cl_policy_invitation(&f->s, f->user[OTHER], CL_ACT_INVITATION_RESPOND,
                                          f->invitation_id, &inv),
                     0);
    assert_string_equal(inv.project_id, f->p.id);
    /* the wrong action, and an answered invitation */
    assert_int_equal(
        cl_policy_invitation(&f->s, f->user[OTHER], CL_ACT_PROJECT_VIEW, f->invitation_id, NULL),
        CL_ENOTFOUND);
    assert_int_equal(
        f->s.ops->invitation_respond(&f->s, f->invitation_id, f->user[OTHER], false, 6), 0);
    assert_int_equal(cl_policy_invitation(&f->s, f->user[OTHER], CL_ACT_INVITATION_RESPOND,
                                          f->invitation_id, NULL),
                     CL_ENOTFOUND);
}

/* Account actions are granted by no project role, and project actions
 * mean nothing on an account. */
static void test_account_actions_stay_apart(void **state)
{
    struct fixture *f = *state;
    char id[CL_UUID_LEN + 1];
    assert_int_equal(cl_policy_project(&f->s, f->user[OWNER], CL_ACT_ACCOUNT_MANAGE, f->p.id, NULL),
                     CL_EFORBIDDEN);
    assert_int_equal(cl_policy_device(&f->s, f->user[OWNER], CL_ACT_TOKEN_REVOKE, f->d.id, NULL),
                     CL_EFORBIDDEN);
    assert_int_equal(cl_policy_project(&f->s, f->user[OWNER], CL_ACT_NODES_LIST, f->p.id, NULL),
                     CL_EFORBIDDEN);
    assert_int_equal(
        cl_policy_project(&f->s, f->user[OWNER], CL_ACT_CONNECTOR_DOWNLOAD, f->p.id, NULL),
        CL_EFORBIDDEN);
    assert_int_equal(cl_policy_account(&f->s, f->user[OWNER], CL_ACT_PROJECT_VIEW, f->user[OWNER]),
                     CL_ENOTFOUND);
    assert_int_equal(cl_policy_account(&f->s, f->user[OWNER], CL_ACT_TOKEN_REVOKE, f->user[OWNER]),
                     CL_ENOTFOUND);
    assert_int_equal(
        cl_policy_token(&f->s, f->user[OWNER], CL_ACT_ACCOUNT_MANAGE, f->owner_token_id, NULL),
        CL_ENOTFOUND);
    /* unknown token ids, and a user id that no longer exists */
    cl_uuid_new(id);
    assert_int_equal(cl_policy_token(&f->s, f->user[OWNER], CL_ACT_TOKEN_REVOKE, id, NULL),
                     CL_ENOTFOUND);
    assert_int_equal(cl_policy_account(&f->s, id, CL_ACT_ACCOUNT_MANAGE, id), CL_EAUTH);
}

static void test_every_action_has_rows(void **state)
{
    bool seen[CL_ACT__COUNT] = {false};
    for (size_t i = 0; i < N(project_rows); i++)
        seen[project_rows[i].act] = true;
    for (size_t i = 0; i < N(device_rows); i++)
        seen[device_rows[i].act] = true;
    for (size_t i = 0; i < N(owner_session_rows); i++)
        seen[owner_session_rows[i].act] = true;
    for (size_t i = 0; i < N(member_session_rows); i++)
        seen[member_session_rows[i].act] = true;
    for (size_t i = 0; i < N(account_rows); i++)
        seen[account_rows[i].act] = true;
    for (size_t i = 0; i < N(token_rows); i++)
        seen[token_rows[i].act] = true;
    for (size_t i = 0; i < N(leave_rows); i++)
        seen[leave_rows[i].act] = true;
    for (size_t i = 0; i < N(invitation_rows); i++)
        seen[invitation_rows[i].act] = true;
    for (int a = 0; a < CL_ACT__COUNT; a++)
        if (!seen[a])
            fail_msg("action %s has no row in the policy table test", cl_action_name(a));
}

static void test_unknown_resources_are_not_found(void **state)
{
    struct fixture *f = *state;
    char id[CL_UUID_LEN + 1];
    cl_uuid_new(id);
    assert_int_equal(cl_policy_project(&f->s, f->user[OWNER], CL_ACT_PROJECT_VIEW, id, NULL),
                     CL_ENOTFOUND);
    assert_int_equal(cl_policy_device(&f->s, f->user[OWNER], CL_ACT_DEVICE_VIEW, id, NULL),
                     CL_ENOTFOUND);
    assert_int_equal(
        cl_policy_session(&f->s, f->user[OWNER], CL_ACT_SESSION_ATTACH, id, NULL, NULL, NULL),
        CL_ENOTFOUND);
}

static void test_allowed_checks_fill_rows(void **state)
{
    struct fixture *f = *state;
    struct cl_project p;
    struct cl_device d;
    struct cl_session s;
    assert_int_equal(cl_policy_project(&f->s, f->user[OWNER], CL_ACT_PROJECT_VIEW, f->p.id, &p), 0);
    assert_string_equal(p.id, f->p.id);
    assert_int_equal(p.role, CL_ROLE_OWNER);
    assert_int_equal(cl_policy_device(&f->s, f->user[OWNER], CL_ACT_SESSION_START, f->d.id, &d), 0);
    assert_string_equal(d.project_id, f->p.id);
    assert_int_equal(cl_policy_session(&f->s, f->user[OWNER], CL_ACT_SESSION_ATTACH,
                                       f->owner_sess.id, &s, &d, NULL),
                     0);
    assert_string_equal(s.device_id, f->d.id);
}

static void test_shares_grant_attach_with_their_mode(void **state)
{
    struct fixture *f = *state;
    enum cl_share_mode mode = CL_SHARE_NONE;
    /* before: the member may not attach to the owner's session */
    assert_int_equal(cl_policy_session(&f->s, f->user[MEMBER], CL_ACT_SESSION_ATTACH,
                                       f->owner_sess.id, NULL, NULL, &mode),
                     CL_ENOTFOUND);
    assert_int_equal(f->s.ops->share_set(&f->s, f->owner_sess.id, f->user[MEMBER], CL_SHARE_VIEW,
                                         f->user[OWNER], 2),
                     0);
    assert_int_equal(cl_policy_session(&f->s, f->user[MEMBER], CL_ACT_SESSION_ATTACH,
                                       f->owner_sess.id, NULL, NULL, &mode),
                     0);
    assert_int_equal(mode, CL_SHARE_VIEW);
    /* a share grants attaching, not ending or re-sharing */
    assert_int_equal(cl_policy_session(&f->s, f->user[MEMBER], CL_ACT_SESSION_END, f->owner_sess.id,
                                       NULL, NULL, NULL),
                     CL_ENOTFOUND);
    assert_int_equal(cl_policy_session(&f->s, f->user[MEMBER], CL_ACT_SESSION_SHARE,
                                       f->owner_sess.id, NULL, NULL, NULL),
                     CL_ENOTFOUND);
    /* nor renaming, even with control */
    assert_int_equal(f->s.ops->share_set(&f->s, f->owner_sess.id, f->user[MEMBER], CL_SHARE_CONTROL,
                                         f->user[OWNER], 2),
                     0);
    assert_int_equal(cl_policy_session(&f->s, f->user[MEMBER], CL_ACT_SESSION_RENAME,
                                       f->owner_sess.id, NULL, NULL, NULL),
                     CL_ENOTFOUND);
    /* the starter always has control */
    assert_int_equal(cl_policy_session(&f->s, f->user[OWNER], CL_ACT_SESSION_ATTACH,
                                       f->owner_sess.id, NULL, NULL, &mode),
                     0);
    assert_int_equal(mode, CL_SHARE_CONTROL);
    /* a share with someone outside the project grants nothing */
    assert_int_equal(f->s.ops->share_set(&f->s, f->owner_sess.id, f->user[OTHER], CL_SHARE_CONTROL,
                                         f->user[OWNER], 3),
                     0);
    assert_int_equal(cl_policy_session(&f->s, f->user[OTHER], CL_ACT_SESSION_ATTACH,
                                       f->owner_sess.id, NULL, NULL, &mode),
                     CL_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_project_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chat_follows_session_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_actions_stay_apart, setup, teardown),
        cmocka_unit_test(test_every_action_has_rows),
        cmocka_unit_test_setup_teardown(test_invitations_need_a_proven_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shares_grant_attach_with_their_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_resources_are_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allowed_checks_fill_rows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
