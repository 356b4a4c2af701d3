/*
 * session: forkpty'd login shells watched with uv_poll_t, reaped through a
 * SIGCHLD uv_signal_t, keyed by session id in a uthash table; each with an
 * output ring, a send cursor and the relay's latest ack.
 *
 * Life of a session: spawned on session_start; its master fd is polled for
 * reading while cl__read_room allows it and for writing while stdin is
 * pending. Reads go straight into the ring; the pump queues ring bytes from
 * `sent` to the relay while the link takes them. It ends when the PTY hit
 * EOF, the shell was reaped and all output was queued to a connected relay
 * (reason "exit"), or, after a hangup (relay session_end, idle grace,
 * shutdown), when the shell was reaped ("hangup", "idle"). Its memory is
 * released from the close callback of its last libuv handle.
 */
#include "agent/session.h"
#include "agent/shellenv.h"
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

extern char **environ;

struct cl__sess {
    UT_hash_handle hh;
    char id[CL_ID_MAX + 1];
    struct cl_agent_sessions *ss;
    pid_t pid;
    int master;       /* -1 once closed */
    uv_poll_t poll;   /* initialised while master >= 0 */
    int events;       /* what poll is started with; 0 = stopped */
    uv_timer_t timer; /* kill grace after a hangup, or drain after the exit */
    uv_timer_t idle;  /* --idle-grace, running while viewers == 0 */
    int open_handles;
    struct cl_ring ring; /* output [ring.start, ring.end); end = produced */
    uint64_t sent;       /* output before this offset was queued to the relay */
    uint64_t acked;      /* furthest offset a viewer acknowledged (<= end) */
    /* The flow-control window (opts.window..opts.window_max) and what
     * grows it: probes time the round trip from sending an offset to its
     * ack (cl__window_sample), up to CL__PROBES out at once, one per
     * quarter window sent, so a burst's last bytes are timed too. */
    size_t window;
    bool window_hit; /* the whole window was unacknowledged since the last decision */
    struct {
        uint64_t off;   /* acked >= off ends the probe */
        uint64_t ns;    /* when it was sent */
        uint64_t acked; /* acked then */
    } probe[4];
    unsigned probes;     /* out: probe[0..probes), oldest first */
    uint64_t grown_ns;   /* the last decision: probes sent before it are not judged */
    uint64_t min_rtt_ns; /* shortest probe round trip; 0 = none yet */
    int viewers;         /* viewers at the relay's last ack; 0 before any */
    bool eof;            /* PTY read hit EOF (or was closed) */
    bool reaped;
    const char *hangup; /* ended on request: the reason to report, else NULL */
    bool ended;         /* removed from the table; waiting for handle closes */
    int exit_code;
    /* stdin waiting for the PTY: pending[pending_off, +pending_len), a
     * buffer of CL_AGENT_STDIN_WINDOW allocated while anything waits. The
     * relay sends no more than the window beyond what we reported written
     * (stdin_ack), so nothing it sends is dropped. */
    uint8_t *pending;
    size_t pending_off, pending_len;
    uint64_t in_written;  /* stdin written to the PTY (or consumed) since the spawn */
    uint64_t in_ack_sent; /* in_written as last told to the relay */
    char title[CL_SESSION_TITLE_MAX + 1]; /* the last title sent */
    bool title_sent;                      /* ... on the current connection */
    struct cl__sess *bulk_next;           /* on ss->bulk: a full PTY waits for its read */
    bool bulk;
    /* Busy: its last read had a whole terminal buffer or more. A busy PTY
     * is read on a worker thread (cl__lend), never by the loop. */
    bool busy;
    struct cl__lend *lent; /* the worker's read of its PTY, out now; NULL if none */
};

/* One read of a busy PTY on libuv's worker threads (cl__lend): the fd is
 * lent to the worker until cl__on_lent runs on the loop, which appends
 * what was read to the ring and pumps it. The buffer is the job's, not
 * the ring's: the ring may grow (and move) meanwhile. */
struct cl__lend {
    uv_work_t req;
    struct cl__sess *s;
    struct cl__lend *next_free;
    int fd;
    bool close_fd; /* the session closed its master meanwhile: close fd when back */
    size_t limit, len;
    bool eof;
    int err; /* errno of a failed read other than EIO, or 0 */
    uint8_t buf[CL_PTY_READ_CHUNK];
};

struct cl_agent_sessions {
    uv_loop_t *loop;
    struct cl_agent_link *link;
    char shell[PATH_MAX];
    char argv0[PATH_MAX + 1]; /* "-" + basename: a login shell */
    char **envp;              /* the shells' environment (shellenv.h) */
    struct cl__sess *by_id;
    size_t count;
    struct cl_agent_session_opts opts;
    bool link_up;        /* as last seen by on_flow, for logging */
    struct cl__sess *rr; /* where the next on_flow round starts (fairness) */
    size_t ring_grown; /* ring bytes beyond opts.ring_size, all sessions (CL_AGENT_WINDOW_BUDGET) */
    uint64_t min_rtt_ns; /* shortest probe round trip of any session on this link; 0 = none */
    uv_signal_t sigchld;
    uv_timer_t title_timer; /* runs while count > 0: cl__on_title_timer */
    char home[PATH_MAX];    /* the shells' $HOME, shown as ~ in titles ("" if unset) */
    /* PTYs that had more than one terminal buffer to read, in the order
     * they became ready, waiting for a worker (cl__bulk_dispatch). */
    struct cl__sess *bulk, *bulk_tail;
    unsigned lent;               /* reads out on workers, at most CL_AGENT_BULK_JOBS */
    struct cl__lend *free_lends; /* done jobs kept for the next (at most CL_AGENT_BULK_JOBS) */
};

static void cl__on_poll(uv_poll_t *h, int status, int events);
static void cl__on_title_timer(uv_timer_t *t);

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

/* Takes s off the bulk list (it is going away). */
static void cl__bulk_remove(struct cl__sess *s)
{
    struct cl_agent_sessions *ss = s->ss;
    struct cl__sess **pp = &ss->bulk, *prev = NULL;

    if (!s->bulk)
        return;
    while (*pp && *pp != s)
        prev = *pp, pp = &(*pp)->bulk_next;
    if (*pp)
        *pp = s->bulk_next;
    if (ss->bulk_tail == s)
        ss->bulk_tail = prev;
    s->bulk = false;
    s->bulk_next = NULL;
}

static void cl__unref(struct cl__sess *s)
{
    if (--s->open_handles == 0 && s->ended) {
        if (s->ring.cap > s->ss->opts.ring_size)
            s->ss->ring_grown -= s->ring.cap - s->ss->opts.ring_size;
        cl__bulk_remove(s);
        free(s->pending);
        cl_ring_free(&s->ring);
        free(s);
    }
}

static void cl__on_handle_closed(uv_handle_t *h)
{
    cl__unref(h->data);
}

/* How many bytes the PTY of s may be read now (0 = do not read). This is
 * the flow-control rule, in order:
 *  - nothing once the PTY hit EOF, was closed, or the session is hanging up;
 *  - at most CL_PTY_READ_CHUNK per read;
 *  - a viewer is attached (viewers > 0 at the last ack):
 *      - link down: nothing (the viewers would miss what the ring drops);
 *      - link up: at most window - (end - acked); nothing once the session
 *        has produced a whole window beyond the acknowledged offset;
 *  - no viewer attached: no window (link up or down);
 *  - link up (either case): never overwrite ring bytes not yet queued to
 *    the relay, nor read more than CL_AGENT_UNSENT_MAX ahead of what is
 *    queued: at most min(cap, UNSENT_MAX) - (end - max(sent, start)). A
 *    congested link so pauses the PTYs early, and a loop iteration never
 *    reads more than it can soon send. With no viewer and
 *    the link down the oldest bytes are overwritten, sent or not; the pump
 *    skips what was lost and the relay announces the gap to a later viewer.
 * Reading into the ring also stops at its wrap point (cl__read). */
static size_t cl__read_room(const struct cl__sess *s)
{
    const struct cl_agent_sessions *ss = s->ss;
    bool up = cl_agent_link_ready(ss->link);
    uint64_t room = CL_PTY_READ_CHUNK;

    if (s->master < 0 || s->eof || s->hangup || s->ended)
        return 0;
    if (s->viewers > 0) {
        uint64_t unacked = s->ring.end - s->acked;
        if (!up || unacked >= s->window)
            return 0;
        if (room > s->window - unacked)
            room = s->window - unacked;
    }
    if (up) {
        uint64_t from = s->sent > s->ring.start ? s->sent : s->ring.start;
        uint64_t unsent = s->ring.end - from;
        uint64_t cap = s->ring.cap < CL_AGENT_UNSENT_MAX ? s->ring.cap : CL_AGENT_UNSENT_MAX;
        if (unsent >= cap)
            return 0;
        if (room > cap - unsent)
            room = cap - unsent;
    }
    return (size_t)room;
}

/* Starts or stops polling the master so it matches what the session needs
 * now: readable while cl__read_room allows, writable while stdin waits.
 * Not polling for reading is how a PTY is paused: the program blocks. */
static void cl__update_poll(struct cl__sess *s)
{
    int want = 0;

    if (s->master < 0)
        return;
    if (s->viewers > 0 && s->ring.end - s->acked >= s->window)
        s->window_hit = true; /* paused by the window: cl__window_sample */
    /* on the bulk list or lent to a worker, the loop does not read it:
     * polled too, it would wake every loop iteration for nothing */
    if (!s->bulk && !s->lent && cl__read_room(s) > 0)
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
    if (s->lent)
        s->lent->close_fd = true; /* a worker reads it: closed when it is back */
    else
        close(s->master);
    s->master = -1;
    s->events = 0;
    /* what waited is consumed: the relay may count it as written */
    s->in_written += s->pending_len;
    free(s->pending);
    s->pending = NULL;
    s->pending_len = s->pending_off = 0;
}

/* Removes s from the table and closes its handles; s is freed later. */
static void cl__retire(struct cl__sess *s)
{
    struct cl_agent_sessions *ss = s->ss;

    s->ended = true;
    cl_agent_link_disown(ss->link, s);
    if (ss->rr == s)
        ss->rr = s->hh.next;
    HASH_DEL(ss->by_id, s);
    if (--ss->count == 0)
        uv_timer_stop(&ss->title_timer);
    cl__close_master(s);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, cl__on_handle_closed);
    uv_timer_stop(&s->idle);
    uv_close((uv_handle_t *)&s->idle, cl__on_handle_closed);
}

/* Reports the end of s to the relay and retires it. */
static void cl__finish(struct cl__sess *s)
{
    const char *reason = s->hangup ? s->hangup : cl_end_reason_name(CL_END_EXIT);

    if (s->ended)
        return;
    cl_info("session", "session ended", "session=%s pid=%d reason=%s exit_code=%d bytes=%llu",
            s->id, (int)s->pid, reason, s->exit_code, (unsigned long long)s->ring.end);
    cl__send_end(s->ss, s->id, reason, true, s->exit_code);
    cl__retire(s);
}

/* Finishes s if it is done: hung up and reaped, or exited by itself with
 * all output read (EOF) and queued to a connected relay, so that
 * session_end follows the last stdout and a relay that comes back still
 * gets the tail of the output. May retire s. */
static void cl__maybe_finish(struct cl__sess *s)
{
    if (s->ended || !s->reaped)
        return;
    if (s->hangup || (s->eof && s->sent >= s->ring.end && cl_agent_link_ready(s->ss->link)))
        cl__finish(s);
}

/* ---- output ----------------------------------------------------------- */

/* Queues one stdout frame of at most CL_PTY_READ_CHUNK from the ring at
 * `sent`, if the link takes it. Returns true if it queued one. */
static bool cl__pump_one(struct cl__sess *s)
{
    struct cl_agent_link *link = s->ss->link;
    const uint8_t *p;
    struct cl_frame *f;
    uint64_t at;
    size_t n;
    long len;
    bool urgent;

    if (s->ended || !cl_agent_link_ready(link))
        return false;
    /* A session with only a little to send (an echo, a prompt) goes ahead
     * of the others' bulk output, whatever is queued; the rest waits for
     * room and takes turns. A busy session's output is bulk even when a
     * worker's read brought only a little of it. */
    urgent = !s->busy && s->ring.end - (s->sent > s->ring.start ? s->sent : s->ring.start) <=
                             CL_AGENT_URGENT_MAX;
    if (!urgent && !cl_agent_link_can_accept(link))
        return false;
    if (s->sent < s->ring.start) {
        /* Overwritten while nobody could take it; the relay tells viewers
         * about the gap from the offset of the next frame. */
        cl_debug("session", "unsent output was overwritten; skipping it",
                 "session=%s from=%llu to=%llu", s->id, (unsigned long long)s->sent,
                 (unsigned long long)s->ring.start);
        s->sent = s->ring.start;
    }
    n = cl_ring_peek(&s->ring, s->sent, CL_PTY_READ_CHUNK, &p, &at);
    if (n == 0)
        return false;
    if (cl_agent_link_proto(link) >= 2) {
        /* v2: a binary header, then the bytes straight from the ring */
        size_t h = cl_bin_header_len(strlen(s->id));
        f = cl_frame_new(h + n);
        cl_bin_write_header(cl_frame_payload(f), CL_MSG_STDOUT, s->id, at);
        memcpy(cl_frame_payload(f) + h, p, n);
        f->binary = true;
        len = (long)(h + n);
    } else {
        f = cl_frame_new(cl_msg_data_encoded_max(strlen(s->id), n));
        len = cl_msg_encode_data(CL_MSG_STDOUT, s->id, p, n, (int64_t)at,
                                 (char *)cl_frame_payload(f), f->cap);
    }
    if (len < 0) {
        free(f); /* cannot happen: the frame was sized for it */
        cl_error("session", "cannot encode output", "session=%s", s->id);
        return false;
    }
    f->len = (size_t)len;
    f->owner = s;
    f->start_offset = at;
    f->end_offset = at + n;
    if (urgent)
        cl_agent_link_send_urgent(link, f);
    else if (cl_agent_link_send(link, f, false) != 0)
        return false; /* over CL_WS_SENDQ_MAX: cannot happen below SENDQ_HIGH */
    s->sent = at + n;
    if (s->probes < 4 && (!s->probes || s->sent >= s->probe[s->probes - 1].off + s->window / 4)) {
        s->probe[s->probes].off = s->sent;
        s->probe[s->probes].ns = uv_hrtime();
        s->probe[s->probes].acked = s->acked;
        s->probes++;
    }
    return true;
}

/* Queues everything s has not sent yet, as far as the link takes it. */
static void cl__pump(struct cl__sess *s)
{
    while (cl__pump_one(s))
        ;
}

static void cl__on_eof(struct cl__sess *s)
{
    s->eof = true;
    cl__close_master(s);
    cl__maybe_finish(s);
}

/* Reads what the PTY has, up to limit bytes and as far as cl__read_room
 * allows, straight into the ring; then the pump. A terminal hands over at
 * most one line-discipline buffer (4 KiB) per read, so reading again until
 * it is empty coalesces a burst into one frame instead of a frame per
 * 4 KiB; a keystroke's echo is still one read, one frame. hold: do not
 * pump if the PTY may have more (the caller reads the rest later, into the
 * same frame). Returns true if the PTY may have more (limit reached). */
static bool cl__read(struct cl__sess *s, size_t limit, bool hold)
{
    size_t total = 0, room, contig;
    bool eof = false, more;
    uint8_t *dst;
    ssize_t n;

    while (total < limit && (room = cl__read_room(s)) > 0) {
        dst = cl_ring_write_ptr(&s->ring, &contig);
        if (room > contig)
            room = contig;
        if (room > limit - total)
            room = limit - total;
        do
            n = read(s->master, dst, room);
        while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            /* 0 or EIO: every slave descriptor is closed. */
            if (n < 0 && errno != EIO)
                cl_warn("session", "pty read failed", "session=%s error=\"%s\"", s->id,
                        strerror(errno));
            eof = true;
            break;
        }
        cl_ring_commit(&s->ring, (size_t)n);
        total += (size_t)n;
    }
    more = total >= limit && !eof;
    if (!(hold && more))
        cl__pump(s); /* also what an earlier held read left */
    if (eof) {
        cl__on_eof(s);
        return false;
    }
    cl__update_poll(s);
    return more;
}

static void cl__bulk_dispatch(struct cl_agent_sessions *ss);
static void cl__bulk_add(struct cl__sess *s);

/* On a worker thread: reads what the lent PTY has, up to the limit, as
 * cl__read does on the loop. Touches nothing but the job. */
static void cl__lend_work(uv_work_t *req)
{
    struct cl__lend *j = req->data;
    ssize_t n;

    while (j->len < j->limit) {
        do
            n = read(j->fd, j->buf + j->len, j->limit - j->len);
        while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            /* 0 or EIO: every slave descriptor is closed. */
            j->err = n < 0 && errno != EIO ? errno : 0;
            j->eof = true;
            break;
        }
        j->len += (size_t)n;
    }
}

/* Back on the loop: the read's bytes go to the ring (the room was
 * reserved when it was lent: nothing else wrote to the ring meanwhile)
 * and are pumped; a PTY that filled the read goes back on the bulk list,
 * one that had less is polled again, and one that had less than a
 * terminal buffer is not busy any more. */
static void cl__on_lent(uv_work_t *req, int status)
{
    struct cl__lend *j = req->data;
    struct cl__sess *s = j->s;
    struct cl_agent_sessions *ss = s->ss;

    (void)status; /* never cancelled */
    s->lent = NULL;
    ss->lent--;
    if (j->close_fd)
        close(j->fd);
    s->busy = j->len >= CL_PTY_TTY_BUFFER;
    if (!s->ended && j->len > 0) {
        cl_ring_append(&s->ring, j->buf, j->len);
        cl__pump(s);
    }
    if (!s->ended && s->master >= 0) {
        if (j->err)
            cl_warn("session", "pty read failed", "session=%s error=\"%s\"", s->id,
                    strerror(j->err));
        if (j->eof)
            cl__on_eof(s);
        else if (j->len >= j->limit)
            cl__bulk_add(s);
        else
            cl__update_poll(s);
    }
    /* kept for the next read: never more jobs than CL_AGENT_BULK_JOBS */
    j->next_free = ss->free_lends;
    ss->free_lends = j;
    cl__unref(s); /* the job's reference (cl__lend) */
    cl__bulk_dispatch(ss);
}

/* Lends s's PTY to a worker for one read of up to limit bytes. Returns
 * false if it could not (no memory, no worker): the loop reads it. */
static bool cl__lend(struct cl__sess *s, size_t limit)
{
    struct cl_agent_sessions *ss = s->ss;
    struct cl__lend *j = ss->free_lends;

    if (j)
        ss->free_lends = j->next_free;
    else if (!(j = malloc(sizeof *j)))
        return false;
    j->req.data = j;
    j->s = s;
    j->fd = s->master;
    j->close_fd = false;
    j->limit = limit;
    j->len = 0;
    j->eof = false;
    j->err = 0;
    if (uv_queue_work(ss->loop, &j->req, cl__lend_work, cl__on_lent) != 0) {
        free(j);
        return false;
    }
    s->lent = j;
    s->open_handles++; /* s outlives the job even if it ends meanwhile */
    ss->lent++;
    cl__update_poll(s);
    return true;
}

/* The busy PTYs, in the order they became ready, each lent to a worker
 * for one read of at most CL_PTY_READ_CHUNK, CL_AGENT_BULK_JOBS at once.
 * The loop itself never reads them: a read that frees a terminal buffer
 * wakes the program writing to it, which then takes the core from the
 * reader, and with 50 busy PTYs the loop was preempted thousands of times
 * a second (docs/performance.md, "Typing under load"). The loop is left
 * with echoes, input, acks and sending, and sleeps in between, which is
 * what the scheduler favours when it wakes. */
static void cl__bulk_dispatch(struct cl_agent_sessions *ss)
{
    while (ss->bulk && ss->lent < CL_AGENT_BULK_JOBS) {
        struct cl__sess *s = ss->bulk;
        uint64_t unsent = s->ring.end - (s->sent > s->ring.start ? s->sent : s->ring.start);
        size_t limit = unsent < CL_PTY_READ_CHUNK ? CL_PTY_READ_CHUNK - (size_t)unsent : 0;
        size_t room = cl__read_room(s);

        ss->bulk = s->bulk_next;
        if (!ss->bulk)
            ss->bulk_tail = NULL;
        s->bulk = false;
        s->bulk_next = NULL;
        if (limit > room)
            limit = room;
        if (s->master < 0 || s->eof || s->ended || limit == 0) {
            cl__update_poll(s); /* no room now: polled again when there is */
            continue;
        }
        if (!cl__lend(s, limit))
            cl__read(s, limit, false);
    }
}

static void cl__bulk_add(struct cl__sess *s)
{
    struct cl_agent_sessions *ss = s->ss;

    if (s->bulk || s->lent)
        return;
    s->bulk = true;
    s->busy = true;
    s->bulk_next = NULL;
    if (ss->bulk_tail)
        ss->bulk_tail->bulk_next = s;
    else
        ss->bulk = s;
    ss->bulk_tail = s;
    cl__update_poll(s);
    cl__bulk_dispatch(ss);
}

/* ---- input ------------------------------------------------------------ */

/* Tells the relay how much stdin was written, if it asked (hello_ok
 * honoured our stdin_window): at once when a backlog has drained (the
 * relay may be holding more for this session), else every
 * CL_STDIN_ACK_STEP, so plain typing costs no extra messages. */
static void cl__stdin_ack(struct cl__sess *s, bool drained)
{
    struct cl_msg m;

    if (s->in_written <= s->in_ack_sent || !cl_agent_link_stdin_flow(s->ss->link))
        return;
    if (!drained && s->in_written - s->in_ack_sent < CL_STDIN_ACK_STEP)
        return;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_STDIN_ACK;
    snprintf(m.session_id, sizeof m.session_id, "%s", s->id);
    m.offset = s->in_written;
    if (cl_agent_link_send_msg(s->ss->link, &m) == 0)
        s->in_ack_sent = s->in_written;
}

/* Keeps n bytes of stdin the PTY did not take yet. With a relay that
 * keeps to the window they always fit; an old relay that does not may
 * send more, and what is over the window is dropped (logged). */
static void cl__queue_input(struct cl__sess *s, const uint8_t *p, size_t n)
{
    if (n > CL_AGENT_STDIN_WINDOW - s->pending_len) {
        cl_warn("session", "relay sent input beyond the window; input dropped",
                "session=%s bytes=%zu pending=%zu", s->id, n, s->pending_len);
        s->in_written += n; /* consumed, so a relay's accounting stays true */
        return;
    }
    if (!s->pending) {
        s->pending = malloc(CL_AGENT_STDIN_WINDOW);
        if (!s->pending)
            abort();
        s->pending_off = 0;
    } else if (s->pending_off + s->pending_len + n > CL_AGENT_STDIN_WINDOW) {
        memmove(s->pending, s->pending + s->pending_off, s->pending_len);
        s->pending_off = 0;
    }
    memcpy(s->pending + s->pending_off + s->pending_len, p, n);
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
    if (w < 0) {
        s->in_written += n;
    } else {
        s->in_written += (size_t)w;
        if ((size_t)w < n)
            cl__queue_input(s, p + w, n - (size_t)w);
    }
    cl__stdin_ack(s, false);
}

static void cl__flush_input(struct cl__sess *s)
{
    ssize_t w = cl__write_some(s, s->pending + s->pending_off, s->pending_len);
    if (w < 0) {
        s->in_written += s->pending_len;
        s->pending_len = 0;
    } else if (w > 0) {
        s->in_written += (size_t)w;
        s->pending_off += (size_t)w;
        s->pending_len -= (size_t)w;
    }
    if (!s->pending_len) {
        free(s->pending);
        s->pending = NULL;
        s->pending_off = 0;
    }
    cl__stdin_ack(s, s->pending_len == 0);
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
    /* One terminal buffer now: an echo is read and sent at once; a PTY
     * that filled it, or is busy, is read by a worker (cl__bulk_dispatch). */
    if (!(events & UV_READABLE) || s->master < 0 || s->eof || s->bulk || s->lent)
        return;
    if (s->busy || cl__read(s, CL_PTY_TTY_BUFFER, true))
        cl__bulk_add(s);
}

/* ---- spawning --------------------------------------------------------- */

/* In the forked child: a clean signal state, no inherited descriptors, the
 * user's home, then the login shell. Never returns. */
static void cl__child(const struct cl_agent_sessions *ss)
{
    struct sigaction sa;
    sigset_t none;
    const char *home = cl_shellenv_get(ss->envp, "HOME");
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
    if (!home || chdir(home) != 0) {
        if (chdir("/") != 0) {
            /* nothing better to do: stay where we are */
        }
    }
    execve(ss->shell, argv, ss->envp);
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

/* ---- titles ----------------------------------------------------------- */

/* Appends src to out (length *n, capacity cap including the NUL) as
 * printable UTF-8: control characters and bytes that are not valid UTF-8
 * become '?'. Stops before a character that does not fit. */
static void cl__title_append(char *out, size_t *n, size_t cap, const char *src)
{
    const unsigned char *p = (const unsigned char *)src;
    while (*p) {
        size_t len = 1;
        unsigned char c = *p;
        bool ok = true;
        if (c >= 0x80) {
            len = c >= 0xf0 && c <= 0xf4  ? 4
                  : c >= 0xe0 && c < 0xf0 ? 3
                  : c >= 0xc2 && c < 0xe0 ? 2
                                          : 0;
            for (size_t i = 1; len && i < len; i++)
                if ((p[i] & 0xc0) != 0x80)
                    len = 0;
            /* no overlong forms, surrogates or code points past U+10FFFF */
            if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
                (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
                len = 0;
            ok = len > 0 && !(c == 0xc2 && p[1] <= 0x9f); /* C1 controls */
            if (!len)
                len = 1;
        } else if (c < 0x20 || c == 0x7f) {
            ok = false;
        }
        if (*n + (ok ? len : 1) >= cap)
            break;
        if (ok) {
            memcpy(out + *n, p, len);
            *n += len;
        } else {
            out[(*n)++] = '?';
        }
        p += len;
    }
    out[*n] = '\0';
}

void cl_agent_session_title(const char *comm, const char *cwd, const char *home, char *out,
                            size_t cap)
{
    char shown[PATH_MAX + 4];
    const char *dir = cwd;
    size_t n = 0, hl = strlen(home);

    if (!cap)
        return;
    out[0] = '\0';
    if (!comm[0])
        return;
    if (hl > 1 && strncmp(cwd, home, hl) == 0 && (cwd[hl] == '\0' || cwd[hl] == '/')) {
        snprintf(shown, sizeof shown, "~%s", cwd + hl);
        dir = shown;
    }
    cl__title_append(out, &n, cap, comm);
    if (!dir[0])
        return;
    cl__title_append(out, &n, cap, " \xc2\xb7 ");
    {
        /* keep the tail of a long directory: it says where one is */
        size_t room = cap - 1 - n, dl = strlen(dir);
        if (dl > room && room > 8) {
            const char *tail = dir + dl - (room - 3);
            while ((*(const unsigned char *)tail & 0xc0) == 0x80)
                tail++;
            cl__title_append(out, &n, cap, "\xe2\x80\xa6"); /* … */
            dir = tail;
        }
    }
    cl__title_append(out, &n, cap, dir);
}

/* The title of s, as tmux's pane_current_command and pane_current_path
 * would say: the PTY's foreground process (its process group leader; the
 * shell when that is gone) and its working directory. Leaves out empty
 * when nothing can be read. */
static void cl__title_read(const struct cl__sess *s, const char *home, char *out, size_t cap)
{
    char path[64], comm[32] = "", cwd[PATH_MAX + 2] = "";
    pid_t pg = tcgetpgrp(s->master);
    ssize_t got;
    int fd;

    for (int attempt = 0; attempt < 2; attempt++, pg = s->pid) {
        if (pg <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/comm", (int)pg);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        got = read(fd, comm, sizeof comm - 1);
        close(fd);
        if (got <= 0)
            continue;
        comm[got] = '\0';
        comm[strcspn(comm, "\n")] = '\0';
        snprintf(path, sizeof path, "/proc/%d/cwd", (int)pg);
        got = readlink(path, cwd, sizeof cwd - 1);
        cwd[got > 0 ? got : 0] = '\0';
        break;
    }
    cl_agent_session_title(comm, cwd, home, out, cap);
}

/* Every CL_SESSION_TITLE_POLL_MS while sessions run: sends session_title
 * for each live session whose title changed (or was not yet sent on this
 * connection). Only to a relay that accepted protocol 2: a PrivaClaw
 * relay, which speaks 1, does not know the message. */
static void cl__on_title_timer(uv_timer_t *t)
{
    struct cl_agent_sessions *ss = t->data;
    struct cl__sess *s, *tmp;
    char title[CL_SESSION_TITLE_MAX + 1];

    if (!cl_agent_link_ready(ss->link) || cl_agent_link_proto(ss->link) < 2)
        return;
    HASH_ITER(hh, ss->by_id, s, tmp)
    {
        struct cl_msg m;
        if (s->master < 0 || s->hangup || s->ended)
            continue;
        cl__title_read(s, ss->home, title, sizeof title);
        if (s->title_sent && strcmp(title, s->title) == 0)
            continue;
        memset(&m, 0, sizeof m);
        m.type = CL_MSG_SESSION_TITLE;
        snprintf(m.session_id, sizeof m.session_id, "%s", s->id);
        memcpy(m.title, title, strlen(title) + 1);
        if (cl_agent_link_send_msg(ss->link, &m) != 0)
            return;
        memcpy(s->title, title, strlen(title) + 1);
        s->title_sent = true;
        cl_debug("session", "title", "session=%s title=\"%s\"", s->id, title);
    }
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

static void cl__on_idle(uv_timer_t *t);

/* (Re)starts the idle grace of s, unless it is 0 (forever). */
static void cl__idle_start(struct cl__sess *s)
{
    uint64_t grace = s->ss->opts.idle_grace_s;
    if (grace && !s->ended)
        uv_timer_start(&s->idle, cl__on_idle, grace * 1000, 0);
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
        cl__send_end(ss, m->session_id, cl_end_reason_name(CL_END_LIMIT), false, 0);
        return;
    }
    s = calloc(1, sizeof *s);
    if (!s)
        abort();
    snprintf(s->id, sizeof s->id, "%s", m->session_id);
    s->ss = ss;
    s->master = -1;
    s->window = ss->opts.window;
    if (cl_ring_init(&s->ring, ss->opts.ring_size) != 0) {
        cl_error("session", "no memory for the output ring; refusing", "session=%s bytes=%zu",
                 s->id, ss->opts.ring_size);
        goto out_refuse;
    }
    if (cl__spawn(ss, s, m->cols, m->rows) != 0)
        goto out_free_ring;
    uv_poll_init(ss->loop, &s->poll, s->master);
    s->poll.data = s;
    uv_timer_init(ss->loop, &s->timer);
    s->timer.data = s;
    uv_timer_init(ss->loop, &s->idle);
    s->idle.data = s;
    s->open_handles = 3;
    HASH_ADD_STR(ss->by_id, id, s);
    if (ss->count++ == 0) /* the first title soon, then every poll period */
        uv_timer_start(&ss->title_timer, cl__on_title_timer, CL_SESSION_TITLE_POLL_MS / 4,
                       CL_SESSION_TITLE_POLL_MS);
    cl_info("session", "session started", "session=%s pid=%d cols=%d rows=%d shell=%s", s->id,
            (int)s->pid, m->cols, m->rows, ss->shell);
    cl__send_started(ss, s->id);
    cl__idle_start(s); /* no viewer is known until the relay's first ack */
    cl__update_poll(s);
    return;

out_free_ring:
    cl_ring_free(&s->ring);
out_refuse:
    cl__send_end(ss, s->id, cl_end_reason_name(CL_END_ERROR), false, 0);
    free(s);
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

/* Ends s on request: hang up the terminal, then report reason (a static
 * string) once reaped. */
static void cl__hangup(struct cl__sess *s, const char *reason)
{
    if (s->hangup || s->ended)
        return;
    s->hangup = reason;
    uv_timer_stop(&s->idle);
    if (s->reaped) {
        cl__finish(s);
        return;
    }
    if (kill(-s->pid, SIGHUP) != 0)
        kill(s->pid, SIGHUP);
    cl__close_master(s);
    uv_timer_start(&s->timer, cl__on_kill_timer, CL_AGENT_KILL_GRACE_MS, 0);
}

static void cl__on_idle(uv_timer_t *t)
{
    struct cl__sess *s = t->data;
    if (s->ended || s->hangup)
        return;
    cl_info("session", "no viewer for the idle grace; ending the session",
            "session=%s grace_s=%llu", s->id, (unsigned long long)s->ss->opts.idle_grace_s);
    cl__hangup(s, cl_end_reason_name(CL_END_IDLE));
}

size_t cl_agent_window_next(size_t win, size_t max, bool limited, uint64_t acked, uint64_t cycle_ns,
                            uint64_t min_rtt_ns)
{
    double bdp;

    if (!limited || win >= max || !acked || !cycle_ns || !min_rtt_ns)
        return win;
    bdp = (double)acked * (double)min_rtt_ns / (double)cycle_ns;
    if (2 * bdp <= (double)win)
        return win;
    return win > max / 2 ? max : win * 2;
}

/* The ack reached one or more probes: round trips measured. The newest
 * probe reached, if sent after the last decision, decides: grows the
 * window when cl_agent_window_next says the window is the limit, and the
 * ring with it when the window would outgrow it (never past the budget;
 * a failed allocation leaves both as they were). */
static void cl__window_sample(struct cl__sess *s)
{
    struct cl_agent_sessions *ss = s->ss;
    uint64_t now = uv_hrtime(), rtt = 0, sent_ns = 0, acked = 0;
    size_t max = ss->opts.window_max > s->window ? ss->opts.window_max : s->window, next;
    unsigned done = 0;

    while (done < s->probes && s->acked >= s->probe[done].off) {
        rtt = now - s->probe[done].ns;
        if (!s->min_rtt_ns || rtt < s->min_rtt_ns)
            s->min_rtt_ns = rtt ? rtt : 1;
        if (!ss->min_rtt_ns || s->min_rtt_ns < ss->min_rtt_ns)
            ss->min_rtt_ns = s->min_rtt_ns;
        sent_ns = s->probe[done].ns;
        acked = s->acked - s->probe[done].acked;
        done++;
    }
    if (!done)
        return;
    memmove(s->probe, s->probe + done, (s->probes - done) * sizeof s->probe[0]);
    s->probes -= done;
    if (sent_ns < s->grown_ns)
        return; /* sent under the old window: says nothing of the new one */
    /* the link's shortest round trip, not only this session's: a session
     * that starts while the link is already queued behind others would
     * otherwise take the queue for distance and grow for nothing */
    next = cl_agent_window_next(s->window, max, s->window_hit, acked, rtt, ss->min_rtt_ns);
    s->window_hit = false;
    s->grown_ns = now;
    if (next > s->ring.cap) {
        size_t left = CL_AGENT_WINDOW_BUDGET - ss->ring_grown, old = s->ring.cap;
        if (next - s->ring.cap > left)
            next = s->ring.cap + left;
        if (next > s->ring.cap && cl_ring_grow(&s->ring, next) != 0)
            next = s->ring.cap; /* CL_ENOMEM: keep what we have */
        ss->ring_grown += s->ring.cap - old;
    }
    if (next > s->window) {
        cl_debug("session", "window grew",
                 "session=%s window=%zu ring=%zu rtt_us=%llu min_rtt_us=%llu", s->id, next,
                 s->ring.cap, (unsigned long long)(rtt / 1000),
                 (unsigned long long)(s->min_rtt_ns / 1000));
        s->window = next;
    }
}

/* ack {offset, viewers}: the furthest offset any viewer consumed (never
 * moves back, never past what was produced) and how many are attached. */
static void cl__on_ack(struct cl__sess *s, const struct cl_msg *m)
{
    uint64_t off = m->offset < s->ring.end ? m->offset : s->ring.end;

    if (off > s->acked)
        s->acked = off;
    if (s->probes && s->acked >= s->probe[0].off)
        cl__window_sample(s);
    if (m->has_viewers && m->viewers != s->viewers) {
        cl_debug("session", "viewers changed", "session=%s viewers=%d acked=%llu end=%llu", s->id,
                 m->viewers, (unsigned long long)s->acked, (unsigned long long)s->ring.end);
        if (m->viewers > 0 && s->viewers == 0)
            uv_timer_stop(&s->idle);
        else if (m->viewers == 0 && !s->hangup)
            cl__idle_start(s);
        s->viewers = m->viewers;
    }
    cl__update_poll(s);
}

/* replay {offset}: send again from offset (or the oldest byte held). The
 * cursor only moves back: bytes after it are sent anyway. */
static void cl__on_replay(struct cl__sess *s, const struct cl_msg *m)
{
    uint64_t to = m->offset < s->sent ? m->offset : s->sent;

    if (to < s->ring.start)
        to = s->ring.start;
    cl_debug("session", "replay", "session=%s asked=%llu from=%llu sent=%llu end=%llu", s->id,
             (unsigned long long)m->offset, (unsigned long long)to, (unsigned long long)s->sent,
             (unsigned long long)s->ring.end);
    s->sent = to;
    cl__pump(s);
    cl__update_poll(s);
    cl__maybe_finish(s); /* an exited session waiting for its tail */
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
        /* The relay believes the session exists (a re-attach after we lost
         * it): tell it, so its viewers are not left waiting. */
        if (m->type == CL_MSG_REPLAY)
            cl__send_end(ss, m->session_id, cl_end_reason_name(CL_END_UNKNOWN_SESSION), false, 0);
        return;
    }
    switch (m->type) {
    case CL_MSG_STDIN:
        if (s->master >= 0 && !s->eof && !s->hangup && m->data_len) {
            cl__input(s, m->data, m->data_len);
        } else if (m->data_len) {
            s->in_written += m->data_len; /* nobody to write to: consumed */
            cl__stdin_ack(s, true);
        }
        /* Someone is typing: whatever the last ack said, not idle. */
        if (s->viewers == 0 && !s->hangup)
            cl__idle_start(s);
        break;
    case CL_MSG_RESIZE:
        cl__set_size(s, m->cols, m->rows);
        break;
    case CL_MSG_SESSION_END:
        cl_info("session", "session ended by relay", "session=%s reason=%s", s->id,
                m->reason[0] ? m->reason : "-");
        cl__hangup(s, cl_end_reason_name(CL_END_HANGUP));
        break;
    case CL_MSG_ACK:
        cl__on_ack(s, m);
        break;
    case CL_MSG_REPLAY:
        cl__on_replay(s, m);
        break;
    default:
        break;
    }
}

/* ---- child exits ------------------------------------------------------ */

static void cl__on_drain_timer(uv_timer_t *t)
{
    struct cl__sess *s = t->data;
    if (s->ended || s->eof)
        return;
    if (cl__read_room(s) == 0) {
        /* Output is paused (flow control), not finished: keep waiting. */
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
        cl__maybe_finish(s);
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
                          const struct cl_agent_session_opts *opts, struct cl_agent_sessions **out,
                          char *err, size_t errlen)
{
    struct cl_agent_sessions *ss;
    char copy[PATH_MAX];

    *out = NULL;
    if (!shell || shell[0] != '/' || strlen(shell) >= sizeof ss->shell)
        return cl_seterr(err, errlen, CL_EINVAL, "shell must be an absolute path");
    if (access(shell, X_OK) != 0)
        return cl_seterr(err, errlen, CL_EINVAL, "shell %s is not executable: %s", shell,
                         strerror(errno));
    if (opts->ring_size < CL_RING_MIN || opts->ring_size > CL_RING_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "ring size must be %d to %d bytes", CL_RING_MIN,
                         CL_RING_MAX);
    if (opts->window < CL_AGENT_WINDOW_MIN || opts->window > opts->ring_size)
        return cl_seterr(err, errlen, CL_EINVAL, "window must be %d bytes to the ring size",
                         CL_AGENT_WINDOW_MIN);
    if (opts->window_max && (opts->window_max < opts->window || opts->window_max > CL_RING_MAX))
        return cl_seterr(err, errlen, CL_EINVAL, "window max must be the window to %d bytes",
                         CL_RING_MAX);
    if (opts->idle_grace_s > CL_AGENT_IDLE_GRACE_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "idle grace must be at most %d seconds",
                         CL_AGENT_IDLE_GRACE_MAX);
    ss = calloc(1, sizeof *ss);
    if (!ss)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    if (cl_shellenv_build(shell, opts->pass_env, environ, &ss->envp, err, errlen) != 0) {
        free(ss);
        return CL_EINVAL;
    }
    ss->opts = *opts;
    ss->loop = loop;
    ss->link = link;
    snprintf(ss->shell, sizeof ss->shell, "%s", shell);
    snprintf(copy, sizeof copy, "%s", shell);
    snprintf(ss->argv0, sizeof ss->argv0, "-%s", basename(copy));
    uv_signal_init(loop, &ss->sigchld);
    ss->sigchld.data = ss;
    uv_signal_start(&ss->sigchld, cl__on_sigchld, SIGCHLD);
    uv_timer_init(loop, &ss->title_timer);
    ss->title_timer.data = ss;
    {
        /* the shells' HOME (where they start), shown as ~ */
        const char *home = cl_shellenv_get(ss->envp, "HOME");
        snprintf(ss->home, sizeof ss->home, "%s", home ? home : "");
        /* "/home/u/" and "/home/u" are the same home */
        while (strlen(ss->home) > 1 && ss->home[strlen(ss->home) - 1] == '/')
            ss->home[strlen(ss->home) - 1] = '\0';
    }
    *out = ss;
    return 0;
}

void cl_agent_sessions_on_flow(struct cl_agent_sessions *ss)
{
    struct cl__sess *s, *tmp;
    bool up = cl_agent_link_ready(ss->link), progress;

    if (up != ss->link_up) {
        ss->link_up = up;
        /* a new connection (maybe to a restarted relay) hears every
         * title, and its round trips are measured afresh (probes out on
         * the old one would time the reconnect) */
        ss->min_rtt_ns = 0;
        HASH_ITER(hh, ss->by_id, s, tmp)
        {
            s->title_sent = false;
            s->probes = 0;
            s->min_rtt_ns = 0;
        }
        cl_debug("session", up ? "link up: sending output" : "link down: output kept in rings",
                 "sessions=%zu queued=%zu", ss->count, cl_agent_link_queued(ss->link));
    }
    /* One frame per session per round, and each round starts after the
     * session the last one stopped at, so no session is always first to
     * the room the link has (with 50 busy sessions, a fixed start left the
     * last ones with nothing at all). */
    do {
        struct cl__sess *start = ss->rr ? ss->rr : ss->by_id;
        progress = false;
        s = start;
        for (size_t i = 0; s && i < ss->count; i++) {
            struct cl__sess *next = s->hh.next ? s->hh.next : ss->by_id;
            if (!cl_agent_link_can_accept(ss->link)) {
                ss->rr = s; /* this one goes first next time */
                break;
            }
            if (cl__pump_one(s))
                progress = true;
            s = next;
            ss->rr = next;
        }
    } while (progress && cl_agent_link_can_accept(ss->link));
    HASH_ITER(hh, ss->by_id, s, tmp)
    {
        cl__update_poll(s);
        cl__maybe_finish(s); /* may retire s: HASH_ITER allows that */
    }
}

size_t cl_agent_sessions_announce(struct cl_agent_sessions *ss, struct cl_msg_session *out,
                                  size_t cap)
{
    struct cl__sess *s;
    size_t n = 0;

    for (s = ss->by_id; s && n < cap; s = s->hh.next, n++) {
        snprintf(out[n].session_id, sizeof out[n].session_id, "%s", s->id);
        out[n].offset = s->ring.end;
        out[n].acked = s->acked;
        out[n].viewers = s->viewers;
        out[n].stdin_acked = s->in_written;
        out[n].stdin_pending = s->pending_len;
        s->in_ack_sent = s->in_written; /* the new relay starts from here */
    }
    return n;
}

void cl_agent_sessions_hangup_all(struct cl_agent_sessions *ss)
{
    struct cl__sess *s, *tmp;
    HASH_ITER(hh, ss->by_id, s, tmp)
    cl__hangup(s, cl_end_reason_name(CL_END_HANGUP));
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
    uv_timer_stop(&ss->title_timer);
    uv_close((uv_handle_t *)&ss->title_timer, NULL);
}

void cl_agent_sessions_free(struct cl_agent_sessions *ss)
{
    if (ss) {
        cl_shellenv_free(ss->envp);
        while (ss->free_lends) {
            struct cl__lend *j = ss->free_lends;
            ss->free_lends = j->next_free;
            free(j);
        }
    }
    free(ss);
}

void cl_agent_sessions_output_dropped(struct cl_agent_sessions *ss, void *owner,
                                      uint64_t start_offset)
{
    struct cl__sess *s = owner;
    (void)ss;
    if (start_offset < s->sent) {
        cl_debug("session", "queued output dropped with the connection; will resend",
                 "session=%s from=%llu sent=%llu", s->id, (unsigned long long)start_offset,
                 (unsigned long long)s->sent);
        s->sent = start_offset;
    }
}
