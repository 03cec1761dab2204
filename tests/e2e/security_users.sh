#!/usr/bin/env bash
# Tasks run as their tenant, never as root, and one tenant's task can
# neither read nor signal another's:
#   1. an agent run as root starts tenant alpha's task as uid 200000 + id
#      and gid the same, no supplementary groups, no capabilities; `id -u`
#      never prints 0; HOME is its work dir;
#   2. a job asking for root (`user: root`, `user: 0`) gets 400 at submit,
#      as does `tenant set --run-as root`;
#   3. a tenant mapped to a node user (run_as nobody) runs as that user;
#   4. beta's task writes a 0600 file in the shared dir: alpha's task cannot
#      read it, nor signal beta's process (even given its host pid);
#   5. an agent that is not root isolates its tasks in user namespaces,
#      runs one tenant's tasks and refuses a
#      second tenant's (job failed, reason "refused: agent serves one
#      tenant", the reason in its log); with --single-user it runs both and
#      warns at start.
# Needs root (uids); the non-root agent runs as nobody.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

[ "$(id -u)" = 0 ] || fail "needs root (uids)"
sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:2 --cpu 8000 --memory 16Gi
sc_wait_nodes 1

alpha=$("$SUPERCELL" token create --tenant alpha) || fail "token create alpha"
beta=$("$SUPERCELL" token create --tenant beta) || fail "token create beta"
as_alpha() { SUPERCELL_TOKEN=$alpha "$@"; }
as_beta() { SUPERCELL_TOKEN=$beta "$@"; }

# 1. alpha's identity.
id=$(as_alpha sc_submit --name whoami -- 'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)";
  grep -E "^Cap(Eff|Prm|Inh|Amb):" /proc/self/status | tr -s "\t" " "; echo "home=$HOME user=$USER"')
sc_wait_job "$id" succeeded 20
out=$("$SUPERCELL" logs "$id")
aid=$(as_alpha "$SUPERCELL" tenant list -o json | jq -r '.tenants[] | select(.name == "alpha") | .id')
check "alpha has an id: $aid" test "$aid" -ge 1
want=$((200000 + aid))
check_eq "alpha's uid, gid and groups" "$(head -n1 <<<"$out")" "uid=$want gid=$want groups=$want"
check_eq "no capabilities at all" "$(grep -c ' 0000000000000000$' <<<"$out")" 4
check "HOME is its own dir, USER its tenant: $out" grep -qx "home=/tmp user=alpha" <<<"$out"
check "beta cannot see alpha's tenant" bash -c '[ "$(SUPERCELL_TOKEN=$1 "$2" tenant list -o json | jq ".tenants | length")" = 0 ]' _ "$beta" "$SUPERCELL"

# 2. Root is refused at submit and in the tenant map.
for u in '"root"' 0 '"0"'; do
  status=$(curl -s -o "$SC_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $alpha" \
    -H 'Content-Type: application/json' -d '{"command": ["id"], "user": '"$u"'}' "$SC_URL/v1/jobs")
  check_eq "submit with user $u" "$status" 400
  check_eq "its error names the field" "$(jq -r .error.field "$SC_TMP/body")" user
  check_eq "and says why" "$(jq -r .error.message "$SC_TMP/body")" "tasks never run as root"
done
out=$("$SUPERCELL" tenant set alpha --run-as root 2>&1) && fail "tenant set --run-as root succeeded"
check "the CLI refuses run-as root: $out" grep -q "never run as root" <<<"$out"
status=$(curl -s -o "$SC_TMP/body" -w '%{http_code}' -X PUT -H "Authorization: Bearer $SC_ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d '{"run_as": "root"}' "$SC_URL/v1/tenants/alpha")
check_eq "PUT run_as root" "$status" 400
status=$(curl -s -o "$SC_TMP/body" -w '%{http_code}' -X PUT -H "Authorization: Bearer $alpha" \
  -H 'Content-Type: application/json' -d '{"run_as": "nobody"}' "$SC_URL/v1/tenants/alpha")
check_eq "a user token cannot map its tenant" "$status" 403

# 3. A tenant mapped to a node user runs as it.
"$SUPERCELL" tenant set gamma --run-as nobody >/dev/null || fail "tenant set gamma"
id=$(sc_submit --tenant gamma --name mapped -- 'echo "uid=$(id -u) gid=$(id -g)"')
sc_wait_job "$id" succeeded 20
check_eq "gamma runs as nobody" "$("$SUPERCELL" logs "$id")" "uid=$(id -u nobody) gid=$(id -g nobody)"

# 4. beta keeps a secret in the shared dir and a process running; alpha
# tries to read the one and signal the other.
secret="beta-secret-$RANDOM$RANDOM"
victim=$(as_beta sc_submit --name keeper -- 'umask 077; echo '"$secret"' > '"$SC_SHARE"'/beta.txt && echo kept;
  for i in $(seq 300); do [ -e '"$SC_SHARE"'/release ] && exit 0; sleep 0.1; done; exit 3')
wait_until 10 "beta's secret" sc_logs_have "$victim" '^kept'
check_eq "the secret file is beta's, 0600" "$(stat -c '%u %a' "$SC_SHARE/beta.txt")" "$((200000 + $(jq -r '.tenants[] | select(.name == "beta") | .id' < <("$SUPERCELL" tenant list -o json)))) 600"
vpid=$(sc_job "$victim" | jq -r '.tasks[0].pid')
id=$(as_alpha sc_submit --name thief -- 'cat '"$SC_SHARE"'/beta.txt 2>&1 | sed "s/^cat: .*: /cat: /";
  kill -9 '"$vpid"' 2>&1 | sed "s/.*: /kill: /"; kill -9 -1 2>/dev/null; echo done')
sc_wait_job "$id" succeeded 20
out=$("$SUPERCELL" logs "$id")
check "alpha cannot read beta's file: $out" grep -qx "cat: Permission denied" <<<"$out"
check "alpha's output has no secret" bash -c '! grep -q "$1" <<<"$2"' _ "$secret" "$out"
check "alpha cannot signal beta's pid: $out" grep -qx "kill: No such process" <<<"$out"
check_eq "beta's job still runs" "$(sc_job_state "$victim")" running
touch "$SC_SHARE/release"
sc_wait_job "$victim" succeeded 20

# 5. Agents that are not root.
nobody_agent() { # NAME DEVICES [FLAGS...]: an agent running as nobody, its token in the environment
  local name=$1 dev=$2; shift 2
  mkdir -p "$SC_TMP/agent-$name" && chown nobody "$SC_TMP/agent-$name"
  SUPERCELL_AGENT_TOKEN=$SC_AGENT_TOKEN sc_spawn "$SC_TMP/agent-$name.log" \
    setpriv --reuid nobody --regid nogroup --clear-groups "$SUPERCELL" agent --server "$SC_URL" \
    --name "$name" --devices "$dev" --state-dir "$SC_TMP/agent-$name" --no-cgroups \
    --cpu 4000 --memory 8Gi "$@"
  SC_AGENT_PID[$name]=$SC_LAST_PID
}
nobody_agent node-u ascend:910B:1
sc_wait_nodes 2
check "the non-root agent isolates tasks in a user namespace" grep -q "in a user namespace" "$SC_TMP/agent-node-u.log"
id=$(as_alpha sc_submit --name u-alpha --model 910B --gpus 1 -- 'id -u; echo "pids: $(ls -d /proc/[0-9]* | wc -l)"; ls -d /home /root /srv 2>&1 | grep -c "No such"')
sc_wait_job "$id" succeeded 20
out=$("$SUPERCELL" logs "$id")
check_eq "alpha's task runs as the agent's user" "$(head -n1 <<<"$out")" "$(id -u nobody)"
check "it sees only its own processes: $out" bash -c 'n=$(sed -n "s/^pids: //p" <<<"$1"); [ "$n" -ge 3 ] && [ "$n" -le 5 ]' _ "$out"
check_eq "nor /home, /root or /srv" "$(tail -n1 <<<"$out")" 3
id=$(as_beta sc_submit --name u-beta --model 910B --gpus 1 -- 'echo ran')
sc_wait_job "$id" failed 20
check_eq "beta's task is refused" "$(sc_job "$id" | jq -r .reason)" "refused: agent serves one tenant"
check "the log says why: $("$SUPERCELL" logs "$id")" sc_logs_have "$id" "^supercell: not started: .*--single-user"
sc_stop "${SC_AGENT_PID[node-u]}" "agent node-u"
unset 'SC_AGENT_PID[node-u]'
nobody_agent node-s cambricon:MLU370:1 --single-user
wait_until 10 "node-s" grep -q "registered as node-s" "$SC_TMP/agent-node-s.log"
check "--single-user warns at start" grep -q "warn: not root and --single-user" "$SC_TMP/agent-node-s.log"
for t in alpha beta; do
  tok=${!t}
  id=$(SUPERCELL_TOKEN=$tok sc_submit --name "s-$t" --model MLU370 --gpus 1 -- 'echo ran as $(id -u)')
  sc_wait_job "$id" succeeded 20
  check_eq "$t's task runs under --single-user" "$("$SUPERCELL" logs "$id")" "ran as $(id -u nobody)"
done

sc_finish
