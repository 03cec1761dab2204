/*
 * Minimal leveled logging to stderr for the server, agent and tools. Library
 * code in core never logs; it returns codes. Thread-safe (one write per line).
 */
#ifndef SC_UTIL_LOG_H
#define SC_UTIL_LOG_H

enum sc_log_level { SC_LOG_DEBUG, SC_LOG_INFO, SC_LOG_WARN, SC_LOG_ERROR };

/* Sets the minimum level printed (default SC_LOG_INFO) and a component tag. */
void sc_log_setup(enum sc_log_level min, const char *component);

void sc_log(enum sc_log_level level, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

#define sc_debug(...) sc_log(SC_LOG_DEBUG, __VA_ARGS__)
#define sc_info(...) sc_log(SC_LOG_INFO, __VA_ARGS__)
#define sc_warn(...) sc_log(SC_LOG_WARN, __VA_ARGS__)
#define sc_error(...) sc_log(SC_LOG_ERROR, __VA_ARGS__)

#endif
