/* fixture: hub names chat.c's function, chat includes hub.h: a cycle */
#include "relay/hub.h"
#include "relay/conn.h"

void cl_hub_agent_gone(const char *id)
{
    cl_chat_agent_gone(id);
}
