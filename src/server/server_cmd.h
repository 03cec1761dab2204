/* The `supercell server` and `supercell up` commands. */
#ifndef SC_SERVER_CMD_H
#define SC_SERVER_CMD_H
int sc_cmd_server(int argc, char **argv);
int sc_cmd_up(int argc, char **argv);
#endif
