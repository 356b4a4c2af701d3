/*
 * store: opening the relay's store from a URL (--store).
 *
 * The one place that knows which backends exist: main.c hands it the URL
 * and gets a store whose ops table it uses from then on. "sqlite:PATH" is
 * the embedded database in the directory PATH (store_sqlite.c; a PATH
 * naming its clawlink.db file is taken as that file's directory);
 * "postgres://..." and "postgresql://..." are libpq's URLs for the
 * cluster's backend (store_pg.c), never taken for a file name. A postgres
 * URL may hold a password: no message here or below repeats it.
 */
#include "relay/store.h"
#include "relay/store_check.h"
#include "relay/store_pg.h"
#include "core/err.h"
#include "core/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL__SQLITE_PREFIX "sqlite:"
#define CL__DB_SUFFIX     "/clawlink.db"

static bool cl__has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int cl_store_url_parse(const char *url, struct cl_store_url *out, char *err, size_t errlen)
{
    size_t n;

    memset(out, 0, sizeof *out);
    if (!url || !*url)
        return cl_seterr(err, errlen, CL_EINVAL, "empty store URL");
    n = strlen(url);
    if (n > CL_STORE_URL_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "store URL longer than %d bytes",
                         CL_STORE_URL_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] < 0x20 || url[i] == 0x7f)
            return cl_seterr(err, errlen, CL_EINVAL, "control character in the store URL");
    if (cl__has_prefix(url, "postgres://") || cl__has_prefix(url, "postgresql://")) {
        /* libpq parses the rest when the store opens (store_pg.c) */
        out->kind = CL_STORE_POSTGRES;
        memcpy(out->path, url, n + 1);
        return 0;
    }
    if (!cl__has_prefix(url, CL__SQLITE_PREFIX))
        return cl_seterr(err, errlen, CL_EINVAL,
                         "unknown store URL: want sqlite:PATH or a postgresql: URL");
    url += strlen(CL__SQLITE_PREFIX);
    n = strlen(url);
    if (n >= strlen(CL__DB_SUFFIX) && strcmp(url + n - strlen(CL__DB_SUFFIX), CL__DB_SUFFIX) == 0)
        n -= strlen(CL__DB_SUFFIX);
    else if (strcmp(url, "clawlink.db") == 0)
        url = ".", n = 1;
    if (n == 0)
        return cl_seterr(err, errlen, CL_EINVAL, "sqlite: wants a directory, e.g. sqlite:./var");
    out->kind = CL_STORE_SQLITE;
    memcpy(out->path, url, n);
    out->path[n] = 0;
    return 0;
}

int cl_store_url_load(const char *path, char *buf, size_t buflen, char *err, size_t errlen)
{
    struct cl_store_url u;
    char why[128];
    FILE *f = fopen(path, "re");
    size_t n;
    int rc = 0;

    if (!f)
        return cl_seterr(err, errlen, CL_EIO, "cannot read %s: %s", path, strerror(errno));
    n = fread(buf, 1, buflen - 1, f);
    if (ferror(f))
        rc = cl_seterr(err, errlen, CL_EIO, "cannot read %s", path);
    else if ((n == buflen - 1 && fgetc(f) != EOF) || n > CL_STORE_URL_MAX + 1)
        rc = cl_seterr(err, errlen, CL_EINVAL, "%s: longer than %d bytes", path, CL_STORE_URL_MAX);
    fclose(f);
    if (rc)
        goto out_wipe;
    buf[n] = 0;
    while (n &&
           (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = 0;
    rc = cl_store_url_parse(buf, &u, why, sizeof why);
    cl_wipe(u.path, sizeof u.path);
    if (rc) {
        rc = cl_seterr(err, errlen, CL_EINVAL, "%s: %s", path, why);
        goto out_wipe;
    }
    return 0;
out_wipe:
    cl_wipe(buf, buflen);
    return rc;
}

int cl_store_open(struct cl_store *s, const char *url, char *err, size_t errlen)
{
    struct cl_store_url u;
    int rc;

    memset(s, 0, sizeof *s);
    rc = cl_store_url_parse(url, &u, err, errlen);
    if (rc)
        return rc;
    if (u.kind == CL_STORE_POSTGRES)
        rc = cl_store_open_pg(s, u.path, err, errlen);
    else
        rc = cl_store_open_sqlite(s, u.path, err, errlen);
    cl_wipe(u.path, sizeof u.path); /* a postgres URL's password */
    if (rc)
        return rc;
    cl_store_check_wrap(s);
    return 0;
}

void cl_id_list_add(struct cl_id_list *l, const char *id)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->id = realloc(l->id, l->cap * sizeof *l->id);
        if (!l->id)
            abort();
    }
    snprintf(l->id[l->n++], CL_UUID_LEN + 1, "%s", id);
}

void cl_id_list_free(struct cl_id_list *l)
{
    free(l->id);
    memset(l, 0, sizeof *l);
}

void cl_store_cascade_free(struct cl_store_cascade *c)
{
    cl_id_list_free(&c->ended);
    cl_id_list_free(&c->unshared);
    cl_id_list_free(&c->devices);
    cl_id_list_free(&c->projects);
    cl_id_list_free(&c->left);
}
