/*
 * Leader election (server/lease.c, store/pg_lease.c). The state machine
 * with made-up times: when a standby looks again, whom it names, when a
 * leader renews and when it must step down. Then, with --pg, the lease row
 * on a real database shared by two stores (two controllers): one wins, the
 * other sees it; a lapsed lease goes to the other with a new epoch, and
 * from then on the first one's renewals and commits fail (a controller's
 * submission included) and leave nothing in the database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_helpers.h"
#include "server/ctl.h"
#include "server/lease.h"
#include "store/store.h"
#include "store_backend.h"
#include "util/error.h"

static struct sc_store_lease row_of(int64_t epoch, const char *holder, int64_t lease_ms,
                                    int64_t age_ms)
{
  struct sc_store_lease r = {.epoch = epoch, .lease_ms = lease_ms, .age_ms = age_ms};

  snprintf(r.holder, sizeof r.holder, "%s", holder);
  return r;
}

/* A standby looks every third of its lease, or just after the leader's
 * lease would lapse when that is sooner; it names the leader while its
 * lease is live and no one once it lapsed. */
static void test_standby_looks(void **state)
{
  struct sc_lease_state st;
  struct sc_store_lease row = row_of(4, "http://a:8420", 3000, 100);
  char url[64];

  (void)state;
  sc_lease_state_init(&st, 3000, 1000);
  assert_int_equal(st.role, SC_LEASE_STANDBY);
  assert_int_equal(sc_lease_due(&st), 1000); /* at once */
  assert_false(sc_lease_leader(&st, 1000, url, sizeof url));
  sc_lease_acquired(&st, 1000, 1010, 0, false, &row);
  assert_int_equal(st.role, SC_LEASE_STANDBY);
  assert_int_equal(sc_lease_due(&st), 1010 + 1000);
  assert_true(sc_lease_leader(&st, 1010, url, sizeof url));
  assert_string_equal(url, "http://a:8420");
  /* Renewed 2,900 ms ago: it lapses in 100 ms; look just after. */
  row.age_ms = 2900;
  sc_lease_acquired(&st, 2000, 2010, 0, false, &row);
  assert_int_equal(sc_lease_due(&st), 2010 + 100 + 5);
  assert_true(sc_lease_leader(&st, 2109, url, sizeof url));
  assert_false(sc_lease_leader(&st, 2110, url, sizeof url)); /* lapsed */
  assert_string_equal(url, "");
  /* The database did not answer: what it said last stands, look soon. */
  sc_lease_acquired(&st, 3000, 3010, SC_ESTORE, false, &row);
  assert_int_equal(sc_lease_due(&st), 3010 + 500);
  assert_int_equal(st.seen_ms, 2010);
  /* Never held: nobody to name. */
  row = row_of(0, "", 0, 0);
  sc_lease_acquired(&st, 4000, 4001, 0, false, &row);
  assert_false(sc_lease_leader(&st, 4001, url, sizeof url));
}

/* Won: taking over with the new epoch; the lease counts from when the
 * acquire was sent; renewals every third; a renewal that fails is tried
 * again soon, and with none confirmed for the whole lease it steps down. */
static void test_leader_renews(void **state)
{
  struct sc_lease_state st;
  struct sc_store_lease row = row_of(7, "http://b:8420", 3000, 0);

  (void)state;
  sc_lease_state_init(&st, 3000, 0);
  sc_lease_acquired(&st, 100, 130, 0, true, &row);
  assert_int_equal(st.role, SC_LEASE_TAKING_OVER);
  assert_int_equal(st.epoch, 7);
  assert_int_equal(st.confirmed_ms, 100);
  assert_int_equal(sc_lease_due(&st), 1100);
  st.role = SC_LEASE_LEADER; /* sc_lease_serving */
  sc_lease_renewed(&st, 1100, 1105, 0);
  assert_int_equal(st.confirmed_ms, 1100);
  assert_int_equal(sc_lease_due(&st), 2100);
  assert_false(sc_lease_expire(&st, 4099));
  sc_lease_renewed(&st, 2100, 2200, SC_ESTORE);
  assert_int_equal(st.confirmed_ms, 1100);
  assert_int_equal(sc_lease_due(&st), 2700);
  sc_lease_renewed(&st, 2700, 3900, SC_ESTORE);
  assert_int_equal(sc_lease_due(&st), 4100); /* the lease's end comes first */
  assert_false(sc_lease_expire(&st, 4099));
  assert_int_equal(st.role, SC_LEASE_LEADER);
  assert_true(sc_lease_expire(&st, 4100));
  assert_int_equal(st.role, SC_LEASE_DEPOSED);
  assert_non_null(strstr(st.why, "epoch 7"));
  /* Deposed: nothing brings it back. */
  sc_lease_renewed(&st, 4100, 4110, 0);
  sc_lease_acquired(&st, 4100, 4110, 0, true, &row);
  assert_int_equal(st.role, SC_LEASE_DEPOSED);
  assert_false(sc_lease_expire(&st, 9999));
}

/* Deposed by the database: a renewal that finds another epoch, or a
 * commit fenced with ours (not with an older one). */
static void test_deposed(void **state)
{
  struct sc_lease_state st;
  struct sc_store_lease row = row_of(3, "http://b:8420", 3000, 0);

  (void)state;
  sc_lease_state_init(&st, 3000, 0);
  sc_lease_fenced(&st, 3); /* a standby writes nothing: no matter */
  assert_int_equal(st.role, SC_LEASE_STANDBY);
  sc_lease_acquired(&st, 0, 1, 0, true, &row);
  sc_lease_fenced(&st, 2);
  assert_int_equal(st.role, SC_LEASE_TAKING_OVER);
  sc_lease_fenced(&st, 3);
  assert_int_equal(st.role, SC_LEASE_DEPOSED);
  assert_non_null(strstr(st.why, "fenced"));

  sc_lease_state_init(&st, 3000, 0);
  sc_lease_acquired(&st, 0, 1, 0, true, &row);
  sc_lease_renewed(&st, 1000, 1001, SC_ESTATE);
  assert_int_equal(st.role, SC_LEASE_DEPOSED);
  assert_non_null(strstr(st.why, "another controller"));
}

/* ---- PostgreSQL ---- */

static void put_job(struct sc_store *s, int64_t id, int want)
{
  struct sc_store_batch *b = sc_store_batch_new();
  struct sc_store_op op = {.kind = SC_STORE_JOB_INSERT};

  op.u.job.id = id;
  snprintf(op.u.job.name, sizeof op.u.job.name, "job-%lld", (long long)id);
  snprintf(op.u.job.tenant, sizeof op.u.job.tenant, "acme");
  op.u.job.spec = "{\"name\": \"x\"}";
  op.u.job.ntasks = 1;
  sc_store_batch_add(b, &op);
  assert_int_equal(sc_store_write(s, b), want);
  sc_store_batch_free(b);
}

static bool job_exists(struct sc_store *s, int64_t id)
{
  struct sc_job_rec j;
  int rc = sc_store_job_get(s, id, &j);

  sc_job_rec_release(&j);
  return rc == 0;
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

  nanosleep(&ts, NULL);
}

static int64_t fenced_epoch;
static void note_fenced(void *arg, int64_t epoch)
{
  (void)arg;
  fenced_epoch = epoch;
}

/* SQLite has no lease: the calls say so. */
static void test_pg_only(void **state)
{
  struct sc_store_lease_req req = {"http://a", "ida", 1000, 100};
  struct sc_store_lease row;
  struct sc_store *s;
  bool won;

  (void)state;
  if (tb_pg())
    skip();
  s = tb_open();
  assert_int_equal(sc_store_pg_lease_acquire(s, &req, &row, &won), SC_EINVAL);
  assert_false(won);
  assert_int_equal(sc_store_pg_lease_renew(s, 1, 100), SC_EINVAL);
  assert_int_equal(sc_store_pg_lease_read(s, &row), SC_EINVAL);
  sc_store_close(s);
}

/* Two controllers on one database: the first takes the free lease, the
 * second sees it held (holder, epoch, duration) and cannot take it while
 * it is renewed; given up, it goes at once. */
static void pg_elect(void **state)
{
  struct sc_store_lease_req ra = {"http://a:1", "ida", 60000, 1000};
  struct sc_store_lease_req rb = {"http://b:2", "idb", 60000, 1000};
  struct sc_store_lease row;
  struct sc_store *a, *b;
  bool won;

  (void)state;
  if (!tb_pg())
    skip();
  a = tb_open();
  b = tb_open();
  assert_int_equal(sc_store_pg_lease_read(a, &row), 0);
  assert_int_equal(row.epoch, 0); /* never held */
  assert_int_equal(sc_store_pg_lease_acquire(a, &ra, &row, &won), 0);
  assert_true(won);
  assert_int_equal(row.epoch, 1);
  assert_string_equal(row.holder, "http://a:1");
  assert_int_equal(sc_store_pg_lease_acquire(b, &rb, &row, &won), 0);
  assert_false(won);
  assert_int_equal(row.epoch, 1);
  assert_string_equal(row.holder, "http://a:1");
  assert_string_equal(row.holder_id, "ida");
  assert_int_equal(row.lease_ms, 60000);
  assert_true(row.age_ms >= 0 && row.age_ms < 10000);
  assert_int_equal(sc_store_pg_lease_renew(a, 1, 1000), 0);
  assert_int_equal(sc_store_pg_fence(a, 1), 0);
  put_job(a, 1, 0);
  /* a restarted on its state directory (same id): its own lease, at once */
  assert_int_equal(sc_store_pg_lease_acquire(b, &ra, &row, &won), 0);
  assert_true(won);
  assert_int_equal(row.epoch, 2);
  assert_int_equal(sc_store_pg_lease_renew(a, 1, 1000), SC_ESTATE);
  /* given up: b takes it at its next look */
  assert_int_equal(sc_store_pg_lease_release(b, 1), SC_ESTATE); /* not its epoch */
  assert_int_equal(sc_store_pg_lease_release(b, 2), 0);
  assert_int_equal(sc_store_pg_lease_acquire(b, &rb, &row, &won), 0);
  assert_true(won);
  assert_int_equal(row.epoch, 3);
  assert_string_equal(row.holder, "http://b:2");
  sc_store_close(a);
  sc_store_close(b);
}

/* The lease lapses (its holder stopped renewing: stopped, cut off); the
 * other controller takes it with a new epoch, judged on the database's
 * clock. From then on the old holder's renewals fail and so do its
 * commits, as a whole, with its fenced hook called: nothing it writes
 * after the takeover reaches the database. */
static void pg_lapse_fences(void **state)
{
  struct sc_store_lease_req ra = {"http://a:1", "ida", 50, 1000};
  struct sc_store_lease_req rb = {"http://b:2", "idb", 60000, 1000};
  struct sc_store_lease row;
  struct sc_store *a, *b;
  bool won;

  (void)state;
  if (!tb_pg())
    skip();
  a = tb_open();
  b = tb_open();
  sc_store_pg_on_fenced(a, note_fenced, NULL);
  fenced_epoch = 0;
  assert_int_equal(sc_store_pg_lease_acquire(a, &ra, &row, &won), 0);
  assert_true(won);
  assert_int_equal(sc_store_pg_fence(a, row.epoch), 0);
  put_job(a, 1, 0);
  sleep_ms(100); /* twice the lease, not renewed */
  assert_int_equal(sc_store_pg_lease_acquire(b, &rb, &row, &won), 0);
  assert_true(won);
  assert_int_equal(row.epoch, 2);
  assert_int_equal(sc_store_pg_fence(b, 2), 0);
  assert_int_equal(sc_store_pg_lease_renew(a, 1, 1000), SC_ESTATE);
  put_job(a, 2, SC_ESTORE);
  assert_int_equal(fenced_epoch, 1);
  put_job(b, 3, 0);
  assert_true(job_exists(b, 1));
  assert_false(job_exists(b, 2));
  assert_true(job_exists(b, 3));
  /* b's lease is live: a cannot take it back */
  assert_int_equal(sc_store_pg_lease_acquire(a, &ra, &row, &won), 0);
  assert_false(won);
  assert_string_equal(row.holder, "http://b:2");
  sc_store_close(a);
  sc_store_close(b);
}

/* The same through a controller: the deposed one's submission fails
 * (nothing of it in memory or the database), the new leader rebuilds
 * with everything the old one committed before the takeover. */
static void pg_deposed_controller(void **state)
{
  struct sc_store_lease_req ra = {"http://a:1", "ida", 50, 1000};
  struct sc_store_lease_req rb = {"http://b:2", "idb", 60000, 1000};
  struct sc_ctl_opts opts = {0};
  struct sc_store_lease row;
  struct sc_store *a, *b;
  struct sc_ctl *ca, *cb;
  struct sc_job_rec j;
  int64_t first;
  bool won;

  (void)state;
  if (!tb_pg())
    skip();
  a = tb_open();
  b = tb_open();
  sc_store_pg_on_fenced(a, note_fenced, NULL);
  fenced_epoch = 0;
  assert_int_equal(sc_store_pg_lease_acquire(a, &ra, &row, &won), 0);
  assert_true(won);
  assert_int_equal(sc_store_pg_fence(a, row.epoch), 0);
  assert_int_equal(sc_ctl_new(&opts, a, &ca), 0);
  first = th_try_submit(ca, "{\"name\": \"before\", \"command\": \"true\"}");
  assert_true(first > 0);
  sleep_ms(100);
  assert_int_equal(sc_store_pg_lease_acquire(b, &rb, &row, &won), 0);
  assert_true(won);
  assert_int_equal(sc_store_pg_fence(b, row.epoch), 0);
  assert_int_equal(th_try_submit(ca, "{\"name\": \"after\", \"command\": \"true\"}"), SC_ESTORE);
  assert_int_equal(fenced_epoch, 1);
  assert_int_equal(sc_ctl_new(&opts, b, &cb), 0);
  assert_int_equal(sc_store_job_get(b, first, &j), 0);
  assert_string_equal(j.name, "before");
  sc_job_rec_release(&j);
  assert_int_equal(sc_store_job_get(b, first + 1, &j), SC_ENOENT);
  assert_int_equal(th_try_submit(cb, "{\"name\": \"next\", \"command\": \"true\"}"), first + 1);
  sc_ctl_free(ca);
  sc_ctl_free(cb);
  sc_store_close(a);
  sc_store_close(b);
}

int main(int argc, char **argv)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_standby_looks),
    cmocka_unit_test(test_leader_renews),
    cmocka_unit_test(test_deposed),
    cmocka_unit_test_setup_teardown(test_pg_only, tb_setup, tb_teardown),
    /* PostgreSQL only (skipped on SQLite): run by unit/lease/postgres */
    cmocka_unit_test_setup_teardown(pg_elect, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(pg_lapse_fences, tb_setup, tb_teardown),
    cmocka_unit_test_setup_teardown(pg_deposed_controller, tb_setup, tb_teardown),
  };

  tb_parse_args(&argc, &argv);
  return SC_RUN_TESTS(argc, argv, tests, tb_group_setup, tb_group_teardown);
}
