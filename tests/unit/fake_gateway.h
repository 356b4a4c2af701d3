/*
 * fake_gateway: a scripted OpenClaw gateway for the agent's unit tests — a
 * libuv TCP server on loopback speaking just enough WebSocket: the upgrade,
 * unmasked text frames out (any length), masked frames in, one per
 * message. A test includes this file once, after cmocka, jansson, libuv,
 * OpenSSL's SHA-1/base64 and sodium, and defines fake_on_frame: what the
 * gateway answers to each frame the client sends.
 */
#ifndef CL_TEST_FAKE_GATEWAY_H
#define CL_TEST_FAKE_GATEWAY_H

struct fake {
    uv_tcp_t server, conn;
    bool have_conn;
    char buf[262144];
    size_t len;
    bool upgraded;
};

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void fake_write(struct fake *f, const void *data, size_t len)
{
    uv_write_t *w = malloc(sizeof *w);
    char *copy = malloc(len);
    uv_buf_t b;
    memcpy(copy, data, len);
    w->data = copy;
    b = uv_buf_init(copy, (unsigned)len);
    uv_write(w, (uv_stream_t *)&f->conn, &b, 1, on_written);
}

static void fake_send_text(struct fake *f, const char *text)
{
    size_t n = strlen(text), h = 2;
    unsigned char *frame = malloc(n + 10);
    frame[0] = 0x81;
    if (n < 126) {
        frame[1] = (unsigned char)n;
    } else if (n < 65536) {
        frame[1] = 126;
        frame[2] = (unsigned char)(n >> 8);
        frame[3] = (unsigned char)n;
        h = 4;
    } else {
        frame[1] = 127;
        for (int i = 0; i < 8; i++)
            frame[2 + i] = (unsigned char)(n >> (56 - 8 * i));
        h = 10;
    }
    memcpy(frame + h, text, n);
    fake_write(f, frame, h + n);
    free(frame);
}

static void fake_on_frame(struct fake *f, const char *text, size_t len);

/* Client frames: masked, one per message here (the client does not
 * fragment small ones). */
static void fake_parse_frames(struct fake *f)
{
    for (;;) {
        size_t off = 2, n;
        unsigned char *b = (unsigned char *)f->buf, mask[4];
        if (f->len < 2)
            return;
        n = b[1] & 0x7f;
        if (n == 126) {
            if (f->len < 4)
                return;
            n = ((size_t)b[2] << 8) | b[3];
            off = 4;
        } else if (n == 127) {
            fail_msg("no 64-bit frames expected");
        }
        if (f->len < off + 4 + n)
            return;
        memcpy(mask, b + off, 4);
        off += 4;
        for (size_t i = 0; i < n; i++)
            b[off + i] ^= mask[i % 4];
        if ((b[0] & 0x0f) == 1)
            fake_on_frame(f, (char *)b + off, n);
        memmove(f->buf, f->buf + off + n, f->len - off - n);
        f->len -= off + n;
    }
}

static void fake_upgrade(struct fake *f)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char *end = strstr(f->buf, "\r\n\r\n"), *key, resp[256], cat[128];
    unsigned char sha[SHA_DIGEST_LENGTH], acc[64];
    size_t klen;

    if (!end)
        return;
    key = strcasestr(f->buf, "Sec-WebSocket-Key:");
    assert_non_null(key);
    key += strlen("Sec-WebSocket-Key:");
    while (*key == ' ')
        key++;
    klen = strcspn(key, "\r\n");
    snprintf(cat, sizeof cat, "%.*s%s", (int)klen, key, guid);
    SHA1((unsigned char *)cat, strlen(cat), sha);
    EVP_EncodeBlock(acc, sha, SHA_DIGEST_LENGTH);
    snprintf(resp, sizeof resp,
             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Accept: %s\r\n\r\n",
             acc);
    fake_write(f, resp, strlen(resp));
    f->upgraded = true;
    f->len -= (size_t)(end + 4 - f->buf);
    memmove(f->buf, end + 4, f->len);
    fake_send_text(f, "{\"type\":\"event\",\"event\":\"connect.challenge\","
                      "\"payload\":{\"nonce\":\"n-1\",\"ts\":1}}");
}

static void fake_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct fake *f = h->data;
    (void)suggested;
    *b = uv_buf_init(f->buf + f->len, (unsigned)(sizeof f->buf - 1 - f->len));
}

static void fake_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct fake *f = s->data;
    (void)b;
    if (n <= 0)
        return;
    f->len += (size_t)n;
    f->buf[f->len] = 0;
    if (!f->upgraded)
        fake_upgrade(f);
    if (f->upgraded)
        fake_parse_frames(f);
}

static void fake_on_connection(uv_stream_t *server, int status)
{
    struct fake *f = server->data;
    assert_int_equal(status, 0);
    assert_false(f->have_conn);
    uv_tcp_init(server->loop, &f->conn);
    f->conn.data = f;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&f->conn), 0);
    f->have_conn = true;
    uv_read_start((uv_stream_t *)&f->conn, fake_alloc, fake_on_read);
}

static int fake_listen(uv_loop_t *loop, struct fake *f)
{
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_tcp_init(loop, &f->server);
    f->server.data = f;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&f->server, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&f->server, 4, fake_on_connection), 0);
    uv_tcp_getsockname(&f->server, (struct sockaddr *)&got, &len);
    return ntohs(((struct sockaddr_in *)&got)->sin_port);
}

#endif
