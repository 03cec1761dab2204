/*
 * Reading a secret token from a file (admin.token, agent.token): the first
 * word of the file, as the controller writes it. Shared by the CLI and the
 * agent.
 */
#ifndef SC_UTIL_TOKEN_FILE_H
#define SC_UTIL_TOKEN_FILE_H

/* Returns the token in path as a new string (free it), or NULL when the
 * file cannot be read or holds no token. */
char *sc_token_file_read(const char *path);

#endif
