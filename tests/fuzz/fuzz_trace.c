/* The OpenB CSV readers (pods and nodes) over any bytes. Properties: a
 * failure says which file and why; what is read has the reference's
 * ranges (non-negative resources, gpu_milli 0..1000). */
#include <string.h>

#include "fuzz.h"
#include "sim/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct sc_trace_pods pods;
  struct sc_trace_nodes nodes;
  char err[512] = "";
  FILE *f;

  if (size == 0 || !(f = fmemopen((void *)data, size, "r")))
    return 0;
  if (sc_trace_read_pods_file(f, "pods.csv", &pods, err, sizeof err) == 0) {
    for (size_t i = 0; i < pods.n; i++)
      FUZZ_CHECK(pods.items[i].cpu_milli >= 0 && pods.items[i].gpu_milli >= 0 &&
                 pods.items[i].gpu_milli <= 1000);
    sc_trace_pods_release(&pods);
  } else {
    FUZZ_CHECK(strncmp(err, "pods.csv", 8) == 0);
  }
  fclose(f);
  if (!(f = fmemopen((void *)data, size, "r")))
    return 0;
  err[0] = '\0';
  if (sc_trace_read_nodes_file(f, "nodes.csv", &nodes, err, sizeof err) == 0) {
    for (size_t i = 0; i < nodes.n; i++)
      FUZZ_CHECK(nodes.items[i].cpu_milli >= 0 && nodes.items[i].gpus >= 0);
    sc_trace_nodes_release(&nodes);
  } else {
    FUZZ_CHECK(strncmp(err, "nodes.csv", 9) == 0);
  }
  fclose(f);
  return 0;
}
