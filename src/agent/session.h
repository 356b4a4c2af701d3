/*
 * session: the agent's PTY sessions — one login shell per session id,
 * started, fed, resized and hung up by relay messages, its output kept in a
 * per-session ring (agent/ring.h) and streamed to the relay from there as
 * `stdout` frames with running byte offsets.
 *
 * Output flows PTY -> ring -> relay. A send cursor `sent` says how far the
 * ring has been queued to the relay; `replay` moves it back, so anything
 * still in the ring can be sent again. The relay's `ack {offset, viewers}`
 * drives flow control: with a viewer attached, a PTY is not read once
 * `window` bytes beyond the acknowledged offset are produced, so the program
 * blocks as on a slow terminal and nothing is lost (the exact rule is at
 * cl__read_room in session.c). With no viewer the agent keeps reading and
 * the ring drops its oldest output.
 *
 * While sessions run, a timer (CL_SESSION_TITLE_POLL_MS) reads what runs in
 * each PTY and where (the foreground process group's comm and cwd, as
 * tmux's pane_current_command/path) and sends session_title when that
 * changed: "vim · ~/src". Nothing on the data path.
 *
 * Sessions survive relay disconnects and are announced in the next hello.
 * A session ends (session_end) when its shell has exited, all its output
 * was read and queued to a connected relay ("exit"); when the relay ends it
 * ("hangup", after the shell was reaped); when it had no viewer for the idle
 * grace ("idle", likewise); or at once when over CL_AGENT_MAX_SESSIONS
 * ("limit") or when no PTY could be spawned ("error").
 */
#ifndef CL_AGENT_SESSION_H
#define CL_AGENT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "agent/link.h"
#include "agent/ring.h"
#include "core/proto.h"

/* After a hangup, SIGKILL the shell's process group if it has not exited. */
#define CL_AGENT_KILL_GRACE_MS 5000
/* After the shell exited, how long to keep reading a PTY that some
 * leftover process still holds open before ending the session anyway. */
#define CL_AGENT_DRAIN_MS 2000

/* --window (bytes): default and lower bound; the upper bound is the ring
 * size. --idle-grace (seconds): default and upper bound; 0 = forever. */
#define CL_AGENT_WINDOW_DEFAULT (1024 * 1024)
#define CL_AGENT_WINDOW_MIN     (64 * 1024)
/* --window-max (bytes): how far a session's window may grow on a long
 * link (cl_agent_window_next); --window-max equal to --window keeps the
 * window fixed. A window that outgrows the ring grows the ring with it,
 * within CL_AGENT_WINDOW_BUDGET for all sessions (core/limits.h). */
#define CL_AGENT_WINDOW_MAX_DEFAULT (16 * 1024 * 1024)
#define CL_AGENT_IDLE_GRACE_DEFAULT 1800
#define CL_AGENT_IDLE_GRACE_MAX     (365 * 24 * 3600)

/* Tunables of `clawlink up`, checked by cl_agent_sessions_new. */
struct cl_agent_session_opts {
    size_t ring_size;      /* per-session ring: CL_RING_MIN..CL_RING_MAX */
    size_t window;         /* CL_AGENT_WINDOW_MIN..ring_size: where each session starts */
    size_t window_max;     /* window..CL_RING_MAX, how far it may grow; 0 = window (fixed) */
    uint64_t idle_grace_s; /* 0 = never end a session for lack of viewers */
    const char *pass_env;  /* more variables for the shells ("A,B"; shellenv.h), or NULL */
};

struct cl_agent_sessions;

/* Creates the session table on loop, sending through link (both must
 * outlive it). shell is the program to run as a login shell (copied); opts
 * are copied. Starts watching SIGCHLD. Returns 0 or a CL_E* code (CL_EINVAL
 * for a bad shell or opts) with err set. */
int cl_agent_sessions_new(uv_loop_t *loop, struct cl_agent_link *link, const char *shell,
                          const struct cl_agent_session_opts *opts, struct cl_agent_sessions **out,
                          char *err, size_t errlen);

/* Handles session_start, stdin, resize, session_end, ack and replay from
 * the relay. A replay for a session the agent does not run is answered
 * with session_end reason "unknown_session". */
void cl_agent_sessions_on_message(struct cl_agent_sessions *ss, const struct cl_msg *m);

/* The link's state or queue changed (its on_flow): sends what the rings
 * hold while the link takes it, round-robin across sessions, and
 * re-evaluates which PTYs may be read. */
void cl_agent_sessions_on_flow(struct cl_agent_sessions *ss);

/* The link dropped a queued stdout frame of session owner starting at
 * start_offset: rewind that session's cursor so it is sent again. */
void cl_agent_sessions_output_dropped(struct cl_agent_sessions *ss, void *owner,
                                      uint64_t start_offset);

/* Fills out[0..cap) with every session in the table and its produced
 * offset (the ring's end), with its input written and pending (input flow
 * control: the new relay counts from there), for the hello of a new
 * connection (the link's on_hello). Returns the count. */
size_t cl_agent_sessions_announce(struct cl_agent_sessions *ss, struct cl_msg_session *out,
                                  size_t cap);

/* Hangs up every session as if the relay had ended it; each reports
 * session_end "hangup" once its shell is reaped (a shell that already
 * exited by itself reports at once). */
void cl_agent_sessions_hangup_all(struct cl_agent_sessions *ss);

/* SIGKILLs the process group of every shell not yet reaped. */
void cl_agent_sessions_kill_all(struct cl_agent_sessions *ss);

/* A session's title from what runs in it: comm, the foreground program's
 * name, and cwd, its working directory ("" if unknown), joined by " · ",
 * with home (no trailing slash) shown as ~: "vim · ~/src". Control
 * characters and bytes that are not UTF-8 become '?'; a directory too
 * long for cap keeps its tail after "…". Writes at most cap - 1 bytes and
 * a NUL into out; "" when comm is "". */
void cl_agent_session_title(const char *comm, const char *cwd, const char *home, char *out,
                            size_t cap);

/* The flow-control window of a session after one round trip of acks
 * (decisions 58). `limited`: the session had the whole window
 * unacknowledged at some point of the round trip; `acked` bytes were
 * acknowledged over `cycle_ns`, and `min_rtt_ns` is the shortest round
 * trip (from sending an offset to its ack) any session has seen on the
 * current connection to the relay. The
 * delivery rate times the shortest round trip estimates what the path
 * holds (its bandwidth-delay product); while that is over half the
 * window, the window and not the reader or the link is what limits, and
 * the window doubles, up to max. A slow reader or a full link shows a
 * rate that a larger window would not raise: the window stays. Returns
 * win when nothing changes (win >= max, or any input 0). */
size_t cl_agent_window_next(size_t win, size_t max, bool limited, uint64_t acked, uint64_t cycle_ns,
                            uint64_t min_rtt_ns);

/* Sessions in the table (not yet ended). */
size_t cl_agent_sessions_count(const struct cl_agent_sessions *ss);

/* Closes every PTY and libuv handle without reporting anything; the caller
 * then runs the loop until it is idle and calls cl_agent_sessions_free. */
void cl_agent_sessions_close(struct cl_agent_sessions *ss);
void cl_agent_sessions_free(struct cl_agent_sessions *ss);

#endif
