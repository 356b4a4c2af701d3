/* demo: the demo user, project and device of `make run` (demo.h). */
#include "relay/demo.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/auth.h"
#include "relay/webauth.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool cl__listen_loopback(const struct cl_relay_opts *o)
{
    return strcmp(o->listen_addr, "localhost") == 0 || cl_webauth_addr_loopback(o->listen_addr);
}

/* This machine's name, fit for a device name; "this machine" if none. */
static void cl__device_name(char out[CL_NAME_MAX + 1])
{
    char host[256];
    size_t n = 0;
    if (gethostname(host, sizeof host) == 0) {
        host[sizeof host - 1] = 0;
        for (const char *p = host; *p && n < CL_NAME_MAX; p++)
            if ((unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
                out[n++] = *p;
    }
    out[n] = 0;
    if (!n)
        snprintf(out, CL_NAME_MAX + 1, "this machine");
}

struct cl__first {
    struct cl_project p;
    struct cl_device d;
    bool found;
};

static void cl__first_project(const struct cl_project *p, void *ctx)
{
    struct cl__first *f = ctx;
    if (!f->found && p->role == CL_ROLE_OWNER && strcmp(p->name, CL_DEMO_PROJECT) == 0) {
        f->p = *p;
        f->found = true;
    }
}

static void cl__first_device(const struct cl_device *d, void *ctx)
{
    struct cl__first *f = ctx;
    if (!f->found) {
        f->d = *d;
        f->found = true;
    }
}

/* Creates the demo user with a random password nobody is shown. */
static int cl__create_user(struct cl_store *s, struct cl_user *u)
{
    char pw[48];
    int rc;
    memset(u, 0, sizeof *u);
    cl_token_new(CL_TOKEN_RESET, pw);
    rc = cl_auth_hash_password(pw, u->pw_hash);
    cl_wipe(pw, sizeof pw);
    if (rc)
        return rc;
    cl_uuid_new(u->id);
    snprintf(u->email, sizeof u->email, "%s", CL_DEMO_EMAIL);
    snprintf(u->display_name, sizeof u->display_name, "%s", CL_DEMO_NAME);
    u->created_at = cl_now();
    rc = s->ops->user_create(s, u);
    cl_wipe(u->pw_hash, sizeof u->pw_hash);
    return rc;
}

/* A device with a fresh pairing code in the new project "Demo". */
static int cl__create_device(struct cl_store *s, const char *user_id, struct cl_device *d,
                             char code[CL_PAIRING_CODE_LEN + 1])
{
    struct cl_project p;
    uint8_t code_hash[CL_HASH_LEN];
    int rc;
    memset(&p, 0, sizeof p);
    cl_uuid_new(p.id);
    snprintf(p.name, sizeof p.name, "%s", CL_DEMO_PROJECT);
    snprintf(p.owner_id, sizeof p.owner_id, "%s", user_id);
    p.created_at = p.updated_at = cl_now();
    p.role = CL_ROLE_OWNER;
    rc = s->ops->project_create(s, &p);
    if (rc)
        return rc;
    memset(d, 0, sizeof *d);
    cl_uuid_new(d->id);
    snprintf(d->project_id, sizeof d->project_id, "%s", p.id);
    snprintf(d->kind, sizeof d->kind, "%s", CL_DEVICE_KIND_CONNECTOR);
    cl__device_name(d->name);
    d->created_at = cl_now();
    d->code_expires_at = d->created_at + CL_PAIRING_CODE_TTL_S;
    cl_pairing_code_new(code);
    cl_hash_str(code, code_hash);
    rc = s->ops->device_create(s, d, code_hash, d->code_expires_at);
    if (rc)
        cl_wipe(code, CL_PAIRING_CODE_LEN + 1);
    return rc;
}

/* Writes what the operator needs to file, 0600, replacing it at once
 * (a temporary file renamed over it: a reader sees all of it or none). */
static int cl__write(const char *file, json_t *o)
{
    size_t len = 0;
    char *text = cl_json_dump(o, &len), tmp[1024];
    int fd, rc = 0, n = snprintf(tmp, sizeof tmp, "%s.tmp", file);
    if (!text)
        return CL_ENOMEM;
    if (n < 0 || (size_t)n >= sizeof tmp) {
        rc = CL_EINVAL;
        goto out_free;
    }
    unlink(tmp); /* a leftover of a crash; O_EXCL below refuses anything in the way */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0 || write(fd, text, len) != (ssize_t)len ||
        write(fd, "\n", 1) != 1)
        rc = CL_EIO;
    if (fd >= 0 && close(fd) != 0)
        rc = CL_EIO;
    if (rc == 0 && rename(tmp, file) != 0)
        rc = CL_EIO;
    if (rc)
        unlink(tmp);
out_free:
    cl_wipe(text, len);
    free(text);
    return rc;
}

int cl_demo_prepare(struct cl_relay *r, const char *file)
{
    struct cl_store *s = &r->store;
    struct cl_user u;
    struct cl__first f;
    char code[CL_PAIRING_CODE_LEN + 1] = "", signin[CL_TOKEN_STR_LEN + 1] = "", url[128];
    int64_t users = 0;
    bool fresh = false;
    json_t *o;
    int rc;

    if (!cl__listen_loopback(&r->opts)) {
        cl_warn("demo", "no demo: --listen is not a loopback address", "addr=%s",
                r->opts.listen_addr);
        return 0;
    }
    memset(&f, 0, sizeof f);
    rc = s->ops->user_by_email(s, CL_DEMO_EMAIL, &u);
    if (rc == CL_ENOTFOUND) {
        rc = s->ops->user_count(s, &users);
        if (rc)
            return rc;
        if (users > 0) {
            cl_info("demo", "no demo: the database has users but no demo user", "users=%lld",
                    (long long)users);
            return 0;
        }
        rc = cl__create_user(s, &u);
        if (rc)
            return rc;
        rc = cl__create_device(s, u.id, &f.d, code);
        if (rc)
            return rc;
        f.found = fresh = true;
    } else if (rc) {
        return rc;
    } else {
        cl_wipe(u.pw_hash, sizeof u.pw_hash);
        s->ops->project_list_for_user(s, u.id, cl__first_project, &f);
        if (f.found) {
            f.found = false;
            s->ops->device_list(s, f.p.id, cl__first_device, &f);
        }
        if (f.found && !f.d.paired) {
            /* never paired (an earlier run stopped first): a new code */
            uint8_t code_hash[CL_HASH_LEN];
            cl_pairing_code_new(code);
            cl_hash_str(code, code_hash);
            if (s->ops->device_new_code(s, f.d.id, code_hash, cl_now() + CL_PAIRING_CODE_TTL_S))
                code[0] = 0;
        }
    }
    rc = cl_webauth_signin_code_new(r, u.id, signin);
    if (rc) {
        cl_wipe(code, sizeof code);
        return rc;
    }
    if (strchr(r->opts.listen_addr, ':'))
        snprintf(url, sizeof url, "%s://[%s]:%d", r->opts.tls_cert ? "https" : "http",
                 r->opts.listen_addr, r->opts.port);
    else
        snprintf(url, sizeof url, "%s://%s:%d", r->opts.tls_cert ? "https" : "http",
                 r->opts.listen_addr, r->opts.port);
    o = json_pack("{s:s, s:s, s:s}", "url", url, "signin_code", signin, "email", CL_DEMO_EMAIL);
    json_object_set_new(o, "device_id", f.found ? json_string(f.d.id) : json_null());
    json_object_set_new(o, "pairing_code", code[0] ? json_string(code) : json_null());
    rc = cl__write(file, o);
    json_decref(o); /* jansson copied the secrets: its copies die with o */
    cl_wipe(code, sizeof code);
    cl_wipe(signin, sizeof signin);
    if (rc) {
        cl_error("demo", "cannot write the demo file", "file=%s err=\"%s\"", file, strerror(errno));
        return rc;
    }
    cl_info("demo", fresh ? "demo user, project and device created" : "demo sign-in code renewed",
            "user=%s device=%s file=%s", u.id, f.found ? f.d.id : "-", file);
    return 0;
}
