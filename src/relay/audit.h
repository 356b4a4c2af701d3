/*
 * audit: `clawlink-relay audit` — is this relay's setup safe?
 *
 * Run with the options the relay runs with (a systemd unit's ExecStart
 * flags after `audit`), it checks what an operator can get wrong: the
 * data directory and database files (datadir.c's rules, the ones the relay
 * itself applies), TLS when listening beyond loopback and the public URL's
 * scheme, the TLS key's mode and the certificate's dates, the relay's file
 * limit against what admission.c needs, SMTP credentials on a command
 * line, accounts that never verified their address, and API tokens and
 * devices unused for long. --deep probes the live relay at its public URL
 * (certificate, HSTS, /healthz); --fix applies only safe fixes (chmod of
 * the relay's own files and directories) and reports each; --json prints
 * the findings in the schema of docs/operations.md "Audit" (the agent's
 * `clawlink audit` shares it). The database is opened read-only: the audit
 * may run beside a live relay.
 *
 * Exit status: 0 nothing critical, 1 something critical, 2 usage error.
 */
#ifndef CL_RELAY_AUDIT_H
#define CL_RELAY_AUDIT_H

/* Accounts, tokens and devices the audit calls stale (named thresholds). */
#define CL_AUDIT_UNVERIFIED_AGE_S (7 * 86400)  /* account never verified, this old */
#define CL_AUDIT_TOKEN_IDLE_S     (90 * 86400) /* live API token unused this long */
#define CL_AUDIT_DEVICE_IDLE_S    (90 * 86400) /* paired device not seen this long */
#define CL_AUDIT_CERT_EXPIRY_S    (14 * 86400) /* certificate expiring within: warn */
/* The relay's file limit: below CL_RELAY_FD_RESERVE + this many times
 * --max-conns-per-addr is critical (a handful of clients fill it), below
 * CL_AUDIT_NOFILE_WANT a warning (deploy/clawlink-relay.service sets it). */
#define CL_AUDIT_NOFILE_CLIENTS 4
#define CL_AUDIT_NOFILE_WANT    65536
/* --deep: how long the probe of the public URL may take. */
#define CL_AUDIT_PROBE_TIMEOUT_S 10

/* argv[0] is "audit". Returns the exit status. */
int cl_audit_main(int argc, char **argv);

#endif
