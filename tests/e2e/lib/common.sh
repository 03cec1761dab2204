# Shared helpers for the control-plane end-to-end tests (sourced, not run).
#
# Each test gets its own temporary directory ($SC_TMP) holding the
# controller's and agents' state and logs, a controller on a free port of
# 127.0.0.1, and a trap that kills everything it started (controller,
# agents, `supercell up`, and the tasks the agents run in their own sessions)
# and removes the directory, on success, failure or timeout.
#
# Everything started here carries SC_E2E_MARK=$SC_TMP in its environment;
# agents pass their environment on to tasks, so the cleanup finds every
# process of this test, and only of this test, by that marker.
#
# Usage in a test:
#   source "$SC_E2E_LIB/common.sh"
#   sc_start_server; sc_make_agent_token
#   sc_start_agent node-a nvidia:A100:8; sc_start_agent node-b ascend:910B:8
#   sc_wait_nodes 2
#   id=$(sc_submit -- echo hi); sc_wait_job "$id" succeeded
#   check "what" test ...
#   sc_finish
set -euo pipefail

# Sourced once: a test may source another test's body after setting up
# (cp_controller_crash_pg.sh runs cp_controller_crash.sh on PostgreSQL).
[ -n "${SC_COMMON_LOADED:-}" ] && return 0
SC_COMMON_LOADED=1
SC_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

SUPERCELL=${SUPERCELL:-build/supercell}
case $SUPERCELL in /*) ;; *) SUPERCELL=$PWD/$SUPERCELL ;; esac
[ -x "$SUPERCELL" ] || { echo "FAIL: no supercell binary at $SUPERCELL" >&2; exit 1; }
command -v jq >/dev/null || { echo "FAIL: jq is required (scripts/install-deps)" >&2; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl is required" >&2; exit 1; }

# SC_TRACE=1 traces every command with a timestamp (to find slow steps).
if [ -n "${SC_TRACE:-}" ]; then PS4='+ $EPOCHREALTIME '; set -x; fi
SC_NAME=$(basename "$0" .sh)
SC_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sc-e2e-$SC_NAME.XXXXXX")
# Tasks run with a private /tmp; files a test and its tasks both use (release
# files, barriers) go here, which sc_start_agent shares into every task.
# Tasks run as their tenant's uid (agents run as root here), so the share is
# world-writable and sticky like /tmp, and $SC_TMP traversable (not listable).
SC_SHARE=$SC_TMP/share
mkdir -p "$SC_SHARE" && chmod 1777 "$SC_SHARE" && chmod 711 "$SC_TMP"
# The whole test must end before this many seconds (CTest's limit is 300).
SC_DEADLINE_S=${SC_DEADLINE_S:-240}
# Multiplier for waits, e.g. 3 under the sanitizers (waits end early anyway).
SC_SLOW=${SC_SLOW:-1}
SC_PASSED=0
SC_PIDS=()        # processes started (their own process groups), killed at exit
SC_SERVER_PID=""
SC_PORT=""
SC_URL=""
declare -A SC_AGENT_PID=()

mkdir -p "$SC_TMP/home"
export HOME=$SC_TMP/home SUPERCELL_HOME=$SC_TMP/home
unset SUPERCELL_SERVER SUPERCELL_TOKEN SUPERCELL_AGENT_TOKEN

sc_now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
SC_START_MS=$(sc_now_ms)

sc_log() { echo "[$SC_NAME +$((($(sc_now_ms) - SC_START_MS)))ms] $*" >&2; }

# Prints the tail of every log of this test (called on failure).
sc_dump_logs() {
  local f
  for f in "$SC_TMP"/*.log; do
    [ -f "$f" ] || continue
    echo "----- $(basename "$f") (last 40 lines) -----" >&2
    tail -n 40 "$f" >&2
  done
}

fail() {
  echo "FAIL [$SC_NAME]: $*" >&2
  sc_dump_logs
  exit 1
}

# check DESCRIPTION COMMAND...: runs the command; counts a pass or fails.
check() {
  local what=$1; shift
  if "$@"; then
    SC_PASSED=$((SC_PASSED + 1))
  else
    fail "$what"
  fi
}

# Equality with both values in the message.
check_eq() { # what actual expected
  if [ "$2" == "$3" ]; then
    SC_PASSED=$((SC_PASSED + 1))
  else
    fail "$1: got '$2', want '$3'"
  fi
}

# Pids of the processes (other than this shell) whose environment has our marker.
sc_marked_pids() {
  local f pid
  for f in $(grep -lzxsF "SC_E2E_MARK=$SC_TMP" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$pid" = "$$" ] || echo "$pid"
  done
}

# Pids whose command line contains STRING (tasks are tagged with a marker).
sc_pids_with() {
  local f pid
  for f in $(grep -lzsF -- "$1" /proc/[0-9]*/cmdline 2>/dev/null); do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] || echo "$pid"
  done
}

sc_kill_everything() {
  local pid round left
  for pid in "${SC_PIDS[@]}"; do
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
  for round in 1 2 3 4 5 6 7 8 9 10; do
    left=$(sc_marked_pids)
    [ -z "$left" ] && break
    for pid in $left; do kill -KILL "$pid" 2>/dev/null || true; done
    sleep 0.1
  done
  for pid in "${SC_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  left=$(sc_marked_pids)
  [ -z "$left" ] || echo "warning [$SC_NAME]: processes left: $left"
}

# Commands a test adds (sc_at_exit CMD...) run after everything is killed.
SC_AT_EXIT=()
sc_at_exit() { SC_AT_EXIT+=("$*"); }

sc_on_exit() {
  local rc=$? cmd
  trap - EXIT INT TERM
  set +e
  [ -n "${SC_WATCHDOG:-}" ] && { kill -- "-$SC_WATCHDOG" 2>/dev/null; wait "$SC_WATCHDOG" 2>/dev/null; }
  sc_kill_everything 2>/dev/null
  for cmd in "${SC_AT_EXIT[@]}"; do eval "$cmd" 2>/dev/null; done
  if [ -n "${SC_KEEP_TMP:-}" ]; then
    echo "[$SC_NAME] kept $SC_TMP" >&2
  else
    # a process killed a moment ago may still be writing: retry a little
    for i in 1 2 3 4 5; do rm -rf "$SC_TMP" 2>/dev/null && break; sleep 0.2; done
    [ ! -e "$SC_TMP" ] || echo "warning [$SC_NAME]: could not remove $SC_TMP"
  fi
  exit "$rc"
}
trap sc_on_exit EXIT
trap 'echo "FAIL [$SC_NAME]: interrupted" >&2; sc_dump_logs; exit 1' INT
trap 'echo "FAIL [$SC_NAME]: stopped (deadline of ${SC_DEADLINE_S}s or SIGTERM)" >&2; sc_dump_logs; exit 1' TERM
# Watchdog: the test ends by itself even if something hangs.
set -m
(sleep "$SC_DEADLINE_S"; kill -TERM $$ 2>/dev/null) &
SC_WATCHDOG=$!
set +m

# sc_spawn LOGFILE COMMAND...: starts a daemon in its own process group with
# the marker in its environment and default signal dispositions; sets SC_LAST_PID.
sc_spawn() {
  local log=$1; shift
  set -m
  SC_E2E_MARK=$SC_TMP "$@" >>"$log" 2>&1 </dev/null &
  SC_LAST_PID=$!
  set +m
  SC_PIDS+=("$SC_LAST_PID")
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls every 0.1 s until the
# command succeeds; fails the test after SECONDS (times SC_SLOW). A predicate
# may set SC_WAIT_INFO to what it saw, for the failure message.
wait_until() {
  local limit=$1 what=$2; shift 2
  local end=$(($(sc_now_ms) + limit * SC_SLOW * 1000))
  SC_WAIT_INFO=""
  until "$@" >/dev/null 2>&1; do
    [ "$(sc_now_ms)" -lt "$end" ] ||
      fail "timed out after $((limit * SC_SLOW))s waiting for $what${SC_WAIT_INFO:+ (last seen: $SC_WAIT_INFO)}"
    sleep 0.1
  done
}

sc_healthy() { curl -sf --max-time 2 "$SC_URL/healthz" >/dev/null; }

# sc_start_pg: a private PostgreSQL cluster for this test (pg_cluster.sh:
# a Unix socket in its own directory), stopped at exit; sets SC_STORE, so
# sc_start_server keeps the controller's state there. Fails the test when
# the server is not installed (scripts/install-deps installs it).
sc_start_pg() {
  local dir
  dir=$(bash "$SC_LIB_DIR/pg_cluster.sh" start --watch $$) ||
    fail "cannot start a PostgreSQL cluster (tests/e2e/lib/pg_cluster.sh said why above)"
  sc_at_exit "bash '$SC_LIB_DIR/pg_cluster.sh' stop '$dir'"
  SC_STORE="postgresql:///postgres?host=$dir&port=5432&user=supercell"
  sc_log "PostgreSQL cluster in $dir"
}

# sc_start_server [EXTRA ARGS...]: starts (or restarts, same port) the
# controller with state in $SC_TMP/server (the database in $SC_STORE when
# set) and a 2 s heartbeat timeout.
sc_start_server() {
  local listen=127.0.0.1:${SC_PORT:-0} end store=()
  [ -n "${SC_STORE:-}" ] && store=(--store "$SC_STORE")
  rm -f "$SC_TMP/server/controller.url"
  sc_spawn "$SC_TMP/server.log" "$SUPERCELL" server --listen "$listen" \
    --state-dir "$SC_TMP/server" --heartbeat-timeout 2s "${store[@]}" "$@"
  SC_SERVER_PID=$SC_LAST_PID
  end=$(($(sc_now_ms) + 20000 * SC_SLOW))
  until [ -s "$SC_TMP/server/controller.url" ]; do
    kill -0 "$SC_SERVER_PID" 2>/dev/null || fail "the controller exited at start"
    [ "$(sc_now_ms)" -lt "$end" ] || fail "the controller wrote no controller.url"
    sleep 0.05
  done
  SC_URL=$(head -n1 "$SC_TMP/server/controller.url")
  SC_PORT=${SC_URL##*:}
  wait_until 10 "the controller's /healthz" sc_healthy
  export SUPERCELL_SERVER=$SC_URL
  SC_ADMIN_TOKEN=$(cat "$SC_TMP/server/admin.token")
  export SUPERCELL_TOKEN=$SC_ADMIN_TOKEN
}

# Creates a bootstrap agent token through the CLI into $SC_TMP/agent.token
# (agents register with it and get their node's own credential back).
sc_make_agent_token() {
  local tok
  tok=$("$SUPERCELL" token create --kind agent) || fail "token create --kind agent"
  [[ $tok =~ ^[0-9a-f]{64}$ ]] || fail "agent token looks wrong: '$tok'"
  (umask 077; echo "$tok" >"$SC_TMP/agent.token")
  SC_AGENT_TOKEN=$tok
}

# sc_start_agent NAME DEVICESPEC [EXTRA ARGS...]
sc_start_agent() {
  local name=$1 dev=$2; shift 2
  sc_spawn "$SC_TMP/agent-$name.log" "$SUPERCELL" agent --server "$SC_URL" \
    --token-file "$SC_TMP/agent.token" --name "$name" --devices "$dev" \
    --state-dir "$SC_TMP/agent-$name" --no-cgroups --cpu 64000 --memory 256Gi \
    --share "$SC_SHARE" "$@"
  SC_AGENT_PID[$name]=$SC_LAST_PID
}

sc_nodes_json() { "$SUPERCELL" nodes -o json; }

sc_ready_count() { sc_nodes_json | jq '[.nodes[] | select(.state == "ready")] | length'; }

# sc_wait_nodes N: waits until at least N nodes are ready.
sc_has_ready() { [ "$(sc_ready_count)" -ge "$1" ]; }
sc_wait_nodes() { wait_until 15 "$1 ready node(s)" sc_has_ready "$1"; }

sc_node_state() { sc_nodes_json | jq -r --arg n "$1" '.nodes[] | select(.name == $n) | .state'; }

# sc_submit ARGS...: `supercell submit ARGS`, prints the job id.
sc_submit() {
  local out
  out=$("$SUPERCELL" submit -o json "$@") || fail "submit $* failed"
  jq -er '.id' <<<"$out" || fail "submit printed no id: $out"
}

sc_job() { "$SUPERCELL" job -o json "$1"; }
sc_job_state() { sc_job "$1" | jq -r .state; }

sc_job_final() {
  case $(sc_job_state "$1") in succeeded | failed | cancelled) return 0 ;; *) return 1 ;; esac
}

# sc_wait_job ID STATE [SECONDS]: waits until the job is final, then checks STATE.
sc_wait_job() {
  local id=$1 want=$2 limit=${3:-20} got
  wait_until "$limit" "job $id to finish" sc_job_final "$id"
  got=$(sc_job_state "$id")
  [ "$got" = "$want" ] || fail "job $id ended '$got', want '$want': $(sc_job "$id" | jq -c '{state, reason, tasks: [.tasks[] | {state, node, exit_code, signal}]}')"
  SC_PASSED=$((SC_PASSED + 1))
}

# sc_wait_state ID STATE [SECONDS]: waits until the job is in STATE.
sc_state_is() { [ "$(sc_job_state "$1")" = "$2" ]; }
sc_wait_state() { wait_until "${3:-20}" "job $1 to be $2" sc_state_is "$1" "$2"; }

# sc_running_tasks ID: how many tasks of the job are running.
sc_running_tasks() { sc_job "$1" | jq '[.tasks[] | select(.state == "running")] | length'; }

# Authenticated REST call: sc_api METHOD PATH [curl args...]; prints
# "STATUS BODY" (body on one line).
sc_api() {
  local method=$1 path=$2; shift 2
  curl -s --max-time 10 -o "$SC_TMP/api.body" -w '%{http_code}' -X "$method" \
    -H "Authorization: Bearer $SUPERCELL_TOKEN" "$SC_URL$path" "$@"
  printf ' '
  tr '\n' ' ' <"$SC_TMP/api.body"
  echo
}

# sc_check_schema TARGET JSON: the JSON matches the schema TARGET of
# docs/openapi.yaml (a component such as Job, or "GET /v1/jobs 200").
sc_check_schema() {
  local out doc=${SC_SOURCE_DIR:-$SC_E2E_LIB/../../..}/docs/openapi.yaml
  out=$(python3 "$SC_E2E_LIB/openapi_check.py" "$doc" "$1" <<<"$2" 2>&1) ||
    fail "a response does not match the OpenAPI schema '$1': $out"$'\n'"response: $2"
  SC_PASSED=$((SC_PASSED + 1))
}

# sc_api_schema METHOD PATH STATUS TARGET [curl args...]: calls the API and
# checks the status and that the body matches schema TARGET.
sc_api_schema() {
  local method=$1 path=$2 want=$3 target=$4 got
  shift 4
  got=$(sc_api "$method" "$path" "$@")
  [ "${got%% *}" = "$want" ] || fail "$method $path: status ${got%% *}, want $want: $got"
  sc_check_schema "$target" "${got#* }"
}

# Stops a daemon started with sc_spawn by SIGTERM and checks it exits 0
# within SECONDS (under the sanitizers a leak makes the exit code non-zero).
sc_stop() { # PID WHAT [SECONDS]
  local pid=$1 what=$2 limit=${3:-20} end rc=0
  kill -TERM "$pid" 2>/dev/null || fail "$what is not running at shutdown"
  end=$(($(sc_now_ms) + limit * SC_SLOW * 1000))
  while kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != Z ]; do
    [ "$(sc_now_ms)" -lt "$end" ] || fail "$what did not stop within $((limit * SC_SLOW))s of SIGTERM"
    sleep 0.05
  done
  wait "$pid" 2>/dev/null || rc=$?
  [ "$rc" -eq 0 ] || fail "$what exited with status $rc after SIGTERM"
  SC_PASSED=$((SC_PASSED + 1))
}

# Kills a daemon with SIGKILL (a crash) and reaps it.
sc_crash() { # PID
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# sc_finish: stops agents then the controller cleanly (checking exit 0), and
# prints the summary line.
sc_finish() {
  local name
  for name in "${!SC_AGENT_PID[@]}"; do
    kill -0 "${SC_AGENT_PID[$name]}" 2>/dev/null && sc_stop "${SC_AGENT_PID[$name]}" "agent $name"
  done
  [ -n "$SC_SERVER_PID" ] && kill -0 "$SC_SERVER_PID" 2>/dev/null && sc_stop "$SC_SERVER_PID" "the controller"
  echo "$SC_NAME: $SC_PASSED passed, 0 failed ($((($(sc_now_ms) - SC_START_MS) / 1000))s)"
}

# sc_logs_have ID REGEX: the job's output has a line matching REGEX (the
# output is read whole first: no early-exit grep in a pipefail pipeline).
sc_logs_have() {
  local out
  out=$("$SUPERCELL" logs "$1") || return 1
  grep -qE -- "$2" <<<"$out"
}
