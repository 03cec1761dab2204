#!/usr/bin/env bash
# A private PostgreSQL cluster for tests and benchmarks: its own data
# directory and Unix socket in a fresh temporary directory (no TCP port),
# trust authentication for the user "supercell".
#
#   pg_cluster.sh start [--watch PID] [--fast]
#       prints the cluster's directory; the store URI is then
#       postgresql:///postgres?host=DIR&port=5432&user=supercell
#       --watch PID: a watcher stops the cluster once PID has exited, so a
#       test that dies (kill -9, a timeout) leaves no server behind.
#       --fast: fsync off (tests whose subject is not the server's disk).
#   pg_cluster.sh stop DIR
#       stops the postmaster by its PID (immediate shutdown, then SIGKILL) and
#       removes DIR.
#
# initdb refuses to run as root: as root the cluster belongs to "nobody".
# The server binaries come from Debian's postgresql package
# (/usr/lib/postgresql/VERSION/bin, scripts/install-deps); without them
# this fails with a message saying so. SC_PG_BIN=DIR picks the binaries.
set -euo pipefail
SELF=$(realpath "$0")

die() { echo "pg_cluster: $*" >&2; exit 1; }

find_bin() {
  local d
  if [ -n "${SC_PG_BIN:-}" ]; then # a chosen version's bin directory
    [ -x "$SC_PG_BIN/initdb" ] && [ -x "$SC_PG_BIN/pg_ctl" ] ||
      die "no initdb and pg_ctl in SC_PG_BIN=$SC_PG_BIN"
    echo "$SC_PG_BIN"
    return
  fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  die "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin: run scripts/install-deps (Debian package postgresql)"
}

# Runs a command as the cluster's owner: nobody when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups -- "$@"
  else
    "$@"
  fi
}

postmaster_pid() { head -n1 "$1/data/postmaster.pid" 2>/dev/null || true; }

# Running: exists and is not a zombie (the postmaster's parent is init once
# pg_ctl is gone, which may reap it late).
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

stop() {
  local dir=$1 pid i
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  pid=$(postmaster_pid "$dir")
  if [ -n "$pid" ] && alive "$pid"; then
    kill -QUIT "$pid" 2>/dev/null || true # immediate: the cluster is thrown away
    for i in $(seq 100); do
      alive "$pid" || break
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

start() {
  local watch="" fast="" bin dir opts
  while [ $# -gt 0 ]; do
    case $1 in
      --watch) watch=$2; shift 2 ;;
      --fast) fast=1; shift ;;
      *) die "unknown option '$1'" ;;
    esac
  done
  bin=$(find_bin)
  cd / # the owner may not be allowed into the caller's directory
  dir=$(mktemp -d /tmp/sc-pg.XXXXXX) # short: a socket path has at most 107 bytes
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown nobody "$dir"
  if ! as_owner "$bin/initdb" -D "$dir/data" -U supercell --auth=trust -E UTF8 --no-locale \
    --no-sync >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    die "initdb failed"
  fi
  opts="-k $dir -p 5432 -c listen_addresses= -c max_connections=100 -c shared_buffers=32MB"
  [ -n "$fast" ] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if ! as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 30 -o "$opts" -l "$dir/server.log" start \
    >/dev/null 2>&1; then
    cat "$dir/server.log" >&2 2>/dev/null || true
    stop "$dir"
    die "the server did not start"
  fi
  if [ -n "$watch" ]; then
    # Detached, with no descriptor of ours: a test runner waiting for our
    # output must not wait for the watcher.
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done; "$3" stop "$2"' \
      watcher "$watch" "$dir" "$SELF" </dev/null >/dev/null 2>&1 &
  fi
  echo "$dir"
}

case ${1:-} in
  start) shift; start "$@" ;;
  stop) stop "${2:?usage: pg_cluster.sh stop DIR}" ;;
  *) die "usage: pg_cluster.sh start [--watch PID] [--fast] | stop DIR" ;;
esac
