#!/usr/bin/env python3
"""Opens a page of `loopguard report --html` in headless Chromium and checks
it as a reader would use it, through the DevTools protocol over a pipe
(--remote-debugging-pipe: fds 3 and 4, messages ended by NUL): it loads
with no console error and no exception, lists SITES sites, all closed; a
real mouse click on a site's row shows its stacks; a click on the "calls"
heading sorts the sites by calls, most first.

usage: html-check.py CHROMIUM PAGE SITES
Exit 0: all held; 1: a check failed (said on stderr); 77: Chromium could
not run here (said on stderr)."""
import fcntl
import json
import os
import select
import subprocess
import sys
import tempfile
import time

TIMEOUT = 60.0


class Browser:
    def __init__(self, exe):
        self.cmd_r, self.cmd_w = os.pipe()
        self.res_r, self.res_w = os.pipe()
        self.profile = tempfile.TemporaryDirectory(prefix="lg-html-")
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking",
                "--disable-sync", "--disable-dev-shm-usage",
                "--user-data-dir=" + self.profile.name,
                "--remote-debugging-pipe", "about:blank"]

        def fds():
            # Out of the way first: either end may be 3 or 4 already.
            r = fcntl.fcntl(self.cmd_r, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(self.res_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)
        # pass_fds keeps 3 and 4 through the closing of the rest, which
        # runs after preexec_fn.
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=fds, pass_fds=(3, 4))
        os.close(self.cmd_r)
        os.close(self.res_w)
        self.buf = b""
        self.next_id = 1
        self.events = []
        self.session = None

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self.res_r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.res_r, 65536)
            if not chunk:
                raise EOFError("Chromium closed its end")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True):
        mid = self.next_id
        self.next_id += 1
        msg = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            m = self._read_message(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method):
        deadline = time.monotonic() + TIMEOUT
        for i, m in enumerate(self.events):
            if m.get("method") == method:
                return self.events.pop(i)
        while True:
            m = self._read_message(deadline)
            if m.get("method") == method:
                return m
            self.events.append(m)

    def eval(self, expr):
        r = self.call("Runtime.evaluate",
                      {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def click(self, selector):
        box = self.eval(
            "(function(){var r=document.querySelector(%s)"
            ".getBoundingClientRect();return [r.left+r.width/2,"
            "r.top+r.height/2];})()" % json.dumps(selector))
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent",
                      {"type": kind, "x": box[0], "y": box[1],
                       "button": "left", "clickCount": 1})

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.profile.cleanup()


def errors_of(events):
    """Console errors and uncaught exceptions among the events."""
    out = []
    for m in events:
        p = m.get("params", {})
        if m.get("method") == "Runtime.exceptionThrown":
            out.append("exception: " + json.dumps(p.get("exceptionDetails")))
        elif (m.get("method") == "Runtime.consoleAPICalled"
              and p.get("type") in ("error", "assert")):
            out.append("console.error: " + json.dumps(p.get("args")))
        elif (m.get("method") == "Log.entryAdded"
              and p.get("entry", {}).get("level") == "error"):
            out.append("log: " + p["entry"].get("text", ""))
    return out


def main():
    exe, page, sites = sys.argv[1], os.path.abspath(sys.argv[2]), \
        int(sys.argv[3])
    failed = []

    def check(ok, what):
        if not ok:
            failed.append(what)
            print("html-check: FAILED: " + what, file=sys.stderr)

    b = None
    try:
        b = Browser(exe)
        target = b.call("Target.createTarget", {"url": "about:blank"},
                        session=False)["targetId"]
        b.session = b.call("Target.attachToTarget",
                           {"targetId": target, "flatten": True},
                           session=False)["sessionId"]
    except (OSError, EOFError, TimeoutError, RuntimeError) as e:
        print(f"html-check: Chromium cannot run here: {e}", file=sys.stderr)
        if b:
            b.close()
        return 77
    try:
        for domain in ("Page", "Runtime", "Log"):
            b.call(domain + ".enable")
        b.call("Page.navigate", {"url": "file://" + page})
        b.wait_event("Page.loadEventFired")
        # Anything the page's script throws has been sent by now; a round
        # trip makes sure it was read.
        b.eval("1")
        errs = errors_of(b.events)
        check(not errs, "the page loads without errors: " + "; ".join(errs))
        n = b.eval("document.querySelectorAll('#sites tbody').length")
        check(n == sites, f"the table lists {sites} sites (it lists {n})")
        shown = b.eval("Array.prototype.filter.call(document."
                       "querySelectorAll('tr.stacks'),function(r){return "
                       "r.offsetHeight>0;}).length")
        check(shown == 0, f"every site starts closed ({shown} open)")
        svg = b.eval("document.querySelectorAll('#timeline g.thread')"
                     ".length")
        check(svg and svg > 0, f"the timeline draws loop threads ({svg})")
        if sites:
            b.click("#sites tbody:last-child tr.site")
            b.eval("1")
            h = b.eval("document.querySelector('#sites tbody:last-child "
                       "tr.stacks').offsetHeight")
            text = b.eval("document.querySelector('#sites tbody:last-child "
                          "tr.stacks').innerText")
            check(h and h > 0, "a click on a row shows its stacks")
            check(text and "#0 " in text and "#1 " in text,
                  "the stacks shown hold frames: " + repr((text or "")[:200]))
            b.click("#sites th[data-key=calls]")
            b.eval("1")
            calls = b.eval("Array.prototype.map.call(document."
                           "querySelectorAll('#sites tbody'),function(t){"
                           "return +t.dataset.calls;})")
            check(calls == sorted(calls, reverse=True) and
                  len(calls) == sites,
                  f"a click on 'calls' sorts by calls, most first: {calls}")
            b.click("#sites th[data-key=calls]")
            b.eval("1")
            calls = b.eval("Array.prototype.map.call(document."
                           "querySelectorAll('#sites tbody'),function(t){"
                           "return +t.dataset.calls;})")
            check(calls == sorted(calls) and len(calls) == sites,
                  f"a second click sorts by calls, fewest first: {calls}")
        errs = errors_of(b.events)
        check(not errs, "no errors after the clicks: " + "; ".join(errs))
    finally:
        b.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
