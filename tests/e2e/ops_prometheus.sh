#!/usr/bin/env bash
# sc-builds: normal
# Operations: GET /metrics scraped by a real Prometheus (Debian's, started
# here on a free port of 127.0.0.1 with its own TSDB in the test's
# directory, scraping every second with a metrics token from a file). Known
# work (2 jobs succeed, 1 fails, 1 holds 2 of 8 GPUs) shows in its query
# API with the expected values; /metrics wants an admin or metrics token
# (none or a bad one: 401; a user token: 403) unless the controller runs
# with --metrics-public.
# sc-cost: 12
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

command -v prometheus >/dev/null || fail "prometheus is required (scripts/install-deps)"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:8
sc_wait_nodes 1

# 1. Who may read it.
status() { curl -s -o "$SC_TMP/metrics.out" -w '%{http_code}' --max-time 5 "$@" "$SC_URL/metrics"; }
check_eq "no token" "$(status)" 401
check_eq "a bad token" "$(status -H "Authorization: Bearer $(printf '%064d' 7)")" 401
user_token=$("$SUPERCELL" token create --tenant default) || fail "token create (user)"
check_eq "a user token" "$(status -H "Authorization: Bearer $user_token")" 403
metrics_token=$("$SUPERCELL" token create --kind metrics) || fail "token create --kind metrics"
check_eq "a metrics token" "$(status -H "Authorization: Bearer $metrics_token")" 200
check "the exposition has HELP and TYPE lines" grep -q '^# TYPE supercell_nodes gauge$' "$SC_TMP/metrics.out"
check_eq "an admin token" "$(status -H "Authorization: Bearer $SC_ADMIN_TOKEN")" 200
ctype=$(curl -s -o /dev/null -w '%{content_type}' -H "Authorization: Bearer $metrics_token" "$SC_URL/metrics")
check_eq "content type" "$ctype" "text/plain; version=0.0.4; charset=utf-8"
check_eq "a metrics token reads nothing else" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $metrics_token" "$SC_URL/v1/jobs")" 403
check "token list shows its kind" grep -q ' metrics ' <<<"$("$SUPERCELL" token list)"

# 2. Known work: two successes, a failure, one job holding 2 GPUs.
ok1=$(sc_submit -- true)
ok2=$(sc_submit -- "exit 0")
bad=$(sc_submit -- "exit 3")
hold=$(sc_submit --gpus 2 -- sleep 60)
sc_wait_job "$ok1" succeeded
sc_wait_job "$ok2" succeeded
sc_wait_job "$bad" failed
sc_wait_state "$hold" running

# 3. A real Prometheus scrapes it with the metrics token from a file.
prom_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(umask 077; echo "$metrics_token" >"$SC_TMP/prom.token")
cat >"$SC_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: supercell
    authorization:
      credentials_file: $SC_TMP/prom.token
    static_configs:
      - targets: ["127.0.0.1:$SC_PORT"]
EOF
sc_spawn "$SC_TMP/prometheus.log" prometheus --config.file="$SC_TMP/prometheus.yml" \
  --storage.tsdb.path="$SC_TMP/tsdb" --web.listen-address="127.0.0.1:$prom_port" --log.level=warn
prom_pid=$SC_LAST_PID
PROM=http://127.0.0.1:$prom_port
prom_ready() { curl -sf --max-time 2 "$PROM/-/ready" >/dev/null; }
wait_until 20 "Prometheus to be ready" prom_ready

# prom_is QUERY WANT: the query's first value is WANT now.
prom_value() {
  curl -s --max-time 2 --data-urlencode "query=$1" "$PROM/api/v1/query" |
    jq -r '.data.result[0].value[1] // empty'
}
prom_is() {
  local got
  got=$(prom_value "$1")
  SC_WAIT_INFO="$1 = ${got:-no sample}"
  [ "$got" = "$2" ]
}
expect() { # QUERY WANT
  wait_until 15 "Prometheus to see $1 = $2" prom_is "$1" "$2"
  SC_PASSED=$((SC_PASSED + 1))
}
expect 'up{job="supercell"}' 1
expect 'supercell_job_exits_total{tenant="default",outcome="succeeded"}' 2
expect 'supercell_job_exits_total{tenant="default",outcome="failed"}' 1
expect 'supercell_job_exits_total{tenant="default",outcome="cancelled"}' 0
expect 'supercell_jobs_submitted_total{tenant="default"}' 4
expect 'supercell_job_starts_total{tenant="default"}' 4
expect 'supercell_jobs{tenant="default",state="running"}' 1
expect 'sum(supercell_nodes{state="ready"})' 1
expect 'supercell_accelerator_capacity_milli{model="A100"}' 8000
expect 'supercell_accelerator_allocated_milli{model="A100"}' 2000
expect 'supercell_job_submit_to_start_seconds_count' 4
expect 'supercell_job_submit_to_start_seconds_bucket{le="+Inf"}' 4
expect 'supercell_scheduler_pass_duration_seconds_count > bool 0' 1
expect 'supercell_store_commit_duration_seconds_count > bool 0' 1
expect 'supercell_usage_gpu_seconds_total{tenant="default"} > bool 0' 1
expect 'sum(supercell_http_requests_total{route="/metrics",status="401"})' 2
expect 'sum(supercell_http_requests_total{route="/metrics",status="403"})' 1
expect 'sum(supercell_http_requests_total{route="/v1/jobs",method="POST",status="201"})' 4
expect 'supercell_gpu_fragmentation_ratio >= bool 0' 1
# The running job's GPU-seconds grow from one scrape to the next.
g1=$(prom_value 'supercell_usage_gpu_seconds_total{tenant="default"}')
grows() { [ "$(jq -n --arg a "$(prom_value 'supercell_usage_gpu_seconds_total{tenant="default"}')" --arg b "$g1" '($a | tonumber) > ($b | tonumber)')" = true ]; }
wait_until 10 "GPU-seconds to grow past $g1" grows
SC_PASSED=$((SC_PASSED + 1))
kill -TERM "$prom_pid"
wait "$prom_pid" 2>/dev/null || true
check "Prometheus stopped" test ! -e "/proc/$prom_pid"

# 4. --metrics-public serves it without a token (and the restart counts anew).
sc_stop "$SC_SERVER_PID" "the controller"
sc_start_server --metrics-public
check_eq "no token, --metrics-public" "$(status)" 200
check "the exposition without a token" grep -q '^supercell_nodes{' "$SC_TMP/metrics.out"
check_eq "other routes still want one" "$(curl -s -o /dev/null -w '%{http_code}' "$SC_URL/v1/jobs")" 401
"$SUPERCELL" cancel "$hold" >/dev/null || fail "cancel $hold"
sc_finish
