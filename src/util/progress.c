/* Progress bar on stderr: "[#####.....] 12/60 experiments  3.1/s  ETA 15s". */
#include "util/progress.h"

#include <stdio.h>

#include "util/clock.h"

static double now_seconds(void)
{
  return sc_clock_mono_msf() / 1e3;
}

void sc_progress_start(struct sc_progress *p, const char *what, size_t total, bool enabled)
{
  p->what = what;
  p->total = total;
  p->enabled = enabled;
  p->start = now_seconds();
  p->last_draw = 0;
}

static void draw(struct sc_progress *p, size_t done, double now)
{
  enum { WIDTH = 30 };
  char bar[WIDTH + 1];
  double elapsed = now - p->start, rate = elapsed > 0 ? (double)done / elapsed : 0;
  size_t fill = p->total ? done * WIDTH / p->total : WIDTH;

  for (size_t i = 0; i < WIDTH; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[WIDTH] = '\0';
  fprintf(stderr, "\r[%s] %zu/%zu %s  %.1f/s", bar, done, p->total, p->what, rate);
  if (done < p->total && rate > 0)
    fprintf(stderr, "  ETA %.0fs   ", (double)(p->total - done) / rate);
  else
    fprintf(stderr, "  %.1fs      ", elapsed);
  fflush(stderr);
  p->last_draw = now;
}

void sc_progress_update(struct sc_progress *p, size_t done)
{
  double now;

  if (!p->enabled)
    return;
  now = now_seconds();
  if (now - p->last_draw >= 0.1)
    draw(p, done, now);
}

void sc_progress_finish(struct sc_progress *p, size_t done)
{
  if (!p->enabled)
    return;
  draw(p, done, now_seconds());
  fputc('\n', stderr);
}
