/* keys: keystroke echo latency (see keys.h). */
#include "keys.h"
#include "procstat.h"

#include <errno.h>
#include <stdlib.h>

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

int keys_interleave(const struct keyio *a, double *us_a, const struct keyio *b, double *us_b, int n,
                    int block)
{
    double warm;
    int rc;
    if (block <= 0)
        block = n;
    for (int done = 0; done < n; done += block) {
        int k = n - done < block ? n - done : block;
        if ((rc = keys_run(a, 1, &warm)) < 0 || (rc = keys_run(a, k, us_a + done)) < 0)
            return rc;
        if ((rc = keys_run(b, 1, &warm)) < 0 || (rc = keys_run(b, k, us_b + done)) < 0)
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
