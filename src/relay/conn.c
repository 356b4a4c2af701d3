/* conn: a connection's sends, close and wake (the send queue, core/wsq.h). */
#include "relay/conn.h"
#include "core/err.h"
#include "core/proto.h"
#include "relay/metrics.h"
#include "relay/relay.h"

#include <stdlib.h>
#include <string.h>

/* ---- connection sends ------------------------------------------------- */

static int cl__conn_send(struct cl_conn *c, const void *data, size_t len, bool binary)
{
    if (c->close_pending)
        return CL_ESTATE;
    if (cl_wsq_push_copy(&c->q, data, len, binary, false) != 0) {
        cl_warn("server", "send queue overflow: closing peer", "peer=%s queued=%zu", c->peer,
                c->q.bytes);
        cl_wsq_clear(&c->q);
        cl_metrics.sendq_overflows++;
        cl_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "send queue overflow");
        return CL_ELIMIT;
    }
    cl_conn_wake(c);
    return 0;
}

int cl_conn_send(struct cl_conn *c, const char *text, size_t len)
{
    return cl__conn_send(c, text, len, false);
}

int cl_conn_send_binary(struct cl_conn *c, const void *data, size_t len)
{
    return cl__conn_send(c, data, len, true);
}

void cl_conn_send_error(struct cl_conn *c, const char *code, const char *message,
                        const char *session_id)
{
    struct cl_msg m;
    size_t len;
    char *text;
    memset(&m, 0, sizeof m);
    m.type = CL_MSG_ERROR;
    snprintf(m.code, sizeof m.code, "%s", code);
    snprintf(m.message, sizeof m.message, "%s", message);
    if (session_id)
        snprintf(m.session_id, sizeof m.session_id, "%s", session_id);
    text = cl_msg_encode(&m, &len);
    if (!text)
        abort();
    if (!c->close_pending)
        cl_wsq_push_copy(&c->q, text, len, false, true);
    free(text);
    lws_callback_on_writable(c->wsi);
}

void cl_conn_close(struct cl_conn *c, int code, const char *reason)
{
    if (c->close_pending)
        return;
    c->close_pending = true;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    lws_callback_on_writable(c->wsi);
}

int cl_conn_write_head(struct cl_conn *c)
{
    struct lws *wsi = c->wsi;
    uint64_t end_offset = cl_wsq_head_end_offset(&c->q);
    if (cl_wsq_write_one(&c->q, wsi))
        return -1;
    if (cl_wsq_empty(&c->q) && c->close_pending)
        lws_callback_on_writable(wsi); /* come back to close */
    if (c->ops->on_written)
        c->ops->on_written(c, end_offset);
    return 0;
}

void cl_conn_wake(struct cl_conn *c)
{
    /* Only a frame just queued on an idle connection goes at once, and
     * never from inside that connection's own callback: anything else is
     * already waiting for a WRITEABLE callback, or must (a ping, a close,
     * bytes lws holds back). */
    if (c->q.count == 1 && !c->close_pending && !c->ping_due && c->wsi != c->relay->cb_wsi &&
        c->ops->direct_write && !lws_partial_buffered(c->wsi)) {
        if (cl_conn_write_head(c) == 0)
            return;
        cl_warn("server", "write failed: dropping peer", "peer=%s", c->peer);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    lws_callback_on_writable(c->wsi);
}
