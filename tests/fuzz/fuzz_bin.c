/*
 * libFuzzer harness for protocol v2 binary data frames (cl_bin_decode in
 * src/core/proto.c).
 *
 * Any bytes go to cl_bin_decode. A frame that decodes must: point its
 * payload into the input (no copy), carry a valid session id, re-encode
 * to the same bytes with cl_bin_write_header, and convert to a v1 JSON
 * message (what the relay sends a v1 peer) that decodes to the same
 * session, offset and payload. Seed corpus: tests/fuzz/corpus/bin/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "core/json.h"
#include "core/proto.h"
#include "core/secret.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cl_json_init();
    return cl_secret_init();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cl_msg m, v1;
    char err[256];
    uint8_t hdr[CL_BIN_FIXED + CL_ID_MAX];
    size_t h, cap;
    char *json;
    long n;

    err[0] = 0;
    if (cl_bin_decode(data, size, &m, err, sizeof err) != 0) {
        CHECK(err[0] != 0);
        CHECK(m.data == NULL);
        return 0;
    }
    CHECK(m.type == CL_MSG_STDIN || m.type == CL_MSG_STDOUT);
    CHECK(cl_proto_id_valid(m.session_id));
    CHECK(m.data_borrowed);
    CHECK(m.data >= data && m.data + m.data_len == data + size);

    h = cl_bin_write_header(hdr, m.type, m.session_id, m.offset);
    CHECK(h == cl_bin_header_len(strlen(m.session_id)));
    CHECK(h + m.data_len == size);
    /* stdin's offset is ignored on decode; stdout's survives */
    CHECK(memcmp(hdr, data, 2) == 0);
    CHECK(m.type == CL_MSG_STDIN || memcmp(hdr, data, h) == 0);

    cap = cl_msg_data_encoded_max(strlen(m.session_id), m.data_len);
    json = malloc(cap);
    CHECK(json != NULL);
    n = cl_msg_encode_data(m.type, m.session_id, m.data, m.data_len,
                           m.has_offset ? (int64_t)m.offset : -1, json, cap);
    CHECK(n > 0);
    CHECK(cl_msg_decode(json, (size_t)n, &v1, err, sizeof err) == 0);
    CHECK(v1.type == m.type);
    CHECK(strcmp(v1.session_id, m.session_id) == 0);
    CHECK(v1.has_offset == m.has_offset && v1.offset == m.offset);
    CHECK(v1.data_len == m.data_len);
    CHECK(m.data_len == 0 || memcmp(v1.data, m.data, m.data_len) == 0);
    cl_msg_clear(&v1);
    free(json);
    cl_msg_clear(&m);
    return 0;
}
