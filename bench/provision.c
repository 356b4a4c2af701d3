/* provision: users, projects and devices through the store (see provision.h). */
#include "provision.h"

#include "core/err.h"
#include "core/log.h"
#include "relay/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One paired device: created with a pairing code, then paired with it. */
static int prov__device(struct cl_store *s, const char *project_id, size_t i, int64_t now,
                        struct prov_device *out)
{
    struct cl_device d, paired;
    char code[CL_PAIRING_CODE_LEN + 1];
    uint8_t code_hash[CL_HASH_LEN], token_hash[CL_HASH_LEN];
    int rc;

    memset(&d, 0, sizeof d);
    cl_uuid_new(d.id);
    snprintf(d.project_id, sizeof d.project_id, "%s", project_id);
    snprintf(d.name, sizeof d.name, "bench-%zu", i);
    d.created_at = now;
    cl_pairing_code_new(code);
    cl_hash_str(code, code_hash);
    rc = s->ops->device_create(s, &d, code_hash, now + CL_PAIRING_CODE_TTL_S);
    if (rc)
        return rc;
    cl_token_new(CL_TOKEN_DEVICE, out->token);
    cl_hash_str(out->token, token_hash);
    rc = s->ops->device_pair(s, code_hash, now, NULL, token_hash, &paired);
    if (rc)
        return rc;
    snprintf(out->id, sizeof out->id, "%s", d.id);
    return 0;
}

int prov_create(struct prov *p, const char *dir, size_t ndev, char *err, size_t errlen)
{
    struct cl_store s;
    struct cl_user u;
    struct cl_project pr;
    uint8_t hash[CL_HASH_LEN];
    int64_t now = (int64_t)time(NULL);
    int rc;

    memset(p, 0, sizeof p[0]);
    cl_log_set_level(CL_LOG_ERROR);
    if (cl_secret_init() != 0)
        return cl_seterr(err, errlen, CL_EIO, "libsodium init failed");
    rc = cl_store_open_sqlite(&s, dir, err, errlen);
    if (rc)
        return rc;

    memset(&u, 0, sizeof u);
    cl_uuid_new(u.id);
    snprintf(u.email, sizeof u.email, "bench-%.8s@example.test", u.id);
    snprintf(u.display_name, sizeof u.display_name, "bench");
    /* never used to log in: the bench holds a token instead */
    snprintf(u.pw_hash, sizeof u.pw_hash, "$argon2id$bench-no-login");
    u.created_at = now;
    rc = s.ops->user_create(&s, &u);
    if (rc) {
        cl_seterr(err, errlen, rc, "user_create: %s", cl_strerror(rc));
        goto out_close;
    }
    cl_token_new(CL_TOKEN_USER, p->user_token);
    cl_hash_str(p->user_token, hash);
    rc = s.ops->token_create(&s, hash, u.id, now, now + CL_USER_TOKEN_TTL_S);
    if (rc) {
        cl_seterr(err, errlen, rc, "token_create: %s", cl_strerror(rc));
        goto out_close;
    }
    snprintf(p->user_id, sizeof p->user_id, "%s", u.id);

    for (int k = 0; k < 2; k++) {
        memset(&pr, 0, sizeof pr);
        cl_uuid_new(pr.id);
        snprintf(pr.name, sizeof pr.name, k ? "bench-sim" : "bench");
        snprintf(pr.owner_id, sizeof pr.owner_id, "%s", u.id);
        pr.created_at = pr.updated_at = now;
        rc = s.ops->project_create(&s, &pr);
        if (rc) {
            cl_seterr(err, errlen, rc, "project_create: %s", cl_strerror(rc));
            goto out_close;
        }
        snprintf(k ? p->sim_project_id : p->project_id, sizeof p->project_id, "%s", pr.id);
    }

    p->dev = calloc(ndev ? ndev : 1, sizeof *p->dev);
    if (!p->dev)
        abort();
    for (size_t i = 0; i < ndev; i++) {
        rc = prov__device(&s, i ? p->sim_project_id : p->project_id, i, now, &p->dev[i]);
        if (rc) {
            cl_seterr(err, errlen, rc, "device %zu: %s", i, cl_strerror(rc));
            goto out_close;
        }
        p->ndev = i + 1;
    }
out_close:
    s.ops->close(&s);
    return rc;
}

void prov_free(struct prov *p)
{
    free(p->dev);
    cl_wipe(p, sizeof *p);
}
