/* libFuzzer harness: the agent's config parser (src/agent/config.c) and
 * the OpenClaw settings read from the same file and from openclaw.json
 * (src/agent/gateway_discover.c), and what `clawlink audit` reads of
 * openclaw.json and of an exec approvals document (src/agent/audit.c), and
 * the memory provider's settings (cl_agent_memory_config_parse). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/audit.h"
#include "agent/config.h"
#include "agent/gateway_discover.h"
#include "core/err.h"
#include "core/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cl_agent_config cfg;
    char err[256];
    int rc = cl_agent_config_parse((const char *)data, size, "fuzz", &cfg, err, sizeof err);
    if (rc == 0) {
        /* whatever parsed must pass validation on its own */
        if (cl_agent_config_validate(&cfg, err, sizeof err) != 0)
            __builtin_trap();
    } else if (rc != CL_EINVAL || err[0] == 0) {
        __builtin_trap(); /* every failure is a named CL_EINVAL */
    }
    cl_agent_config_wipe(&cfg);

    {
        /* memory_provider / memory_pg_url: postgres always has a URL */
        struct cl_agent_memory_config mc;
        rc = cl_agent_memory_config_parse((const char *)data, size, "fuzz", "host=/run/pg", &mc,
                                          err, sizeof err);
        if (rc != 0 && (rc != CL_EINVAL || err[0] == 0))
            __builtin_trap();
        if (rc == 0 && mc.provider == CL_AGENT_MEMORY_POSTGRES &&
            (!mc.pg_url[0] || strlen(mc.pg_url) > CL_MEMORY_PG_URL_MAX))
            __builtin_trap();
        if (rc == 0 && mc.provider == CL_AGENT_MEMORY_BUILTIN && mc.pg_url[0])
            __builtin_trap();
        cl_agent_memory_config_wipe(&mc);
    }

    {
        /* files_read_roots: only absolute paths, within their limits */
        static struct cl_agent_files_config fc;
        rc = cl_agent_files_config_parse((const char *)data, size, "fuzz", &fc, err, sizeof err);
        if (rc != 0 && (rc != CL_EINVAL || err[0] == 0))
            __builtin_trap();
        for (size_t i = 0; rc == 0 && i < fc.nroots; i++)
            if (fc.roots[i][0] != '/' || strlen(fc.roots[i]) > CL_FILES_PATH_MAX)
                __builtin_trap();
    }

    {
        struct cl_gw_settings gw;
        memset(&gw, 0, sizeof gw);
        rc = cl_gw_parse_agent_config((const char *)data, size, "fuzz", &gw, err, sizeof err);
        if (rc != 0 && (rc != CL_EINVAL || err[0] == 0))
            __builtin_trap();
        if (rc == 0 && ((gw.caps & ~CL_CAP__ALL) ||
                        (gw.url[0] && strncmp(gw.url, "ws://", 5) && strncmp(gw.url, "wss://", 6))))
            __builtin_trap(); /* only known capabilities, only WebSocket URLs */
        memset(&gw, 0, sizeof gw);
        rc = cl_gw_parse_openclaw_json((const char *)data, size, "fuzz", &gw, err, sizeof err);
        if (rc == 0 && strncmp(gw.url, "ws://127.0.0.1:", 15) != 0)
            __builtin_trap(); /* openclaw.json only ever names a loopback port */
        cl_gw_settings_wipe(&gw);
    }

    {
        struct cl_audit a;
        struct cl_audit_oc oc;
        bool full = false;
        cl_audit_init(&a);
        cl_audit_openclaw_config(&a, (const char *)data, size, "fuzz", &oc);
        cl_audit_exec_approvals(&a, (const char *)data, size, "fuzz", &full);
        for (size_t i = 0; i < a.count; i++)
            if (!a.items[i].id[0] || !a.items[i].title[0] || a.items[i].fix_clear)
                __builtin_trap(); /* named, titled, and nothing to chmod from text alone */
        cl_audit_free(&a);
    }
    return 0;
}
