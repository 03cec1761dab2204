/*
 * Error codes shared by every module. Functions that can fail return 0 or a
 * negative SC_E* code; sc_strerror() names it. One X-macro table keeps codes
 * and messages together (as libuv's UV_ERRNO_MAP does).
 */
#ifndef SC_UTIL_ERROR_H
#define SC_UTIL_ERROR_H

#define SC_ERRNO_MAP(X)                                  \
  X(NOMEM, "out of memory")                              \
  X(INVAL, "invalid argument")                           \
  X(IO, "input/output error")                            \
  X(NOENT, "no such file or object")                     \
  X(PARSE, "parse error")                                \
  X(RANGE, "value out of range")                         \
  X(EXIST, "already exists")                             \
  X(NOFIT, "does not fit")                               \
  X(STATE, "invalid state for this operation")           \
  X(AUTH, "not authenticated")                           \
  X(PERM, "permission denied")                           \
  X(TOOBIG, "too large")                                 \
  X(BUSY, "resource busy")                               \
  X(STORE, "storage error")                              \
  X(NET, "network error")                                \
  X(TIMEOUT, "timed out")                                \
  X(AGAIN, "nothing yet: waiting")

enum sc_errno {
  SC_OK = 0,
#define SC_ERR_ENUM(name, msg) SC_E##name,
  SC__ERR_BASE = -1000,
  SC_ERRNO_MAP(SC_ERR_ENUM)
#undef SC_ERR_ENUM
  SC__ERR_END
};

/* Returns the static message for an SC_E* code (or "unknown error"). */
const char *sc_strerror(int code);

/* Returns the short name ("NOMEM") for an SC_E* code, for logs and JSON. */
const char *sc_errname(int code);

#endif
