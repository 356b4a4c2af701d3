/*
 * chat_files: the chat API's /files routes (docs/chat.md "Files") as JSON
 * over files.c. chat_api.c hands it every request whose path starts with
 * /files once the `files` capability is checked; it answers at once (no
 * stream, nothing waits).
 */
#ifndef CL_AGENT_CHAT_FILES_H
#define CL_AGENT_CHAT_FILES_H

#include <jansson.h>

#include "agent/files.h"

/* Answers method sub (the path below /files: "", "stat", "content",
 * "mkdir"; NULL for /files itself) with query q (raw, or NULL) and body
 * (NULL when none) for user (the clawlink user id, "" on loopback):
 * *status an HTTP status, *body the JSON answer (new reference). Every
 * answer fits CL_CHAT_FRAME_MAX. */
void cl_chat_files_handle(struct cl_files *files, const char *method, const char *sub,
                          const char *q, json_t *body, const char *user, int *status,
                          json_t **answer);

#endif
