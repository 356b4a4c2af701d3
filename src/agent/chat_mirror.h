/*
 * chat_mirror: keeps the chat store a mirror of the OpenClaw gateway's
 * sessions (docs/chat.md, "Import and follow").
 *
 * A subscriber of the gateway connection (gateway.h). On every hello-ok it
 * runs a pass: sessions.subscribe, sessions.list (all pages, newest first,
 * at most CL_CHAT_MIRROR_SESSIONS_MAX sessions), then one session at a
 * time sessions.messages.subscribe and a catch-up — the chat.history delta
 * cursor when the thread holds one for the same sessionId, else pages
 * newest-first until a page holds only messages the store has. Every write
 * is an idempotent upsert keyed by the gateway's ids, so a pass may be
 * redone at any time: it is after a reconnect and after a gap in the event
 * frames' seq. Between passes it follows: session.message (the stored
 * truth), chat events (a reply streaming, stored under the provisional id
 * run:<runId> until its transcript entry adopts the row), sessions.changed
 * (a new key is imported; a deleted one loses its sync state).
 *
 * What the mirror stores it tells its owner through the hooks, so the chat
 * API can stream it to callers and /events followers.
 */
#ifndef CL_AGENT_CHAT_MIRROR_H
#define CL_AGENT_CHAT_MIRROR_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/chat_store.h"
#include "agent/gateway.h"

/* Sessions one pass imports (sessions.list is newest first: older ones
 * wait for their next change, which enqueues them). */
#define CL_CHAT_MIRROR_SESSIONS_MAX 1000
/* Rows per sessions.list page and messages per chat.history page. */
#define CL_CHAT_MIRROR_LIST_PAGE    100
#define CL_CHAT_MIRROR_HISTORY_PAGE 100
/* chat.history's maxBytes: well below CL_GW_MAX_MESSAGE, so an answer is
 * never dropped for its size. */
#define CL_CHAT_MIRROR_MAX_BYTES (4 * 1024 * 1024)
/* One request of the mirror to the gateway. */
#define CL_CHAT_MIRROR_TIMEOUT_MS 30000

struct cl_chat_mirror;

/* What the mirror stored, for its owner (ud). message_id and thread_id are
 * the store's ids. */
struct cl_chat_mirror_hooks {
    void *ud;
    /* A thread was created or imported (new messages). */
    void (*thread)(void *ud, int64_t thread_id);
    /* A message was stored or settled (not called per delta). */
    void (*message)(void *ud, int64_t message_id);
    /* A reply is streaming: text is the whole text so far; its first
     * `from` bytes are what the previous delta of the run had (the
     * gateway's deltaText appended them), 0 when that is not known (the
     * first delta, a replace, a text that did not simply grow). */
    void (*delta)(void *ud, int64_t thread_id, const char *run_id, const char *text, size_t from);
    /* Run run_id of thread_id ended; message_id is the reply as stored
     * (final, aborted or error). */
    void (*run_end)(void *ud, int64_t thread_id, const char *run_id, int64_t message_id);
    /* The gateway went online or offline. */
    void (*state)(void *ud, bool online);
};

/* Creates the mirror of gw into cs (both must outlive it) and subscribes
 * to gw; it starts with the next online state. 0, CL_ENOMEM, or CL_ELIMIT
 * (too many subscribers of gw). */
int cl_chat_mirror_new(struct cl_gw *gw, struct cl_chat_store *cs,
                       const struct cl_chat_mirror_hooks *h, struct cl_chat_mirror **out);

/* Queues session_key for import (after a send on a new session, say). */
void cl_chat_mirror_enqueue(struct cl_chat_mirror *m, const char *session_key);

/* true while a pass or an import is running. */
bool cl_chat_mirror_busy(const struct cl_chat_mirror *m);

/* Unsubscribes, forgets its pending request, frees (NULL: no-op). */
void cl_chat_mirror_free(struct cl_chat_mirror *m);

#endif
