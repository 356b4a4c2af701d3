/* config: load, validate and atomically save the agent's JSON config. */
#include "agent/config.h"
#include "core/err.h"
#include "core/json.h"
#include "core/proto.h"
#include "core/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* A config is a few hundred bytes; anything this big is not ours. */
#define CL__CONFIG_MAX_BYTES (64 * 1024)

int cl_agent_config_default_path(char *out, size_t cap, char *err, size_t errlen)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;

    if (xdg && xdg[0] == '/') {
        n = snprintf(out, cap, "%s/clawlink/agent.json", xdg);
    } else {
        if (!home || home[0] != '/') {
            struct passwd *pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : NULL;
        }
        if (!home || home[0] != '/')
            return cl_seterr(err, errlen, CL_ENOTFOUND,
                             "no home directory (set HOME or use --config PATH)");
        n = snprintf(out, cap, "%s/.config/clawlink/agent.json", home);
    }
    if (n < 0 || (size_t)n >= cap)
        return cl_seterr(err, errlen, CL_ELIMIT, "path too long");
    return 0;
}

int cl_agent_config_validate(const struct cl_agent_config *cfg, char *err, size_t errlen)
{
    size_t tlen = strnlen(cfg->token, sizeof cfg->token);

    if (!cl_proto_id_valid(cfg->device_id))
        return cl_seterr(err, errlen, CL_EINVAL,
                         "device_id must be 1-%d characters of [A-Za-z0-9._:-]", CL_ID_MAX);
    if (tlen == 0 || tlen > CL_TOKEN_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "token must be 1-%d bytes", CL_TOKEN_MAX);
    if (strncmp(cfg->relay_url, "ws://", 5) != 0 && strncmp(cfg->relay_url, "wss://", 6) != 0)
        return cl_seterr(err, errlen, CL_EINVAL, "relay_url must start with ws:// or wss://");
    if (strnlen(cfg->relay_url, sizeof cfg->relay_url) > CL_URL_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "relay_url is longer than %d bytes", CL_URL_MAX);
    return 0;
}

void cl_agent_config_wipe(struct cl_agent_config *cfg)
{
    cl_wipe(cfg, sizeof *cfg);
}

/* jansson frees strings without clearing them; overwrite the token's copy
 * inside a parsed or built tree before it is released. */
static void cl__wipe_json_token(json_t *obj)
{
    json_t *t = json_object_get(obj, "token");
    if (json_is_string(t))
        cl_wipe((char *)json_string_value(t), json_string_length(t));
}

/* Copies optional-or-required string field key (at most cap-1 bytes). */
static int cl__field(json_t *root, const char *key, bool required, char *dst, size_t cap,
                     const char *path, char *err, size_t errlen)
{
    const char *s;
    char why[160];
    int rc = cl_json_str(root, "config", key, required, cap - 1, &s, why, sizeof why);
    if (rc)
        return cl_seterr(err, errlen, rc, "%s: %s", path, why);
    if (s)
        memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int cl_agent_config_parse(const char *buf, size_t len, const char *origin,
                          struct cl_agent_config *cfg, char *err, size_t errlen)
{
    char why[200];
    json_t *root;
    int rc;

    memset(cfg, 0, sizeof *cfg);
    root = cl_json_parse_object(buf, len, why, sizeof why);
    if (!root)
        return cl_seterr(err, errlen, CL_EINVAL, "%s: %s", origin, why);
    rc = cl__field(root, "device_id", true, cfg->device_id, sizeof cfg->device_id, origin, err,
                   errlen);
    if (!rc)
        rc = cl__field(root, "token", true, cfg->token, sizeof cfg->token, origin, err, errlen);
    if (!rc)
        rc = cl__field(root, "relay_url", true, cfg->relay_url, sizeof cfg->relay_url, origin, err,
                       errlen);
    if (!rc)
        rc = cl__field(root, "name", false, cfg->name, sizeof cfg->name, origin, err, errlen);
    if (!rc) {
        rc = cl_agent_config_validate(cfg, why, sizeof why);
        if (rc)
            cl_seterr(err, errlen, rc, "%s: %s", origin, why);
    }
    cl__wipe_json_token(root);
    json_decref(root);
    if (rc)
        cl_agent_config_wipe(cfg);
    return rc;
}

bool cl_agent_url_insecure(const char *url)
{
    const char *host;
    size_t n;

    if (strncmp(url, "ws://", 5) == 0)
        host = url + 5;
    else if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else
        return false;
    if (host[0] == '[')
        return strncmp(host, "[::1]", 5) != 0;
    n = strcspn(host, ":/?#");
    if ((n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
        (n > 4 && strncmp(host, "127.", 4) == 0))
        return false;
    return true;
}

static bool cl__owner_ok(uid_t uid, bool root_only)
{
    return uid == 0 || (!root_only && uid == geteuid());
}

int cl_agent_check_dirs(const char *path, bool root_only, char *err, size_t errlen)
{
    return cl_agent_check_dirs_at(path, root_only, NULL, 0, err, errlen);
}

/* Copies the offending directory into bad (when given). */
static void cl__bad_dir(char *bad, size_t badlen, const char *dir)
{
    if (bad && badlen)
        snprintf(bad, badlen, "%s", dir);
}

int cl_agent_check_dirs_at(const char *path, bool root_only, char *bad, size_t badlen, char *err,
                           size_t errlen)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *who = root_only ? "root" : "root or you";
    struct stat sb;
    size_t n = strlen(path);
    char *slash;

    if (n >= sizeof dir)
        return cl_seterr(err, errlen, CL_EIO, "path too long");
    memcpy(dir, path, n + 1);
    slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    if (!realpath(dir, real))
        return cl_seterr(err, errlen, CL_EIO, "cannot resolve %s: %s", dir, strerror(errno));
    for (;;) {
        if (stat(real, &sb) != 0)
            return cl_seterr(err, errlen, CL_EIO, "cannot stat %s: %s", real, strerror(errno));
        if (!cl__owner_ok(sb.st_uid, root_only) || ((sb.st_mode & 022) && !(sb.st_mode & S_ISVTX)))
            cl__bad_dir(bad, badlen, real);
        if (!cl__owner_ok(sb.st_uid, root_only))
            return cl_seterr(err, errlen, CL_EFORBIDDEN, "%s belongs to uid %u, not to %s", real,
                             (unsigned)sb.st_uid, who);
        if ((sb.st_mode & 022) && !(sb.st_mode & S_ISVTX))
            return cl_seterr(err, errlen, CL_EFORBIDDEN,
                             "%s can be written by other users (mode %04o)", real,
                             (unsigned)(sb.st_mode & 07777));
        if (strcmp(real, "/") == 0)
            return 0;
        slash = strrchr(real, '/');
        if (slash == real)
            real[1] = 0;
        else
            *slash = 0;
    }
}

enum cl_agent_file_flaw cl_agent_private_file_flaw(const struct stat *st)
{
    if (S_ISLNK(st->st_mode))
        return CL_AGENT_FILE_SYMLINK;
    if (!S_ISREG(st->st_mode))
        return CL_AGENT_FILE_NOT_REGULAR;
    if (st->st_mode & (S_IRWXG | S_IRWXO))
        return CL_AGENT_FILE_OPEN_MODE;
    if (st->st_uid != geteuid())
        return CL_AGENT_FILE_OTHER_OWNER;
    return CL_AGENT_FILE_OK;
}

int cl_agent_file_read_private(const char *path, size_t max, const char *holds, char **out,
                               size_t *out_len, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    int fd, rc;

    *out = NULL;
    *out_len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return cl_seterr(err, errlen, CL_ENOTFOUND, "%s: no such file", path);
        if (errno == ELOOP)
            return cl_seterr(err, errlen, CL_EFORBIDDEN,
                             "%s holds %s but is a symbolic link; point at the file itself", path,
                             holds);
        return cl_seterr(err, errlen, CL_EIO, "%s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        rc = cl_seterr(err, errlen, CL_EIO, "%s: %s", path, strerror(errno));
        goto out_close;
    }
    if (cl_agent_private_file_flaw(&st) == CL_AGENT_FILE_NOT_REGULAR) {
        rc = cl_seterr(err, errlen, CL_EINVAL, "%s: not a regular file", path);
        goto out_close;
    }
    if (cl_agent_private_file_flaw(&st) == CL_AGENT_FILE_OPEN_MODE) {
        rc = cl_seterr(err, errlen, CL_EFORBIDDEN,
                       "%s holds %s but is accessible by other users (mode %04o); "
                       "run: chmod 600 %s",
                       path, holds, (unsigned)(st.st_mode & 07777), path);
        goto out_close;
    }
    if (cl_agent_private_file_flaw(&st) == CL_AGENT_FILE_OTHER_OWNER) {
        rc = cl_seterr(err, errlen, CL_EFORBIDDEN,
                       "%s holds %s but belongs to uid %u, not to you (uid %u)", path, holds,
                       (unsigned)st.st_uid, (unsigned)geteuid());
        goto out_close;
    }
    rc = cl_agent_check_dirs(path, false, err, errlen);
    if (rc) {
        char why[384];
        snprintf(why, sizeof why, "%s", err);
        rc = cl_seterr(err, errlen, rc, "%s holds %s, but %s", path, holds, why);
        goto out_close;
    }
    if ((size_t)st.st_size > max) {
        rc = cl_seterr(err, errlen, CL_EINVAL, "%s: larger than %zu bytes", path, max);
        goto out_close;
    }
    buf = malloc(max + 1);
    if (!buf) {
        rc = cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
        goto out_close;
    }
    while (len < max) {
        ssize_t n = read(fd, buf + len, max - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cl_seterr(err, errlen, CL_EIO, "%s: %s", path, strerror(errno));
            cl_wipe(buf, max + 1);
            free(buf);
            goto out_close;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0;
    *out = buf;
    *out_len = len;
    rc = 0;
out_close:
    close(fd);
    return rc;
}

int cl_agent_config_load(const char *path, struct cl_agent_config *cfg, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    memset(cfg, 0, sizeof *cfg);
    rc = cl_agent_file_read_private(path, CL__CONFIG_MAX_BYTES, "a device token", &buf, &len, err,
                                    errlen);
    if (rc)
        return rc;
    rc = cl_agent_config_parse(buf, len, path, cfg, err, errlen);
    cl_wipe(buf, len);
    free(buf);
    if (rc)
        cl_agent_config_wipe(cfg);
    return rc;
}

int cl_agent_mkdirs(const char *path, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    size_t n = strlen(path);

    if (n >= sizeof dir)
        return cl_seterr(err, errlen, CL_ELIMIT, "path too long");
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = 0;
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != 0)
            continue;
        char saved = *p;
        *p = 0;
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return cl_seterr(err, errlen, CL_EIO, "cannot create directory %s: %s", dir,
                             strerror(errno));
        *p = saved;
        if (saved == 0)
            break;
    }
    return 0;
}

static int cl__write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int cl_agent_file_write_private(const char *path, const char *text, size_t len, char *err,
                                size_t errlen)
{
    char tmp[PATH_MAX];
    int fd = -1, rc, n;

    rc = cl_agent_mkdirs(path, err, errlen);
    if (rc)
        return rc;
    /* A fresh random name each try: O_EXCL never reuses a stale file, and a
     * symlink planted at the temporary name is not followed. */
    for (int attempt = 0; fd < 0 && attempt < 8; attempt++) {
        n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%08x", path, (long)getpid(),
                     randombytes_random());
        if (n < 0 || (size_t)n >= sizeof tmp)
            return cl_seterr(err, errlen, CL_ELIMIT, "path too long: %s", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno != EEXIST)
            return cl_seterr(err, errlen, CL_EIO, "cannot create %s: %s", tmp, strerror(errno));
    }
    if (fd < 0)
        return cl_seterr(err, errlen, CL_EIO, "cannot create a temporary file next to %s", path);
    /* The umask may have narrowed 0600 further, never widened it; make it
     * exactly 0600 so the owner can read it back. */
    if (fchmod(fd, 0600) != 0 || cl__write_all(fd, text, len) != 0 ||
        cl__write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
        rc = cl_seterr(err, errlen, CL_EIO, "cannot write %s: %s", tmp, strerror(errno));
        goto out_unlink;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = cl_seterr(err, errlen, CL_EIO, "cannot write %s: %s", tmp, strerror(errno));
        goto out_unlink;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = cl_seterr(err, errlen, CL_EIO, "cannot rename %s to %s: %s", tmp, path,
                       strerror(errno));
        goto out_unlink;
    }
    /* Make the rename itself durable. Best effort: failure here does not
     * undo a completed rename. */
    {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            if (slash == dir)
                slash[1] = 0;
            else
                *slash = 0;
        } else {
            snprintf(dir, sizeof dir, ".");
        }
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    return 0;

out_unlink:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

/* The object already at path, so that saving new credentials (re-pairing)
 * keeps the rest of the file: the `openclaw` section, `capabilities`. An
 * empty object when there is no readable, well-formed file. */
static json_t *cl__existing_object(const char *path)
{
    char *buf = NULL, why[200];
    size_t len = 0;
    json_t *root = NULL;

    if (cl_agent_file_read_private(path, CL__CONFIG_MAX_BYTES, "a device token", &buf, &len, why,
                                   sizeof why) == 0) {
        root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
        cl_wipe(buf, len);
        free(buf);
    }
    if (root && !json_is_object(root)) {
        json_decref(root);
        root = NULL;
    }
    if (root)
        cl__wipe_json_token(root); /* replaced below */
    return root ? root : json_object();
}

static const char *const cl__secret_keys[] = {"token", NULL};

int cl_agent_config_save(const char *path, const struct cl_agent_config *cfg, char *err,
                         size_t errlen)
{
    json_t *root;
    int rc;

    rc = cl_agent_config_validate(cfg, err, errlen);
    if (rc)
        return rc;

    root = cl__existing_object(path);
    if (json_object_set_new(root, "device_id", json_string(cfg->device_id)) ||
        json_object_set_new(root, "token", json_string(cfg->token)) ||
        json_object_set_new(root, "relay_url", json_string(cfg->relay_url)) ||
        json_object_set_new(root, "name", json_string(cfg->name))) {
        cl__wipe_json_token(root);
        json_decref(root);
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    }
    return cl_agent_json_write_private(path, root, cl__secret_keys, err, errlen);
}

int cl_agent_json_write_private(const char *path, json_t *root, const char *const *secrets,
                                char *err, size_t errlen)
{
    char *text = json_dumps(root, JSON_INDENT(2));
    size_t len;
    int rc;

    for (size_t i = 0; secrets && secrets[i]; i++) {
        json_t *v = json_object_get(root, secrets[i]);
        if (json_is_string(v))
            cl_wipe((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(root);
    if (!text)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    len = strlen(text);
    rc = cl_agent_file_write_private(path, text, len, err, errlen);
    cl_wipe(text, len);
    free(text);
    return rc;
}

/* ---- the memory provider (docs/chat.md "Memory providers") ---------------------------- */

void cl_agent_memory_config_wipe(struct cl_agent_memory_config *mc)
{
    cl_wipe(mc, sizeof *mc);
}

int cl_agent_memory_config_parse(const char *buf, size_t len, const char *origin,
                                 const char *env_url, struct cl_agent_memory_config *out, char *err,
                                 size_t errlen)
{
    const char *prov = NULL, *url = NULL;
    char why[200];
    json_t *root;
    int rc;

    memset(out, 0, sizeof *out);
    root = cl_json_parse_object(buf, len, why, sizeof why);
    if (!root)
        return cl_seterr(err, errlen, CL_EINVAL, "%s: %s", origin, why);
    rc = cl_json_str(root, "config", "memory_provider", false, 16, &prov, why, sizeof why);
    if (rc) {
        rc = cl_seterr(err, errlen, rc, "%s: %s", origin, why);
        goto out;
    }
    if (!prov || strcmp(prov, "builtin") == 0) {
        out->provider = CL_AGENT_MEMORY_BUILTIN;
    } else if (strcmp(prov, "postgres") == 0) {
        out->provider = CL_AGENT_MEMORY_POSTGRES;
    } else {
        rc = cl_seterr(err, errlen, CL_EINVAL,
                       "%s: memory_provider must be \"builtin\" or \"postgres\"", origin);
        goto out;
    }
    /* Not echoed on error: it may hold a password. */
    if (cl_json_str(root, "config", "memory_pg_url", false, CL_MEMORY_PG_URL_MAX, &url, why,
                    sizeof why) != 0) {
        rc = cl_seterr(err, errlen, CL_EINVAL,
                       "%s: memory_pg_url must be a string of at most %d bytes", origin,
                       CL_MEMORY_PG_URL_MAX);
        goto out;
    }
    if (out->provider == CL_AGENT_MEMORY_POSTGRES) {
        if ((!url || !*url) && env_url && *env_url) {
            if (strlen(env_url) > CL_MEMORY_PG_URL_MAX) {
                rc = cl_seterr(err, errlen, CL_EINVAL,
                               "$CLAWLINK_MEMORY_PG_URL is longer than %d bytes",
                               CL_MEMORY_PG_URL_MAX);
                goto out;
            }
            url = env_url;
            out->pg_url_from_env = true;
        }
        if (!url || !*url) {
            rc = cl_seterr(err, errlen, CL_EINVAL,
                           "%s: memory_provider is \"postgres\" but there is no connection "
                           "string (memory_pg_url, or $CLAWLINK_MEMORY_PG_URL)",
                           origin);
            goto out;
        }
        memcpy(out->pg_url, url, strlen(url) + 1);
    }
    rc = 0;
out : {
    json_t *u = json_object_get(root, "memory_pg_url");
    if (json_is_string(u))
        cl_wipe((char *)json_string_value(u), json_string_length(u));
}
    cl__wipe_json_token(root);
    json_decref(root);
    if (rc)
        cl_agent_memory_config_wipe(out);
    return rc;
}

int cl_agent_memory_config_load(const char *path, struct cl_agent_memory_config *out, char *err,
                                size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof *out);
    rc = cl_agent_file_read_private(path, CL__CONFIG_MAX_BYTES, "a device token", &buf, &len, err,
                                    errlen);
    if (rc)
        return rc;
    rc = cl_agent_memory_config_parse(buf, len, path, getenv("CLAWLINK_MEMORY_PG_URL"), out, err,
                                      errlen);
    cl_wipe(buf, len);
    free(buf);
    return rc;
}

int cl_agent_files_config_parse(const char *buf, size_t len, const char *origin,
                                struct cl_agent_files_config *out, char *err, size_t errlen)
{
    char why[200];
    json_t *root, *arr, *v;
    size_t i;
    int rc = 0;

    memset(out, 0, sizeof *out);
    root = cl_json_parse_object(buf, len, why, sizeof why);
    if (!root)
        return cl_seterr(err, errlen, CL_EINVAL, "%s: %s", origin, why);
    arr = json_object_get(root, "files_read_roots");
    if (!arr || json_is_null(arr))
        goto out;
    if (!json_is_array(arr) || json_array_size(arr) > CL_FILES_ROOTS_MAX) {
        rc = cl_seterr(err, errlen, CL_EINVAL,
                       "%s: files_read_roots must be an array of at most %d paths", origin,
                       CL_FILES_ROOTS_MAX);
        goto out;
    }
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || s[0] != '/' || json_string_length(v) > CL_FILES_PATH_MAX ||
            strlen(s) != json_string_length(v)) {
            rc = cl_seterr(err, errlen, CL_EINVAL,
                           "%s: files_read_roots[%zu] must be an absolute path of at most %d "
                           "bytes",
                           origin, i, CL_FILES_PATH_MAX);
            goto out;
        }
        memcpy(out->roots[out->nroots++], s, strlen(s) + 1);
    }
    out->set = true;
out:
    cl__wipe_json_token(root);
    json_decref(root);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

int cl_agent_files_config_load(const char *path, struct cl_agent_files_config *out, char *err,
                               size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof *out);
    rc = cl_agent_file_read_private(path, CL__CONFIG_MAX_BYTES, "a device token", &buf, &len, err,
                                    errlen);
    if (rc)
        return rc;
    rc = cl_agent_files_config_parse(buf, len, path, out, err, errlen);
    cl_wipe(buf, len);
    free(buf);
    return rc;
}
