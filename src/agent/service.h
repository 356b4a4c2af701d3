/*
 * service: `clawlink service install|uninstall|status` — the agent as a
 * systemd service, so it starts at boot and comes back when it stops.
 *
 * A user unit ($XDG_CONFIG_HOME/systemd/user/clawlink.service, run as you,
 * with lingering so it runs without a login session) or, as root, a system
 * unit (/etc/systemd/system/clawlink.service). The unit runs this very
 * binary with an absolute --config.
 *
 * A service must never run a program someone else can replace (PrivaClaw's
 * installer puts binaries where any user can swap them): before a unit is
 * written, the binary and every directory above it are checked — owned by
 * root or by you (root only, for a system unit) and writable by nobody
 * else, a sticky directory like /tmp excepted for entries its owner holds.
 *
 * Where systemd is not running (a container), the unit is still written and
 * the command says plainly that nothing will start it, and how to run the
 * agent instead.
 */
#ifndef CL_AGENT_SERVICE_H
#define CL_AGENT_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CL_SERVICE_UNIT_NAME "clawlink.service"
/* A unit file is small; a larger one at our path is not ours. */
#define CL_SERVICE_UNIT_MAX 4096

enum cl_service_scope { CL_SERVICE_USER, CL_SERVICE_SYSTEM };

struct cl_service_opts {
    enum cl_service_scope scope;
    const char *exe;      /* absolute path of the clawlink binary to run */
    const char *config;   /* absolute path of the agent's config file */
    const char *unit_dir; /* NULL: systemd's directory for the scope */
    bool no_start;        /* write the unit, start nothing */
};

/* The unit file's path for o. 0, or CL_ENOTFOUND / CL_ELIMIT with err. */
int cl_service_unit_path(const struct cl_service_opts *o, char *out, size_t cap, char *err,
                         size_t errlen);

/* The unit's text for o, into out (cap bytes). 0, or CL_EINVAL when a
 * path holds a character a unit cannot carry (a control character), or
 * CL_ELIMIT when it does not fit. */
int cl_service_unit_text(const struct cl_service_opts *o, char *out, size_t cap, char *err,
                         size_t errlen);

/* Checks that nobody but root or the caller (root only when system) can
 * replace exe: the file and each directory above it. 0, or CL_EFORBIDDEN
 * with the offending path and why in err. */
int cl_service_check_exe(const char *exe, bool system, char *err, size_t errlen);

/* install: writes the unit (after the checks above) and, unless no_start
 * or systemd is not running, enables and (re)starts it; lingering for a
 * user unit. Progress goes to out. 0, or a CL_E* code with err. */
int cl_service_install(const struct cl_service_opts *o, FILE *out, char *err, size_t errlen);

/* uninstall: stops and disables the service and removes the unit. 0 (also
 * when there was nothing to remove), or a CL_E* code with err. */
int cl_service_uninstall(const struct cl_service_opts *o, FILE *out, char *err, size_t errlen);

/* status: what is installed, enabled and running, printed to out. Returns
 * true when the unit is installed. */
bool cl_service_status(const struct cl_service_opts *o, FILE *out);

#endif
