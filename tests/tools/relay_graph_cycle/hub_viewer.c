/* fixture: the viewer's half names the agent's half, not the router */
#include "relay/hub.h"

int cl_hub_viewer_fixture(struct cl_hub *h)
{
    return cl_hub_agent_find(h, "d") != 0;
}
