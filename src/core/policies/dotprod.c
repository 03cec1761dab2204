/*
 * DotProd (Tetris-style): prefers the node whose remaining CPU and GPU,
 * normalised by the largest node spec, align least with the request:
 * score = int(100 * (1 - (node . task) / 2)).
 */
#include "core/policy.h"

#include "core/banned.h"

#define MAX_SPEC_CPU 128000.0
#define MAX_SPEC_GPU 8000.0

static int dotprod_score(const struct sc_node *n, const struct sc_shape *s,
                         const struct sc_policy_ctx *ctx)
{
  double node_cpu, node_gpu, task_cpu, task_gpu, dot = 0;

  (void)ctx;
  if (n->cpu_left < s->cpu)
    return 0;
  node_cpu = (double)n->cpu_left / MAX_SPEC_CPU;
  node_gpu = (double)sc_node_gpu_left(n) / MAX_SPEC_GPU;
  task_cpu = (double)s->cpu / MAX_SPEC_CPU;
  task_gpu = (double)sc_shape_total_milli(s) / MAX_SPEC_GPU;
  dot += node_cpu * task_cpu;
  dot += node_gpu * task_gpu;
  dot /= 2;
  return (int)(100.0 * (1 - dot));
}

const struct sc_policy sc_policy_dotprod = {
  .name = "dotprod",
  .summary = "dot product of free and requested CPU/GPU (Tetris)",
  .score = dotprod_score,
};
