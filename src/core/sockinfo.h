/*
 * sockinfo: what the kernel knows about a connected TCP socket that the
 * WebSocket library does not tell us.
 *
 * Kept apart because it needs <linux/tcp.h> (glibc's <netinet/tcp.h> has
 * no tcpi_bytes_received, and the two headers cannot be included together).
 */
#ifndef CL_CORE_SOCKINFO_H
#define CL_CORE_SOCKINFO_H

#include <stdint.h>

/* Bytes of payload the kernel has received on TCP socket fd since it was
 * opened (TCP_INFO tcpi_bytes_received, Linux 4.1+). Returns 0 and sets
 * *out, or a negative CL_E* code if fd is not a TCP socket or the kernel
 * cannot say. */
int cl_sock_rx_bytes(int fd, uint64_t *out);

/* Keeps at most `bytes` of written but unsent data in the kernel's send
 * queue of TCP socket fd (TCP_NOTSENT_LOWAT): a write beyond it takes
 * less, and the socket is not writable again until the unsent part is
 * below it. What the peer's window or the network holds is not counted, so
 * a long link keeps its bytes in flight. Returns 0 or CL_EIO. */
int cl_sock_notsent_lowat(int fd, unsigned bytes);

/* The receive window a link of round-trip time rtt_us needs to carry
 * rate_bps bytes a second (rate x RTT), and never less than min_bytes:
 * a short link gets a small window, a long one what its RTT needs. */
uint64_t cl_sock_rcv_window_for(uint64_t rtt_us, uint64_t rate_bps, uint64_t min_bytes);

/* Clamps the receive window TCP socket fd advertises to
 * cl_sock_rcv_window_for(its RTT, rate_bps, min_bytes) (TCP_WINDOW_CLAMP;
 * the RTT is the smallest the kernel has measured, TCP_INFO tcpi_min_rtt:
 * the path's delay without what waits in queues). Nothing is changed
 * while the kernel has no RTT yet. A window of at most lock_max also fixes
 * the socket's receive buffer to it (SO_RCVBUF: no autotuning, which
 * raises the clamp whenever it grows the buffer); a larger one is only
 * clamped, so call it again from time to time. Returns 0 and sets *window
 * (0: unchanged), or CL_EIO. */
int cl_sock_clamp_rcv_window(int fd, uint64_t rate_bps, uint64_t min_bytes, uint64_t lock_max,
                             uint64_t *window);

#endif
