#!/usr/bin/env bash
# Install and first run, as a new user would: `cmake --install` (what `make
# install` runs) puts supercell and its bash completion under a prefix;
# `supercell up` on the default state dir and on another one (--state-dir,
# --port 0) prints commands that work exactly as printed, with no
# SUPERCELL_* variables set (the CLI finds the controller through the state
# dir's controller.url); completion offers commands and flags; every flag
# in every command's usage lines is described in its --help.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"
unset SUPERCELL_HOME SUPERCELL_SERVER SUPERCELL_TOKEN

prefix=$SC_TMP/prefix
cmake --install "$(dirname "$SUPERCELL")" --prefix "$prefix" >"$SC_TMP/install.log" 2>&1 ||
  fail "install: $(cat "$SC_TMP/install.log")"
check "the binary is installed" test -x "$prefix/bin/supercell"
check "its bash completion too" test -s "$prefix/share/bash-completion/completions/supercell"
export PATH=$prefix/bin:$PATH
export HOME=$SC_TMP/home
mkdir -p "$HOME"

# run_banner N ARGS...: `supercell up ARGS` (log up-N.log), then every
# command under "Try:" run as printed; each must exit 0.
run_banner() {
  local n=$1 line cmd out; shift
  sc_spawn "$SC_TMP/up-$n.log" supercell up --port 0 --devices nvidia:T4:1 "$@"
  wait_until 20 "up #$n's banner" grep -q 'Press Ctrl-C' "$SC_TMP/up-$n.log"
  wait_until 10 "up #$n's node" grep -q 'registered' "$SC_TMP/up-$n.log"
  while IFS= read -r line; do
    cmd=${line#  }
    out=$(env -u SUPERCELL_HOME -u SUPERCELL_SERVER -u SUPERCELL_TOKEN bash -c "$cmd" 2>&1) ||
      fail "up #$n: '$cmd' as printed failed: $out"
    SC_PASSED=$((SC_PASSED + 1))
    case $cmd in *"submit -- echo hello") JOB=$out; PRINTED_SUBMIT=$cmd ;; esac
  done < <(sed -n '/^Try:/,/^$/p' "$SC_TMP/up-$n.log" | grep '^  ')
  [ -n "${JOB:-}" ] || fail "up #$n printed no submit command"
  # The printed command's prefix, for a check on the job it made.
  local base=${PRINTED_SUBMIT% submit -- echo hello}
  wait_until 20 "the printed job to succeed" bash -c \
    "[ \"\$($base job -o json $JOB | jq -r .state)\" = succeeded ]"
  check_eq "up #$n: its output" "$(bash -c "$base logs $JOB")" hello
  kill -INT -- "-$SC_LAST_PID"
  wait "$SC_LAST_PID" 2>/dev/null || true
}
run_banner 1
check "the default state dir needs no prefix" grep -qx '  supercell submit -- echo hello' "$SC_TMP/up-1.log"
run_banner 2 --state-dir "$SC_TMP/elsewhere"
check "another state dir is named in the commands" \
  grep -qx "  SUPERCELL_HOME=$SC_TMP/elsewhere supercell submit -- echo hello" "$SC_TMP/up-2.log"

# Completion: commands, then a command's flags.
complete_words() { # words...: what completion offers for the last one
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _supercell
  echo "${COMPREPLY[*]}"
}
source "$prefix/share/bash-completion/completions/supercell"
check_eq "completion of 'supercell su'" "$(complete_words supercell su)" submit
check_eq "completion of 'supercell submit --gpu'" "$(complete_words supercell submit --gpu)" \
  "--gpu-milli --gpus"

# Every flag in every usage line is described below it.
for c in $(supercell --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p'); do
  supercell "$c" --help >"$SC_TMP/help.txt" 2>&1
  missing=""
  for f in $(awk 'BEGIN {u = 1} /^$/ {u = 0} u' "$SC_TMP/help.txt" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -qE "^ +(-[a-zA-Z], )?$f( |,|=|$)" "$SC_TMP/help.txt" || missing="$missing $f"
  done
  check "supercell $c --help describes every flag of its usage:$missing" test -z "$missing"
done

sc_finish
