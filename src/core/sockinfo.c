/* sockinfo: TCP_INFO counters of a connected socket, and its queue bounds. */
#include "core/sockinfo.h"
#include "core/err.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

int cl_sock_rx_bytes(int fd, uint64_t *out)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;

    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return CL_EIO;
    /* An older kernel fills a shorter struct: the field is then missing. */
    if (len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
        return CL_EIO;
    *out = ti.tcpi_bytes_received;
    return 0;
}

int cl_sock_notsent_lowat(int fd, unsigned bytes)
{
    int v = (int)bytes;
    return fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, sizeof v) == 0 ? 0
                                                                                        : CL_EIO;
}

uint64_t cl_sock_rcv_window_for(uint64_t rtt_us, uint64_t rate_bps, uint64_t min_bytes)
{
    uint64_t w;
    /* rate x RTT without overflow: rates up to ~10^13 B/s, RTTs up to hours */
    w = rate_bps / 1000000u * rtt_us + rate_bps % 1000000u * rtt_us / 1000000u;
    return w > min_bytes ? w : min_bytes;
}

int cl_sock_clamp_rcv_window(int fd, uint64_t rate_bps, uint64_t min_bytes, uint64_t lock_max,
                             uint64_t *window)
{
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    uint64_t rtt, w;
    int v;

    *window = 0;
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return CL_EIO;
    if (len < offsetof(struct tcp_info, tcpi_min_rtt) + sizeof ti.tcpi_min_rtt)
        return CL_EIO;
    /* The path's own delay, not the smoothed RTT: what waits in our queues
     * adds to the smoothed RTT, which would widen the window, which lets
     * more wait (bufferbloat). The minimum seen is the propagation delay. */
    rtt = ti.tcpi_min_rtt;
    if (rtt == 0 || rtt == UINT32_MAX)
        return 0; /* no estimate yet: leave the kernel's window alone */
    w = cl_sock_rcv_window_for(rtt, rate_bps, min_bytes);
    v = w > INT32_MAX ? INT32_MAX : (int)w;
    /* A short link's buffer is fixed (SO_RCVBUF turns the kernel's
     * autotuning off for the socket, which would otherwise lift the clamp
     * each time it grows the buffer, and a window once offered is never
     * taken back). The minimum RTT only falls, so the window it asks for
     * never has to grow again. The kernel doubles the value for its own
     * overhead: the window is about the value. A long link keeps
     * autotuning, under the clamp. */
    if (w <= lock_max && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) != 0)
        return CL_EIO;
    if (setsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &v, sizeof v) != 0)
        return CL_EIO;
    *window = (uint64_t)v;
    return 0;
}
