/*
 * views: the JSON shape of stored rows (users, projects, devices), shared
 * by the API's routes and the /events stream (a device in an event is the
 * device the API returns). Its own module so that events.c, which the API
 * publishes through, does not depend on the HTTP API.
 */
#ifndef CL_RELAY_VIEWS_H
#define CL_RELAY_VIEWS_H

#include <jansson.h>

#include "relay/store.h"

json_t *cl_json_user(const struct cl_user *u);
json_t *cl_json_project(const struct cl_project *p);
json_t *cl_json_device(const struct cl_device *d);

#endif
