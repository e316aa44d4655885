#!/usr/bin/env python3
"""What a server application costs per connect (docs/applications.md,
"Cost"): the same raw connects (handshake, connect, _result, close) to an
origin with nothing configured (the floor), with one SRS on_connect
callback, with a Lua onConnection, and with both, in the same run.

For each: the connect's round trip as the client sees it (p50, p95) and
the origin's CPU per 1000 connects. The callback server is a separate
process (Python's http.server answering "0" in one write), so its own CPU
is not the origin's; its latency is part of the round trip, as it would
be in production.

Usage: app_bench.py [--connects N] [--json OUT] [--smoke]
Binary: $REWIND_ORIGIN (or build/origin/rewind-origin).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))

import harness  # noqa: E402
from rtmp_client import RtmpClient  # noqa: E402

CALLBACK_SERVER = r'''
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "1")
        self.end_headers()
        self.wfile.write(b"0")
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
'''

SCRIPT = '''
function onConnection(client, ...)
  return {message = "welcome", id = client.id}
end
'''


def connect_once(port):
    started = time.perf_counter()
    c = RtmpClient("127.0.0.1", port)
    try:
        c.connect("live")
    finally:
        c.close()
    return time.perf_counter() - started


def measure(workdir, label, args, connects):
    server = harness.OriginServer(workdir, args + ["--default-app.dvr.record", "off", "--threads", "1"])
    server.label = label
    server.start()
    try:
        for _ in range(20):  # warm: the script loaded, the callback connection pooled
            connect_once(server.port)
        cpu_before = harness.cpu_seconds(server.pid())
        times = [connect_once(server.port) for _ in range(connects)]
        cpu = harness.cpu_seconds(server.pid()) - cpu_before
    finally:
        server.stop()
    times.sort()
    return {
        "config": label,
        "connects": connects,
        "p50_ms": round(statistics.median(times) * 1000, 3),
        "p95_ms": round(times[int(len(times) * 0.95) - 1] * 1000, 3),
        "cpu_ms_per_1000": round(cpu * 1000 * 1000 / connects, 1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connects", type=int, default=1000)
    parser.add_argument("--json")
    parser.add_argument("--smoke", action="store_true", help="a few connects: that it runs")
    args = parser.parse_args()
    if args.smoke:
        args.connects = 30
    os.environ.setdefault("REWIND_ORIGIN", os.path.join(HERE, "..", "..", "build", "origin", "rewind-origin"))
    workdir = tempfile.mkdtemp(prefix="rewind-app-bench-")
    callbacks = subprocess.Popen([sys.executable, "-c", CALLBACK_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        hook_url = "http://127.0.0.1:%s/on_connect" % callbacks.stdout.readline().strip()
        apps = os.path.join(workdir, "apps")
        os.makedirs(apps)
        with open(os.path.join(apps, "main.lua"), "w") as f:
            f.write(SCRIPT)
        hook = ["--default-app.hooks.on-connect", hook_url]
        script = ["--apps-dir", apps]
        rows = [measure(workdir, label, a, args.connects) for label, a in (
            ("none", []), ("on_connect hook", hook), ("lua onConnection", script), ("hook + lua", hook + script))]
    finally:
        callbacks.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    floor = rows[0]
    print("%-18s %8s %8s %10s %12s" % ("config", "p50 ms", "p95 ms", "CPU ms/1k", "vs none p50"))
    for r in rows:
        print("%-18s %8.3f %8.3f %10.1f %11.2fx" % (r["config"], r["p50_ms"], r["p95_ms"], r["cpu_ms_per_1000"],
                                                   r["p50_ms"] / floor["p50_ms"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
