#!/usr/bin/env bash
# A tenant cannot make the controller hold much memory through reads: with
# 50 pending jobs of 4,096 tasks each, four clients listing and reading
# them in parallel (lists at the largest limit, every job, pages of tasks)
# grow the controller's RSS by at most 20 MB. Lists carry job summaries
# (task counts, no tasks or spec), a job its first 256 tasks, and the rest
# comes in pages. (Before, one list of these jobs was 40.9 MB of JSON and
# four at once left the controller holding 1 GB.)
# Normal build only: ThreadSanitizer's shadow memory (several times what
# the process touches) and AddressSanitizer's quarantine (freed memory
# held back, up to 256 MB, so it is not reused at once) make an RSS bound
# say little there; it grew 43 MB under ASan in one clean-clone run and
# under 20 MB in the others.
# sc-builds: normal
# sc-cost: 25
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
tok=$("$SUPERCELL" token create --tenant alpha) || fail "token create"
export SUPERCELL_TOKEN=$tok
ids=()
for i in $(seq 1 50); do
  ids+=("$(sc_submit --name "big-$i" --tasks 4096 --gpus 1 --cpu 100 --memory 64Mi -- true)")
done
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SC_SERVER_PID/status"; }

# The shapes first.
curl -sf -H "Authorization: Bearer $tok" "$SC_URL/v1/jobs?limit=500" >"$SC_TMP/list" || fail "list"
check_eq "the list has the 50 jobs" "$(jq '.jobs | length' "$SC_TMP/list")" 50
check "the list is small: $(stat -c %s "$SC_TMP/list") bytes" [ "$(stat -c %s "$SC_TMP/list")" -lt 100000 ]
check_eq "summaries carry counts, not tasks" "$(jq -c '.jobs[0] | [has("tasks"), has("spec"), .task_counts.pending, .task_count]' "$SC_TMP/list")" '[false,false,4096,4096]'
check_eq "the largest limit is 500" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$SC_URL/v1/jobs?limit=501")" 400
job=$(curl -sf -H "Authorization: Bearer $tok" "$SC_URL/v1/jobs/${ids[0]}")
check_eq "a job carries its first 256 tasks and a cursor" "$(jq -c '[(.tasks | length), .tasks_next, .task_counts.pending]' <<<"$job")" '[256,255,4096]'
page=$(curl -sf -H "Authorization: Bearer $tok" "$SC_URL/v1/jobs/${ids[0]}/tasks?after=4000&limit=1000")
check_eq "the last page" "$(jq -c '[(.tasks | length), .tasks[0].index, .next]' <<<"$page")" '[95,4001,null]'
check_eq "the CLI follows the pages" "$("$SUPERCELL" job -o json "${ids[0]}" | jq '.tasks | length')" 4096

reader() { # N: lists, every job and a page of tasks of each, N times
  local k id
  for k in $(seq "$1"); do
    curl -sf -o /dev/null -H "Authorization: Bearer $tok" "$SC_URL/v1/jobs?limit=500" || return 1
    for id in "${ids[@]}"; do
      curl -sf -o /dev/null -H "Authorization: Bearer $tok" "$SC_URL/v1/jobs/$id" || return 1
      curl -sf -o /dev/null -H "Authorization: Bearer $tok" "$SC_URL/v1/jobs/$id/tasks?limit=1000&after=$((k * 7))" || return 1
    done
  done
}
reader 1 || fail "warm-up reads"
before=$(rss_kb)
pids=()
for c in 1 2 3 4; do reader 3 & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a reader failed"; done
after=$(rss_kb)
sc_log "controller RSS: $((before / 1024)) MiB before, $((after / 1024)) MiB after 4 x 3 rounds of reads"
limit=20480
check "RSS grew by at most $((limit / 1024)) MB ($before kB -> $after kB)" [ $((after - before)) -le "$limit" ]

sc_finish
