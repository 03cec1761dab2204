/* POST /v1/jobs bodies: any bytes through the JSON parser and the spec
 * validator. Properties: a rejection names a field or says why; an
 * accepted spec's normalised text is accepted again and normalises to
 * itself (what the store keeps reads back the same after a restart). */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "server/spec.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
  struct sc_job_spec spec, again;
  struct sc_spec_error err;
  int rc;

  if (!body)
    return 0;
  rc = sc_spec_parse(body, &spec, &err);
  json_decref(body);
  if (rc == SC_EINVAL) {
    FUZZ_CHECK(err.message[0] != '\0');
    return 0;
  }
  if (rc != 0)
    return 0; /* out of memory */
  FUZZ_CHECK(spec.text != NULL && spec.run != NULL);
  FUZZ_CHECK(spec.tasks >= 1 && spec.tasks <= SC_SPEC_MAX_TASKS);
  FUZZ_CHECK(spec.memory_mib >= 0 && spec.memory_mib <= SC_SPEC_MAX_MEMORY_MIB);
  FUZZ_CHECK(spec.gpu_milli >= 0 && spec.gpu_milli <= 1000);
  rc = sc_spec_parse_text(spec.text, &again, &err);
  if (rc != SC_ENOMEM) {
    if (rc != 0)
      fprintf(stderr, "normalised spec refused: %s (%s): %s\n", err.message, err.field, spec.text);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(strcmp(again.text, spec.text) == 0);
    sc_spec_release(&again);
  }
  sc_spec_release(&spec);
  return 0;
}
