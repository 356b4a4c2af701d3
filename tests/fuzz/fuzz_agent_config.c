/* libFuzzer harness: the agent's config parser (src/agent/config.c). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/config.h"
#include "core/err.h"

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
    return 0;
}
