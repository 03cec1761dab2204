#!/usr/bin/env bash
# OCI image jobs: an image built here (busybox-static put into an OCI layout
# with umoci) runs with crun under the same rules as any task: the tenant's
# uid, no capabilities, no_new_privs, only its own devices in /dev, its env
# (the image's and the job's, none of the agent's), its cgroup limits (a
# memory hog ends `out of memory`), its logs, its cancel; `network: none`
# leaves it loopback only; the image is unpacked once per digest; an image
# that is not on the node fails the job with a reason. Needs root (crun,
# uids, mknod, cgroups).
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

[ "$(id -u)" = 0 ] || fail "needs root"
for t in umoci crun busybox; do command -v "$t" >/dev/null || fail "$t is missing (scripts/install-deps)"; done
img=$SC_TMP/img
( cd "$SC_TMP" && umoci init --layout img && umoci new --image img:v1 &&
  umoci unpack --image img:v1 bundle >/dev/null && mkdir -p bundle/rootfs/bin &&
  cp "$(command -v busybox)" bundle/rootfs/bin/ &&
  for a in sh echo cat id ls sleep env grep head tr dd; do ln -s busybox "bundle/rootfs/bin/$a"; done &&
  umoci repack --image img:v1 bundle && umoci config --image img:v1 --config.env PATH=/bin &&
  rm -rf bundle ) >"$SC_TMP/umoci.log" 2>&1 || fail "building the image: $(cat "$SC_TMP/umoci.log")"
devdir=$SC_TMP/dev
mkdir -p "$devdir"
mknod "$devdir/nvidia0" c 240 0 && mknod "$devdir/nvidia1" c 240 1 &&
  mknod "$devdir/nvidiactl" c 240 255 && chmod 666 "$devdir"/* || fail "mknod"
sub="sc-e2e-$$-$RANDOM"
sc_at_exit "find /sys/fs/cgroup/*/$sub /sys/fs/cgroup/$sub -depth -type d -exec rmdir {} + 2>/dev/null"

sc_start_server --grace 2s
sc_make_agent_token
SC_AGENT_ONLY=agent-secret-$RANDOM sc_start_agent node-a nvidia:A100:2 --cpu 8000 --memory 16Gi \
  --dev-dir "$devdir" --cgroup-root "$sub/node-a"
sc_wait_nodes 1
tok=$("$SUPERCELL" token create --tenant alpha) || fail "token create"
export SUPERCELL_TOKEN=$tok

# 1. Identity, devices, env, logs.
id=$(sc_submit --name inside --image "oci:$img:v1" --gpus 1 --env JOBVAR=set -- \
  'echo "uid=$(id -u) gid=$(id -g)"; echo "dev: $(ls /dev | tr "\n" " ")";
   grep -E "^(CapEff|CapBnd|NoNewPrivs):" /proc/self/status | tr -s "\t" " "; env | sort')
sc_wait_job "$id" succeeded 30
out=$("$SUPERCELL" logs "$id")
aid=$("$SUPERCELL" tenant list -o json | jq -r '.tenants[] | select(.name == "alpha") | .id')
mine=$(sc_job "$id" | jq -r '.tasks[0].devices[0]')
check_eq "the container's uid and gid" "$(head -n1 <<<"$out")" "uid=$((200000 + aid)) gid=$((200000 + aid))"
check_eq "its /dev" "$(sed -n 's/^dev: //p' <<<"$out")" \
  "core fd full mqueue null nvidia$mine nvidiactl ptmx pts random shm stderr stdin stdout tty urandom zero "
check "no capabilities: $out" grep -qx "CapEff: 0000000000000000" <<<"$out"
check "an empty bounding set" grep -qx "CapBnd: 0000000000000000" <<<"$out"
check "no_new_privs" grep -qx "NoNewPrivs: 1" <<<"$out"
check "the image's PATH" grep -qx "PATH=/bin" <<<"$out"
check "the job's env" grep -qx "JOBVAR=set" <<<"$out"
check "the task's devices" grep -qx "CUDA_VISIBLE_DEVICES=$mine" <<<"$out"
check "SUPERCELL_JOB_ID" grep -qx "SUPERCELL_JOB_ID=$id" <<<"$out"
check "none of the agent's env" bash -c '! grep -q "SC_AGENT_ONLY\|SC_E2E_MARK\|/root" <<<"$1"' _ "$out"

# 2. Unpacked once: a second job is a cache hit.
id=$(sc_submit --name again --image "oci:$img:v1" -- 'echo again')
sc_wait_job "$id" succeeded 30
check_eq "unpacked once for two jobs" "$(grep -c 'unpacked into' "$SC_TMP/agent-node-a.log")" 1

# 3. Limits: its cgroup holds the container.
id=$(sc_submit --name hog --image "oci:$img:v1" --memory 32Mi -- 'dd if=/dev/zero of=/dev/null bs=200M count=1')
sc_wait_job "$id" failed 30
check_eq "a memory hog in an image" "$(sc_job "$id" | jq -r .reason)" "out of memory"

# 4. Cancel: the container ends (its PID 1, a sleep, ignores SIGTERM: KILL
# after the grace ends the namespace).
id=$(sc_submit --name sleeper --image "oci:$img:v1" --env E2E_IMG=sleeper -- 'echo up; sleep 300')
wait_until 20 "the sleeper's output" sc_logs_have "$id" '^up'
"$SUPERCELL" cancel "$id" >/dev/null || fail "cancel"
sc_wait_job "$id" cancelled 30
sleepers() { [ -n "$(grep -lzxsF E2E_IMG=sleeper /proc/[0-9]*/environ 2>/dev/null)" ]; }
wait_until 20 "the container's processes to end" bash -c '! grep -lzxsF E2E_IMG=sleeper /proc/[0-9]*/environ >/dev/null 2>&1'
SC_PASSED=$((SC_PASSED + 1))

# 5. network: none in a container: loopback only.
id=$(sc_submit --name offline --image "oci:$img:v1" --network none -- \
  'ls /sys/class/net | tr "\n" " "')
sc_wait_job "$id" succeeded 30
check_eq "network none in a container" "$("$SUPERCELL" logs "$id")" "lo "

# 6. An image the node does not have.
id=$(sc_submit --name missing --image "oci:$SC_TMP/nowhere:v1" -- true)
sc_wait_job "$id" failed 30
check_eq "a missing image" "$(sc_job "$id" | jq -r .reason)" "refused: image unavailable"
check "its log says why: $("$SUPERCELL" logs "$id")" sc_logs_have "$id" "no OCI image layout"
status=$(curl -s -o "$SC_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $tok" \
  -H 'Content-Type: application/json' -d '{"name": "x", "command": "true", "image": "oci:relative/path"}' \
  "$SC_URL/v1/jobs")
check_eq "a relative image path is refused at submit" "$status" 400

sc_finish
