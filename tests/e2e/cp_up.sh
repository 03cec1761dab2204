#!/usr/bin/env bash
# End to end (control plane 10): `supercell up` as a new user runs it (a
# fresh HOME, no SUPERCELL_* variables): it starts, prints the URL, where the
# admin token is and a first command; that command, run as printed, completes;
# Ctrl-C (SIGINT to the foreground process group) stops it cleanly, ending
# its tasks; a second `up` shows the history and keeps working.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"
unset SUPERCELL_HOME SUPERCELL_SERVER SUPERCELL_TOKEN
STATE=$HOME/.supercell

# A port that is free now on 127.0.0.1 (up takes --port; 8420 may be in use).
port_free() { [ -z "$(ss -ltnH "sport = :$1" 2>/dev/null)" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=""
for i in $(seq 50); do
  p=$((10000 + RANDOM % 20000)) # below the ephemeral range (32768+)
  if port_free "$p"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || fail "no free port found"
URL=http://127.0.0.1:$PORT

# start_up N: runs `supercell up` (log up-N.log) and waits for its banner.
start_up() {
  sc_spawn "$SC_TMP/up-$1.log" "$SUPERCELL" up --port "$PORT"
  UP_PID=$SC_LAST_PID
  wait_until 20 "the banner of up #$1" grep -q 'Press Ctrl-C' "$SC_TMP/up-$1.log"
  kill -0 "$UP_PID" || fail "up #$1 exited"
}
# ctrl_c N: SIGINT to up's process group, as a terminal's Ctrl-C; checks exit 0.
ctrl_c() {
  local end rc=0
  kill -INT -- "-$UP_PID" || fail "up #$1 is not running"
  end=$(($(sc_now_ms) + 25000 * SC_SLOW))
  while [ "$(ps -o stat= -p "$UP_PID" 2>/dev/null | cut -c1)" != Z ] && kill -0 "$UP_PID" 2>/dev/null; do
    [ "$(sc_now_ms)" -lt "$end" ] || fail "up #$1 did not stop within 25 s of Ctrl-C"
    sleep 0.1
  done
  wait "$UP_PID" || rc=$?
  check_eq "exit status of up #$1 after Ctrl-C" "$rc" 0
  check "up #$1 says it stopped: $(tail -n 2 "$SC_TMP/up-$1.log")" grep -q 'stopped' "$SC_TMP/up-$1.log"
  wait_until 10 "every process of up #$1 (agent, tasks) to end" eval '[ -z "$(sc_marked_pids)" ]'
  SC_PASSED=$((SC_PASSED + 1))
}

# ---- First run.
start_up 1
log=$SC_TMP/up-1.log
check "banner shows the URL: $(cat "$log")" grep -qF "$URL" "$log"
check "banner shows where the admin token is" grep -qF "$STATE/admin.token" "$log"
check "banner shows a first command" grep -qF 'supercell submit -- echo hello' "$log"
check "admin token written" [ -s "$STATE/admin.token" ]
check_eq "admin token mode" "$(stat -c %a "$STATE/admin.token")" 600
check "database in the state dir" [ -s "$STATE/supercell.db" ]

# The user runs the first command as printed, pointing the CLI at the port
# (the token comes from ~/.supercell/admin.token by default).
export SUPERCELL_SERVER=$URL
wait_until 15 "the local node to be ready" sc_has_ready 1
id=$("$SUPERCELL" submit -- echo hello) || fail "supercell submit -- echo hello"
check "submit printed a job id: $id" grep -qE '^j-[0-9]+$' <<<"$id"
sc_wait_job "$id" succeeded
check_eq "output of the first job" "$("$SUPERCELL" logs "$id")" hello
"$SUPERCELL" jobs >"$SC_TMP/jobs.txt" || fail "supercell jobs"
check "jobs table lists it: $(cat "$SC_TMP/jobs.txt")" grep -qE "^$id .*succeeded" "$SC_TMP/jobs.txt"
# A task still running at Ctrl-C is terminated: its job ends interrupted,
# unless it has retries left or asks to be requeued: then it runs again at
# the next start (there, on attempt 1, it finishes).
mark="up-long-$RANDOM$RANDOM"
long=$(sc_submit --name long --cpu 100 -- "sleep 1000; echo $mark")
again_cmd='[ "$SUPERCELL_ATTEMPT" -ge 1 ] && { echo "resumed on attempt $SUPERCELL_ATTEMPT"; exit 0; }; sleep 1000'
retried=$(sc_submit --name retried --cpu 100 --max-retries 1 -- "$again_cmd")
requeued=$(sc_submit --name requeued --cpu 100 --requeue -- "$again_cmd")
for j in "$long" "$retried" "$requeued"; do sc_wait_state "$j" running; done
wait_until 10 "the long task's process" eval '[ -n "$(sc_pids_with '"$mark"')" ]'
ctrl_c 1
check_eq "long task's processes after Ctrl-C" "$(sc_pids_with "$mark")" ""
check "the controller's port is closed" port_free "$PORT"

# ---- Second run: the history is there and it still works.
start_up 2
log=$SC_TMP/up-2.log
check "second banner shows the history: $(grep -i history "$log")" grep -qiE 'history: +4 jobs' "$log"
wait_until 15 "the local node to be ready again" sc_has_ready 1
list=$("$SUPERCELL" jobs -o json)
check_eq "first job kept" "$(jq -r --arg id "$id" '.jobs[] | select(.id == $id) | .state' <<<"$list")" succeeded
check_eq "first job's output kept" "$("$SUPERCELL" logs "$id")" hello
st=$(jq -r --arg id "$long" '.jobs[] | select(.id == $id) | .state' <<<"$list")
check "the job stopped by Ctrl-C is listed ($st)" [ -n "$st" ]
sc_log "the job stopped by Ctrl-C: $(sc_job "$long" | jq -c "{state, reason}")"
check_eq "the job stopped by Ctrl-C ended interrupted" "$(sc_job "$long" | jq -r '[.state, .reason] | join(": ")')" \
  "failed: interrupted (supercell up stopped)"
for j in "$retried" "$requeued"; do
  sc_wait_job "$j" succeeded 30
  check_eq "$j ran again at the next start" "$("$SUPERCELL" logs --attempt 1 "$j")" "resumed on attempt 1"
  check_eq "$j's first attempt ended interrupted" "$(sc_job "$j" | jq -r '.attempts[0].reason')" \
    "interrupted (supercell up stopped)"
done
id2=$("$SUPERCELL" submit -- echo again) || fail "submit on the second run"
sc_wait_job "$id2" succeeded
check_eq "output on the second run" "$("$SUPERCELL" logs "$id2")" again
ctrl_c 2

echo "$SC_NAME: $SC_PASSED passed, 0 failed ($((($(sc_now_ms) - SC_START_MS) / 1000))s)"
