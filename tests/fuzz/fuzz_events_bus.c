/*
 * libFuzzer harness for events between relays (src/relay/events.c,
 * cl_events_bus_parse): the input's first line is the NATS subject, the
 * rest the message another relay (or anyone on the bus) sent.
 *
 * The parser returns 0 or CL_EINVAL. An accepted message names an origin
 * of CL_RELAY_ID_LEN lowercase hex digits, the subject's project (a UUID),
 * no other user or a UUID, and a text inside the input of at most
 * CL_EVENTS_QUEUE_MAX bytes that is a JSON event about that project.
 * Seed corpus: tests/fuzz/corpus/events_bus/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "core/err.h"
#include "core/json.h"
#include "core/secret.h"
#include "relay/events.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cl_json_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    struct cl_events_wire w;
    char subject[200];
    size_t sl;
    int rc;

    if (!nl)
        return 0;
    sl = (size_t)(nl - data);
    if (sl >= sizeof subject)
        return 0;
    memcpy(subject, data, sl);
    subject[sl] = 0;
    rc = cl_events_bus_parse(subject, nl + 1, size - sl - 1, &w);
    CHECK(rc == 0 || rc == CL_EINVAL);
    if (rc == 0) {
        CHECK(strlen(w.origin) == CL_RELAY_ID_LEN);
        for (int i = 0; i < CL_RELAY_ID_LEN; i++)
            CHECK((w.origin[i] >= '0' && w.origin[i] <= '9') ||
                  (w.origin[i] >= 'a' && w.origin[i] <= 'f'));
        CHECK(cl_uuid_valid(w.project_id));
        CHECK(strcmp(subject + strlen(subject) - CL_UUID_LEN, w.project_id) == 0);
        CHECK(w.also_user[0] == 0 || cl_uuid_valid(w.also_user));
        CHECK(w.len > 0 && w.len <= CL_EVENTS_QUEUE_MAX);
        CHECK((const uint8_t *)w.text > nl && (const uint8_t *)w.text + w.len == data + size);
    }
    return 0;
}
