/*
 * router: how the relay's modules reach agents and a session's viewers
 * without knowing where those connections live.
 *
 * A table of function pointers, as the store is (store.h): callers go
 * through r->router.ops and never hold an agent's or a viewer's cl_conn.
 * Today one implementation exists, the local router (router_local.h),
 * which wraps the hub's in-process lookups (hash by device id, live
 * sessions with their viewer lists); a cluster puts NATS behind the same
 * table (docs/decisions.md, decision 65). The first entries are the ones
 * the relay's callers outside the hub need (nodes.c, chat.c, the API); the
 * rest are what the hub's two halves say to each other (decision 70): the
 * agent's half (hub_agent.c) and the viewer's (hub_viewer.c) never call
 * each other by name. Those pass ids, offsets and bytes, never a
 * connection, so that each can travel between relays as a message.
 *
 * Loop thread only, like every connection. Nothing here blocks.
 */
#ifndef CL_RELAY_ROUTER_H
#define CL_RELAY_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/proto.h"
#include "relay/store.h"

/* What a sender needs to know about a device's agent: which encoding it
 * reads and which request families it serves (from its hello). */
struct cl_router_agent {
    bool skill; /* the PrivaClaw OpenClaw skill: requests are encoded for it
                 * (cl_msg_encode_skill), and it keeps no workflow list */
    int chat;   /* the chat family version its hello declared (0: none) */
};

/* Calls cb for each browser attached to a session (who is watching). */
typedef void (*cl_viewer_cb)(const char *user_id, bool view_only, const char *peer, void *ctx);

/* A piece of a session's output at its stream offset, from the agent's
 * half of the hub to the session's viewers (decision 70). As a message:
 * the session id, the offset and the bytes; the agent's own frame of the
 * chunk, when it sent one with its offset, goes along so that viewers of
 * its protocol get that frame unchanged and each protocol's frame is
 * encoded at most once. */
struct cl_frame;
struct cl_router_output {
    const char *session_id;
    uint64_t offset;     /* of the chunk's first byte */
    size_t n;            /* bytes of output */
    const uint8_t *data; /* the bytes, or NULL while they are still b64 */
    const char *b64;     /* a v1 agent's payload, checked, not yet decoded */
    size_t b64_len;
    const void *frame; /* the agent's frame of exactly this chunk, or NULL */
    size_t frame_len;
    bool binary; /* frame is protocol v2's binary frame (else v1 JSON) */
    /* Local only: that frame as the agent's connection received it, for
     * one viewer that wants all of it to take without a copy (the router
     * sets *owned to NULL if it does). NULL across relays. */
    struct cl_frame **owned;
};

/* A viewer's stdin for the session's agent (decision 70): its bytes, the
 * frame it came in (the agent gets that frame itself when it speaks the
 * same protocol), and what the input window needs of the viewer. */
struct cl_router_stdin {
    const char *session_id;
    uint64_t viewer; /* the viewer's id (its input is credited by it) */
    const uint8_t *data;
    size_t n;
    const void *frame;
    size_t frame_len;
    bool binary;   /* frame is protocol v2's binary frame (else v1 JSON) */
    size_t cost;   /* what the viewer's input still queued costs (inq.h) */
    bool refusing; /* its last input was refused (input_busy) */
};

/* How a viewer's stdin went (session_stdin). */
enum cl_router_stdin_result {
    CL_ROUTER_STDIN_SENT,    /* passed to the agent at once */
    CL_ROUTER_STDIN_QUEUED,  /* waits for the agent's window: viewer_credit says when it leaves */
    CL_ROUTER_STDIN_BUSY,    /* refused whole (error input_busy) */
    CL_ROUTER_STDIN_OFFLINE, /* the session's agent is not connected */
};

struct cl_router;

struct cl_router_ops {
    /* ---- agents, by device id ---- */

    /* Whether device_id has an authenticated agent connection (one being
     * closed still counts: the device is online until its close). */
    bool (*agent_online)(struct cl_router *rt, const char *device_id);
    /* Whether device_id's agent can take a message now (connected and not
     * closing); if so, what it is into *out (may be NULL). */
    bool (*agent_find)(struct cl_router *rt, const char *device_id, struct cl_router_agent *out);
    /* Queues one encoded message (text, len bytes) to device_id's agent.
     * 0; CL_ENOTFOUND if it has none that can take it; else cl_conn_send's
     * error (CL_ELIMIT: its queue is full). */
    int (*agent_send)(struct cl_router *rt, const char *device_id, const char *text, size_t len);
    /* device_id was deleted: its live sessions end with reason why (viewers
     * get session_end), its agent is closed with 4004 "device removed", no
     * grace period waits for it. Call after the rows are gone. */
    void (*device_removed)(struct cl_router *rt, const char *device_id, enum cl_end_reason why);

    /* ---- sessions and their viewers, by session id ---- */

    /* A session row was created: route it (its idle timer starts now). */
    void (*session_opened)(struct cl_router *rt, const struct cl_session *s);
    /* Whether session_id is live; if so its latest automatic title ("" if
     * none) into title (cap bytes) and its viewer count into *viewers
     * (either may be NULL). */
    bool (*session_live)(struct cl_router *rt, const char *session_id, char *title, size_t cap,
                         size_t *viewers);
    /* Ends a live session: its agent is told to hang up, its viewers that
     * it ended, with reason why. The caller records it in the store. */
    void (*session_end)(struct cl_router *rt, const char *session_id, enum cl_end_reason why);
    /* Calls cb for each viewer of session_id that is not being closed. */
    void (*session_viewers)(struct cl_router *rt, const char *session_id, cl_viewer_cb cb,
                            void *ctx);
    /* A share of session_id with user_id changed (CL_SHARE_NONE: revoked):
     * that user's viewers become view-only or control, or are closed with
     * 4003 "share revoked". */
    void (*share_changed)(struct cl_router *rt, const char *session_id, const char *user_id,
                          enum cl_share_mode mode);
    /* Some of user_id's tokens were revoked: each viewer of theirs whose
     * token no longer signs them in gets auth_failed and close 1008. */
    void (*user_recheck)(struct cl_router *rt, const char *user_id);

    /* ---- between the hub's halves: from the agent to a session's viewers
     * (decision 70; a cluster carries these as cl.sess.<id>.out) ---- */

    /* A chunk of output: each viewer gets what it has not had (a gap notice
     * first where bytes are missing; nothing while it lags). */
    void (*session_output)(struct cl_router *rt, const struct cl_router_output *out);
    /* One of the agent's messages about the session (session_started),
     * passed to its viewers as it came (text, len bytes of JSON). */
    void (*session_forward)(struct cl_router *rt, const char *session_id, const char *text,
                            size_t len);
    /* An error every viewer of the session is told (device_offline when
     * its agent left, input_lost when its link lost input). */
    void (*session_notice)(struct cl_router *rt, const char *session_id, const char *code,
                           const char *message);
    /* The agent came back saying the session had viewers (their best ack
     * at acked) when its link dropped: unless one is attached, a place is
     * held for them for --agent-grace (a ghost: the shell waits). */
    void (*session_hold)(struct cl_router *rt, const char *session_id, uint64_t acked);
    /* The session's agent has a new link: the viewers ask it to replay from
     * the lowest offset one of them (not lagging) still needs. */
    void (*session_resume)(struct cl_router *rt, const char *session_id);
    /* The session ended (why): its viewers are told session_end with why
     * (tell; else they were told already: the agent's own session_end was
     * forwarded) and detached, and the viewers' side forgets it. */
    void (*session_closed)(struct cl_router *rt, const char *session_id, enum cl_end_reason why,
                           bool tell);
    /* n bytes of viewer's input left the session's queue for the agent
     * (done: the last of one of its messages), or were dropped with the
     * agent's link (credited the same): the viewer is told as its window
     * asks (stdin_ack). */
    void (*viewer_credit)(struct cl_router *rt, const char *session_id, uint64_t viewer, size_t n,
                          bool done);

    /* ---- between the hub's halves: from a session's viewers to its agent
     * (decision 70; a cluster carries these as cl.sess.<id>.ctl) ---- */

    /* A viewer subscribes to session_id (of device_id): the agent's side
     * tracks the session if it did not (a viewer back at a restarted relay
     * before its agent). Leaving is viewer_left; the session's end,
     * session_closed. */
    void (*session_attach)(struct cl_router *rt, const char *session_id, const char *device_id);
    /* The viewers' best ack (the fastest viewer's, or a held place's),
     * their count (a held place counts) and how many are attached, told
     * when any changed: the agent's half acks to the agent from them, and
     * its idle backstop runs while none is attached. */
    void (*session_acked)(struct cl_router *rt, const char *session_id, uint64_t acked, int viewers,
                          int attached);
    /* A viewer needs the session's output again from offset (it attached
     * behind, or drained after lagging): the agent is asked to replay it. */
    void (*session_replay)(struct cl_router *rt, const char *session_id, uint64_t offset);
    /* Whether the session's agent has started it; if so, the offset after
     * the newest byte of output seen into *produced (where a viewer that
     * asks to resume past it starts). */
    bool (*session_produced)(struct cl_router *rt, const char *session_id, uint64_t *produced);
    /* A viewer's session_start, resize or session_end (m decoded, text and
     * len as it came) for the agent. 0; CL_ENOTFOUND: the agent is not
     * connected. A session_start of a session already started (or being)
     * is passed as a resize, with *started set if it is running. */
    int (*session_control)(struct cl_router *rt, const char *session_id, const struct cl_msg *m,
                           const char *text, size_t len, bool *started);
    /* A viewer's stdin, through the agent's input window. */
    enum cl_router_stdin_result (*session_stdin)(struct cl_router *rt,
                                                 const struct cl_router_stdin *in);
    /* The viewer left: its input still queued goes on, in order, uncredited. */
    void (*viewer_left)(struct cl_router *rt, const char *session_id, uint64_t viewer);
};

struct cl_router {
    const struct cl_router_ops *ops;
    void *impl; /* the implementation's state (the local router: the hub) */
};

#endif
