/*
 * The SQL of the SQLite backend: schema and the statements the writer
 * thread keeps prepared. Kept apart so sqlite.c reads as code.
 */
#ifndef SC_STORE_SQLITE_SQL_H
#define SC_STORE_SQLITE_SQL_H

enum sc_sql_stmt {
  SQL_BEGIN, SQL_COMMIT, SQL_ROLLBACK, SQL_SAVEPOINT, SQL_RELEASE, SQL_ROLLBACK_TO,
  SQL_JOB_INSERT, SQL_JOB_UPDATE, SQL_TASK_PUT, SQL_NODE_PUT, SQL_NODE_STATE,
  SQL_TOKEN_PUT, SQL_LOG_TASK_END, SQL_LOG_JOB_END, SQL_LOG_APPEND,
  SQL_LOG_ATTEMPT_END, SQL_TASK_ATTEMPT, SQL_TENANT_PUT, SQL_ATTEMPT_PUT,
  SQL_USAGE_PUT, SQL_PRICE_PUT, SQL_NSTMTS
};

extern const char *const sc_sql_stmts[SQL_NSTMTS];
extern const char sc_sql_schema[];
extern const char sc_sql_migrate_1[];
extern const char sc_sql_log_index[];
extern const char sc_sql_job_select[];
extern const char sc_sql_job_summary_select[];
extern const char sc_sql_task_counts[];
extern const char sc_sql_task_page[];
extern const char sc_sql_job_get[];
extern const char sc_sql_jobs_active[];
extern const char sc_sql_tasks_of_job[];
extern const char sc_sql_nodes[];
extern const char sc_sql_tokens[];
extern const char sc_sql_tenants[];
extern const char sc_sql_attempts[];
extern const char sc_sql_log_task_att_start[];
extern const char sc_sql_log_task_att_read[];
extern const char sc_sql_log_job_att_start[];
extern const char sc_sql_log_job_att_read[];
extern const char sc_sql_migrate_2[];
extern const char sc_sql_migrate_3[];
extern const char sc_sql_migrate_4[];
extern const char sc_sql_migrate_5[];
extern const char sc_sql_migrate_6[];
extern const char sc_sql_migrate_7[];
extern const char sc_sql_migrate_8[];
extern const char sc_sql_array_counts[];
extern const char sc_sql_log_task_start[];
extern const char sc_sql_log_task_read[];
extern const char sc_sql_log_job_start[];
extern const char sc_sql_log_job_read[];

#endif
