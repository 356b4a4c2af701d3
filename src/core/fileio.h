/*
 * fileio: reading a small file whole, one way for both binaries (the
 * relay's --web-dir files, the agent's look at OpenClaw's config, its
 * audit).
 *
 * Only a regular file is read, and opening never blocks: a FIFO or a
 * device at the path is refused, not waited on. The size is checked
 * against the caller's limit before anything is allocated.
 */
#ifndef CL_CORE_FILEIO_H
#define CL_CORE_FILEIO_H

#include <stddef.h>

enum {
    CL_READ_NOFOLLOW = 1 << 0, /* a symbolic link as the last component is not followed */
};

/* Reads path whole into *out (malloc'd, NUL-terminated after *len bytes;
 * free it, or wipe it first if it may hold a secret). A file that shrinks
 * while read gives what there was. Returns 0; CL_ENOTFOUND when nothing
 * is there; CL_EINVAL when it is not a regular file (or a symbolic link,
 * with CL_READ_NOFOLLOW); CL_ELIMIT when it is larger than max; CL_EIO
 * for any other failure. On error *out is NULL and *len 0. */
int cl_read_file(const char *path, size_t max, unsigned flags, char **out, size_t *len);

#endif
