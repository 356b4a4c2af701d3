/* fixture: module router_local */
#include "relay/router_local.h"
