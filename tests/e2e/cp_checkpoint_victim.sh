#!/usr/bin/env bash
# A reported checkpoint changes which victim is chosen (issue #7, Notice).
# One node of 8 GPUs; ta and tb each guarantee 4. tb runs two equal jobs
# of 4 GPUs (same priority, not spot), X started about 2 s before Y, so tb
# borrows 4 and exactly one of them must go when ta asks for 4. Victim
# choice prefers the least work lost: GPU-seconds since the job's last
# checkpoint, or since its start.
#   1. No checkpoint: Y, the later one (less work lost), is preempted; X
#      runs on.
#   2. The same again, but X runs `supercell checkpoint` from inside its
#      task just before ta asks: now X loses less, and X is preempted;
#      Y runs on.
# Each time the victim gets its notice file, is requeued with reason
# "preempted by J (reclaim)" and its attempt shows it; the other runs on
# untouched; the preemptor starts within grace + 5 s.
# sc-cost: 13
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server --grace 1s
sc_make_agent_token
sc_start_agent node-1 nvidia:A100:8
sc_wait_nodes 1

"$SUPERCELL" tenant create ta --guarantee gpu=4 >/dev/null || fail "create ta"
"$SUPERCELL" tenant create tb --guarantee gpu=4 >/dev/null || fail "create tb"

# Tasks see only system paths and the share: the CLI goes there.
cp "$SUPERCELL" "$SC_SHARE/supercell"
chmod 755 "$SC_SHARE/supercell"
CLI=$SC_SHARE/supercell
workdir() { local d=$SC_SHARE/$1; mkdir -p "$d" && chmod 777 "$d"; echo "$d"; }
has_file() { [ -s "$1" ]; }
checkpointed() { [ "$(sc_job "$1" | jq -r .last_checkpoint_at)" != null ]; }

# A tb job of 4 GPUs in work dir W: it checkpoints when W/go appears.
tb_job() { # NAME W
  sc_submit --tenant tb --name "$1" --gpus 4 --checkpoint-grace 1s --workdir "$2" -- \
    "echo up >up; while [ ! -e go ]; do sleep 0.1; done; $CLI checkpoint >ckpt.out 2>&1; sleep 60"
}

# round N CHECKPOINT: X, then Y 2 s later; X checkpoints if CHECKPOINT is
# yes; then ta's claim. Sets X, Y and P to their ids.
round() {
  local n=$1 ckpt=$2 wx wy x y p t0 took
  wx=$(workdir "x$n")
  wy=$(workdir "y$n")
  x=$(tb_job "x$n" "$wx")
  sc_wait_state "$x" running 15
  wait_until 10 "x$n's task" has_file "$wx/up"
  sleep 2
  y=$(tb_job "y$n" "$wy")
  sc_wait_state "$y" running 15
  wait_until 10 "y$n's task" has_file "$wy/up"
  sleep 1
  if [ "$ckpt" = yes ]; then
    touch "$wx/go"
    wait_until 10 "x$n's checkpoint" checkpointed "$x"
    check "x$n checkpointed from inside its task: $(cat "$wx/ckpt.out")" grep -q 'checkpoint at' "$wx/ckpt.out"
  fi
  check_eq "round $n: no checkpoint for y$n" "$(sc_job "$y" | jq -r .last_checkpoint_at)" null
  t0=$(sc_now_ms)
  p=$(sc_submit --tenant ta --name "claim$n" --gpus 4 -- "sleep 60")
  sc_wait_state "$p" running 15
  took=$(($(sc_now_ms) - t0))
  check "round $n: ta's claim started within grace + 5 s ($took ms)" [ "$took" -le $((6000 * SC_SLOW)) ]
  X=$x Y=$y P=$p
}

# victim_is VICTIM SPARED P: VICTIM was preempted by P, SPARED was not.
victim_is() {
  local v=$1 s=$2 p=$3 j wv ws
  j=$(sc_job "$v")
  wv=$SC_SHARE/$(jq -r .name <<<"$j")
  ws=$SC_SHARE/$(sc_job "$s" | jq -r .name)
  check "$(jq -r .name <<<"$j") got the notice file" grep -qx "preempted_by=$p" "$wv/SUPERCELL_PREEMPTED"
  check "$(basename "$ws") got none" [ ! -e "$ws/SUPERCELL_PREEMPTED" ]
  check_eq "$(jq -r .name <<<"$j") requeued" "$(jq -r .state <<<"$j")" pending
  check_eq "$(jq -r .name <<<"$j")'s reason" "$(jq -r .reason <<<"$j")" "preempted by $p (reclaim)"
  check_eq "$(jq -r .name <<<"$j")'s attempts" "$(jq -c '[.attempts[].reason]' <<<"$j")" \
    "[\"preempted by $p (reclaim)\"]"
  j=$(sc_job "$s")
  check_eq "$(jq -r .name <<<"$j") runs on" "$(jq -c '[.state, .preemptions, .attempt]' <<<"$j")" \
    '["running",0,0]'
  check_eq "one victim for $p" "$(grep -c "preempted by $p" "$SC_TMP/agent-node-1.log" || true)" 1
}

# 1. Without a checkpoint the later job loses less: Y goes.
round 1 no
victim_is "$Y" "$X" "$P"
sc_log "round 1 (no checkpoint): $P preempted y1 ($Y), x1 ($X) runs on"

for id in "$X" "$Y" "$P"; do "$SUPERCELL" cancel "$id" >/dev/null || fail "cancel $id"; done
idle() { [ "$("$SUPERCELL" jobs --state running -o json | jq '.jobs | length')" = 0 ]; }
wait_until 10 "the node to empty" idle

# 2. X's checkpoint makes X the one that loses less: X goes.
round 2 yes
victim_is "$X" "$Y" "$P"
sc_log "round 2 (x2 checkpointed): $P preempted x2 ($X), y2 ($Y) runs on"

sc_finish
