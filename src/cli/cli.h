/*
 * User commands; each talks to the controller over the REST API only
 * (docs/control-plane-contract.md). Each takes main's argc/argv shifted so
 * argv[0] is the command name, prints a table (or the API's JSON with
 * -o json) and returns the exit code: 0 ok, 1 the server refused (its
 * message is printed as `supercell: <message> (field '<field>')`), 2 a
 * usage error, 3 the server cannot be reached.
 */
#ifndef SC_CLI_H
#define SC_CLI_H
/* submit FILE|- | [flags] -- COMMAND...: prints the new job's id. */
int sc_cli_submit(int argc, char **argv);
/* sbatch [sbatch options] SCRIPT [ARGS]: a Slurm batch script. */
int sc_cli_sbatch(int argc, char **argv);
/* jobs [--state S] [--tenant T] [--limit N | --all]. */
int sc_cli_jobs(int argc, char **argv);
/* job ID: one job and its tasks. */
int sc_cli_job(int argc, char **argv);
/* logs ID [--task N] [-f]: output, followed with -f until the task ends. */
int sc_cli_logs(int argc, char **argv);
/* hold ID / release ID. */
int sc_cli_hold(int argc, char **argv);
int sc_cli_release_job(int argc, char **argv);
/* cancel ID. */
int sc_cli_cancel(int argc, char **argv);
/* `supercell checkpoint [JOB]` (from inside a task: its own job) and
 * `supercell preempt JOB` (admin). */
int sc_cli_checkpoint(int argc, char **argv);
int sc_cli_preempt(int argc, char **argv);
/* nodes: nodes with CPU, memory, devices, labels. */
int sc_cli_nodes(int argc, char **argv);
/* token create --tenant NAME [--kind user|agent|metrics] (admin). */
int sc_cli_token(int argc, char **argv);
/* tenant list | tenant set NAME --run-as USER. */
int sc_cli_tenant(int argc, char **argv);
/* `supercell usage` and `supercell price` (cli_usage.c). */
int sc_cli_usage(int argc, char **argv);
int sc_cli_price(int argc, char **argv);
#endif
