/*
 * Readers for Alibaba OpenB traces: node lists (sn,cpu_milli,memory_mib,gpu,
 * model) and pod lists (name,cpu_milli,memory_mib,num_gpu,gpu_milli
 * [,gpu_spec,...]). Columns are found by header name; errors name the file,
 * line and column: `pods.csv:17: bad value for 'gpu_milli': "abc"`.
 */
#ifndef SC_SIM_TRACE_H
#define SC_SIM_TRACE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define SC_TRACE_NAME_MAX 48
#define SC_TRACE_SPEC_MAX 128

struct sc_trace_node {
  char name[SC_TRACE_NAME_MAX];
  int64_t cpu_milli;
  int64_t memory_mib;
  int gpus;
  char model[SC_TRACE_NAME_MAX];
};

struct sc_trace_pod {
  char name[SC_TRACE_NAME_MAX];
  int64_t cpu_milli;
  int64_t memory_mib;
  int num_gpu;
  int gpu_milli;                   /* per device, clamped to 0..1000 */
  char spec[SC_TRACE_SPEC_MAX];    /* allowed models, '|'-joined, "" = any */
};

struct sc_trace_nodes {
  struct sc_trace_node *items;
  size_t n;
};

struct sc_trace_pods {
  struct sc_trace_pod *items;
  size_t n;
};

/*
 * Reads a node list. Nodes with no GPU are kept (the caller decides).
 * On failure returns SC_EIO / SC_EPARSE / SC_ENOMEM and writes a message
 * into err (size errlen); out is empty. Release with sc_trace_nodes_release.
 */
int sc_trace_read_nodes(const char *path, struct sc_trace_nodes *out, char *err,
                        size_t errlen);
/* The same from an open stream (borrowed), called name in messages. */
int sc_trace_read_nodes_file(FILE *f, const char *name, struct sc_trace_nodes *out, char *err,
                             size_t errlen);
void sc_trace_nodes_release(struct sc_trace_nodes *nodes);

/*
 * Reads a pod list and applies the reference's conversion rules: GPU fields
 * are dropped for num_gpu == 0, gpu_milli is clamped, empty model tokens are
 * removed. Same error contract as sc_trace_read_nodes.
 */
int sc_trace_read_pods(const char *path, struct sc_trace_pods *out, char *err,
                       size_t errlen);
int sc_trace_read_pods_file(FILE *f, const char *name, struct sc_trace_pods *out, char *err,
                            size_t errlen);
void sc_trace_pods_release(struct sc_trace_pods *pods);

#endif
