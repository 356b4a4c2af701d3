/*
 * proto_family: the codec tables of the wire protocol's message families.
 * Internal to core/proto*.c (and their unit test); callers use proto.h.
 *
 * Message types are grouped in numbered families (docs/protocol.md,
 * "Message families"): 1 link (connecting, errors, keepalive, device
 * information), 2 terminal (sessions and their bytes), 3 node (OpenClaw
 * node requests and answers), 4 chat (the agent's chat API over the link).
 * Each family's codec file (proto_link.c, proto_term.c, proto_node.c,
 * proto_chat.c) exports one table with a row
 * {type, name, decode, encode} per message type. proto.c frames a message
 * ({"type": name, "data": {...}}) and hands the data object to the row of
 * its type: there is no switch over all types. A new message type is a row
 * in its family's table and a number in that family's range.
 */
#ifndef CL_PROTO_FAMILY_H
#define CL_PROTO_FAMILY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/proto.h"

/* One message type's codec. */
struct cl_proto_codec {
    enum cl_msg_type type;
    const char *name; /* the envelope's "type" on the wire */
    /* Reads the envelope's data object d (NULL when absent or null) into
     * m, whose type is set. Returns 0, or a CL_E* code with a message in
     * err; the caller frees whatever it left in m (cl_msg_clear). NULL: a
     * message with nothing to read (data is ignored). */
    int (*decode)(json_t *d, struct cl_msg *m, char *err, size_t errlen);
    /* Builds the data object for m: a new reference, or NULL to send the
     * message without data. NULL: a message that never carries data. */
    json_t *(*encode)(const struct cl_msg *m);
};

/* A family: its number, name, the range of type numbers its new types
 * take, and its codecs. Types 1-29 predate the families and keep their
 * numbers wherever they are (the numbers are on the wire). */
struct cl_proto_family {
    unsigned id;
    const char *name;
    unsigned first, last; /* new types of this family: first..last */
    const struct cl_proto_codec *codecs;
    size_t ncodecs;
};

/* The type numbers given before families existed: 1..CL_PROTO_LEGACY_LAST. */
#define CL_PROTO_LEGACY_LAST 31

extern const struct cl_proto_family cl_proto_link;
extern const struct cl_proto_family cl_proto_term;
extern const struct cl_proto_family cl_proto_node;
extern const struct cl_proto_family cl_proto_chat;

/* Every family, in number order. */
extern const struct cl_proto_family *const cl_proto_families[];
extern const size_t cl_proto_nfamilies;

/* The codec of a type or of a wire name, or NULL. */
const struct cl_proto_codec *cl_proto_codec_by_type(enum cl_msg_type t);
const struct cl_proto_codec *cl_proto_codec_by_name(const char *name);

/* ---- field readers the families share (proto.c) ------------------------ */

/* Copies string field key of obj into dst (cap bytes, so at most cap-1).
 * Missing: CL_EINVAL if required, else 0 with dst untouched. */
int cl__proto_str(json_t *obj, const char *what, const char *key, bool required, char *dst,
                  size_t cap, char *err, size_t errlen);
/* data.session_id (required) into m->session_id; proto.c checks its
 * characters once the whole message is read. */
int cl__proto_session_id(json_t *d, struct cl_msg *m, char *err, size_t errlen);
/* data.request_id into m->request_id, a valid id when present. */
int cl__proto_request_id(json_t *d, bool required, struct cl_msg *m, char *err, size_t errlen);

#endif
