/*
 * memory_builtin: the memory provider over the chat store's own notes
 * (memory.h; the `memory` table and its FTS5 index, docs/chat.md "Memory").
 * Every operation answers before it returns.
 */
#ifndef CL_AGENT_MEMORY_BUILTIN_H
#define CL_AGENT_MEMORY_BUILTIN_H

#include "agent/chat_store.h"
#include "agent/memory.h"

/* Fills *out with the provider over cs (which must outlive it). 0 or
 * CL_ENOMEM. Free with out->ops->close(out->self). */
int cl_memory_builtin_new(struct cl_chat_store *cs, struct cl_memory *out);

#endif
