/* User commands; each talks to the controller over the REST API only. */
#ifndef SC_CLI_H
#define SC_CLI_H
int sc_cli_submit(int argc, char **argv);
int sc_cli_jobs(int argc, char **argv);
int sc_cli_job(int argc, char **argv);
int sc_cli_logs(int argc, char **argv);
int sc_cli_cancel(int argc, char **argv);
int sc_cli_nodes(int argc, char **argv);
int sc_cli_token(int argc, char **argv);
#endif
