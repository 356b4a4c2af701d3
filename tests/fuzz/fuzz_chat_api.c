/*
 * libFuzzer harness for the chat API's request handling (src/agent/chat_api.c):
 * routing, query-string parsing, body checks, over a real chat store (a
 * temporary directory, opened once) with the built-in memory provider and
 * no gateway.
 *
 * Input: "METHOD\nPATH\nQUERY\nBODY" (missing parts are empty; a body that
 * is not JSON is sent as none). Checked for every input: the call ends
 * exactly once (or, a stream, is cancelled), with a status of 100..599, and
 * every event and body fits CL_CHAT_FRAME_MAX as compact JSON; an error
 * body is {error: {code, message}}.
 * Seed corpus: tests/fuzz/corpus/chat_api/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/chat_api.h"
#include "agent/memory_builtin.h"
#include "core/log.h"
#include "core/proto.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ans {
    int ends;
    int status;
};

static void on_event(void *ctx, const char *name, json_t *data)
{
    (void)ctx;
    CHECK(name && *name);
    CHECK(json_dumpb(data, NULL, 0, JSON_COMPACT) <= CL_CHAT_FRAME_MAX);
}

static void on_end(void *ctx, int status, json_t *body)
{
    struct ans *a = ctx;
    a->ends++;
    a->status = status;
    CHECK(status >= 100 && status <= 599);
    if (body) {
        CHECK(json_dumpb(body, NULL, 0, JSON_COMPACT) <= CL_CHAT_FRAME_MAX);
        if (status >= 400) {
            json_t *e = json_object_get(body, "error");
            CHECK(json_is_string(json_object_get(e, "code")));
            CHECK(json_is_string(json_object_get(e, "message")));
        }
    }
}

static const struct cl_chat_reply reply = {on_event, on_end};

static struct cl_chat_api *api;

static void init(void)
{
    static uv_loop_t loop;
    static struct cl_chat_store *cs;
    static struct cl_memory mem;
    char dir[] = "/tmp/cl-fuzz-chatapi-XXXXXX", err[256];

    cl_log_set_level(CL_LOG_ERROR);
    if (!mkdtemp(dir))
        abort();
    setenv("XDG_DATA_HOME", dir, 1);
    uv_loop_init(&loop);
    CHECK(cl_chat_store_open(NULL, &cs, err, sizeof err) == 0);
    CHECK(cl_memory_builtin_new(cs, &mem) == 0);
    struct cl_chat_api_cfg cfg = {.loop = &loop, .cs = cs, .mem = &mem, .caps = CL_CAP_CHAT};
    CHECK(cl_chat_api_new(&cfg, &api) == 0);
}

/* The next line of the input as a NUL-terminated copy. */
static char *take_line(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl ? nl : end;
    char *s = strndup(*p, (size_t)(stop - *p));
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    struct ans a = {0};

    if (!api)
        init();
    char *method = take_line(&p, end), *path = take_line(&p, end), *query = take_line(&p, end);
    json_t *body = json_loadb(p, (size_t)(end - p), JSON_DECODE_ANY, NULL);
    struct cl_chat_req req = {method, path, query[0] ? query : NULL, body, "fuzz", "Fuzz"};
    struct cl_chat_call *c = cl_chat_api_handle(api, &req, &reply, &a);
    if (c) {
        CHECK(a.ends == 0);
        cl_chat_api_cancel(api, c);
    } else {
        CHECK(a.ends == 1);
    }
    json_decref(body);
    free(method);
    free(path);
    free(query);
    return 0;
}
