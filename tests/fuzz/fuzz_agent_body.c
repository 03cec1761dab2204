/* Agent request bodies (register, heartbeat, status, logs) through the
 * controller's decoders. Properties: a decoded registration has valid,
 * unique device indexes and bounded names; every running entry is a task
 * id of ours; a log chunk points into its body. */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "server/agent_codec.h"

static void check_register(json_t *body)
{
  struct sc_http_resp resp = {0};
  struct sc_agent_running *running = NULL;
  struct sc_agent_reg reg;
  char *labels = NULL;

  if (sc_agent_decode_register(body, "127.0.0.1", &resp, &reg, &labels, &running)) {
    FUZZ_CHECK(sc_spec_name_ok(reg.name, 63));
    FUZZ_CHECK(reg.ndev >= 0 && reg.ndev <= SC_STORE_MAX_DEVICES);
    FUZZ_CHECK(reg.cpu_milli >= 0 && reg.memory_mib >= 0);
    for (int i = 0; i < reg.ndev; i++) {
      FUZZ_CHECK(reg.dev[i].index >= 0);
      FUZZ_CHECK(reg.dev[i].vendor[0] && reg.dev[i].model[0]);
      for (int k = 0; k < i; k++)
        FUZZ_CHECK(reg.dev[k].index != reg.dev[i].index);
    }
    for (int i = 0; i < reg.nrunning; i++)
      FUZZ_CHECK(reg.running[i].job_id > 0 && reg.running[i].index >= 0);
  } else {
    FUZZ_CHECK(resp.status == 400 && resp.json);
  }
  free(labels);
  free(running);
  json_decref(resp.json);
}

static void check_status(json_t *body)
{
  json_t *arr = json_object_get(body, "updates"), *v;
  size_t i;

  json_array_foreach(arr, i, v) {
    struct sc_http_resp resp = {0};
    struct sc_agent_update u;
    memset(&u, 0, sizeof u);
    if (sc_agent_decode_update(v, i, &resp, &u)) {
      FUZZ_CHECK(u.job_id > 0 && u.index >= 0);
      FUZZ_CHECK(!u.exited || u.exit_code >= 0 || u.signal > 0);
      FUZZ_CHECK(memchr(u.reason, '\0', sizeof u.reason) != NULL);
    }
    json_decref(resp.json);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
  struct sc_http_resp resp = {0};
  struct sc_agent_running *running = NULL;
  struct sc_log_chunk chunk;
  char name[64];
  int n = 0;

  if (!body)
    return 0;
  check_register(body);
  check_status(body);
  if (sc_agent_decode_name(body, &resp, name, sizeof name) &&
      sc_agent_decode_running(body, &resp, &running, &n))
    FUZZ_CHECK(n >= 0 && n <= (int)json_array_size(json_object_get(body, "running")));
  free(running);
  json_decref(resp.json);
  resp.json = NULL;
  if (sc_agent_decode_log(body, &resp, &chunk)) {
    FUZZ_CHECK(chunk.offset >= 0 && chunk.job_id > 0 && chunk.index >= 0);
    FUZZ_CHECK(chunk.data == json_string_value(json_object_get(body, "data")));
  }
  json_decref(resp.json);
  json_decref(body);
  return 0;
}
