#!/usr/bin/env python3
"""The cluster benchmark (issue 8): what a relay and an edge add, measured
against the origin alone (the floor) and, for a live hop, nginx-rtmp
pulling from the same origin (the peer), in the same run.

a) latency  One live stream published with -re to the origin; players at
            the origin, at a Rewind relay pulling from it, at a Rewind edge
            pulling from the relay, and at an nginx-rtmp server pulling
            from the origin (`pull`). For every video frame all of them
            received: when it arrived at each, minus when it arrived at the
            origin's player. Median and p95 per hop.
b) seek     A recording (the test file `--loops` times, default 10: 10
            minutes) published as fast as the origin takes it. rewind-bench
            seek, 100 clients x 10 random seeks, at the origin (the floor),
            then at the edge of origin <- relay <- edge twice: cold (empty
            caches) and warm. Seek-to-keyframe p50/p99 of each; the edge's
            cache hit ratio (segment reads answered from memory or disk /
            all segment reads; a read that waited for a fetch in flight is
            a miss), upstream fetches and bytes, from its debug log.
c) fan-out  rewind-bench play, N players of the live stream (default 300),
            at the origin and then at the edge (through the relay): CPU per
            player at each.

Usage: chain_bench.py [--part latency,seek,fanout] [--json OUT] [--smoke]
Binaries: $REWIND_ORIGIN, $REWIND_RELAY, $REWIND_EDGE, $REWIND_BENCH (or
build/). Results: docs/performance.md, "The cluster".
"""

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "interop"))

import compare  # noqa: E402  (the test media, process handling)
from rtmp_client import VIDEO, RtmpClient  # noqa: E402

HOST = compare.HOST
APP = "live"


def log(message):
    compare.log(message)


def binary(env, relative):
    path = os.environ.get(env) or os.path.join(REPO, "build", relative)
    if not os.access(path, os.X_OK):
        raise compare.SetupError("%s not found (set %s)" % (path, env))
    return path


class Chain:
    """origin <- relay <- edge, each on a free port, logging into run_dir."""

    def __init__(self, children, run_dir, config, edge_args=()):
        self.children, self.run_dir, self.config = children, run_dir, config
        self.procs = {}
        self.ports = {}
        self.edge_args = list(edge_args)

    def start_one(self, role, upstream_port=None, extra=()):
        port = compare.free_port()
        log_path = os.path.join(self.run_dir, "%s.log" % role)
        args = [self.config[role], "--listen", "%s:%d" % (HOST, port), "--data-dir",
                os.path.join(self.run_dir, role + "-data"), "--log-level", "debug", "--threads", "1", "--http.listen", HOST + ":0"]
        if upstream_port:
            args += ["--upstream", "rtmp://%s:%d" % (HOST, upstream_port)]
        proc = self.children.start(args + list(extra), log_path, None)
        compare.wait_listening(proc, port, 15, "rewind-" + role, log_path)
        self.procs[role], self.ports[role] = proc, port
        return port

    def start(self, roles=("origin", "relay", "edge")):
        if "origin" in roles:
            self.start_one("origin", extra=["--default-app.dvr.record", "all"])
        if "relay" in roles:
            self.start_one("relay", self.ports["origin"])
        if "edge" in roles:
            self.start_one("edge", self.ports["relay"], self.edge_args)

    def url(self, role, name):
        return "rtmp://%s:%d/%s/%s" % (HOST, self.ports[role], APP, name)

    def log_text(self, role):
        with open(os.path.join(self.run_dir, "%s.log" % role), errors="replace") as f:
            return f.read()

    def stop(self, role):
        if role in self.procs:
            self.children.stop(self.procs.pop(role))


def publish(children, run_dir, media, url, live=True, loops=1000):
    args = ["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error"]
    if live:
        args += ["-re"]
    args += ["-stream_loop", str(loops - 1), "-i", media, "-c", "copy", "-f", "flv", url]
    return children.start(args, os.path.join(run_dir, "publisher.log"), None)


# ---------------------------------------------------------------- a) latency


class ArrivalRecorder(threading.Thread):
    """A raw player: the monotonic arrival time of each video timestamp."""

    def __init__(self, port, name):
        super().__init__(daemon=True)
        self.port, self.name = port, name
        self.arrivals = {}
        self.error = None
        self.stop_flag = threading.Event()

    def run(self):
        try:
            c = RtmpClient(HOST, self.port)
            c.connect(APP)
            sid = c.create_stream()
            c.play(sid, self.name, -1, buffer_ms=100)
            while not self.stop_flag.is_set():
                try:
                    msg = c.read_message(0.5)
                except TimeoutError:
                    continue
                if msg.type == VIDEO:
                    self.arrivals.setdefault(msg.timestamp, time.monotonic())
            c.close()
        except Exception as e:  # reported in the results
            self.error = "%s: %s" % (type(e).__name__, e)


NGINX_PULL_CONF = """\
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
worker_processes 1;
error_log {dir}/nginx-error.log info;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
rtmp {{
    access_log off;
    server {{
        listen {host}:{port};
        chunk_size 4096;
        application live {{ live on; pull rtmp://{host}:{origin_port}/live; }}
    }}
}}
"""


def percentile(values, p):
    values = sorted(values)
    if not values:
        return None
    k = (len(values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def run_latency(config, children, tmp_root):
    run_dir = os.path.join(tmp_root, "latency")
    os.makedirs(run_dir)
    chain = Chain(children, run_dir, config)
    chain.start()
    nginx_port = None
    if shutil.which("nginx") and os.path.exists(compare.NGINX_RTMP_MODULE):
        nginx_port = compare.free_port()
        conf = os.path.join(run_dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_PULL_CONF.format(dir=run_dir, host=HOST, port=nginx_port, origin_port=chain.ports["origin"]))
        nginx = children.start(["nginx", "-p", run_dir, "-c", conf], os.path.join(run_dir, "nginx.log"), None)
        compare.wait_listening(nginx, nginx_port, 15, "nginx", os.path.join(run_dir, "nginx.log"))
    publisher = publish(children, run_dir, config["media"], chain.url("origin", "lat"))
    time.sleep(3)
    players = {"origin": ArrivalRecorder(chain.ports["origin"], "lat"),
               "relay": ArrivalRecorder(chain.ports["relay"], "lat"),
               "edge": ArrivalRecorder(chain.ports["edge"], "lat")}
    if nginx_port:
        players["nginx pull"] = ArrivalRecorder(nginx_port, "lat")
    for p in players.values():
        p.start()
    time.sleep(config["latency_s"])
    for p in players.values():
        p.stop_flag.set()
    for p in players.values():
        p.join(5)
    children.stop(publisher)
    base = players["origin"].arrivals
    result = {}
    for who, p in players.items():
        if who == "origin":
            continue
        common = [ts for ts in p.arrivals if ts in base]
        deltas = [(p.arrivals[ts] - base[ts]) * 1000.0 for ts in common]
        result[who] = {"frames": len(deltas), "error": p.error,
                       "behind_origin_ms_p50": round(statistics.median(deltas), 1) if deltas else None,
                       "behind_origin_ms_p95": round(percentile(deltas, 95), 1) if deltas else None}
    for role in ("edge", "relay", "origin"):
        chain.stop(role)
    return result


# ---------------------------------------------------------------- b) seek


def bench_seek(config, children, run_dir, url, label, server_pid):
    report = os.path.join(run_dir, "seek-%s.json" % label)
    args = [config["bench"], "seek", "--url", url, "--clients", str(config["clients"]), "--seeks",
            str(config["seeks"]), "--interval-ms", "500", "--ramp", "50", "--server-pid", str(server_pid),
            "--json", report]
    proc = children.start(args, os.path.join(run_dir, "bench-%s.log" % label), None,
                          stdout_path=os.path.join(run_dir, "bench-%s.out" % label))
    status, _ = compare.wait_reaping(proc, 900)
    children.stop(proc)
    if status not in (0, 2):
        raise compare.SetupError("rewind-bench seek (%s) exited %s:\n%s" %
                                 (label, status, compare.tail(os.path.join(run_dir, "bench-%s.log" % label))))
    with open(report) as f:
        r = json.load(f)
    k = r["seek_to_keyframe_ms"]
    return {"seek_p50_ms": k["p50"], "seek_p99_ms": k["p99"], "seeks_landed": r["seeks"]["landed"],
            "seeks_failed": r["seeks"]["failed"], "violations": r["seeks"]["violations"],
            "server_cpu_percent": (r.get("server") or {}).get("cpu_percent")}


def cache_counts(text):
    reads = len(re.findall(r"proxy: read segment \d+ of live/rec", text))
    memory = len(re.findall(r"proxy: read segment \d+ of live/rec: from memory", text))
    disk = len(re.findall(r"proxy: segment \d+ of live/rec from the disk cache", text))
    fetched_bytes = [int(b) for b in re.findall(r"proxy: fetched segment \d+ of live/rec from \S+ \((\d+) bytes", text)]
    return reads, memory, disk, len(fetched_bytes), sum(fetched_bytes)


def run_seek(config, children, tmp_root):
    run_dir = os.path.join(tmp_root, "seek")
    os.makedirs(run_dir)
    chain = Chain(children, run_dir, config)
    chain.start()
    log("  publishing %d x 60 s of media without -re..." % config["loops"])
    publisher = publish(children, run_dir, config["media"], chain.url("origin", "rec"), live=False,
                        loops=config["loops"])
    status, _ = compare.wait_reaping(publisher, 900)
    children.stop(publisher)
    if status != 0:
        raise compare.SetupError("ffmpeg could not publish the recording:\n" +
                                 compare.tail(os.path.join(run_dir, "publisher.log")))
    time.sleep(3)
    results = {}
    log("  %d clients x %d seeks at the origin..." % (config["clients"], config["seeks"]))
    results["origin"] = bench_seek(config, children, run_dir, chain.url("origin", "rec"), "origin",
                                   chain.procs["origin"].pid)
    for label in ("edge cold", "edge warm"):
        before = cache_counts(chain.log_text("edge"))
        log("  %d clients x %d seeks at the edge (%s)..." % (config["clients"], config["seeks"], label.split()[1]))
        r = bench_seek(config, children, run_dir, chain.url("edge", "rec"), label.replace(" ", "-"),
                       chain.procs["edge"].pid)
        after = cache_counts(chain.log_text("edge"))
        reads, memory, disk, fetched, fetched_bytes = (a - b for a, b in zip(after, before))
        r.update(segment_reads=reads, memory_hits=memory, disk_hits=disk, upstream_fetches=fetched,
                 upstream_mb=round(fetched_bytes / 1e6, 1),
                 hit_ratio=round((memory + disk) / reads, 3) if reads else None)
        results[label] = r
    results["relay_upstream_fetches"] = cache_counts(chain.log_text("relay"))[3]
    results["origin_segments_served"] = len(re.findall(r"serving segment \d+ of live/rec", chain.log_text("origin")))
    for role in ("edge", "relay", "origin"):
        chain.stop(role)
    return results


# ---------------------------------------------------------------- c) fan-out


def run_fanout(config, children, tmp_root):
    run_dir = os.path.join(tmp_root, "fanout")
    os.makedirs(run_dir)
    chain = Chain(children, run_dir, config)
    chain.start()
    publisher = publish(children, run_dir, config["media"], chain.url("origin", "fan"))
    time.sleep(3)
    results = {}
    for role in ("origin", "edge"):
        report = os.path.join(run_dir, "play-%s.json" % role)
        args = [config["bench"], "play", "--url", chain.url(role, "fan"), "--clients", str(config["players"]),
                "--duration", str(config["fanout_s"]), "--ramp", "200", "--server-pid", str(chain.procs[role].pid),
                "--json", report]
        log("  %d players at the %s for %d s..." % (config["players"], role, config["fanout_s"]))
        proc = children.start(args, os.path.join(run_dir, "bench-%s.log" % role), None,
                              stdout_path=os.path.join(run_dir, "bench-%s.out" % role))
        status, _ = compare.wait_reaping(proc, config["fanout_s"] + 120)
        children.stop(proc)
        with open(report) as f:
            r = json.load(f)
        cpu = (r.get("server") or {}).get("cpu_percent")
        results[role] = {"players": config["players"], "server_cpu_percent": cpu,
                         "cpu_percent_per_1000_players": round(cpu * 1000.0 / config["players"], 2) if cpu else None,
                         "failed": r.get("failed"), "behind_1s": r.get("behind_1s"), "exit": status}
    children.stop(publisher)
    for role in ("edge", "relay", "origin"):
        chain.stop(role)
    return results


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", default="latency,seek,fanout")
    p.add_argument("--loops", type=int, default=10, help="minutes of recording for b) (default 10)")
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--seeks", type=int, default=10)
    p.add_argument("--players", type=int, default=300)
    p.add_argument("--latency-s", type=int, default=20)
    p.add_argument("--fanout-s", type=int, default=20)
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--smoke", action="store_true", help="small and quick (CI): 2 min recording, 20 x 3 seeks")
    p.add_argument("--keep-tmp", action="store_true")
    args = p.parse_args(argv)
    if args.smoke:
        args.loops, args.clients, args.seeks, args.players, args.latency_s, args.fanout_s = 2, 20, 3, 50, 8, 8
    config = {"origin": binary("REWIND_ORIGIN", "origin/rewind-origin"),
              "relay": binary("REWIND_RELAY", "relay/rewind-relay"),
              "edge": binary("REWIND_EDGE", "edge/rewind-edge"),
              "bench": binary("REWIND_BENCH", "tests/bench/rewind-bench"),
              "loops": args.loops, "clients": args.clients, "seeks": args.seeks, "players": args.players,
              "latency_s": args.latency_s, "fanout_s": args.fanout_s}
    config["media"] = os.path.join(os.path.dirname(config["bench"]), compare.MEDIA_NAME)
    compare.ensure_media(config["media"])
    children = compare.Children()
    tmp_root = tempfile.mkdtemp(prefix="rewind-chain-bench-")
    results = {"config": {k: v for k, v in config.items()}}
    problems = []
    try:
        for part, fn in (("latency", run_latency), ("seek", run_seek), ("fanout", run_fanout)):
            if part in args.part.split(","):
                log("%s:" % part)
                results[part] = fn(config, children, tmp_root)
                log("  " + json.dumps(results[part]))
    finally:
        children.stop_all()
        if not args.keep_tmp:
            shutil.rmtree(tmp_root, ignore_errors=True)
        else:
            log("kept " + tmp_root)
    for who, r in (results.get("latency") or {}).items():
        if not r["frames"]:
            problems.append("no frames at the %s player (%s)" % (who, r["error"]))
    for who in ("origin", "edge cold", "edge warm"):
        r = (results.get("seek") or {}).get(who)
        if r and (r["seeks_failed"] or r["violations"]):
            problems.append("%s: %d seeks failed, %d broke the seek sequence" % (who, r["seeks_failed"],
                                                                                r["violations"]))
    for who, r in (results.get("fanout") or {}).items():
        if r["failed"]:
            problems.append("%s: %s players failed" % (who, r["failed"]))
    results["problems"] = problems
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    for problem in problems:
        log("PROBLEM: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
