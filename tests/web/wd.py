"""tests/web/wd.py: a minimal WebDriver client (the W3C protocol over HTTP,
python3's standard library only) driving Debian's headless Chromium through
chromedriver, for tests/web.bats and bench/web_bench.sh. CI has no npm
registry, so no playwright/selenium: this file is the whole driver.

    with Browser() as b:
        b.get(url); b.wait_js("return window.cpMap.draws > 0")
        b.js("return 1 + 1"); b.click_at(css, dx, dy); b.screenshot(path)
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM = os.environ.get("CP_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CP_CHROMEDRIVER", "/usr/bin/chromedriver")


class WebDriverError(Exception):
    pass


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Browser:
    def __init__(self, width=1400, height=1000, timeout=60):
        self.width, self.height, self.timeout = width, height, timeout
        self.proc = None
        self.session = None
        self.profile = None

    # ---- the protocol
    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                out = json.load(r)
        except urllib.error.HTTPError as e:
            out = json.load(e)
            raise WebDriverError("%s %s: %s" % (method, path, out.get("value")))
        return out.get("value")

    def _s(self, method, path, body=None):
        return self._call(method, "/session/%s%s" % (self.session, path), body)

    def __enter__(self):
        port = _free_port()
        self.base = "http://127.0.0.1:%d" % port
        self.proc = subprocess.Popen(
            [CHROMEDRIVER, "--port=%d" % port, "--allowed-ips=127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                self._call("GET", "/status")
                break
            except (OSError, WebDriverError):
                time.sleep(0.05)
        self.profile = tempfile.mkdtemp(prefix="cp-chromium.")
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--no-first-run",
                         "--window-size=%d,%d" % (self.width, self.height),
                         "--user-data-dir=" + self.profile],
            }}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]
        return self

    def __exit__(self, *exc):
        try:
            if self.session:
                self._s("DELETE", "")
        except (OSError, WebDriverError):
            pass
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)

    # ---- what the tests use
    def get(self, url):
        self._s("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_js(self, script, timeout=30, what=None, *args):
        """Waits until script returns a true value; returns it."""
        end = time.time() + timeout
        while True:
            v = self.js(script, *args)
            if v:
                return v
            if time.time() > end:
                raise WebDriverError("timed out waiting for " + (what or script))
            time.sleep(0.1)

    def find(self, css):
        v = self._s("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(v.values()))

    def click(self, css):
        self._s("POST", "/element/%s/click" % self.find(css), {})

    def click_at(self, css, dx, dy):
        """A real mouse click at (dx, dy) from the element's centre."""
        self._click({"element-6066-11e4-a52e-4f735466cecf": self.find(css)}, dx, dy)

    def click_viewport(self, x, y):
        """A real mouse click at (x, y) of the viewport (CSS pixels), e.g. on
        an element taller than the window, whose centre is out of view."""
        self._click("viewport", x, y)

    def _click(self, origin, dx, dy):
        self._s("POST", "/actions", {"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "origin": origin, "x": int(dx), "y": int(dy)},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerUp", "button": 0},
            ]}]})
        self._s("DELETE", "/actions")

    def screenshot(self, path):
        png = base64.b64decode(self._s("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
