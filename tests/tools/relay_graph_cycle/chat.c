#include "relay/chat.h"
#include "relay/hub.h"

void cl_chat_agent_gone(const char *id)
{
    (void)id;
}
