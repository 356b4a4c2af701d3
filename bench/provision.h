/*
 * provision: the accounts, project and devices a bench run needs, written
 * straight into a relay data directory through the relay's store API
 * (before the relay starts), so 10,000 devices need no pairing round
 * trips and meet no rate limit.
 */
#ifndef CL_BENCH_PROVISION_H
#define CL_BENCH_PROVISION_H

#include <stddef.h>

#include "core/limits.h"
#include "core/secret.h"

struct prov_device {
    char id[CL_UUID_LEN + 1];
    char token[CL_TOKEN_STR_LEN + 1];
};

struct prov {
    char user_id[CL_UUID_LEN + 1];
    char user_token[CL_TOKEN_STR_LEN + 1]; /* bearer for the API and /session auth */
    char project_id[CL_UUID_LEN + 1];      /* device 0's (the real agent's) */
    char sim_project_id[CL_UUID_LEN + 1];  /* the synthetic agents' devices */
    size_t ndev;
    struct prov_device *dev; /* ndev paired devices, tokens in clear */
};

/* Creates one user (with an API token), two projects and ndev paired
 * devices in the store at dir: device 0 alone in project_id, the others
 * in sim_project_id (so device 0's project lists one device). Returns 0 or a negative CL_E* code
 * with a reason in err. Release with prov_free. */
int prov_create(struct prov *p, const char *dir, size_t ndev, char *err, size_t errlen);
void prov_free(struct prov *p);

#endif
