/* The `supercell agent` command: one node agent (see agent/agent.c). */
#ifndef SC_AGENT_CMD_H
#define SC_AGENT_CMD_H
int sc_cmd_agent(int argc, char **argv);
#endif
