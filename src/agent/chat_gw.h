/*
 * chat_gw: the OpenClaw gateway's chat shapes (2026.9.6) read into plain
 * structs, for the chat bridge's import and live mirror (docs/chat.md,
 * "What the gateway offers").
 *
 * Pure functions over jansson values, no I/O:
 *   - cl_chat_gw_message: one transcript entry, as `chat.history`
 *     messages, `session.message` events and `chat.message.get` carry it
 *     (role, text, the gateway's id and seq, run id, state, tool calls,
 *     usage);
 *   - cl_chat_gw_history: a `chat.history` answer, page or delta mode;
 *   - cl_chat_gw_event: a `chat` event payload (status, delta, final,
 *     aborted, error).
 * Every string is bounded by a named limit (CL_CHAT_GW_*, core/limits.h);
 * a value over its limit, or of the wrong type, is CL_EINVAL with the
 * field named in `why`. In a history answer such an entry is skipped and
 * counted (`skipped`, the first reason in `why`); the others are read. Unknown fields are ignored:
 * the gateway adds fields often. Results own heap memory: free with the *_clear function.
 */
#ifndef CL_AGENT_CHAT_GW_H
#define CL_AGENT_CHAT_GW_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/limits.h"

enum cl_chat_gw_state {
    CL_CHAT_GW_STATUS = 0, /* a run is starting: no text (events only) */
    CL_CHAT_GW_STREAMING,  /* a delta: text so far */
    CL_CHAT_GW_FINAL,
    CL_CHAT_GW_ABORTED,
    CL_CHAT_GW_ERROR,
};

/* "status", "streaming", "final", "aborted", "error" */
const char *cl_chat_gw_state_name(enum cl_chat_gw_state s);

/* One transcript entry. */
struct cl_chat_gw_msg {
    char id[CL_CHAT_GW_ID_MAX + 1];           /* __openclaw.id; "" when absent */
    char run_id[CL_CHAT_GW_ID_MAX + 1];       /* __openclaw.runId (assistant); "" */
    char idem_key[CL_CHAT_GW_ID_MAX + 1];     /* idempotencyKey ("<key>:user"); "" */
    char role[CL_CHAT_GW_ROLE_MAX + 1];       /* user, assistant, toolResult, system, … */
    char tool_call_id[CL_CHAT_GW_ID_MAX + 1]; /* toolResult: toolCallId; "" */
    long long seq;                            /* __openclaw.seq; 0 when absent */
    long long timestamp_ms;                   /* timestamp; 0 when absent */
    enum cl_chat_gw_state state;              /* FINAL, ABORTED (openclawAbort) or ERROR */
    char *text;       /* the text: a string content, or its text blocks joined; never NULL */
    char *tool_calls; /* compact JSON array of the toolCall blocks, or NULL */
    char *usage;      /* compact JSON object, or NULL */
};

/* A `chat.history` answer. Page mode: the newest messages, has_more and
 * next_offset (-1: none) page backwards. Delta mode (asked with a
 * cursor): reset == true means "read pages again", and n == 0. */
struct cl_chat_gw_history {
    char session_id[CL_CHAT_GW_ID_MAX + 1]; /* "" when absent (delta mode, deleted) */
    char *delta_cursor;                     /* NULL when absent */
    bool delta, reset, has_more;
    long long next_offset;
    size_t n;       /* messages read */
    size_t skipped; /* entries refused (malformed or over a limit); why names the first */
    struct cl_chat_gw_msg *msgs;
};

/* A `chat` event payload. */
struct cl_chat_gw_event {
    char run_id[CL_CHAT_GW_ID_MAX + 1];
    char session_key[CL_CHAT_GW_KEY_MAX + 1];
    char stop_reason[CL_CHAT_GW_NAME_MAX + 1]; /* "" when absent */
    char error_kind[CL_CHAT_GW_NAME_MAX + 1];  /* "" when absent */
    char phase[CL_CHAT_GW_NAME_MAX + 1];       /* status: "starting_model", …; "" */
    long long seq;
    enum cl_chat_gw_state state;
    bool replace;        /* delta: text replaces what was shown */
    char *delta;         /* deltaText, or NULL */
    char *text;          /* message text (so far), or NULL */
    char *error_message; /* or NULL */
    char *usage;         /* compact JSON, or NULL */
};

int cl_chat_gw_message(json_t *msg, struct cl_chat_gw_msg *out, char *why, size_t whycap);
void cl_chat_gw_msg_clear(struct cl_chat_gw_msg *m);

int cl_chat_gw_history(json_t *payload, struct cl_chat_gw_history *out, char *why, size_t whycap);
void cl_chat_gw_history_clear(struct cl_chat_gw_history *h);

int cl_chat_gw_event(json_t *payload, struct cl_chat_gw_event *out, char *why, size_t whycap);
void cl_chat_gw_event_clear(struct cl_chat_gw_event *e);

#endif
