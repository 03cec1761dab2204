/* The duration and size parsers (--memory, --max-runtime, --ttl, spec
 * fields). Properties: an accepted value is non-negative; a size printed
 * by sc_format_memory parses back to at least the amount printed (it
 * rounds, never down past a unit). */
#include <string.h>

#include "fuzz.h"
#include "util/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = fuzz_string(data, size), buf[64];
  int64_t v, back;

  if (!text)
    return 0;
  if (sc_parse_memory_mib(text, &v) == 0) {
    FUZZ_CHECK(v >= 0);
    sc_format_memory(v, buf, sizeof buf);
    FUZZ_CHECK(sc_parse_memory_mib(buf, &back) == 0 && back >= 0);
  }
  if (sc_parse_duration_ms(text, &v) == 0)
    FUZZ_CHECK(v >= 0);
  free(text);
  return 0;
}
