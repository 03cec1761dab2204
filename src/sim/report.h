/*
 * Reports of a simulator run: the paper's CSV tables (allocation,
 * fragmentation amount and ratio, failed tasks) and SVG plots (Figure 9(a)
 * and per-workload bars). Rows come in a fixed order, so output is
 * byte-identical for the same arguments.
 */
#ifndef SC_SIM_REPORT_H
#define SC_SIM_REPORT_H

#include <stdio.h>

#include "sim/experiment.h"

/* One finished experiment with its coordinates. */
struct sc_sim_run {
  const char *workload;   /* bare name, e.g. "default" */
  const char *policy;
  double tune;
  long long seed;
  long long total_gpus;
  int rc;                 /* 0, or the SC_E* code the experiment failed with */
  struct sc_experiment_result result;
};

enum sc_report_table { SC_REPORT_ALLOC, SC_REPORT_FRAG, SC_REPORT_FRAG_RATIO };

/* Formats x as Python's repr of a float ("12.0", "0.25", shortest
 * round-trip digits). */
void sc_report_pyfloat(double x, char *buf, size_t size);

/* Writes a header and one row per run. Returns 0 or SC_EIO. */
int sc_report_write_table(FILE *f, enum sc_report_table table, const struct sc_sim_run *runs,
                          size_t nruns);
int sc_report_write_failed(FILE *f, const struct sc_sim_run *runs, size_t nruns);

/*
 * Figure 9(a): unallocated GPU % against arrived demand (75..120 %), one
 * line per policy (median over seeds, with the interquartile band) for
 * workload. Returns 0 or SC_EIO.
 */
int sc_report_plot_alloc(FILE *f, const char *workload, const struct sc_sim_run *runs,
                         size_t nruns);

/* Bars: unallocated GPU % at 100 % arrival, mean over seeds, grouped by
 * workload, one bar per policy. */
int sc_report_plot_bars(FILE *f, const struct sc_sim_run *runs, size_t nruns);

#endif
