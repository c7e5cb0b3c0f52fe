#!/usr/bin/env python3
"""tests/http_stub.py: an HTTP proxy in front of the simulator that answers
the first N candle requests itself, to give the fetcher HTTP outcomes the
simulator does not produce (a 400 with an Upbit error body, a 408, a 302, a
body larger than the fetcher's cap, a 404 without "Code not found").

  http_stub.py --upstream URL --port-file F --status S [--body TEXT]
               [--body-bytes N] [--times N] [--after N] [--market M]

The first --times candle requests (default 1, -1 = all) get status S with
--body (or N bytes of 'x'); every other request is forwarded to --upstream
unchanged. --after N forwards the first N candle requests before that (a
market delisted mid-run); --market M counts and answers only the requests
for market M. Stops on SIGTERM.
"""
import argparse
import http.server
import os
import threading
import urllib.error
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--status", type=int, required=True)
    ap.add_argument("--body", default="")
    ap.add_argument("--body-bytes", type=int, default=0)
    ap.add_argument("--times", type=int, default=1)
    ap.add_argument("--after", type=int, default=0)
    ap.add_argument("--market", default=None)
    a = ap.parse_args()
    body = (b"x" * a.body_bytes) if a.body_bytes else a.body.encode()
    left = [a.times]
    skip = [a.after]
    lock = threading.Lock()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send(self, status, data, ctype, remaining=None):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if remaining:
                self.send_header("Remaining-Req", remaining)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except OSError:
                pass

        def do_GET(self):
            canned = False
            if self.path.startswith("/v1/candles/") and (
                    a.market is None or ("market=" + a.market) in self.path):
                with lock:
                    if skip[0] > 0:
                        skip[0] -= 1
                    elif left[0] != 0:
                        left[0] -= 1
                        canned = True
            if canned:
                self.send(a.status, body, "application/json")
                return
            try:
                with urllib.request.urlopen(a.upstream + self.path) as r:
                    self.send(r.status, r.read(), r.headers.get("Content-Type", ""),
                              r.headers.get("Remaining-Req"))
            except urllib.error.HTTPError as e:
                self.send(e.code, e.read(), e.headers.get("Content-Type", ""))

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
