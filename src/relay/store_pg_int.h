/*
 * store_pg_int: what the PostgreSQL store's files share (store_pg.c: the
 * connection, statements, transactions, columns, open; store_pg_accounts.c
 * and store_pg_control.c: the ops). Not for use outside store_pg*.c.
 */
#ifndef CL_RELAY_STORE_PG_INT_H
#define CL_RELAY_STORE_PG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pqlib.h"
#include "relay/store.h"

#define CL_PG_PARAMS_MAX 8

struct cl_pg {
    PGconn *conn;          /* NULL: not connected (the next op connects) */
    char *url;             /* the conninfo: a secret (a password), wiped at close */
    bool in_tx;            /* inside BEGIN: a lost connection is not silently reopened */
    uint64_t next_dial_ms; /* after a failed dial, none before this (CLOCK_MONOTONIC) */
};

/* A statement's parameters, in order ($1, $2, ...): zero-initialise, add
 * with cl_pg_p_*; numbers are formatted into num. */
struct cl_pg_params {
    int n;
    const char *v[CL_PG_PARAMS_MAX];
    int len[CL_PG_PARAMS_MAX];
    int fmt[CL_PG_PARAMS_MAX];
    char num[CL_PG_PARAMS_MAX][24];
};

void cl_pg_p_str(struct cl_pg_params *p, const char *s);
void cl_pg_p_opt(struct cl_pg_params *p, const char *s);
void cl_pg_p_i64(struct cl_pg_params *p, int64_t v);
void cl_pg_p_hash(struct cl_pg_params *p, const uint8_t *h);
int cl_pg_run(struct cl_pg *q, const char *sql, const struct cl_pg_params *p, PGresult **out,
              const char *op);
int cl_pg_write(struct cl_pg *q, const char *sql, const struct cl_pg_params *p, bool need_one,
                long *changed, const char *op);
int cl_pg_exec(struct cl_pg *q, const char *sql, const struct cl_pg_params *p, const char *op);
int cl_pg_exec_one(struct cl_pg *q, const char *sql, const struct cl_pg_params *p, const char *op);
int cl_pg_begin(struct cl_pg *q, const char *op);
int cl_pg_commit(struct cl_pg *q, const char *op);
void cl_pg_rollback(struct cl_pg *q, const char *op);
int cl_pg_end(struct cl_pg *q, int rc, const char *op);
void cl_pg_str(const PGresult *r, int row, int col, char *buf, size_t n);
int64_t cl_pg_i64(const PGresult *r, int row, int col);
bool cl_pg_null(const PGresult *r, int row, int col);
bool cl_pg_bool(const PGresult *r, int row, int col);
bool cl_pg_hash(const PGresult *r, int row, int col, uint8_t out[CL_HASH_LEN]);
int cl_pg_collect_ids(struct cl_pg *q, const char *sql, const char *a, const char *b,
                      struct cl_id_list *l, const char *op);
int cl_pg_one(struct cl_pg *q, const char *sql, const struct cl_pg_params *p, PGresult **out,
              const char *op);
int cl_pg_cascade_end(struct cl_pg *q, struct cl_store_cascade *out, int rc, const char *op);

/* the ops of store_pg_accounts.c; cl_pg_close is store_pg.c's */
int cl_pg_user_create(struct cl_store *s, const struct cl_user *u);
int cl_pg_user_by_email(struct cl_store *s, const char *email, struct cl_user *out);
int cl_pg_user_by_id(struct cl_store *s, const char *id, struct cl_user *out);
int cl_pg_token_create(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], const char *user_id,
                       int64_t now, int64_t expires_at);
int cl_pg_token_user(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                     char user_id[CL_UUID_LEN + 1]);
int cl_pg_token_revoke(struct cl_store *s, const uint8_t hash[CL_HASH_LEN]);
int cl_pg_token_list(struct cl_store *s, const char *user_id, int64_t now,
                     const uint8_t current[CL_HASH_LEN], cl_token_cb cb, void *ctx);
int cl_pg_token_get(struct cl_store *s, const char *id, struct cl_token *out);
int cl_pg_token_revoke_id(struct cl_store *s, const char *id, int64_t now);
int cl_pg_tokens_revoke_all(struct cl_store *s, const char *user_id,
                            const uint8_t keep[CL_HASH_LEN], int64_t now, int *revoked);
int cl_pg_profile_update(struct cl_store *s, const char *user_id, const char *display_name,
                         const char *avatar_url);
int cl_pg_user_set_password(struct cl_store *s, const char *user_id, const char *pw_hash,
                            const uint8_t keep[CL_HASH_LEN], int64_t now);
int cl_pg_user_delete(struct cl_store *s, const char *user_id, int64_t now,
                      struct cl_store_cascade *out);
int cl_pg_reset_create(struct cl_store *s, const char *user_id, const uint8_t hash[CL_HASH_LEN],
                       int64_t now, int64_t expires_at);
int cl_pg_reset_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                        const char *pw_hash, char user_id[CL_UUID_LEN + 1]);
int cl_pg_verify_create(struct cl_store *s, const char *user_id, const char *email,
                        const uint8_t hash[CL_HASH_LEN], int64_t now, int64_t expires_at);
int cl_pg_verify_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                         char user_id[CL_UUID_LEN + 1]);
int cl_pg_user_set_email_verified(struct cl_store *s, const char *user_id, int64_t at);
int cl_pg_secret_get(struct cl_store *s, const char *name, const uint8_t fresh[CL_HASH_LEN],
                     uint8_t out[CL_HASH_LEN]);
int cl_pg_user_count(struct cl_store *s, int64_t *out);
int cl_pg_ping(struct cl_store *s, char *err, size_t errlen);
int cl_pg_signin_code_create(struct cl_store *s, const uint8_t hash[CL_HASH_LEN],
                             const char *user_id, int64_t now, int64_t expires_at);
int cl_pg_signin_code_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                              char user_id[CL_UUID_LEN + 1]);
void cl_pg_close(struct cl_store *s);

/* the table (store_pg_control.c) */
extern const struct cl_store_ops cl_pg_ops;

#endif
