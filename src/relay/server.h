/*
 * server: the relay's one listening port — libwebsockets on the libuv loop,
 * with one protocol handler for the HTTP API and the WebSocket endpoints
 * (/connect for agents, /session for browsers, /events for dashboards). It
 * gives each connection its handler table (conn.h) when it is established
 * and calls through it; it names no module after that.
 */
#ifndef CL_RELAY_SERVER_H
#define CL_RELAY_SERVER_H

#include "relay/relay.h"

/* Creates the lws context on r->loop and starts listening. Returns 0 or
 * CL_EIO with a reason in err. */
int cl_server_start(struct cl_relay *r, char *err, size_t errlen);
/* Destroys the lws context (closing every connection). */
void cl_server_stop(struct cl_relay *r);

#endif
