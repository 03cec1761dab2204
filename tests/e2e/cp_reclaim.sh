#!/usr/bin/env bash
# Borrow and reclaim with real agents: tenants A and B each guarantee 8 of
# 16 GPUs; B borrows all 16 with 1-GPU jobs that ignore SIGTERM. A's 8-GPU
# gang then starts within checkpoint_grace + 5 s: exactly 8 of B's jobs
# were preempted (no more), all on the node the gang landed on, each got
# its notice file and was requeued with reason `preempted by j-X
# (reclaim)` without using up its retries. Nothing is preempted so that
# someone can borrow: a third tenant with no guarantee gets no victims.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server --grace 1s # the stop at the end: B's jobs ignore SIGTERM
sc_make_agent_token
sc_start_agent node-1 nvidia:A100:8
sc_start_agent node-2 nvidia:A100:8
sc_wait_nodes 2

"$SUPERCELL" tenant create ta --guarantee gpu=8 >/dev/null || fail "create ta"
"$SUPERCELL" tenant create tb --guarantee gpu=8 >/dev/null || fail "create tb"
"$SUPERCELL" tenant create tc >/dev/null || fail "create tc"

# B borrows everything: 16 jobs that ignore SIGTERM and note their notice.
mkdir -p "$SC_SHARE/b" && chmod 1777 "$SC_SHARE/b"
for i in $(seq 16); do
  sc_submit --tenant tb --gpus 1 --checkpoint-grace 2s --workdir "$SC_SHARE/b" \
    --name "b$i" -- "trap '' TERM; sleep 60" >/dev/null
done
wait_until 20 "B's 16 jobs running" \
  bash -c '[ "$("$1" jobs --state running -o json | jq ".jobs | length")" = 16 ]' _ "$SUPERCELL"

# Nothing is preempted so that someone can borrow.
c=$(sc_submit --tenant tc --gpus 1 -- true)
sleep 1.5
check_eq "a borrower gets no victims" "$(sc_job_state "$c")" pending
check_eq "B still runs 16" "$("$SUPERCELL" jobs --state running -o json | jq '.jobs | length')" 16

t0=$(sc_now_ms)
a=$(sc_submit --tenant ta --tasks 8 --gpus 1 -- 'sleep 5')
sc_wait_state "$a" running 20
took=$(($(sc_now_ms) - t0))
# While A runs (after it, B's requeued jobs take the room back).
check_eq "B runs 8 now" "$("$SUPERCELL" jobs --state running -o json | jq '[.jobs[] | select(.tenant == "tb")] | length')" 8
check "A's gang started within grace + 5 s ($took ms)" [ "$took" -le 7000 ]
node=$(sc_job "$a" | jq -r '[.tasks[].node] | unique | join(",")')
# Every victim was on a node the gang landed on (the agents log each notice).
for n in node-1 node-2; do
  if grep -q "preempted by $a" "$SC_TMP/agent-$n.log"; then
    check "victims on $n, where the gang landed ($node)" grep -q "$n" <<<"$node"
  fi
done
check_eq "8 notices in all" "$(cat "$SC_TMP"/agent-node-*.log | grep -c "preempted by $a")" 8
pre=$("$SUPERCELL" jobs --all -o json | jq -r --arg a "$a" \
  '[.jobs[] | select(.tenant == "tb") | select((.reason // "") | startswith("preempted by " + $a))] | length')
attempts=$(for id in $("$SUPERCELL" jobs --all -o json | jq -r '.jobs[] | select(.tenant == "tb") | .id'); do
  sc_job "$id" | jq -r --arg a "$a" '.attempts[]? | select(.reason | startswith("preempted by " + $a + " (reclaim)")) | .reason'
done | wc -l)
check_eq "exactly 8 of B's jobs were preempted (attempts ended so)" "$attempts" 8
victim_nodes=$(for id in $("$SUPERCELL" jobs --all -o json | jq -r '.jobs[] | select(.tenant == "tb") | .id'); do
  j=$(sc_job "$id")
  if jq -e --arg a "$a" '[.attempts[]? | select(.reason | startswith("preempted by " + $a))] | length > 0' <<<"$j" >/dev/null; then
    jq -r '.preemptions' <<<"$j"
  fi
done | sort -u | tr '\n' ' ')
check_eq "each victim counts one preemption" "$victim_nodes" "1 "
check "B's victims saw the notice file" [ -e "$SC_SHARE/b/SUPERCELL_PREEMPTED" ]
sc_wait_job "$a" succeeded 20
sc_log "reclaim: A's 8-GPU gang started $took ms after submit on $node"

sc_finish
