#!/usr/bin/env python3
"""Drives Debian's headless chromium over the DevTools protocol on a pipe (--remote-debugging-pipe:
no port is opened), for the dashboard's browser tests and scripts/screenshots.sh. Standard
library only.

    scripts/browser.py dom URL [--until JS] [--watch JS] [--timeout S]
        Opens URL, waits for its load event, then (with --until) evaluates the JavaScript
        expression JS every 200 ms until it is truthy. Prints one JSON object: "dom" (the page's
        outerHTML at the end), "watched" (each distinct value of the --watch expression, in the
        order seen), "until" (whether --until held), "reloaded" (whether the document was
        replaced after the first load: a marker set at load is gone).
    scripts/browser.py screenshot URL OUT.png [--width W] [--height H] [--timeout S]
        Writes a PNG of the page's viewport.

Exits 2 when chromium does not start or answer within the timeout.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, deadline):
        self.deadline = deadline
        self.profile = tempfile.mkdtemp(prefix="browser-profile.")
        commands_read, self.commands = os.pipe()
        self.replies, replies_write = os.pipe()

        def child_fds():
            # Through fresh descriptors first, so neither dup2 can overwrite the other's source.
            commands, replies = os.dup(commands_read), os.dup(replies_write)
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        self.process = subprocess.Popen(
            [shutil.which("chromium") or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--disable-sync", "--disable-component-update", "--hide-scrollbars", "--mute-audio",
             f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.environ.get("BROWSER_LOG", os.devnull), "w"),
            preexec_fn=child_fds, pass_fds=(3, 4))
        os.close(commands_read)
        os.close(replies_write)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def close(self):
        try:
            self.process.kill()
            self.process.wait(timeout=10)
        except Exception:
            pass
        for fd in (self.commands, self.replies):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self):
        import select
        while b"\0" not in self.buffer:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self.replies], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.replies, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read_message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method):
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    del self.events[i]
                    return event
            self.events.append(self._read_message())

    def open(self, url, width=None, height=None):
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        self.send("Page.enable")
        if width and height:
            self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")


def dom(browser, args):
    browser.open(args.url)
    browser.evaluate("window.__dashboardTestMarker = 1")
    watched = []

    def watch():
        if args.watch:
            value = browser.evaluate(args.watch)
            if not watched or watched[-1] != value:
                watched.append(value)

    watch()
    held = None
    if args.until:
        held = False
        while time.monotonic() < browser.deadline - 1:
            watch()
            if browser.evaluate(args.until):
                held = True
                break
            time.sleep(0.2)
    watch()
    reloaded = browser.evaluate("window.__dashboardTestMarker !== 1")
    html = browser.evaluate("document.documentElement.outerHTML")
    print(json.dumps({"dom": html, "watched": watched, "until": held, "reloaded": reloaded}))


def screenshot(browser, args):
    browser.open(args.url, args.width, args.height)
    time.sleep(0.3)
    data = browser.send("Page.captureScreenshot", {"format": "png"})["data"]
    with open(args.out, "wb") as f:
        f.write(base64.b64decode(data))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dom")
    d.add_argument("url")
    d.add_argument("--until")
    d.add_argument("--watch")
    d.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("screenshot")
    s.add_argument("url")
    s.add_argument("out")
    s.add_argument("--width", type=int, default=1100)
    s.add_argument("--height", type=int, default=750)
    s.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    browser = Browser(time.monotonic() + args.timeout)
    try:
        (dom if args.command == "dom" else screenshot)(browser, args)
    except (TimeoutError, RuntimeError) as error:
        print(f"browser.py: {error}", file=sys.stderr)
        return 2
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
