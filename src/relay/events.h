/*
 * events: the dashboard's realtime WebSocket (/events).
 *
 * A dashboard opens /events, sends {"type":"auth","data":{"token":...}}
 * and, after auth_ok, receives one text frame per event in the projects
 * it belongs to: {"type":"event","data":{"kind","project_id","at",...}}.
 * The hub and the API handlers publish; who receives is decided when the
 * event is published, through the policy module (project.events) and a
 * fresh look at the subscriber's token, so a member removed (or a token
 * revoked) stops receiving at once and a member added starts at once.
 *
 * Each subscriber's queue is bounded (CL_EVENTS_QUEUE_MAX): a dashboard
 * that does not read is closed with CL_EVENTS_CLOSE_SLOW and may
 * reconnect and re-read the state over HTTP. Everything runs on the loop
 * thread. See docs/api.md, "Realtime".
 */
#ifndef CL_RELAY_EVENTS_H
#define CL_RELAY_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "relay/store.h"

/* Bytes queued towards one subscriber before it is dropped. */
#define CL_EVENTS_QUEUE_MAX (64 * 1024)
/* Largest message a subscriber may send (auth, ping). */
#define CL_EVENTS_MAX_MESSAGE 4096
/* Close code for a subscriber dropped for not reading. */
#define CL_EVENTS_CLOSE_SLOW 4008
/* A dropped subscriber that still does not read its close frame is
 * disconnected after this many seconds. */
#define CL_EVENTS_DROP_GRACE_S 10

struct cl_relay;
struct cl_conn;
struct cl_events;

struct cl_events *cl_events_new(struct cl_relay *r);
void cl_events_free(struct cl_events *ev);

/* The handler table (conn.h) of /events connections, chosen by server.c
 * when one is established. */
struct cl_conn_ops;
extern const struct cl_conn_ops cl_events_conn_ops;

/* Relay shutdown: closes every subscriber with 1001 "going away". */
void cl_events_shutdown(struct cl_events *ev);
/* Authenticated subscribers now. */
size_t cl_events_count(const struct cl_events *ev);

/* A relay in a cluster (--nats): every event published here also goes
 * to the other relays (subject cl.ev.<project_id>), and their events come
 * to this relay's subscribers, each decided by the policy here as a local
 * one is; a token re-check goes everywhere too. relay_id (CL_RELAY_ID_LEN
 * hex) names this relay so that its own events are not delivered twice.
 * 0, or the bus's error. */
struct cl_bus;
int cl_events_attach_bus(struct cl_events *ev, struct cl_bus *bus, const char *relay_id);

/* An event as it travels between relays: "ORIGIN\nALSO_USER\n" and the
 * message a subscriber gets, on subject cl.ev.<project_id>. Parsed for
 * cl_events_attach_bus's subscription (and fuzz_events): 0 with *out
 * pointing into data, or CL_EINVAL (a message that is not an event about
 * the subject's project, a bad origin or user). */
struct cl_events_wire {
    char origin[CL_RELAY_ID_LEN + 1];
    char project_id[CL_UUID_LEN + 1];
    char also_user[CL_UUID_LEN + 1]; /* "" for none */
    const char *text;
    size_t len;
};
int cl_events_bus_parse(const char *subject, const uint8_t *data, size_t len,
                        struct cl_events_wire *out);

/* Some of user_id's tokens were revoked: their subscribers whose token no
 * longer signs them in are closed (auth_failed, 1008) at once (on every
 * relay of a cluster). */
void cl_events_recheck_user(struct cl_events *ev, const char *user_id);

/* Publishes an event of kind ("device.online", ...) about project_id to
 * every subscriber that may see the project now. Takes ownership of data
 * (an object with the kind's fields, or NULL); kind, project_id and at
 * are added. Costs nothing but the decref when nobody is subscribed. */
void cl_events_publish(struct cl_events *ev, const char *project_id, const char *kind,
                       json_t *data);

/* Shorthands for the hub, which knows devices and sessions rather than
 * projects. A NULL project_id is looked up from the device (only when
 * someone is subscribed); a device that no longer exists publishes
 * nothing (its project's members heard device.deleted). */
void cl_events_device_status(struct cl_events *ev, const char *project_id, const char *device_id,
                             bool online);
void cl_events_session_started(struct cl_events *ev, const char *project_id,
                               const struct cl_session *s);
void cl_events_session_ended(struct cl_events *ev, const char *device_id, const char *session_id,
                             const char *reason);
/* session.title: the automatic title its agent reported changed. */
void cl_events_session_title(struct cl_events *ev, const char *device_id, const char *session_id,
                             const char *title);
/* device.added / device.renamed with the device as the API shows it. */
void cl_events_device(struct cl_events *ev, const char *kind, const struct cl_device *d);
/* member.added (with the member's email and display name) / member.removed. */
void cl_events_member(struct cl_events *ev, const char *kind, const char *project_id,
                      const char *user_id);

/* A message from a subscriber. */
enum cl_events_msg_type { CL_EVMSG_AUTH = 1, CL_EVMSG_PING };
struct cl_events_msg {
    enum cl_events_msg_type type;
    char token[CL_TOKEN_MAX + 1]; /* auth only; the caller wipes it */
};

/* Parses one message: {"type":"auth","data":{"token":"..."}} or
 * {"type":"ping"}. 0, or CL_EINVAL with *code ("bad_json", "bad_message",
 * "unknown_type") and a message in err. Exposed for tests and the fuzzer. */
int cl_events_parse(const char *buf, size_t len, struct cl_events_msg *out, const char **code,
                    char *err, size_t errlen);

#endif
