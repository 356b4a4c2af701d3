/*
 * http: the agent's few plain HTTP calls (pairing, relay health), one
 * blocking request each on the libwebsockets HTTP client (no libcurl), with
 * a hard deadline and a bounded response.
 *
 * These run before the event loop starts (`pair`, `status`), never on it.
 */
#ifndef CL_AGENT_HTTP_H
#define CL_AGENT_HTTP_H

#include <stddef.h>

struct cl_agent_http_resp {
    long status; /* HTTP status code */
    char *body;  /* NUL-terminated, malloc'd; may hold a secret */
    size_t len;
    char hsts[160]; /* the Strict-Transport-Security header, "" when none */
};

/* Performs one request to url (http:// or https:// only, no redirects).
 * json_body non-NULL makes it a POST with Content-Type application/json;
 * NULL makes it a GET. ca_file (PEM, may be NULL) replaces the system CAs
 * for https; the server's certificate and host name are always verified.
 * timeout_s bounds the whole request after the host name is resolved (the
 * lookup itself is the system resolver's, blocking). Bodies over
 * CL_HTTP_MAX_BODY fail. Returns 0 with *resp filled for any HTTP status
 * (free with cl_agent_http_resp_free), or CL_EIO (cannot resolve, cannot
 * connect, TLS failure, timeout, connection closed early) / CL_ELIMIT /
 * CL_EINVAL / CL_ENOMEM with a message in err when there was no usable
 * response. */
int cl_agent_http_request(const char *url, const char *json_body, const char *ca_file,
                          long timeout_s, struct cl_agent_http_resp *resp, char *err,
                          size_t errlen);

/* The relay's health URL from its WebSocket URL: ws[s]://host[/base] ->
 * http[s]://host[/base]/healthz (truncated to cap, always terminated). */
void cl_agent_health_url(const char *relay_url, char *out, size_t cap);

/* Wipes and frees resp->body. Safe on a zeroed struct. */
void cl_agent_http_resp_free(struct cl_agent_http_resp *resp);

#endif
