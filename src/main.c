/*
 * supercell: one binary, subcommands dispatched from a table (as git's
 * commands[]). Each module owns its commands' parsing and output.
 */
#include <stdio.h>
#include <string.h>

#include "agent/agent_cmd.h"
#include "cli/cli.h"
#include "server/server_cmd.h"
#include "sim/sim_cmd.h"

struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
};

static const struct command commands[] = {
  {"up", sc_cmd_up, "run a controller and a local agent on this machine"},
  {"server", sc_cmd_server, "run the controller (REST API, scheduler, store)"},
  {"agent", sc_cmd_agent, "run a node agent"},
  {"submit", sc_cli_submit, "submit a job (YAML/JSON file, - or flags)"},
  {"sbatch", sc_cli_sbatch, "submit a Slurm batch script (#SBATCH directives)"},
  {"jobs", sc_cli_jobs, "list jobs"},
  {"job", sc_cli_job, "show one job and its tasks"},
  {"logs", sc_cli_logs, "print or follow a job's output"},
  {"cancel", sc_cli_cancel, "cancel a job"},
  {"hold", sc_cli_hold, "keep a pending job from starting"},
  {"release", sc_cli_release_job, "let a held job start"},
  {"checkpoint", sc_cli_checkpoint, "record that a job saved its progress (from its task)"},
  {"preempt", sc_cli_preempt, "evict a running job now, requeued, with notice (admin)"},
  {"nodes", sc_cli_nodes, "list nodes"},
  {"token", sc_cli_token, "create, list and revoke access tokens (admin)"},
  {"tenant", sc_cli_tenant, "the tenant tree: guarantees, limits, regions (admin writes)"},
  {"usage", sc_cli_usage, "report GPU, CPU and memory hours and their cost"},
  {"price", sc_cli_price, "list prices, set a price from a time on (admin)"},
  {"sim", sc_cmd_sim, "replay a trace against placement policies"},
  {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
  fprintf(out, "usage: supercell <command> [options]\n\ncommands:\n");
  for (const struct command *c = commands; c->name; c++)
    fprintf(out, "  %-10s %s\n", c->name, c->help);
  fprintf(out, "\nRun 'supercell <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("supercell 0.1.0\n");
    return 0;
  }
  for (const struct command *c = commands; c->name; c++)
    if (strcmp(argv[1], c->name) == 0)
      return c->run(argc - 1, argv + 1);
  fprintf(stderr, "supercell: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
