/*
 * demo: what `make run` shows a newcomer (clawlink-relay --demo FILE).
 *
 * On an empty database the relay creates a demo user (CL_DEMO_EMAIL, with
 * a random password nobody is shown: the way in is a one-time code), a
 * project "Demo" and a device named after this machine with a fresh
 * pairing code. On a later start it finds that user again and only makes
 * a new one-time sign-in code (and a new pairing code if the device never
 * paired). A database with other users but no demo user gets no demo.
 *
 * What the operator needs goes to FILE (created 0600, replaced each
 * start), never to the log: {"url", "signin_code", "device_id",
 * "pairing_code"} (the last two null when there is nothing to pair).
 * scripts/run-demo reads it, pairs the real agent and prints the link.
 *
 * Only for a relay listening on a loopback address: the one-time code
 * signs in from this machine only (api_auth.c), and a demo account has no
 * business on a public relay.
 */
#ifndef CL_RELAY_DEMO_H
#define CL_RELAY_DEMO_H

#include "relay/relay.h"

#define CL_DEMO_EMAIL   "demo@clawlink.local"
#define CL_DEMO_NAME    "Demo"
#define CL_DEMO_PROJECT "Demo"

/* Prepares the demo and writes file. 0 also when there is no demo to
 * make (not loopback, other users); a negative CL_E* code on failure. */
int cl_demo_prepare(struct cl_relay *r, const char *file);

#endif
