/* The `supercell sim` command: trace-driven experiments (see sim/). */
#ifndef SC_SIM_CMD_H
#define SC_SIM_CMD_H
int sc_cmd_sim(int argc, char **argv);
#endif
