/*
 * chat_store: the agent's local chat history, one SQLite file per user at
 * $XDG_DATA_HOME/clawlink/chat.db (else ~/.local/share/clawlink/chat.db),
 * directory 0700, file 0600. Never on the relay: the relay only carries
 * chat frames between a browser and this agent.
 *
 * What it keeps (docs/chat.md, "The chat store"): workspaces (a name, a
 * default OpenClaw agent, optionally a folder) grouping threads; threads,
 * one per OpenClaw session key; messages, keyed within their thread by the
 * gateway's own message id so an import is idempotent; attachment
 * metadata; and the built-in memory provider's notes. Settled messages and
 * all notes are full-text searchable (FTS5, bm25-ranked, with snippets).
 *
 * Conventions: 0 or a negative CL_E* code (core/err.h). A value over its
 * named limit (core/limits.h, CL_CHAT_*) is CL_ELIMIT and nothing is
 * written; a missing required value or a malformed one is CL_EINVAL; an
 * unknown id is CL_ENOTFOUND; a storage failure is CL_EDB (logged). Ids
 * are local rowids (int64 > 0); times are Unix milliseconds, and a time of
 * 0 passed in means "now". A store is used from one thread only.
 *
 * List and search calls hand each row to a callback as a view whose
 * strings are valid only during the call; the callback must not call the
 * store, and a non-zero return stops the walk and is returned.
 */
#ifndef CL_AGENT_CHAT_STORE_H
#define CL_AGENT_CHAT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

struct cl_chat_store;

/* The migration list (src/agent/chat_migrations.c). */
extern const char *const cl_chat_migrations[];
extern const int cl_chat_migration_count;

/* ---- opening --------------------------------------------------------------- */

/* Writes the default database path into out: $XDG_DATA_HOME/clawlink/chat.db
 * if XDG_DATA_HOME is set to an absolute path (the XDG rule: a relative one
 * is ignored), else $HOME/.local/share/clawlink/chat.db. Returns 0, or
 * CL_EINVAL (no HOME) / CL_ELIMIT (too long) with a reason in err. */
int cl_chat_store_default_path(char *out, size_t cap, char *err, size_t errlen);

/* Opens the store at path (NULL: the default path), creating the missing
 * directories 0700 and the file 0600 (a umask only takes bits away), and
 * brings its schema up to date. The database's directory must not be a symbolic
 * link, and it and every directory above must belong to root or to the
 * caller and not be writable by others (cl_agent_check_dirs_at); an
 * existing file must be a regular file, the caller's, and 0600 or
 * stricter. Those are CL_EFORBIDDEN with the reason in err; other failures
 * are CL_EIO or CL_EDB. On success *out is the store (cl_chat_store_close). */
int cl_chat_store_open(const char *path, struct cl_chat_store **out, char *err, size_t errlen);

/* Closes the store (NULL is a no-op). */
void cl_chat_store_close(struct cl_chat_store *cs);

/* The schema version the open store is at. */
int cl_chat_store_version(const struct cl_chat_store *cs);

/* ---- workspaces ----------------------------------------------------------- */

struct cl_chat_workspace {
    int64_t id;
    const char *name;
    const char *default_agent; /* "" when none */
    const char *folder;        /* "" when none */
    int64_t created_at, updated_at;
};
typedef int (*cl_chat_workspace_cb)(const struct cl_chat_workspace *w, void *arg);

/* Creates a workspace. name: 1..CL_NAME_MAX bytes; default_agent (an
 * OpenClaw agent id, at most CL_ID_MAX) and folder (at most
 * CL_CHAT_FOLDER_MAX) are optional (NULL or ""). *id is the new id. */
int cl_chat_workspace_create(struct cl_chat_store *cs, const char *name, const char *default_agent,
                             const char *folder, int64_t *id);
/* Every workspace, by name (at most CL_CHAT_PAGE_MAX). */
int cl_chat_workspace_list(struct cl_chat_store *cs, cl_chat_workspace_cb cb, void *arg);
int cl_chat_workspace_rename(struct cl_chat_store *cs, int64_t id, const char *name);
/* Deletes the workspace with its threads, their messages, attachments and
 * index entries (memory notes stay, without a source thread). */
int cl_chat_workspace_delete(struct cl_chat_store *cs, int64_t id);

/* ---- threads -------------------------------------------------------------- */

struct cl_chat_thread {
    int64_t id;
    int64_t workspace_id; /* 0: in no workspace */
    const char *session_key;
    const char *title;
    bool title_set_by_user;
    int64_t created_at, updated_at, last_message_at;
    bool memory_on; /* relevant memory notes go with each message sent */
};
typedef int (*cl_chat_thread_cb)(const struct cl_chat_thread *t, void *arg);

/* Where a page of threads starts: the last row of the previous page
 * (its last_message_at and id), or {0, 0} for the first page. */
struct cl_chat_cursor {
    int64_t at;
    int64_t id;
};

/* Finds the thread of session_key (1..CL_CHAT_KEY_MAX bytes) or creates it
 * in workspace_id (0: none; an unknown one is CL_ENOTFOUND). An existing
 * thread keeps its workspace; its title becomes title (when non-empty,
 * at most CL_CHAT_TITLE_MAX) unless the user has renamed it. *id is the
 * thread's id. */
int cl_chat_thread_upsert(struct cl_chat_store *cs, int64_t workspace_id, const char *session_key,
                          const char *title, int64_t *id);
/* Hands thread id to cb once, or CL_ENOTFOUND. */
int cl_chat_thread_get(struct cl_chat_store *cs, int64_t id, cl_chat_thread_cb cb, void *arg);
/* Threads of workspace_id (0: all threads), most recent message first,
 * after cursor (NULL: from the start), at most limit (clamped to
 * 1..CL_CHAT_PAGE_MAX). */
int cl_chat_thread_list(struct cl_chat_store *cs, int64_t workspace_id,
                        const struct cl_chat_cursor *after, int limit, cl_chat_thread_cb cb,
                        void *arg);
/* Sets the title (1..CL_CHAT_TITLE_MAX) and marks it the user's, so an
 * import no longer changes it. */
int cl_chat_thread_rename(struct cl_chat_store *cs, int64_t id, const char *title);
/* Deletes the thread with its messages, attachments and index entries. */
int cl_chat_thread_delete(struct cl_chat_store *cs, int64_t id);

/* ---- messages ------------------------------------------------------------- */

enum cl_chat_state {
    CL_CHAT_STREAMING,
    CL_CHAT_FINAL,
    CL_CHAT_ABORTED,
    CL_CHAT_ERROR,
};

/* "streaming", "final", "aborted", "error"; NULL for another value. */
const char *cl_chat_state_name(enum cl_chat_state s);

/* A message as the bridge imports it. Optional fields are NULL or "". */
struct cl_chat_message_in {
    const char *gateway_id;     /* required, 1..CL_CHAT_KEY_MAX */
    const char *role;           /* required, 1..CL_CHAT_ROLE_MAX */
    const char *content_md;     /* Markdown, at most CL_CHAT_MESSAGE_MAX */
    const char *run_id;         /* at most CL_CHAT_KEY_MAX */
    enum cl_chat_state state;   /* CL_EINVAL if out of the enum */
    const char *tool_calls;     /* JSON as the gateway reports it, CL_CHAT_JSON_MAX */
    const char *usage;          /* JSON, CL_CHAT_JSON_MAX */
    const char *sender_user_id; /* the clawlink user who sent a user message */
    int64_t created_at;         /* 0: now */
    int64_t seq;                /* the gateway's position; <= 0: after the last */
};

struct cl_chat_message {
    int64_t id, thread_id;
    const char *gateway_id;
    const char *role;
    const char *content_md;
    size_t content_len;
    const char *run_id; /* "" when none */
    enum cl_chat_state state;
    const char *tool_calls;     /* "" when none */
    const char *usage;          /* "" when none */
    const char *sender_user_id; /* "" when none */
    int64_t created_at, seq;
};
typedef int (*cl_chat_message_cb)(const struct cl_chat_message *m, void *arg);

/* Inserts or updates the message (thread_id, m->gateway_id); a thread that
 * does not exist is CL_ENOTFOUND. The same message imported twice is one
 * row. A live reply the bridge first stored under a provisional id is
 * adopted: when no row has m->gateway_id but a streaming row of the thread
 * has the same run id and role, that row takes the new id and values. A
 * settled row (final, aborted, error) is never turned back into a
 * streaming one: such an update is ignored. An existing row keeps its seq
 * unless m->seq > 0. Malformed JSON in tool_calls or usage is CL_EINVAL.
 * Moves the thread's last_message_at forward. *id (if non-NULL) is the
 * row's id. */
int cl_chat_message_upsert(struct cl_chat_store *cs, int64_t thread_id,
                           const struct cl_chat_message_in *m, int64_t *id);
/* Appends delta to the text of the streaming message (thread_id,
 * gateway_id). CL_ENOTFOUND if there is none, CL_ESTATE if it is no
 * longer streaming, CL_ELIMIT if the text would pass CL_CHAT_MESSAGE_MAX
 * (then it is unchanged). */
int cl_chat_message_append(struct cl_chat_store *cs, int64_t thread_id, const char *gateway_id,
                           const char *delta);
/* Messages of thread_id in seq order, after the message after_id (0: from
 * the first), at most limit (clamped to 1..CL_CHAT_PAGE_MAX). */
int cl_chat_message_list(struct cl_chat_store *cs, int64_t thread_id, int64_t after_id, int limit,
                         cl_chat_message_cb cb, void *arg);
/* Deletes one message (and its attachments and index entry). */
int cl_chat_message_delete(struct cl_chat_store *cs, int64_t id);

/* ---- attachments ---------------------------------------------------------- */

/* Records an attachment of message_id: its name (1..CL_CHAT_ATTACH_NAME_MAX),
 * type (1..CL_CHAT_MIME_MAX), size and SHA-256. The bytes are not in the
 * database: they are the file attachments/<hex sha256> beside it (the
 * bridge writes it; docs/chat.md). */
int cl_chat_attachment_add(struct cl_chat_store *cs, int64_t message_id, const char *name,
                           const char *mime, int64_t size, const uint8_t sha256[32], int64_t *id);
/* One attachment as listed; strings valid during the callback only. */
struct cl_chat_attachment {
    int64_t id;
    const char *name, *mime;
    int64_t size;
    uint8_t sha256[32];
};
typedef int (*cl_chat_attachment_cb)(const struct cl_chat_attachment *a, void *arg);
/* Calls cb for each attachment of message_id in the order added (a
 * non-zero return stops). 0 or CL_EDB. */
int cl_chat_attachment_list(struct cl_chat_store *cs, int64_t message_id, cl_chat_attachment_cb cb,
                            void *arg);
/* How many attachments message_id has. */
int cl_chat_attachment_count(struct cl_chat_store *cs, int64_t message_id, int64_t *count);

/* ---- search --------------------------------------------------------------- */

/* A search hit. snippet is a few words around the match, the matched words
 * between the caller's open and close markers; rank is bm25's score (lower
 * is better), hits come best first. */
struct cl_chat_hit {
    int64_t id;        /* the message or memory note */
    int64_t thread_id; /* messages: its thread; notes: the source thread or 0 */
    const char *role;  /* messages only, else "" */
    const char *snippet;
    double rank;
    int64_t created_at;
};
typedef int (*cl_chat_hit_cb)(const struct cl_chat_hit *h, void *arg);

/* Turns what a person typed into an FTS5 query: every whitespace-separated
 * word becomes a quoted string (so no character is FTS5 syntax), the last
 * one also a prefix, all of them required. Returns 0, CL_EINVAL if q has
 * no word, CL_ELIMIT if q is longer than CL_CHAT_QUERY_MAX or out (cap
 * bytes) is too small; 3 * CL_CHAT_QUERY_MAX + 2 is always enough. */
int cl_chat_fts_query(const char *q, char *out, size_t cap);

/* Full-text search over settled messages (streaming ones become searchable
 * when final), bm25-ranked, at most limit hits (1..CL_CHAT_SEARCH_MAX).
 * open/close mark the matches in snippets (at most 16 bytes each). */
int cl_chat_message_search(struct cl_chat_store *cs, const char *query, const char *open,
                           const char *close, int limit, cl_chat_hit_cb cb, void *arg);

/* ---- memory (the built-in memory provider) ---------------------------------- */

struct cl_chat_note {
    int64_t id;
    const char *text;
    const char *tags;         /* "" when none */
    int64_t source_thread_id; /* 0 when none */
    int64_t created_at, updated_at;
};
typedef int (*cl_chat_note_cb)(const struct cl_chat_note *n, void *arg);

/* Adds a note: text 1..CL_CHAT_NOTE_MAX, tags (space-separated words, at
 * most CL_CHAT_TAGS_MAX) optional, source_thread_id 0 or an existing
 * thread (else CL_ENOTFOUND). */
int cl_chat_memory_add(struct cl_chat_store *cs, const char *text, const char *tags,
                       int64_t source_thread_id, int64_t *id);
/* Notes, newest first, older than before_id (0: from the newest), at most
 * limit (clamped to 1..CL_CHAT_PAGE_MAX). */
int cl_chat_memory_list(struct cl_chat_store *cs, int64_t before_id, int limit, cl_chat_note_cb cb,
                        void *arg);
/* Full-text search over notes' text and tags, as cl_chat_message_search. */
int cl_chat_memory_search(struct cl_chat_store *cs, const char *query, const char *open,
                          const char *close, int limit, cl_chat_hit_cb cb, void *arg);
int cl_chat_memory_delete(struct cl_chat_store *cs, int64_t id);

/* ---- the bridge's state (migration 2) ------------------------------------------ */

/* The thread of session_key in *id, or CL_ENOTFOUND. */
int cl_chat_thread_find(struct cl_chat_store *cs, const char *session_key, int64_t *id);
/* Moves thread id into workspace_id (0: none); an unknown thread or
 * workspace is CL_ENOTFOUND. */
int cl_chat_thread_move(struct cl_chat_store *cs, int64_t id, int64_t workspace_id);
/* Turns memory context on or off for the thread's sends. */
int cl_chat_thread_set_memory(struct cl_chat_store *cs, int64_t id, bool on);

/* Where the mirror's import of a thread stands on the gateway: the
 * session's incarnation (sessionId), the chat.history delta cursor
 * (opaque, at most CL_CHAT_CURSOR_MAX), and the seq offset a reset
 * session's messages are stored at (after the old incarnation's). */
struct cl_chat_sync {
    char session_id[CL_CHAT_KEY_MAX + 1]; /* "" when none */
    char cursor[CL_CHAT_CURSOR_MAX + 1];  /* "" when none */
    int64_t seq_base;
};
int cl_chat_thread_sync_get(struct cl_chat_store *cs, int64_t id, struct cl_chat_sync *out);
int cl_chat_thread_sync_set(struct cl_chat_store *cs, int64_t id, const struct cl_chat_sync *s);

/* Hands workspace id to cb once, or CL_ENOTFOUND. */
int cl_chat_workspace_get(struct cl_chat_store *cs, int64_t id, cl_chat_workspace_cb cb, void *arg);
/* Changes what is given (NULL: unchanged; "" clears default_agent or
 * folder); limits as cl_chat_workspace_create. */
int cl_chat_workspace_update(struct cl_chat_store *cs, int64_t id, const char *name,
                             const char *default_agent, const char *folder);

/* Hands message id to cb once, or CL_ENOTFOUND. */
int cl_chat_message_get(struct cl_chat_store *cs, int64_t id, cl_chat_message_cb cb, void *arg);
/* The thread's last message of run_id with role (any state), or CL_ENOTFOUND. */
int cl_chat_message_by_run(struct cl_chat_store *cs, int64_t thread_id, const char *run_id,
                           const char *role, cl_chat_message_cb cb, void *arg);
/* Gives the message stored under a provisional id old_id the gateway's id
 * new_id (when no row has new_id yet). CL_ENOTFOUND when nothing changed. */
int cl_chat_message_rekey(struct cl_chat_store *cs, int64_t thread_id, const char *old_id,
                          const char *new_id);
/* Messages of thread_id before the message before_id (0: from the newest),
 * newest first, at most limit (clamped to 1..CL_CHAT_PAGE_MAX). */
int cl_chat_message_list_before(struct cl_chat_store *cs, int64_t thread_id, int64_t before_id,
                                int limit, cl_chat_message_cb cb, void *arg);
/* The id of message (thread_id, gateway_id) in *id, or CL_ENOTFOUND. */
int cl_chat_message_find(struct cl_chat_store *cs, int64_t thread_id, const char *gateway_id,
                         int64_t *id);
/* The thread's highest seq (0: no message). */
int cl_chat_message_max_seq(struct cl_chat_store *cs, int64_t thread_id, int64_t *seq);

#endif
