/*
 * proto: the clawlink wire protocol, version 1 (PrivaClaw's, exactly).
 *
 * Every message is a JSON text frame {"type": "...", "data": {...}}.
 * Terminal bytes travel base64-encoded in data.data_b64. Message types are
 * numbered here (and in docs/protocol.md) so logs, metrics and the later
 * binary protocol (v2) share one vocabulary. Extra fields that a PrivaClaw
 * peer ignores are allowed: stdout.offset, session_end.exit_code.
 *
 * The types are grouped in numbered families, each with its own codec file
 * and table (core/proto_family.h): link (proto_link.c), terminal
 * (proto_term.c), node (proto_node.c), chat (proto_chat.c). proto.c frames
 * messages, dispatches them by table, and holds the hand-written fast paths
 * of the terminal's data (v1 stdout, v2 binary frames).
 */
#ifndef CL_PROTO_H
#define CL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

#define CL_PROTO_VERSION 1
/* The highest protocol this build speaks. A peer asks for it with
 * "proto": 2 in hello or auth; the relay's hello_ok / auth_ok carries the
 * version it accepted (absent means 1). */
#define CL_PROTO_MAX 2

enum cl_msg_type {
    CL_MSG_UNKNOWN = 0,
    CL_MSG_HELLO = 1,           /* agent -> relay */
    CL_MSG_HELLO_OK = 2,        /* relay -> agent */
    CL_MSG_AUTH = 3,            /* browser -> relay */
    CL_MSG_AUTH_OK = 4,         /* relay -> browser */
    CL_MSG_SESSION_START = 5,   /* browser -> relay -> agent */
    CL_MSG_SESSION_STARTED = 6, /* agent -> relay -> browser */
    CL_MSG_STDIN = 7,           /* browser -> relay -> agent */
    CL_MSG_STDOUT = 8,          /* agent -> relay -> browser */
    CL_MSG_RESIZE = 9,          /* browser -> relay -> agent */
    CL_MSG_SESSION_END = 10,    /* any direction */
    CL_MSG_ERROR = 11,          /* relay -> peer */
    CL_MSG_PING = 12,           /* browser -> relay (latency) */
    CL_MSG_PONG = 13,           /* relay -> browser */
    CL_MSG_ACK = 14,            /* browser -> relay -> agent (flow control) */
    CL_MSG_REPLAY = 15,         /* relay -> agent: resend output from offset */
    CL_MSG_GAP = 16,            /* relay -> browser: bytes [from, to) are lost */
    CL_MSG_RESTARTING = 17,     /* relay -> peer: reconnect now, no backoff */
    /* OpenClaw nodes (docs/openclaw.md): requests carry a request_id that
     * every answer repeats. */
    CL_MSG_PROMPT = 18,    /* relay -> agent: chat with the gateway, stream the reply */
    CL_MSG_STATUS = 19,    /* relay -> agent: {request_id}; agent -> relay: heartbeat + id */
    CL_MSG_RESTART = 20,   /* relay -> agent: cancel tasks, restart the gateway */
    CL_MSG_WORKFLOW = 21,  /* relay -> agent: run a named scheduled task with params */
    CL_MSG_TOKEN = 22,     /* agent -> relay: a piece of a prompt's reply */
    CL_MSG_DONE = 23,      /* agent -> relay: the request finished (result optional) */
    CL_MSG_HEARTBEAT = 24, /* agent -> relay, every 15 s: the node's health */
    CL_MSG_WORKFLOWS = 25, /* relay -> agent: list the workflows (done.result) */
    /* What a device tells about itself after hello_ok (a PrivaClaw
     * connector's shell probe): kept as its metadata. */
    CL_MSG_META_UPDATE = 26, /* agent -> relay */
    /* The PrivaClaw skill's envelope for its answers,
     * {"type":"response","data":{"type":"token"|"done"|"status"|"error",
     * "request_id",...}}: decoded as the inner type (never kept as 27). */
    CL_MSG_RESPONSE = 27, /* agent -> relay */
    /* A session's automatic title ("vim · ~/src": the foreground program
     * and its working directory), sent when it changes. */
    CL_MSG_SESSION_TITLE = 28, /* agent -> relay */
    /* Input flow control (docs/protocol.md, "Input flow control"): how
     * much of a session's stdin left a queue. Agent -> relay: written to
     * the PTY; relay -> browser: this connection's input passed to the
     * agent. Only between peers that agreed on a stdin_window. */
    CL_MSG_STDIN_ACK = 29,
    /* Chat (family 4, docs/protocol.md "Chat"): the agent's chat API
     * carried over the link. A request names a method, a path below the
     * API's root and the user making it; the agent answers with one
     * chat_response, or with chat_events and then a chat_response that
     * ends the stream. */
    CL_MSG_CHAT_REQUEST = 128,  /* relay -> agent */
    CL_MSG_CHAT_RESPONSE = 129, /* agent -> relay */
    CL_MSG_CHAT_EVENT = 130,    /* agent -> relay */
    CL_MSG_CHAT_CANCEL = 131,   /* relay -> agent: the caller went away */
    CL_MSG__COUNT
};
/* The first chat type: 30..127 are unused numbers (no codec). */
#define CL_MSG_CHAT_FIRST CL_MSG_CHAT_REQUEST
/* The chat family's version an agent serves (hello.chat). */
#define CL_CHAT_PROTO_VERSION 1

/* The state of an agent's link to its OpenClaw gateway, in heartbeats. */
enum cl_node_state {
    CL_NODE_OFFLINE = 0, /* not configured, or parked after an auth failure */
    CL_NODE_ONLINE,      /* connected and authenticated */
    CL_NODE_RECONNECTING /* trying to (re)connect */
};
const char *cl_node_state_name(enum cl_node_state s);
/* 0 and *out set, or CL_EINVAL for an unknown name. */
int cl_node_state_from_name(const char *name, enum cl_node_state *out);

/* Capabilities an agent declares (bit mask), named on the wire as
 * "terminal", "chat", "status", "restart", "workflow", "files". */
#define CL_CAP_TERMINAL (1u << 0)
#define CL_CAP_CHAT     (1u << 1)
#define CL_CAP_STATUS   (1u << 2)
#define CL_CAP_RESTART  (1u << 3)
#define CL_CAP_WORKFLOW (1u << 4)
#define CL_CAP_FILES    (1u << 5) /* the chat API's /files (docs/chat.md "Files") */
#define CL_CAP__ALL     0x3fu
/* The default when a config declares none: everything but restart. files
 * is in it as the terminal is, which can do more. */
#define CL_CAP_DEFAULT                                                                             \
    (CL_CAP_TERMINAL | CL_CAP_CHAT | CL_CAP_STATUS | CL_CAP_WORKFLOW | CL_CAP_FILES)
/* "chat" for CL_CAP_CHAT (one bit), NULL for anything else. */
const char *cl_cap_name(unsigned cap);
/* The bit for a name, 0 if unknown. */
unsigned cl_cap_from_name(const char *name);

/* One live session an agent announces in hello. */
struct cl_msg_session {
    char session_id[CL_ID_MAX + 1];
    uint64_t offset; /* bytes produced so far */
    uint64_t acked;  /* the last ack the agent had from a relay (0 if none) */
    int viewers;     /* the viewer count in that ack */
    /* Input flow control: stdin written to the PTY since the spawn, and
     * stdin received but not yet written (both 0 when not announced). */
    uint64_t stdin_acked;
    uint64_t stdin_pending;
};

/* A decoded message: one struct for every type, its fields grouped by the
 * family that uses them (a type reads and writes only its own; the rest
 * stay zero). Strings are NUL-terminated copies; data, sessions, text and
 * json are malloc'd buffers owned by the message. Release with
 * cl_msg_clear, which also wipes the token. */
struct cl_msg {
    enum cl_msg_type type;

    /* ---- fields more than one family carries */
    char session_id[CL_ID_MAX + 1]; /* terminal; auth; error (extra) */
    /* hello, auth; heartbeat and an agent's status ("node_id" on the wire) */
    char device_id[CL_ID_MAX + 1];
    char request_id[CL_ID_MAX + 1]; /* node: every request and its answers; error (extra) */
    char *json;                     /* workflow.params, done.result; hello: data.meta without
                                       name and kind; meta_update: data (both kept as the
                                       CL_DEVICE_META_* limits say, NULL when nothing is
                                       left): compact JSON object text, malloc'd, or NULL */

    /* ---- link: hello, hello_ok, auth, auth_ok, error, meta_update */
    char token[CL_TOKEN_MAX + 1];
    char name[CL_NAME_MAX + 1];        /* hello: data.meta.name */
    char kind[CL_DEVICE_KIND_MAX + 1]; /* hello: data.meta.kind, "" if absent or unusable */
    char message[256];                 /* error */
    char code[64];                     /* error: machine-readable code (extra field) */
    int proto;                         /* hello, auth, hello_ok, auth_ok: 0 = absent (v1) */
    /* hello: the input window the agent grants (it sends stdin_ack);
     * hello_ok: the relay honours it; auth_ok: the window the relay grants
     * the browser (it sends stdin_ack). 0 = absent (no input flow control). */
    uint32_t stdin_window;
    bool has_resume_offset;
    uint64_t resume_offset;          /* auth (extra field) */
    struct cl_msg_session *sessions; /* hello (extra field): malloc'd */
    size_t nsessions;

    /* ---- terminal: session_start ... session_end, ack, replay, gap,
     * session_title, stdin_ack */
    char reason[CL_REASON_MAX + 1];       /* session_end: any string (cl_end_reason names ours) */
    char title[CL_SESSION_TITLE_MAX + 1]; /* session_title */
    int cols, rows;                       /* session_start, resize */
    bool has_exit_code;
    int exit_code; /* session_end (extra field) */
    bool has_offset;
    uint64_t offset; /* stdout (extra field), ack, replay, stdin_ack */
    bool has_viewers;
    int viewers;               /* ack, relay -> agent */
    uint64_t gap_from, gap_to; /* gap */
    uint8_t *data;             /* stdin, stdout: decoded bytes */
    size_t data_len;
    bool data_borrowed; /* data points into a binary frame (cl_bin_decode): not freed */
    /* cl_msg_peek_stdout: the payload still in base64, inside the text
     * (data is NULL, data_len is its decoded length) */
    const char *b64;
    size_t b64_len;

    /* ---- node (OpenClaw): prompt ... workflows, response */
    char *text; /* prompt.prompt, token.content: malloc'd, NUL-terminated */
    size_t text_len;
    char key[CL_NODE_KEY_MAX + 1]; /* prompt.session_key (optional), workflow.name */
    /* heartbeat, and status from an agent (has_health) */
    bool has_health;
    uint64_t uptime;  /* seconds since the agent started */
    int active_tasks; /* requests in progress */
    char last_error[256];
    bool has_last_error; /* false: null */
    enum cl_node_state node_state;
    unsigned caps; /* CL_CAP_* declared */

    /* ---- chat: chat_request, chat_response, chat_event, chat_cancel (all
     * carry request_id); the body of a request or response and the data of
     * an event are any JSON value, as compact text in json (NULL: absent) */
    char method[8];                    /* chat_request: GET, POST, PUT, PATCH, DELETE */
    char *path;                        /* chat_request: malloc'd, "/threads/12" */
    char *query;                       /* chat_request: malloc'd raw query (no "?"), or NULL */
    char user_id[CL_ID_MAX + 1];       /* chat_request: the clawlink user asking */
    char user_name[CL_NAME_MAX + 1];   /* chat_request: their display name ("" when none) */
    int status;                        /* chat_response: an HTTP status, 100..599 */
    char event[CL_CHAT_EVENT_MAX + 1]; /* chat_event: its name, [a-z0-9_] */
    int chat; /* hello: the chat family version the agent serves (0: none) */
};

/* Why a session ended: the session_end reasons clawlink sends (the wire
 * strings are cl_end_reason_name's, docs/protocol.md and docs/api.md). A
 * peer may send any other string: the relay stores and forwards it as it
 * came (cl_msg.reason stays a string). */
enum cl_end_reason {
    CL_END_EXIT = 0,          /* "exit": the shell exited (agent; also the default) */
    CL_END_HANGUP,            /* "hangup": ended on request, shell reaped (agent) */
    CL_END_IDLE,              /* "idle": no viewer for the idle grace (agent, relay) */
    CL_END_LIMIT,             /* "limit": over CL_AGENT_MAX_SESSIONS (agent) */
    CL_END_ERROR,             /* "error": no PTY could be spawned (agent) */
    CL_END_UNKNOWN_SESSION,   /* "unknown_session": a session the other side does not know */
    CL_END_CAPABILITY_DENIED, /* "capability_denied": terminal not declared (agent) */
    CL_END_USER_DISCONNECT,   /* "user_disconnect": its starter ended it, device offline */
    CL_END_ENDED_BY_USER,     /* "ended_by_user": ended through the API */
    CL_END_AGENT_LOST,        /* "agent_lost": the device did not come back in the grace */
    CL_END_NOT_RESUMED,       /* "not_resumed": the device came back without it */
    CL_END_MEMBER_REMOVED,    /* "member_removed": its starter left the project */
    CL_END_DEVICE_REPAIRED,   /* "device_repaired": the device was paired again */
    CL_END_DEVICE_DELETED,    /* "device_deleted" */
    CL_END_PROJECT_DELETED,   /* "project_deleted" */
    CL_END_ACCOUNT_DELETED,   /* "account_deleted": its starter's account was deleted */
    CL_END__COUNT
};
/* "exit" for CL_END_EXIT, ...; "exit" for a value out of range. */
const char *cl_end_reason_name(enum cl_end_reason r);
/* 0 and *out set, or CL_EINVAL for a reason that is not ours. */
int cl_end_reason_from_name(const char *name, enum cl_end_reason *out);

/* true if s is a usable id on the wire: 1..CL_ID_MAX characters of
 * [A-Za-z0-9._:-] (uuids and PrivaClaw-style ids). Decoding enforces it. */
bool cl_proto_id_valid(const char *s);

/* true if s (NUL-terminated UTF-8) has no control character: no C0
 * (below 0x20), DEL or C1 (U+0080..U+009F). Session titles and names
 * must pass it; decoding a session_title enforces it. */
bool cl_proto_label_valid(const char *s);

/* "hello" for CL_MSG_HELLO, ... ; NULL for unknown. */
const char *cl_msg_type_name(enum cl_msg_type t);
enum cl_msg_type cl_msg_type_from_name(const char *name);

/* Decodes one text frame. Returns 0, CL_EINVAL (malformed JSON, missing
 * or bad field, invalid base64) or CL_EPROTO (unknown type), with a
 * message in err. On failure out holds nothing that needs freeing, but
 * out->type is set when the type was recognised. */
int cl_msg_decode(const char *text, size_t len, struct cl_msg *out, char *err, size_t errlen);

/* Frees out->data, text and json, and wipes out->token. Safe on a zeroed
 * message. */
void cl_msg_clear(struct cl_msg *m);

/* Encodes any message as JSON text; returns malloc'd text (length in
 * *len) or NULL on allocation failure. */
char *cl_msg_encode(const struct cl_msg *m, size_t *len);

/* The hot path: encodes a stdin/stdout message straight into buf without
 * building a JSON tree. offset < 0 omits the offset field. Returns the
 * length, or CL_ELIMIT if cap is too small. */
size_t cl_msg_data_encoded_max(size_t session_id_len, size_t n);
long cl_msg_encode_data(enum cl_msg_type type, const char *session_id, const uint8_t *bytes,
                        size_t n, int64_t offset, char *buf, size_t cap);

/*
 * Protocol v2 data frames: stdin and stdout as binary WebSocket messages.
 *
 *   byte 0      message type (CL_MSG_STDIN or CL_MSG_STDOUT)
 *   byte 1      session id length L, 1..CL_ID_MAX
 *   bytes 2-9   offset, big-endian (stdout: stream offset of the first
 *               payload byte; stdin: 0, ignored)
 *   bytes 10..  the session id (L bytes), then the payload
 *
 * Everything else stays JSON text in v2.
 */
#define CL_BIN_FIXED 10
/* The header length for a session id of sid_len bytes. */
static inline size_t cl_bin_header_len(size_t sid_len)
{
    return CL_BIN_FIXED + sid_len;
}
/* Writes the header into dst (cl_bin_header_len(strlen(sid)) bytes) and
 * returns its length. sid must be a valid id (cl_proto_id_valid). */
size_t cl_bin_write_header(uint8_t *dst, enum cl_msg_type type, const char *sid, uint64_t offset);
/* Decodes a binary frame into out without copying the payload: out->data
 * points into buf (out->data_borrowed is set) and is valid as long as buf
 * is. Returns 0, CL_EINVAL (short frame, bad id) or CL_EPROTO (a type
 * that is not stdin/stdout) with a message in err. has_offset is set for
 * stdout. */
int cl_bin_decode(const uint8_t *buf, size_t len, struct cl_msg *out, char *err, size_t errlen);

/* The relay's fast path for v1 output: recognises exactly what
 * cl_msg_encode_data writes for stdout with an offset,
 *   {"type":"stdout","data":{"session_id":"ID","offset":N,"data_b64":"B64"}}
 * and checks it (a valid id, 0 <= N <= INT64_MAX without leading zeros,
 * strict padded base64 with zero trailing bits) without building a JSON
 * tree or decoding the payload: out gets type, session_id, offset and
 * data_len, with data NULL and b64/b64_len pointing into text. Returns
 * 0, or -1 for anything else (the caller decodes it with cl_msg_decode,
 * which also gives the error). Whatever it accepts, cl_msg_decode accepts
 * with the same fields (fuzz_proto checks). */
int cl_msg_peek_stdout(const char *text, size_t len, struct cl_msg *out);

/* The same for typing, in the relay (from a v1 browser) and the agent
 * (from the relay): recognises exactly what cl_msg_encode_data writes for
 * stdin without an offset,
 *   {"type":"stdin","data":{"session_id":"ID","data_b64":"B64"}}
 * and leaves out as cl_msg_decode would (type, session_id, a malloc'd
 * data and data_len; free with cl_msg_clear), without a JSON tree (2 us
 * a keystroke less in each, docs/performance.md). 0, or -1 for anything
 * else, the caller then decoding it with cl_msg_decode; whatever it
 * accepts, cl_msg_decode accepts with the same fields (fuzz_proto). */
int cl_msg_peek_stdin(const char *text, size_t len, struct cl_msg *out);

/* Encodes a relay -> node request (prompt, status, restart, workflow) in
 * the PrivaClaw skill's shape: {"type":T,"data":{"request_id":ID,
 * "data":{...}}} with the payload one level down ({prompt[,session_key]},
 * {workflow_id, params}); status and restart carry the request_id only.
 * Any other type is encoded as cl_msg_encode does. cl_msg_decode reads
 * this shape back. Returns malloc'd text or NULL. */
char *cl_msg_encode_skill(const struct cl_msg *m, size_t *len);

/* Encodes an error message {"type":"error","data":{"message","code"}}. */
char *cl_msg_encode_error(const char *code, const char *message, size_t *len);

#endif
