"""A headless Chromium driven over the DevTools protocol, for the dashboard's
browser tests (tests/e2e/ui_*.sh). Standard library only: Chromium's
--remote-debugging-pipe speaks NUL-separated JSON on file descriptors 3
(its input) and 4 (its output), so no websocket client is needed.

    with Browser(width=1366, height=768) as b:
        b.goto("http://127.0.0.1:8420/ui")
        b.wait("document.querySelector('#login')")
        b.screenshot("fleet.png")

Every JavaScript exception and console error of the page is kept in
b.errors, so a test can require a page that runs clean.
"""
import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, width=1366, height=768, timeout=10.0):
        self.timeout = timeout
        self.errors = []
        self._next = 0
        self._buf = b""
        self._events = []
        self._profile = tempfile.mkdtemp(prefix="sc-chromium-")
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise BrowserError("no chromium on the PATH (scripts/install-deps)")
        to_child, self._to = os.pipe()      # we write, it reads fd 3
        self._from, from_child = os.pipe()  # it writes fd 4, we read
        # Out of the way of 3 and 4 before the child renumbers them.
        hi_in = os.dup2(to_child, 100)
        hi_out = os.dup2(from_child, 101)
        os.close(to_child)
        os.close(from_child)

        def fds():
            os.dup2(hi_in, 3)
            os.dup2(hi_out, 4)

        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                "--user-data-dir=" + self._profile, "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
                "--font-render-hinting=none", f"--window-size={width},{height}", "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=fds, pass_fds=(3, 4),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        os.close(hi_in)
        os.close(hi_out)
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable", session=True)
        self.resize(width, height)

    # ---- the protocol ----

    def _send(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self._to, data)
            data = data[n:]

    def _read(self, deadline):
        """One message, or None at the deadline."""
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._from], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._from, 1 << 20)
            if not chunk:
                raise BrowserError("chromium closed its pipe (exit %s)" % self.proc.poll())
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def _event(self, msg):
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append("exception: %s %s" % (d.get("text", ""),
                               d.get("exception", {}).get("description", "")))
        elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
            self.errors.append("console.error: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            self.errors.append("log: %s %s" % (e.get("text", ""), e.get("url", "")))

    def call(self, method, params=None, session=False, timeout=None):
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        self._send(msg)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read(deadline)
            if reply is None:
                raise BrowserError("no reply to " + method)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise BrowserError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self._event(reply)

    def _pump(self, seconds):
        """Handles events for a while (exceptions, console errors)."""
        deadline = time.monotonic() + seconds
        while True:
            msg = self._read(deadline)
            if msg is None:
                return
            self._event(msg)

    # ---- what tests use ----

    def resize(self, width, height):
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                  session=True)

    def goto(self, url):
        self.call("Page.navigate", {"url": url}, session=True)

    def eval(self, expr):
        """The value of a JavaScript expression (a promise is awaited)."""
        r = self.call("Runtime.evaluate", {"expression": expr, "awaitPromise": True,
                                           "returnByValue": True}, session=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise BrowserError("%s: %s" % (expr, d.get("exception", {}).get("description", d.get("text"))))
        return r.get("result", {}).get("value")

    def wait(self, expr, timeout=None, what=None):
        """Polls expr until it is truthy; returns its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.eval(expr)
            except BrowserError as e:
                last = e
            if not isinstance(last, BrowserError) and last not in (None, False, 0, "", []):
                return last  # an element comes back as {}: found
            self._pump(0.1)
        raise BrowserError("timed out waiting for %s (last: %r)" % (what or expr, last))

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=3)
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        for fd in (self._to, self._from):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
