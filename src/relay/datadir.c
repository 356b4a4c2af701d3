/* datadir: the relay's data-directory permission rules (datadir.h). */
#include "relay/datadir.h"
#include "core/err.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Checks one path; fix: whether this kind may be chmod'ed. */
static void cl__datadir_one(enum cl_datadir_kind kind, const char *path, uid_t dir_uid, bool fix,
                            cl_datadir_fn fn, void *arg)
{
    struct cl_datadir_finding f;
    struct stat sb;
    bool is_dir = kind == CL_DATADIR_DIR || kind == CL_DATADIR_OUTBOX;

    if (lstat(path, &sb) != 0)
        return;
    if (is_dir ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode))
        return; /* a symlink or something odd: neither judged nor touched */
    memset(&f, 0, sizeof f);
    f.kind = kind;
    f.path = path;
    f.mode = (unsigned)(sb.st_mode & 07777);
    f.want = is_dir ? 0700 : 0600;
    f.bad_mode = (sb.st_mode & 077) != 0;
    f.uid = sb.st_uid;
    f.dir_uid = dir_uid;
    f.foreign_owner = sb.st_uid != dir_uid;
    if (!f.bad_mode && !f.foreign_owner)
        return;
    if (f.bad_mode && fix && !f.foreign_owner) {
        if (chmod(path, f.want) == 0)
            f.fixed = true;
        else
            f.fix_errno = errno;
    }
    fn(arg, &f);
}

int cl_datadir_check(const char *dir, enum cl_datadir_fix fix, cl_datadir_fn fn, void *arg)
{
    static const char *const sidecars[] = {"-wal", "-shm", "-journal"};
    bool fix_files = (fix & CL_DATADIR_FIX_FILES) != 0, fix_all = fix == CL_DATADIR_FIX_ALL;
    char path[PATH_MAX], outbox[PATH_MAX];
    struct stat sb;
    struct dirent *de;
    DIR *d;

    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return CL_ENOTFOUND;
    cl__datadir_one(CL_DATADIR_DIR, dir, sb.st_uid, fix_all, fn, arg);
    if (snprintf(path, sizeof path, "%s/clawlink.db", dir) < (int)sizeof path)
        cl__datadir_one(CL_DATADIR_DB, path, sb.st_uid, fix_files, fn, arg);
    for (size_t i = 0; i < sizeof sidecars / sizeof sidecars[0]; i++)
        if (snprintf(path, sizeof path, "%s/clawlink.db%s", dir, sidecars[i]) < (int)sizeof path)
            cl__datadir_one(CL_DATADIR_SIDECAR, path, sb.st_uid, fix_files, fn, arg);
    if (snprintf(outbox, sizeof outbox, "%s/outbox", dir) >= (int)sizeof outbox)
        return 0;
    cl__datadir_one(CL_DATADIR_OUTBOX, outbox, sb.st_uid, fix_all, fn, arg);
    d = opendir(outbox);
    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", outbox, de->d_name) < (int)sizeof path)
            cl__datadir_one(CL_DATADIR_OUTBOX_FILE, path, sb.st_uid, fix_all, fn, arg);
    }
    closedir(d);
    return 0;
}
