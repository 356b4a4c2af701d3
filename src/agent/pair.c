/* pair: POST /pair-device (agent/http.h) and turn the answer into a config. */
#include "agent/pair.h"
#include "agent/http.h"
#include "core/err.h"
#include "core/json.h"
#include "core/secret.h"

#include <stdio.h>
#include <string.h>

/* Copies a peer-supplied string for display: printable ASCII only, bounded. */
static void cl__printable(const char *in, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; in && in[i] && j + 1 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[j] = 0;
}

static void cl__wipe_json_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        cl_wipe((char *)json_string_value(v), json_string_length(v));
}

/* Builds the failure message from {"error":{"code","message"}}, falling
 * back to what there is (PrivaClaw's functions answer {"error":"text"}). */
static int cl__pair_refused(const struct cl_agent_http_resp *r, char *err, size_t errlen)
{
    char msg[256] = "", code[64] = "";
    json_t *root = cl_json_parse_object(r->body, r->len, NULL, 0);
    json_t *e = root ? json_object_get(root, "error") : NULL;

    if (json_is_object(e)) {
        cl__printable(json_string_value(json_object_get(e, "message")), msg, sizeof msg);
        cl__printable(json_string_value(json_object_get(e, "code")), code, sizeof code);
    } else if (json_is_string(e)) {
        cl__printable(json_string_value(e), msg, sizeof msg);
    } else if (root) {
        cl__printable(json_string_value(json_object_get(root, "message")), msg, sizeof msg);
    }
    json_decref(root);
    if (!msg[0])
        snprintf(msg, sizeof msg, "the relay refused the pairing request");
    if (code[0])
        return cl_seterr(err, errlen, CL_EAUTH, "%s (%s, HTTP %ld)", msg, code, r->status);
    return cl_seterr(err, errlen, CL_EAUTH, "%s (HTTP %ld)", msg, r->status);
}

/* Fills cfg from a 2xx answer {device_id, token, relay_url}. */
static int cl__pair_accepted(const struct cl_agent_http_resp *r, struct cl_agent_config *cfg,
                             char *err, size_t errlen)
{
    const char *device_id, *token, *relay_url;
    char why[160];
    json_t *root;
    int rc;

    root = cl_json_parse_object(r->body, r->len, why, sizeof why);
    if (!root)
        return cl_seterr(err, errlen, CL_EPROTO, "unexpected answer from the relay: %s", why);
    rc = cl_json_str(root, "response", "device_id", true, CL_ID_MAX, &device_id, why, sizeof why);
    if (!rc)
        rc = cl_json_str(root, "response", "token", true, CL_TOKEN_MAX, &token, why, sizeof why);
    if (!rc)
        rc = cl_json_str(root, "response", "relay_url", true, CL_URL_MAX - 1, &relay_url, why,
                         sizeof why);
    if (rc) {
        rc = cl_seterr(err, errlen, CL_EPROTO, "unexpected answer from the relay: %s", why);
        goto out_decref;
    }
    snprintf(cfg->device_id, sizeof cfg->device_id, "%s", device_id);
    snprintf(cfg->token, sizeof cfg->token, "%s", token);
    if (strncmp(relay_url, "http://", 7) == 0)
        snprintf(cfg->relay_url, sizeof cfg->relay_url, "ws://%s", relay_url + 7);
    else if (strncmp(relay_url, "https://", 8) == 0)
        snprintf(cfg->relay_url, sizeof cfg->relay_url, "wss://%s", relay_url + 8);
    else
        snprintf(cfg->relay_url, sizeof cfg->relay_url, "%s", relay_url);
    rc = cl_agent_config_validate(cfg, why, sizeof why);
    if (rc)
        rc = cl_seterr(err, errlen, CL_EPROTO, "unexpected answer from the relay: %s", why);
out_decref:
    cl__wipe_json_str(root, "token");
    json_decref(root);
    return rc;
}

int cl_agent_pair(const char *api_url, const char *code, const char *name, const char *ca_file,
                  struct cl_agent_config *cfg, char *err, size_t errlen)
{
    struct cl_agent_http_resp resp;
    char url[CL_URL_MAX + 32];
    size_t alen = strlen(api_url);
    char *body = NULL;
    size_t body_len = 0;
    json_t *req;
    int rc;

    memset(cfg, 0, sizeof *cfg);
    while (alen > 0 && api_url[alen - 1] == '/')
        alen--;
    if (alen == 0 || alen > CL_URL_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "--api URL is empty or too long");
    if (!code[0] || strlen(code) > 64)
        return cl_seterr(err, errlen, CL_EINVAL, "the pairing code is empty or too long");
    snprintf(url, sizeof url, "%.*s/pair-device", (int)alen, api_url);
    snprintf(cfg->name, sizeof cfg->name, "%s", name);

    req = json_pack("{s:s, s:s}", "pairing_code", code, "name", name);
    if (!req)
        return cl_seterr(err, errlen, CL_EINVAL, "name must be valid UTF-8");
    body = json_dumps(req, JSON_COMPACT);
    cl__wipe_json_str(req, "pairing_code");
    json_decref(req);
    if (!body)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    body_len = strlen(body);

    rc = cl_agent_http_request(url, body, ca_file, CL_AGENT_PAIR_TIMEOUT_S, &resp, err, errlen);
    cl_wipe(body, body_len);
    free(body);
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "%s", err ? err : "");
        rc = cl_seterr(err, errlen, rc == CL_ELIMIT ? CL_EPROTO : CL_EIO, "cannot reach %s: %s",
                       url, why);
        goto out_wipe;
    }
    if (resp.status >= 200 && resp.status < 300)
        rc = cl__pair_accepted(&resp, cfg, err, errlen);
    else
        rc = cl__pair_refused(&resp, err, errlen);
    cl_agent_http_resp_free(&resp);
out_wipe:
    if (rc)
        cl_agent_config_wipe(cfg);
    return rc;
}
