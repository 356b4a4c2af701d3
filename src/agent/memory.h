/*
 * memory: where the chat bridge keeps memory notes — a provider interface
 * (a table of function pointers), so the notes can live in the chat store
 * (the built-in provider, memory_builtin.c), in PostgreSQL (memory_pg.c,
 * libpq, full-text search), or later in a vector store (docs/chat.md,
 * "Memory").
 *
 * A note is text (1..CL_CHAT_NOTE_MAX bytes), optional tags (space-separated
 * words, at most CL_CHAT_TAGS_MAX) and optionally the thread it came from.
 *
 * Every operation is asynchronous: it returns nothing and calls its
 * callback exactly once with 0 or a negative CL_E* code (CL_ELIMIT,
 * CL_EINVAL, CL_ENOTFOUND as the chat store has them; CL_EIO when a remote
 * provider cannot be reached). A provider may call it before the operation
 * returns (the built-in one does) or later from the agent's loop (a remote
 * one does: it never blocks the loop). The rows a callback receives are
 * valid only during the call. After close, no callback runs.
 */
#ifndef CL_AGENT_MEMORY_H
#define CL_AGENT_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

struct cl_memory_note {
    int64_t id;
    const char *text;
    const char *tags;               /* "" when none */
    int64_t source_thread_id;       /* 0 when none */
    int64_t created_at, updated_at; /* Unix milliseconds */
};

/* A search hit: snippet is a few words around the match, the matched words
 * between the caller's open and close markers; hits come best first. */
struct cl_memory_hit {
    int64_t id;
    int64_t source_thread_id;
    const char *text; /* the whole note */
    const char *snippet;
    double score; /* higher is better, comparable within one answer only */
    int64_t created_at;
};

/* add, remove, forget_thread: rc, and the new note's id for add. */
typedef void (*cl_memory_done_fn)(void *ctx, int rc, int64_t id);
/* list: newest first; has_more when older notes remain. */
typedef void (*cl_memory_notes_fn)(void *ctx, int rc, const struct cl_memory_note *notes, size_t n,
                                   bool has_more);
typedef void (*cl_memory_hits_fn)(void *ctx, int rc, const struct cl_memory_hit *hits, size_t n);

struct cl_memory_ops {
    const char *name; /* "builtin", "postgres" */
    void (*add)(void *self, const char *text, const char *tags, int64_t source_thread_id,
                cl_memory_done_fn fn, void *ctx);
    /* Notes older than before_id (0: from the newest), at most limit
     * (clamped to 1..CL_CHAT_PAGE_MAX). */
    void (*list)(void *self, int64_t before_id, int limit, cl_memory_notes_fn fn, void *ctx);
    /* Full-text search over text and tags as a person typed it (never
     * query syntax: cl_chat_fts_query's rule), at most limit hits
     * (1..CL_CHAT_SEARCH_MAX); open/close mark matches (at most 16 bytes). */
    void (*search)(void *self, const char *query, const char *open, const char *close, int limit,
                   cl_memory_hits_fn fn, void *ctx);
    void (*remove)(void *self, int64_t id, cl_memory_done_fn fn, void *ctx);
    /* A thread was deleted: its notes stay, without a source thread. */
    void (*forget_thread)(void *self, int64_t thread_id, cl_memory_done_fn fn, void *ctx);
    /* Frees the provider; pending operations end without their callbacks. */
    void (*close)(void *self);
};

struct cl_memory {
    const struct cl_memory_ops *ops;
    void *self;
};

#endif
