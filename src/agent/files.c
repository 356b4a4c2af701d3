/*
 * files: safe resolution and the file operations of the chat API's
 * /files routes (files.h; docs/chat.md "Files"; docs/decisions.md, the
 * "(filesagent)" decision, for why it is written this way).
 */
#include "agent/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"

/* One allowed root, normalized ("/home/me"). A root given through a
 * symbolic link is listed twice: as given and as the kernel resolves it,
 * both meaning the same directory. */
struct cl__root {
    char path[CL_FILES_PATH_MAX + 1];
    size_t len;
    bool home;
};

struct cl__upload {
    bool used;
    char id[CL_FILES_UPLOAD_ID_LEN + 1];
    char owner[128];
    char norm[CL_FILES_PATH_MAX + 1];
    char name[CL_FILES_NAME_MAX + 1];
    char tmp[40];
    int dirfd; /* the target's directory (O_PATH) */
    int fd;    /* the temporary file, written */
    uint64_t received;
    bool overwrite;
    int64_t last_ms;
    crypto_hash_sha256_state sha;
};

struct cl_files {
    struct cl__root roots[2 * (CL_FILES_ROOTS_MAX + 1)];
    size_t nroots;
    char home[CL_FILES_PATH_MAX + 1];
    struct cl__upload up[CL_FILES_UPLOADS_MAX];
};

static bool cl__force_walk;

void cl_files_force_walk(bool on)
{
    cl__force_walk = on;
}

const char *cl_files_type_name(enum cl_files_type t)
{
    switch (t) {
    case CL_FILES_FILE:
        return "file";
    case CL_FILES_DIR:
        return "dir";
    case CL_FILES_LINK:
        return "link";
    default:
        return "other";
    }
}

static int64_t cl__mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the text of a path ------------------------------------------------------------------ */

/* Appends the components of s to norm (at *o), refusing what a path may
 * not hold. */
static int cl__add_components(const char *s, char *norm, size_t cap, size_t *o, size_t *ncomp,
                              char *why, size_t whylen)
{
    while (*s) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.')) {
            /* "//" and "." name nothing */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            return cl_seterr(why, whylen, CL_EINVAL,
                             "a '..' component is not allowed in a path (name the path from "
                             "its root, or relative to $HOME)");
        } else if (n > CL_FILES_NAME_MAX) {
            return cl_seterr(why, whylen, CL_EINVAL,
                             "a path component is longer than CL_FILES_NAME_MAX (%d bytes)",
                             CL_FILES_NAME_MAX);
        } else if (++*ncomp > CL_FILES_DEPTH_MAX) {
            return cl_seterr(why, whylen, CL_EINVAL,
                             "the path has more than CL_FILES_DEPTH_MAX (%d) components",
                             CL_FILES_DEPTH_MAX);
        } else {
            if (*o + 1 + n > CL_FILES_PATH_MAX || *o + 1 + n + 1 > cap)
                return cl_seterr(why, whylen, CL_EINVAL,
                                 "the path is longer than CL_FILES_PATH_MAX (%d bytes)",
                                 CL_FILES_PATH_MAX);
            norm[(*o)++] = '/';
            memcpy(norm + *o, s, n);
            *o += n;
        }
        s += n;
        if (*s == '/')
            s++;
    }
    return 0;
}

int cl_files_normalize(const char *in, size_t len, const char *home, char *norm, size_t cap,
                       char *why, size_t whylen)
{
    size_t o = 0, ncomp = 0;
    int rc;

    if (cap < 2)
        return cl_seterr(why, whylen, CL_EINVAL, "no room for the path");
    if (!in) {
        in = "";
        len = 0;
    }
    if (strlen(in) != len)
        return cl_seterr(why, whylen, CL_EINVAL, "the path contains a NUL character");
    if (len > CL_FILES_PATH_MAX)
        return cl_seterr(why, whylen, CL_EINVAL,
                         "the path is longer than CL_FILES_PATH_MAX (%d bytes)", CL_FILES_PATH_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f)
            return cl_seterr(why, whylen, CL_EINVAL, "the path contains a control character");
    if (in[0] != '/') {
        if (!home || home[0] != '/')
            return cl_seterr(why, whylen, CL_EINVAL, "a relative path needs $HOME");
        rc = cl__add_components(home, norm, cap, &o, &ncomp, why, whylen);
        if (rc)
            return rc;
    }
    rc = cl__add_components(in, norm, cap, &o, &ncomp, why, whylen);
    if (rc)
        return rc;
    if (o == 0)
        norm[o++] = '/';
    norm[o] = '\0';
    return 0;
}

/* ---- roots ---------------------------------------------------------------------------------- */

static int cl__add_root(struct cl_files *f, const char *path, bool home, char *why, size_t whylen)
{
    char norm[CL_FILES_PATH_MAX + 1], real[PATH_MAX];
    int rc;

    if (!path || path[0] != '/')
        return cl_seterr(why, whylen, CL_EINVAL, "a files root must be an absolute path: %s",
                         path ? path : "(none)");
    rc = cl_files_normalize(path, strlen(path), NULL, norm, sizeof norm, why, whylen);
    if (rc)
        return rc;
    for (int pass = 0; pass < 2; pass++) {
        const char *p = norm;
        if (pass == 1) {
            char again[CL_FILES_PATH_MAX + 1], ignore[64];
            if (!realpath(norm, real) ||
                cl_files_normalize(real, strlen(real), NULL, again, sizeof again, ignore,
                                   sizeof ignore) ||
                strcmp(again, norm) == 0)
                break;
            p = real;
        }
        if (f->nroots == sizeof f->roots / sizeof f->roots[0])
            return cl_seterr(why, whylen, CL_EINVAL,
                             "more than CL_FILES_ROOTS_MAX (%d) files roots", CL_FILES_ROOTS_MAX);
        snprintf(f->roots[f->nroots].path, sizeof f->roots[0].path, "%s", p);
        f->roots[f->nroots].len = strlen(p);
        f->roots[f->nroots].home = home;
        f->nroots++;
    }
    return 0;
}

int cl_files_new(const struct cl_files_cfg *cfg, struct cl_files **out, char *why, size_t whylen)
{
    static const char *const defaults[] = {"/tmp"};
    const char *const *roots = cfg->read_roots ? cfg->read_roots : defaults;
    size_t n = cfg->read_roots ? cfg->nroots : 1;
    struct cl_files *f;
    int rc;

    *out = NULL;
    if (n > CL_FILES_ROOTS_MAX)
        return cl_seterr(why, whylen, CL_EINVAL, "more than CL_FILES_ROOTS_MAX (%d) files roots",
                         CL_FILES_ROOTS_MAX);
    f = calloc(1, sizeof *f);
    if (!f)
        return CL_ENOMEM;
    rc = cl_files_normalize(cfg->home, cfg->home ? strlen(cfg->home) : 0, NULL, f->home,
                            sizeof f->home, why, whylen);
    if (rc || !cfg->home || cfg->home[0] != '/' || strcmp(f->home, "/") == 0) {
        free(f);
        return cl_seterr(why, whylen, CL_EINVAL, "$HOME must be an absolute directory below /");
    }
    /* home is always a root: what may be written may be read back */
    rc = cl__add_root(f, f->home, true, why, whylen);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = cl__add_root(f, roots[i], false, why, whylen);
    if (rc) {
        free(f);
        return rc;
    }
    for (size_t i = 0; i < CL_FILES_UPLOADS_MAX; i++)
        f->up[i].dirfd = f->up[i].fd = -1;
    *out = f;
    return 0;
}

static void cl__abandon(struct cl__upload *u)
{
    if (!u->used)
        return;
    if (u->fd >= 0)
        close(u->fd);
    if (u->dirfd >= 0) {
        unlinkat(u->dirfd, u->tmp, 0);
        close(u->dirfd);
    }
    memset(u, 0, sizeof *u);
    u->fd = u->dirfd = -1;
}

void cl_files_free(struct cl_files *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < CL_FILES_UPLOADS_MAX; i++)
        cl__abandon(&f->up[i]);
    free(f);
}

void cl_files_sweep(struct cl_files *f, int64_t now_ms)
{
    for (size_t i = 0; i < CL_FILES_UPLOADS_MAX; i++)
        if (f->up[i].used && now_ms - f->up[i].last_ms >= CL_FILES_UPLOAD_IDLE_MS)
            cl__abandon(&f->up[i]);
}

/* The longest root norm lies in (write: home's only), and the rest below
 * it ("." for the root itself). */
static int cl__place(struct cl_files *f, const char *norm, bool write, const struct cl__root **root,
                     const char **rest, char *why, size_t whylen)
{
    const struct cl__root *best = NULL;
    for (size_t i = 0; i < f->nroots; i++) {
        const struct cl__root *r = &f->roots[i];
        bool in = r->len == 1 || (strncmp(norm, r->path, r->len) == 0 &&
                                  (norm[r->len] == '/' || norm[r->len] == '\0'));
        if (in && (!best || r->len > best->len))
            best = r;
    }
    if (write && (!best || !best->home))
        return cl_seterr(why, whylen, CL_EFORBIDDEN, "writes are allowed only inside $HOME (%s)",
                         f->home);
    if (!best)
        return cl_seterr(why, whylen, CL_EFORBIDDEN,
                         "%s is outside the allowed roots ($HOME and the read roots)", norm);
    *root = best;
    *rest = norm + (best->len == 1 ? 0 : best->len);
    while (**rest == '/')
        (*rest)++;
    if (!**rest)
        *rest = ".";
    return 0;
}

/* ---- opening beneath a root ----------------------------------------------------------------- */

static int cl__errno(int err, const char *root, char *why, size_t whylen)
{
    switch (err) {
    case ENOENT:
        return cl_seterr(why, whylen, CL_ENOTFOUND, "no such file or directory");
    case ENOTDIR:
        return cl_seterr(why, whylen, CL_EINVAL, "a component of the path is not a directory");
    case EXDEV:
    case ELOOP:
        return cl_seterr(why, whylen, CL_EFORBIDDEN,
                         "a symbolic link leads outside %s (only relative links that stay inside "
                         "the root are followed)",
                         root);
    case EACCES:
    case EPERM:
        return cl_seterr(why, whylen, CL_EFORBIDDEN, "permission denied");
    case ENXIO:
    case ENODEV:
    case ETXTBSY:
        return cl_seterr(why, whylen, CL_EFORBIDDEN, "not a regular file");
    case EISDIR:
        return cl_seterr(why, whylen, CL_EFORBIDDEN, "not a regular file (a directory)");
    case ENAMETOOLONG:
        return cl_seterr(why, whylen, CL_EINVAL, "the path is too long");
    default:
        return cl_seterr(why, whylen, CL_EIO, "%s", strerror(err));
    }
}

/* The same rule as openat2(RESOLVE_BENEATH) for kernels without it: one
 * component at a time with O_NOFOLLOW from rootfd, a stack of the
 * directories walked; a symbolic link is read and its (relative) text
 * walked in its place, ".." in it popping the stack but never above the
 * root; an absolute link is refused. */
static int cl__walk(int rootfd, const char *rest, int flags, int *out, const char *root, char *why,
                    size_t whylen)
{
    char buf[2 * CL_FILES_PATH_MAX + 2], *p = buf;
    int stack[CL_FILES_DEPTH_MAX + 1], depth = 0, links = 0, rc = 0;

    snprintf(buf, sizeof buf, "%s", rest);
    stack[0] = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    if (stack[0] < 0)
        return cl__errno(errno, root, why, whylen);
    for (;;) {
        char comp[CL_FILES_NAME_MAX + 1];
        const char *q;
        size_t n;
        bool last, islink = false;
        int fd;

        while (*p == '/')
            p++;
        if (!*p) {
            fd = openat(stack[depth], ".", flags | O_CLOEXEC);
            rc = fd < 0 ? cl__errno(errno, root, why, whylen) : 0;
            if (fd >= 0)
                *out = fd;
            break;
        }
        n = strcspn(p, "/");
        if (n > CL_FILES_NAME_MAX) {
            rc = cl_seterr(why, whylen, CL_EINVAL, "a path component is too long");
            break;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        p += n;
        for (q = p; *q == '/'; q++)
            ;
        last = *q == '\0';
        if (strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0) {
            if (depth == 0) {
                rc = cl__errno(EXDEV, root, why, whylen);
                break;
            }
            close(stack[depth--]);
            continue;
        }
        fd = openat(stack[depth], comp,
                    (last ? flags : O_PATH | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            struct stat st;
            if ((err == ELOOP || err == ENOTDIR) &&
                fstatat(stack[depth], comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                islink = true;
            if (!islink) {
                rc = cl__errno(err, root, why, whylen);
                break;
            }
        } else {
            struct stat st;
            if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) { /* O_PATH opens the link itself */
                islink = true;
                close(fd);
            }
        }
        if (islink) {
            char target[CL_FILES_PATH_MAX + 1], next[sizeof buf];
            ssize_t tn;
            if (++links > CL_FILES_SYMLINKS_MAX) {
                rc = cl__errno(ELOOP, root, why, whylen);
                break;
            }
            tn = readlinkat(stack[depth], comp, target, sizeof target - 1);
            if (tn <= 0 || (size_t)tn >= sizeof target - 1) {
                rc = tn < 0 ? cl__errno(errno, root, why, whylen)
                            : cl_seterr(why, whylen, CL_EFORBIDDEN, "an unreadable symbolic link");
                break;
            }
            target[tn] = '\0';
            if (target[0] == '/') {
                rc = cl__errno(EXDEV, root, why, whylen);
                break;
            }
            if ((size_t)snprintf(next, sizeof next, "%s/%s", target, p) >= sizeof next) {
                rc = cl__errno(ELOOP, root, why, whylen);
                break;
            }
            memcpy(buf, next, strlen(next) + 1);
            p = buf;
            continue;
        }
        if (last) {
            *out = fd;
            break;
        }
        if (depth == CL_FILES_DEPTH_MAX) {
            close(fd);
            rc = cl_seterr(why, whylen, CL_EINVAL, "the path is too deep");
            break;
        }
        stack[++depth] = fd;
    }
    while (depth >= 0)
        close(stack[depth--]);
    return rc;
}

/* Opens rest beneath rootfd with flags: no component, no link followed,
 * leaves the root. */
static int cl__open_beneath(int rootfd, const char *rest, int flags, int *out, const char *root,
                            char *why, size_t whylen)
{
    if (!cl__force_walk) {
        struct open_how how = {
            .flags = (uint64_t)(flags | O_CLOEXEC),
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        long fd;
        do
            fd = syscall(SYS_openat2, rootfd, rest, &how, sizeof how);
        while (fd < 0 && errno == EINTR);
        if (fd >= 0) {
            *out = (int)fd;
            return 0;
        }
        if (errno != ENOSYS && errno != E2BIG)
            return cl__errno(errno, root, why, whylen);
    }
    return cl__walk(rootfd, rest, flags, out, root, why, whylen);
}

/* Nothing on procfs or sysfs is served, even under a root ("/" as a
 * root, a bind mount). */
static int cl__check_fs(int fd, char *why, size_t whylen)
{
    struct statfs sf;
    if (fstatfs(fd, &sf) != 0)
        return cl__errno(errno, "", why, whylen);
    if (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC || sf.f_type == DEBUGFS_MAGIC ||
        sf.f_type == SECURITYFS_MAGIC)
        return cl_seterr(why, whylen, CL_EFORBIDDEN, "procfs and sysfs are not served");
    return 0;
}

/* Normalizes path, places it under its root and opens it there. */
static int cl__open(struct cl_files *f, const char *path, size_t len, bool write, int flags,
                    char *norm, int *fd, char *why, size_t whylen)
{
    const struct cl__root *root;
    const char *rest;
    int rootfd, rc;

    rc = cl_files_normalize(path, len, f->home, norm, CL_FILES_PATH_MAX + 1, why, whylen);
    if (rc)
        return rc;
    rc = cl__place(f, norm, write, &root, &rest, why, whylen);
    if (rc)
        return rc;
    rootfd = open(root->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return cl__errno(errno, root->path, why, whylen);
    rc = cl__open_beneath(rootfd, rest, flags, fd, root->path, why, whylen);
    close(rootfd);
    if (rc == 0 && (rc = cl__check_fs(*fd, why, whylen)) != 0)
        close(*fd);
    return rc;
}

static void cl__entry(const char *name, const struct stat *st, struct cl_files_entry *e)
{
    snprintf(e->name, sizeof e->name, "%s", name);
    e->type = S_ISREG(st->st_mode)   ? CL_FILES_FILE
              : S_ISDIR(st->st_mode) ? CL_FILES_DIR
              : S_ISLNK(st->st_mode) ? CL_FILES_LINK
                                     : CL_FILES_OTHER;
    e->size = (int64_t)st->st_size;
    e->mtime_ms = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
    e->mode = (unsigned)(st->st_mode & 07777);
}

static const char *cl__basename(const char *norm)
{
    const char *s = strrchr(norm, '/');
    return s && s[1] ? s + 1 : "/";
}

/* ---- reading ------------------------------------------------------------------------------- */

static int cl__cmp_entry(const void *a, const void *b)
{
    const struct cl_files_entry *x = a, *y = b;
    bool dx = x->type == CL_FILES_DIR, dy = y->type == CL_FILES_DIR;
    if (dx != dy)
        return dx ? -1 : 1;
    return strcmp(x->name, y->name);
}

int cl_files_list(struct cl_files *f, const char *path, size_t len, char *norm,
                  struct cl_files_entry **out, size_t *n, bool *truncated, char *why, size_t whylen)
{
    struct cl_files_entry *arr;
    struct dirent *de;
    DIR *d;
    int fd, rc;

    *out = NULL;
    *n = 0;
    *truncated = false;
    rc = cl__open(f, path, len, false, O_RDONLY | O_DIRECTORY, norm, &fd, why, whylen);
    if (rc)
        return rc;
    d = fdopendir(fd);
    if (!d) {
        rc = cl__errno(errno, norm, why, whylen);
        close(fd);
        return rc;
    }
    arr = malloc(CL_FILES_LIST_MAX * sizeof *arr);
    if (!arr) {
        closedir(d);
        return CL_ENOMEM;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (*n == CL_FILES_LIST_MAX) {
            *truncated = true;
            break;
        }
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* gone since readdir */
        cl__entry(de->d_name, &st, &arr[(*n)++]);
    }
    closedir(d);
    qsort(arr, *n, sizeof *arr, cl__cmp_entry);
    *out = arr;
    return 0;
}

int cl_files_stat(struct cl_files *f, const char *path, size_t len, char *norm,
                  struct cl_files_entry *e, char *why, size_t whylen)
{
    struct stat st;
    int fd, rc = cl__open(f, path, len, false, O_PATH, norm, &fd, why, whylen);
    if (rc)
        return rc;
    if (fstat(fd, &st) != 0)
        rc = cl__errno(errno, norm, why, whylen);
    else
        cl__entry(cl__basename(norm), &st, e);
    close(fd);
    return rc;
}

/* Opens the regular file at path for reading without ever opening
 * anything else: resolved O_PATH first (opening a device or a FIFO can
 * have effects of its own), checked, then reopened through its
 * descriptor's /proc/self/fd link and checked to be the same inode.
 * Without /proc: opened O_RDONLY | O_NONBLOCK (a FIFO cannot hang the
 * agent before fstat refuses it). */
static int cl__open_regular(struct cl_files *f, const char *path, size_t len, char *norm, int *out,
                            char *why, size_t whylen)
{
    char proc[64];
    struct stat a, b;
    int pfd, fd = -1, rc = cl__open(f, path, len, false, O_PATH, norm, &pfd, why, whylen);

    if (rc)
        return rc;
    if (fstat(pfd, &a) != 0) {
        rc = cl__errno(errno, norm, why, whylen);
        goto out_close;
    }
    if (!S_ISREG(a.st_mode)) {
        rc = cl_seterr(why, whylen, CL_EFORBIDDEN, "not a regular file%s",
                       S_ISDIR(a.st_mode) ? " (a directory)" : "");
        goto out_close;
    }
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
    fd = open(proc, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) /* no /proc */
        rc =
            cl__open(f, path, len, false, O_RDONLY | O_NONBLOCK | O_NOCTTY, norm, &fd, why, whylen);
    else if (fd < 0)
        rc = cl__errno(errno, norm, why, whylen);
    else if (fstat(fd, &b) != 0 || b.st_dev != a.st_dev || b.st_ino != a.st_ino) {
        close(fd);
        rc = cl_seterr(why, whylen, CL_EIO, "the file changed while it was opened");
    }
    if (rc == 0)
        *out = fd;
out_close:
    close(pfd);
    return rc;
}

int cl_files_read(struct cl_files *f, const char *path, size_t len, char *norm, uint64_t offset,
                  uint8_t *buf, size_t cap, size_t *got, int64_t *size, int64_t *mtime_ms,
                  char *why, size_t whylen)
{
    struct stat st;
    int fd = -1, rc;

    *got = 0;
    rc = cl__open_regular(f, path, len, norm, &fd, why, whylen);
    if (rc)
        return rc;
    if (fstat(fd, &st) != 0) {
        rc = cl__errno(errno, norm, why, whylen);
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = cl_seterr(why, whylen, CL_EFORBIDDEN, "not a regular file%s",
                       S_ISDIR(st.st_mode) ? " (a directory)" : "");
        goto out_close;
    }
    *size = (int64_t)st.st_size;
    *mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    if (offset > (uint64_t)INT64_MAX) {
        rc = cl_seterr(why, whylen, CL_EINVAL, "offset is out of range");
        goto out_close;
    }
    while (*got < cap) {
        ssize_t r = pread(fd, buf + *got, cap - *got, (off_t)(offset + *got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = cl__errno(errno, norm, why, whylen);
            goto out_close;
        }
        if (r == 0)
            break;
        *got += (size_t)r;
    }
out_close:
    close(fd);
    return rc;
}

/* ---- writing ---------------------------------------------------------------------------------
 */

/* The directory a new name at path goes into (inside home), opened
 * O_PATH, and that name. */
static int cl__open_parent(struct cl_files *f, const char *path, size_t len, char *norm, int *dirfd,
                           char *name, char *why, size_t whylen)
{
    char parent[CL_FILES_PATH_MAX + 1];
    const struct cl__root *root;
    const char *rest, *slash;
    int rootfd, rc;

    rc = cl_files_normalize(path, len, f->home, norm, CL_FILES_PATH_MAX + 1, why, whylen);
    if (rc)
        return rc;
    rc = cl__place(f, norm, true, &root, &rest, why, whylen);
    if (rc)
        return rc;
    if (strcmp(rest, ".") == 0)
        return cl_seterr(why, whylen, CL_EINVAL, "the path names $HOME itself");
    slash = strrchr(rest, '/');
    if (slash) {
        snprintf(parent, sizeof parent, "%.*s", (int)(slash - rest), rest);
        snprintf(name, CL_FILES_NAME_MAX + 1, "%s", slash + 1);
    } else {
        snprintf(parent, sizeof parent, ".");
        snprintf(name, CL_FILES_NAME_MAX + 1, "%s", rest);
    }
    rootfd = open(root->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return cl__errno(errno, root->path, why, whylen);
    rc = cl__open_beneath(rootfd, parent, O_PATH | O_DIRECTORY, dirfd, root->path, why, whylen);
    close(rootfd);
    if (rc == 0 && (rc = cl__check_fs(*dirfd, why, whylen)) != 0)
        close(*dirfd);
    return rc;
}

int cl_files_mkdir(struct cl_files *f, const char *path, size_t len, char *norm,
                   struct cl_files_entry *e, char *why, size_t whylen)
{
    char name[CL_FILES_NAME_MAX + 1];
    struct stat st;
    int dirfd, rc = cl__open_parent(f, path, len, norm, &dirfd, name, why, whylen);
    if (rc)
        return rc;
    if (mkdirat(dirfd, name, 0700) != 0) {
        rc = errno == EEXIST ? cl_seterr(why, whylen, CL_EEXIST, "something is already at %s", norm)
                             : cl__errno(errno, norm, why, whylen);
    } else if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        rc = cl__errno(errno, norm, why, whylen);
    } else {
        cl__entry(name, &st, e);
    }
    close(dirfd);
    return rc;
}

static void cl__hex(const uint8_t *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* A new upload of c->path: the target checked, the temporary file made. */
static int cl__upload_begin(struct cl_files *f, const struct cl_files_chunk *c, char *norm,
                            struct cl__upload **out, char *why, size_t whylen)
{
    struct cl__upload *u = NULL;
    struct stat st;
    uint8_t rnd[16];
    int rc;

    for (size_t i = 0; i < CL_FILES_UPLOADS_MAX && !u; i++)
        if (!f->up[i].used)
            u = &f->up[i];
    if (c->offset != 0)
        return cl_seterr(why, whylen, CL_ESTATE, "a new upload starts at offset 0");
    if (!u)
        return cl_seterr(why, whylen, CL_EAGAIN,
                         "CL_FILES_UPLOADS_MAX (%d) uploads are in progress", CL_FILES_UPLOADS_MAX);
    rc = cl__open_parent(f, c->path, c->path_len, norm, &u->dirfd, u->name, why, whylen);
    if (rc) {
        u->dirfd = -1;
        return rc;
    }
    if (fstatat(u->dirfd, u->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!c->overwrite)
            rc = cl_seterr(why, whylen, CL_EEXIST, "%s exists (overwrite: true replaces it)", norm);
        else if (!S_ISREG(st.st_mode))
            rc = cl_seterr(why, whylen, CL_EEXIST, "%s exists and is not a regular file", norm);
    } else if (errno != ENOENT) {
        rc = cl__errno(errno, norm, why, whylen);
    }
    if (rc)
        goto out_close_dir;
    randombytes_buf(rnd, 8);
    memcpy(u->tmp, ".clawlink-upload-", 17);
    cl__hex(rnd, 8, u->tmp + 17);
    u->fd = openat(u->dirfd, u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        rc = cl__errno(errno, norm, why, whylen);
        goto out_close_dir;
    }
    randombytes_buf(rnd, sizeof rnd);
    cl__hex(rnd, sizeof rnd, u->id);
    snprintf(u->owner, sizeof u->owner, "%s", c->owner ? c->owner : "");
    snprintf(u->norm, sizeof u->norm, "%s", norm);
    u->overwrite = c->overwrite;
    u->received = 0;
    crypto_hash_sha256_init(&u->sha);
    u->used = true;
    *out = u;
    return 0;

out_close_dir:
    close(u->dirfd);
    u->dirfd = -1;
    return rc;
}

int cl_files_upload(struct cl_files *f, const struct cl_files_chunk *c, char *norm, char *id_out,
                    uint64_t *received, bool *done, struct cl_files_entry *e, uint8_t sha256[32],
                    char *why, size_t whylen)
{
    struct cl__upload *u = NULL;
    struct stat st;
    size_t off = 0;
    int rc;

    *done = false;
    *received = 0;
    id_out[0] = '\0';
    cl_files_sweep(f, cl__mono_ms());
    if (c->n > CL_FILES_UPLOAD_CHUNK)
        return cl_seterr(why, whylen, CL_ELIMIT,
                         "a chunk is over CL_FILES_UPLOAD_CHUNK (%d bytes decoded)",
                         CL_FILES_UPLOAD_CHUNK);
    if (c->upload_id && c->upload_id[0]) {
        for (size_t i = 0; i < CL_FILES_UPLOADS_MAX && !u; i++)
            if (f->up[i].used && strcmp(f->up[i].id, c->upload_id) == 0 &&
                strcmp(f->up[i].owner, c->owner ? c->owner : "") == 0)
                u = &f->up[i];
        if (!u)
            return cl_seterr(why, whylen, CL_ENOTFOUND,
                             "no upload %.40s in progress (finished, abandoned or idle too long)",
                             c->upload_id);
        snprintf(norm, CL_FILES_PATH_MAX + 1, "%s", u->norm);
        if (c->offset != u->received) {
            *received = u->received;
            return cl_seterr(why, whylen, CL_ESTATE,
                             "the next chunk is at offset %llu, not %llu: send from there",
                             (unsigned long long)u->received, (unsigned long long)c->offset);
        }
    } else {
        rc = cl__upload_begin(f, c, norm, &u, why, whylen);
        if (rc)
            return rc;
    }
    if (u->received + c->n > CL_FILES_UPLOAD_MAX) {
        cl__abandon(u);
        return cl_seterr(why, whylen, CL_ELIMIT,
                         "the file is over CL_FILES_UPLOAD_MAX (%d bytes); the upload is abandoned",
                         CL_FILES_UPLOAD_MAX);
    }
    while (off < c->n) {
        ssize_t w = pwrite(u->fd, c->data + off, c->n - off, (off_t)(u->received + off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = cl__errno(w < 0 ? errno : EIO, u->norm, why, whylen);
            cl__abandon(u);
            return rc;
        }
        off += (size_t)w;
    }
    crypto_hash_sha256_update(&u->sha, c->data, c->n);
    u->received += c->n;
    u->last_ms = cl__mono_ms();
    *received = u->received;
    snprintf(id_out, CL_FILES_UPLOAD_ID_LEN + 1, "%s", u->id);
    if (!c->final)
        return 0;

    /* the last chunk: the bytes on disk, then the name, at once */
    if (fsync(u->fd) != 0) {
        rc = cl__errno(errno, u->norm, why, whylen);
        cl__abandon(u);
        return rc;
    }
    close(u->fd);
    u->fd = -1;
    if (renameat2(u->dirfd, u->tmp, u->dirfd, u->name, u->overwrite ? 0 : RENAME_NOREPLACE) != 0) {
        rc = errno == EEXIST ? cl_seterr(why, whylen, CL_EEXIST,
                                         "%s appeared meanwhile; nothing replaced", u->norm)
                             : cl__errno(errno, u->norm, why, whylen);
        cl__abandon(u);
        return rc;
    }
    if (fstatat(u->dirfd, u->name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        memset(&st, 0, sizeof st);
    cl__entry(u->name, &st, e);
    crypto_hash_sha256_final(&u->sha, sha256);
    u->tmp[0] = '\0'; /* renamed: nothing to remove */
    close(u->dirfd);
    u->dirfd = -1;
    cl__abandon(u);
    *done = true;
    return 0;
}
