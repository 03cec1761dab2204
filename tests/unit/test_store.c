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

#include <jansson.h>
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
  assert_string_equal(version, "10");
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

/* ---- PostgreSQL reads what SQLite reads ---- */

static uint32_t rng_state = 12345;

static int rnd(int n)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return (int)(rng_state % (uint32_t)n);
}

static const char *const names[] = {"a", "b", "B", "_x", "a-1"};

/* The same batch into both stores. */
static void put_both(struct sc_store *x, struct sc_store *y, const struct sc_store_op *ops,
                     int n)
{
  struct sc_store *both[2] = {x, y};

  for (int k = 0; k < 2; k++) {
    struct sc_store_batch *b = sc_store_batch_new();
    for (int i = 0; i < n; i++)
      sc_store_batch_add(b, &ops[i]);
    assert_int_equal(sc_store_write(both[k], b), 0);
    sc_store_batch_free(b);
  }
}

/* A history of every kind of op, drawn from a fixed seed. */
static void fill_both(struct sc_store *x, struct sc_store *y)
{
  static char spec[] = "{\"name\": \"j\", \"tasks\": 2, \"resources\": {\"gpu\": 1,"
                       " \"cpu_milli\": 100}, \"models\": [\"H100\"], \"command\": [\"x\"]}";
  struct sc_store_op op;

  for (int t = 0; t < 5; t++) {
    memset(&op, 0, sizeof op);
    op.kind = SC_STORE_TENANT_PUT;
    snprintf(op.u.tenant.name, sizeof op.u.tenant.name, "%s", names[t]);
    snprintf(op.u.tenant.parent, sizeof op.u.tenant.parent, "%s", t > 1 ? names[t % 2] : "");
    op.u.tenant.id = t + 1;
    op.u.tenant.weight = 1 + t / 4.0;
    put_both(x, y, &op, 1);
  }
  for (int i = 0; i < 12; i++) {
    memset(&op, 0, sizeof op);
    op.kind = SC_STORE_NODE_PUT;
    snprintf(op.u.node.name, sizeof op.u.node.name, "%s-%d", names[rnd(5)], i % 4);
    op.u.node.registered_ms = rnd(3) * 1000;
    op.u.node.state = rnd(2);
    op.u.node.labels = "{\"region\": \"eu\"}";
    put_both(x, y, &op, 1);
    memset(&op, 0, sizeof op);
    op.kind = SC_STORE_TOKEN_PUT;
    memset(op.u.token.hash, i * 7 + 1, sizeof op.u.token.hash);
    op.u.token.kind = rnd(3);
    snprintf(op.u.token.tenant, sizeof op.u.token.tenant, "%s", names[rnd(5)]);
    op.u.token.created_ms = rnd(3) * 10;
    snprintf(op.u.token.id, sizeof op.u.token.id, "tk-%s%d", rnd(2) ? "A" : "a", i); /* unique */
    put_both(x, y, &op, 1);
  }
  for (int64_t id = 1; id <= 120; id++) {
    struct sc_store_op ops[3];
    int n = 0;
    bool element = id > 40 && id <= 60; /* arrays 41-50, 51-60 */
    memset(ops, 0, sizeof ops);
    ops[n].kind = SC_STORE_JOB_INSERT;
    ops[n].u.job.id = id;
    snprintf(ops[n].u.job.name, sizeof ops[n].u.job.name, "job %lld", (long long)id);
    snprintf(ops[n].u.job.tenant, sizeof ops[n].u.job.tenant, "%s", names[rnd(5)]);
    ops[n].u.job.priority = rnd(3);
    ops[n].u.job.spec = spec;
    ops[n].u.job.ntasks = 1 + rnd(3);
    ops[n].u.job.created_ms = 1000 + id;
    ops[n].u.job.array_id = element ? (id - 1) / 10 * 10 + 1 : 0;
    ops[n].u.job.array_index = element ? (int)((id - 1) % 10) : -1;
    ops[n + 1] = ops[n];
    ops[++n].kind = SC_STORE_JOB_UPDATE;
    ops[n].u.job.state = rnd(SC_JOB_NSTATES);
    if (rnd(2))
      snprintf(ops[n].u.job.reason, sizeof ops[n].u.job.reason, "why %d", rnd(9));
    ops[n].u.job.started_ms = rnd(2) * (2000 + id);
    ops[n].u.job.held = rnd(4) == 0;
    n++;
    ops[n].kind = SC_STORE_TASK_PUT;
    ops[n].u.task.job_id = id;
    ops[n].u.task.state = rnd(SC_TASK_NSTATES);
    snprintf(ops[n].u.task.node, sizeof ops[n].u.task.node, "%s", rnd(2) ? "b-1" : "");
    ops[n].u.task.ndev = rnd(3);
    ops[n].u.task.devices[1] = 4;
    ops[n].u.task.exit_code = rnd(3) - 1;
    ops[n].u.task.signal = -1;
    n++;
    put_both(x, y, ops, n);
    if (id % 9 == 0) {
      memset(&op, 0, sizeof op);
      op.kind = SC_STORE_ATTEMPT_PUT;
      op.u.attempt.job_id = id;
      op.u.attempt.attempt = rnd(3);
      put_both(x, y, &op, 1);
    }
  }
  for (int i = 0; i < 60; i++) {
    char chunk[32];
    memset(&op, 0, sizeof op);
    op.kind = SC_STORE_LOG_APPEND;
    op.u.log.job_id = 1 + rnd(3);
    op.u.log.task = rnd(2);
    op.u.log.attempt = rnd(3) - 1;
    op.u.log.offset = rnd(40);
    snprintf(chunk, sizeof chunk, "%d:%.*s\n", i, rnd(12), "abcdefghijklmnop");
    op.u.log.data = chunk;
    op.u.log.len = strlen(chunk);
    put_both(x, y, &op, 1);
  }
  for (int i = 0; i < 40; i++) {
    memset(&op, 0, sizeof op);
    op.kind = SC_STORE_USAGE_PUT;
    op.u.usage.job_id = 1 + rnd(30);
    op.u.usage.task = rnd(2);
    op.u.usage.attempt = rnd(2);
    snprintf(op.u.usage.tenant, sizeof op.u.usage.tenant, "%s", names[rnd(5)]);
    snprintf(op.u.usage.model, sizeof op.u.usage.model, "%s", rnd(2) ? "H100" : "a100");
    snprintf(op.u.usage.region, sizeof op.u.usage.region, "%s", rnd(2) ? "eu" : "");
    op.u.usage.devices = 1 + rnd(4);
    op.u.usage.gpu_milli = rnd(3) ? 1000 : 250;
    op.u.usage.cpu_milli = 1000 * rnd(8);
    op.u.usage.memory_mib = 1024 * rnd(8);
    op.u.usage.spot = rnd(2);
    op.u.usage.start_ms = 86400000LL * 20000 + 3600000LL * rnd(60);
    op.u.usage.end_ms = rnd(4) ? op.u.usage.start_ms + 600000LL * (1 + rnd(50)) : 0;
    op.u.usage.how = rnd(SC_USAGE_NENDS);
    op.u.usage.exit_code = rnd(2) - 1;
    op.u.usage.signal = -1;
    put_both(x, y, &op, 1);
  }
  for (int i = 0; i < 8; i++) {
    memset(&op, 0, sizeof op);
    op.kind = SC_STORE_PRICE_PUT;
    snprintf(op.u.price.item, sizeof op.u.price.item, "%s",
             (const char *[]){"H100", "h100", "A100", "cpu", "memory"}[rnd(5)]);
    op.u.price.from_ms = 86400000LL * 20000 + 3600000LL * rnd(40);
    op.u.price.per_hour = 0.5 + rnd(8);
    op.u.price.spot_per_hour = rnd(2) ? 0.25 * rnd(4) : -1;
    put_both(x, y, &op, 1);
  }
}

static void same_spec(const char *a, const char *b)
{
  json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);

  if (!ja || !jb || !json_equal(ja, jb))
    fail_msg("specs differ: %s | %s", a, b);
  json_decref(ja);
  json_decref(jb);
}

static void same_job(const struct sc_job_rec *a, const struct sc_job_rec *b)
{
  assert_int_equal(a->id, b->id);
  assert_string_equal(a->name, b->name);
  assert_string_equal(a->tenant, b->tenant);
  assert_int_equal(a->priority, b->priority);
  same_spec(a->spec, b->spec);
  assert_int_equal(a->state, b->state);
  assert_string_equal(a->reason, b->reason);
  assert_int_equal(a->created_ms, b->created_ms);
  assert_int_equal(a->started_ms, b->started_ms);
  assert_int_equal(a->finished_ms, b->finished_ms);
  assert_int_equal(a->held, b->held);
  assert_int_equal(a->array_id, b->array_id);
  assert_int_equal(a->array_index, b->array_index);
  assert_int_equal(a->array_size, b->array_size);
  assert_memory_equal(a->array_counts, b->array_counts, sizeof a->array_counts);
  assert_memory_equal(a->counts, b->counts, sizeof a->counts);
  assert_int_equal(a->ntasks, b->ntasks);
  for (int i = 0; a->tasks && b->tasks && i < a->ntasks; i++)
    assert_memory_equal(&a->tasks[i], &b->tasks[i], sizeof a->tasks[i]);
  assert_true((a->tasks == NULL) == (b->tasks == NULL));
}

static void same_lists(struct sc_store *x, struct sc_store *y, const struct sc_job_filter *f)
{
  struct sc_job_rec *a, *b;
  int na, nb;

  assert_int_equal(sc_store_job_list(x, f, &a, &na), 0);
  assert_int_equal(sc_store_job_list(y, f, &b, &nb), 0);
  assert_int_equal(na, nb);
  for (int i = 0; i < na; i++)
    same_job(&a[i], &b[i]);
  sc_store_free_jobs(a, na);
  sc_store_free_jobs(b, nb);
}

static void same_job_lists(struct sc_store *x, struct sc_store *y)
{
  static const char *tenants[] = {NULL, "a", "B"};
  struct sc_job_rec *a, *b;
  int na, nb;

  for (int state = -1; state < SC_JOB_NSTATES; state++)
    for (int t = 0; t < 3; t++)
      for (int mode = 0; mode < 4; mode++) {
        struct sc_job_filter f = {.state = state, .tenant = tenants[t], .limit = 7 + 50 * t,
                                  .after = 13 * mode, .with_tasks = mode & 1,
                                  .summary = mode & 2, .collapse = mode > 1,
                                  .array_index = -1};
        same_lists(x, y, &f);
      }
  for (int idx = -1; idx < 3; idx++) {
    struct sc_job_filter f = {.state = -1, .limit = 100, .array_id = 41, .array_index = idx,
                              .with_tasks = true};
    same_lists(x, y, &f);
  }
  assert_int_equal(sc_store_jobs_active(x, &a, &na), 0);
  assert_int_equal(sc_store_jobs_active(y, &b, &nb), 0);
  assert_int_equal(na, nb);
  for (int i = 0; i < na; i++)
    same_job(&a[i], &b[i]);
  sc_store_free_jobs(a, na);
  sc_store_free_jobs(b, nb);
  for (int64_t id = 1; id <= 121; id += 5) {
    struct sc_job_rec ja, jb;
    assert_int_equal(sc_store_job_head(x, id, &ja), sc_store_job_head(y, id, &jb));
    if (id <= 120)
      same_job(&ja, &jb);
    sc_job_rec_release(&ja);
    sc_job_rec_release(&jb);
  }
}

static void same_rows(struct sc_store *x, struct sc_store *y)
{
  struct sc_node_rec *na, *nb;
  struct sc_token_rec *ta, *tb;
  struct sc_tenant_rec *tea, *teb;
  struct sc_price_rec *pa, *pb;
  struct sc_usage_rec *ua, *ub;
  int a, b;

  assert_int_equal(sc_store_node_list(x, &na, &a), 0);
  assert_int_equal(sc_store_node_list(y, &nb, &b), 0);
  assert_int_equal(a, b);
  for (int i = 0; i < a; i++) {
    assert_string_equal(na[i].name, nb[i].name);
    assert_int_equal(na[i].registered_ms, nb[i].registered_ms);
    assert_int_equal(na[i].state, nb[i].state);
  }
  sc_store_free_nodes(na, a);
  sc_store_free_nodes(nb, b);
  assert_int_equal(sc_store_token_list(x, &ta, &a), 0);
  assert_int_equal(sc_store_token_list(y, &tb, &b), 0);
  assert_int_equal(a, b);
  assert_memory_equal(ta, tb, (size_t)a * sizeof *ta);
  free(ta);
  free(tb);
  assert_int_equal(sc_store_tenant_list(x, &tea, &a), 0);
  assert_int_equal(sc_store_tenant_list(y, &teb, &b), 0);
  assert_int_equal(a, b);
  for (int i = 0; i < a; i++) {
    assert_string_equal(tea[i].name, teb[i].name);
    assert_string_equal(tea[i].parent, teb[i].parent);
    assert_true(tea[i].weight == teb[i].weight);
  }
  sc_store_free_tenants(tea, a);
  sc_store_free_tenants(teb, b);
  assert_int_equal(sc_store_price_list(x, &pa, &a), 0);
  assert_int_equal(sc_store_price_list(y, &pb, &b), 0);
  assert_int_equal(a, b);
  assert_memory_equal(pa, pb, (size_t)a * sizeof *pa);
  free(pa);
  free(pb);
  for (int64_t job = 1; job <= 30; job++) {
    assert_int_equal(sc_store_usage_list(x, job, &ua, &a), 0);
    assert_int_equal(sc_store_usage_list(y, job, &ub, &b), 0);
    assert_int_equal(a, b);
    assert_memory_equal(ua, ub, (size_t)a * sizeof *ua);
    free(ua);
    free(ub);
  }
}

static void same_logs(struct sc_store *x, struct sc_store *y)
{
  for (int job = 1; job <= 3; job++)
    for (int task = -1; task < 2; task++)
      for (int attempt = -1; attempt < 2; attempt++)
        for (int off = 0; off < 60; off += 7) {
          struct sc_log_query q = {job, task, off, 1 + (size_t)off % 23, attempt};
          char *da, *db;
          size_t la, lb;
          int64_t ea, eb;
          assert_int_equal(sc_store_log_read(x, &q, &da, &la, &ea), 0);
          assert_int_equal(sc_store_log_read(y, &q, &db, &lb, &eb), 0);
          assert_string_equal(da, db);
          assert_int_equal(ea, eb);
          free(da);
          free(db);
        }
}

static void same_reports(struct sc_store *x, struct sc_store *y)
{
  static const char *tenants[] = {NULL, "a", "b"};
  const int64_t day0 = 86400000LL * 20000;

  for (int by = 0; by < SC_USAGE_BY_N; by++)
    for (int t = 0; t < 3; t++)
      for (int w = 0; w < 3; w++) {
        struct sc_usage_query q = {.tenant = tenants[t], .within = w == 2 ? "a" : NULL,
                                   .since_ms = w ? day0 + 3600000LL * 7 : 0,
                                   .until_ms = day0 + 3600000LL * (30 + 20 * w),
                                   .now_ms = day0 + 3600000LL * 40, .by = by};
        struct sc_usage_row *a, *b;
        int na, nb;
        assert_int_equal(sc_store_usage_report(x, &q, &a, &na), 0);
        assert_int_equal(sc_store_usage_report(y, &q, &b, &nb), 0);
        assert_int_equal(na, nb);
        for (int i = 0; i < na; i++) {
          assert_string_equal(a[i].key, b[i].key);
          assert_int_equal(a[i].records, b[i].records);
          assert_float_equal(a[i].gpu_hours, b[i].gpu_hours, 1e-9 * (1 + a[i].gpu_hours));
          assert_float_equal(a[i].spot_gpu_hours, b[i].spot_gpu_hours, 1e-9 * (1 + a[i].gpu_hours));
          assert_float_equal(a[i].cpu_core_hours, b[i].cpu_core_hours,
                             1e-9 * (1 + a[i].cpu_core_hours));
          assert_float_equal(a[i].memory_gib_hours, b[i].memory_gib_hours,
                             1e-9 * (1 + a[i].memory_gib_hours));
          assert_float_equal(a[i].cost, b[i].cost, 1e-9 * (1 + a[i].cost));
          assert_float_equal(a[i].cost_spot, b[i].cost_spot, 1e-9 * (1 + a[i].cost));
        }
        free(a);
        free(b);
      }
}

/* PostgreSQL: the same history written to both backends reads back the
 * same from both, through every read: lists under every filter, paging
 * and collapse, heads, nodes, tokens, tenants, prices, usage records and
 * reports, and log reads at many offsets. */
static void pg_same_as_sqlite(void **state)
{
  char path[300];
  struct sc_store *x = NULL, *y;

  (void)state;
  if (!tb_pg())
    skip();
  snprintf(path, sizeof path, "%s/beside.db", tb_dir());
  assert_int_equal(sc_store_open(&sc_store_sqlite, path, &x), 0);
  y = open_store();
  fill_both(x, y);
  same_job_lists(x, y);
  same_rows(x, y);
  same_logs(x, y);
  same_reports(x, y);
  sc_store_close(x);
  sc_store_close(y);
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
    cmocka_unit_test_setup_teardown(pg_same_as_sqlite, tb_setup, tb_teardown),
  };

  tb_parse_args(&argc, &argv);
  return SC_RUN_TESTS(argc, argv, tests, tb_group_setup, tb_group_teardown);
}
