#!/usr/bin/env bash
# The event-driven front (issue #9 item 1): 2,000 hostile sockets that sent
# half a request head and stay silent cost the controller no thread each;
# meanwhile /healthz and an authenticated GET /v1/jobs?limit=10 answer
# within 100 ms, and agents' parked long-polls still deliver a job at once.
# (The figures at 10,000 agents plus 5,000 hostile sockets are
# bench/scale.sh's.)
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:2
sc_start_agent node-b nvidia:A100:2
sc_wait_nodes 2
threads() { awk '/^Threads:/ {print $2}' "/proc/$SC_SERVER_PID/status"; }
before=$(threads)

# The hostile client: connects, sends half a head, then holds the sockets.
port=${SC_URL##*:}
python3 - "$port" "$SC_TMP/hostile.ready" <<'EOF' &
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
socks = []
for _ in range(2000):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)
open(sys.argv[2], "w").close()
time.sleep(30)
EOF
hostile=$!
ready() { [ -e "$SC_TMP/hostile.ready" ]; }
wait_until 20 "2,000 hostile sockets" ready
SC_PASSED=$((SC_PASSED + 1))

ms() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$@" | awk '{printf "%s %d\n", $1, $2 * 1000 + 0.5}'; }
worst=0
for i in 1 2 3 4 5; do
  read -r code t < <(ms "$SC_URL/healthz")
  check_eq "healthz answers" "$code" 200
  [ "$t" -gt "$worst" ] && worst=$t
  read -r code t < <(ms -H "Authorization: Bearer $SUPERCELL_TOKEN" "$SC_URL/v1/jobs?limit=10")
  check_eq "an authenticated list answers" "$code" 200
  [ "$t" -gt "$worst" ] && worst=$t
done
sc_log "with 2,000 hostile sockets: slowest of 10 answers $worst ms; controller threads $before -> $(threads)"
check "every answer within 100 ms (slowest $worst ms)" [ "$worst" -lt 100 ]
check "no thread per connection: $(threads) threads (was $before)" [ "$(threads)" -le $((before + 4)) ]

t0=$(sc_now_ms)
id=$(sc_submit --gpus 2 --tasks 2 -- true)
sc_wait_job "$id" succeeded 10
took=$(($(sc_now_ms) - t0))
check "a gang over both nodes ran at once through their parked polls ($took ms)" [ "$took" -lt 3000 ]
kill "$hostile" 2>/dev/null
wait "$hostile" 2>/dev/null || true
sc_finish
