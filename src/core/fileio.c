/*
 * fileio: see fileio.h.
 */
#include "core/fileio.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int cl_read_file(const char *path, size_t max, unsigned flags, char **out, size_t *len)
{
    int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    struct stat st;
    size_t n = 0;
    char *buf;
    int fd;

    *out = NULL;
    *len = 0;
    if (flags & CL_READ_NOFOLLOW)
        oflags |= O_NOFOLLOW;
    fd = open(path, oflags);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return CL_ENOTFOUND;
        return errno == ELOOP ? CL_EINVAL : CL_EIO;
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        return CL_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return CL_EINVAL;
    }
    if ((unsigned long long)st.st_size > max) {
        close(fd);
        return CL_ELIMIT;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        abort();
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* shrank meanwhile: what there is */
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}
