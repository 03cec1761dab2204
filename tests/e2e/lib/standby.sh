# Helpers of the standby-controller tests (cp_standby_*.sh), sourced after
# common.sh; they need SC_STORE (a private PostgreSQL, sc_start_pg) and
# LEASE (e.g. 2s).

# start_ctl NAME [ARGS...]: a controller with its state in $SC_TMP/NAME on
# a free port, with ARGS added; sets CTL_PID and CTL_URL.
start_ctl() {
  local name=$1 end
  shift
  rm -f "$SC_TMP/$name/controller.url"
  sc_spawn "$SC_TMP/$name.log" "$SUPERCELL" server --listen 127.0.0.1:0 \
    --state-dir "$SC_TMP/$name" --store "$SC_STORE" --lease "$LEASE" "$@"
  CTL_PID=$SC_LAST_PID
  end=$(($(sc_now_ms) + 20000))
  until [ -s "$SC_TMP/$name/controller.url" ]; do
    kill -0 "$CTL_PID" 2>/dev/null || fail "controller $name exited at start"
    [ "$(sc_now_ms)" -lt "$end" ] || fail "controller $name wrote no controller.url"
    sleep 0.05
  done
  CTL_URL=$(head -n1 "$SC_TMP/$name/controller.url")
}

# role_of URL: the role its /healthz gives (leader, standby, ...).
role_of() { curl -sf --max-time 2 "$1/healthz" | jq -r .role; }
leads() { [ "$(role_of "$1")" = leader ]; }
