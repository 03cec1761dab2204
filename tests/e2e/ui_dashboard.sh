#!/usr/bin/env bash
# sc-builds: normal
# End to end in a browser: the dashboard (/ui) in headless Chromium, driven
# over the DevTools protocol (lib/browser.py), against a controller with two
# real agents (gpu-a: 8 A100s, gpu-b: 2 L4s), six emulated H100 nodes, a
# tenant tree, prices and jobs. It checks the rendered DOM: no token and a
# wrong token (typed, or left in the session) get the sign-in form; the
# fleet grid shows gpu-a with 3 of 8 devices in use, two whole and one at
# 500 milli; the jobs list shows live states and a pending job's reason; a
# running job's output tail grows while the page stays; the tenant tree,
# the usage report and the timeline render; no page throws or logs an
# error, and none overflows sideways at 1366x768 or 2560x1440. Screenshots
# of every page go to $SC_ARTIFACTS (default <build>/Testing/artifacts)/ui_dashboard.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

command -v chromium >/dev/null || fail "chromium is required (scripts/install-deps)"
ART=${SC_ARTIFACTS:-$(dirname "$SUPERCELL")/Testing/artifacts}/$SC_NAME
mkdir -p "$ART"
rm -f "$ART"/*.png

sc_start_server --timeline-interval 1s
sc_make_agent_token
sc_start_agent gpu-a nvidia:A100:8 --label region=eu-west --label rack=r01
sc_start_agent gpu-b nvidia:L4:2 --label region=us-east --label rack=r07
sc_spawn "$SC_TMP/emulator.log" "$SUPERCELL" agent --server "$SC_URL" \
  --token-file "$SC_TMP/agent.token" --emulate 6 --devices nvidia:H100:8 --cpu 96000 \
  --memory 1Ti --emulate-label region=eu-west,us-east --emulate-label-blocks 'rack=r[02-04]' \
  --emulate-quiet
sc_wait_nodes 8

put_tenant() { # NAME JSON
  local got
  got=$(sc_api PUT "/v1/tenants/$1" -H 'Content-Type: application/json' -d "$2")
  [ "${got%% *}" = 200 ] || fail "PUT /v1/tenants/$1: $got"
}
put_tenant org '{"guarantee": {"gpu": 32, "gpu.H100": 16}, "limit": {"gpu": 64}}'
put_tenant research '{"parent": "org", "guarantee": {"gpu": 16, "gpu.H100": 8}, "limit": {"gpu": 48}, "weight": 2}'
put_tenant prod '{"parent": "org", "guarantee": {"gpu": 8}, "limit": {"gpu": 32}, "regions": ["eu-west"]}'
"$SUPERCELL" price set A100 --per-gpu-hour 2.5 --from 2026-01-01 >/dev/null || fail "price set"
"$SUPERCELL" price set H100 --per-gpu-hour 4 --spot 1.5 --from 2026-01-01 >/dev/null || fail "price set"

# gpu-a: two whole A100s and one at 500 milli (A100s are only there).
train=$(sc_submit --name train --gpus 2 --model A100 -- sleep 300)
notebook=$(sc_submit --name notebook --gpu-milli 500 --model A100 -- sleep 300)
sc_submit --tenant research --name sweep --gpus 1 --array 0-11%6 --model H100 -- sleep 300 >/dev/null
sc_submit --tenant prod --name serve --gpus 4 --tasks 2 --model H100 -- sleep 300 >/dev/null
# More whole nodes than the fleet has: pending, with a reason.
big=$(sc_submit --tenant research --name big --gpus 8 --tasks 12 --allow-pending -- sleep 60)
# A line every 0.2 s on gpu-b, a real agent: the output tail must grow.
tail=$(sc_submit --name tail --gpu-milli 250 --model L4 -- \
  'for i in $(seq 1 600); do echo "step $i"; sleep 0.2; done')
for j in "$train" "$notebook" "$tail"; do sc_wait_state "$j" running; done

out=$(SC_E2E_MARK=$SC_TMP URL="$SC_URL" TOKEN="$SUPERCELL_TOKEN" ART="$ART" \
  TRAIN="$train" BIG="$big" TAIL="$tail" timeout $((90 * SC_SLOW)) python3 - <<'EOF' 2>&1
import os
import sys
import time

sys.path.insert(0, os.environ["SC_E2E_LIB"])
from browser import Browser  # noqa: E402

url, token, art = os.environ["URL"] + "/ui", os.environ["TOKEN"], os.environ["ART"]
passed = 0


def ok(cond, what):
    global passed
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)
    passed += 1


def sign_in(b, tok):
    b.eval("document.querySelector('#token').value = %r;"
           "document.querySelector('#login').requestSubmit(); true" % tok)


def page(b, hash_, ready, what):
    b.eval("location.hash = %r; true" % hash_)
    return b.wait(ready, what=what)


def no_overflow(b, what):
    extra = b.eval("document.documentElement.scrollWidth - window.innerWidth")
    ok(extra <= 0, "%s overflows sideways by %spx" % (what, extra))


with Browser(1366, 768) as b:
    # No token: the sign-in form.
    b.goto(url)
    b.wait("!!document.querySelector('#login')", what="the sign-in form")
    ok(b.eval("document.querySelector('#nav').hidden"), "no navigation before signing in")
    # A wrong token: refused, the form again, nothing kept.
    sign_in(b, "0" * 64)
    msg = b.wait("!document.querySelector('#login-error').hidden &&"
                 "document.querySelector('#login-error').textContent", what="the refusal")
    ok("refused" in msg, "the refusal says so: %r" % msg)
    ok(b.eval("!!document.querySelector('#login')"), "the sign-in form stays")
    ok(b.eval("sessionStorage.getItem('supercell.token')") is None, "a refused token is not kept")
    b.screenshot(art + "/login-refused.png")
    # A wrong token left in the session: the next call is refused, the form is back.
    b.eval("sessionStorage.setItem('supercell.token', 'f'.repeat(64)); location.hash = '#/jobs';"
           "location.reload(); true")
    time.sleep(0.3)
    b.wait("document.body.dataset.page === 'login' && !!document.querySelector('#login')",
           what="the sign-in form after a stale token")
    ok(b.eval("sessionStorage.getItem('supercell.token')") is None, "the stale token is dropped")

    # The right token: the fleet.
    b.eval("location.hash = '#/fleet'; true")
    b.wait("!!document.querySelector('#login')")
    sign_in(b, token)
    b.wait("!!document.querySelector('[data-node=\"gpu-a\"]')", what="gpu-a in the fleet grid")
    ok(b.eval("sessionStorage.getItem('supercell.token')") == token, "the token is kept in the session")
    node = b.eval("""(() => {
      const n = document.querySelector('[data-node="gpu-a"]');
      const devs = [...n.querySelectorAll('.dev')];
      return {gpus: n.dataset.gpus, used: n.dataset.usedDevices,
              milli: devs.map((d) => +d.dataset.milli).sort((a, b) => a - b),
              full: n.querySelectorAll('.dev.full').length, part: n.querySelectorAll('.dev.part').length,
              level: n.querySelector('.dev.part .level').style.height,
              meta: n.querySelector('.node-meta').textContent,
              title: n.querySelector('.dev.part').title};
    })()""")
    ok(node["gpus"] == "8" and node["used"] == "3", "gpu-a: 3 of 8 devices in use: %r" % node)
    ok(node["milli"] == [0, 0, 0, 0, 0, 500, 1000, 1000], "gpu-a's shares: %r" % node["milli"])
    ok(node["full"] == 2 and node["part"] == 1, "two whole, one fractional: %r" % node)
    ok(node["level"] == "50%" and "500 milli" in node["title"], "the fractional one at 500: %r" % node)
    ok("A100" in node["meta"] and "3/8" in node["meta"], "gpu-a's caption: %r" % node["meta"])
    ok(b.eval("document.querySelectorAll('[data-node]').length") == 8, "eight nodes")
    ok(b.eval("!!document.querySelector('details[data-group=\"/region=eu-west\"]"
              " details[data-group=\"/region=eu-west/rack=r01\"] [data-node=\"gpu-a\"]')"),
       "gpu-a under region eu-west, rack r01")
    b.wait("/%/.test(document.querySelector('#fleet-summary').textContent) &&"
           "!document.querySelector('#fleet-summary').textContent.includes('no workload')",
           what="the fragmentation tile")
    no_overflow(b, "the fleet at 1366x768")
    b.screenshot(art + "/fleet-1366x768.png")
    b.resize(2560, 1440)
    time.sleep(0.3)
    no_overflow(b, "the fleet at 2560x1440")
    b.screenshot(art + "/fleet-2560x1440.png")
    b.resize(1366, 768)

    # Jobs: live states and why a job waits.
    big, train = os.environ["BIG"], os.environ["TRAIN"]
    page(b, "#/jobs", "!!document.querySelector('tr[data-job=\"%s\"]')" % big, "the jobs list")
    row = b.eval("""(() => {
      const r = document.querySelector('tr[data-job="%s"]');
      return {state: r.dataset.state, why: r.querySelector('.why').textContent};
    })()""" % big)
    ok(row["state"] == "pending" and row["why"], "the big job pends with a reason: %r" % row)
    ok(b.eval("document.querySelector('tr[data-job=\"%s\"]').dataset.state" % train) == "running",
       "train runs")
    no_overflow(b, "the jobs list")
    b.screenshot(art + "/jobs.png")

    # One job: its output tail grows while the page stays.
    tail = os.environ["TAIL"]
    page(b, "#/jobs/" + tail, "+(document.querySelector('#log')?.dataset.lines || 0) >= 2",
         "the first lines of output")
    b.eval("window.scStayed = true")
    first = b.eval("+document.querySelector('#log').dataset.lines")
    b.wait("+document.querySelector('#log').dataset.lines >= %d" % (first + 5), timeout=10,
           what="new lines in the tail (had %d)" % first)
    text = b.eval("document.querySelector('#log').textContent")
    ok(text.startswith("step 1\nstep 2\n"), "the tail starts at the beginning: %r" % text[:40])
    ok(b.eval("window.scStayed === true"), "new lines came without reloading the page")
    ok(b.eval("document.querySelector('tr[data-task=\"0\"]').dataset.state") == "running",
       "the task runs")
    ok("gpu-b" in b.eval("document.querySelector('#job-tasks').textContent"), "on gpu-b")
    no_overflow(b, "the job page")
    b.screenshot(art + "/job.png")

    # Tenants: the tree.
    page(b, "#/tenants", "!!document.querySelector('tr[data-tenant=\"research\"]')", "the tenant tree")
    tree = b.eval("[...document.querySelectorAll('tr[data-tenant]')]"
                  ".map((r) => `${r.dataset.tenant}:${r.dataset.depth}:${r.dataset.parent}`)")
    ok(tree == ["default:0:", "org:0:", "prod:1:org", "research:1:org"], "the tree: %r" % tree)
    ok("guaranteed" in b.eval("document.querySelector('tr[data-tenant=\"org\"]').textContent"),
       "org's guarantee")
    b.screenshot(art + "/tenants.png")

    # Usage and cost, by tenant.
    page(b, "#/usage", "!!document.querySelector('tr[data-key=\"research\"]') &&"
         "!!document.querySelector('#usage-prices table')", "the usage report")
    ok(b.eval("!!document.querySelector('#usage-table tr.total')"), "a total row")
    b.screenshot(art + "/usage.png")

    # The timeline: samples every second, allocation above zero.
    page(b, "#/timeline", "+document.querySelector('#timeline-use')?.dataset.samples >= 3 &&"
         "+document.querySelector('#timeline-use').dataset.allocated > 0", "the timeline")
    ok(b.eval("document.querySelectorAll('#timeline-use svg path.line').length") >= 2,
       "allocation and fragmentation lines")
    no_overflow(b, "the timeline")
    b.screenshot(art + "/timeline.png")

    # Sign out: the form again, the token gone.
    b.eval("document.querySelector('#signout').click(); true")
    b.wait("!!document.querySelector('#login')", what="the sign-in form after signing out")
    ok(b.eval("sessionStorage.getItem('supercell.token')") is None, "signing out forgets the token")
    # The refused tokens' calls are logged by Chromium: expected, not errors.
    errors = [e for e in b.errors if "status of 401" not in e]
    ok(not errors, "the pages ran without errors: %r" % errors)
print("PASSED %d" % passed)
EOF
) || fail "the browser checks: $out"
n=$(sed -n 's/^PASSED //p' <<<"$out")
[ -n "$n" ] || fail "the browser checks printed no result: $out"
SC_PASSED=$((SC_PASSED + n))
sc_log "screenshots in $ART: $(cd "$ART" && echo *.png)"
sc_finish
