#!/usr/bin/env bash
# sc-builds: normal
# End to end (standby controllers, docs/operations.md "Standby controllers
# (HA)"): two controllers A and B on one private PostgreSQL cluster with a
# 2 s lease, a real agent and the CLI given both URLs. A leads, B is a
# standby (307 for GETs, 503 naming A for writes). A 2-task gang runs, then
# 4 CLI clients submit 1,000 jobs and A is killed with SIGKILL in the
# middle. B must lead within 10 s (the time from the kill to B's first
# acknowledged write is logged); every acknowledged job is there exactly
# once, through B and in the database; the gang's processes run on (same
# pids) and their exits are recorded by B.
# sc-cost: 8
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"
sc_start_pg

CLIENTS=4
TOTAL=${SC_E2E_SUBMISSIONS:-1000}
PER=$((TOTAL / CLIENTS))
KILL_AT=$((TOTAL * 3 / 10))
LEASE=2s

source "${SC_E2E_LIB:-$(dirname "$0")/lib}/standby.sh"

start_ctl a --heartbeat-timeout 3s --fence-after 30s
A_PID=$CTL_PID A_URL=$CTL_URL
wait_until 10 "A to lead" leads "$A_URL"
# The standbys sign task credentials with the same key (docs/operations.md).
mkdir -p "$SC_TMP/b" && chmod 700 "$SC_TMP/b" && cp "$SC_TMP/a/task.key" "$SC_TMP/b/"
start_ctl b --heartbeat-timeout 3s --fence-after 30s
B_PID=$CTL_PID B_URL=$CTL_URL
wait_until 10 "B to answer as a standby" eval '[ "$(role_of "$B_URL")" = standby ]'
check_eq "B names the leader" "$(curl -sf "$B_URL/healthz" | jq -r .leader)" "$A_URL"

export SUPERCELL_SERVER="$A_URL,$B_URL" SUPERCELL_TOKEN=$(cat "$SC_TMP/a/admin.token")
SC_ADMIN_TOKEN=$SUPERCELL_TOKEN
# A standby sends a GET on (307 to the same path at the leader) and
# refuses a write, naming the leader.
got=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$B_URL/v1/jobs?limit=1")
check_eq "a GET at the standby" "$got" "307 $A_URL/v1/jobs?limit=1"
got=$(curl -s -w ' %{http_code}' -X POST -H 'Content-Type: application/json' -d '{}' "$B_URL/v1/jobs")
check_eq "a write at the standby" "$(jq -r '"\(.error.code) \(.leader)"' <<<"${got% *}") ${got##* }" \
  "not_leader $A_URL 503"

sc_make_agent_token
sc_spawn "$SC_TMP/agent-node-a.log" "$SUPERCELL" agent --server "$SUPERCELL_SERVER" \
  --token-file "$SC_TMP/agent.token" --name node-a --devices nvidia:A100:8 \
  --state-dir "$SC_TMP/agent-node-a" --no-cgroups --cpu 64000 --memory 256Gi --share "$SC_SHARE"
sc_wait_nodes 1

# The gang runs until the test releases it.
gang=$(sc_submit --name gang --tasks 2 --gpus 1 --cpu 1000 -- \
  "while [ ! -e $SC_SHARE/release ]; do sleep 0.1; done; echo done")
sc_wait_state "$gang" running 20
pids_of() { sc_job "$1" | jq -r '[.tasks[].pid] | map(tostring) | join(" ")'; }
wait_until 10 "the gang's pids" eval '[ "$(pids_of "$gang" | wc -w)" = 2 ] && ! grep -qw 0 <<<"$(pids_of "$gang")"'
gang_pids=$(pids_of "$gang")
sc_log "gang $gang runs as pids $gang_pids"

# client K: submits PER held jobs named cK-I through the CLI (both URLs);
# "name id" to acks-K for each acknowledgment, the name to errs-K when the
# CLI gave up (a submission in flight at the kill: it may or may not exist).
client() {
  local k=$1 i name out=$SC_TMP/out-$k body
  for i in $(seq "$PER"); do
    name="c$k-$i"
    if "$SUPERCELL" submit -o json --hold --name "$name" --cpu 10 -- true >"$out" 2>"$out.err" &&
      body=$(<"$out") && [[ $body =~ \"id\":\ *\"(j-[0-9]+)\" ]]; then
      echo "$name ${BASH_REMATCH[1]}" >>"$SC_TMP/acks-$k"
    else
      echo "$name $(tr '\n' ' ' <"$out.err")" >>"$SC_TMP/errs-$k"
    fi
  done
}
acks() { cat "$SC_TMP"/acks-* 2>/dev/null | wc -l; }

t0=$(sc_now_ms)
cpids=()
for k in $(seq "$CLIENTS"); do
  set -m
  client "$k" &
  set +m
  cpids+=("$!")
  SC_PIDS+=("$!")
done
wait_until 60 "$KILL_AT acknowledged submissions" eval '[ "$(acks)" -ge '"$KILL_AT"' ]'
sc_log "kill -9 of the leader A after $(acks) acknowledged submissions"
killed_at=$(sc_now_ms)
sc_crash "$A_PID"
# The takeover: until B acknowledges a write.
probe() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST \
    -H "Authorization: Bearer $SC_ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d '{"name":"probe","command":"true","hold":true}' "$B_URL/v1/jobs")" = 201 ]
}
wait_until 10 "B to acknowledge a write after the kill" probe
takeover_ms=$(($(sc_now_ms) - killed_at))
sc_log "takeover: B acknowledged a write ${takeover_ms} ms after the kill -9 of A"
check_eq "B's role" "$(role_of "$B_URL")" leader
grep -q "leading (epoch 2)" "$SC_TMP/b.log" || fail "B did not log its takeover at epoch 2"
SC_PASSED=$((SC_PASSED + 1))

for p in "${cpids[@]}"; do
  wait "$p" || fail "client $p exited with $?"
done
sc_log "clients done after $((($(sc_now_ms) - t0) / 1000)) s: $(acks) acknowledged"
cat "$SC_TMP"/acks-* | sort >"$SC_TMP/acked"
n_err=$( (cat "$SC_TMP"/errs-* 2>/dev/null || true) | wc -l)
check "at most one submission per client lost in the kill ($n_err: $(cat "$SC_TMP"/errs-* 2>/dev/null | sed -n 1,3p || true))" \
  test "$n_err" -le "$CLIENTS"
check_eq "every submission acknowledged or given up" "$(($(wc -l <"$SC_TMP/acked") + n_err))" "$TOTAL"

# Through the new leader: every job, page by page ("id name").
: >"$SC_TMP/all"
after=""
for page in $(seq 20); do
  curl -sf --max-time 20 -H "Authorization: Bearer $SC_ADMIN_TOKEN" \
    "$B_URL/v1/jobs?limit=500${after:+&after=$after}" >"$SC_TMP/page" || fail "cannot list the jobs at B"
  jq -r '.jobs[] | "\(.id) \(.name)"' "$SC_TMP/page" >>"$SC_TMP/all"
  after=$(jq -r '.next // empty' "$SC_TMP/page")
  [ -n "$after" ] || break
done
missing=$(join -1 2 -2 1 -o 1.1,1.2 <(sort -k2,2 "$SC_TMP/acked") <(sort -k1,1 "$SC_TMP/all") -v 1 | sed -n 1,5p)
check_eq "acknowledged jobs missing at the new leader" "$missing" ""
mismatch=$(join -1 2 -2 1 -o 1.1,1.2,2.2 <(sort -k2,2 "$SC_TMP/acked") <(sort -k1,1 "$SC_TMP/all") |
  awk '$1 != $3' | sed -n 1,5p)
check_eq "acknowledged jobs with another name" "$mismatch" ""
check_eq "acknowledged names more than once at B" \
  "$(join <(cut -d' ' -f1 "$SC_TMP/acked") <(cut -d' ' -f2 "$SC_TMP/all" | sort | uniq -d) | sed -n 1,3p)" ""
# In the database: each acknowledged name once, with its id.
psql "$SC_STORE" -Atc "SELECT name, 'j-' || lpad(id::text, 6, '0') FROM jobs" | tr '|' ' ' |
  sort >"$SC_TMP/in_db" || fail "cannot read the jobs table"
check_eq "acknowledged names more than once in the database" \
  "$(join <(cut -d' ' -f1 "$SC_TMP/acked") <(cut -d' ' -f1 "$SC_TMP/in_db" | sort | uniq -d) | sed -n 1,3p)" ""
check_eq "acknowledged (name, id) missing from the database" \
  "$(comm -23 "$SC_TMP/acked" "$SC_TMP/in_db" | sed -n 1,3p)" ""
sc_log "$(wc -l <"$SC_TMP/all") jobs at B, $(wc -l <"$SC_TMP/in_db") in the database"

# The gang ran on through the takeover: the same processes, known to B.
for pid in $gang_pids; do
  kill -0 "$pid" 2>/dev/null || fail "gang task pid $pid is gone"
done
SC_PASSED=$((SC_PASSED + 1))
wait_until 10 "the agent to register with B" grep -q "leads now: registering again\|registered as node-a with $B_URL" "$SC_TMP/agent-node-a.log"
check_eq "the gang's pids at B" "$(curl -sf -H "Authorization: Bearer $SC_ADMIN_TOKEN" "$B_URL/v1/jobs/$gang" |
  jq -r '[.tasks[].pid] | map(tostring) | join(" ")')" "$gang_pids"
check_eq "the gang at B" "$(curl -sf -H "Authorization: Bearer $SC_ADMIN_TOKEN" "$B_URL/v1/jobs/$gang" |
  jq -r '[.state, (.tasks[] | .state)] | join(" ")')" "running running running"
touch "$SC_SHARE/release"
sc_wait_job "$gang" succeeded 20
check_eq "the gang's exits at B" "$(curl -sf -H "Authorization: Bearer $SC_ADMIN_TOKEN" "$B_URL/v1/jobs/$gang" |
  jq -r '[.tasks[] | "\(.state):\(.exit_code)"] | join(" ")')" "succeeded:0 succeeded:0"
check_eq "the gang in the database" "$(psql "$SC_STORE" -Atc "SELECT string_agg(state || ':' || exit_code, ' ' ORDER BY idx) FROM tasks WHERE job_id = ${gang#j-}")" \
  "succeeded:0 succeeded:0"
check_eq "the lease" "$(psql "$SC_STORE" -Atc "SELECT epoch || ' ' || holder FROM lease")" "2 $B_URL"

SC_SERVER_PID=$B_PID
sc_finish
