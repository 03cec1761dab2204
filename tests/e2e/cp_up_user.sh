#!/usr/bin/env bash
# `supercell up` run by a normal user (here nobody) on a laptop: single-user
# by design. Its agent is not root, so every task runs as that user, and
# the agent says so at start (--single-user); tasks are still isolated in
# their own namespaces through a user namespace: only their own processes,
# a root of their own (no /home), the controller's state dir out of sight.
# What such a user trusts is the local agent and their own account.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"
unset SUPERCELL_HOME SUPERCELL_SERVER SUPERCELL_TOKEN

[ "$(id -u)" = 0 ] || fail "needs root (to act as nobody)"
home=$SC_TMP/nobody-home
mkdir -p "$home" && chown nobody:nogroup "$home"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=""
for i in $(seq 50); do
  p=$((10000 + RANDOM % 20000))
  if port_free "$p"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || fail "no free port found"
HOME=$home sc_spawn "$SC_TMP/up.log" setpriv --reuid nobody --regid nogroup --clear-groups \
  env HOME="$home" "$SUPERCELL" up --port "$PORT"
wait_until 20 "up's banner" grep -q 'Press Ctrl-C' "$SC_TMP/up.log"
export SUPERCELL_SERVER=http://127.0.0.1:$PORT
SUPERCELL_TOKEN=$(cat "$home/.supercell/admin.token") || fail "no admin token"
export SUPERCELL_TOKEN
wait_until 10 "the agent's warning that every tenant's tasks run as its user" \
  grep -q "warn: not root and --single-user" "$SC_TMP/up.log"
check "tasks are isolated in a user namespace" grep -q "in a user namespace" "$SC_TMP/up.log"
for t in alpha beta; do
  id=$(sc_submit --tenant "$t" --name "$t" -- 'echo "uid=$(id -u) pids=$(ls -d /proc/[0-9]* | wc -l)";
    ls -d /home '"$home"'/.supercell 2>&1 | grep -c "No such"')
  sc_wait_job "$id" succeeded 20
  out=$("$SUPERCELL" logs "$id")
  check "$t's task runs as the laptop's user: $out" grep -q "^uid=$(id -u nobody) " <<<"$out"
  check "$t's task sees only its processes: $out" bash -c 'n=$(sed -n "s/.*pids=//p" <<<"$1"); [ "$n" -le 5 ]' _ "$out"
  check_eq "$t's task sees neither /home nor the controller's state" "$(tail -n1 <<<"$out")" 2
done
sc_finish
