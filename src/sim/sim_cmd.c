/* Placeholder: replaced by the simulator command. */
#include "sim/sim_cmd.h"

#include <stdio.h>

int sc_cmd_sim(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "supercell sim: not implemented yet\n");
  return 1;
}
