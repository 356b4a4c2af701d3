/*
 * hub: the WebSocket switchboard between agents (/connect) and browsers
 * (/session).
 *
 * It keeps, in memory only, which agent connection serves each device and
 * which browsers view each live session, and forwards v1 messages between
 * them after checking every one against the connection's identity (the
 * policy module decides at auth time; a session id is a routing key, never
 * a credential). Lookups are O(1) hash finds; the data path never touches
 * the database. Other modules reach agents and viewers through the router
 * (router.h), whose local implementation wraps the entry points below; a
 * cluster puts NATS behind the router.
 *
 * Inside, it is two halves that talk to each other only through the same
 * router (decision 70): the agent's (hub_agent.c: agents by device, hello,
 * grace, produced offsets, acks and replays to the agent, its stdin
 * window) and the viewer's (hub_viewer.c: viewers by session, what each
 * was sent and acked, lagging viewers, ghosts, gaps, /session auth), each
 * with its own table of live sessions. hub.c holds what is neither's: the
 * send helpers, the decoding of a message, the hub's life cycle and the
 * calls below that span both (hub_internal.h).
 */
#ifndef CL_RELAY_HUB_H
#define CL_RELAY_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/proto.h"
#include "relay/conn.h"
#include "relay/router.h"
#include "relay/store.h"

/* A session with no viewer is ended after this long (seconds) by the relay
 * when its agent is a PrivaClaw connector; clawlink agents run their own
 * --idle-grace. */
#define CL_SESSION_IDLE_GRACE_S (30 * 60)

struct cl_relay;
struct cl_hub;

struct cl_hub *cl_hub_new(struct cl_relay *r);
/* Closes the hub's timers; the loop must run once more to finish. */
void cl_hub_free(struct cl_hub *h);

/* The handler tables (conn.h) of agent (/connect) and viewer (/session)
 * connections, chosen by server.c when they are established. A viewer's
 * on_written acks for browsers that never ack, and lets a lagging viewer
 * catch up once its queue has drained. */
extern const struct cl_conn_ops cl_hub_agent_ops;
extern const struct cl_conn_ops cl_hub_viewer_ops;

/* Agent messages another module takes (nodes.c: OpenClaw node traffic;
 * chat.c: chat answers). Each registers at start-up for the message types
 * it takes, so the agent link routes them by type without naming any
 * module; the hub keeps the rest (sessions, output, acks, meta). */
#define CL_HUB_AGENT_TAKERS_MAX 8 /* modules that register (cl_hub_take) */

struct cl_agent_taker {
    /* A message of a registered type from an authenticated agent: true if
     * taken, false to leave it to the hub (an error with no request id). */
    bool (*on_message)(void *ctx, struct cl_conn *c, const struct cl_msg *m);
    /* c said hello (c->device_id; may be NULL) */
    void (*on_hello)(void *ctx, struct cl_conn *c);
    /* a newer connection of device_id replaced the agent's (may be NULL) */
    void (*on_replaced)(void *ctx, const char *device_id);
    /* the agent of device_id disconnected (may be NULL) */
    void (*on_gone)(void *ctx, const char *device_id);
};

/* Registers t (called with ctx) for the ntypes message types in types; the
 * link hooks are called in registration order. Returns 0, CL_ESTATE if a
 * type has a taker already or is not a message type, CL_ELIMIT past
 * CL_HUB_AGENT_TAKERS_MAX takers. */
int cl_hub_take(struct cl_hub *h, const struct cl_agent_taker *t, void *ctx,
                const enum cl_msg_type *types, size_t ntypes);

/* Control-plane hooks, called through the local router (router_local.c). */
bool cl_hub_device_online(struct cl_hub *h, const char *device_id);
/* A session row was created: track it (its idle timer starts now). */
void cl_hub_session_opened(struct cl_hub *h, const struct cl_session *s);
/* Whether session_id is live in this hub; if so, its latest automatic
 * title (from the agent's session_title, "" if none) into title (cap
 * bytes) and its viewer count into *viewers (either may be NULL). */
bool cl_hub_session_live(struct cl_hub *h, const char *session_id, char *title, size_t cap,
                         size_t *viewers);
/* Ends a live session: tells the agent to hang up and the viewers that it
 * ended, with reason why. The caller records it in the store. */
void cl_hub_session_end(struct cl_hub *h, const char *session_id, enum cl_end_reason why);

/* A device was deleted (with its project or its account, or on its own):
 * its live sessions end with reason why (viewers get session_end), its agent
 * is closed with 4004 "device removed" (its next hello fails: unknown
 * device), and no grace period waits for it. Call after the rows are gone. */
void cl_hub_device_removed(struct cl_hub *h, const char *device_id, enum cl_end_reason why);

/* A share of session_id with user_id changed (mode NONE: revoked): that
 * user's live viewers become view-only or control, or are closed with 4003
 * "share revoked". */
void cl_hub_share_changed(struct cl_hub *h, const char *session_id, const char *user_id,
                          enum cl_share_mode mode);

/* Calls cb for each browser attached to session_id (who is watching;
 * cl_viewer_cb is in router.h). */
void cl_hub_viewers(struct cl_hub *h, const char *session_id, cl_viewer_cb cb, void *ctx);

/* Some of user_id's tokens were revoked (a sign-out, a password change or
 * reset, a revoked sign-in): every viewer of theirs whose token no longer
 * signs them in gets auth_failed and close 1008, at once. */
void cl_hub_recheck_user(struct cl_hub *h, const char *user_id);

/* The authenticated agent connection of device_id that is not closing, or
 * NULL (for the local router, router_local.c: agent_find, agent_send).
 * Valid until the hub's close hook. */
struct cl_conn *cl_hub_agent(struct cl_hub *h, const char *device_id);

/* Relay shutdown: closes every WebSocket with 1001 "going away". */
void cl_hub_shutdown(struct cl_hub *h);

struct cl_hub_stats {
    size_t agents, browsers, sessions;
    size_t viewers;          /* browsers attached to a live session */
    size_t sessions_started; /* live sessions the agent confirmed (the rest: starting) */
};
void cl_hub_stats(const struct cl_hub *h, struct cl_hub_stats *out);

#endif
