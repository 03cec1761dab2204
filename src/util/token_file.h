/*
 * Secret token files (admin.token, agent.token, an agent's node.token):
 * the first word of the file. Written with mode 0600 through a temporary
 * file, fsync and rename, so a crash leaves the old token or the new one.
 * Shared by the controller, the CLI and the agent.
 */
#ifndef SC_UTIL_TOKEN_FILE_H
#define SC_UTIL_TOKEN_FILE_H

/* Returns the token in path as a new string (free it), or NULL when the
 * file cannot be read or holds no token. */
char *sc_token_file_read(const char *path);

/* Writes token and a newline to path (mode 0600, atomically): 0 or SC_EIO. */
int sc_token_file_write(const char *path, const char *token);

#endif
