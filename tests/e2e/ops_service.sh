#!/usr/bin/env bash
# End to end: running it as a service (docs/operations.md). `cmake
# --install` (what `make install` runs) writes the systemd units with the
# prefix's paths and the sample configurations, and the units pass
# `systemd-analyze verify`; `--check-config` accepts the sample and refuses
# bad files with FILE:LINE; flags come from a config file and the command
# line wins; under a service manager (NOTIFY_SOCKET) the controller says
# READY=1 once it listens and STOPPING=1 on SIGTERM, and the agent READY=1
# once registered.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

prefix=$SC_TMP/prefix
cmake --install "$(dirname "$SUPERCELL")" --prefix "$prefix" >"$SC_TMP/install.log" 2>&1 ||
  fail "install: $(cat "$SC_TMP/install.log")"
units=$prefix/lib/systemd/system
check "the server unit is installed" test -s "$units/supercell-server.service"
check "the agent unit is installed" test -s "$units/supercell-agent.service"
check "the sample server.conf" test -s "$prefix/etc/supercell/server.conf"
check "the sample agent.conf" test -s "$prefix/etc/supercell/agent.conf"
check_eq "ExecStart with the prefix's paths" \
  "$(grep '^ExecStart=' "$units/supercell-server.service")" \
  "ExecStart=$prefix/bin/supercell server --config $prefix/etc/supercell/server.conf"
check_eq "Type=notify" "$(grep -c '^Type=notify$' "$units"/*.service | cut -d: -f2 | paste -sd,)" "1,1"
verify=$(cd "$SC_TMP" && systemd-analyze verify "$units/supercell-server.service" \
  "$units/supercell-agent.service" 2>&1) || fail "systemd-analyze verify: $verify"
check_eq "systemd-analyze verify says nothing" "$verify" ""
echo "# edited by hand" >>"$prefix/etc/supercell/server.conf"
cmake --install "$(dirname "$SUPERCELL")" --prefix "$prefix" >/dev/null 2>&1
check "a second install keeps an edited config" grep -q 'edited by hand' "$prefix/etc/supercell/server.conf"

# --check-config.
out=$("$SUPERCELL" server --config "$prefix/etc/supercell/server.conf" \
  --state-dir "$SC_TMP/checked" --check-config 2>&1) || fail "check-config of the sample: $out"
check_eq "the sample checks" "$out" \
  "configuration OK: listen 0.0.0.0:8420, state-dir $SC_TMP/checked, policy fgd"
check "and makes nothing" test ! -e "$SC_TMP/checked"
printf 'listen = 127.0.0.1:0\n\n# a comment\nlisten-port = 9\n' >"$SC_TMP/bad1.conf"
rc=0; out=$("$SUPERCELL" server --config "$SC_TMP/bad1.conf" --check-config 2>&1) || rc=$?
check_eq "an unknown setting: exit 2" "$rc" 2
check_eq "named with its file and line" "$out" "supercell: $SC_TMP/bad1.conf:4: unknown setting 'listen-port'"
printf 'grace = soon\n' >"$SC_TMP/bad2.conf"
rc=0; out=$("$SUPERCELL" server --config "$SC_TMP/bad2.conf" --check-config 2>&1) || rc=$?
check_eq "a bad value: exit 2" "$rc" 2
check "named with its file and line" grep -q "(the setting at $SC_TMP/bad2.conf:1)" <<<"$out"
printf 'state-dir = /proc/1/status/x\n' >"$SC_TMP/bad3.conf"
rc=0; out=$("$SUPERCELL" server --config "$SC_TMP/bad3.conf" --check-config 2>&1) || rc=$?
check_eq "a state dir that cannot be: exit 2" "$rc" 2

# Flags from a file, the command line winning; readiness through sd_notify.
python3 - "$SC_TMP/notify.sock" >"$SC_TMP/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
try:
    while True:
        print(s.recv(4096).decode().replace("\n", " "), flush=True)
except socket.timeout:
    pass
PY
SC_PIDS+=("$!")
wait_until 10 "the notify socket" test -S "$SC_TMP/notify.sock"
printf 'listen = 127.0.0.1:0\nstate-dir = %s\npolicy = bestfit\nheartbeat-timeout = 5s\n' \
  "$SC_TMP/server" >"$SC_TMP/server.conf"
NOTIFY_SOCKET=$SC_TMP/notify.sock sc_spawn "$SC_TMP/server.log" "$SUPERCELL" server \
  --config "$SC_TMP/server.conf" --policy packing
SC_SERVER_PID=$SC_LAST_PID
wait_until 20 "controller.url" test -s "$SC_TMP/server/controller.url"
SC_URL=$(head -n1 "$SC_TMP/server/controller.url")
export SUPERCELL_SERVER=$SC_URL SUPERCELL_TOKEN=$(cat "$SC_TMP/server/admin.token")
check "the state dir came from the file" test -s "$SC_TMP/server/admin.token"
check "the command line's policy won" grep -q "policy packing" "$SC_TMP/server.log"
wait_until 10 "READY=1 from the controller" grep -q "^READY=1 STATUS=listening on 127.0.0.1:0" "$SC_TMP/notify.log"
SC_PASSED=$((SC_PASSED + 1))
sc_make_agent_token
printf 'server = %s\ntoken-file = %s\nname = svc-node\ndevices = nvidia:T4:1\ncpu = 2000\nmemory = 2Gi\nlabel = region=eu\nstate-dir = %s\nno-cgroups = true\nisolation = none\n' \
  "$SC_URL" "$SC_TMP/agent.token" "$SC_TMP/agent" >"$SC_TMP/agent.conf"
NOTIFY_SOCKET=$SC_TMP/notify.sock sc_spawn "$SC_TMP/agent.log" "$SUPERCELL" agent --config "$SC_TMP/agent.conf"
SC_AGENT_PID[svc]=$SC_LAST_PID
wait_until 20 "READY=1 from the agent" grep -q "^READY=1 STATUS=registered as svc-node with $SC_URL" "$SC_TMP/notify.log"
SC_PASSED=$((SC_PASSED + 1))
check_eq "the agent's label came from the file" \
  "$(sc_nodes_json | jq -r '.nodes[] | select(.name == "svc-node") | .labels.region')" eu
sc_stop "${SC_AGENT_PID[svc]}" "the agent"
unset 'SC_AGENT_PID[svc]'
sc_stop "$SC_SERVER_PID" "the controller"
SC_SERVER_PID=
wait_until 10 "STOPPING=1" grep -q "^STOPPING=1" "$SC_TMP/notify.log"
SC_PASSED=$((SC_PASSED + 1))
sc_finish
