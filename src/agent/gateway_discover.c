/* gateway_discover: environment, then openclaw.json, then the agent config. */
#include "agent/gateway_discover.h"
#include "agent/config.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/proto.h"
#include "core/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CL__FILE_MAX (1024 * 1024)

void cl_gw_settings_wipe(struct cl_gw_settings *s)
{
    cl_wipe(s->token, sizeof s->token);
}

static bool cl__ws_url(const char *s)
{
    return strncmp(s, "ws://", 5) == 0 || strncmp(s, "wss://", 6) == 0;
}

static void cl__wipe_str(json_t *v)
{
    if (json_is_string(v))
        cl_wipe((char *)json_string_value(v), json_string_length(v));
}

int cl_gw_parse_agent_config(const char *buf, size_t len, const char *origin,
                             struct cl_gw_settings *out, char *err, size_t errlen)
{
    char why[200];
    json_t *root = cl_json_parse_object(buf, len, why, sizeof why), *caps, *oc = NULL, *e;
    size_t i;
    int rc = 0;

    if (!root)
        return cl_seterr(err, errlen, CL_EINVAL, "%s: %s", origin, why);
    caps = json_object_get(root, "capabilities");
    if (caps && !json_is_null(caps)) {
        unsigned mask = 0;
        if (!json_is_array(caps)) {
            rc = cl_seterr(err, errlen, CL_EINVAL, "%s: capabilities must be an array of names",
                           origin);
            goto out_decref;
        }
        json_array_foreach(caps, i, e)
        {
            unsigned bit = json_is_string(e) ? cl_cap_from_name(json_string_value(e)) : 0;
            if (!bit) {
                rc = cl_seterr(err, errlen, CL_EINVAL,
                               "%s: capabilities[%zu] is not one of terminal, chat, status, "
                               "restart, workflow",
                               origin, i);
                goto out_decref;
            }
            mask |= bit;
        }
        out->caps = mask;
        snprintf(out->caps_from, sizeof out->caps_from, "%s", origin);
    }
    oc = json_object_get(root, "openclaw");
    if (oc && !json_is_null(oc)) {
        const char *url = NULL, *tok = NULL, *key = NULL, *cid = NULL, *cmode = NULL;
        json_t *en;
        if (!json_is_object(oc)) {
            rc = cl_seterr(err, errlen, CL_EINVAL, "%s: openclaw must be an object", origin);
            goto out_decref;
        }
        en = json_object_get(oc, "enabled");
        if (en && !json_is_boolean(en)) {
            rc = cl_seterr(err, errlen, CL_EINVAL, "%s: openclaw.enabled must be true or false",
                           origin);
            goto out_decref;
        }
        if (en && json_is_false(en))
            out->disabled = true;
        rc = cl_json_str(oc, "openclaw", "url", false, CL_URL_MAX, &url, why, sizeof why);
        if (!rc)
            rc =
                cl_json_str(oc, "openclaw", "token", false, CL_GW_TOKEN_MAX, &tok, why, sizeof why);
        if (!rc)
            rc = cl_json_str(oc, "openclaw", "session_key", false, CL_NODE_KEY_MAX, &key, why,
                             sizeof why);
        if (!rc)
            rc = cl_json_str(oc, "openclaw", "client_id", false, sizeof out->client_id - 1, &cid,
                             why, sizeof why);
        if (!rc)
            rc = cl_json_str(oc, "openclaw", "client_mode", false, sizeof out->client_mode - 1,
                             &cmode, why, sizeof why);
        if (rc) {
            rc = cl_seterr(err, errlen, CL_EINVAL, "%s: %s", origin, why);
            goto out_decref;
        }
        if (url && !cl__ws_url(url)) {
            rc = cl_seterr(err, errlen, CL_EINVAL,
                           "%s: openclaw.url must start with ws:// or wss://", origin);
            goto out_decref;
        }
        if (url && url[0] && !out->url[0]) {
            snprintf(out->url, sizeof out->url, "%s", url);
            snprintf(out->url_from, sizeof out->url_from, "%s", origin);
        }
        if (tok && tok[0] && !out->token[0]) {
            snprintf(out->token, sizeof out->token, "%s", tok);
            snprintf(out->token_from, sizeof out->token_from, "%s", origin);
        }
        if (key && key[0])
            snprintf(out->session_key, sizeof out->session_key, "%s", key);
        if (cid && cid[0])
            snprintf(out->client_id, sizeof out->client_id, "%s", cid);
        if (cmode && cmode[0])
            snprintf(out->client_mode, sizeof out->client_mode, "%s", cmode);
    }
out_decref:
    if (json_is_object(oc))
        cl__wipe_str(json_object_get(oc, "token"));
    cl__wipe_str(json_object_get(root, "token"));
    json_decref(root);
    return rc;
}

int cl_gw_parse_openclaw_json(const char *buf, size_t len, const char *origin,
                              struct cl_gw_settings *out, char *err, size_t errlen)
{
    char why[200];
    json_t *root = cl_json_parse_object(buf, len, why, sizeof why), *gw, *auth, *v;

    if (!root)
        return cl_seterr(err, errlen, CL_EINVAL,
                         "%s: %s (only plain JSON is read: set OPENCLAW_GATEWAY_URL and "
                         "OPENCLAW_GATEWAY_TOKEN instead)",
                         origin, why);
    gw = json_object_get(root, "gateway");
    if (!out->url[0]) {
        json_int_t port = CL_GW_DEFAULT_PORT;
        v = json_is_object(gw) ? json_object_get(gw, "port") : NULL;
        if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 65536)
            port = json_integer_value(v);
        /* The gateway listens on loopback (gateway.bind "loopback", its
         * default) for a local client like this one. */
        snprintf(out->url, sizeof out->url, "ws://127.0.0.1:%lld", (long long)port);
        snprintf(out->url_from, sizeof out->url_from, "%s (gateway.port)", origin);
    }
    auth = json_is_object(gw) ? json_object_get(gw, "auth") : NULL;
    v = json_is_object(auth) ? json_object_get(auth, "token") : NULL;
    if (!out->token[0] && json_is_string(v) && json_string_length(v) > 0 &&
        json_string_length(v) <= CL_GW_TOKEN_MAX) {
        snprintf(out->token, sizeof out->token, "%s", json_string_value(v));
        snprintf(out->token_from, sizeof out->token_from, "%s (gateway.auth.token)", origin);
    }
    cl__wipe_str(v);
    json_decref(root);
    return 0;
}

/* A set, non-blank value of name (blank, "undefined" and "null" count as
 * unset, as OpenClaw reads them), or NULL. */
static const char *cl__oc_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !v[strspn(v, " \t\r\n")] || strcmp(v, "undefined") == 0 || strcmp(v, "null") == 0)
        return NULL;
    return v;
}

/* The home OpenClaw uses: OPENCLAW_HOME, else HOME, else the password
 * database. */
static const char *cl__oc_home(void)
{
    const char *home = cl__oc_env("OPENCLAW_HOME");
    if (!home || home[0] != '/')
        home = getenv("HOME");
    if (!home || home[0] != '/') {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    return home && home[0] == '/' ? home : NULL;
}

/* in, with a leading "~" or "~/" taken from home, into out. */
static int cl__oc_expand(const char *in, const char *home, char *out, size_t cap)
{
    int n;
    if (in[0] == '~' && (in[1] == 0 || in[1] == '/')) {
        if (!home)
            return CL_ENOTFOUND;
        n = snprintf(out, cap, "%s%s", home, in + 1);
    } else {
        n = snprintf(out, cap, "%s", in);
    }
    return n < 0 || (size_t)n >= cap ? CL_ELIMIT : 0;
}

int cl_gw_openclaw_paths(char *state_dir, size_t scap, char *config, size_t ccap)
{
    const char *home = cl__oc_home(), *st = cl__oc_env("OPENCLAW_STATE_DIR");
    const char *cp = cl__oc_env("OPENCLAW_CONFIG_PATH");
    int rc, n;

    if (st)
        rc = cl__oc_expand(st, home, state_dir, scap);
    else if (home) {
        n = snprintf(state_dir, scap, "%s/.openclaw", home);
        rc = n < 0 || (size_t)n >= scap ? CL_ELIMIT : 0;
    } else
        rc = CL_ENOTFOUND;
    if (rc)
        return rc;
    if (cp)
        return cl__oc_expand(cp, home, config, ccap);
    n = snprintf(config, ccap, "%s/openclaw.json", state_dir);
    return n < 0 || (size_t)n >= ccap ? CL_ELIMIT : 0;
}

/* Where OpenClaw keeps its config, following its own environment. */
static int cl__openclaw_json_path(char *out, size_t cap)
{
    char state[PATH_MAX];
    return cl_gw_openclaw_paths(state, sizeof state, out, cap);
}

static void cl__warn(char *warn, size_t warnlen, const char *line)
{
    size_t at = strlen(warn);
    if (at + 2 < warnlen)
        snprintf(warn + at, warnlen - at, "%s%s", at ? "; " : "", line);
}

int cl_gw_discover(const char *agent_config_path, struct cl_gw_settings *out, char *warn,
                   size_t warnlen, char *err, size_t errlen)
{
    const char *env_url = getenv("OPENCLAW_GATEWAY_URL");
    const char *url_name = "OPENCLAW_GATEWAY_URL";
    const char *env_tok = getenv("OPENCLAW_GATEWAY_TOKEN");
    char path[PATH_MAX], why[PATH_MAX + 256];
    char *buf = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if (warnlen)
        warn[0] = 0;
    out->caps = CL_CAP_DEFAULT;
    snprintf(out->caps_from, sizeof out->caps_from, "default");
    snprintf(out->session_key, sizeof out->session_key, "%s", CL_GW_DEFAULT_KEY);
    snprintf(out->client_id, sizeof out->client_id, "%s", CL_GW_DEFAULT_CLIENT);
    snprintf(out->client_mode, sizeof out->client_mode, "%s", CL_GW_DEFAULT_CLIENT);

    /* 1. environment; ClawChats' connector calls the URL GATEWAY_WS_URL
     * (ours wins when both are set) */
    if (!env_url || !env_url[0]) {
        env_url = getenv("GATEWAY_WS_URL");
        url_name = "GATEWAY_WS_URL";
    }
    if (env_url && env_url[0]) {
        if (!cl__ws_url(env_url) || strlen(env_url) > CL_URL_MAX) {
            char line[96];
            snprintf(line, sizeof line, "%s ignored: not a ws:// or wss:// URL", url_name);
            cl__warn(warn, warnlen, line);
        } else {
            snprintf(out->url, sizeof out->url, "%s", env_url);
            snprintf(out->url_from, sizeof out->url_from, "environment (%s)", url_name);
        }
    }
    if (env_tok && env_tok[0]) {
        if (strlen(env_tok) > CL_GW_TOKEN_MAX)
            cl__warn(warn, warnlen, "OPENCLAW_GATEWAY_TOKEN ignored: too long");
        else {
            snprintf(out->token, sizeof out->token, "%s", env_tok);
            snprintf(out->token_from, sizeof out->token_from,
                     "environment (OPENCLAW_GATEWAY_TOKEN)");
        }
    }

    /* 2. OpenClaw's own config */
    if (cl__openclaw_json_path(path, sizeof path) == 0) {
        rc = cl_read_file(path, CL__FILE_MAX, 0, &buf, &len);
        if (rc == 0) {
            if (cl_gw_parse_openclaw_json(buf, len, path, out, why, sizeof why) != 0)
                cl__warn(warn, warnlen, why);
            cl_wipe(buf, len);
            free(buf);
            buf = NULL;
        } else if (rc != CL_ENOTFOUND) {
            snprintf(why, sizeof why, "%s: cannot read it", path);
            cl__warn(warn, warnlen, why);
        }
    }

    /* 3. the agent's config */
    if (agent_config_path) {
        rc = cl_agent_file_read_private(agent_config_path, CL__FILE_MAX, "a device token", &buf,
                                        &len, why, sizeof why);
        if (rc == 0) {
            snprintf(path, sizeof path, "agent config %s", agent_config_path);
            rc = cl_gw_parse_agent_config(buf, len, path, out, err, errlen);
            cl_wipe(buf, len);
            free(buf);
            if (rc) {
                cl_gw_settings_wipe(out);
                return rc;
            }
        }
    }
    out->configured = out->url[0] && !out->disabled;
    return 0;
}
