/* keys: keystroke echo latency (see keys.h). */
#include "keys.h"
#include "procstat.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

static int keys__fd_send(void *ctx, const uint8_t *p, size_t n)
{
    int fd = *(int *)ctx;
    return write(fd, p, n) == (ssize_t)n ? 0 : -EIO;
}

static long keys__fd_wait(void *ctx, int timeout_ms, uint64_t *t_ns)
{
    struct pollfd pfd = {.fd = *(int *)ctx, .events = POLLIN};
    char buf[4096];
    ssize_t n;
    int r = poll(&pfd, 1, timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    if (r == 0)
        return 0;
    n = read(pfd.fd, buf, sizeof buf);
    *t_ns = ps_now_ns();
    return n > 0 ? n : -EIO;
}

void keys_fd_keyio(int *fd, struct keyio *io)
{
    io->send = keys__fd_send;
    io->wait = keys__fd_wait;
    io->ctx = fd;
}

int keys_settle(const struct keyio *io, int quiet_ms, int max_ms)
{
    double deadline = ps_now_s() + max_ms / 1000.0;
    uint64_t t;
    for (;;) {
        long n = io->wait(io->ctx, quiet_ms, &t);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return 0;
        if (ps_now_s() > deadline)
            return 0; /* a chatty shell: go on anyway */
    }
}

int keys_run(const struct keyio *io, int n, double *us)
{
    static const uint8_t key = 'a', del = 0x7f;
    for (int i = 0; i < n; i++) {
        uint64_t t0, t1;
        long got;
        t0 = ps_now_ns();
        if (io->send(io->ctx, &key, 1))
            return -EIO;
        got = io->wait(io->ctx, 5000, &t1);
        if (got <= 0)
            return got < 0 ? (int)got : -ETIMEDOUT;
        us[i] = (double)(t1 - t0) / 1000.0;
        if (io->send(io->ctx, &del, 1))
            return -EIO;
        if (io->wait(io->ctx, 5000, &t1) <= 0)
            return -ETIMEDOUT;
        if (keys_settle(io, 1, 500))
            return -EIO;
    }
    return n;
}

int keys_interleave(const struct keyio *const io[], double *const us[], int nio, int n, int block)
{
    double warm;
    int rc;
    if (block <= 0)
        block = n;
    for (int done = 0; done < n; done += block) {
        int k = n - done < block ? n - done : block;
        for (int i = 0; i < nio; i++)
            if ((rc = keys_run(io[i], 1, &warm)) < 0 || (rc = keys_run(io[i], k, us[i] + done)) < 0)
                return rc;
    }
    return n;
}

static int keys__cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void keys_stats(double *us, int n, struct keys_stats *st)
{
    st->n = n;
    st->p50 = st->p90 = st->p99 = st->max = 0;
    if (n <= 0)
        return;
    qsort(us, (size_t)n, sizeof *us, keys__cmp);
    st->p50 = us[(size_t)(n - 1) * 50 / 100];
    st->p90 = us[(size_t)(n - 1) * 90 / 100];
    st->p99 = us[(size_t)(n - 1) * 99 / 100];
    st->max = us[n - 1];
}
