#!/usr/bin/env bash
# Fair share with real agents: two tenants with saturating queues of short
# 1-GPU jobs on 4 GPUs. Equal weights hold 50 +- 5 % of GPU-time each over
# the run; weights 1:3 give 25/75 +- 5 %. GPU-time comes from the usage
# records (supercell usage --by tenant), measured while both queues are
# still full, over 200 jobs and more.
# Normal build only: it is long and about shares over time; the fair-share
# core and the pass that uses it run under the sanitizers in unit tests
# and cp_tenancy.
# sc-builds: normal
# sc-cost: 35
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:4
sc_wait_nodes 1

# share A B: A's fraction of the GPU-time the two used since the start.
share() {
  "$SUPERCELL" usage --by tenant -o json |
    jq -r --arg a "$1" --arg b "$2" '
      [.groups[] | select(.key == $a) | .gpu_hours] as $x |
      [.groups[] | select(.key == $b) | .gpu_hours] as $y |
      (($x[0] // 0) / (($x[0] // 0) + ($y[0] // 0)))'
}
done_count() {
  "$SUPERCELL" jobs --all --expand --state succeeded -o json | jq '.jobs | length'
}

# run WA WB: tenants aWAxWB and bWAxWB (weights WA and WB), each with 150 held jobs, released
# together; measure once 200 jobs have ended (both queues still hold work).
run() {
  local a=a$1x$2 b=b$1x$2 ja jb base
  "$SUPERCELL" tenant create "$a" --weight "$1" >/dev/null || fail "create $a"
  "$SUPERCELL" tenant create "$b" --weight "$2" >/dev/null || fail "create $b"
  base=$(done_count)
  ja=$(sc_submit --tenant "$a" --hold --array 0-149 --gpus 1 -- 'sleep 0.3')
  jb=$(sc_submit --tenant "$b" --hold --array 0-149 --gpus 1 -- 'sleep 0.3')
  "$SUPERCELL" release "$ja" >/dev/null && "$SUPERCELL" release "$jb" >/dev/null ||
    fail "release"
  wait_until 120 "200 jobs of $a and $b to end" \
    bash -c '[ "$("$1" jobs --all --expand --state succeeded -o json | jq ".jobs | length")" -ge $(($2 + 200)) ]' \
    _ "$SUPERCELL" "$base"
  SHARE=$(share "$a" "$b")
  sc_log "weights $1:$2: $a held $SHARE of the GPU-time"
  "$SUPERCELL" cancel "$ja" >/dev/null 2>&1 || true # (409 once all ended)
  "$SUPERCELL" cancel "$jb" >/dev/null 2>&1 || true
  wait_until 30 "the rest to end" bash -c '[ "$("$1" jobs --state running -o json | jq ".jobs | length")" = 0 ]' _ "$SUPERCELL"
}

run 1 1
check "equal weights: a1x1 holds 50 +- 5 % (got $SHARE)" \
  awk -v s="$SHARE" 'BEGIN { exit !(s >= 0.45 && s <= 0.55) }'
run 1 3
check "weights 1:3: a1x3 holds 25 +- 5 % (got $SHARE)" \
  awk -v s="$SHARE" 'BEGIN { exit !(s >= 0.20 && s <= 0.30) }'

sc_finish
