/* Query strings and path values: each "key=value" of the input (split on
 * '&', as the HTTP library does) through the integer, job id, task id and
 * state parsers. Properties: ids are canonical (what parses formats back
 * to the same text, so j-1 and j-000001%00 are no job); an accepted
 * integer is in range and prints back to the same text. */
#include <string.h>

#include "fuzz.h"
#include "server/ids.h"
#include "store/store.h"
#include "util/units.h"

static void check_value(const char *v)
{
  char buf[64];
  long long n;
  int64_t job;
  int index, state;

  if (sc_parse_int_range(v, -1, 4096, &n) == 0) {
    FUZZ_CHECK(n >= -1 && n <= 4096);
    FUZZ_CHECK(strspn(v + (v[0] == '-'), "0123456789") == strlen(v + (v[0] == '-')));
  }
  if (sc_job_id_parse(v, &job) == 0) {
    FUZZ_CHECK(job > 0);
    sc_job_id_format(job, buf, sizeof buf);
    FUZZ_CHECK(strcmp(buf, v) == 0);
  }
  if (sc_task_id_parse(v, &job, &index) == 0) {
    FUZZ_CHECK(job > 0 && index >= 0);
    sc_task_id_format(job, index, buf, sizeof buf);
    FUZZ_CHECK(strcmp(buf, v) == 0);
  }
  if ((state = sc_job_state_parse(v)) >= 0)
    FUZZ_CHECK(strcmp(sc_job_state_name(state), v) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = fuzz_string(data, size), *save = NULL;

  if (!text)
    return 0;
  for (char *kv = strtok_r(text, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(kv, '=');
    check_value(eq ? eq + 1 : kv);
  }
  free(text);
  return 0;
}
