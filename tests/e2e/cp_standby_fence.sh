#!/usr/bin/env bash
# sc-builds: normal
# End to end (standby controllers, the fencing proof): no split brain can
# commit. Two controllers A and B on one private PostgreSQL cluster, 2 s
# lease. (1) The leader A is stopped (SIGSTOP) past its lease; B takes
# over; writes are queued at A; A is resumed (SIGCONT): it steps down at
# once (exit status 75), none of the writes queued at it is acknowledged
# and none is in the database. (2) A successor's epoch bump behind the
# leader's back (B now leads; the bump is made with psql while another
# session holds the lease row FOR SHARE, so B's renewal waits and its next
# commit is what finds out): B's commit is fenced by the database, B exits
# with status 75 and the job is nowhere; A, restarted as a standby, takes
# over and commits.
# sc-cost: 8
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"
sc_start_pg

LEASE=2s
DEPOSED=75

source "${SC_E2E_LIB:-$(dirname "$0")/lib}/standby.sh"
# submit URL NAME: POST a held job; prints the HTTP status (000: no reply).
submit() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 15 -X POST \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"name\":\"$2\",\"command\":\"true\",\"hold\":true}" "$1/v1/jobs" || true
}
in_db() { psql "$SC_STORE" -Atc "SELECT count(*) FROM jobs WHERE name LIKE '$1'"; }
epoch() { psql "$SC_STORE" -Atc "SELECT epoch FROM lease"; }
# exit_status PID: waits for it (a child of this shell) and prints its status.
exit_status() { local rc=0; wait "$1" 2>/dev/null || rc=$?; echo "$rc"; }

start_ctl a
A_PID=$CTL_PID A_URL=$CTL_URL
wait_until 10 "A to lead" leads "$A_URL"
TOKEN=$(cat "$SC_TMP/a/admin.token")
start_ctl b
B_PID=$CTL_PID B_URL=$CTL_URL
wait_until 10 "B to answer as a standby" eval '[ "$(role_of "$B_URL")" = standby ]'
check_eq "a write at the leader" "$(submit "$A_URL" before)" 201

# (1) A stopped past its lease.
kill -STOP "$A_PID"
stopped_at=$(sc_now_ms)
wait_until 10 "B to take over from the stopped A" leads "$B_URL"
sc_log "B leads $(($(sc_now_ms) - stopped_at)) ms after A was stopped"
check_eq "the epoch after the takeover" "$(epoch)" 2
late=()
for i in 1 2 3; do
  (submit "$A_URL" "late-$i" >"$SC_TMP/late-$i") &
  late+=("$!")
done
sleep 0.5 # the requests wait in A's listen queue
kill -CONT "$A_PID"
end=$(($(sc_now_ms) + 10000))
while kill -0 "$A_PID" 2>/dev/null && [ "$(ps -o stat= -p "$A_PID" | cut -c1)" != Z ]; do
  [ "$(sc_now_ms)" -lt "$end" ] || fail "A did not step down within 10 s of SIGCONT"
  sleep 0.05
done
check_eq "A's exit status" "$(exit_status "$A_PID")" "$DEPOSED"
wait "${late[@]}"
check_eq "writes queued at the deposed A acknowledged" "$(cat "$SC_TMP"/late-* | tr -d '\n' | grep -o 201 || true)" ""
check_eq "writes of the deposed A in the database" "$(in_db 'late-%')" 0
grep -q "deposed" "$SC_TMP/a.log" || fail "A did not say it was deposed"
SC_PASSED=$((SC_PASSED + 1))
sc_log "A: $(grep -o 'deposed (.*' "$SC_TMP/a.log" | head -1)"
check_eq "B still leads" "$(role_of "$B_URL")" leader
check_eq "a write at B" "$(submit "$B_URL" after-1)" 201

# A comes back (as systemd's Restart=on-failure would) as a standby.
start_ctl a
A_PID=$CTL_PID A_URL=$CTL_URL
wait_until 10 "A to answer as a standby" eval '[ "$(role_of "$A_URL")" = standby ]'
check_eq "A names the leader" "$(curl -sf "$A_URL/healthz" | jq -r .leader)" "$B_URL"

# (2) The epoch moves on behind B's back; a session holding the row FOR
# SHARE keeps B's renewal waiting (not its commits' fence check, a share
# lock too), so B's next commit finds out first.
# One query string, run by the server without a round trip between the
# bump's commit and the share lock.
psql "$SC_STORE" -qAt -c "UPDATE lease SET epoch = epoch + 1; COMMIT;
  BEGIN; SELECT 1 FROM lease WHERE id = 1 FOR SHARE; SELECT pg_sleep(3); COMMIT" \
  >/dev/null 2>&1 &
holder=$!
share_held() {
  [ "$(psql "$SC_STORE" -Atc "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
    WHERE a.application_name = 'psql' AND l.pid <> pg_backend_pid()
    AND l.relation = 'lease'::regclass AND l.mode = 'RowShareLock'")" -ge 1 ]
}
wait_until 5 "the row's share lock" share_held
check "a write at the fenced B is not acknowledged" test "$(submit "$B_URL" fenced-1)" != 201
end=$(($(sc_now_ms) + 10000))
while kill -0 "$B_PID" 2>/dev/null && [ "$(ps -o stat= -p "$B_PID" | cut -c1)" != Z ]; do
  [ "$(sc_now_ms)" -lt "$end" ] || fail "B did not step down within 10 s of its fenced commit"
  sleep 0.05
done
check_eq "B's exit status" "$(exit_status "$B_PID")" "$DEPOSED"
grep -q "a commit was fenced" "$SC_TMP/b.log" || fail "B did not step down on its fenced commit"
SC_PASSED=$((SC_PASSED + 1))
check_eq "the fenced write in the database" "$(in_db 'fenced-%')" 0
wait "$holder" || true
wait_until 10 "A to take over" leads "$A_URL"
check_eq "a write at A" "$(submit "$A_URL" after-2)" 201
check_eq "the lease" "$(psql "$SC_STORE" -Atc "SELECT epoch || ' ' || holder FROM lease")" "4 $A_URL"
check_eq "the jobs" "$(psql "$SC_STORE" -Atc "SELECT string_agg(name, ' ' ORDER BY id) FROM jobs")" \
  "before after-1 after-2"

SC_SERVER_PID=$A_PID
sc_finish
