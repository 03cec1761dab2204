/* Placeholder until the controller lands. */
#include "server/server_cmd.h"

#include <stdio.h>

int sc_cmd_server(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "supercell server: not implemented yet\n");
  return 1;
}

int sc_cmd_up(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "supercell up: not implemented yet\n");
  return 1;
}
