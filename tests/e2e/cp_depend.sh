#!/usr/bin/env bash
# Dependencies, as Slurm's --dependency: --after ok:J (J succeeded), any:J
# (J ended), notok:J (J failed or was cancelled); Slurm's afterok:J:K
# spelling too. A chain runs in order; a job whose dependency can never be
# met ends cancelled with reason DependencyNeverSatisfied, and so does what
# waits on it; a dependency on an array waits for all its elements.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:4
sc_wait_nodes 1

gate() { echo "for i in \$(seq 300); do [ -e $SC_SHARE/$1 ] && break; sleep 0.1; done"; }

# 1. A chain a -> b -> c (ok), each appending its name: order a b c.
a=$(sc_submit --name a -- "$(gate go-a); echo a >> $SC_SHARE/order")
b=$(sc_submit --name b --after "ok:$a" -- "echo b >> $SC_SHARE/order")
c=$(sc_submit --name c --dependency "afterok:${b#j-}" -- "echo c >> $SC_SHARE/order")
sleep 0.5
check "b waits: $(sc_job "$b" | jq -r .pending_reason)" \
  bash -c '[[ $("$1" job -o json "$2" | jq -r .pending_reason) == "Dependency (ok:$3)" ]]' _ "$SUPERCELL" "$b" "$a"
check "jobs shows Dependency" bash -c '"$1" jobs | grep -qE "^$2 .*pending .*Dependency"' _ "$SUPERCELL" "$c"
check_eq "Slurm's spelling is stored as ours" "$(sc_job "$c" | jq -c .spec.after)" "[\"ok:$b\"]"
touch "$SC_SHARE/go-a"
sc_wait_job "$c" succeeded 20
check_eq "the chain ran in order" "$(tr '\n' ' ' <"$SC_SHARE/order")" "a b c "
# Both times are the node's (its agent reports when a process started and ended).
a_end=$(sc_job "$a" | jq -r '.tasks[0].finished_at') b_start=$(sc_job "$b" | jq -r '.tasks[0].started_at')
check "b's task started after a's ended ($b_start >= $a_end)" bash -c '[[ ! $1 < $2 ]]' _ "$b_start" "$a_end"

# 2. Never satisfied: x fails; ok:x is cancelled, and so is what waits on it
#    (ok:y); notok:x and any:x run.
x=$(sc_submit --name x -- "$(gate go-x); exit 3")
y=$(sc_submit --name y --after "ok:$x" -- true)
z=$(sc_submit --name z --after "ok:$y" -- true)
n=$(sc_submit --name n --after "notok:$x" -- true)
an=$(sc_submit --name an --after "any:$x,ok:$a" -- true)
touch "$SC_SHARE/go-x"
sc_wait_job "$x" failed 20
sc_wait_job "$y" cancelled 10
check_eq "its reason" "$(sc_job "$y" | jq -r .reason)" DependencyNeverSatisfied
sc_wait_job "$z" cancelled 10
check_eq "the cascade's reason" "$(sc_job "$z" | jq -r .reason)" DependencyNeverSatisfied
sc_wait_job "$n" succeeded 20
sc_wait_job "$an" succeeded 20
# Already impossible at submit: cancelled at once.
late=$(sc_submit --name late --after "ok:$x" -- true)
sc_wait_job "$late" cancelled 10
check_eq "late: DependencyNeverSatisfied" "$(sc_job "$late" | jq -r .reason)" DependencyNeverSatisfied

# 3. On an array: waits for all elements.
arr=$(sc_submit --name arr --array 0-3 -- "$(gate go-arr)")
after_arr=$(sc_submit --name after-arr --after "ok:$arr" -- true)
after_el=$(sc_submit --name after-el --after "any:${arr}_2" -- true)
sleep 0.5
check_eq "waits for all 4" "$(sc_job "$after_arr" | jq -r .pending_reason)" "Dependency (ok:$arr: 4 of 4 not ended)"
touch "$SC_SHARE/go-arr"
sc_wait_job "$after_arr" succeeded 20
sc_wait_job "$after_el" succeeded 20

# 4. Bad dependencies are refused, naming the field.
out=$("$SUPERCELL" submit --after ok:j-999999 -- true 2>&1) && fail "a missing job was accepted"
check "unknown job: $out" grep -q "no job j-999999" <<<"$out"
out=$("$SUPERCELL" submit --after maybe:$a -- true 2>&1) && fail "a bad type was accepted"
check "bad type: $out" grep -q "field 'after'" <<<"$out"
out=$("$SUPERCELL" submit --dependency "singleton" -- true 2>&1) && fail "singleton was accepted"
check "singleton: $out" grep -q "field 'dependency'" <<<"$out"
out=$("$SUPERCELL" submit --after "ok:${a}_1" -- true 2>&1) && fail "an element of a non-array was accepted"
check "not an array: $out" grep -q "is not an array" <<<"$out"

# 5. A restart keeps what a job waits for.
g=$(sc_submit --name g -- "$(gate go-g)")
w=$(sc_submit --name w --after "ok:$g" -- true)
sc_stop "$SC_SERVER_PID" controller
sc_start_server
sleep 0.5
check "still waiting after a restart: $(sc_job "$w" | jq -r .pending_reason)" \
  bash -c '[[ $("$1" job -o json "$2" | jq -r .pending_reason) == Dependency* ]]' _ "$SUPERCELL" "$w"
touch "$SC_SHARE/go-g"
sc_wait_job "$w" succeeded 30

sc_finish
