#!/usr/bin/env python3
"""DVR benchmark of rewind-origin (issue 4): seek latency, and what recording costs.

One run of this script measures, with rewind-origin alone on one core
(taskset, --threads 1) and the load tools on the other:

  a) seek: a 10-minute recording is made in seconds (ffmpeg publishes the
     60 s test file looped 10 times, without -re), then 100 DVR viewers
     (`rewind-bench seek`) each play it and seek at random into it; each
     seek is timed from sending it to the first video keyframe after
     NetStream.Seek.Notify, and what arrives is checked (sequence headers
     first, the keyframe at or before the target). Goal: p99 under 50 ms.
  b) recording cost: 500 publishers of the test file at real-time pace
     (`rewind-bench publish`), once with recording off (live-only ingest)
     and once with every stream recorded, alternating over the rounds; the
     server's CPU (all its threads) and peak RSS over the measuring window,
     and the ratio recorded / live-only. Goal: at most 1.25.

    python3 tests/bench/dvr_bench.py                      # both, 2 rounds of b)
    python3 tests/bench/dvr_bench.py --skip-record --clients 100 --seeks 20
    python3 tests/bench/dvr_bench.py --smoke              # CI: short, fails only on failures

Exit status: 0 when every run was made; 1 when one could not be (set-up
error, a server that would not start or serve) or on Ctrl-C; with --smoke,
2 when a seek failed or broke the seek sequence, a client or publisher
failed or was dropped, or the recording is not as long as what was
published (never because of a time or CPU figure). See DVR_BENCH.md.

Python 3 standard library only; the process and /proc helpers are
compare.py's.
"""

import argparse
import json
import os
import resource
import shlex
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the side-by-side script: processes, /proc, media)
from compare import SetupError, Interrupted, log, warn, fmt, median  # noqa: E402

HOST = compare.HOST
APP = compare.APP
SEEK_STREAM = "dvr10"
RECORD_STREAM = "rec"  # publishers get rec-0, rec-1...
MODES = ("off", "all")  # --default-app.dvr.record: live-only ingest, every stream recorded
MODE_NAMES = {"off": "live-only", "all": "recorded"}

# The goals. Printed next to the figures; never an exit status.
SEEK_P99_GOAL_MS = 50.0
RECORD_CPU_RATIO_GOAL = 1.25

# A recording should hold what was published to within a segment or so
# (dvr.segment_ms is 2000 by default).
RECORDING_TOLERANCE_S = 3.0
# Loopback publishing without -re: the origin takes 10 minutes of media in
# about a second; give a slow machine plenty.
FAST_PUBLISH_TIMEOUT_S = 300
# The recorder stores a segment in one batch on its writer thread; after the
# publisher has gone, what is stored should stop growing within this.
RECORDING_SETTLE_TIMEOUT_S = 30

# The test stream's rate, to size the disk space b) needs: 1 Mbit/s per
# publisher, and RocksDB's write-ahead log plus its tables about twice that.
MEDIA_BYTES_PER_S = 1_000_000 / 8
DISK_FACTOR = 2.5

SMOKE = {"loops": 2, "clients": 20, "seeks": 3, "publishers": 50, "duration": 10, "rounds": 1}
FULL = {"loops": 10, "clients": 100, "seeks": 10, "publishers": 500, "duration": 30, "rounds": 2}


# ---------------------------------------------------------------- /proc


def thread_ticks(pid):
    """{tid: (name, clock ticks)} of every thread of a process."""
    threads = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return threads
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                text = f.read()
        except OSError:
            continue
        name = text[text.find("(") + 1:text.rfind(")")]
        fields = text[text.rfind(")") + 1:].split()
        threads[int(tid)] = (name, int(fields[11]) + int(fields[12]))
    return threads


def thread_split(before, after, seconds):
    """CPU per thread (percent of one core) between two snapshots: by name,
    each name's threads busiest first (the origin's workers and DVR threads
    share its name), and per thread id."""
    by_name, by_thread = {}, []
    for tid, (name, ticks) in sorted(after.items()):
        used = ticks - before.get(tid, (name, 0))[1]
        percent = round(100.0 * used / compare.CLOCK_TICKS / seconds, 1)
        by_name.setdefault(name, []).append(percent)
        by_thread.append({"tid": tid, "name": name, "cpu_percent": percent})
    return {name: sorted(v, reverse=True) for name, v in by_name.items()}, by_thread


def threads_text(threads):
    """'rewind-origin 36.5+12.9, rocksdb:low 13.3': the busy threads."""
    parts = []
    for name, values in sorted(threads.items(), key=lambda kv: -sum(kv[1])):
        busy = [v for v in values if v >= 0.5]
        if busy:
            parts.append("%s %s" % (name, "+".join("%.1f" % v for v in busy)))
    return ", ".join(parts) or "idle"


def io_write_bytes(pid):
    """Bytes the process made the kernel write to storage (/proc/PID/io)."""
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def dir_bytes(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def filesystem_type(path):
    """The type of the filesystem holding path (tmpfs is memory, not disk)."""
    best, kind = "", "?"
    path = os.path.realpath(path)
    try:
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                mount = fields[1].replace("\\040", " ")
                if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
                    best, kind = mount, fields[2]
    except OSError:
        pass
    return kind


class MachineWatch:
    """Everything the machine does while a bench runs, to tell our own load
    from someone else's (as compare.py does): our processes, the kernel's
    softirq threads, this script; the rest is others'."""

    def __init__(self, our_pids):
        self.softirq = compare.ksoftirqd_pids()
        self.pids = list(our_pids) + self.softirq
        self.before = {pid: compare.process_ticks(pid) for pid in self.pids}
        self.everyone = compare.all_process_ticks()
        self.self_before = resource.getrusage(resource.RUSAGE_SELF)
        self.busy, self.steal = compare.machine_ticks()
        self.started = time.monotonic()

    def finish(self, bench_cpu_s):
        seconds = time.monotonic() - self.started
        busy, steal = compare.machine_ticks()
        self_after = resource.getrusage(resource.RUSAGE_SELF)
        after = {pid: compare.process_ticks(pid) for pid in self.pids}
        everyone = compare.all_process_ticks()

        def used(pid):
            b, a = self.before.get(pid), after.get(pid)
            return a - b if a is not None and b is not None else 0

        self_s = (self_after.ru_utime + self_after.ru_stime) - (self.self_before.ru_utime + self.self_before.ru_stime)
        ours_s = sum(used(pid) for pid in self.pids) / compare.CLOCK_TICKS + (bench_cpu_s or 0) + self_s
        machine_s = (busy - self.busy) / compare.CLOCK_TICKS
        return {
            "seconds": round(seconds, 3),
            "machine_cpu_percent": round(100 * machine_s / seconds, 1),
            "bench_cpu_percent": round(100 * (bench_cpu_s or 0) / seconds, 1),
            "softirq_threads_cpu_percent": round(
                100 * sum(used(pid) for pid in self.softirq) / compare.CLOCK_TICKS / seconds, 1),
            "others_cpu_percent": round(max(0.0, 100 * (machine_s - ours_s) / seconds), 1),
            "steal_percent": round(100 * (steal - self.steal) / compare.CLOCK_TICKS / seconds, 1),
            "busiest_others": compare.busiest_others(self.everyone, everyone, set(self.pids) | {os.getpid()},
                                                     seconds),
        }


def suspect_reasons(load, bench):
    """Why a run's figures are not to be trusted (compare.py's limits)."""
    reasons = []
    if load["others_cpu_percent"] > compare.OTHERS_LIMIT:
        named = load.get("busiest_others")
        reasons.append("machine busy: other processes used %.0f%% of a core%s" % (
            load["others_cpu_percent"], " (%s)" % ", ".join(named) if named else ""))
    if load["steal_percent"] > compare.STEAL_LIMIT:
        reasons.append("hypervisor stole %.0f%% of a core" % load["steal_percent"])
    if bench.get("bench_saturated"):
        reasons.append("bench saturated its core (%.0f%%)" % bench.get("bench_cpu_percent", 0))
    return reasons


# ---------------------------------------------------------------- helpers


def count_log(path, needle):
    try:
        with open(path, errors="replace") as f:
            return sum(1 for line in f if needle in line)
    except OSError:
        return 0


def media_duration_s(path):
    """The test file's duration by ffprobe (60 s for compare.py's file)."""
    text = compare.run_text(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path])
    try:
        return float(text)
    except (TypeError, ValueError):
        return 60.0


def run_bench(config, children, run_dir, args, limit_s, watch_pids, during=None):
    """Runs rewind-bench on the load core and waits for it, measuring the
    machine meanwhile. `during(bench_proc)` may run once while it does.
    Returns (report, summary line, exit status, load)."""
    report_path = args[args.index("--json") + 1]
    watch = MachineWatch(watch_pids)
    bench = children.start(args, os.path.join(run_dir, "bench.stderr"), config.load_core,
                           stdout_path=os.path.join(run_dir, "bench.stdout"))
    extra = during(bench) if during else None
    status, bench_cpu_s = compare.wait_reaping(bench, limit_s)
    if status is None:
        children.stop(bench, timeout=10)
        raise SetupError("rewind-bench did not finish within %.0f s" % limit_s)
    children.stop(bench)
    load = watch.finish(bench_cpu_s)
    if status not in (0, 2):  # 2: some clients failed, a result
        raise SetupError("rewind-bench exited with status %d:\n%s" %
                         (status, compare.tail(os.path.join(run_dir, "bench.stderr"))))
    with open(report_path) as f:
        report = json.load(f)
    with open(os.path.join(run_dir, "bench.stdout")) as f:
        summary = f.read().strip()
    return report, summary, status, load, extra


def start_origin(config, children, run_dir, port, record_mode):
    server = compare.RewindServer(config.origin, ["--default-app.dvr.record", record_mode] + config.rewind_args)
    proc = server.start(children, run_dir, port, config.server_core)
    return server, proc


# ---------------------------------------------------------------- a) seek


def probe_length(config, children, run_dir, url):
    """getStreamLength, as one seek client with no seeks sees it (ms), or None."""
    report = os.path.join(run_dir, "probe.json")
    if os.path.exists(report):
        os.remove(report)
    probe = children.start([config.bench, "seek", "--url", url, "--clients", "1", "--seeks", "0", "--timeout", "5",
                            "--report-interval", "0", "--json", report],
                           os.path.join(run_dir, "probe.log"), config.load_core,
                           stdout_path=os.path.join(run_dir, "probe.out"))
    status, _ = compare.wait_reaping(probe, 20)
    children.stop(probe)
    if status != 0 or not os.path.exists(report):
        return None
    with open(report) as f:
        return json.load(f)["stream_length_ms"]["max"]


def make_recording(config, children, run_dir, url, server):
    """Publishes the test file `loops` times without -re, then waits until
    the origin has stored it all. Returns the record's figures."""
    published_s = config.loops * config.media_duration_s
    log("  publishing %d x %.0f s of media without -re..." % (config.loops, config.media_duration_s))
    started = time.monotonic()
    publisher = children.start(["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error",
                                "-stream_loop", str(config.loops - 1), "-i", config.media,
                                "-c", "copy", "-f", "flv", url],
                               os.path.join(run_dir, "publisher.log"), config.load_core)
    status, _ = compare.wait_reaping(publisher, FAST_PUBLISH_TIMEOUT_S)
    children.stop(publisher)
    if status != 0:
        raise SetupError("ffmpeg could not publish the recording (status %s):\n%s" %
                         (status, compare.tail(os.path.join(run_dir, "publisher.log"))))
    publish_s = time.monotonic() - started

    # The publisher has gone: the origin logs record-stop, stores the last
    # segment, and getStreamLength stops growing.
    deadline = time.monotonic() + RECORDING_SETTLE_TIMEOUT_S
    length_ms = previous = None
    while time.monotonic() < deadline:
        stopped = count_log(server.log_path, "stream=%s record-stop" % SEEK_STREAM) > 0
        length_ms = probe_length(config, children, run_dir, url)
        if stopped and length_ms is not None and length_ms == previous:
            break
        previous = length_ms
        time.sleep(0.5)
    else:
        raise SetupError("the recording did not settle within %d s (getStreamLength %s ms):\n%s" %
                         (RECORDING_SETTLE_TIMEOUT_S, length_ms, compare.tail(server.log_path)))
    return {
        "published_s": round(published_s, 3),
        "publish_wall_s": round(publish_s, 3),
        "stored_s": length_ms / 1000.0,
        "settle_wall_s": round(time.monotonic() - started - publish_s, 3),
        "data_mb": round(dir_bytes(os.path.join(run_dir, "data")) / 1e6, 1),
    }


def run_seek(config, children, tmp_root):
    run_dir = os.path.join(tmp_root, "seek")
    os.makedirs(run_dir)
    port = compare.free_port()
    url = "rtmp://%s:%d/%s/%s" % (HOST, port, APP, SEEK_STREAM)
    record = {"part": "seek", "url": url, "clients": config.clients, "seeks": config.seeks}
    server, proc = start_origin(config, children, run_dir, port, "all")
    try:
        record["server_pid"] = proc.pid
        record["recording"] = rec = make_recording(config, children, run_dir, url, server)
        log("  recorded %.1f s of media in %.1f s (+%.1f s to settle); getStreamLength says %.3f s; store %.0f MB" % (
            rec["published_s"], rec["publish_wall_s"], rec["settle_wall_s"], rec["stored_s"], rec["data_mb"]))

        report_path = os.path.join(run_dir, "seek.json")
        args = [config.bench, "seek", "--url", url, "--clients", str(config.clients), "--seeks", str(config.seeks),
                "--interval-ms", str(config.interval_ms), "--ramp", str(config.seek_ramp),
                "--server-pid", str(proc.pid), "--json", report_path] + config.bench_args
        record["bench_command"] = " ".join(shlex.quote(a) for a in args)
        limit = config.clients / config.seek_ramp + (config.seeks + 2) * (10 + config.interval_ms / 1000.0 + 0.1) + 60
        log("  %d clients x %d seeks..." % (config.clients, config.seeks))
        report, summary, status, load, _ = run_bench(config, children, run_dir, args, limit, [proc.pid])
        record.update(bench=report, bench_summary=summary, bench_exit=status, load=load)
        if proc.poll() is not None:
            raise SetupError("rewind-origin died during the run (status %s):\n%s" %
                             (proc.returncode, compare.tail(server.log_path)))
    finally:
        record["server_exit"] = children.stop(proc)
    derive_seek_figures(record, config)
    return record


def derive_seek_figures(record, config):
    bench = record["bench"]
    seeks = bench["seeks"]
    k = bench["seek_to_keyframe_ms"]
    server = bench.get("server") or {}
    record["figures"] = {
        "seek_p50_ms": k["p50"], "seek_p95_ms": k["p95"], "seek_p99_ms": k["p99"], "seek_max_ms": k["max"],
        "notify_p50_ms": bench["seek_to_notify_ms"]["p50"],
        "notify_p99_ms": bench["seek_to_notify_ms"]["p99"],
        "keyframe_before_target_p50_ms": bench["keyframe_before_target_ms"]["p50"],
        "keyframe_before_target_max_ms": bench["keyframe_before_target_ms"]["max"],
        "startup_p50_ms": bench["startup_ms"]["p50"],
        "seeks_sent": seeks["sent"], "seeks_landed": seeks["landed"], "seeks_failed": seeks["failed"],
        "seeks_with_violations": seeks["violations"],
        "connected": bench["connected"], "completed": bench["completed"], "failed": bench["failed"],
        "closed": bench["closed"], "unfinished": bench["unfinished"],
        "cpu_percent": server.get("cpu_percent"),
        "peak_rss_mb": (server.get("peak_rss_kb") or 0) / 1024 or None,
    }
    record["suspect"] = suspect_reasons(record["load"], bench)
    problems = []
    rec = record["recording"]
    if abs(rec["stored_s"] - rec["published_s"]) > RECORDING_TOLERANCE_S:
        problems.append("the recording holds %.1f s, %.1f s were published" % (rec["stored_s"], rec["published_s"]))
    not_done = config.clients - bench["completed"]
    if not_done:
        problems.append("%d of %d clients did not make all their seeks (%s)" % (
            not_done, config.clients, ", ".join("%s: %d" % kv for kv in bench["failure_reasons"].items())))
    if seeks["failed"]:
        problems.append("%d seeks failed (%s)" % (
            seeks["failed"], ", ".join("%s: %d" % kv for kv in seeks["failure_reasons"].items())))
    if seeks["violations"]:
        problems.append("%d seeks broke the seek sequence (%s)" % (
            seeks["violations"], ", ".join("%s: %d" % kv for kv in seeks["violation_kinds"].items())))
    record["problems"] = problems


def print_seek(record):
    f = record["figures"]
    log("  seek to keyframe p50 %s ms, p95 %s, p99 %s, max %s (to Seek.Notify p50 %s, p99 %s)" % (
        fmt(f["seek_p50_ms"], 1), fmt(f["seek_p95_ms"], 1), fmt(f["seek_p99_ms"], 1), fmt(f["seek_max_ms"], 1),
        fmt(f["notify_p50_ms"], 1), fmt(f["notify_p99_ms"], 1)))
    log("  seeks %d sent, %d landed, %d failed, %d with violations; keyframe before the target p50 %s ms, "
        "max %s; play start to first keyframe p50 %s ms" % (
            f["seeks_sent"], f["seeks_landed"], f["seeks_failed"], f["seeks_with_violations"],
            fmt(f["keyframe_before_target_p50_ms"]), fmt(f["keyframe_before_target_max_ms"]),
            fmt(f["startup_p50_ms"], 1)))
    log("  clients %d connected, %d completed; server CPU %s%%, peak RSS %s MB" % (
        f["connected"], f["completed"], fmt(f["cpu_percent"], 1), fmt(f["peak_rss_mb"], 1)))
    print_load(record)
    for p in record["problems"]:
        log("  PROBLEM: %s" % p)
    for example in record["bench"]["seeks"]["violation_examples"][:5]:
        log("    e.g. %s" % example)


def print_load(record):
    load = record["load"]
    log("      machine: bench %.0f%%, ksoftirqd %.0f%%, others %.0f%%, steal %.0f%%" % (
        load["bench_cpu_percent"], load["softirq_threads_cpu_percent"], load["others_cpu_percent"],
        load["steal_percent"]))
    for s in record["suspect"]:
        log("      SUSPECT: %s" % s)


# ---------------------------------------------------------------- b) recording cost


def run_record(config, children, tmp_root, mode, round_number):
    run_dir = os.path.join(tmp_root, "record-r%d-%s" % (round_number, mode))
    os.makedirs(run_dir)
    port = compare.free_port()
    url = "rtmp://%s:%d/%s/%s" % (HOST, port, APP, RECORD_STREAM)
    record = {"part": "record", "mode": mode, "round": round_number, "publishers": config.publishers, "url": url}
    server, proc = start_origin(config, children, run_dir, port, mode)
    try:
        record["server_pid"] = proc.pid
        io_before = io_write_bytes(proc.pid)
        report_path = os.path.join(run_dir, "publish.json")
        args = [config.bench, "publish", "--url", url, "--file", config.media, "--clients", str(config.publishers),
                "--ramp", str(config.ramp), "--duration", str(config.duration), "--server-pid", str(proc.pid),
                "--json", report_path] + config.bench_args
        record["bench_command"] = " ".join(shlex.quote(a) for a in args)
        ramp_s = config.publishers / config.ramp

        def threads_from_window_open(_bench):
            # The bench's window opens when the ramp is over; give it a
            # second. (Not bench.poll(): that would reap it before
            # wait_reaping could read its CPU time.)
            time.sleep(ramp_s + 1)
            return time.monotonic(), thread_ticks(proc.pid)

        limit = ramp_s + config.duration + 60
        report, summary, status, load, (t_start, threads_start) = run_bench(
            config, children, run_dir, args, limit, [proc.pid], during=threads_from_window_open)
        threads_end, t_end = thread_ticks(proc.pid), time.monotonic()
        io_after = io_write_bytes(proc.pid)
        record.update(bench=report, bench_summary=summary, bench_exit=status, load=load)
        record["threads"], record["threads_detail"] = thread_split(threads_start, threads_end,
                                                                    max(t_end - t_start, 0.001))
        window = report.get("window_s") or 0
        record["disk_write_mb"] = round((io_after - io_before) / 1e6, 1) if io_after is not None and \
            io_before is not None else None
        record["data_mb"] = round(dir_bytes(os.path.join(run_dir, "data")) / 1e6, 1)
        record["recordings_started"] = count_log(server.log_path, " record-start")
        record["log_warnings"] = count_log(server.log_path, " WARN ") + count_log(server.log_path, " ERROR ")
        record["window_s"] = window
        if proc.poll() is not None:
            raise SetupError("rewind-origin died during the run (status %s):\n%s" %
                             (proc.returncode, compare.tail(server.log_path)))
    finally:
        record["server_exit"] = children.stop(proc)
        if not config.keep_tmp:
            # 500 recorded publishers write ~60 MB/s: do not keep it.
            shutil.rmtree(os.path.join(run_dir, "data"), ignore_errors=True)
    derive_record_figures(record, config)
    return record


def derive_record_figures(record, config):
    bench = record["bench"]
    server = bench.get("server") or {}
    behind = bench["behind_schedule_ms"]["max"]
    record["figures"] = {
        "cpu_percent": server.get("cpu_percent"),
        "peak_rss_mb": server["peak_rss_kb"] / 1024 if server.get("peak_rss_kb") else None,
        "rss_start_mb": server["rss_start_kb"] / 1024 if server.get("rss_start_kb") else None,
        "connected": bench["connected"], "publishing": bench["publishing"], "failed": bench["failed"],
        "dropped": bench["dropped"], "behind_1s": bench["behind_1s"],
        "behind_p95_ms": behind["p95"], "behind_max_ms": behind["max"],
        "mbit_s": bench["send_mbit_s"],
        "disk_write_mb_s": record["disk_write_mb"] / (record["load"]["seconds"] or 1)
        if record["disk_write_mb"] is not None else None,
        "data_mb": record["data_mb"],
        "recordings_started": record["recordings_started"],
    }
    record["suspect"] = suspect_reasons(record["load"], bench)
    problems = []
    n = config.publishers
    if bench["connected"] < n or bench["failed"]:
        problems.append("%d publishers failed (%s)" % (
            max(bench["failed"], n - bench["connected"]),
            ", ".join("%s: %d" % kv for kv in bench["failure_reasons"].items())))
    if bench["dropped"]:
        problems.append("%d publishers dropped" % bench["dropped"])
    if record["mode"] == "all" and record["recordings_started"] < bench["publishing"]:
        problems.append("only %d of %d publishes were recorded" % (record["recordings_started"], bench["publishing"]))
    if record["mode"] == "off" and record["recordings_started"]:
        problems.append("%d publishes were recorded with recording off" % record["recordings_started"])
    record["problems"] = problems
    # Late publishers are a figure (the server could not keep up), not a
    # failure of the server.
    record["late"] = bench["behind_1s"]


def print_record(record):
    f = record["figures"]
    log("  %-9s CPU %5s%%  peak RSS %6s MB  pub/fail/drop %d/%d/%d  >1s late %d  late p95/max %s/%s ms  "
        "%.0f Mbit/s in  disk %s MB/s  store %s MB  recordings %d" % (
            MODE_NAMES[record["mode"]], fmt(f["cpu_percent"], 1), fmt(f["peak_rss_mb"], 1), f["publishing"],
            f["failed"], f["dropped"], f["behind_1s"], fmt(f["behind_p95_ms"]), fmt(f["behind_max_ms"]),
            f["mbit_s"], fmt(f["disk_write_mb_s"], 1), fmt(f["data_mb"]), f["recordings_started"]))
    log("      server threads (%% of a core): %s" % threads_text(record["threads"]))
    print_load(record)
    for p in record["problems"]:
        log("      PROBLEM: %s" % p)


def summarize_record(records):
    """Medians per mode over the rounds, and the median of the per-round
    ratios recorded / live-only."""
    done = [r for r in records if "figures" in r]
    rows = {}
    for mode in MODES:
        runs = [r for r in done if r["mode"] == mode]
        if not runs:
            continue
        row = {k: median([r["figures"].get(k) for r in runs]) for k in runs[0]["figures"]}
        # Each name's busiest thread, second busiest...: medians by rank.
        names = sorted({n for r in runs for n in r["threads"]})
        row["threads"] = {}
        for n in names:
            count = max(len(r["threads"].get(n, [])) for r in runs)
            row["threads"][n] = [median([(r["threads"].get(n, []) + [0.0] * count)[i] for r in runs])
                                 for i in range(count)]
        row["rounds"] = len(runs)
        row["suspect_rounds"] = sum(1 for r in runs if r["suspect"])
        rows[mode] = row
    pairs = {}
    for r in done:
        pairs.setdefault(r["round"], {})[r["mode"]] = r["figures"]
    cpu, rss = [], []
    for pair in pairs.values():
        if "off" in pair and "all" in pair:
            if pair["off"]["cpu_percent"] and pair["all"]["cpu_percent"] is not None:
                cpu.append(pair["all"]["cpu_percent"] / pair["off"]["cpu_percent"])
            if pair["off"]["peak_rss_mb"] and pair["all"]["peak_rss_mb"]:
                rss.append(pair["all"]["peak_rss_mb"] / pair["off"]["peak_rss_mb"])
    ratio = {"cpu": median(cpu), "rss": median(rss), "rounds": len(cpu),
             "cpu_per_round": [round(c, 3) for c in cpu]} if cpu else None
    return rows, ratio


# ---------------------------------------------------------------- reports


def console_summary(config, seek, rows, ratio):
    out = []
    if seek and "figures" in seek:
        f = seek["figures"]
        met = f["seek_p99_ms"] is not None and f["seek_p99_ms"] < SEEK_P99_GOAL_MS
        out += ["", "== Seek: %d DVR viewers x %d seeks at random into %.0f s of recording ==" % (
            config.clients, config.seeks, seek["recording"]["stored_s"]),
            "seek to keyframe p50/p95/p99/max %s/%s/%s/%s ms; goal p99 < %.0f ms: %s" % (
                fmt(f["seek_p50_ms"], 1), fmt(f["seek_p95_ms"], 1), fmt(f["seek_p99_ms"], 1),
                fmt(f["seek_max_ms"], 1), SEEK_P99_GOAL_MS, "met" if met else "NOT met"),
            "seeks %d, failed %d, with violations %d; server CPU %s%%, peak RSS %s MB%s" % (
                f["seeks_sent"], f["seeks_failed"], f["seeks_with_violations"], fmt(f["cpu_percent"], 1),
                fmt(f["peak_rss_mb"], 1), " (SUSPECT)" if seek["suspect"] else "")]
    if rows:
        out += ["", "== Recording cost: %d publishers at real-time pace, rewind-origin --threads 1 "
                    "(median over %s) ==" % (config.publishers, ", ".join(
                        "%s %d round%s" % (MODE_NAMES[m], rows[m]["rounds"], "" if rows[m]["rounds"] == 1 else "s")
                        for m in MODES if m in rows)),
                "mode        CPU%  peak RSS MB  publishing  failed  dropped  >1s late  disk MB/s  threads (% of a core)"]
        for mode in MODES:
            if mode in rows:
                r = rows[mode]
                threads = threads_text(r["threads"])
                out.append("%-9s  %5s  %11s  %10s  %6s  %7s  %8s  %9s  %s%s" % (
                    MODE_NAMES[mode], fmt(r["cpu_percent"], 1), fmt(r["peak_rss_mb"], 1), fmt(r["publishing"]),
                    fmt(r["failed"]), fmt(r["dropped"]), fmt(r["behind_1s"]), fmt(r["disk_write_mb_s"], 1), threads,
                    " (%d suspect)" % r["suspect_rounds"] if r["suspect_rounds"] else ""))
    if ratio:
        met = ratio["cpu"] <= RECORD_CPU_RATIO_GOAL
        out.append("recorded / live-only: CPU %s, peak RSS %s (median of %d round%s: %s); goal CPU <= %.2f: %s" % (
            fmt(ratio["cpu"], 2), fmt(ratio["rss"], 2), ratio["rounds"], "" if ratio["rounds"] == 1 else "s",
            ", ".join("%.2f" % c for c in ratio["cpu_per_round"]), RECORD_CPU_RATIO_GOAL,
            "met" if met else "NOT met"))
    return "\n".join(out)


def markdown_report(config, meta, seek, rows, ratio, records):
    lines = []
    if seek and "figures" in seek:
        f = seek["figures"]
        lines += [
            "### Seek latency",
            "",
            "%d DVR viewers (`rewind-bench seek`), each seeking %d times to a random position of a %.0f s "
            "recording, %d ms (+ up to 100 ms) after the previous seek's keyframe; time from sending `seek` "
            "to the first video keyframe after `NetStream.Seek.Notify`." % (
                config.clients, config.seeks, seek["recording"]["stored_s"], config.interval_ms),
            "",
            "| seeks | p50 ms | p95 ms | p99 ms | max ms | to Seek.Notify p50 ms | failed | with violations "
            "| server CPU % | peak RSS MB |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            "| %d | %s | %s | %s | %s | %s | %d | %d | %s | %s |" % (
                f["seeks_sent"], fmt(f["seek_p50_ms"], 1), fmt(f["seek_p95_ms"], 1), fmt(f["seek_p99_ms"], 1),
                fmt(f["seek_max_ms"], 1), fmt(f["notify_p50_ms"], 1), f["seeks_failed"],
                f["seeks_with_violations"], fmt(f["cpu_percent"], 1), fmt(f["peak_rss_mb"], 1)),
        ]
        notes = seek["problems"] + ["SUSPECT: " + s for s in seek["suspect"]]
        if notes:
            lines += [""] + ["- %s" % n for n in notes]
        lines.append("")
    if rows:
        lines += [
            "### Recording cost",
            "",
            "%d publishers of the test file at real-time pace (`rewind-bench publish`), rewind-origin "
            "`--threads 1`, `--default-app.dvr.record off` (live-only) and `all` (recorded); medians over the "
            "rounds, CPU over the %g s measuring window, all the server's threads." % (
                config.publishers, config.duration),
            "",
            "| mode | CPU % of a core | peak RSS MB | publishing | failed | dropped | >1 s late | disk writes MB/s "
            "| threads, % of a core | rounds |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
        ]
        for mode in MODES:
            if mode in rows:
                r = rows[mode]
                threads = threads_text(r["threads"])
                lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |" % (
                    MODE_NAMES[mode], fmt(r["cpu_percent"], 1), fmt(r["peak_rss_mb"], 1), fmt(r["publishing"]),
                    fmt(r["failed"]), fmt(r["dropped"]), fmt(r["behind_1s"]), fmt(r["disk_write_mb_s"], 1), threads,
                    r["rounds"]))
        if ratio:
            lines += ["", "Recorded / live-only: CPU **%s**, peak RSS %s (median of %d per-round ratios)." % (
                fmt(ratio["cpu"], 2), fmt(ratio["rss"], 2), ratio["rounds"])]
        notes = []
        for r in records:
            remarks = r.get("problems", []) + ["SUSPECT: " + s for s in r.get("suspect", [])]
            if "error" in r:
                remarks = ["not made: " + r["error"].splitlines()[0]]
            if remarks:
                notes.append("- round %d, %s: %s" % (r["round"], MODE_NAMES[r["mode"]], "; ".join(remarks)))
        if notes:
            lines += [""] + notes
        lines.append("")
    lines += [
        "Run %s on %s (%s cores, Linux %s); Rewind %s.%s" % (
            meta["started"], meta["cpu_model"], meta["cpus"], meta["kernel"], meta["rewind_version"],
            " rewind-origin " + " ".join(shlex.quote(a) for a in meta["rewind_args"]) + "."
            if meta["rewind_args"] else ""),
        "",
        "```",
        meta["command"],
        "```",
    ]
    return "\n".join(lines) + "\n"


def machine_meta(config, repo):
    return {
        **compare.host_meta(repo),
        "origin": config.origin, "bench": config.bench, "media": config.media,
        "media_duration_s": config.media_duration_s, "loops": config.loops,
        "clients": config.clients, "seeks": config.seeks, "interval_ms": config.interval_ms,
        "publishers": config.publishers, "ramp_per_s": config.ramp, "duration_s": config.duration,
        "rounds": config.rounds, "modes": config.modes, "rewind_args": config.rewind_args,
        "bench_args": config.bench_args, "server_core": config.server_core, "load_core": config.load_core,
        "tmp_dir": config.tmp_dir, "smoke": config.smoke,
    }


# ---------------------------------------------------------------- set-up


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="DVR benchmark of rewind-origin: seek latency and recording cost (issue 4). See DVR_BENCH.md.")
    p.add_argument("--skip-seek", action="store_true", help="skip a) seek latency")
    p.add_argument("--skip-record", action="store_true", help="skip b) recording cost")
    p.add_argument("--clients", type=int, help="seek clients (default 100; smoke 20)")
    p.add_argument("--seeks", type=int, help="seeks per client (default 10; smoke 3)")
    p.add_argument("--interval-ms", type=int, default=1000, help="wait after each seek's keyframe (default 1000)")
    p.add_argument("--loops", type=int, help="the recording: the test file this many times (default 10; smoke 2)")
    p.add_argument("--publishers", type=int, help="publishers for b) (default 500; smoke 50)")
    p.add_argument("--ramp", type=float, default=100, help="publishers started per second (default 100)")
    p.add_argument("--duration", type=float, help="b)'s measuring window in seconds (default 30; smoke 10)")
    p.add_argument("--rounds", type=int, help="rounds of b), live-only and recorded in turn (default 2; smoke 1)")
    p.add_argument("--rewind-args", default="", help='extra rewind-origin flags for every run')
    p.add_argument("--bench-args", default="", help='extra rewind-bench flags for every run')
    p.add_argument("--origin", help="rewind-origin binary (default: $REWIND_ORIGIN, then build/)")
    p.add_argument("--bench", help="rewind-bench binary (default: $REWIND_BENCH, then build/)")
    p.add_argument("--media", help="test FLV (default: compare.py's, made once next to rewind-bench)")
    p.add_argument("--tmp-dir", help="where the origins' data goes (default: the system's temporary directory; "
                                     "b) writes ~60 MB/s, so not a tmpfs)")
    p.add_argument("--json", metavar="OUT", help="write every raw run and the summary as JSON")
    p.add_argument("--markdown", metavar="OUT", help="write the summary as Markdown")
    p.add_argument("--smoke", action="store_true",
                   help="CI: a 2-minute recording, 20 clients x 3 seeks, 50 recorded publishers for 10 s; exit 2 on "
                        "any failure or violation, never on a figure")
    p.add_argument("--keep-tmp", action="store_true", help="keep the logs and data of every run")
    p.add_argument("--server-core", type=int, help="core for the server (default: the first allowed)")
    p.add_argument("--load-core", type=int, help="core for the load tools (default: the second)")
    config = p.parse_args(argv)
    defaults = SMOKE if config.smoke else FULL
    for key, value in defaults.items():
        if getattr(config, key) is None:
            setattr(config, key, value)
    # The smoke run checks that recording works under load: no live-only run.
    config.modes = ["all"] if config.smoke else list(MODES)
    if config.clients < 1 or config.seeks < 0 or config.loops < 1 or config.publishers < 1:
        p.error("--clients, --loops and --publishers must be at least 1, --seeks at least 0")
    if config.rounds < 1 or config.duration <= 0 or config.ramp <= 0 or config.interval_ms < 0:
        p.error("--rounds, --duration and --ramp must be above 0")
    if config.skip_seek and config.skip_record:
        p.error("nothing to do: both parts skipped")
    if (config.server_core is None) != (config.load_core is None):
        p.error("give both --server-core and --load-core, or neither")
    config.rewind_args = shlex.split(config.rewind_args)
    config.bench_args = shlex.split(config.bench_args)
    config.seek_ramp = 200.0  # clients per second: 100 clients start within half a second
    return config


def check_disk(config, path):
    kind = filesystem_type(path)
    if kind in ("tmpfs", "ramfs"):
        warn("%s is a %s: recordings take memory, not disk; use --tmp-dir on a disk" % (path, kind))
    if config.skip_record:
        return
    needed = config.publishers * MEDIA_BYTES_PER_S * (config.publishers / config.ramp + config.duration + 10) * \
        DISK_FACTOR
    free = shutil.disk_usage(path).free
    if free < needed + 1e9:
        raise SetupError("%s has %.1f GB free; %d recorded publishers for %g s need about %.1f GB" % (
            path, free / 1e9, config.publishers, config.duration, needed / 1e9 + 1))


def main(argv):
    config = parse_args(argv)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    children = compare.Children()
    seek, records, rows, ratio, meta = None, [], {}, None, None
    tmp_root = None
    exit_status = 0
    complete = False
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, compare.interrupt)
    try:
        config.origin = compare.find_binary(config.origin, "REWIND_ORIGIN", "origin/rewind-origin", repo)
        config.bench = compare.find_binary(config.bench, "REWIND_BENCH", "tests/bench/rewind-bench", repo)
        config.server_core, config.load_core = compare.choose_cores(config)
        config.server_names = ["rewind"]  # for compare.check_tools
        compare.check_tools(config)
        hard = compare.raise_fd_limit()
        if hard < max(config.clients, config.publishers) + 100:
            warn("descriptor limit %d is low for %d clients: expect failed connections" % (
                hard, max(config.clients, config.publishers)))
        config.media = os.path.abspath(config.media or os.path.join(os.path.dirname(config.bench),
                                                                    compare.MEDIA_NAME))
        compare.ensure_media(config.media)
        config.media_duration_s = media_duration_s(config.media)
        config.tmp_dir = os.path.abspath(config.tmp_dir or tempfile.gettempdir())
        check_disk(config, config.tmp_dir)
        meta = machine_meta(config, repo)
        tmp_root = tempfile.mkdtemp(prefix="rewind-dvr-bench-", dir=config.tmp_dir)
        log("rewind-origin --threads 1 on core %s, load tools on core %s; data under %s" % (
            config.server_core, config.load_core, tmp_root))

        if not config.skip_seek:
            log("")
            log("a) seek latency: %d clients x %d seeks into %d x %.0f s of recording" % (
                config.clients, config.seeks, config.loops, config.media_duration_s))
            try:
                seek = run_seek(config, children, tmp_root)
                print_seek(seek)
            except SetupError as e:
                seek = {"part": "seek", "error": str(e)}
                log("  SEEK RUN FAILED: %s" % e)
                exit_status = 1
            if not config.keep_tmp:
                shutil.rmtree(os.path.join(tmp_root, "seek"), ignore_errors=True)

        if not config.skip_record:
            log("")
            log("b) recording cost: %d publishers, %g s windows, %d round(s), %s" % (
                config.publishers, config.duration, config.rounds,
                " and ".join(MODE_NAMES[m] for m in config.modes)))
            for round_number in range(1, config.rounds + 1):
                log("round %d/%d" % (round_number, config.rounds))
                # ABBA: alternate which goes first, so a drift of the
                # machine's speed over the run favours neither.
                order = config.modes if round_number % 2 else list(reversed(config.modes))
                for mode in order:
                    try:
                        record = run_record(config, children, tmp_root, mode, round_number)
                        print_record(record)
                    except SetupError as e:
                        record = {"part": "record", "mode": mode, "round": round_number, "error": str(e)}
                        log("  %s: RUN FAILED: %s" % (MODE_NAMES[mode], e))
                        exit_status = 1
                    records.append(record)
            rows, ratio = summarize_record(records)
        complete = True
    except SetupError as e:
        log("error: %s" % e)
        exit_status = 1
    except Interrupted as e:
        log("\ninterrupted (%s): stopping" % e)
        exit_status = 1
    finally:
        compare.clean_up(children, tmp_root, config.keep_tmp)

    if meta is not None:
        report = console_summary(config, seek, rows, ratio)
        if report:
            log(report)
        if (seek and seek.get("suspect")) or any(r.get("suspect") for r in records):
            log("\nSUSPECT runs: the machine was busy or the bench saturated its core; their figures are not to "
                "be trusted. Run again on a quiet machine.")
        if config.json:
            with open(config.json, "w") as f:
                json.dump({"meta": meta, "complete": complete, "seek": seek, "record_runs": records,
                           "summary": {"record_medians": rows, "record_ratio": ratio}}, f, indent=2)
                f.write("\n")
            log("wrote %s" % config.json)
        if config.markdown:
            with open(config.markdown, "w") as f:
                f.write(markdown_report(config, meta, seek, rows, ratio, records))
            log("wrote %s" % config.markdown)

    if config.smoke and exit_status == 0:
        problems = (seek or {}).get("problems", []) + [p for r in records for p in r.get("problems", [])]
        late = sum(r.get("late", 0) for r in records)
        if late:
            warn("%d publishers fell more than 1 s behind (a figure: not a smoke failure)" % late)
        if problems:
            for p in problems:
                log("SMOKE FAILED: %s" % p)
            exit_status = 2
        else:
            log("smoke: every seek landed in order, every client and publisher ran to the end, "
                "the recording is complete")
    return exit_status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
