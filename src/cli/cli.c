/* Placeholder until the CLI lands. */
#include "cli/cli.h"

#include <stdio.h>

static int todo(const char *name)
{
  fprintf(stderr, "supercell %s: not implemented yet\n", name);
  return 1;
}

int sc_cli_submit(int argc, char **argv) { (void)argc; (void)argv; return todo("submit"); }
int sc_cli_jobs(int argc, char **argv) { (void)argc; (void)argv; return todo("jobs"); }
int sc_cli_job(int argc, char **argv) { (void)argc; (void)argv; return todo("job"); }
int sc_cli_logs(int argc, char **argv) { (void)argc; (void)argv; return todo("logs"); }
int sc_cli_cancel(int argc, char **argv) { (void)argc; (void)argv; return todo("cancel"); }
int sc_cli_nodes(int argc, char **argv) { (void)argc; (void)argv; return todo("nodes"); }
int sc_cli_token(int argc, char **argv) { (void)argc; (void)argv; return todo("token"); }
