/*
 * json: jansson, wrapped for strict parsing of peer input.
 *
 * Parsing rejects duplicate keys and non-object documents; field getters
 * check type and bounds and say which field was wrong in err.
 */
#ifndef CL_JSON_H
#define CL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Makes jansson wipe every block it frees (tokens and typed terminal input
 * pass through its strings). Call once at start, before any JSON use. */
void cl_json_init(void);

/* Parses len bytes as one JSON object. Returns a new reference (caller
 * json_decref's it) or NULL with a message naming line/column in err. */
json_t *cl_json_parse_object(const char *buf, size_t len, char *err, size_t errlen);

/* Gets string field key of obj into *out (borrowed from obj). Missing
 * field: CL_EINVAL if required, else 0 with *out = NULL. Wrong type,
 * empty, or longer than maxlen bytes: CL_EINVAL. `what` names the object
 * in messages ("data"). */
int cl_json_str(json_t *obj, const char *what, const char *key, bool required, size_t maxlen,
                const char **out, char *err, size_t errlen);

/* Whether s (n bytes) is plain text for a name shown to people: no NUL,
 * no C0 or C1 control character (U+0000-U+001F, U+007F-U+009F: escape
 * sequences a terminal or log would act on). */
bool cl_json_plain_text(const char *s, size_t n);

/* cl_json_str for a name or label: also plain text (cl_json_plain_text),
 * else CL_EINVAL ("contains a control character"). One rule for every
 * name a user gives: display names, project, device and session names. */
int cl_json_text(json_t *obj, const char *what, const char *key, bool required, size_t maxlen,
                 const char **out, char *err, size_t errlen);

/* Gets integer field key in [min, max]. Missing and not required: 0 with
 * *present = false (present may be NULL when required). */
int cl_json_int(json_t *obj, const char *what, const char *key, bool required, long long min,
                long long max, long long *out, bool *present, char *err, size_t errlen);

/* Serialises compactly; returns malloc'd NUL-terminated text or NULL. */
char *cl_json_dump(const json_t *v, size_t *len);

#endif
