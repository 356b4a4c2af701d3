/*
 * wsframe: client-to-server WebSocket data frames, framed and masked here.
 *
 * RFC 6455 requires a client to mask every frame it sends with a fresh,
 * unpredictable 4-byte key. libwebsockets 4.1 masks one byte at a time,
 * which was a fifth of the agent's CPU while streaming output; this masks
 * eight bytes at a time and writes the frame header into the LWS_PRE
 * headroom of a struct cl_frame, so the finished frame goes to the socket
 * in one raw write. Keys come from libsodium's CSPRNG, drawn 256 bytes at
 * a time.
 */
#ifndef CL_WSFRAME_H
#define CL_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "core/wsq.h"

/* The longest header of a masked frame: 2 + 8 (64-bit length) + 4 (key). */
#define CL_WS_CLIENT_HDR_MAX 14

/* A pool of masking keys. Zero it before first use. */
struct cl_ws_masker {
    uint8_t pool[256];
    size_t used; /* bytes of pool handed out; sizeof pool = empty */
    int primed;
};

/* XORs n bytes at p with key, cycling from key[0] (RFC 6455 5.3). */
void cl_ws_mask(uint8_t *p, size_t n, const uint8_t key[4]);

/* Turns f (payload f->len bytes, not yet sent) into a complete, final,
 * masked client frame with the given opcode (1 text, 2 binary): masks the
 * payload in place with a fresh key from mk and writes the header just
 * before it, in the headroom. Returns a pointer to the first byte of the
 * frame and sets *len to the frame's length. */
uint8_t *cl_ws_client_frame(struct cl_frame *f, int opcode, struct cl_ws_masker *mk, size_t *len);

#endif
