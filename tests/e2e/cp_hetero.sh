#!/usr/bin/env bash
# End to end: one agent holding devices of three models and two vendors
# (nvidia:A100 x4, nvidia:H100 x2, amd:MI300X x2: node indexes 0-3, 4-5,
# 6-7; nvidia indexes 0-5, amd 0-1). Each task gets devices of one model
# only; it sees its vendor's visibility variable listing its devices' indexes
# among that vendor's devices, each once, and the other vendor's variables
# empty; shares pack per device within one model; a job no single model can
# hold is refused at submit (422) naming the largest group, and one that
# only mixed models could run now waits; a model declared under two vendors
# on one node is refused at registration.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent hetero nvidia:A100:4 --devices nvidia:H100:2 --devices amd:MI300X:2
sc_wait_nodes 1
check_eq "the node's devices" \
  "$(sc_nodes_json | jq -c '[.nodes[0].devices[] | "\(.index):\(.vendor):\(.model)"]')" \
  '["0:nvidia:A100","1:nvidia:A100","2:nvidia:A100","3:nvidia:A100","4:nvidia:H100","5:nvidia:H100","6:amd:MI300X","7:amd:MI300X"]'

# ---- Refused at submit, per model: the node has 8 devices, 2 H100s, at
# most 4 of one model.
refused() { # WHAT MESSAGE SUBMIT-ARGS...: refused with that message, exit 1
  local what=$1 msg=$2 out rc=0; shift 2
  out=$("$SUPERCELL" submit --name x "$@" -- true 2>&1) || rc=$?
  check_eq "$what: exit status (message: $out)" "$rc" 1
  check "$what: says '$msg': $out" grep -qF -- "$msg" <<<"$out"
}
refused "3 x H100" "no node has 3 x H100 (largest: 2 x H100 on hetero)" --gpus 3 --model H100
refused "5 of any model" "no node has 5 x GPU (largest: 4 x A100 on hetero)" --gpus 5
refused "4 of H100 or MI300X" "no node has 4 x H100/MI300X (largest: 2 x H100 on hetero)" \
  --gpus 4 --model H100 --model MI300X
status=$(curl -s -o "$SC_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $SC_ADMIN_TOKEN" \
  -H 'Content-Type: application/json' \
  -d '{"name": "x", "command": "true", "models": ["H100"], "resources": {"gpus": 3}}' "$SC_URL/v1/jobs")
check_eq "the API answers 422" "$status" 422
check_eq "naming the field and the largest group" \
  "$(jq -r '.error.field + ": " + .error.message' "$SC_TMP/body")" \
  "resources: no node has 3 x H100 (largest: 2 x H100 on hetero)"

# ---- A model under two vendors on one node is refused at registration.
status=$(curl -s -o "$SC_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $SC_AGENT_TOKEN" \
  -H 'Content-Type: application/json' \
  -d '{"name": "twovendors", "cpu_milli": 1000, "memory_mib": 1024, "running": [],
       "devices": [{"index": 0, "vendor": "nvidia", "model": "X1"},
                   {"index": 1, "vendor": "amd", "model": "X1"}]}' "$SC_URL/v1/agent/register")
check_eq "a model under two vendors: 400" "$status" 400
check_eq "naming the device" "$(jq -r .error.field "$SC_TMP/body")" "devices[1].model"

# Tasks print what they see, then wait for their release file (bounded).
task_cmd() { # release-file
  echo 'echo "cuda=${CUDA_VISIBLE_DEVICES-unset} hip=${HIP_VISIBLE_DEVICES-unset} rocr=${ROCR_VISIBLE_DEVICES-unset} milli=${SUPERCELL_GPU_MILLI-unset}"; for i in $(seq 900); do [ -e '"$1"' ] && exit 0; sleep 0.1; done; exit 1'
}
seen() { # ID: the first line the task printed
  wait_until 10 "output of $1" sc_logs_have "$1" '^cuda='
  "$SUPERCELL" logs "$1" | sed -n 1p
}
devices() { sc_job "$1" | jq -r '.tasks[0].devices | map(tostring) | join(",")'; }
vendor() { sc_job "$1" | jq -r '.tasks[0].vendor'; }
# Every device's milli_used, "index=milli" for the used ones.
device_use() { sc_nodes_json | jq -r '[.nodes[0].devices[] | select(.milli_used > 0) | "\(.index)=\(.milli_used)"] | join(" ")'; }

# ---- 1. Whole devices of one model each, shares on the one A100 left.
h100=$(sc_submit --name h100 --gpus 2 --model H100 -- "$(task_cmd "$SC_SHARE/rel-h")")
three=$(sc_submit --name three --gpus 3 -- "$(task_cmd "$SC_SHARE/rel-a")")
mi=$(sc_submit --name mi --gpus 2 --model mi300x -- "$(task_cmd "$SC_SHARE/rel-m")")
sc_wait_state "$three" running
half1=$(sc_submit --name half1 --gpu-milli 500 --model A100 -- "$(task_cmd "$SC_SHARE/rel-a")")
half2=$(sc_submit --name half2 --gpu-milli 500 --model A100 -- "$(task_cmd "$SC_SHARE/rel-a")")
for id in "$h100" "$mi" "$half1" "$half2"; do sc_wait_state "$id" running; done

check_eq "2 x H100: its devices" "$(devices "$h100")" "4,5"
check_eq "2 x H100: vendor" "$(vendor "$h100")" nvidia
check_eq "2 x H100: what it saw" "$(seen "$h100")" "cuda=4,5 hip= rocr= milli=unset"

# 3 of any model: only the A100s have 3; three distinct A100s (nvidia
# indexes are node indexes there).
d3=$(devices "$three")
check "3 of any model: three distinct A100s ($d3)" \
  bash -c '[ "$(tr , "\n" <<<"$1" | sort -u | grep -c "^[0-3]$")" = 3 ]' _ "$d3"
check_eq "3 of any model: what it saw" "$(seen "$three")" "cuda=$d3 hip= rocr= milli=unset"

check_eq "2 x MI300X: its devices" "$(devices "$mi")" "6,7"
check_eq "2 x MI300X: vendor" "$(vendor "$mi")" amd
check_eq "2 x MI300X: what it saw (amd indexes)" "$(seen "$mi")" "cuda= hip=0,1 rocr=0,1 milli=unset"

# The two halves share the A100 the 3-device job left.
left=$(for d in 0 1 2 3; do tr , '\n' <<<"$d3" | grep -qx "$d" || echo "$d"; done)
for id in "$half1" "$half2"; do
  check_eq "$id: on the free A100" "$(devices "$id")" "$left"
  check_eq "$id: what it saw" "$(seen "$id")" "cuda=$left hip= rocr= milli=500"
done
check_eq "every device in use, none past 1000" "$(device_use)" \
  "$(for d in 0 1 2 3 4 5 6 7; do printf '%s=1000 ' "$d"; done | sed 's/ $//')"

# ---- 2. Nothing mixes models: a share of any model and 4 devices of any
# model wait while no one model has room.
share=$(sc_submit --name share --gpu-milli 500 -- "$(task_cmd "$SC_SHARE/rel-s")")
four=$(sc_submit --name four --gpus 4 -- "$(task_cmd "$SC_SHARE/rel-4")")
touch "$SC_SHARE/rel-h"
sc_wait_job "$h100" succeeded
sc_wait_state "$share" running
dev=$(devices "$share")
check "the share went to an H100 ($dev)" grep -qxE '4|5' <<<"$dev"
check_eq "the share: what it saw" "$(seen "$share")" "cuda=$dev hip= rocr= milli=500"
touch "$SC_SHARE/rel-m"
sc_wait_job "$mi" succeeded
# 1.5 H100s and 2 MI300X are free (4 devices), but not 4 of one model.
end=$(($(sc_now_ms) + 1500))
while [ "$(sc_now_ms)" -lt "$end" ]; do
  st=$(sc_job_state "$four")
  [ "$st" = pending ] || fail "4 of any model is $st on free devices $(device_use): $(sc_job "$four" | jq -c .tasks)"
  sleep 0.2
done
check_eq "4 of any model waits" "$(sc_job "$four" | jq -r .pending_reason)" \
  "Resources (reserved: when jobs without a max runtime end, on hetero)"
touch "$SC_SHARE/rel-a"
for id in "$three" "$half1" "$half2"; do sc_wait_job "$id" succeeded; done
sc_wait_state "$four" running
check_eq "4 of any model: the four A100s" "$(devices "$four")" "0,1,2,3"
check_eq "4 of any model: what it saw" "$(seen "$four")" "cuda=0,1,2,3 hip= rocr= milli=unset"

touch "$SC_SHARE/rel-s" "$SC_SHARE/rel-4"
for id in "$share" "$four"; do sc_wait_job "$id" succeeded; done
check_eq "all devices free" "$(device_use)" ""

sc_finish
