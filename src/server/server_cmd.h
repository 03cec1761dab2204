/* The `supercell server` and `supercell up` commands. */
#ifndef SC_SERVER_CMD_H
#define SC_SERVER_CMD_H

/* The exit status of a leader that lost its lease (EX_TEMPFAIL): a
 * supervisor's restart (systemd's Restart=on-failure) brings it back as a
 * standby. */
#define SC_EXIT_DEPOSED 75

int sc_cmd_server(int argc, char **argv);
int sc_cmd_up(int argc, char **argv);
#endif
