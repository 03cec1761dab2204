#!/usr/bin/env bash
# End to end, no browser: the dashboard's files at /ui need no token, come
# with their media types and security headers, and every file the page
# loads (index.html's links, each module's imports) is there; GET
# /v1/fleet/timeline needs a user or admin token, matches its OpenAPI
# schema, samples at --timeline-interval, pages with `since`, and reports
# the allocation and FGD fragmentation of a known fleet and workload: two
# emulated nodes of 8 H100s and one task of 700 milli-GPU leave 0.3 GPU
# stranded (the device's 300 left, too small for the only typical shape).
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server --timeline-interval 1s
sc_make_agent_token
sc_spawn "$SC_TMP/emulator.log" "$SUPERCELL" agent --server "$SC_URL" \
  --token-file "$SC_TMP/agent.token" --emulate 2 --devices nvidia:H100:8 --cpu 64000 \
  --memory 256Gi
sc_wait_nodes 2

# get PATH [curl args]: "STATUS CONTENT-TYPE", the body in $SC_TMP/body,
# the headers in $SC_TMP/headers.
get() {
  local path=$1; shift
  curl -s --max-time 10 -D "$SC_TMP/headers" -o "$SC_TMP/body" -w '%{http_code} %{content_type}' \
    "$@" "$SC_URL$path"
}
html="text/html; charset=utf-8"

# 1. The page, without a token, at /ui and /ui/.
check_eq "GET /ui" "$(get /ui)" "200 $html"
check "the page loads its module" grep -qF '<script type="module" src="/ui/app.js">' "$SC_TMP/body"
check_eq "GET /ui/" "$(get /ui/)" "200 $html"
check "a Content-Security-Policy of 'self'" grep -qi "^Content-Security-Policy: default-src 'self'" "$SC_TMP/headers"
check "nosniff" grep -qi '^X-Content-Type-Options: nosniff' "$SC_TMP/headers"
check "no-cache" grep -qi '^Cache-Control: no-cache' "$SC_TMP/headers"

# 2. Every file the page and its modules load, with its media type.
type_of() {
  case $1 in
    *.js) echo "text/javascript; charset=utf-8" ;;
    *.css) echo "text/css; charset=utf-8" ;;
    *.svg) echo "image/svg+xml" ;;
    *) echo "?" ;;
  esac
}
get /ui >/dev/null
mapfile -t files < <(grep -oE '(src|href)="/ui/[^"]+"' "$SC_TMP/body" | sed -E 's|.*"/ui/([^"]+)"|\1|' | sort -u)
seen=" "
while [ "${#files[@]}" -gt 0 ]; do
  f=${files[0]}
  files=("${files[@]:1}")
  [[ $seen == *" $f "* ]] && continue
  seen+="$f "
  check_eq "GET /ui/$f" "$(get "/ui/$f")" "200 $(type_of "$f")"
  if [[ $f == *.js ]]; then
    mapfile -t more < <(grep -oE "from '\./[^']+'" "$SC_TMP/body" | sed -E "s|from '\./([^']+)'|\1|")
    files+=("${more[@]}")
  fi
done
ui=${SC_SOURCE_DIR:-$SC_E2E_LIB/../../..}/src/server/ui
check_eq "the page reaches every file of src/server/ui" "$(tr ' ' '\n' <<<"$seen index.html" | sed '/^$/d' | sort | xargs)" \
  "$(ls "$ui" | sort | xargs)"
check_eq "an unknown file" "$(get /ui/nope.js)" "404 application/json"
check_eq "no way out of /ui" "$(get /ui/..%2Fv1%2Fnodes)" "404 application/json"
check_eq "POST /ui" "$(get /ui -X POST)" "405 application/json"

# 3. The timeline: a token is needed (user or admin; not an agent's).
check_eq "timeline without a token" "$(get /v1/fleet/timeline)" "401 application/json"
check_eq "timeline with an agent token" \
  "$(get /v1/fleet/timeline -H "Authorization: Bearer $SC_AGENT_TOKEN")" "403 application/json"
user=$("$SUPERCELL" token create --tenant alpha)
check_eq "timeline with a user token" \
  "$(get /v1/fleet/timeline -H "Authorization: Bearer $user")" "200 application/json"
sc_api_schema GET /v1/fleet/timeline 200 "GET /v1/fleet/timeline 200"
check_eq "the interval is --timeline-interval" "$(jq .interval_ms "$SC_TMP/api.body")" 1000
check_eq "the ring's capacity" "$(jq .capacity "$SC_TMP/api.body")" 720

# last_sample JQ: the newest sample's JQ expression.
last_sample() { sc_api GET /v1/fleet/timeline >/dev/null; jq -r ".samples[-1] | $1" "$SC_TMP/api.body"; }
has_sample() { [ "$(last_sample "$1")" = true ]; }

# 4. Before any job: two nodes, 16 GPUs, nothing used, no workload yet.
wait_until 10 "a sample of both nodes" has_sample '.nodes == 2'
check_eq "an idle fleet" "$(last_sample '[.gpus, .gpus_used, .allocated, .fragmented_gpus, .fragmentation_pct, .pending_jobs] | @csv')" \
  "16,0,0,,,0"

# 5. One task of 700 milli: 0.7 of 16 GPUs allocated; the only typical
#    shape (700 milli) fits on every free device but the one it shares,
#    whose 300 left are stranded: 0.3 GPU, 1.875% of 16.
job=$(sc_submit --name frac --gpu-milli 700 -- sleep 120)
sc_wait_state "$job" running
wait_until 10 "a sample with the task" has_sample '.gpus_used == 0.7'
check_eq "allocation and fragmentation" \
  "$(last_sample '[.gpus, .gpus_used, (.allocated * 1e6 | round), (.fragmented_gpus * 1e6 | round), (.fragmentation_pct * 1e6 | round)] | @csv')" \
  "16,0.7,43750,300000,1875000"
sc_api_schema GET /v1/fleet/timeline 200 "GET /v1/fleet/timeline 200"

# 6. since: only later samples; a bad time is 400.
at=$(jq -r '.samples[-1].at' "$SC_TMP/api.body")
n=$(jq '.samples | length' "$SC_TMP/api.body")
check "samples are kept (got $n)" test "$n" -ge 3
sc_api GET "/v1/fleet/timeline?since=$at" >/dev/null
check_eq "since: none at or before it" "$(jq --arg at "$at" '[.samples[] | select(.at <= $at)] | length' "$SC_TMP/api.body")" 0
got=$(sc_api GET "/v1/fleet/timeline?since=yesterday")
check_eq "a bad since" "${got%% *}" 400
check "the error names since" grep -q '"field":"since"' "$SC_TMP/api.body"

"$SUPERCELL" cancel "$job" >/dev/null
sc_finish
