/*
 * liveness: pings WebSocket peers that have gone quiet and drops the ones
 * that stay silent.
 *
 * One libuv timer sweeps every WebSocket connection once a second: a peer
 * silent for the ping interval gets a ping (written from its WRITEABLE
 * callback); one silent for two intervals and CL_LIVENESS_SLACK_S more is
 * closed. Anything received, a pong included, counts as a sign of life.
 *
 * Pings carry an 8-byte payload, so a peer that answers per RFC 6455
 * echoes it in a pong lws hands up (lws 4.1 swallows empty pongs without a
 * callback). A peer that answers with an empty pong anyway, or sends one
 * unsolicited as a heartbeat, is seen through the socket's received-byte
 * count (TCP_INFO), read only while a ping is unanswered.
 * This replaces lws's per-connection validity timers, which lws 4.1 keeps
 * in one sorted list walked on every insert: with 10,000 agents that walk
 * was most of an idle relay's CPU (decisions.md).
 */
#ifndef CL_RELAY_LIVENESS_H
#define CL_RELAY_LIVENESS_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct cl_conn;
struct cl_liveness;

/* Slack after two silent intervals before a peer is dropped (seconds). */
#define CL_LIVENESS_SLACK_S 5
/* Bytes of payload in each ping (a peer echoes them in its pong). */
#define CL_LIVENESS_PING_LEN 8

/* A sweeper on loop for peers silent for ping_s seconds (>= 1), which also
 * closes (1008 "authentication timeout") a connection that has not
 * authenticated auth_s seconds after it opened. */
struct cl_liveness *cl_liveness_new(uv_loop_t *loop, unsigned ping_s, unsigned auth_s);
/* Stops the timer; the struct is freed from its close callback. No
 * connection may still be tracked. */
void cl_liveness_free(struct cl_liveness *lv);

/* Starts / stops watching c (from ESTABLISHED / CLOSED). */
void cl_liveness_add(struct cl_liveness *lv, struct cl_conn *c);
void cl_liveness_remove(struct cl_liveness *lv, struct cl_conn *c);

/* c sent something (a frame, a pong): it is alive. */
void cl_liveness_seen(struct cl_liveness *lv, struct cl_conn *c);

/* From c's WRITEABLE callback, before anything else is written: writes a
 * ping if one is due. Returns 1 if it wrote (the callback must write
 * nothing more and ask for another), 0 if none was due, -1 if the write
 * failed. */
int cl_liveness_write_ping(struct cl_conn *c, struct lws *wsi);

/* Connections watched (for stats and tests). */
size_t cl_liveness_count(const struct cl_liveness *lv);

/* Calls fn for every WebSocket connection watched (metrics: connections
 * by kind, send queues). fn must not close or free c. */
void cl_liveness_each(const struct cl_liveness *lv, void (*fn)(const struct cl_conn *c, void *ctx),
                      void *ctx);

#endif
