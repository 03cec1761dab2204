/* `supercell submit FILE`: any bytes through the CLI's YAML/JSON reader
 * (alias bombs, deep nesting, odd scalars), then the controller's spec
 * validator. Properties: a failure always says where and why; what the
 * reader produces is a JSON object. */
#include <jansson.h>
#include <string.h>

#include "cli/jobspec.h"
#include "fuzz.h"
#include "server/spec.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = fuzz_string(data, size), err[512] = "";
  struct sc_job_spec spec;
  struct sc_spec_error serr;
  json_t *obj = NULL;
  int rc;

  if (!text)
    return 0;
  rc = sc_jobspec_parse(text, size, "fuzz.yaml", &obj, err, sizeof err);
  if (rc != 0) {
    FUZZ_CHECK(obj == NULL);
    FUZZ_CHECK(strncmp(err, "fuzz.yaml", 9) == 0); /* names the file (and line) */
  } else {
    FUZZ_CHECK(json_is_object(obj));
    if (sc_spec_parse(obj, &spec, &serr) == 0)
      sc_spec_release(&spec);
    json_decref(obj);
  }
  free(text);
  return 0;
}
