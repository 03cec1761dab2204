#!/usr/bin/env bash
# End to end (control plane 8): kill -9 of the controller in the middle of
# 1,000 submissions from 8 parallel clients (4 with curl, 4 with the CLI).
# Clients retry while the controller is unreachable (a retry after a lost
# reply may create an unacknowledged extra job; that is allowed). After the
# restart: every job that got a 201 exists exactly once with the name its
# client sent, every job completes, and no task was started twice. The
# sanitizer runs send 400 (SC_E2E_SUBMISSIONS, set by the Makefile).
# sc-cost: 35
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

CLIENTS=8
TOTAL=${SC_E2E_SUBMISSIONS:-1000}
PER=$((TOTAL / CLIENTS))
KILL_AT=$((TOTAL * 3 / 10))

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:8
sc_start_agent node-b ascend:910B:8
sc_wait_nodes 2

# client K MODE: submits PER jobs named cK-I; appends "name id" to acks-K for
# each 201, "name status body" to errs-K for a final refusal.
client() {
  local k=$1 mode=$2 i name try code out=$SC_TMP/out-$k body id
  local spec
  for i in $(seq "$PER"); do
    name="c$k-$i"
    id=""
    for try in $(seq 400); do # about 20 s of retries while the controller is away
      if [ "$mode" = curl ]; then
        spec="{\"name\":\"$name\",\"command\":\"true\",\"resources\":{\"cpu_milli\":10}}"
        code=$(curl -s -o "$out" -w '%{http_code}' --max-time 10 -X POST \
          -H "Authorization: Bearer $SC_ADMIN_TOKEN" -H 'Content-Type: application/json' \
          -d "$spec" "$SC_URL/v1/jobs") || true
      else
        code=201
        "$SUPERCELL" submit -o json --name "$name" --cpu 10 -- true >"$out" 2>"$out.err" || code=$?
      fi
      body=$(<"$out")
      case $code in
        201 | 0)
          [[ $body =~ \"id\":\ *\"(j-[0-9]+)\" ]] || { echo "$name 201-without-id $body" >>"$SC_TMP/errs-$k"; break; }
          id=${BASH_REMATCH[1]}
          echo "$name $id" >>"$SC_TMP/acks-$k"
          break ;;
        000 | 3 | 5??) sleep 0.05 ;;              # unreachable, or 5xx while restarting
        *) echo "$name $code $body $(cat "$out.err" 2>/dev/null)" >>"$SC_TMP/errs-$k"; break ;;
      esac
    done
    [ -n "$id" ] || [ -s "$SC_TMP/errs-$k" ] || echo "$name gave-up" >>"$SC_TMP/errs-$k"
  done
}

acks() { cat "$SC_TMP"/acks-* 2>/dev/null | wc -l; }

t0=$(sc_now_ms)
cpids=()
for k in $(seq "$CLIENTS"); do
  if [ $((k % 2)) = 1 ]; then mode=curl; else mode=cli; fi
  set -m # its own process group: the cleanup also ends its curl or CLI child
  client "$k" "$mode" &
  set +m
  cpids+=("$!")
  SC_PIDS+=("$!")
done
wait_until 60 "$KILL_AT acknowledged submissions" eval '[ "$(acks)" -ge '"$KILL_AT"' ]'
sc_log "kill -9 of the controller after $(acks) acknowledged submissions"
sc_crash "$SC_SERVER_PID"
sleep 0.5
restarted_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sc_start_server
sc_log "controller restarted; $(acks) acknowledged so far"
for p in "${cpids[@]}"; do
  wait "$p" || fail "client $p exited with $?"
done
sc_log "clients done after $((($(sc_now_ms) - t0) / 1000)) s: $(acks) acknowledged"
check "no submission refused or given up: $(cat "$SC_TMP"/errs-* 2>/dev/null | sed -n 1,5p)" \
  [ -z "$(cat "$SC_TMP"/errs-* 2>/dev/null)" ]
cat "$SC_TMP"/acks-* | sort >"$SC_TMP/acked"
check_eq "acknowledged submissions" "$(wc -l <"$SC_TMP/acked")" "$((PER * CLIENTS))"
check_eq "each name acknowledged once" "$(cut -d' ' -f1 "$SC_TMP/acked" | sort | uniq -d | wc -l)" 0
check_eq "each id acknowledged once" "$(cut -d' ' -f2 "$SC_TMP/acked" | sort | uniq -d | wc -l)" 0

# All jobs, page by page: prints "id name state attempt" lines.
list_all() {
  local after="" page next
  : >"$SC_TMP/all"
  for page in $(seq 100); do
    curl -sf --max-time 20 -H "Authorization: Bearer $SC_ADMIN_TOKEN" \
      "$SC_URL/v1/jobs?limit=500${after:+&after=$after}" >"$SC_TMP/page" || return 1
    jq -r '.jobs[] | "\(.id) \(.name) \(.state) \(.attempt)"' "$SC_TMP/page" >>"$SC_TMP/all"
    next=$(jq -r '.next // empty' "$SC_TMP/page")
    [ -n "$next" ] || return 0
    after=$next
  done
  return 1
}
all_final() {
  local open
  list_all || return 1
  open=$(awk '$3 != "succeeded" && $3 != "failed" && $3 != "cancelled"' "$SC_TMP/all" | wc -l)
  SC_WAIT_INFO="$open of $(wc -l <"$SC_TMP/all") jobs not finished"
  [ "$open" -eq 0 ]
}
list_all || fail "cannot list the jobs"
n_all=$(wc -l <"$SC_TMP/all")
check_eq "job ids in the list are unique" "$(cut -d' ' -f1 "$SC_TMP/all" | sort | uniq -d | sed -n 1,3p)" ""
# Every acknowledged id is there once, with its name.
missing=$(join -1 2 -2 1 -o 1.1,1.2 <(sort -k2,2 "$SC_TMP/acked") <(sort -k1,1 "$SC_TMP/all") -v 1 | sed -n 1,5p)
check_eq "acknowledged jobs missing after the restart" "$missing" ""
mismatch=$(join -1 2 -2 1 -o 1.1,1.2,2.2 <(sort -k2,2 "$SC_TMP/acked") <(sort -k1,1 "$SC_TMP/all") |
  awk '$1 != $3' | sed -n 1,5p)
check_eq "acknowledged jobs with another name" "$mismatch" ""
extra=$((n_all - $(wc -l <"$SC_TMP/acked")))
check "unacknowledged extra jobs: between 0 and one per client in flight ($extra)" test "$extra" -ge 0 -a "$extra" -le "$CLIENTS"
sc_log "$n_all jobs, $extra unacknowledged"

# Both agents must find the restarted controller (heartbeats after the restart).
heard_since() {
  SC_WAIT_INFO=$(sc_nodes_json | jq -c '[.nodes[] | {name, state, last_heartbeat}]')
  [ "$(jq --arg t "$restarted_at" '[.[] | select(.state == "ready" and .last_heartbeat > $t)] | length' <<<"$SC_WAIT_INFO")" = 2 ]
}
wait_until 10 "both agents to heartbeat to the controller restarted at $restarted_at" heard_since
SC_PASSED=$((SC_PASSED + 1))

wait_until 90 "every job to finish" all_final
sc_log "all jobs final after $((($(sc_now_ms) - t0) / 1000)) s"
check_eq "jobs after the wait" "$(wc -l <"$SC_TMP/all")" "$n_all"
check_eq "job states" "$(cut -d' ' -f3 "$SC_TMP/all" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" "succeeded=$n_all "
check_eq "attempts other than 0" "$(awk '$4 != 0' "$SC_TMP/all" | sed -n 1,3p)" ""
# No task started twice: each task id has one "started" line across the agents.
dups=$(cat "$SC_TMP"/agent-*.log | grep -o 'task j-[0-9]*\.[0-9]*: started' | sort | uniq -d | sed -n 1,3p)
check_eq "tasks started more than once" "$dups" ""
check_eq "tasks started" "$(cat "$SC_TMP"/agent-*.log | grep -c ': started pid')" "$n_all"

sc_finish
