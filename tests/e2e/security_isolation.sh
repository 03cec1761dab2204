#!/usr/bin/env bash
# A hostile task, run by a real agent as root with its default isolation
# (PID, mount, IPC and UTS namespaces, a built /dev, private /tmp, a
# capability bounding set without CAP_SYS_ADMIN), tries what a tenant's
# code would try against the node and its neighbours:
#   1. see or signal other processes (the agent's, another task's) and
#      outlive its job by leaving its process group;
#   2. read the agent's node credential or the controller's admin token
#      (its root holds only the node's system paths, read-only),
#      even with the directory holding them as its work dir, even after
#      trying to unmount what hides them;
#   3. read another task's /tmp or the node's;
#   4. open a device node it was not given (it is not in its /dev);
#   5. another task's shared memory, the node's hostname;
#   6. reach the node's services with `network: none`.
# Each attack's outcome is what the task prints; the test asserts on it and
# on the node's side. Needs root (namespaces, mknod).
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

[ "$(id -u)" = 0 ] || fail "needs root (namespaces, mknod)"
devdir=$SC_TMP/dev
mkdir -p "$devdir"
mknod "$devdir/nvidia0" c 240 0 && mknod "$devdir/nvidia1" c 240 1 &&
  mknod "$devdir/nvidiactl" c 240 255 || fail "mknod"
hostfile=/tmp/sc-e2e-isolation-host-$$
echo "the node's /tmp" >"$hostfile"
sc_at_exit "rm -f $hostfile"
echo "in the work dir" >"$SC_TMP/visible.txt"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:2 --cpu 4000 --memory 8Gi --dev-dir "$devdir" \
  --hide "$SC_TMP/server"
sc_wait_nodes 1
grep -q "tasks run in their own PID, mount, IPC and UTS namespaces" "$SC_TMP/agent-node-a.log" ||
  fail "the agent does not isolate tasks: $(head -5 "$SC_TMP/agent-node-a.log")"
agent_pid=${SC_AGENT_PID[node-a]}
wait_until 10 "node-a's credential" test -s "$SC_TMP/agent-node-a/node.token"

run_job() { # NAME ARGS... -- COMMAND: submits, waits for success, prints the output
  local name=$1 id; shift
  id=$(sc_submit --name "$name" "$@")
  sc_wait_job "$id" succeeded 30
  "$SUPERCELL" logs "$id"
}

# 0. The capability bounding set: runc's default set less CAP_MKNOD and
# CAP_NET_RAW, i.e. bits CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, FSETID 4, KILL 5,
# SETGID 6, SETUID 7, SETPCAP 8, NET_BIND_SERVICE 10, SYS_CHROOT 18,
# AUDIT_WRITE 29, SETFCAP 31: 0x3 + 0x18 + 0x20 + 0xc0 + 0x100 + 0x400
# + 0x40000 + 0x20000000 + 0x80000000 = 0xa00405fb. And no_new_privs.
out=$(run_job caps -- 'grep -E "^(CapBnd|NoNewPrivs):" /proc/self/status')
check_eq "the task's bounding set" "$(awk '/CapBnd/ {print $2}' <<<"$out")" 00000000a00405fb
check_eq "no_new_privs" "$(awk '/NoNewPrivs/ {print $2}' <<<"$out")" 1

# 1a. The process table: only the task's own processes (its init, its
# shell and what the shell runs); the agent's pid does not exist there.
out=$(run_job ps -- 'echo "pids: $(ls -d /proc/[0-9]* | wc -l)"; echo "init: $(cat /proc/1/comm)";
  kill -0 '"$agent_pid"' 2>&1 | sed "s/.*: /agent: /"; echo "me: $$"')
# init, the shell, the $(...) subshell, ls and wc: at most 5 (wc or the
# subshell may not exist yet, or any more, when ls reads /proc).
check "the task sees only its own processes: $out" \
  bash -c 'n=$(sed -n "s/^pids: //p" <<<"$1"); [ "$n" -ge 3 ] && [ "$n" -le 5 ]' _ "$out"
check "the agent's pid is not there: $out" grep -q "^agent: No such process" <<<"$out"
check "the task's shell is pid 2 (init is 1): $out" grep -qx "me: 2" <<<"$out"

# 1b. A victim task runs; an attacker signals every process it can (kill
# -1) and the victim's host pid; the victim runs on and ends well.
victim=$(sc_submit --name victim -- 'echo up; for i in $(seq 300); do [ -e '"$SC_SHARE"'/release-victim ] && exit 0; sleep 0.1; done; exit 3')
sc_wait_state "$victim" running
wait_until 10 "the victim's output" sc_logs_have "$victim" '^up'
vpid=$(sc_job "$victim" | jq -r '.tasks[0].pid')
check "the victim has a live pid ($vpid)" [ -d "/proc/$vpid" ]
out=$(run_job killer -- 'kill -9 -1 2>&1; kill -9 '"$vpid"' 2>&1 | sed "s/.*: /victim: /"; echo survived')
check "the attacker's kill of the victim's pid found no process: $out" grep -q "^victim: No such process" <<<"$out"
check_eq "the victim still runs" "$(sc_job_state "$victim")" running
check "the victim's pid is alive" [ -d "/proc/$vpid" ]

# 1c. A task leaves its process group and session (setsid) with a marked
# sleeper, then ends: its namespace ends with it, the sleeper too.
mark="sc-iso-$RANDOM$RANDOM"
run_job escape --env "E2E_ESCAPE=$mark" -- 'setsid sleep 300 </dev/null >/dev/null 2>&1 & echo left' >/dev/null
no_escapee() { [ -z "$(grep -lzxsF "E2E_ESCAPE=$mark" /proc/[0-9]*/environ 2>/dev/null)" ]; }
wait_until 5 "no process of the ended task left on the node" no_escapee
SC_PASSED=$((SC_PASSED + 1))

# 2. Secrets: with $SC_TMP (which holds the agent's state dir and the
# controller's) as its work dir, the task reads the work dir but neither
# the node credential nor the admin token, also after trying to unmount
# what covers them or to mount its own /proc.
out=$(run_job secrets --workdir "$SC_TMP" -- 'cat visible.txt
  for f in agent-node-a/node.token server/admin.token agent.token; do
    cat "$f" >/dev/null 2>&1 && echo "read $f" || echo "cannot read $f"
  done
  umount agent-node-a 2>&1 | sed "s/^/umount: /"
  umount -l server 2>&1 | sed "s/^/umount: /"
  mkdir -p /tmp/p && mount -t proc proc /tmp/p 2>&1 | sed "s/^/mount: /"
  cat agent-node-a/node.token >/dev/null 2>&1 && echo "read agent-node-a/node.token after umount"
  echo "state dir: [$(ls -A agent-node-a)]"')
check "the work dir is the task's: $out" grep -qx "in the work dir" <<<"$out"
check "node.token is hidden: $out" grep -qx "cannot read agent-node-a/node.token" <<<"$out"
check "admin.token is hidden: $out" grep -qx "cannot read server/admin.token" <<<"$out"
check "unmounting the cover is refused: $out" grep -q "^umount: .*\(must be superuser\|ermission denied\|not permitted\)" <<<"$out"
check "mounting is refused: $out" grep -q "^mount: .*\(must be superuser\|ermission denied\|not permitted\)" <<<"$out"
check "still hidden after the attempts: $out" bash -c '! grep -q "after umount" <<<"$1"' _ "$out"
check "the state dir looks empty: $out" grep -qx "state dir: \[\]" <<<"$out"
# What the agent.token line says depends on whether $SC_TMP/agent.token is
# hidden: it is not (it is the test's bootstrap token, not the node's).

# 2b. Its root holds the node's system paths (read-only) and its own dirs,
# nothing else of the node: no /home, /root, /srv, /mnt, /var beyond its
# /var/tmp, no /run beyond the resolver's; / itself is read-only.
out=$(run_job rootview -- 'echo "root: $(ls / | tr "\n" " ")"; echo "var: $(ls /var | tr "\n" " ")";
  touch /x 2>&1 | sed "s/.*: /touch: /"; touch /usr/x 2>&1 | sed "s/.*: /touch-usr: /";
  touch /tmp/x && echo "tmp: writable"')
check "no /home, /root, /srv, /mnt, /media or /boot: $out" \
  bash -c '! grep -E "^root: .*\b(home|root|srv|mnt|media|boot)\b" <<<"$1"' _ "$out"
check "/var holds only its tmp: $out" grep -qx "var: tmp " <<<"$out"
check "/ is read-only: $out" grep -qx "touch: Read-only file system" <<<"$out"
check "/usr is read-only: $out" grep -qx "touch-usr: Read-only file system" <<<"$out"
check "/tmp is its own to write: $out" grep -qx "tmp: writable" <<<"$out"

# 3. /tmp: a task's files stay its own, and the node's are not there.
holder=$(sc_submit --name tmp-a -- 'echo secret >/tmp/a-secret && echo written; for i in $(seq 300); do [ -e '"$SC_SHARE"'/release-a ] && exit 0; sleep 0.1; done; exit 3')
wait_until 10 "tmp-a's write" sc_logs_have "$holder" '^written'
out=$(run_job tmp-b -- 'ls /tmp/a-secret '"$hostfile"' 2>&1 | sed "s/.*cannot access .\(.*\).: /\1: /"')
check "tmp-b cannot see tmp-a's /tmp: $out" grep -qx "/tmp/a-secret: No such file or directory" <<<"$out"
check "tmp-b cannot see the node's /tmp: $out" grep -qx "$hostfile: No such file or directory" <<<"$out"
check "the node's /tmp has no a-secret" [ ! -e /tmp/a-secret ]
touch "$SC_SHARE/release-a"
sc_wait_job "$holder" succeeded 20

# 4. /dev: the basic nodes, the task's own accelerator and its vendor's
# control node; not the other accelerator, no disks, no /dev/mem.
id=$(sc_submit --name dev --gpus 1 -- 'ls /dev | tr "\n" " "; echo; (exec 3</dev/nvidia$CUDA_VISIBLE_DEVICES) 2>&1 | sed "s/.*: /open: /"')
sc_wait_job "$id" succeeded 20
mine=$(sc_job "$id" | jq -r '.tasks[0].devices[0]')
out=$("$SUPERCELL" logs "$id")
check_eq "the task's /dev" "$(head -n1 <<<"$out")" \
  "fd full null nvidia$mine nvidiactl ptmx pts random shm stderr stdin stdout tty urandom zero "
check "its own node opens (ENXIO: no driver behind it): $out" grep -qx "open: No such device or address" <<<"$out"

# 5. IPC and UTS: a segment made by one task is not in the next one's
# namespace; the hostname cannot be changed (no CAP_SYS_ADMIN).
out=$(run_job ipc-a -- 'ipcmk -M 4096 >/dev/null && echo "segments: $(ipcs -m | grep -c "^0x")"')
check_eq "ipc-a made a segment" "$out" "segments: 1"
out=$(run_job ipc-b -- 'echo "segments: $(ipcs -m | grep -c "^0x")"; hostname evil 2>&1 | sed "s/^/hostname: /"; true')
check "ipc-b sees no segment: $out" grep -qx "segments: 0" <<<"$out"
check "sethostname is refused: $out" grep -q "^hostname: .*\(must be root\|not permitted\|ermission\)" <<<"$out"
check "the node's hostname is unchanged" [ "$(hostname)" != evil ]

# 6. network: none: only loopback, and the node's services (the controller
# on 127.0.0.1) are out of reach; the default (host) reaches them.
probe='echo "links: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " ")";
  bash -c "exec 3<>/dev/tcp/127.0.0.1/'"$SC_PORT"'" 2>/dev/null && echo reached || echo unreachable'
out=$(run_job offline --network none -- "$probe")
check "network none has loopback only: $out" grep -qx "links: lo " <<<"$out"
check "network none cannot reach the controller: $out" grep -qx unreachable <<<"$out"
out=$(run_job online -- "$probe")
check "the host network reaches it: $out" grep -qx reached <<<"$out"

touch "$SC_SHARE/release-victim"
sc_wait_job "$victim" succeeded 20
sc_finish
