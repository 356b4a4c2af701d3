/*
 * urlq: a query string put back together from the parts libwebsockets
 * hands over. lws splits a request's query at '&' and URL-decodes each
 * part ("name=value" or "name"); there is no raw query string to pass on.
 * Both chat doors (the relay's api_chat.c, the agent's chat_http.c) pass
 * the query to the chat API as a query string, so each part is
 * percent-encoded again (all but RFC 3986's unreserved characters, the
 * first '=' kept), joined with '&': the same names and values, read back
 * by any query parser.
 */
#ifndef CL_CORE_URLQ_H
#define CL_CORE_URLQ_H

#include <stddef.h>

/* Appends part (len bytes, decoded) to out, which holds *n bytes of a
 * query built so far (NUL-terminated; cap bytes in all), with '&' before
 * it unless it is the first. 0, or CL_ELIMIT when it does not fit (out is
 * then unusable). An empty part adds nothing. */
int cl_urlq_add(char *out, size_t cap, size_t *n, const char *part, size_t len);

#endif
