#!/usr/bin/env bash
# Hold, release and begin time, as Slurm's --hold, scontrol release and
# --begin: a held job waits (pending, reason Held) until released; a job
# with a begin time waits (reason BeginTime) until then and not after;
# only a pending job can be held; a bad time is refused naming the field.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:2
sc_wait_nodes 1

# 1. --hold, then release.
id=$(sc_submit --name held --hold -- 'echo ran')
sleep 1
check_eq "a held job stays pending" "$(sc_job_state "$id")" pending
check "its reason: $(sc_job "$id" | jq -r .pending_reason)" \
  bash -c '[[ $("$1" job -o json "$2" | jq -r .pending_reason) == Held* ]]' _ "$SUPERCELL" "$id"
check_eq "held in the API" "$(sc_job "$id" | jq -r .held)" true
check "jobs shows it" bash -c '"$1" jobs | grep -qE "^$2 .*pending .*Held"' _ "$SUPERCELL" "$id"
check_eq "release" "$("$SUPERCELL" release "$id")" "$id released"
sc_wait_job "$id" succeeded 15
check_eq "it ran once released" "$("$SUPERCELL" logs "$id")" ran

# 2. hold a pending job (an unsatisfiable one, accepted), then release it.
p=$(sc_submit --name big --gpus 4 --allow-pending -- true)
check_eq "hold a pending job" "$("$SUPERCELL" hold "$p")" "$p held"
check_eq "its hold is stored" "$(sc_job "$p" | jq -r '.pending_reason | split(" ")[0]')" Held
"$SUPERCELL" release "$p" >/dev/null || fail "release $p"
"$SUPERCELL" cancel "$p" >/dev/null

# 3. Only pending jobs: a running one cannot be held.
r=$(sc_submit --name runner -- 'for i in $(seq 100); do [ -e '"$SC_SHARE"'/go ] && exit 0; sleep 0.1; done')
sc_wait_state "$r" running
out=$("$SUPERCELL" hold "$r" 2>&1) && fail "a running job was held"
check "refused with why: $out" grep -q "only a pending job can be held" <<<"$out"
touch "$SC_SHARE/go"
sc_wait_job "$r" succeeded 15

# 4. --begin now+2s: pending with BeginTime, then it starts, not before.
t0=$(date +%s%3N)
b=$(sc_submit --name later --begin now+2s -- true)
check "BeginTime reason: $(sc_job "$b" | jq -r .pending_reason)" \
  bash -c '[[ $("$1" job -o json "$2" | jq -r .pending_reason) == BeginTime* ]]' _ "$SUPERCELL" "$b"
sc_wait_job "$b" succeeded 15
started=$(date -d "$(sc_job "$b" | jq -r .started_at)" +%s%3N)
check "it started after its begin time ($((started - t0)) ms after submit)" [ $((started - t0)) -ge 1900 ]
past=$(sc_submit --name past --begin 2020-01-01T00:00:00Z -- true)
sc_wait_job "$past" succeeded 15
out=$("$SUPERCELL" submit --begin tomorrow -- true 2>&1) && fail "a bad begin was accepted"
check "a bad begin names the field: $out" grep -q "field 'begin'" <<<"$out"

sc_finish
