#!/usr/bin/env bash
# Priority preemption within a tenant (issue #7 item 5): a tenant whose
# rule is --preempt-within lower-priority gets room for a higher-priority
# job by preempting exactly one of its own lower-priority jobs (reason
# "preempted by j-X (priority)", requeued, not counted as a retry); a
# tenant with the default rule (never) waits instead, and nothing of
# another tenant is touched. One node of 4 GPUs, full. Then spot: any
# standard job, even of a tenant without guarantee, takes spot capacity.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server --grace 1s
sc_make_agent_token
sc_start_agent node-a nvidia:A100:4
sc_wait_nodes 1

"$SUPERCELL" tenant create eager --preempt-within lower-priority >/dev/null || fail "create eager"
"$SUPERCELL" tenant create calm >/dev/null || fail "create calm"
check_eq "the rule is shown" "$("$SUPERCELL" tenant show eager -o json | jq -r .preempt_within)" \
  lower-priority

low() { sc_submit --tenant "$1" --name "low-$1" --gpus 1 --checkpoint-grace 1s -- "trap '' TERM; sleep 60"; }
e1=$(low eager) e2=$(low eager) c1=$(low calm) c2=$(low calm)
for id in "$e1" "$e2" "$c1" "$c2"; do sc_wait_state "$id" running; done

# calm (never): its high-priority job waits; nothing is preempted.
ch=$(sc_submit --tenant calm --name high-calm --gpus 1 --priority 10 -- 'sleep 0.2')
sleep 1.5
check_eq "calm's high job waits" "$(sc_job_state "$ch")" pending
for id in "$e1" "$e2" "$c1" "$c2"; do
  check_eq "$id still runs" "$(sc_job_state "$id")" running
done

# eager (lower-priority): one of its own low jobs goes, no one else's.
t0=$(sc_now_ms)
eh=$(sc_submit --tenant eager --name high-eager --gpus 1 --priority 10 -- 'sleep 0.2')
sc_wait_job "$eh" succeeded 15
took=$(($(sc_now_ms) - t0))
check "eager's high job ran within grace + 5 s ($took ms)" [ "$took" -le 6000 ]
victims=0
for id in "$e1" "$e2"; do
  j=$(sc_job "$id")
  if [ "$(jq -r .preemptions <<<"$j")" = 1 ]; then
    victims=$((victims + 1))
    check_eq "$id's attempt says why" "$(jq -r '.attempts[0].reason' <<<"$j")" \
      "preempted by $eh (priority)"
    check_eq "$id kept its retries" "$(jq -r .max_retries <<<"$j")" 0
  fi
done
check_eq "exactly one of eager's low jobs was preempted" "$victims" 1
for id in "$c1" "$c2"; do
  check_eq "calm's $id was not touched" "$(sc_job "$id" | jq -r '.preemptions')" 0
done
check_eq "calm's high job still waits" "$(sc_job_state "$ch")" pending

for id in "$e1" "$e2" "$c1" "$c2" "$ch"; do "$SUPERCELL" cancel "$id" >/dev/null; done

# Spot capacity is idle capacity to any standard job: calm (no guarantee,
# rule never) takes one GPU back from a node full of spot jobs.
"$SUPERCELL" tenant create spotty --spot-over-limit >/dev/null || fail "create spotty"
spots=()
for i in 1 2 3 4; do
  spots+=("$(sc_submit --tenant spotty --spot --name "spot$i" --gpus 1 --checkpoint-grace 1s -- "trap '' TERM; sleep 60")")
done
for id in "${spots[@]}"; do sc_wait_state "$id" running; done
t0=$(sc_now_ms)
std=$(sc_submit --tenant calm --name standard --gpus 1 -- 'sleep 0.2')
sc_wait_job "$std" succeeded 15
took=$(($(sc_now_ms) - t0))
check "a standard job of a tenant without guarantee ran within grace + 5 s ($took ms)" [ "$took" -le 6000 ]
taken=0
for id in "${spots[@]}"; do taken=$((taken + $(sc_job "$id" | jq -r .preemptions))); done
check_eq "exactly one spot job was preempted for it" "$taken" 1
for id in "${spots[@]}"; do "$SUPERCELL" cancel "$id" >/dev/null; done
sc_finish
