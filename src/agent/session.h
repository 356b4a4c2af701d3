/*
 * session: the agent's PTY sessions — one login shell per session id,
 * started, fed, resized and hung up by relay messages, its output streamed
 * to the relay as `stdout` frames with running byte offsets.
 *
 * Output is never dropped by the agent: while the link is down or holds more
 * than CL_AGENT_SENDQ_HIGH bytes, PTYs are simply not read, so the programs
 * writing to them block as they would on a slow terminal. Sessions survive
 * relay disconnects. A session ends (session_end) when its shell has exited
 * and all its output was read ("exit"), when the relay ends it ("hangup",
 * after the shell was reaped), or at once when over CL_AGENT_MAX_SESSIONS
 * ("limit") or when no PTY could be spawned ("error").
 */
#ifndef CL_AGENT_SESSION_H
#define CL_AGENT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "agent/link.h"
#include "core/proto.h"

/* Bytes of stdin kept for a PTY that is not accepting input; beyond it
 * input is dropped with a warning. */
#define CL_AGENT_STDIN_PENDING_MAX (64 * 1024)
/* After a hangup, SIGKILL the shell's process group if it has not exited. */
#define CL_AGENT_KILL_GRACE_MS 5000
/* After the shell exited, how long to keep reading a PTY that some
 * leftover process still holds open before ending the session anyway. */
#define CL_AGENT_DRAIN_MS 2000

struct cl_agent_sessions;

/* Creates the session table on loop, sending through link (both must
 * outlive it). shell is the program to run as a login shell (copied).
 * Starts watching SIGCHLD. Returns 0 or a CL_E* code with err set. */
int cl_agent_sessions_new(uv_loop_t *loop, struct cl_agent_link *link, const char *shell,
                          struct cl_agent_sessions **out, char *err, size_t errlen);

/* Handles session_start, stdin, resize and session_end from the relay. */
void cl_agent_sessions_on_message(struct cl_agent_sessions *ss, const struct cl_msg *m);

/* Re-evaluates whether PTYs may be read (see cl_agent_link_can_accept);
 * wire it to the link's on_flow. */
void cl_agent_sessions_on_flow(struct cl_agent_sessions *ss);

/* Hangs up every session as if the relay had ended it; each reports
 * session_end "hangup" once its shell is reaped. */
void cl_agent_sessions_hangup_all(struct cl_agent_sessions *ss);

/* SIGKILLs the process group of every shell not yet reaped. */
void cl_agent_sessions_kill_all(struct cl_agent_sessions *ss);

/* Sessions in the table (not yet ended). */
size_t cl_agent_sessions_count(const struct cl_agent_sessions *ss);

/* Closes every PTY and libuv handle without reporting anything; the caller
 * then runs the loop until it is idle and calls cl_agent_sessions_free. */
void cl_agent_sessions_close(struct cl_agent_sessions *ss);
void cl_agent_sessions_free(struct cl_agent_sessions *ss);

#endif
