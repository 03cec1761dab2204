#!/usr/bin/env bash
# No starvation (EASY backfill) with real agents: two 8-GPU nodes kept full
# by a stream of 1-GPU jobs (3 s each, max runtime 10 s) submitted faster
# than they run. A 2 x 8-GPU gang arrives: it holds a reservation
# on both nodes, shown in its pending reason; no stream job submitted after
# it starts before it; a short job (max runtime 1 s, ending before the
# reservation's time) is backfilled meanwhile; the gang starts once the
# jobs ahead of it have drained (those running and those queued before
# it: at most (ceil(queued / 16) + 1) x 3 s, plus 2 s of slack). Without backfill the stream takes every
# GPU as it frees (test_backfill's simulation shows that case).
# sc-cost: 11
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-1 nvidia:A100:8
sc_start_agent node-2 nvidia:A100:8
sc_wait_nodes 2

# The stream: arrays of 4 (one request each), so it outruns the 16 GPUs
# (5.3 jobs/s) even where each CLI call is slow (the sanitizer builds).
stream() {
  local i=0
  while [ ! -e "$SC_TMP/stop" ]; do
    sc_submit --name "s$i" --array 0-3 --gpus 1 --max-runtime 10s -- 'sleep 3' >/dev/null
    i=$((i + 1))
    sleep 0.25
  done
}
sc_submit --name s-fill --array 0-19 --gpus 1 --max-runtime 10s -- 'sleep 3' >/dev/null
stream &
spid=$!
pending() { "$SUPERCELL" jobs --state pending --expand -o json | jq '.jobs | length'; }
wait_until 20 "the stream to fill 16 GPUs" bash -c '[ "$("$1" jobs --state running --expand -o json | jq ".jobs | length")" = 16 ]' _ "$SUPERCELL"
sleep 1 # the stream's queue grows

t0=$(sc_now_ms)
gang=$(sc_submit --name gang --tasks 2 --gpus 8 -- true)
queued=$(pending)
# Once the stream jobs queued before it have started, the gang is the
# first job that cannot: it holds the reservation.
reserved() {
  reason=$(sc_job "$gang" | jq -r .pending_reason)
  grep -qE '^Resources \(reserved: by [0-9T:.-]+Z?, on node-[12],node-[12]\)$' <<<"$reason"
}
wait_until 15 "the gang's reservation on both nodes" reserved
sc_log "gang: $reason"
SC_PASSED=$((SC_PASSED + 1))
short=$(sc_submit --name short --gpus 1 --max-runtime 1s -- 'sleep 0.2')
started() { [ "$(sc_job "$gang" | jq -r '.started_at // empty')" != "" ]; }
wait_until 20 "the gang to start" started
took=$(($(sc_now_ms) - t0))
touch "$SC_TMP/stop"
wait "$spid" || fail "the stream stopped early"
sc_log "gang started $took ms after submit ($queued stream jobs were pending then)"
bound=$((((queued + 15) / 16 + 1) * 3000 + 2000))
SC_PASSED=$((SC_PASSED + 1))
check "the gang started once the jobs ahead drained: $took ms <= $bound ms" [ "$took" -le "$bound" ]

gang_start=$(sc_job "$gang" | jq -r .started_at)
gang_created=$(sc_job "$gang" | jq -r .created_at)
sc_wait_job "$short" succeeded 20
short_start=$(sc_job "$short" | jq -r .started_at)
check "the short job was backfilled before the gang ($short_start < $gang_start)" \
  [ "$short_start" \< "$gang_start" ]
# Stream jobs submitted after the gang: none started before it.
"$SUPERCELL" jobs --all --expand -o json >"$SC_TMP/all.json"
later='[.jobs[] | select(.name | test("^s[0-9]")) | select(.created_at > $c)]'
after=$(jq --arg c "$gang_created" "$later | length" "$SC_TMP/all.json")
early=$(jq --arg c "$gang_created" --arg s "$gang_start" \
  "$later | map(select(.started_at != null and .started_at < \$s)) | length" "$SC_TMP/all.json")
[ "$early" = 0 ] || sc_log "started before the gang: $(jq -c --arg c "$gang_created" --arg s "$gang_start" \
  "$later | map(select(.started_at != null and .started_at < \$s)) | map([.id, .created_at, .started_at])" "$SC_TMP/all.json")"
check "the stream went on after the gang came ($after jobs)" [ "$after" -ge 10 ]
check_eq "stream jobs submitted after the gang that started before it" "$early" 0
sc_wait_job "$gang" succeeded 20
for id in $("$SUPERCELL" jobs --state pending -o json | jq -r '.jobs[].id'); do
  "$SUPERCELL" cancel "${id%%_*}" >/dev/null
done

sc_finish
