/*
 * How the API writes identifiers and times: job ids ("j-000123"), task ids
 * ("j-000123.4") and timestamps (RFC 3339 UTC with milliseconds). A leaf:
 * the codecs and the controller both include it, and it includes neither.
 */
#ifndef SC_SERVER_IDS_H
#define SC_SERVER_IDS_H

#include <stddef.h>
#include <stdint.h>

/* Job ids as the API writes them ("j-000123") and back (SC_EINVAL). */
void sc_job_id_format(int64_t id, char *buf, size_t size);
int sc_job_id_parse(const char *text, int64_t *id);

/* An array element "j-000123_7" (its array's id, its index), and a job
 * reference back: "j-000123" (*index -1) or "j-000123_7" (SC_EINVAL). */
void sc_job_element_format(int64_t array_id, int index, char *buf, size_t size);
int sc_job_ref_parse(const char *text, int64_t *id, int *index);

/* Task ids "j-000123.4" and back (SC_EINVAL; index < SC_SPEC_MAX_TASKS). */
void sc_task_id_format(int64_t job, int index, char *buf, size_t size);
int sc_task_id_parse(const char *text, int64_t *job, int *index);

/* Writes Unix ms as RFC 3339 UTC with milliseconds ("" for 0). */
void sc_time_format(int64_t ms, char *buf, size_t size);

#endif
