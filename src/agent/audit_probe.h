/*
 * audit_probe: the live probe of `clawlink audit --deep` towards the local
 * OpenClaw gateway — connect as a stranger would, with no token, no
 * password and no device identity, and see whether the gateway lets the
 * connection in.
 *
 * One blocking WebSocket exchange on a plain TCP socket (the audit runs
 * before and outside any event loop): the HTTP upgrade, the gateway's
 * connect.challenge, a `connect` request from client "openclaw-probe" in
 * mode "probe" asking for operator.read and nothing else, and the answer.
 * Every read is bounded (CL_AUDIT_PROBE_MAX bytes) and the whole exchange
 * has a deadline.
 */
#ifndef CL_AGENT_AUDIT_PROBE_H
#define CL_AGENT_AUDIT_PROBE_H

#include <stddef.h>

/* The most the probe reads of one answer (a hello-ok lists hundreds of
 * methods; its start is enough to tell ok from not ok). */
#define CL_AUDIT_PROBE_MAX (256 * 1024)

enum cl_audit_probe {
    CL_AUDIT_PROBE_REFUSED,     /* the gateway refused the connection (why says how) */
    CL_AUDIT_PROBE_ACCEPTED,    /* hello-ok without any credential */
    CL_AUDIT_PROBE_UNREACHABLE, /* nothing to connect to */
    CL_AUDIT_PROBE_UNCLEAR,     /* an answer that is neither */
};

/* Probes the gateway at url (ws://host:port[/path]; wss:// is not probed:
 * CL_AUDIT_PROBE_UNCLEAR) within timeout_s seconds. why (whylen bytes)
 * says what happened, in plain text without control characters. */
enum cl_audit_probe cl_audit_probe_gateway(const char *url, unsigned timeout_s, char *why,
                                           size_t whylen);

#endif
