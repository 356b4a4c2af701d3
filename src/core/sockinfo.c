/* sockinfo: TCP_INFO counters of a connected socket. */
#include "core/sockinfo.h"
#include "core/err.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
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
