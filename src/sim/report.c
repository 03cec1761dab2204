/*
 * CSV tables and SVG plots of simulator runs. Numbers are printed the way
 * the paper's Python scripts print them, so files diff cleanly against the
 * published expected results.
 */
#include "sim/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void sc_report_pyfloat(double x, char *buf, size_t size)
{
  if (isnan(x)) {
    snprintf(buf, size, "nan");
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, x);
    if (strtod(buf, NULL) == x)
      break;
  }
  /* Python writes 1e+16 and up, or below 1e-4, in exponent form; plain
   * otherwise, always with a decimal point. */
  if (strchr(buf, 'e') && fabs(x) >= 1e-4 && fabs(x) < 1e16) {
    int prec = 0;
    for (prec = 0; prec <= 17; prec++) {
      snprintf(buf, size, "%.*f", prec, x);
      if (strtod(buf, NULL) == x)
        break;
    }
  }
  if (!strchr(buf, '.') && !strchr(buf, 'e') && !strchr(buf, 'n') && strlen(buf) + 3 < size)
    strcat(buf, ".0");
}

static const double *table_values(const struct sc_experiment_result *r,
                                  enum sc_report_table table)
{
  switch (table) {
  case SC_REPORT_FRAG: return r->frag_amount;
  case SC_REPORT_FRAG_RATIO: return r->frag_ratio;
  default: return r->alloc;
  }
}

int sc_report_write_table(FILE *f, enum sc_report_table table, const struct sc_sim_run *runs,
                          size_t nruns)
{
  char num[64], tune[32];

  fprintf(f, "workload,policy,tune,seed%s", table == SC_REPORT_ALLOC ? ",total_gpus" : "");
  for (int k = 0; k < SC_SIM_NCOLS; k++)
    fprintf(f, ",%d", k);
  fputc('\n', f);
  for (size_t i = 0; i < nruns; i++) {
    const struct sc_sim_run *run = &runs[i];
    const double *v = table_values(&run->result, table);
    sc_report_pyfloat(run->tune, tune, sizeof tune);
    fprintf(f, "%s,%s,%s,%lld", run->workload, run->policy, tune, run->seed);
    if (table == SC_REPORT_ALLOC)
      fprintf(f, ",%lld", run->total_gpus);
    for (int k = 0; k < SC_SIM_NCOLS; k++) {
      if (isnan(v[k])) {
        fputc(',', f);
        continue;
      }
      sc_report_pyfloat(v[k], num, sizeof num);
      fprintf(f, ",%s", num);
    }
    fputc('\n', f);
  }
  return ferror(f) ? SC_EIO : 0;
}

int sc_report_write_failed(FILE *f, const struct sc_sim_run *runs, size_t nruns)
{
  char tune[32];

  fprintf(f, "order,workload,policy,tune,seed,num_pod,cpu_milli,num_gpu,gpu_milli,gpu_type_req\n");
  for (size_t i = 0; i < nruns; i++) {
    const struct sc_experiment_result *r = &runs[i].result;
    sc_report_pyfloat(runs[i].tune, tune, sizeof tune);
    for (int k = 0; k < r->nfailed; k++) {
      const struct sc_failed *x = &r->failed[k];
      fprintf(f, "%d,%s,%s,%s,%lld,%d,%lld,%d,%d,%s\n", k, runs[i].workload, runs[i].policy,
              tune, runs[i].seed, x->count, (long long)x->cpu_milli, x->num_gpu, x->gpu_milli,
              x->spec[0] ? x->spec : "<none>");
    }
  }
  return ferror(f) ? SC_EIO : 0;
}

/* ---- SVG ---------------------------------------------------------------- */

static const char *const palette[] = {"#7f7f7f", "#1f77b4", "#2ca02c", "#9467bd",
                                      "#ff7f0e", "#d62728", "#8c564b", "#e377c2"};

struct frame {
  double x0, x1, y0, y1;          /* data ranges */
  double left, top, width, height; /* plot area in px */
};

static double px(const struct frame *fr, double x)
{
  return fr->left + (x - fr->x0) / (fr->x1 - fr->x0) * fr->width;
}

static double py(const struct frame *fr, double y)
{
  return fr->top + fr->height - (y - fr->y0) / (fr->y1 - fr->y0) * fr->height;
}

static void svg_open(FILE *f, int w, int h, const char *title)
{
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
             "viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\" "
             "font-size=\"13\">\n", w, h, w, h);
  fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  fprintf(f, "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" "
             "font-weight=\"bold\">%s</text>\n", w / 2, title);
}

/* Axes with ticks every xstep / ystep and the axis labels. */
static void svg_axes(FILE *f, const struct frame *fr, double xstep, double ystep,
                     const char *xlabel, const char *ylabel)
{
  double xlabel_dy = xstep > 0 ? 40 : 75; /* below tick labels or rotated names */

  fprintf(f, "<g stroke=\"#333\" fill=\"none\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
             "height=\"%.1f\"/>\n</g>\n", fr->left, fr->top, fr->width, fr->height);
  for (double x = ceil(fr->x0 / xstep) * xstep; xstep > 0 && x <= fr->x1 + 1e-9; x += xstep) {
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
            px(fr, x), fr->top, px(fr, x), fr->top + fr->height);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", px(fr, x),
            fr->top + fr->height + 18, x);
  }
  for (double y = ceil(fr->y0 / ystep) * ystep; y <= fr->y1 + 1e-9; y += ystep) {
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
            fr->left, py(fr, y), fr->left + fr->width, py(fr, y));
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", fr->left - 6,
            py(fr, y) + 4, y);
  }
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
          fr->left + fr->width / 2, fr->top + fr->height + xlabel_dy, xlabel);
  fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" text-anchor=\"middle\">%s"
             "</text>\n", fr->left - 45, fr->top + fr->height / 2, ylabel);
}

static void svg_legend(FILE *f, double x, double y, const char *const *names, int n)
{
  fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"130\" height=\"%d\" fill=\"white\" "
             "stroke=\"#999\"/>\n", x, y, 8 + 18 * n);
  for (int i = 0; i < n; i++) {
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"4\" fill=\"%s\"/>\n",
            x + 8, y + 12 + 18 * i, palette[i % 8]);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 32, y + 18 + 18 * i, names[i]);
  }
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Quantile q of v[0..n) (linear interpolation, as numpy); sorts v. */
static double quantile(double *v, int n, double q)
{
  double pos;
  int lo;

  qsort(v, (size_t)n, sizeof *v, cmp_double);
  pos = q * (n - 1);
  lo = (int)floor(pos);
  if (lo + 1 >= n)
    return v[n - 1];
  return v[lo] + (pos - lo) * (v[lo + 1] - v[lo]);
}

/* Distinct policy names of runs, in first-seen order (at most 8). */
static int policies_of(const struct sc_sim_run *runs, size_t nruns, const char **names)
{
  int n = 0;

  for (size_t i = 0; i < nruns; i++) {
    int k;
    for (k = 0; k < n && strcmp(names[k], runs[i].policy) != 0; k++)
      ;
    if (k == n && n < 8)
      names[n++] = runs[i].policy;
  }
  return n;
}

/* Unallocated % at column k over the seeds of (workload, policy); returns
 * how many values were found (NaN cells skipped). */
static int unalloc_values(const struct sc_sim_run *runs, size_t nruns, const char *workload,
                          const char *policy, int k, double *out)
{
  int n = 0;

  for (size_t i = 0; i < nruns; i++)
    if (strcmp(runs[i].workload, workload) == 0 && strcmp(runs[i].policy, policy) == 0 &&
        !isnan(runs[i].result.alloc[k]))
      out[n++] = 100.0 - runs[i].result.alloc[k];
  return n;
}

int sc_report_plot_alloc(FILE *f, const char *workload, const struct sc_sim_run *runs,
                         size_t nruns)
{
  const char *names[8];
  int npol = policies_of(runs, nruns, names);
  double *vals = malloc((nruns + 1) * sizeof *vals);
  struct frame fr = {75, 120, 0, 30, 80, 40, 620, 380};
  char title[128];

  if (!vals)
    return SC_ENOMEM;
  snprintf(title, sizeof title, "Unallocated GPUs vs arrived demand (%s workload)", workload);
  svg_open(f, 760, 480, title);
  svg_axes(f, &fr, 5, 5, "Arrived GPU demand (% of cluster GPU capacity)",
           "Unallocated GPU (%)");
  for (int p = 0; p < npol; p++) {
    double lo[SC_SIM_NCOLS], mid[SC_SIM_NCOLS], hi[SC_SIM_NCOLS];
    int ok[SC_SIM_NCOLS] = {0};
    for (int k = (int)fr.x0; k <= (int)fr.x1; k++) {
      int n = unalloc_values(runs, nruns, workload, names[p], k, vals);
      if (n == 0)
        continue;
      ok[k] = 1;
      lo[k] = quantile(vals, n, 0.25);
      mid[k] = quantile(vals, n, 0.5);
      hi[k] = quantile(vals, n, 0.75);
    }
    fprintf(f, "<path fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\" d=\"", palette[p]);
    for (int k = (int)fr.x0, first = 1; k <= (int)fr.x1; k++)
      if (ok[k]) {
        fprintf(f, "%s%.1f,%.1f", first ? "M" : " L", px(&fr, k), py(&fr, fmin(hi[k], fr.y1)));
        first = 0;
      }
    for (int k = (int)fr.x1; k >= (int)fr.x0; k--)
      if (ok[k])
        fprintf(f, " L%.1f,%.1f", px(&fr, k), py(&fr, fmin(lo[k], fr.y1)));
    fprintf(f, " Z\"/>\n<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
            palette[p]);
    for (int k = (int)fr.x0; k <= (int)fr.x1; k++)
      if (ok[k])
        fprintf(f, "%.1f,%.1f ", px(&fr, k), py(&fr, fmin(mid[k], fr.y1)));
    fprintf(f, "\"/>\n");
  }
  svg_legend(f, fr.left + fr.width - 142, fr.top + 10, names, npol);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555\">lines: median over "
             "seeds; bands: 25-75 %%</text>\n</svg>\n", fr.left + 12, fr.top + fr.height - 8);
  free(vals);
  return ferror(f) ? SC_EIO : 0;
}

int sc_report_plot_bars(FILE *f, const struct sc_sim_run *runs, size_t nruns)
{
  const char *names[8], *loads[64];
  int npol = policies_of(runs, nruns, names), nload = 0;
  double *vals = malloc((nruns + 1) * sizeof *vals), ymax = 5;
  struct frame fr = {0, 1, 0, 0, 70, 40, 0, 340};

  if (!vals)
    return SC_ENOMEM;
  for (size_t i = 0; i < nruns && nload < 64; i++) {
    int k;
    for (k = 0; k < nload && strcmp(loads[k], runs[i].workload) != 0; k++)
      ;
    if (k == nload)
      loads[nload++] = runs[i].workload;
  }
  for (int w = 0; w < nload; w++)
    for (int p = 0; p < npol; p++) {
      int n = unalloc_values(runs, nruns, loads[w], names[p], 100, vals);
      double sum = 0;
      for (int i = 0; i < n; i++)
        sum += vals[i];
      if (n > 0 && sum / n > ymax)
        ymax = sum / n;
    }
  fr.y1 = ceil(ymax / 5) * 5;
  fr.width = nload * (npol * 14.0 + 24);
  fr.x1 = nload;
  svg_open(f, (int)(fr.width + 240), 480, "Unallocated GPUs at 100% arrived demand");
  svg_axes(f, &fr, 0, 5, "Workload", "Unallocated GPU (%), mean over seeds");
  for (int w = 0; w < nload; w++) {
    double x0 = fr.left + w * (npol * 14.0 + 24) + 12;
    for (int p = 0; p < npol; p++) {
      int n = unalloc_values(runs, nruns, loads[w], names[p], 100, vals);
      double sum = 0, mean;
      for (int i = 0; i < n; i++)
        sum += vals[i];
      if (n == 0)
        continue;
      mean = sum / n;
      fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"%.1f\" fill=\"%s\">"
                 "<title>%s %s: %.2f%%</title></rect>\n", x0 + p * 14, py(&fr, mean),
              py(&fr, 0) - py(&fr, mean), palette[p], loads[w], names[p], mean);
    }
    fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(30)\" font-size=\"11\">%s</text>\n",
            x0, fr.top + fr.height + 14, loads[w]);
  }
  svg_legend(f, fr.left + fr.width + 16, fr.top, names, npol);
  fprintf(f, "</svg>\n");
  free(vals);
  return ferror(f) ? SC_EIO : 0;
}
