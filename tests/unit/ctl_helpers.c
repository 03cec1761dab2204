/* Controller test helpers (see ctl_helpers.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ctl_helpers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

int th_store_open(const char *tag, char *dir, struct sc_store **store)
{
  char path[256];

  sc_log_setup(SC_LOG_WARN, "test");
  snprintf(dir, 128, "/tmp/sc-test-%s-XXXXXX", tag);
  if (!mkdtemp(dir))
    return -1;
  snprintf(path, sizeof path, "%s/supercell.db", dir);
  return sc_store_open(&sc_store_sqlite, path, store) < 0 ? -1 : 0;
}

int th_ctl_teardown(const char *dir, struct sc_store *store, struct sc_ctl *ctl)
{
  char cmd[200];

  if (ctl) {
    sc_ctl_stop(ctl);
    sc_ctl_free(ctl);
  }
  sc_store_close(store);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

void th_add_node(struct sc_ctl *c, const char *name, const char *vendor, const char *model,
                 int ndev)
{
  th_add_node_labeled(c, name, vendor, model, ndev, NULL);
}

void th_add_node_labeled(struct sc_ctl *c, const char *name, const char *vendor,
                         const char *model, int ndev, const char *labels)
{
  struct sc_agent_reg reg;
  struct sc_kill_list kill;

  memset(&reg, 0, sizeof reg);
  snprintf(reg.name, sizeof reg.name, "%s", name);
  reg.cpu_milli = 64000;
  reg.memory_mib = 512 * 1024;
  reg.labels = labels;
  reg.ndev = ndev;
  for (int i = 0; i < ndev; i++) {
    reg.dev[i].index = i;
    snprintf(reg.dev[i].vendor, sizeof reg.dev[i].vendor, "%s", vendor);
    snprintf(reg.dev[i].model, sizeof reg.dev[i].model, "%s", model);
  }
  assert_int_equal(sc_ctl_register(c, &reg, &kill), 0);
  sc_kill_list_release(&kill);
}

int64_t th_try_submit(struct sc_ctl *c, const char *json_text)
{
  json_t *body = json_loads(json_text, 0, NULL);
  struct sc_job_spec spec;
  struct sc_spec_error err;
  struct sc_job_rec rec;
  int64_t id;
  int rc;

  assert_non_null(body);
  assert_int_equal(sc_spec_parse(body, &spec, &err), 0);
  json_decref(body);
  rc = sc_ctl_submit(c, &spec, &rec);
  sc_spec_release(&spec);
  if (rc < 0)
    return rc;
  id = rec.id;
  sc_job_rec_release(&rec);
  return id;
}
