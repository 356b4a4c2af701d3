/*
 * pair: trades a one-time pairing code for the device's credentials by
 * calling the relay's PrivaClaw-compatible `POST {api}/pair-device`.
 */
#ifndef CL_AGENT_PAIR_H
#define CL_AGENT_PAIR_H

#include <stddef.h>

#include "agent/config.h"

/* Seconds allowed for the whole pairing request. */
#define CL_AGENT_PAIR_TIMEOUT_S 10

/* POSTs {pairing_code, name} to api_url + "/pair-device" (api_url like
 * http://host:8080/functions/v1; a trailing slash is fine). ca_file (may
 * be NULL) is the PEM bundle for an https API. On success fills *cfg with
 * device_id, token, relay_url (an http(s):// answer is turned into
 * ws(s)://) and name, validated, and returns 0. On failure returns
 * CL_EAUTH (the relay refused the code: err holds its message), CL_EIO
 * (no answer), CL_EPROTO (an answer we cannot use) or CL_EINVAL, with *cfg
 * wiped. Neither the code nor the token ever appears in err. */
int cl_agent_pair(const char *api_url, const char *code, const char *name, const char *ca_file,
                  struct cl_agent_config *cfg, char *err, size_t errlen);

#endif
