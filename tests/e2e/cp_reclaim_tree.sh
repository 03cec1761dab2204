#!/usr/bin/env bash
# Hierarchical reclaim with real agents (issue #7): in a three-level tree
# reclaim goes to the right subtree, and a subtree within its guarantee
# loses nothing. Two nodes of 4 GPUs, guarantees in brackets:
#
#   a [4]                          b [4]
#   ├── a1 [2]                     └── b1 [4]
#   │   ├── a1x [1]
#   │   └── a1y [1]
#   └── a2 [2]
#
# b1 runs 2, a2 runs 1, and a1y borrows the other 5 GPUs (from a1x, a2
# and b). Then, each a 1-GPU job or gang whose tenant is within its
# guarantee, with the borrower found at a different level of the tree:
#   1. b1 asks for 2: a borrows from b, so 2 of a1y's jobs go (the lowest
#      common ancestor is the cluster);
#   2. a2 asks for 1: a1 borrows from a2, 1 of a1y's jobs goes (at a);
#   3. a1x asks for 1: a1y borrows from a1x, 1 of a1y's goes (at a1),
#      although a1 as a whole is then within its guarantee.
# Each time exactly that many jobs are preempted, all of a1y (never a2's,
# a1x's or b1's, which are within their guarantees), each on a node the
# preemptor landed on, requeued with reason "preempted by J (reclaim)"
# and one attempt ended so; the preemptor runs; the victims wait.
# sc-cost: 10
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server --grace 1s # the stop at the end: its tasks ignore SIGTERM
sc_make_agent_token
sc_start_agent node-1 nvidia:A100:4
sc_start_agent node-2 nvidia:A100:4
sc_wait_nodes 2

tenant() { "$SUPERCELL" tenant create "$@" >/dev/null || fail "tenant create $*"; }
tenant a --guarantee gpu=4
tenant a1 --parent a --guarantee gpu=2
tenant a1x --parent a1 --guarantee gpu=1
tenant a1y --parent a1 --guarantee gpu=1
tenant a2 --parent a --guarantee gpu=2
tenant b --guarantee gpu=4
tenant b1 --parent b --guarantee gpu=4

# Victims ignore SIGTERM for their 1 s grace, then are killed.
hold() { # TENANT NAME [submit flags]: a 1-GPU job that runs until killed
  local t=$1 n=$2; shift 2
  sc_submit --tenant "$t" --name "$n" --gpus 1 --checkpoint-grace 1s "$@" -- "trap '' TERM; sleep 60"
}
# What each subtree holds, as `supercell tenant list` shows it: "a=4 a1=2 ...".
held() {
  "$SUPERCELL" tenant list -o json |
    jq -r '[.tenants[] | select(.name != "default")] | sort_by(.name) |
      map("\(.name)=\(.usage.subtree.gpu // 0)") | join(" ")'
}
all_running() { [ "$("$SUPERCELL" jobs --state running -o json | jq '.jobs | length')" = "$1" ]; }

for i in 1 2; do hold b1 "b1-$i" >/dev/null; done
hold a2 a2-1 >/dev/null
wait_until 15 "b1's and a2's jobs running" all_running 3
for i in 1 2 3 4 5; do hold a1y "a1y-$i" >/dev/null; done
wait_until 15 "a1y borrowing the other 5 GPUs" all_running 8
before=$("$SUPERCELL" jobs --state running -o json)

# The victims of preemptor P, "job node" per line, from the agents' logs
# (each task's notice is logged where it ran; task ids are JOB.TASK).
victims_of() {
  local n
  for n in node-1 node-2; do
    { grep -oE "task j-[0-9]+[^ ]*: preempted by $1 " "$SC_TMP/agent-$n.log" || true; } |
      sed -E "s/^task (j-[0-9]+).*/\1 $n/"
  done | sort -u
}

# step PREEMPTOR_TENANT GANG WANT: submits a gang of GANG 1-GPU tasks for
# the tenant and checks that WANT jobs of a1y, and nothing else, make room.
step() {
  local t=$1 gang=$2 want=$3 p t0 took nodes v got_n jobs_json id j
  t0=$(sc_now_ms)
  p=$(sc_submit --tenant "$t" --name "$t-claim" --tasks "$gang" --gpus 1 --checkpoint-grace 1s -- \
    "trap '' TERM; sleep 60")
  sc_wait_state "$p" running 15
  took=$(($(sc_now_ms) - t0))
  check "$t's job started within grace + 5 s ($took ms)" [ "$took" -le $((6000 * SC_SLOW)) ]
  nodes=$(sc_job "$p" | jq -r '[.tasks[].node] | unique | join(",")')
  v=$(victims_of "$p")
  got_n=$(grep -c . <<<"$v" || true)
  check_eq "$t: preempted jobs (notices: ${v//$'\n'/; })" "$got_n" "$want"
  jobs_json=$("$SUPERCELL" jobs --all -o json)
  check_eq "$t: jobs requeued by $p" \
    "$(jq --arg r "preempted by $p (reclaim)" '[.jobs[] | select(.reason == $r)] | length' <<<"$jobs_json")" "$want"
  while read -r id node; do
    check_eq "$t: victim $id's tenant" \
      "$(jq -r --arg id "$id" '.jobs[] | select(.id == $id) | .tenant' <<<"$jobs_json")" a1y
    check "$t: victim $id on $node, where $p landed ($nodes)" grep -qw "$node" <<<"${nodes//,/ }"
    j=$(sc_job "$id")
    check_eq "$t: victim $id is pending" "$(jq -r .state <<<"$j")" pending
    check_eq "$t: victim $id's reason" "$(jq -r .reason <<<"$j")" "preempted by $p (reclaim)"
    check_eq "$t: victim $id's attempt ended so" \
      "$(jq -r --arg p "$p" '[.attempts[] | select(.reason == "preempted by " + $p + " (reclaim)")] | length' <<<"$j")" 1
  done <<<"$v"
  # Jobs within their guarantees lost nothing: each still runs its first attempt.
  for id in $(jq -r '.jobs[] | select(.tenant != "a1y") | .id' <<<"$before"); do
    j=$(sc_job "$id")
    check_eq "$t: $(jq -r '.tenant + "/" + .name' <<<"$j") untouched" \
      "$(jq -c '[.state, .preemptions, .attempt]' <<<"$j")" '["running",0,0]'
  done
  sc_log "$t: $p started $took ms after submit on $nodes; victims: ${v//$'\n'/; }"
}

check_eq "GPUs held, a1y borrowing" "$(held)" "a=6 a1=5 a1x=0 a1y=5 a2=1 b=2 b1=2"
step b1 2 2
check_eq "GPUs held after b1's claim" "$(held)" "a=4 a1=3 a1x=0 a1y=3 a2=1 b=4 b1=4"
before=$("$SUPERCELL" jobs --state running -o json)
step a2 1 1
check_eq "GPUs held after a2's claim" "$(held)" "a=4 a1=2 a1x=0 a1y=2 a2=2 b=4 b1=4"
before=$("$SUPERCELL" jobs --state running -o json)
step a1x 1 1
check_eq "GPUs held after a1x's claim" "$(held)" "a=4 a1=2 a1x=1 a1y=1 a2=2 b=4 b1=4"

# Nothing is preempted so that a1y can borrow again: its 4 victims wait.
sleep 1
check_eq "GPUs held a second later" "$(held)" "a=4 a1=2 a1x=1 a1y=1 a2=2 b=4 b1=4"
check_eq "a1y's victims wait" \
  "$("$SUPERCELL" jobs --state pending -o json | jq '[.jobs[] | select(.tenant == "a1y")] | length')" 4
check_eq "no job but a1y's was preempted" \
  "$("$SUPERCELL" jobs --all -o json | jq '[.jobs[] | select(.tenant != "a1y") | .preemptions] | add')" 0

sc_finish
