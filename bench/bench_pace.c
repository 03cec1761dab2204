/*
 * An open-loop load: arrays of K tasks submitted to a running controller at
 * a fixed rate of tasks per second, whatever the answers take, for a fixed
 * time (bench/scale.sh measures submit-to-start under it). A submission
 * that falls behind its slot is sent at once and counted late. Prints the
 * tasks sent, the rate reached and the submit round trips.
 * Usage: bench_pace --url URL --token-file F [--rate 5000] [--array 100]
 *                   [--duration 10] [--name pace] [--command 'sleep 0']
 *                   [--cpu 100]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int main(int argc, char **argv)
{
  const char *url = NULL, *token_file = NULL, *name = "pace", *command = "sleep 0";
  double rate = 5000, duration = 10;
  int array = 100, cpu = 100;
  struct curl_slist *headers = NULL;
  struct bh_buf out = {0};
  char endpoint[512], body[1024], *token;
  double *rtt;
  long n, late = 0, sent = 0;
  int64_t t0;
  CURL *h;

  for (int i = 1; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (strcmp(a, "--url") == 0)
      url = v;
    else if (strcmp(a, "--token-file") == 0)
      token_file = v;
    else if (strcmp(a, "--rate") == 0)
      rate = atof(v);
    else if (strcmp(a, "--array") == 0)
      array = atoi(v);
    else if (strcmp(a, "--duration") == 0)
      duration = atof(v);
    else if (strcmp(a, "--name") == 0)
      name = v;
    else if (strcmp(a, "--command") == 0)
      command = v;
    else if (strcmp(a, "--cpu") == 0)
      cpu = atoi(v);
    else
      url = NULL, i = argc;
  }
  if (!url || !token_file || rate <= 0 || array < 1 || duration <= 0 ||
      !(token = bh_read_file(token_file))) {
    fprintf(stderr, "usage: bench_pace --url URL --token-file F [--rate 5000] [--array 100]"
                    " [--duration 10] [--name pace] [--command 'sleep 0'] [--cpu 100]\n");
    return 2;
  }
  n = (long)(rate * duration / array);
  if (n < 1 || !(rtt = calloc((size_t)n, sizeof *rtt)))
    return 2;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  h = bh_curl_new(token, &headers, &out);
  snprintf(endpoint, sizeof endpoint, "%s/v1/jobs", url);
  snprintf(body, sizeof body,
           "{\"name\":\"%s\",\"command\":\"%s\",\"array\":\"0-%d\","
           "\"resources\":{\"cpu_milli\":%d,\"memory\":\"64Mi\"}}",
           name, command, array - 1, cpu);
  t0 = bh_mono_ns();
  for (long i = 0; i < n; i++) {
    int64_t slot = t0 + (int64_t)((double)i * array / rate * 1e9), now = bh_mono_ns();
    long st;
    if (now < slot)
      bh_sleep_ms((int)((slot - now) / 1000000));
    else if (now - slot > 1000000)
      late++;
    now = bh_mono_ns();
    st = bh_curl_call(h, endpoint, body, &out);
    rtt[i] = (double)(bh_mono_ns() - now) / 1e6;
    if (st != 201) {
      fprintf(stderr, "bench_pace: HTTP %ld: %s\n", st, out.data ? out.data : "");
      break;
    }
    sent++;
  }
  {
    double s = (double)(bh_mono_ns() - t0) / 1e9;
    printf("sent %ld tasks in %.1f s (%.0f tasks/s, asked %.0f); %ld of %ld submissions late;"
           " submit round trip p50 %.1f ms, p99 %.1f ms\n",
           sent * array, s, (double)(sent * array) / s, rate, late, sent,
           bh_quantile(rtt, (size_t)sent, 0.5), bh_quantile(rtt, (size_t)sent, 0.99));
  }
  curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  bh_buf_free(&out);
  free(rtt);
  free(token);
  return sent == n ? 0 : 1;
}
