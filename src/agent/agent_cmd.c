/* Placeholder until the node agent lands. */
#include "agent/agent_cmd.h"

#include <stdio.h>

int sc_cmd_agent(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "supercell agent: not implemented yet\n");
  return 1;
}
