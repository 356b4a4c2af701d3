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

#endif
