#!/usr/bin/env bash
# Job arrays, as Slurm's --array: one request makes an array of elements
# j-NNNNNN_I, each sees its index (SUPERCELL_ARRAY_INDEX, SLURM_ARRAY_TASK_ID);
# %N caps how many run at once; jobs shows an array on one line with counts
# by state (--expand: each element); cancel takes the array or one element.
# Not under ASan (a minute there, for paths cp_emulate's arrays also take).
# sc-builds: normal tsan
# sc-cost: 16
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:8
sc_wait_nodes 1

# 1. A small array with a step: indices 0, 2, 4, 6; each element prints its
#    index into the share; names and variables match.
a=$(sc_submit --name small --array 0-6:2 -- 'echo "$SUPERCELL_ARRAY_INDEX $SLURM_ARRAY_TASK_ID $SUPERCELL_ARRAY_JOB_ID $SLURM_ARRAY_JOB_ID" > '"$SC_SHARE"'/small.$SUPERCELL_ARRAY_INDEX')
check "the array is named like a job: $a" grep -qE '^j-[0-9]{6}$' <<<"$a"
wait_until 20 "the array to finish" bash -c '[ "$("$1" job -o json "$2" | jq -r .state)" = succeeded ]' _ "$SUPERCELL" "$a"
check_eq "its size and counts" "$(sc_job "$a" | jq -c '[.array.size, .array.counts.succeeded, .array.indices]')" '[4,4,"0-6:2"]'
sc_api_schema GET "/v1/jobs/$a" 200 Job
sc_api_schema GET "/v1/jobs/${a}_2" 200 Job
sc_api_schema GET "/v1/jobs" 200 "GET /v1/jobs 200"
sc_api_schema GET "/v1/jobs?expand=1" 200 "GET /v1/jobs 200"
num=$((10#${a#j-}))
for i in 0 2 4 6; do
  check_eq "element $i saw its index and array" "$(cat "$SC_SHARE/small.$i")" "$i $i $a $num"
  check_eq "element ${a}_$i is named so" "$(sc_job "${a}_$i" | jq -r '[.id, .array_job_id, .array_index, .state] | join(" ")')" "${a}_$i $a $i succeeded"
done
out=$("$SUPERCELL" logs "$a" 2>&1) && fail "logs of a whole array answered"
check "logs asks for one element: $out" grep -q "is an array: name one element" <<<"$out"
check "a missing element is 404" bash -c '! "$1" job "$2_1" 2>/dev/null' _ "$SUPERCELL" "$a"

# 2. 1,000 elements at most 10 at once. Each element records how many run
#    alongside it (files in a directory) and the most ever seen must be <= 10.
mkdir -p "$SC_SHARE/run" && chmod 1777 "$SC_SHARE/run"
script='d='"$SC_SHARE"'/run; touch $d/$SUPERCELL_ARRAY_INDEX; n=$(ls $d | wc -l); echo $n > '"$SC_SHARE"'/seen.$SUPERCELL_ARRAY_INDEX; sleep 0.02; rm $d/$SUPERCELL_ARRAY_INDEX'
t0=$(sc_now_ms)
big=$(sc_submit --name big --array '0-999%10' --cpu 100 -- "$script")
check "the submission took one request ($(($(sc_now_ms) - t0)) ms)" [ $(($(sc_now_ms) - t0)) -lt 5000 ]
line=$("$SUPERCELL" jobs | grep "^${big}_")
check "jobs shows it on one line: $line" grep -qE "^${big}_\[0-999%10\] +big .* 1000 elements:" <<<"$line"
check_eq "one line only" "$("$SUPERCELL" jobs | grep -c "^$big")" 1
check_eq "--expand shows each element" "$("$SUPERCELL" jobs --expand --all | grep -c "^${big}_[0-9]")" 1000
check_eq "--array shows its elements" "$("$SUPERCELL" jobs --array "$big" --all | grep -c "^${big}_[0-9]")" 1000
pr=$(sc_job "${big}_999" | jq -r .pending_reason)
check "a throttled element says why: $pr" grep -qE '^(JobArrayTaskLimit|Resources|None)' <<<"$pr"
wait_until 240 "1000 elements to finish" bash -c '[ "$("$1" job -o json "$2" | jq -r .state)" = succeeded ]' _ "$SUPERCELL" "$big"
check_eq "all 1000 ran" "$(ls "$SC_SHARE"/seen.* | wc -l)" 1000
max=$(cat "$SC_SHARE"/seen.* | sort -n | tail -1)
check "at most 10 ran at once (most seen: $max)" [ "$max" -le 10 ]
check "more than one ran at once (most seen: $max)" [ "$max" -ge 2 ]
sc_log "1000 elements, %10: $(($(sc_now_ms) - t0)) ms, most at once $max"

# 3. cancel one element, then the whole array.
c=$(sc_submit --name cancelme --array 0-4%1 -- 'sleep 30')
sc_wait_state "${c}_0" running
"$SUPERCELL" cancel "${c}_3" >/dev/null || fail "cancel one element"
check_eq "that element is cancelled" "$(sc_job_state "${c}_3")" cancelled
check_eq "the others wait" "$(sc_job_state "${c}_4")" pending
"$SUPERCELL" cancel "$c" >/dev/null || fail "cancel the array"
wait_until 15 "every element to end" bash -c '[ "$("$1" job -o json "$2" | jq -r .array.counts.cancelled)" = 5 ]' _ "$SUPERCELL" "$c"
check_eq "the array is cancelled" "$(sc_job_state "$c")" cancelled
out=$("$SUPERCELL" cancel "$c" 2>&1) && fail "cancelling an ended array succeeded"

# 4. Bad expressions name the field.
for bad in '5-1' '0-99999999' '1,1' 'x' '0-9%0'; do
  out=$("$SUPERCELL" submit --array "$bad" -- true 2>&1) && fail "--array $bad was accepted"
  check "--array $bad is refused: $out" grep -q "field 'array'" <<<"$out"
done

sc_finish
