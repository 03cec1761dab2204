/*
 * The fleet's history for the dashboard: GET /v1/fleet/timeline, the
 * samples the controller keeps (server/ctl_timeline.c) as JSON.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "server/http.h"
#include "server/ids.h"
#include "util/error.h"
#include "util/units.h"

static json_t *sample_json(const struct sc_timeline_sample *s)
{
  char at[40];
  double cap = (double)s->gpus * 1000;
  bool frag = s->frag_milli >= 0 && s->gpus > 0;

  sc_time_format(s->at_ms, at, sizeof at);
  return json_pack("{s:s, s:i, s:i, s:f, s:f, s:o, s:o, s:i}", "at", at, "nodes", s->nodes,
                   "gpus", s->gpus, "gpus_used", (double)s->gpu_milli_used / 1000,
                   "allocated", s->gpus > 0 ? (double)s->gpu_milli_used / cap : 0.0,
                   "fragmented_gpus", frag ? json_real(s->frag_milli / 1000) : json_null(),
                   "fragmentation_pct", frag ? json_real(100 * s->frag_milli / cap) : json_null(),
                   "pending_jobs", s->pending);
}

/* GET /v1/fleet/timeline?since=T: the samples after T (RFC 3339), oldest
 * first. */
void sc_api_fleet_timeline(struct sc_http_req *req, struct sc_http_resp *resp)
{
  struct sc_ctl *ctl = sc_server_ctl(req->srv);
  const char *since = sc_http_query(req, "since");
  struct sc_timeline_sample *s;
  int64_t since_ms = 0, interval_ms;
  json_t *arr;
  int n, rc;

  if (since && *since && sc_parse_rfc3339_ms(since, &since_ms) < 0) {
    sc_http_error(resp, 400, "bad_request",
                  "'since' must be a time such as 2026-01-31T10:00:00.000Z (a sample's 'at')",
                  "since");
    return;
  }
  if ((rc = sc_ctl_timeline(ctl, since_ms, &s, &n, &interval_ms)) < 0) {
    sc_http_error(resp, 503, "internal", sc_strerror(rc), NULL);
    return;
  }
  arr = json_array();
  for (int i = 0; arr && i < n; i++)
    if (json_array_append_new(arr, sample_json(&s[i])) < 0) {
      json_decref(arr);
      arr = NULL;
    }
  free(s);
  if (!arr) {
    sc_http_error(resp, 503, "internal", sc_strerror(SC_ENOMEM), NULL);
    return;
  }
  sc_http_reply(resp, 200,
                json_pack("{s:I, s:i, s:o}", "interval_ms", (json_int_t)interval_ms, "capacity",
                          sc_ctl_timeline_capacity(ctl), "samples", arr));
}
