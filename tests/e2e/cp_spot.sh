#!/usr/bin/env bash
# Spot with real agents (issue #7): spot jobs fill idle GPUs and are the
# first victims. One node of 8 GPUs; ta and tb each guarantee 4; ts has no
# guarantee and a limit of 1 GPU that its spot work may exceed
# (--spot-over-limit). Every job ignores SIGTERM through a 1 s grace.
#   1. ts's 8 spot jobs fill the idle node. ta submits 4 jobs of 1 GPU at
#      once: they start within grace + 5 s, and exactly 4 spot jobs were
#      preempted, one for each, none twice; the other 4 run on.
#   2. On the emptied node, tb runs 6 standard jobs (it borrows 2 of ta's
#      guarantee); ts's 4 new spot jobs fill the 2 GPUs left and 2 wait: a
#      spot job preempts nothing.
#   3. ta asks for 2 GPUs (two 1-GPU jobs at once). tb's borrowed jobs and
#      the spot jobs could both make room: exactly the 2 spot jobs are
#      preempted, with the notice file and reason "preempted by J
#      (reclaim)"; tb loses nothing.
#   4. ta asks for 2 more: no spot job runs, so tb gives back what it
#      borrowed (2 jobs) and keeps its guarantee.
# sc-cost: 11
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server --grace 1s # cancels and the stop at the end: tasks ignore SIGTERM
sc_make_agent_token
sc_start_agent node-1 nvidia:A100:8
sc_wait_nodes 1

"$SUPERCELL" tenant create ta --guarantee gpu=4 >/dev/null || fail "create ta"
"$SUPERCELL" tenant create tb --guarantee gpu=4 >/dev/null || fail "create tb"
"$SUPERCELL" tenant create ts --limit gpu=1 --spot-over-limit >/dev/null || fail "create ts"

mkdir -p "$SC_SHARE/w" && chmod 1777 "$SC_SHARE/w"
job() { # TENANT NAME [submit flags]: a 1-GPU job that runs until killed
  local t=$1 n=$2; shift 2
  sc_submit --tenant "$t" --name "$n" --gpus 1 --checkpoint-grace 1s --workdir "$SC_SHARE/w" "$@" -- \
    "trap '' TERM; sleep 60"
}
count() { # JQ_CONDITION: how many jobs meet it
  "$SUPERCELL" jobs --all -o json | jq "[.jobs[] | select($1)] | length"
}
ids() { # JQ_CONDITION: the ids of the jobs that meet it, sorted
  "$SUPERCELL" jobs --all -o json | jq -r "[.jobs[] | select($1) | .id] | sort | join(\" \")"
}
running_is() { [ "$(count '.state == "running"')" = "$1" ]; }
notices() { grep -c "preempted by" "$SC_TMP/agent-node-1.log" || true; }
# claims N: N 1-GPU jobs of ta, submitted at once; checks they start
# within grace + 5 s and prints their ids.
claims() {
  local t0 p took
  t0=$(sc_now_ms)
  for i in $(seq "$1"); do job ta "claim-$i" >/dev/null; done
  for p in $(ids '.tenant == "ta" and .state != "cancelled"'); do
    sc_wait_state "$p" running 15
  done
  took=$(($(sc_now_ms) - t0))
  check "ta's $1 jobs started within grace + 5 s ($took ms)" [ "$took" -le $((6000 * SC_SLOW)) ]
  sc_log "ta's claims started $took ms after submit"
}
# Every preemption so far: "VICTIM by PREEMPTOR" per line, from the
# attempts `supercell job` shows.
preemptions() {
  local id
  for id in $(ids 'true'); do
    sc_job "$id" | jq -r '.id as $v | .attempts[]? | select(.reason | test("^preempted by")) |
      "\($v) by \(.reason | split(" ")[2])"'
  done | sort
}
SEEN=""
new_victims() { # sets v to the preemptions since the last call
  local all
  all=$(preemptions)
  v=$(comm -13 <(echo "$SEEN") <(echo "$all") | grep . || true)
  SEEN=$all
}

# 1. Spot fills the idle node; 4 claims at once take exactly 4 of it.
for i in $(seq 8); do job ts "spot-$i" --spot >/dev/null; done
wait_until 15 "8 spot jobs running" running_is 8
check_eq "ts runs 8 GPUs of spot over its limit of 1" "$(count '.tenant == "ts" and .state == "running"')" 8
claims 4
new_victims
check_eq "4 spot jobs preempted, one per claim ($(tr '\n' ';' <<<"$v"))" \
  "$(cut -d' ' -f3 <<<"$v" | sort -u | grep -c . || true) $(grep -c . <<<"$v" || true)" "4 4"
check_eq "... each once" "$(cut -d' ' -f1 <<<"$v" | sort -u | grep -c . || true)" 4
check_eq "the other 4 run on" "$(count '.tenant == "ts" and .state == "running" and .preemptions == 0')" 4
check_eq "4 notices" "$(notices)" 4

# Empty the node for the rest.
for id in $(ids '.state == "running" or .state == "pending"'); do
  "$SUPERCELL" cancel "$id" >/dev/null || fail "cancel $id"
done
wait_until 10 "the node to empty" running_is 0
n0=$(notices)

# 2. tb borrows 2; spot fills the rest; spot preempts nothing.
for i in $(seq 6); do job tb "tb-$i" >/dev/null; done
wait_until 15 "tb's 6 jobs running" running_is 6
for i in $(seq 4); do job ts "spot2-$i" --spot >/dev/null; done
wait_until 15 "spot jobs on the 2 idle GPUs" running_is 8
run_spot=$(ids '.tenant == "ts" and .state == "running"')
sleep 1
check_eq "the other spot jobs wait" "$(count '.tenant == "ts" and .state == "pending"')" 2
check_eq "a spot job preempts nothing" "$(notices)" "$n0"

# 3. ta's 2 claims take the spot jobs, not tb's borrowed ones.
claims 2
new_victims
check_eq "the victims were the spot jobs ($(tr '\n' ';' <<<"$v"))" "$(cut -d' ' -f1 <<<"$v" | sort | tr '\n' ' ')" "$run_spot "
for id in $run_spot; do
  j=$(sc_job "$id")
  check_eq "$id pending again" "$(jq -r .state <<<"$j")" pending
  check "$id's attempt ended preempted: $(jq -r '.attempts[0].reason' <<<"$j")" \
    grep -qE '^preempted by j-[0-9]+ \(reclaim\)$' <<<"$(jq -r '.attempts[0].reason' <<<"$j")"
  check_eq "$id counts one preemption" "$(jq -r .preemptions <<<"$j")" 1
done
check "the spot jobs saw the notice file: $(tr '\n' ' ' <"$SC_SHARE/w/SUPERCELL_PREEMPTED")" \
  grep -q "^preempted_by=j-" "$SC_SHARE/w/SUPERCELL_PREEMPTED"
check_eq "tb lost nothing" "$(count '.tenant == "tb" and .state == "running" and .preemptions == 0')" 6

# 4. No spot left to take: tb gives back what it borrowed.
claims 2
new_victims
check_eq "then 2 of tb's jobs ($(tr '\n' ';' <<<"$v"))" \
  "$(grep -c . <<<"$v" || true) $(count '.tenant == "tb" and .preemptions == 1')" "2 2"
check_eq "tb keeps its guarantee" "$(count '.tenant == "tb" and .state == "running"')" 4
check_eq "ta holds its guarantee" "$(count '.tenant == "ta" and .state == "running"')" 4
check_eq "the spot jobs wait" "$(count '.tenant == "ts" and .state == "pending"')" 4

sc_finish
