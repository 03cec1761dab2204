#!/usr/bin/env bash
# Task limits run through cgroups (v2 where its mount has controllers, else
# v1, as on this project's build machines): a task over its memory limit
# ends `failed` with reason `out of memory`; its CPU quota, memory limit
# and process limit are set on its own cgroup; a fork past the process
# limit fails; and a device node that was not assigned cannot be opened
# (EPERM from the devices controller) while an assigned one can (ENXIO:
# the test's nodes have no driver). Needs root (CI runs as root).
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

[ "$(id -u)" = 0 ] || fail "needs root (cgroups, mknod)"
base=/sys/fs/cgroup
sub="sc-e2e-$$-$RANDOM"
# Device nodes without a driver (char major 240 is for local use).
devdir=$SC_TMP/dev
mkdir -p "$devdir"
mknod "$devdir/nvidia0" c 240 0 && mknod "$devdir/nvidia1" c 240 1 &&
  mknod "$devdir/nvidiactl" c 240 255 || fail "mknod"
chmod 666 "$devdir"/*
sc_at_exit "find $base/*/$sub $base/$sub -depth -type d -exec rmdir {} + 2>/dev/null"

sc_start_server
sc_make_agent_token
sc_spawn "$SC_TMP/agent-node-a.log" "$SUPERCELL" agent --server "$SC_URL" \
  --token-file "$SC_TMP/agent.token" --name node-a --devices nvidia:A100:2 \
  --state-dir "$SC_TMP/agent-node-a" --cpu 4000 --memory 8Gi \
  --cgroup-root "$sub/node-a" --dev-dir "$devdir" --task-pids-max 40 --isolation none
SC_AGENT_PID[node-a]=$SC_LAST_PID
sc_wait_nodes 1
grep -q "cgroups: task limits on cgroup v" "$SC_TMP/agent-node-a.log" ||
  fail "the agent set up no cgroups: $(grep cgroups "$SC_TMP/agent-node-a.log")"
v=$(sed -n 's/.*task limits on cgroup v\([12]\).*/\1/p' "$SC_TMP/agent-node-a.log" | head -n1)

# 1. Over its memory limit: killed by the kernel, reported as such.
id=$(sc_submit --name hog --memory 64Mi -- 'head -c 300000000 /dev/zero | tail > /dev/null')
sc_wait_job "$id" failed 30
job=$(sc_job "$id")
check_eq "reason of a task past its memory limit" "$(jq -r .reason <<<"$job")" "out of memory"
check_eq "its exit code (the shell's child got SIGKILL)" "$(jq -r '.tasks[0].exit_code' <<<"$job")" 137
id=$(sc_submit --name hog2 --memory 64Mi -- python3 -c 'b = bytearray(300 * 1024 * 1024)')
sc_wait_job "$id" failed 30
job=$(sc_job "$id")
check_eq "reason when the task itself is killed" "$(jq -r .reason <<<"$job")" "out of memory"
check_eq "its signal" "$(jq -r '.tasks[0].signal' <<<"$job")" 9

# 2. The limits are set on the task's own cgroup, which holds the task.
id=$(sc_submit --name probe --memory 128Mi --cpu 500 -- 'sleep 30')
sc_wait_state "$id" running
procf=$(ls "$SC_TMP/agent-node-a/tasks/$id.0"*/proc)
cg=$(jq -r .cgroup "$procf")
pid=$(jq -r .pid "$procf")
check "the task has cgroups: $cg" test -n "$cg"
IFS=: read -r -a dirs <<<"$cg"
for d in "${dirs[@]}"; do
  check "task pid $pid is in $d" grep -qx "$pid" "$d/cgroup.procs"
  case $d in
  */memory/*) check_eq "memory limit (v1)" "$(cat "$d/memory.limit_in_bytes")" 134217728 ;;
  */cpu/* | */cpu,cpuacct/*) check_eq "cpu quota (v1)" "$(cat "$d/cpu.cfs_quota_us")" 50000 ;;
  */pids/*) check_eq "pids limit (v1)" "$(cat "$d/pids.max")" 40 ;;
  */devices/*) check "devices: only what is allowed (v1)" grep -q "^c 1:3 rwm" "$d/devices.list" ;;
  *) check_eq "memory limit (v2)" "$(cat "$d/memory.max")" 134217728
     check_eq "cpu quota (v2)" "$(cat "$d/cpu.max")" "50000 100000" ;;
  esac
done
"$SUPERCELL" cancel "$id" >/dev/null || fail "cancel $id"
sc_wait_job "$id" cancelled 20
gone() { for d in "${dirs[@]}"; do [ ! -d "$d" ] || return 1; done; }
wait_until 10 "the task's cgroups to be removed" gone

# 3. Past the process limit, forks fail.
id=$(sc_submit --name forks -- 'for i in $(seq 1 60); do sleep 2 & done; wait; echo all-60-started')
sc_wait_job "$id" failed 30
check "forks past the limit fail: $("$SUPERCELL" logs "$id" | head -c 300)" sc_logs_have "$id" "[Cc]annot fork|Resource temporarily unavailable"
check "the loop did not get through" bash -c '! "$1" logs "$2" | grep -q all-60-started' _ "$SUPERCELL" "$id"

# 4. Only the assigned device opens (v1 devices controller).
if [ "$v" = 1 ]; then
  id=$(sc_submit --name dev --gpus 1 -- 'mine=$CUDA_VISIBLE_DEVICES; other=$((1 - mine));
    for n in nvidia$mine nvidiactl nvidia$other; do
      err=$( (exec 3<"'"$devdir"'/$n") 2>&1 ) && echo "$n: opened" || echo "$n: ${err##*: }"
    done')
  sc_wait_job "$id" succeeded 20
  logs=$("$SUPERCELL" logs "$id")
  mine=$(sc_job "$id" | jq -r '.tasks[0].devices[0]')
  check "its own device passes the cgroup (ENXIO, no driver): $logs" grep -q "^nvidia$mine: No such device or address" <<<"$logs"
  check "the vendor's control node passes too: $logs" grep -q "^nvidiactl: No such device or address" <<<"$logs"
  check "the other device is denied (EPERM): $logs" grep -q "^nvidia$((1 - mine)): Operation not permitted" <<<"$logs"
fi

sc_finish
