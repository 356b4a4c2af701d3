/*
 * session: forkpty'd login shells watched with uv_poll_t, reaped through a
 * SIGCHLD uv_signal_t, keyed by session id in a uthash table.
 *
 * Life of a session: spawned on session_start; its master fd is polled for
 * reading while the link accepts output and for writing while stdin is
 * pending. It ends when both the PTY hit EOF and the shell was reaped
 * (reason "exit"), or, after a hangup (relay session_end or shutdown), when
 * the shell was reaped (reason "hangup"). Its memory is released from the
 * close callback of its last libuv handle.
 */
#include "agent/session.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/wsq.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uthash.h>

struct cl__sess {
    UT_hash_handle hh;
    char id[CL_ID_MAX + 1];
    struct cl_agent_sessions *ss;
    pid_t pid;
    int master;     /* -1 once closed */
    uv_poll_t poll; /* initialised while master >= 0 */
    int events;     /* what poll is started with; 0 = stopped */
    uv_timer_t timer;
    int open_handles;
    uint64_t offset; /* bytes of output sent so far */
    bool eof;        /* PTY read hit EOF (or was closed) */
    bool reaped;
    bool hangup; /* ended on request: report "hangup" */
    bool ended;  /* removed from the table; waiting for handle closes */
    int exit_code;
    uint8_t *pending; /* stdin waiting for the PTY, CL_AGENT_STDIN_PENDING_MAX */
    size_t pending_len;
};

struct cl_agent_sessions {
    uv_loop_t *loop;
    struct cl_agent_link *link;
    char shell[PATH_MAX];
    char argv0[PATH_MAX + 1]; /* "-" + basename: a login shell */
    struct cl__sess *by_id;
    size_t count;
    bool reading; /* the link takes output: PTYs may be read */
    uv_signal_t sigchld;
    uint8_t *readbuf; /* CL_PTY_READ_CHUNK */
};

static void cl__on_poll(uv_poll_t *h, int status, int events);

/* ---- replies ---------------------------------------------------------- */

static void cl__send_started(struct cl_agent_sessions *ss, const char *id)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_SESSION_STARTED;
    snprintf(m.session_id, sizeof m.session_id, "%s", id);
    cl_agent_link_send_msg(ss->link, &m);
}

static void cl__send_end(struct cl_agent_sessions *ss, const char *id, const char *reason,
                         bool has_code, int code)
{
    struct cl_msg m;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_SESSION_END;
    snprintf(m.session_id, sizeof m.session_id, "%s", id);
    snprintf(m.reason, sizeof m.reason, "%s", reason);
    m.has_exit_code = has_code;
    m.exit_code = code;
    cl_agent_link_send_msg(ss->link, &m);
}

/* ---- handles and teardown --------------------------------------------- */

static void cl__on_handle_closed(uv_handle_t *h)
{
    struct cl__sess *s = h->data;
    if (--s->open_handles == 0 && s->ended) {
        free(s->pending);
        free(s);
    }
}

/* Starts or stops polling the master so it matches what the session needs
 * now: readable while output may be sent, writable while stdin waits. */
static void cl__update_poll(struct cl__sess *s)
{
    int want = 0;

    if (s->master < 0)
        return;
    if (s->ss->reading && !s->eof && !s->hangup)
        want |= UV_READABLE;
    if (s->pending_len)
        want |= UV_WRITABLE;
    if (want == s->events)
        return;
    if (want)
        uv_poll_start(&s->poll, want, cl__on_poll);
    else
        uv_poll_stop(&s->poll);
    s->events = want;
}

/* Stops watching and closes the master. Closing it hangs up the terminal:
 * the kernel sends SIGHUP to its foreground process group. */
static void cl__close_master(struct cl__sess *s)
{
    if (s->master < 0)
        return;
    uv_close((uv_handle_t *)&s->poll, cl__on_handle_closed); /* stops the poll */
    close(s->master);
    s->master = -1;
    s->events = 0;
    free(s->pending);
    s->pending = NULL;
    s->pending_len = 0;
}

/* Removes s from the table and closes its handles; s is freed later. */
static void cl__retire(struct cl__sess *s)
{
    struct cl_agent_sessions *ss = s->ss;

    s->ended = true;
    HASH_DEL(ss->by_id, s);
    ss->count--;
    cl__close_master(s);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, cl__on_handle_closed);
}

/* Reports the end of s to the relay and retires it. */
static void cl__finish(struct cl__sess *s)
{
    const char *reason = s->hangup ? "hangup" : "exit";

    if (s->ended)
        return;
    cl_info("session", "session ended", "session=%s pid=%d reason=%s exit_code=%d bytes=%llu",
            s->id, (int)s->pid, reason, s->exit_code, (unsigned long long)s->offset);
    cl__send_end(s->ss, s->id, reason, true, s->exit_code);
    cl__retire(s);
}

/* ---- output ----------------------------------------------------------- */

static void cl__on_eof(struct cl__sess *s)
{
    s->eof = true;
    cl__close_master(s);
    if (s->reaped)
        cl__finish(s);
}

/* One read of up to CL_PTY_READ_CHUNK, sent as one stdout frame. */
static void cl__read(struct cl__sess *s)
{
    struct cl_agent_sessions *ss = s->ss;
    struct cl_frame *f;
    ssize_t n;
    long len;

    do
        n = read(s->master, ss->readbuf, CL_PTY_READ_CHUNK);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        /* 0 or EIO: every slave descriptor is closed. */
        if (n < 0 && errno != EIO)
            cl_warn("session", "pty read failed", "session=%s error=\"%s\"", s->id,
                    strerror(errno));
        cl__on_eof(s);
        return;
    }
    f = cl_frame_new(cl_msg_data_encoded_max(strlen(s->id), (size_t)n));
    len = cl_msg_encode_data(CL_MSG_STDOUT, s->id, ss->readbuf, (size_t)n, (int64_t)s->offset,
                             (char *)cl_frame_payload(f), f->cap);
    if (len < 0) {
        free(f); /* cannot happen: the frame was sized for it */
        cl_error("session", "cannot encode output", "session=%s", s->id);
        return;
    }
    f->len = (size_t)len;
    s->offset += (uint64_t)n;
    cl_agent_link_send(ss->link, f, false);
    if (!cl_agent_link_can_accept(ss->link))
        cl_agent_sessions_on_flow(ss);
}

/* ---- input ------------------------------------------------------------ */

static void cl__queue_input(struct cl__sess *s, const uint8_t *p, size_t n)
{
    if (n > CL_AGENT_STDIN_PENDING_MAX - s->pending_len) {
        cl_warn("session", "terminal not reading its input; input dropped",
                "session=%s bytes=%zu pending=%zu", s->id, n, s->pending_len);
        return;
    }
    if (!s->pending) {
        s->pending = malloc(CL_AGENT_STDIN_PENDING_MAX);
        if (!s->pending)
            abort();
    }
    memcpy(s->pending + s->pending_len, p, n);
    s->pending_len += n;
    cl__update_poll(s);
}

/* Writes as much of p as the PTY takes now. Returns the count written, or
 * -1 if the PTY is gone (the caller drops the input). */
static ssize_t cl__write_some(struct cl__sess *s, const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(s->master, p + off, n - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            cl_debug("session", "pty write failed; input dropped", "session=%s error=\"%s\"", s->id,
                     strerror(errno));
            return -1;
        }
    }
    return (ssize_t)off;
}

static void cl__input(struct cl__sess *s, const uint8_t *p, size_t n)
{
    ssize_t w;

    if (s->pending_len) {
        cl__queue_input(s, p, n);
        return;
    }
    w = cl__write_some(s, p, n);
    if (w >= 0 && (size_t)w < n)
        cl__queue_input(s, p + w, n - (size_t)w);
}

static void cl__flush_input(struct cl__sess *s)
{
    ssize_t w = cl__write_some(s, s->pending, s->pending_len);
    if (w < 0) {
        s->pending_len = 0;
    } else if (w > 0) {
        memmove(s->pending, s->pending + w, s->pending_len - (size_t)w);
        s->pending_len -= (size_t)w;
    }
    if (!s->pending_len) {
        free(s->pending);
        s->pending = NULL;
    }
    cl__update_poll(s);
}

static void cl__on_poll(uv_poll_t *h, int status, int events)
{
    struct cl__sess *s = h->data;

    if (status < 0) {
        cl_debug("session", "pty poll error", "session=%s error=\"%s\"", s->id,
                 uv_strerror(status));
        cl__on_eof(s);
        return;
    }
    if ((events & UV_WRITABLE) && s->pending_len)
        cl__flush_input(s);
    if ((events & UV_READABLE) && s->master >= 0 && s->ss->reading && !s->eof)
        cl__read(s);
}

/* ---- spawning --------------------------------------------------------- */

/* In the forked child: a clean signal state, no inherited descriptors, the
 * user's home, then the login shell. Never returns. */
static void cl__child(const struct cl_agent_sessions *ss)
{
    struct sigaction sa;
    sigset_t none;
    const char *home = getenv("HOME");
    char *argv[] = {(char *)ss->argv0, NULL};

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL); /* fails harmlessly for KILL, STOP, RT */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (close_range(3, ~0U, 0) != 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = 3; fd < (max > 0 ? max : 1024); fd++)
            close((int)fd);
    }
    setenv("TERM", "xterm-256color", 1);
    if (!home || chdir(home) != 0) {
        if (chdir("/") != 0) {
            /* nothing better to do: stay where we are */
        }
    }
    execv(ss->shell, argv);
    dprintf(STDERR_FILENO, "clawlink: cannot run %s: %s\r\n", ss->shell, strerror(errno));
    _exit(127);
}

/* forkpty's a login shell of size cols x rows for s. Signals stay blocked
 * across fork so the child never runs the parent's (libuv's) handlers. */
static int cl__spawn(struct cl_agent_sessions *ss, struct cl__sess *s, int cols, int rows)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    sigset_t all, old;
    int master = -1, saved;
    pid_t pid;

    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = forkpty(&master, NULL, NULL, &ws);
    if (pid == 0)
        cl__child(ss);
    saved = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        cl_error("session", "cannot spawn a pty", "session=%s error=\"%s\"", s->id,
                 strerror(saved));
        return CL_EIO;
    }
    int fl = fcntl(master, F_GETFL);
    if (fl < 0 || fcntl(master, F_SETFL, fl | O_NONBLOCK) != 0 ||
        fcntl(master, F_SETFD, FD_CLOEXEC) != 0) {
        cl_error("session", "cannot configure the pty", "session=%s error=\"%s\"", s->id,
                 strerror(errno));
        close(master);
        kill(pid, SIGKILL); /* reaped by the SIGCHLD handler, unmatched */
        return CL_EIO;
    }
    s->pid = pid;
    s->master = master;
    return 0;
}

/* ---- relay messages --------------------------------------------------- */

static struct cl__sess *cl__find(struct cl_agent_sessions *ss, const char *id)
{
    struct cl__sess *s = NULL;
    HASH_FIND_STR(ss->by_id, id, s);
    return s;
}

static void cl__set_size(struct cl__sess *s, int cols, int rows)
{
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    if (s->master >= 0 && ioctl(s->master, TIOCSWINSZ, &ws) != 0)
        cl_debug("session", "resize failed", "session=%s error=\"%s\"", s->id, strerror(errno));
}

static void cl__on_start(struct cl_agent_sessions *ss, const struct cl_msg *m)
{
    struct cl__sess *s = cl__find(ss, m->session_id);

    if (s) {
        if (s->hangup || s->eof) {
            cl_warn("session", "session_start for a session that is ending; ignored", "session=%s",
                    s->id);
            return;
        }
        cl_debug("session", "session already running", "session=%s", s->id);
        cl__set_size(s, m->cols, m->rows);
        cl__send_started(ss, s->id);
        return;
    }
    if (ss->count >= CL_AGENT_MAX_SESSIONS) {
        cl_warn("session", "session limit reached; refusing", "session=%s limit=%d", m->session_id,
                CL_AGENT_MAX_SESSIONS);
        cl__send_end(ss, m->session_id, "limit", false, 0);
        return;
    }
    s = calloc(1, sizeof *s);
    if (!s)
        abort();
    snprintf(s->id, sizeof s->id, "%s", m->session_id);
    s->ss = ss;
    s->master = -1;
    if (cl__spawn(ss, s, m->cols, m->rows) != 0) {
        cl__send_end(ss, s->id, "error", false, 0);
        free(s);
        return;
    }
    uv_poll_init(ss->loop, &s->poll, s->master);
    s->poll.data = s;
    uv_timer_init(ss->loop, &s->timer);
    s->timer.data = s;
    s->open_handles = 2;
    HASH_ADD_STR(ss->by_id, id, s);
    ss->count++;
    cl_info("session", "session started", "session=%s pid=%d cols=%d rows=%d shell=%s", s->id,
            (int)s->pid, m->cols, m->rows, ss->shell);
    cl__send_started(ss, s->id);
    cl__update_poll(s);
}

static void cl__on_kill_timer(uv_timer_t *t)
{
    struct cl__sess *s = t->data;
    if (s->reaped || s->ended)
        return;
    cl_warn("session", "shell ignored the hangup; killing it", "session=%s pid=%d", s->id,
            (int)s->pid);
    if (kill(-s->pid, SIGKILL) != 0)
        kill(s->pid, SIGKILL);
}

/* Ends s on request: hang up the terminal, then report once reaped. */
static void cl__hangup(struct cl__sess *s)
{
    if (s->hangup || s->ended)
        return;
    s->hangup = true;
    if (s->reaped) {
        cl__finish(s);
        return;
    }
    if (kill(-s->pid, SIGHUP) != 0)
        kill(s->pid, SIGHUP);
    cl__close_master(s);
    uv_timer_start(&s->timer, cl__on_kill_timer, CL_AGENT_KILL_GRACE_MS, 0);
}

void cl_agent_sessions_on_message(struct cl_agent_sessions *ss, const struct cl_msg *m)
{
    struct cl__sess *s;

    if (m->type == CL_MSG_SESSION_START) {
        cl__on_start(ss, m);
        return;
    }
    s = cl__find(ss, m->session_id);
    if (!s) {
        cl_debug("session", "message for an unknown session; ignored", "type=%s session=%s",
                 cl_msg_type_name(m->type), m->session_id);
        return;
    }
    switch (m->type) {
    case CL_MSG_STDIN:
        if (s->master >= 0 && !s->eof && !s->hangup && m->data_len)
            cl__input(s, m->data, m->data_len);
        break;
    case CL_MSG_RESIZE:
        cl__set_size(s, m->cols, m->rows);
        break;
    case CL_MSG_SESSION_END:
        cl_info("session", "session ended by relay", "session=%s reason=%s", s->id,
                m->reason[0] ? m->reason : "-");
        cl__hangup(s);
        break;
    default:
        break;
    }
}

/* ---- child exits ------------------------------------------------------ */

static void cl__on_drain_timer(uv_timer_t *t)
{
    struct cl__sess *s = t->data;
    if (s->ended)
        return;
    if (!s->ss->reading) {
        /* Output is paused by the link, not finished: keep waiting. */
        uv_timer_start(&s->timer, cl__on_drain_timer, CL_AGENT_DRAIN_MS, 0);
        return;
    }
    cl_debug("session", "pty still open after the shell exited; closing it", "session=%s", s->id);
    cl__on_eof(s);
}

static void cl__on_reaped(struct cl__sess *s, int status)
{
    s->reaped = true;
    if (WIFEXITED(status))
        s->exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        s->exit_code = 128 + WTERMSIG(status);
    if (s->eof || s->hangup) {
        cl__finish(s);
        return;
    }
    /* Keep reading until EOF; a background job holding the terminal open
     * must not keep the session alive forever. */
    uv_timer_start(&s->timer, cl__on_drain_timer, CL_AGENT_DRAIN_MS, 0);
}

static void cl__on_sigchld(uv_signal_t *h, int signum)
{
    struct cl_agent_sessions *ss = h->data;
    struct cl__sess *s, *tmp;
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        HASH_ITER(hh, ss->by_id, s, tmp)
        {
            if (s->pid == pid && !s->reaped) {
                cl__on_reaped(s, status);
                break;
            }
        }
    }
}

/* ---- the table -------------------------------------------------------- */

int cl_agent_sessions_new(uv_loop_t *loop, struct cl_agent_link *link, const char *shell,
                          struct cl_agent_sessions **out, char *err, size_t errlen)
{
    struct cl_agent_sessions *ss;
    char copy[PATH_MAX];

    *out = NULL;
    if (!shell || shell[0] != '/' || strlen(shell) >= sizeof ss->shell)
        return cl_seterr(err, errlen, CL_EINVAL, "shell must be an absolute path");
    if (access(shell, X_OK) != 0)
        return cl_seterr(err, errlen, CL_EINVAL, "shell %s is not executable: %s", shell,
                         strerror(errno));
    ss = calloc(1, sizeof *ss);
    if (!ss)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    ss->readbuf = malloc(CL_PTY_READ_CHUNK);
    if (!ss->readbuf) {
        free(ss);
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    }
    ss->loop = loop;
    ss->link = link;
    snprintf(ss->shell, sizeof ss->shell, "%s", shell);
    snprintf(copy, sizeof copy, "%s", shell);
    snprintf(ss->argv0, sizeof ss->argv0, "-%s", basename(copy));
    uv_signal_init(loop, &ss->sigchld);
    ss->sigchld.data = ss;
    uv_signal_start(&ss->sigchld, cl__on_sigchld, SIGCHLD);
    *out = ss;
    return 0;
}

void cl_agent_sessions_on_flow(struct cl_agent_sessions *ss)
{
    struct cl__sess *s, *tmp;
    bool reading = cl_agent_link_can_accept(ss->link);

    if (reading == ss->reading)
        return;
    ss->reading = reading;
    cl_debug("session", reading ? "reading terminals" : "terminal reads paused", "queued=%zu",
             cl_agent_link_queued(ss->link));
    HASH_ITER(hh, ss->by_id, s, tmp)
    cl__update_poll(s);
}

void cl_agent_sessions_hangup_all(struct cl_agent_sessions *ss)
{
    struct cl__sess *s, *tmp;
    HASH_ITER(hh, ss->by_id, s, tmp)
    cl__hangup(s);
}

void cl_agent_sessions_kill_all(struct cl_agent_sessions *ss)
{
    struct cl__sess *s, *tmp;
    HASH_ITER(hh, ss->by_id, s, tmp)
    {
        if (!s->reaped && kill(-s->pid, SIGKILL) != 0)
            kill(s->pid, SIGKILL);
    }
}

size_t cl_agent_sessions_count(const struct cl_agent_sessions *ss)
{
    return ss->count;
}

void cl_agent_sessions_close(struct cl_agent_sessions *ss)
{
    struct cl__sess *s, *tmp;
    int status;

    HASH_ITER(hh, ss->by_id, s, tmp)
    cl__retire(s);
    while (waitpid(-1, &status, WNOHANG) > 0)
        ;
    uv_signal_stop(&ss->sigchld);
    uv_close((uv_handle_t *)&ss->sigchld, NULL);
}

void cl_agent_sessions_free(struct cl_agent_sessions *ss)
{
    if (!ss)
        return;
    free(ss->readbuf);
    free(ss);
}
