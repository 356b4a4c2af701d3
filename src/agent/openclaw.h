/*
 * openclaw: the agent as an OpenClaw node — what the relay asks of the
 * local gateway, and the node's health.
 *
 * The relay sends prompt, status, restart, workflow and workflows, each
 * with a request_id; this module answers them through the gateway client
 * (gateway.c): prompt -> chat.send on the session key (default "main"),
 * the assistant's deltas streamed back as `token`s in order, then `done`;
 * restart -> running prompts cancelled (chat.abort) and reported, then
 * gateway.restart.request; workflows -> cron.list; workflow -> cron.run of
 * the job with that name (or id). Every 15 s, and whenever the relay link
 * comes up or the gateway link changes state, it sends a `heartbeat`
 * {node_id, uptime, active_tasks, last_error, connection_state,
 * capabilities}.
 *
 * Capabilities are the agent's own decision: a request for one the config
 * does not declare is refused here (`error` code capability_denied),
 * whatever the relay asks. The terminal capability is checked by the
 * caller (main.c) for session_start.
 */
#ifndef CL_AGENT_OPENCLAW_H
#define CL_AGENT_OPENCLAW_H

#include <stdbool.h>
#include <uv.h>

#include "agent/gateway_discover.h"
#include "agent/link.h"
#include "agent/gateway.h"
#include "core/proto.h"

#define CL_OC_HEARTBEAT_MS 15000
/* A prompt with no final answer from the gateway after this long fails. */
#define CL_OC_PROMPT_TIMEOUT_MS (10 * 60 * 1000)
/* Each gateway request (chat.send, cron.*, restart). */
#define CL_OC_REQUEST_TIMEOUT_MS 30000
/* Prompts running at once; more are refused (busy). */
#define CL_OC_MAX_TASKS 16

struct cl_oc_node;

/* Creates the node for device_id, answering through link, as a
 * subscriber of gw (both must outlive it; gw is main.c's, NULL when
 * OpenClaw is not configured: then the node only refuses requests,
 * openclaw_not_configured, and sends no heartbeats). settings (copied)
 * give the session key and capabilities. The node sees every gateway
 * event and keeps to the runs it started itself. Returns 0 with *out, or
 * an error with a message in err. */
int cl_oc_node_new(uv_loop_t *loop, struct cl_gw *gw, struct cl_agent_link *link,
                   const char *device_id, const struct cl_gw_settings *settings,
                   struct cl_oc_node **out, char *err, size_t errlen);

/* Starts the heartbeat timer (the gateway is started by its owner). */
void cl_oc_node_start(struct cl_oc_node *n);

/* true for the message types this module answers. */
bool cl_oc_node_handles(enum cl_msg_type t);

/* A request from the relay (cl_oc_node_handles(m->type)). */
void cl_oc_node_on_message(struct cl_oc_node *n, const struct cl_msg *m);

/* The relay link became ready: tell it at once how the node is. */
void cl_oc_node_on_link_ready(struct cl_oc_node *n);

/* Stops: drops running tasks (the gateway is closed by its owner).
 * destroy unsubscribes and closes the timer; run the loop until
 * destroyed, then free. */
void cl_oc_node_close(struct cl_oc_node *n);
void cl_oc_node_destroy(struct cl_oc_node *n);
bool cl_oc_node_destroyed(const struct cl_oc_node *n);
void cl_oc_node_free(struct cl_oc_node *n);

#endif
