/*
 * limits: every bound a peer can push against, named in one place.
 * Each is documented in docs/protocol.md (wire limits) or docs/api.md
 * (HTTP limits) with the error a peer sees when it hits it.
 */
#ifndef CL_LIMITS_H
#define CL_LIMITS_H

/* Largest WebSocket message (after reassembly of fragments) either binary
 * accepts. Over it: close 1009 "message too big". */
#define CL_WS_MAX_MESSAGE (1024 * 1024)

/* Binary stdin the relay re-encodes as JSON for a v1 agent goes in pieces
 * of at most this many input bytes (about 64 KiB of base64 each), so no
 * message it builds can pass CL_WS_MAX_MESSAGE. */
#define CL_RELAY_STDIN_PIECE (48 * 1024)

/* Input flow control (docs/protocol.md, "Input flow control"): input is
 * never cut and never dropped once accepted.
 *  - CL_AGENT_STDIN_WINDOW: stdin the agent holds for a PTY that does not
 *    read; it grants the relay this window per session (hello
 *    stdin_window) and reports what it wrote (stdin_ack), so the relay
 *    never sends more and the agent never drops input.
 *  - CL_STDIN_ACK_STEP: stdin_ack is sent when this much more was written,
 *    or when a backlog has drained (typing costs no extra messages).
 *  - CL_RELAY_STDIN_QUEUE_MAX: input the relay holds per session beyond
 *    the agent's window, shared by its viewers; a stdin message that does
 *    not fit whole is refused whole (error input_busy), none of it sent.
 *  - CL_RELAY_STDIN_VIEWER_WINDOW: the input window the relay grants a
 *    v2 browser (auth_ok stdin_window); it acknowledges the browser's input
 *    as it passes it on. Each viewer may always have messages costing
 *    CL_RELAY_STDIN_VIEWER_COST waiting, whatever the others queued (a
 *    message costs its bytes + 64, relay/inq.h: twice the window holds a
 *    window of input even in 64-byte messages), so a browser that keeps to
 *    its window is never refused. The queue's own limit counts cost too.
 *  - CL_STDIN_WINDOW_MAX: the largest stdin_window accepted on the wire. */
#define CL_AGENT_STDIN_WINDOW        (256 * 1024)
#define CL_STDIN_ACK_STEP            (64 * 1024)
#define CL_RELAY_STDIN_QUEUE_MAX     (4 * 1024 * 1024)
#define CL_RELAY_STDIN_VIEWER_WINDOW (1024 * 1024)
#define CL_RELAY_STDIN_VIEWER_COST   (2 * CL_RELAY_STDIN_VIEWER_WINDOW)
#define CL_STDIN_WINDOW_MAX          (64 * 1024 * 1024)

/* Bytes queued for one WebSocket peer before the relay gives up on it
 * (close 1008 "send queue overflow"). The agent instead stops queueing
 * output while its own queue to the relay is over CL_AGENT_SENDQ_HIGH, and
 * stops reading a PTY once CL_AGENT_UNSENT_MAX of its output waits in the
 * ring: little waits in front of a keystroke's echo, and the sessions
 * share the link in turn (decisions.md). */
#define CL_WS_SENDQ_MAX     (8 * 1024 * 1024)
#define CL_AGENT_SENDQ_HIGH (256 * 1024)
#define CL_AGENT_UNSENT_MAX (256 * 1024)
/* Bytes of ring all of an agent's sessions may add beyond --ring-size
 * when their flow-control windows grow on long links (session.h,
 * --window-max): a window is not grown past what the ring can hold once
 * this is spent. Given back when a session ends. */
#define CL_AGENT_WINDOW_BUDGET (64 * 1024 * 1024)
/* A session with at most this much unsent output queues it ahead of other
 * sessions' bulk output (an echo does not wait behind a flood). */
#define CL_AGENT_URGENT_MAX (8 * 1024)

/* Bytes the kernel may hold beyond what the agent link has put on the wire
 * (TCP_NOTSENT_LOWAT on the agent's socket to the relay). Output beyond it
 * waits in the agent's own queue, where an echo goes ahead of bulk
 * (CL_AGENT_URGENT_MAX); in the kernel it would be in the echo's way. */
#define CL_AGENT_NOTSENT_LOWAT (16 * 1024)

/* The receive window the relay advertises on an agent's connection: the
 * link's bandwidth-delay product for CL_LINK_RATE at the RTT the kernel
 * measures (TCP_INFO), never below CL_LINK_RCV_WINDOW_MIN, re-applied as
 * the agent's messages arrive (core/sockinfo.h). On loopback or a LAN this
 * keeps what is queued ahead of an echo to a few milliseconds' worth; at
 * 20 ms the window is 2.5 MB and from ~50 ms on it is past the kernel's own
 * limit (tcp_rmem), so a long link is not capped by it (decisions.md, 59). */
#define CL_LINK_RATE           (125 * 1000 * 1000)
#define CL_LINK_RCV_WINDOW_MIN (128 * 1024)
/* Only a piece of an agent's message at least this long re-applies the
 * clamp: bulk output comes in frames of up to 64 KiB, while an idle
 * agent's pongs and heartbeats would each pay a TCP_INFO for nothing
 * (with 10,000 idle agents, a fifth of the relay's system calls). */
#define CL_LINK_RCV_CLAMP_MIN 4096
/* Up to this window the receive buffer would be fixed to it (SO_RCVBUF),
 * so that the kernel's autotuning cannot grow the window past the clamp
 * between two re-applications. 0: never. Measured on the 2-core machine
 * (2026-12-07, back to back): fixing it at 128 KiB cost the relay 25-30%
 * of its forwarding per CPU-second (bench forward: 733-892 MB per CPU-s
 * against 978-1,206 unfixed), and the loaded echo was the same either way
 * (p50 2.2 ms, p99 4.9-5.5 ms fixed; 2.2 / 5.0 ms unfixed): the clamp
 * re-applied once per loop millisecond is enough. */
#define CL_LINK_RCV_LOCK_MAX 0

/* Bytes queued in the relay towards one viewer before it is "lagging": it
 * then receives nothing until its queue drains, and catches up by replay
 * from the agent's ring (or a gap notice). Never stalls other viewers. */
#define CL_VIEWER_QUEUE_MAX (2 * 1024 * 1024)

/* The relay tells the agent about viewer acknowledgements in steps of at
 * least this many bytes (or when the viewer count changes). */
#define CL_ACK_STEP (32 * 1024)

/* A viewer that has caught up with everything produced is reported to the
 * agent this long after it caught up, not at once: a keystroke's echo then
 * wakes the agent once (to send it), not twice (to hear it was seen). */
#define CL_ACK_DELAY_MS 20

/* Largest HTTP request body the API reads. Over it: 413 body_too_large. */
#define CL_HTTP_MAX_BODY (64 * 1024)

/* PTY read size: one read, one stdout message. */
#define CL_PTY_READ_CHUNK (64 * 1024)
/* What a terminal hands over per read (the line discipline's buffer): a
 * PTY that fills it has bulk output and is read after the others. */
#define CL_PTY_TTY_BUFFER (4 * 1024)
/* Busy PTYs read at once on the agent's worker threads (libuv's pool),
 * each read at most CL_PTY_READ_CHUNK (cl__bulk_dispatch): the loop
 * thread keeps echoes, input and sending, and never reads a busy PTY.
 * One, on the 2-core machine (2026-12-07, two pairs with 50 busy
 * sessions): loaded echo p50 397-497 us and p99 3.4-3.8 ms against
 * 952 us and 5.6-7.1 ms with two at once, for 10-15% less bulk output
 * (51-53 against 57-63 MB/s): a second reader takes the core the loop
 * and the shells need. */
#define CL_AGENT_BULK_JOBS 1

/* libwebsockets' receive buffer for the agent's one connection: a whole
 * output chunk with its header, JSON or binary, arrives in one callback. */
#define CL_WS_RX_BUFFER (CL_PTY_READ_CHUNK + 1024)

/* libwebsockets' receive buffer per relay connection, and the most lws
 * reads from a socket in one recv(): a whole output chunk (v2 frame, or a
 * v1 message of one base64'd chunk) in one read and one callback. Every
 * connection has one; the relay has malloc serve allocations of this size
 * and more with their own mappings (M_MMAP_THRESHOLD, main.c), so an idle
 * connection keeps only the one page it touched resident, not the whole
 * buffer (decisions.md, 33). */
#define CL_RELAY_RX_BUFFER (96 * 1024)
/* The relay's per-thread read buffer (lws pt_serv_buf_size): at least
 * CL_RELAY_RX_BUFFER and lws's headroom; one for the process. */
#define CL_RELAY_SERV_BUFFER (128 * 1024)
/* The most lws writes to a relay socket in one send(). lws's default is
 * the receive buffer size; a chunk for several viewers goes out whole. */
#define CL_RELAY_TX_PACKET (256 * 1024)
/* HTTP requests (API calls, WebSocket upgrades) whose headers the relay
 * holds at once, about 4.5 KiB each. More wait in the kernel's accept
 * queue (its default length is the same number), so a connect storm
 * costs at most ~18 MiB of header memory instead of 4.5 KiB for every
 * connection in flight (decisions.md, 33). */
#define CL_RELAY_HEADER_POOL 4096
/* --trusted-proxy (src/relay/proxy.c): at most CL_RELAY_TRUSTED_PROXIES_MAX
 * addresses or networks (more stops the relay at start, exit 2); an
 * X-Forwarded-For header is read whole up to CL_RELAY_XFF_MAX bytes (all
 * of a request's headers fit lws's 4 KiB per request, so any it took fits;
 * the client's address is the header's rightmost part, never cut off). */
#define CL_RELAY_TRUSTED_PROXIES_MAX 16
#define CL_RELAY_XFF_MAX             4096

/* Concurrent PTY sessions one agent serves. Over it: session_end
 * reason "limit". */
#define CL_AGENT_MAX_SESSIONS 64

/* Open (active) sessions the relay lets start-session make per device and
 * per user (409 too_many_sessions): each is a row kept until it ends, and
 * one account could otherwise make thousands a second. */
#define CL_SESSIONS_PER_DEVICE CL_AGENT_MAX_SESSIONS
#define CL_SESSIONS_PER_USER   128

/* Terminal size bounds accepted in session_start / resize. */
#define CL_TERM_MAX_COLS 1000
#define CL_TERM_MAX_ROWS 1000

/* Field sizes. */
#define CL_UUID_LEN     36
#define CL_ID_MAX       64  /* ids on the wire: uuid or PrivaClaw-style */
#define CL_TOKEN_MAX    128 /* any bearer or device token */
#define CL_NAME_MAX     128 /* device, project, display names (bytes) */
#define CL_EMAIL_MAX    254
#define CL_PASSWORD_MIN 8
#define CL_PASSWORD_MAX 1024
#define CL_REASON_MAX   64
#define CL_URL_MAX      1024
/* --store URL (relay/store.c): longer ones are refused at start */
#define CL_STORE_URL_MAX 1024
/* The PostgreSQL store (relay/store_pg.c) talks to its server on the event
 * loop, synchronously (decisions 71): how long connecting may take, and
 * how long sent data may stay unacknowledged before the connection is
 * given up (libpq's connect_timeout and tcp_user_timeout; the URL's own
 * settings win). A lost connection fails the op with CL_EUNAVAIL. */
#define CL_STORE_PG_CONNECT_TIMEOUT_S 5
#define CL_STORE_PG_TCP_TIMEOUT_MS    10000
/* after a failed dial, ops fail at once (CL_EUNAVAIL) for this long rather
 * than each waiting up to the connect timeout on the loop */
#define CL_STORE_PG_REDIAL_MS 1000
/* Retry-After of the API's 503 while the store's database is unreachable */
#define CL_STORE_UNAVAIL_RETRY_S 2

/* Devices: what kind of agent dials in (issue 6 adds OpenClaw nodes). */
#define CL_DEVICE_KIND_MAX       16
#define CL_DEVICE_KIND_CONNECTOR "connector"
#define CL_DEVICE_KIND_OPENCLAW  "openclaw"

/* What a device tells about itself (docs/protocol.md, "Device
 * information"): hello's data.meta beyond name and kind, and meta_update's
 * data. The object as received must fit CL_DEVICE_META_MAX bytes of
 * compact JSON (over it: error bad_message; a hello is refused and
 * closed); of it the first CL_DEVICE_META_FIELDS fields whose key is 1..
 * CL_DEVICE_META_KEY_MAX of [A-Za-z0-9_.-] and whose value is a number or
 * a string of at most CL_DEVICE_META_VALUE_MAX bytes without control
 * characters are kept; anything else is dropped. */
#define CL_DEVICE_META_MAX       8192
#define CL_DEVICE_META_FIELDS    32
#define CL_DEVICE_META_KEY_MAX   64
#define CL_DEVICE_META_VALUE_MAX 256
/* The address a device connects from, as the relay saw it (IPv6 text). */
#define CL_ADDR_MAX 64
/* A device that comes back within this many seconds of going offline keeps
 * its "online since" time (a reconnect, not a new stay online). */
#define CL_DEVICE_ONLINE_GAP_S 120

/* Bad or unknown messages from one connection logged at info; later ones
 * at debug, so a peer cannot flood the log. */
#define CL_BAD_MSG_LOG_MAX 10

/* OpenClaw nodes (docs/openclaw.md): the largest prompt, one streamed
 * token's content, a workflow's params or a request's result (compact JSON
 * text), and a session key or workflow name, in bytes. */
#define CL_NODE_PROMPT_MAX (32 * 1024)
#define CL_NODE_TEXT_MAX   (64 * 1024)
#define CL_NODE_JSON_MAX   (256 * 1024)
#define CL_NODE_KEY_MAX    128

/* Sessions' labels: the automatic title an agent reports (session_title:
 * a longer one is a bad_message) and the name a user gives (PATCH
 * /api/v1/sessions/{id}: 400 invalid_request), in bytes of UTF-8. */
#define CL_SESSION_TITLE_MAX 128
#define CL_SESSION_NAME_MAX  64
/* The agent looks at what runs in its live sessions this often (ms), and
 * the relay stores a session's title at most this often (ms; the newest
 * is kept in memory and stored at the next chance or at the end). */
#define CL_SESSION_TITLE_POLL_MS  2000
#define CL_SESSION_TITLE_STORE_MS 1000

/* Session history pages (GET /api/v1/projects/{id}/sessions?limit=). */
#define CL_SESSION_PAGE_DEFAULT 50
#define CL_SESSION_PAGE_MAX     200

/* Pairing codes: length, lifetime, attempts. */
#define CL_PAIRING_CODE_LEN   8
#define CL_PAIRING_CODE_TTL_S (15 * 60)
/* Failed pairing attempts (pair-device, the installer's download: a code
 * that is malformed, unknown, used or expired), counted after the fact so
 * a correct code never uses any up (docs/security.md "Pairing codes", with
 * the guessing odds):
 * - per client address (an IPv6 /64), CL_PAIR_FAILS_PER_ADDR per
 *   CL_PAIR_RATE_WINDOW_S; then 429 rate_limited with Retry-After;
 * - per code (attempts naming the same code that did not pair it, refused
 *   ones included), CL_PAIR_FAILS_PER_CODE per code lifetime; then the
 *   code is voided: 410 code_voided, its owner makes a new one;
 * - relay-wide, CL_PAIR_FAILS_GLOBAL per CL_PAIR_RATE_WINDOW_S: over it
 *   only addresses without a failure in their window may try (429
 *   rate_limited for the others), so a flood slows guessing but never
 *   stops a correct code from a clean address. */
#define CL_PAIR_RATE_WINDOW_S  60
#define CL_PAIR_FAILS_PER_ADDR 10
#define CL_PAIR_FAILS_PER_CODE 5
#define CL_PAIR_FAILS_GLOBAL   300

/* User API tokens live this long (sliding not implemented: re-login). */
#define CL_USER_TOKEN_TTL_S (30 * 24 * 3600)

/* Accounts (docs/api.md "Accounts"). A profile's avatar_url is empty or
 * an https:// URL of at most this many bytes. */
#define CL_AVATAR_URL_MAX 1024
/* A password reset token is valid this long, and used once. A new request
 * leaves the earlier links valid; at most CL_RESET_LINKS_MAX are live per
 * account (a request beyond it sends no mail and answers as ever, 202),
 * and setting a password (reset or change) voids them all. */
#define CL_RESET_TOKEN_TTL_S (30 * 60)
#define CL_RESET_LINKS_MAX   5
/* Email verification (docs/security.md "Email verification"): a link is
 * valid this long and used once; a user may ask for at most
 * CL_VERIFY_SEND_PER_USER links (sign-up's included) per
 * CL_VERIFY_SEND_WINDOW_S, beyond which 429 rate_limited; the link's page
 * may try at most CL_VERIFY_CONFIRM_PER_ADDR tokens per address a minute. */
#define CL_VERIFY_TOKEN_TTL_S      (24 * 3600)
#define CL_VERIFY_SEND_PER_USER    5
#define CL_VERIFY_SEND_WINDOW_S    (60 * 60)
#define CL_VERIFY_CONFIRM_PER_ADDR 60
/* invite-member (finding 6): per inviter and per project, at most this
 * many invitations per CL_INVITE_RATE_WINDOW_S (429 rate_limited with
 * Retry-After), and at most CL_INVITATIONS_PENDING_MAX pending invitations
 * per project (409 too_many_invitations; --max-pending-invitations). */
#define CL_INVITE_RATE_WINDOW_S    (60 * 60)
#define CL_INVITE_RATE_PER_USER    30
#define CL_INVITE_RATE_PER_PROJECT 20
#define CL_INVITATIONS_PENDING_MAX 50
/* A token's last_used is written at most once per this many seconds, so
 * authenticated requests do not each cost a database write. */
#define CL_TOKEN_TOUCH_S 60

/* Attempts answered 429 rate_limited with Retry-After beyond these
 * (relay/accounts.h, docs/api.md "Rate limits"), in fixed windows of
 * CL_AUTH_RATE_WINDOW_S (reset's account limits: their own window):
 * - _PER_ADDR: per client address (an IPv6 address by its /64);
 * - _PER_ADDR_ACCOUNT: per address and account (the email asked about):
 *   a stranger using it up does not touch the owner at another address;
 * - _PER_ACCOUNT: all addresses together, a ceiling on distributed
 *   guessing; over it only an address that has not tried this account in
 *   its window may try, so it slows a stranger and never locks the owner
 *   out. */
#define CL_AUTH_RATE_WINDOW_S           60
#define CL_LOGIN_RATE_PER_ADDR          30
#define CL_LOGIN_RATE_PER_ADDR_ACCOUNT  10
#define CL_LOGIN_RATE_PER_ACCOUNT       100
#define CL_SIGNUP_RATE_PER_ADDR         10
#define CL_SIGNUP_RATE_PER_ADDR_ACCOUNT 5
#define CL_SIGNUP_RATE_PER_ACCOUNT      20
#define CL_RESET_RATE_PER_ADDR          10 /* request and confirm together */
#define CL_RESET_RATE_PER_ADDR_ACCOUNT  3
#define CL_RESET_RATE_PER_ACCOUNT       20
#define CL_RESET_ACCOUNT_WINDOW_S       (15 * 60)

/* Connections one client address may hold (--max-conns-per-addr; over it
 * the relay closes new ones at once), WebSockets of one address that have
 * not authenticated yet, how long one may take to (close 1008
 * "authentication timeout"), and file descriptors the relay keeps for
 * itself under its file limit (database, logs, mail): connections past
 * the limit less this are closed at once rather than failing accept(). */
#define CL_RELAY_CONN_PER_ADDR      256
#define CL_RELAY_UNAUTH_WS_PER_ADDR 32
#define CL_RELAY_AUTH_DEADLINE_S    10
#define CL_RELAY_FD_RESERVE         64

/* GET /healthz answers 503 "files" while the relay is out of file
 * descriptors: fewer than CL_RELAY_HEALTH_FD_SPARE left under its limit,
 * every connection slot taken, or a connection refused because the relay
 * was full within the last CL_RELAY_HEALTH_FULL_RECENT_S seconds. The open
 * files are counted at most once per CL_RELAY_HEALTH_FD_COUNT_MS. */
#define CL_RELAY_HEALTH_FD_SPARE      16
#define CL_RELAY_HEALTH_FULL_RECENT_S 10
#define CL_RELAY_HEALTH_FD_COUNT_MS   1000
/* The metrics scraper's bearer token (--metrics-token-file): at least
 * CL_METRICS_TOKEN_MIN bytes, at most CL_TOKEN_MAX; a file outside these
 * stops the relay at start-up ("metrics token in FILE must be 32 to 128
 * bytes without spaces"). */
#define CL_METRICS_TOKEN_MIN 32

/* The relay's TLS 1.2 ciphers: ECDHE with AES-GCM or ChaCha20-Poly1305
 * (Mozilla's "intermediate" list). A client offering none of them, or a
 * version below 1.2, fails the handshake. */
#define CL_RELAY_TLS12_CIPHERS                                                                     \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* The chat family on the wire (core/proto_chat.c, docs/protocol.md
 * "Chat"): a chat_request's path (below the chat API's root, starting
 * with "/") and raw query string, and a chat_event's name. Longer is a
 * malformed message. The whole frame is bounded by CL_WS_MAX_MESSAGE;
 * CL_CHAT_FRAME_MAX is what an agent lets one chat_response or chat_event
 * grow to, so it always fits. */
#define CL_CHAT_PATH_MAX  1024
#define CL_CHAT_QSTR_MAX  2048
#define CL_CHAT_EVENT_MAX 32
#define CL_CHAT_FRAME_MAX (CL_WS_MAX_MESSAGE - 4096)

/* The chat API through the relay (src/relay/chat.c, api_chat.c; docs/chat.md
 * "Through the relay"). A request's JSON body is bounded by CL_HTTP_MAX_BODY
 * like every API body (413 body_too_large).
 *  - CL_CHAT_RELAY_MAX_PENDING: chat requests in flight per device, streams
 *    included; one more is 429 busy (Retry-After 1).
 *  - CL_CHAT_RELAY_ANSWER_MS: how long a request waits for the agent's
 *    first word (its chat_response or first chat_event); then 504 timeout
 *    and the agent gets chat_cancel.
 *  - CL_CHAT_RELAY_STREAM_IDLE_MS: a stream with no event for this long ends
 *    with an SSE `error` {code "timeout"} and chat_cancel (GET /events
 *    pings every 15 s; a reply may think a while between deltas).
 *  - CL_CHAT_RELAY_KEEPALIVE_MS: a stream quiet this long gets an SSE
 *    comment (":"), so a caller that left is noticed (the write fails:
 *    chat_cancel) and proxies do not cut a reply that is thinking.
 * A caller that does not read its stream is cut when CL_HTTP_STREAM_MAX
 * bytes wait for it (the connection closes, the agent gets chat_cancel). */
#define CL_CHAT_RELAY_MAX_PENDING    16
#define CL_CHAT_RELAY_ANSWER_MS      30000
#define CL_CHAT_RELAY_STREAM_IDLE_MS 120000
#define CL_CHAT_RELAY_KEEPALIVE_MS   15000

/* The agent's loopback chat door (src/agent/chat_http.c, `clawlink up
 * --chat-listen 127.0.0.1:PORT`; docs/chat.md "On loopback").
 *  - CL_CHAT_HTTP_MAX_BODY: a request's JSON body (413 body_too_large).
 *  - CL_CHAT_HTTP_MAX_CONNS: connections that sent a request and are
 *    open; one more is answered 503 too_many_connections and closed.
 *  - CL_CHAT_HTTP_HEADER_MAX: a request's headers, all together (the lws
 *    context's header buffer; over it lws drops the connection).
 *  - CL_CHAT_HTTP_STREAM_MAX: bytes of a stream waiting for a caller that
 *    does not read; over it the stream is cut (connection closed, the call
 *    cancelled).
 *  - CL_CHAT_HTTP_KEEPALIVE_MS: a stream quiet this long gets a ":" line.
 *  - CL_CHAT_TOKEN_MIN / CL_TOKEN_MAX: the bearer token's length (the
 *    agent refuses to start the door with a shorter one). */
#define CL_CHAT_HTTP_MAX_BODY     (64 * 1024)
#define CL_CHAT_HTTP_MAX_CONNS    16
#define CL_CHAT_HTTP_HEADER_MAX   4096
#define CL_CHAT_HTTP_STREAM_MAX   (1024 * 1024)
#define CL_CHAT_HTTP_KEEPALIVE_MS 15000
#define CL_CHAT_TOKEN_MIN         16

/* The agent's chat store (src/agent/chat_store.c), all in bytes. A value
 * over its limit is refused whole, never cut: CL_ELIMIT, and nothing is
 * written. An empty value where one is required is CL_EINVAL.
 *  - CL_CHAT_MESSAGE_MAX: a message's Markdown text, also after appending
 *    a streaming delta (CL_ELIMIT; the message keeps its text so far).
 *  - CL_CHAT_JSON_MAX: a message's tool calls or usage JSON.
 *  - CL_CHAT_KEY_MAX: a session key, gateway message id, run id, sender.
 *  - CL_CHAT_ROLE_MAX: a message role ("user", "assistant", ...).
 *  - CL_CHAT_TITLE_MAX: a thread title; CL_NAME_MAX for workspace names.
 *  - CL_CHAT_FOLDER_MAX: a workspace's folder path.
 *  - CL_CHAT_NOTE_MAX / CL_CHAT_TAGS_MAX: a memory note and its tags.
 *  - CL_CHAT_QUERY_MAX: a search query as typed.
 *  - CL_CHAT_PAGE_MAX: rows one list call returns (a larger limit is
 *    clamped to it); CL_CHAT_SEARCH_MAX: hits one search returns.
 *  - CL_CHAT_ATTACH_NAME_MAX / CL_CHAT_MIME_MAX: an attachment's name and
 *    type. */
#define CL_CHAT_MESSAGE_MAX     (1024 * 1024)
#define CL_CHAT_JSON_MAX        (256 * 1024)
#define CL_CHAT_KEY_MAX         256
#define CL_CHAT_ROLE_MAX        32
#define CL_CHAT_TITLE_MAX       256
#define CL_CHAT_FOLDER_MAX      4096
#define CL_CHAT_NOTE_MAX        (16 * 1024)
#define CL_CHAT_TAGS_MAX        256
#define CL_CHAT_QUERY_MAX       256
#define CL_CHAT_PAGE_MAX        200
#define CL_CHAT_SEARCH_MAX      50
#define CL_CHAT_ATTACH_NAME_MAX 255
#define CL_CHAT_MIME_MAX        128
/* Attachments of one message sent (docs/chat.md "Attachments"): how many
 * (413 too_large) and their bytes together (413 too_large): chat.send
 * carries them base64 in one frame to the gateway, within the agent's
 * gateway send queue (CL_GW_SENDQ_MAX, 4 MiB) and far below the gateway's
 * own limits (25 MiB frames, 20 MiB files, 6 MiB images). */
#define CL_CHAT_ATTACH_COUNT_MAX 4
#define CL_CHAT_ATTACH_MAX       (2 * 1024 * 1024)
/* The chat API's files (src/agent/files.c, chat_files.c; docs/chat.md
 * "Files"). Paths are refused whole, never cut.
 *  - CL_FILES_PATH_MAX: a path as asked and as normalized (400 bad_path).
 *  - CL_FILES_NAME_MAX: one component (the kernel's NAME_MAX; 400 bad_path).
 *  - CL_FILES_DEPTH_MAX: components in a path (400 bad_path).
 *  - CL_FILES_ROOTS_MAX: read roots in the agent config.
 *  - CL_FILES_SYMLINKS_MAX: symbolic links followed in one resolution
 *    when the kernel has no openat2 (the kernel's own limit is 40).
 *  - CL_FILES_LIST_MAX: entries one listing answers (truncated: true).
 *  - CL_FILES_CHUNK_MAX: bytes one download chunk answers (its base64 in
 *    JSON stays within CL_CHAT_FRAME_MAX).
 *  - CL_FILES_UPLOAD_CHUNK: decoded bytes of one upload chunk (its base64
 *    in a JSON body stays within CL_HTTP_MAX_BODY and
 *    CL_CHAT_HTTP_MAX_BODY; 413 chunk_too_large).
 *  - CL_FILES_UPLOAD_MAX: one uploaded file (413 upload_too_large; the
 *    upload is abandoned).
 *  - CL_FILES_UPLOADS_MAX: uploads in progress at once (429
 *    too_many_uploads); CL_FILES_UPLOAD_IDLE_MS: an upload with no chunk
 *    for this long is abandoned (its temporary file removed). */
#define CL_FILES_PATH_MAX       4096
#define CL_FILES_NAME_MAX       255
#define CL_FILES_DEPTH_MAX      64
#define CL_FILES_ROOTS_MAX      16
#define CL_FILES_SYMLINKS_MAX   40
#define CL_FILES_LIST_MAX       1000
#define CL_FILES_CHUNK_MAX      (512 * 1024)
#define CL_FILES_UPLOAD_CHUNK   (40 * 1024)
#define CL_FILES_UPLOAD_MAX     (64 * 1024 * 1024)
#define CL_FILES_UPLOADS_MAX    8
#define CL_FILES_UPLOAD_IDLE_MS (10 * 60 * 1000)
/* The gateway's chat.history delta cursor the chat store keeps per thread
 * (base64 JSON, about 150 bytes in 2026.9.6); a longer one is not kept
 * and the next catch-up reads pages. */
#define CL_CHAT_CURSOR_MAX 1024
/* The OpenClaw gateway's chat shapes (src/agent/chat_gw.c): ids (message
 * ids, run ids, idempotency keys, session ids) and session keys, roles,
 * short names (stop reasons, error kinds, phases), one message's text,
 * its tool calls or usage as JSON, the delta cursor, and messages in one
 * `chat.history` answer (the gateway's own maximum is 1000). The sizes
 * are the chat store's (defined as CL_CHAT_KEY_MAX, CL_CHAT_ROLE_MAX,
 * CL_CHAT_MESSAGE_MAX, CL_CHAT_JSON_MAX), so what is read can be stored.
 * Over a limit the value is refused (CL_EINVAL, "<field> is too long");
 * in a history answer only that entry is skipped and counted. */
#define CL_CHAT_GW_ID_MAX      CL_CHAT_KEY_MAX
#define CL_CHAT_GW_KEY_MAX     CL_CHAT_KEY_MAX
#define CL_CHAT_GW_ROLE_MAX    CL_CHAT_ROLE_MAX
#define CL_CHAT_GW_NAME_MAX    64
#define CL_CHAT_GW_TEXT_MAX    CL_CHAT_MESSAGE_MAX
#define CL_CHAT_GW_JSON_MAX    CL_CHAT_JSON_MAX
#define CL_CHAT_GW_CURSOR_MAX  4096
#define CL_CHAT_GW_HISTORY_MAX 1000

/* The PostgreSQL memory provider (src/agent/memory_pg.c, docs/chat.md
 * "Memory providers"); its notes, tags and queries have the chat store's
 * limits (CL_CHAT_NOTE_MAX, CL_CHAT_TAGS_MAX, CL_CHAT_QUERY_MAX,
 * CL_CHAT_PAGE_MAX, CL_CHAT_SEARCH_MAX).
 *  - CL_MEMORY_PG_QUEUE_MAX: operations waiting or running on its one
 *    connection; one more is refused at once with CL_ELIMIT.
 *  - CL_MEMORY_PG_OP_TIMEOUT_MS: how long one operation may wait and run;
 *    past it the operation fails with CL_EIO (and, if it was running, the
 *    connection is dropped and made again: libpq 15 cannot cancel without
 *    blocking).
 *  - CL_MEMORY_PG_CONNECT_TIMEOUT_MS: one connection attempt, name
 *    resolution included (libpq ignores connect_timeout in its
 *    asynchronous API).
 *  - CL_MEMORY_PG_BACKOFF_MIN_MS / _MAX_MS: the reconnect delays after the
 *    server went away (core/backoff.h); meanwhile operations fail CL_EIO.
 *  - CL_MEMORY_PG_URL_MAX: the connection string (CL_EINVAL above it). */
#define CL_MEMORY_PG_QUEUE_MAX          64
#define CL_MEMORY_PG_OP_TIMEOUT_MS      10000
#define CL_MEMORY_PG_CONNECT_TIMEOUT_MS 10000
#define CL_MEMORY_PG_BACKOFF_MIN_MS     1000
#define CL_MEMORY_PG_BACKOFF_MAX_MS     30000
#define CL_MEMORY_PG_URL_MAX            1024

/* Store work off the loop (src/relay/store_pool.c, decision 68): the
 * API's store routes run on CL_RELAY_STORE_WORKERS threads, each with its
 * own store (at most CL_RELAY_STORE_WORKERS_MAX); at most
 * CL_RELAY_STORE_QUEUE_MAX requests wait for one, past which a request is
 * answered 503 "busy" with Retry-After: 1. */
#define CL_RELAY_STORE_WORKERS     4
#define CL_RELAY_STORE_WORKERS_MAX 16
#define CL_RELAY_STORE_QUEUE_MAX   1024

/* The relay's NATS connection (src/relay/bus.c, --nats; docs/operations.md
 * "A cluster"):
 *  - CL_RELAY_BUS_SERVERS_MAX servers in --nats, each URL at most
 *    CL_RELAY_BUS_URL_MAX bytes; more or longer stops the relay at start
 *    ("--nats: ...", exit 2);
 *  - CL_RELAY_BUS_SUBJECT_MAX bytes of a subject;
 *  - CL_RELAY_BUS_MSG_MAX bytes of one message (nats-server's default
 *    max_payload): a bigger publish is refused (CL_EINVAL), never cut;
 *  - CL_RELAY_BUS_QUEUE_MAX bytes of delivered messages waiting for the
 *    loop; past it a message is dropped and counted
 *    (clawlink_relay_nats_dropped_total): what travels on the bus
 *    survives a loss (offsets and replay);
 *  - CL_RELAY_BUS_SUBS_MAX subscriptions held at once (a device or a
 *    session each): past it a subscription is refused (CL_ELIMIT);
 *  - CL_RELAY_BUS_RECONNECT_MS between attempts while NATS is away, for
 *    ever. */
#define CL_RELAY_BUS_SERVERS_MAX 8
/* A relay's id among the relays of a cluster: 8 random bytes in hex,
 * new at every start (what it sends on the bus is marked with it). */
#define CL_RELAY_ID_LEN           16
#define CL_RELAY_BUS_URL_MAX      256
#define CL_RELAY_BUS_SUBJECT_MAX  128
#define CL_RELAY_BUS_MSG_MAX      (1024 * 1024)
#define CL_RELAY_BUS_QUEUE_MAX    (64 * 1024 * 1024)
#define CL_RELAY_BUS_SUBS_MAX     (256 * 1024)
#define CL_RELAY_BUS_RECONNECT_MS 1000

#endif
