#!/usr/bin/env bash
# sc-builds: normal
# End to end (control plane 8, PostgreSQL): cp_controller_crash.sh with the
# controller's state in a private PostgreSQL cluster (--store postgresql://
# on a Unix socket): kill -9 of the controller in the middle of 1,000
# submissions from 8 clients; after the restart every acknowledged job is
# there once with its name, every job completes, no task started twice.
# sc-cost: 28
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"
sc_start_pg
source "$(dirname "$0")/cp_controller_crash.sh"
# The state was in PostgreSQL: the controller said so, and the jobs are there.
grep -q "store postgres" "$SC_TMP/server.log" || fail "the controller did not use PostgreSQL"
in_pg=$(psql "$SC_STORE" -Atc "SELECT count(*) FROM jobs WHERE state = 'succeeded'") ||
  fail "cannot read the jobs table"
[ "$in_pg" = "$n_all" ] || fail "succeeded jobs in PostgreSQL: got $in_pg, want $n_all"
