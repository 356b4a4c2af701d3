/*
 * gateway_discover: where the local OpenClaw gateway is, how to
 * authenticate to it, and what the relay may ask of this agent.
 *
 * Each setting comes from the first source that has it, in the order the
 * ClawChats connector uses (seed 000):
 *   1. the environment: OPENCLAW_GATEWAY_URL (else ClawChats' name for
 *      it, GATEWAY_WS_URL), OPENCLAW_GATEWAY_TOKEN;
 *   2. OpenClaw's own config: $OPENCLAW_CONFIG_PATH, else
 *      $OPENCLAW_STATE_DIR/openclaw.json, else ~/.openclaw/openclaw.json
 *      (~ is $OPENCLAW_HOME when set: cl_gw_openclaw_paths)
 *      (gateway.port, gateway.auth.token; plain JSON only);
 *   3. the agent's config file, section "openclaw":
 *      {"url", "token", "session_key", "client_id", "client_mode",
 *       "enabled": false to turn the node off}.
 * The agent config also declares "capabilities" (terminal, chat, status,
 * restart, workflow); without the key: everything but restart.
 * Each setting records where it came from, for `clawlink status`.
 */
#ifndef CL_AGENT_GATEWAY_DISCOVER_H
#define CL_AGENT_GATEWAY_DISCOVER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"

#define CL_GW_TOKEN_MAX      256
#define CL_GW_FROM_MAX       (CL_URL_MAX + 64)
#define CL_GW_DEFAULT_PORT   18789
#define CL_GW_DEFAULT_KEY    "main"
#define CL_GW_DEFAULT_CLIENT "cli"

struct cl_gw_settings {
    bool configured;                 /* a gateway URL was found and not disabled */
    bool disabled;                   /* "openclaw": {"enabled": false} */
    char url[CL_URL_MAX + 1];        /* ws://host:port */
    char url_from[CL_GW_FROM_MAX];   /* "" when not found */
    char token[CL_GW_TOKEN_MAX + 1]; /* secret; "" when none */
    char token_from[CL_GW_FROM_MAX];
    char session_key[CL_NODE_KEY_MAX + 1];
    char client_id[32];
    char client_mode[32];
    unsigned caps; /* CL_CAP_* */
    char caps_from[CL_GW_FROM_MAX];
};

/* Fills *out from the environment, OpenClaw's config and the agent
 * config file at agent_config_path (NULL: none). A source that cannot be
 * read or parsed is skipped with a line in warn (which may stay empty).
 * Returns 0, or CL_EINVAL when the agent config's own "openclaw" or
 * "capabilities" are malformed (message in err). */
int cl_gw_discover(const char *agent_config_path, struct cl_gw_settings *out, char *warn,
                   size_t warnlen, char *err, size_t errlen);

/* Parses the agent config's capabilities and openclaw section from JSON
 * text (for tests and the fuzzer); the fields found are set in out with
 * origin as their source. Returns 0 or CL_EINVAL. */
int cl_gw_parse_agent_config(const char *buf, size_t len, const char *origin,
                             struct cl_gw_settings *out, char *err, size_t errlen);

/* Parses an openclaw.json (plain JSON) for gateway.port and
 * gateway.auth.token, filling what out does not have yet. */
int cl_gw_parse_openclaw_json(const char *buf, size_t len, const char *origin,
                              struct cl_gw_settings *out, char *err, size_t errlen);

/* Where OpenClaw keeps its state and its config, as OpenClaw 2026.9
 * resolves them: the state directory is $OPENCLAW_STATE_DIR, else
 * $OPENCLAW_HOME/.openclaw, else ~/.openclaw; the config is
 * $OPENCLAW_CONFIG_PATH, else openclaw.json in the state directory (a
 * leading ~ expands to OPENCLAW_HOME or HOME; blank, "undefined" and
 * "null" count as unset). 0, CL_ENOTFOUND (no home) or CL_ELIMIT. */
int cl_gw_openclaw_paths(char *state_dir, size_t scap, char *config, size_t ccap);

/* Wipes the token. */
void cl_gw_settings_wipe(struct cl_gw_settings *s);

#endif
