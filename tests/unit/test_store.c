/*
 * Store tests against a real backend: SQLite in a temporary directory, or
 * with --pg PostgreSQL in a private cluster (store_backend.h): round trips
 * of every record, filters, log offsets and duplicates, group commit from
 * several threads, and persistence across close/reopen. The same tests
 * run against both, so both read back the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failalloc.h"
#include "store_backend.h"
#include "store/rows.h"
#include "store/store.h"
#include "util/error.h"

static struct sc_store *open_store(void)
{
  return tb_open();
}

static void put_job(struct sc_store *s, int64_t id, const char *tenant, int ntasks)
{
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_store_op op = {.kind = SC_STORE_JOB_INSERT};

  op.u.job.id = id;
  snprintf(op.u.job.name, sizeof op.u.job.name, "job-%lld", (long long)id);
  snprintf(op.u.job.tenant, sizeof op.u.job.tenant, "%s", tenant);
  op.u.job.spec = "{\"name\": \"x\"}";
  op.u.job.state = SC_JOB_PENDING;
  op.u.job.created_ms = 1000 + id;
  op.u.job.ntasks = ntasks;
  op.u.job.max_retries = 2;
  sc_store_batch_add(b, &op);
  assert_int_equal(sc_store_write(s, b), 0);
  sc_store_batch_free(b);
}

static void test_job_roundtrip(void **state)
{
  struct sc_store *s = open_store();
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_store_op op = {.kind = SC_STORE_TASK_PUT};
  struct sc_job_rec j;

  (void)state;
  put_job(s, 7, "acme", 2);
  op.u.task.job_id = 7;
  op.u.task.index = 1;
  op.u.task.state = SC_TASK_RUNNING;
  strcpy(op.u.task.node, "node-a");
  op.u.task.ndev = 2;
  op.u.task.devices[0] = 3;
  op.u.task.devices[1] = 5;
  strcpy(op.u.task.vendor, "nvidia");
  op.u.task.gpu_milli = 1000;
  op.u.task.exit_code = -1;
  op.u.task.signal = 9;
  op.u.task.pid = 4242;
  op.u.task.started_ms = 5000;
  sc_store_batch_add(b, &op);
  op.kind = SC_STORE_JOB_UPDATE;
  memset(&op.u.job, 0, sizeof op.u.job);
  op.u.job.id = 7;
  op.u.job.state = SC_JOB_FAILED;
  strcpy(op.u.job.reason, "killed by signal 9");
  op.u.job.started_ms = 5000;
  op.u.job.finished_ms = 6000;
  op.u.job.attempt = 1;
  sc_store_batch_add(b, &op);
  assert_int_equal(sc_store_write(s, b), 0);
  sc_store_batch_free(b);

  assert_int_equal(sc_store_job_get(s, 7, &j), 0);
  assert_string_equal(j.name, "job-7");
  assert_string_equal(j.tenant, "acme");
  assert_string_equal(j.spec, "{\"name\": \"x\"}");
  assert_int_equal(j.state, SC_JOB_FAILED);
  assert_string_equal(j.reason, "killed by signal 9");
  assert_int_equal(j.attempt, 1);
  assert_int_equal(j.max_retries, 2);
  assert_int_equal(j.created_ms, 1007);
  assert_int_equal(j.finished_ms, 6000);
  assert_int_equal(j.ntasks, 2);
  assert_int_equal(j.tasks[0].state, SC_TASK_PENDING);
  assert_int_equal(j.tasks[0].exit_code, -1);
  assert_int_equal(j.tasks[0].ndev, 0);
  assert_int_equal(j.tasks[1].state, SC_TASK_RUNNING);
  assert_string_equal(j.tasks[1].node, "node-a");
  assert_int_equal(j.tasks[1].ndev, 2);
  assert_int_equal(j.tasks[1].devices[1], 5);
  assert_int_equal(j.tasks[1].signal, 9);
  assert_int_equal(j.tasks[1].pid, 4242);
  sc_job_rec_release(&j);
  assert_int_equal(sc_store_job_get(s, 8, &j), SC_ENOENT);
  sc_store_close(s);
}

static void test_job_list_filters(void **state)
{
  struct sc_store *s = open_store();
  struct sc_job_filter f = {.state = -1, .limit = 100};
  struct sc_job_rec *jobs;
  int n;
  int64_t max;

  (void)state;
  for (int i = 1; i <= 10; i++)
    put_job(s, i, i % 2 ? "odd" : "even", 1);
  assert_int_equal(sc_store_job_list(s, &f, &jobs, &n), 0);
  assert_int_equal(n, 10);
  sc_store_free_jobs(jobs, n);
  f.tenant = "odd";
  f.after = 3;
  f.limit = 2;
  assert_int_equal(sc_store_job_list(s, &f, &jobs, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(jobs[0].id, 5);
  assert_int_equal(jobs[1].id, 7);
  sc_store_free_jobs(jobs, n);
  f.state = SC_JOB_RUNNING;
  assert_int_equal(sc_store_job_list(s, &f, &jobs, &n), 0);
  assert_int_equal(n, 0);
  sc_store_free_jobs(jobs, n);
  assert_int_equal(sc_store_jobs_active(s, &jobs, &n), 0);
  assert_int_equal(n, 10);
  assert_int_equal(jobs[0].ntasks, 1);
  sc_store_free_jobs(jobs, n);
  assert_int_equal(sc_store_max_job_id(s, &max), 0);
  assert_int_equal(max, 10);
  sc_store_close(s);
}

static void test_nodes_tokens(void **state)
{
  struct sc_store *s = open_store();
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_store_op op = {.kind = SC_STORE_NODE_PUT};
  struct sc_device_rec dev[2];
  struct sc_node_rec *nodes;
  struct sc_token_rec *tokens;
  int n;

  (void)state;
  strcpy(op.u.node.name, "node-a");
  op.u.node.cpu_milli = 16000;
  op.u.node.memory_mib = 65536;
  op.u.node.labels = "{\"region\": \"eu\"}";
  op.u.node.ndev = 2;
  op.u.node.dev = dev;
  for (int d = 0; d < 2; d++) {
    dev[d].index = d + 4;
    strcpy(dev[d].vendor, d ? "ascend" : "nvidia");
    strcpy(dev[d].model, d ? "910B" : "A100-80G");
    dev[d].memory_mib = 81920;
  }
  op.u.node.state = SC_NODE_READY;
  op.u.node.last_heartbeat_ms = 10;
  op.u.node.registered_ms = 10;
  sc_store_batch_add(b, &op);
  op.kind = SC_STORE_NODE_STATE;
  op.u.node.state = SC_NODE_LOST;
  op.u.node.last_heartbeat_ms = 20;
  op.u.node.labels = NULL;
  op.u.node.dev = NULL;
  op.u.node.ndev = 0;
  sc_store_batch_add(b, &op);
  op.kind = SC_STORE_TOKEN_PUT;
  memset(&op.u.token, 0, sizeof op.u.token);
  memset(op.u.token.hash, 0xab, sizeof op.u.token.hash);
  op.u.token.kind = SC_TOKEN_USER;
  strcpy(op.u.token.tenant, "acme");
  sc_store_batch_add(b, &op);
  assert_int_equal(sc_store_write(s, b), 0);
  sc_store_batch_free(b);

  assert_int_equal(sc_store_node_list(s, &nodes, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(nodes[0].name, "node-a");
  assert_string_equal(nodes[0].labels, "{\"region\": \"eu\"}");
  assert_int_equal(nodes[0].state, SC_NODE_LOST);
  assert_int_equal(nodes[0].last_heartbeat_ms, 20);
  assert_int_equal(nodes[0].memory_mib, 65536);
  assert_int_equal(nodes[0].ndev, 2);
  assert_int_equal(nodes[0].dev[1].index, 5);
  assert_string_equal(nodes[0].dev[1].vendor, "ascend");
  assert_string_equal(nodes[0].dev[1].model, "910B");
  assert_int_equal(nodes[0].dev[0].memory_mib, 81920);
  sc_store_free_nodes(nodes, n);
  assert_int_equal(sc_store_token_list(s, &tokens, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(tokens[0].kind, SC_TOKEN_USER);
  assert_int_equal(tokens[0].hash[31], 0xab);
  assert_string_equal(tokens[0].tenant, "acme");
  free(tokens);
  sc_store_close(s);
}

static void append_log_attempt(struct sc_store *s, int task, int attempt, int64_t offset,
                               const char *text)
{
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_store_op op = {.kind = SC_STORE_LOG_APPEND};

  op.u.log.job_id = 1;
  op.u.log.attempt = attempt;
  op.u.log.task = task;
  op.u.log.offset = offset;
  op.u.log.data = (char *)text;
  op.u.log.len = strlen(text);
  sc_store_batch_add(b, &op);
  assert_int_equal(sc_store_write(s, b), 0);
  sc_store_batch_free(b);
}

static void append_log(struct sc_store *s, int task, int64_t offset, const char *text)
{
  append_log_attempt(s, task, 0, offset, text);
}

static void expect_log(struct sc_store *s, int task, int64_t offset, size_t max,
                       const char *want, int64_t want_end)
{
  struct sc_log_query q = {
    .job_id = 1, .task = task, .offset = offset, .max = max, .attempt = -1};
  char *data;
  size_t len;
  int64_t end;

  assert_int_equal(sc_store_log_read(s, &q, &data, &len, &end), 0);
  assert_string_equal(data, want);
  assert_int_equal(len, strlen(want));
  assert_int_equal(end, want_end);
  free(data);
}

static void test_logs(void **state)
{
  struct sc_store *s = open_store();

  (void)state;
  put_job(s, 1, "default", 2);
  expect_log(s, 0, 0, 1024, "", 0);
  append_log(s, 0, 0, "hello ");
  append_log(s, 1, 0, "other\n");
  append_log(s, 0, 6, "world\n");
  append_log(s, 0, 6, "world\n");     /* duplicate retry: dropped */
  append_log(s, 0, 9, "ld\nmore\n");  /* overlap: only "more\n" kept */
  expect_log(s, 0, 0, 1024, "hello world\nmore\n", 17);
  expect_log(s, 0, 3, 1024, "lo world\nmore\n", 17);
  expect_log(s, 0, 3, 4, "lo w", 7);
  expect_log(s, 0, 17, 1024, "", 17);
  expect_log(s, 1, 0, 1024, "other\n", 6);
  expect_log(s, -1, 0, 1024, "hello other\nworld\nmore\n", 23);
  expect_log(s, -1, 8, 1024, "her\nworld\nmore\n", 23);
  /* A retry's output starts again at offset 0 and follows the first's. */
  append_log_attempt(s, 0, 1, 0, "again\n");
  append_log_attempt(s, 0, 1, 0, "again\n");
  append_log_attempt(s, 0, -1, 6, "x\n"); /* -1: the task row's attempt (0): a duplicate */
  expect_log(s, 0, 17, 1024, "again\n", 23);
  expect_log(s, 0, 0, 1024, "hello world\nmore\nagain\n", 23);
  sc_store_close(s);
}

struct writer_arg {
  struct sc_store *s;
  int base;
};

static void *writer_thread(void *p)
{
  struct writer_arg *a = p;

  for (int i = 0; i < 200; i++)
    put_job(a->s, a->base + i, "default", 1);
  return NULL;
}

static void test_group_commit_and_reopen(void **state)
{
  struct sc_store *s = open_store();
  pthread_t threads[8];
  struct writer_arg args[8];
  struct sc_job_rec *jobs;
  int n;
  int64_t max;

  (void)state;
  for (int i = 0; i < 8; i++) {
    args[i] = (struct writer_arg){s, 1 + i * 1000};
    assert_int_equal(pthread_create(&threads[i], NULL, writer_thread, &args[i]), 0);
  }
  for (int i = 0; i < 8; i++)
    pthread_join(threads[i], NULL);
  sc_store_close(s);
  s = open_store();
  assert_int_equal(sc_store_jobs_active(s, &jobs, &n), 0);
  assert_int_equal(n, 1600);
  sc_store_free_jobs(jobs, n);
  assert_int_equal(sc_store_max_job_id(s, &max), 0);
  assert_int_equal(max, 7200);
  sc_store_close(s);
}

static void test_failed_batch_alone(void **state)
{
  struct sc_store *s = open_store();
  struct sc_store_batch *good = sc_store_batch_new(), *bad = sc_store_batch_new();
  struct sc_store_op op = {.kind = SC_STORE_JOB_INSERT};
  struct sc_job_rec j;

  (void)state;
  put_job(s, 1, "default", 1);
  op.u.job.id = 1; /* duplicate primary key */
  strcpy(op.u.job.name, "dup");
  strcpy(op.u.job.tenant, "default");
  sc_store_batch_add(bad, &op);
  op.u.job.id = 2;
  sc_store_batch_add(good, &op);
  assert_int_equal(sc_store_submit(s, bad), 0);
  assert_int_equal(sc_store_submit(s, good), 0);
  assert_int_equal(sc_store_wait(s, bad), SC_ESTORE);
  assert_int_equal(sc_store_wait(s, good), 0);
  assert_int_equal(sc_store_job_get(s, 2, &j), 0);
  sc_job_rec_release(&j);
  assert_int_equal(sc_store_job_get(s, 1, &j), 0);
  assert_string_equal(j.name, "job-1");
  sc_job_rec_release(&j);
  sc_store_batch_free(good);
  sc_store_batch_free(bad);
  sc_store_close(s);
}

/* The devices column holds a JSON list (written and read with jansson). */
static void test_devices_are_json(void **state)
{
  struct sc_store *s = open_store();
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_store_op op = {.kind = SC_STORE_TASK_PUT};
  struct sc_task_rec t = {0};
  struct sc_job_rec j;
  char *text;

  (void)state;
  put_job(s, 3, "default", 1);
  op.u.task.job_id = 3;
  op.u.task.ndev = 3;
  op.u.task.devices[0] = 15;
  op.u.task.devices[1] = 0;
  op.u.task.devices[2] = 7;
  sc_store_batch_add(b, &op);
  assert_int_equal(sc_store_write(s, b), 0);
  sc_store_batch_free(b);
  text = tb_query_text("SELECT devices FROM tasks WHERE job_id = 3");
  assert_non_null(text);
  assert_string_equal(text, "[15,0,7]");
  free(text);
  assert_int_equal(sc_store_job_get(s, 3, &j), 0);
  assert_int_equal(j.tasks[0].ndev, 3);
  assert_int_equal(j.tasks[0].devices[0], 15);
  assert_int_equal(j.tasks[0].devices[2], 7);
  sc_job_rec_release(&j);
  sc_store_close(s);
  /* Texts that are not a list of device indices read as none. */
  assert_int_equal(sc_rows_task_devices_parse("[1, \"x\"]", &t), SC_EPARSE);
  assert_int_equal(t.ndev, 0);
  assert_int_equal(sc_rows_task_devices_parse("{}", &t), SC_EPARSE);
  assert_int_equal(sc_rows_task_devices_parse("[1, -2]", &t), SC_EPARSE);
  assert_int_equal(sc_rows_task_devices_parse("[2, 3]", &t), 0);
  assert_int_equal(t.ndev, 2);
}

/* An add that runs out of memory stays on the batch: the submit fails and
 * nothing of the batch is written, not even the ops added before. */
static void test_batch_error_sticky(void **state)
{
  struct sc_store *s = open_store();
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_store_op op = {.kind = SC_STORE_JOB_INSERT};
  struct sc_job_rec j;

  (void)state;
  strcpy(op.u.job.name, "a");
  strcpy(op.u.job.tenant, "default");
  op.u.job.spec = "{}";
  op.u.job.ntasks = 1;
  op.u.job.id = 1;
  sc_store_batch_add(b, &op);
  assert_int_equal(b->err, 0);
  op.u.job.id = 2;
  fa_fail_after(0, 0); /* the copy of the spec text */
  sc_store_batch_add(b, &op);
  fa_off();
  assert_int_equal(b->err, SC_ENOMEM);
  op.u.job.id = 3;
  sc_store_batch_add(b, &op); /* ignored: the batch already failed */
  assert_int_equal(b->n, 1);
  assert_int_equal(sc_store_submit(s, b), SC_ENOMEM);
  sc_store_batch_free(b);
  assert_int_equal(sc_store_job_get(s, 1, &j), SC_ENOENT);
  sc_store_batch_add(NULL, &op); /* a batch that could not be made */
  assert_int_equal(sc_store_submit(s, NULL), SC_ENOMEM);
  sc_store_close(s);
}

/* The fault-injecting wrapper: the Nth call fails, every Kth batch fails
 * (nothing of it written) or is acknowledged late. */
static void test_faulty_store(void **state)
{
  struct sc_store *inner = open_store(), *s;
  struct sc_store_faults f = {0};
  struct sc_store_fault_stats st;
  struct sc_job_rec j;
  int64_t max;

  (void)state;
  assert_int_equal(sc_store_faulty_new(inner, &s), 0);
  f.fail_call = 2;
  sc_store_faulty_set(s, &f);
  assert_int_equal(sc_store_max_job_id(s, &max), 0);
  assert_int_equal(sc_store_max_job_id(s, &max), SC_ESTORE);
  assert_int_equal(sc_store_max_job_id(s, &max), 0);
  f.fail_call = 0;
  f.fail_every = 3;
  sc_store_faulty_set(s, &f);
  for (int id = 1; id <= 9; id++) {
    struct sc_store_batch *b = sc_store_batch_new();
    struct sc_store_op op = {.kind = SC_STORE_JOB_INSERT};
    op.u.job.id = id;
    strcpy(op.u.job.name, "x");
    strcpy(op.u.job.tenant, "default");
    op.u.job.spec = "{}";
    op.u.job.ntasks = 1;
    sc_store_batch_add(b, &op);
    assert_int_equal(sc_store_write(s, b), id % 3 == 0 ? SC_ESTORE : 0);
    sc_store_batch_free(b);
  }
  for (int id = 1; id <= 9; id++) {
    assert_int_equal(sc_store_job_get(s, id, &j), id % 3 == 0 ? SC_ENOENT : 0);
    sc_job_rec_release(&j);
  }
  f.fail_every = 0;
  f.stall_every = 1;
  f.stall_ms = 100;
  sc_store_faulty_set(s, &f);
  put_job(s, 20, "default", 1);
  sc_store_faulty_stats(s, &st);
  assert_int_equal(st.failed_calls, 1);
  assert_int_equal(st.failed_batches, 3);
  assert_int_equal(st.stalled_batches, 1);
  assert_int_equal(st.batches, 10);
  sc_store_close(s); /* closes inner too */
}

/* Inserts array element id (index idx of the array first) in state. */
static void put_element(struct sc_store *s, int64_t id, int64_t first, int idx, int state)
{
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_store_op op = {.kind = SC_STORE_JOB_INSERT};

  op.u.job.id = id;
  snprintf(op.u.job.name, sizeof op.u.job.name, "arr");
  snprintf(op.u.job.tenant, sizeof op.u.job.tenant, "acme");
  op.u.job.spec = "{\"name\": \"arr\", \"tasks\": 2, \"array\": \"0-2\","
                  " \"resources\": {\"gpu\": 1}, \"command\": [\"x\"]}";
  op.u.job.ntasks = 2;
  op.u.job.array_id = first;
  op.u.job.array_index = idx;
  sc_store_batch_add(b, &op);
  op.kind = SC_STORE_JOB_UPDATE;
  op.u.job.state = state;
  sc_store_batch_add(b, &op);
  assert_int_equal(sc_store_write(s, b), 0);
  sc_store_batch_free(b);
}

/* Arrays in lists: collapsed to their first element with counts by state
 * (listed when any element is in the state asked), one array's elements,
 * one element; summaries carry the bounded spec and task counts. */
static void test_job_list_arrays(void **state)
{
  struct sc_store *s = open_store();
  struct sc_job_filter f = {.state = -1, .limit = 100, .collapse = true, .summary = true};
  struct sc_job_rec *jobs;
  int n;

  (void)state;
  put_job(s, 1, "acme", 1);
  put_element(s, 2, 2, 0, SC_JOB_SUCCEEDED);
  put_element(s, 3, 2, 1, SC_JOB_RUNNING);
  put_element(s, 4, 2, 2, SC_JOB_PENDING);
  put_job(s, 5, "acme", 3);
  assert_int_equal(sc_store_job_list(s, &f, &jobs, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(jobs[0].id, 1);
  assert_int_equal(jobs[1].id, 2);
  assert_int_equal(jobs[1].array_size, 3);
  assert_int_equal(jobs[1].array_counts[SC_JOB_RUNNING], 1);
  assert_int_equal(jobs[1].array_counts[SC_JOB_SUCCEEDED], 1);
  assert_int_equal(jobs[1].counts[SC_TASK_PENDING], 2);
  assert_non_null(strstr(jobs[1].spec, "\"tasks\""));
  assert_non_null(strstr(jobs[1].spec, "\"array\""));
  assert_null(strstr(jobs[1].spec, "command"));
  assert_int_equal(jobs[2].id, 5);
  assert_int_equal(jobs[2].counts[SC_TASK_PENDING], 3);
  sc_store_free_jobs(jobs, n);
  f.state = SC_JOB_RUNNING; /* the array, for its running element */
  assert_int_equal(sc_store_job_list(s, &f, &jobs, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(jobs[0].id, 2);
  sc_store_free_jobs(jobs, n);
  f = (struct sc_job_filter){.state = -1, .limit = 2, .array_id = 2, .array_index = -1,
                             .with_tasks = true, .after = 2};
  assert_int_equal(sc_store_job_list(s, &f, &jobs, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(jobs[0].id, 3);
  assert_int_equal(jobs[0].array_index, 1);
  assert_int_equal(jobs[0].ntasks, 2);
  assert_int_equal(jobs[1].tasks[1].index, 1);
  sc_store_free_jobs(jobs, n);
  f.array_index = 2;
  f.after = 0;
  assert_int_equal(sc_store_job_list(s, &f, &jobs, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(jobs[0].id, 4);
  sc_store_free_jobs(jobs, n);
  sc_store_close(s);
}

static void put_op(struct sc_store *s, const struct sc_store_op *op)
{
  struct sc_store_batch *b = sc_store_batch_new();

  sc_store_batch_add(b, op);
  assert_int_equal(sc_store_write(s, b), 0);
  sc_store_batch_free(b);
}

static void put_node_at(struct sc_store *s, const char *name, int64_t registered_ms)
{
  struct sc_store_op op = {.kind = SC_STORE_NODE_PUT};

  snprintf(op.u.node.name, sizeof op.u.node.name, "%s", name);
  op.u.node.registered_ms = registered_ms;
  op.u.node.cpu_milli = 1000;
  put_op(s, &op);
}

static void put_tenant(struct sc_store *s, const char *name, int64_t id)
{
  struct sc_store_op op = {.kind = SC_STORE_TENANT_PUT};

  snprintf(op.u.tenant.name, sizeof op.u.tenant.name, "%s", name);
  op.u.tenant.id = id;
  op.u.tenant.weight = 2.5;
  op.u.tenant.rules = "{\"limit\": {\"gpu\": 8000}}";
  put_op(s, &op);
}

/* The orders and replacements every backend keeps: nodes by registration
 * then name (bytewise), tenants by id (a tenant put again with an id
 * another holds replaces that one), attempts, task pages and heads, and
 * prices by item, case folded, then time. */
static void test_reads_agree(void **state)
{
  struct sc_store *s = open_store();
  struct sc_store_op op = {.kind = SC_STORE_ATTEMPT_PUT};
  struct sc_node_rec *nodes;
  struct sc_tenant_rec *tenants;
  struct sc_attempt_rec *attempts;
  struct sc_task_rec *tasks;
  struct sc_price_rec *prices;
  struct sc_job_rec head;
  int n;

  (void)state;
  put_node_at(s, "b", 0);
  put_node_at(s, "a", 20);
  put_node_at(s, "B", 20);
  put_node_at(s, "_x", 20);
  assert_int_equal(sc_store_node_list(s, &nodes, &n), 0);
  assert_int_equal(n, 4);
  assert_string_equal(nodes[0].name, "b");   /* no registration time first */
  assert_string_equal(nodes[1].name, "B");   /* then bytewise: B < _ < a */
  assert_string_equal(nodes[2].name, "_x");
  assert_string_equal(nodes[3].name, "a");
  sc_store_free_nodes(nodes, n);
  put_tenant(s, "zeta", 1);
  put_tenant(s, "alpha", 2);
  put_tenant(s, "beta", 1); /* takes id 1 from zeta */
  assert_int_equal(sc_store_tenant_list(s, &tenants, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(tenants[0].name, "beta");
  assert_string_equal(tenants[1].name, "alpha");
  assert_true(tenants[1].weight == 2.5);
  assert_string_equal(tenants[1].rules, "{\"limit\": {\"gpu\": 8000}}");
  sc_store_free_tenants(tenants, n);
  put_job(s, 9, "acme", 5);
  for (int a = 2; a >= 1; a--) {
    op.u.attempt.job_id = 9;
    op.u.attempt.attempt = a;
    snprintf(op.u.attempt.reason, sizeof op.u.attempt.reason, "lost %d", a);
    op.u.attempt.started_ms = 100 * a;
    put_op(s, &op);
  }
  assert_int_equal(sc_store_attempt_list(s, 9, &attempts, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(attempts[0].attempt, 1);
  assert_string_equal(attempts[1].reason, "lost 2");
  assert_int_equal(attempts[1].finished_ms, 0);
  free(attempts);
  assert_int_equal(sc_store_task_page(s, 9, 1, 2, &tasks, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(tasks[0].index, 2);
  assert_int_equal(tasks[1].index, 3);
  assert_int_equal(tasks[1].exit_code, -1);
  free(tasks);
  assert_int_equal(sc_store_job_head(s, 9, &head), 0);
  assert_int_equal(head.counts[SC_TASK_PENDING], 5);
  assert_null(head.tasks);
  sc_job_rec_release(&head);
  assert_int_equal(sc_store_job_head(s, 10, &head), SC_ENOENT);
  op.kind = SC_STORE_PRICE_PUT;
  const char *items[] = {"cpu", "H100", "a100", "A100"};
  for (int i = 0; i < 4; i++) {
    memset(&op.u.price, 0, sizeof op.u.price);
    snprintf(op.u.price.item, sizeof op.u.price.item, "%s", items[i]);
    op.u.price.from_ms = i == 3 ? 5 : 10;
    op.u.price.per_hour = i + 0.25;
    op.u.price.spot_per_hour = i == 0 ? 0.1 : -1;
    put_op(s, &op);
  }
  op.u.price.from_ms = 10; /* "A100" at 10 replaces "a100" at 10 */
  put_op(s, &op);
  assert_int_equal(sc_store_price_list(s, &prices, &n), 0);
  assert_int_equal(n, 4);
  assert_string_equal(prices[0].item, "A100");
  assert_int_equal(prices[0].from_ms, 5);
  assert_string_equal(prices[1].item, "A100");
  assert_int_equal(prices[1].from_ms, 10);
  assert_true(prices[1].per_hour == 3.25);
  assert_string_equal(prices[2].item, "cpu");
  assert_true(prices[2].spot_per_hour == 0.1);
  assert_string_equal(prices[3].item, "H100");
  assert_true(prices[3].spot_per_hour == -1);
  free(prices);
  sc_store_close(s);
}

/* PostgreSQL: every commit checks the lease epoch it was given, and one
 * that finds another fails whole, nothing of it written. */
static void pg_fence(void **state)
{
  struct sc_store *s;
  struct sc_job_rec j;

  (void)state;
  if (!tb_pg())
    skip();
  s = open_store();
  tb_exec("UPDATE lease SET epoch = 1, holder = 'me'");
  assert_int_equal(sc_store_pg_fence(s, 1), 0);
  put_job(s, 1, "acme", 1);
  tb_exec("UPDATE lease SET epoch = 2, holder = 'successor'");
  {
    struct sc_store_batch *b = sc_store_batch_new(), *b2 = sc_store_batch_new();
    struct sc_store_op op = {.kind = SC_STORE_JOB_INSERT};
    op.u.job.id = 2;
    strcpy(op.u.job.name, "x");
    strcpy(op.u.job.tenant, "acme");
    op.u.job.ntasks = 1;
    sc_store_batch_add(b, &op);
    op.u.job.id = 3;
    sc_store_batch_add(b2, &op);
    assert_int_equal(sc_store_submit(s, b), 0);
    assert_int_equal(sc_store_submit(s, b2), 0);
    assert_int_equal(sc_store_wait(s, b), SC_ESTORE);
    assert_int_equal(sc_store_wait(s, b2), SC_ESTORE);
    sc_store_batch_free(b);
    sc_store_batch_free(b2);
  }
  assert_int_equal(sc_store_job_get(s, 1, &j), 0);
  sc_job_rec_release(&j);
  assert_int_equal(sc_store_job_get(s, 2, &j), SC_ENOENT);
  assert_int_equal(sc_store_job_get(s, 3, &j), SC_ENOENT);
  assert_int_equal(sc_store_pg_fence(s, 2), 0); /* the new epoch: commits again */
  put_job(s, 4, "acme", 1);
  assert_int_equal(sc_store_pg_fence(s, 0), 0); /* no check */
  put_job(s, 5, "acme", 1);
  sc_store_close(s);
}

/* PostgreSQL: a new database is migrated to the latest version once; a
 * database newer than the binary is refused. */
static void pg_migrations(void **state)
{
  struct sc_store *s;
  char *version;

  (void)state;
  if (!tb_pg())
    skip();
  s = open_store();
  sc_store_close(s);
  s = open_store(); /* nothing to do the second time */
  sc_store_close(s);
  version = tb_query_text("SELECT version FROM supercell_schema");
  assert_string_equal(version, "9");
  free(version);
  tb_exec("UPDATE supercell_schema SET version = 99");
  assert_int_equal(sc_store_open(&sc_store_pg, tb_where(), &s), SC_ESTORE);
  assert_null(s);
  assert_int_equal(sc_store_pg_fence(NULL, 1), SC_EINVAL);
}

/* PostgreSQL: connections the server drops (a restart, a failover) are
 * replaced: a read is retried on a new one at once; the commit that was
 * in flight fails (its outcome is unknown to us) and the next reconnects. */
static void pg_reconnect(void **state)
{
  struct sc_store *s;
  struct sc_store_batch *b;
  struct sc_store_op op = {.kind = SC_STORE_JOB_INSERT};
  struct sc_job_rec j;
  int64_t max;

  (void)state;
  if (!tb_pg())
    skip();
  s = open_store();
  put_job(s, 1, "acme", 1);
  assert_int_equal(sc_store_max_job_id(s, &max), 0); /* a pooled connection */
  tb_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
          " WHERE application_name = 'supercell'");
  assert_int_equal(sc_store_job_get(s, 1, &j), 0);
  sc_job_rec_release(&j);
  op.u.job.id = 2;
  strcpy(op.u.job.name, "x");
  strcpy(op.u.job.tenant, "acme");
  b = sc_store_batch_new();
  sc_store_batch_add(b, &op);
  assert_int_equal(sc_store_write(s, b), SC_ESTORE);
  sc_store_batch_free(b);
  put_job(s, 3, "acme", 1);
  assert_int_equal(sc_store_max_job_id(s, &max), 0);
  assert_int_equal(max, 3);
  sc_store_close(s);
}

static void test_names(void **state)
{
  (void)state;
  assert_string_equal(sc_job_state_name(SC_JOB_CANCELLED), "cancelled");
  assert_int_equal(sc_job_state_parse("running"), SC_JOB_RUNNING);
  assert_int_equal(sc_job_state_parse("bogus"), -1);
  assert_int_equal(sc_task_state_parse("lost"), SC_TASK_LOST);
  assert_int_equal(sc_token_kind_parse("agent"), SC_TOKEN_AGENT);
  assert_true(sc_task_state_final(SC_TASK_LOST));
  assert_false(sc_job_state_final(SC_JOB_RUNNING));
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_job_roundtrip, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(test_job_list_filters, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(test_nodes_tokens, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(test_logs, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(test_group_commit_and_reopen, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(test_failed_batch_alone, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(test_devices_are_json, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(test_batch_error_sticky, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(test_faulty_store, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(test_job_list_arrays, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(test_reads_agree, tb_setup, tb_teardown),
    cmocka_unit_test(test_names),
    /* PostgreSQL only (skipped on SQLite): run by unit/store/postgres */
    cmocka_unit_test_setup_teardown(pg_fence, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(pg_migrations, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(pg_reconnect, tb_setup, tb_teardown),
  };

  tb_parse_args(&argc, &argv);
  return SC_RUN_TESTS(argc, argv, tests, tb_group_setup, tb_group_teardown);
}
