#!/usr/bin/env python3
"""Side-by-side fan-out benchmark of rewind-origin and nginx-rtmp (issue 3).

One run of this script publishes the same pre-encoded 1 Mbit/s, 30 fps
H.264 + AAC file to each server in turn and plays it with rewind-bench at
several player counts. The server runs alone on one core (taskset), the
publisher and the load tool on the other. The servers take turns (Rewind,
nginx, Rewind, nginx...) over several rounds because this machine's speed
drifts; the summary shows each server's medians over the rounds and the
median of the per-round ratios Rewind/nginx.

    python3 tests/bench/compare.py                      # 500,1000,2000,3000 players, 3 rounds
    python3 tests/bench/compare.py --players 200,500 --rounds 1 --duration 10
    python3 tests/bench/compare.py --servers rewind --players 200 --rounds 1 --duration 10 --smoke

Exit status: 0 when every run completed; 1 when a run could not be made
(set-up error, a server that would not start or serve) or on Ctrl-C;
with --smoke, 2 when any player failed, was dropped or fell more than 1 s
behind live (never because of a CPU or time figure). See COMPARE.md.

Python 3 standard library only.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
APP = "live"
STREAM = "bench"
SERVERS = ("rewind", "nginx")
NGINX_RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
# nginx cannot raise its own limit past this here (no CAP_SYS_RESOURCE).
NGINX_MAX_NOFILE = 20000

# The test stream of issue 3: 1 Mbit/s, 30 fps, 2 s GOP, H.264 baseline + AAC.
MEDIA_NAME = "compare-1mbit-30fps-60s.flv"
MEDIA_ENCODE_ARGS = [
    "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
    "-f", "lavfi", "-i", "sine=frequency=1000",
    "-t", "60",
    "-c:v", "libx264", "-profile:v", "baseline", "-preset", "veryfast",
    "-b:v", "900k", "-maxrate", "1M", "-bufsize", "1M", "-g", "60", "-pix_fmt", "yuv420p",
    "-c:a", "aac", "-b:a", "96k",
]

# Someone else's processes using more than this (percent of one core) over
# a run, or the hypervisor stealing more than STEAL_LIMIT, make the run's
# figures suspect: the server shared its core or the machine was slowed.
OTHERS_LIMIT = 10.0
STEAL_LIMIT = 5.0
# The server at this much of its core is saturated: a result, not a fault
# of the measurement, but worth a note next to the figures.
SERVER_SATURATED = 95.0

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1


class SetupError(Exception):
    """A run could not be made: its numbers do not exist."""


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived."""


def log(message):
    print(message, flush=True)


def warn(message):
    print("WARNING: " + message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc


def process_ticks(pid):
    """utime + stime of a process in clock ticks (None once it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = text[text.rfind(")") + 1:].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def status_kb(pid, key):
    """A 'Key:   123 kB' line of /proc/PID/status, in KB (None if absent)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def machine_ticks():
    """(busy, steal) clock ticks of all cores from /proc/stat.

    Busy is user+nice+system+irq+softirq: without IRQ time accounting the
    kernel also charges softirq ticks to the process that was running, so
    this is the sum that per-process figures add up to."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return user + nice + system + irq + softirq, steal


def all_process_ticks():
    """{pid: (name, ticks)} of every process now: to name who else was busy."""
    snapshot = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    text = f.read()
            except OSError:
                continue
            name = text[text.find("(") + 1:text.rfind(")")]
            fields = text[text.rfind(")") + 1:].split()
            snapshot[int(entry)] = (name, int(fields[11]) + int(fields[12]))
    return snapshot


def ksoftirqd_pids():
    """The kernel threads that run network softirqs our load causes."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/comm" % entry) as f:
                    if f.read().startswith("ksoftirqd/"):
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


# ---------------------------------------------------------------- processes


def _die_with_parent():
    """Runs in the child before exec: if this script is killed outright
    (SIGKILL, a CI timeout), the kernel stops its servers too."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Children:
    """Every process this script starts, so that any exit path stops them."""

    def __init__(self):
        self.procs = []

    def start(self, args, log_path, core=None, stdout_path=None):
        if core is not None:
            args = ["taskset", "-c", str(core)] + args  # taskset execs: same pid
        with open(log_path, "ab") as err:
            out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
            try:
                # A session of its own: a Ctrl-C in the terminal reaches only
                # this script, which then stops the children in order.
                proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                        start_new_session=True, preexec_fn=_die_with_parent)
            finally:
                if stdout_path:
                    out.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc, timeout=15.0):
        """SIGTERM, wait, SIGKILL if needed. The exit status, None if killed."""
        killed = False
        if proc.returncode is None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                killed = True
        if proc in self.procs:
            self.procs.remove(proc)
        return None if killed else proc.returncode

    def stop_all(self):
        for proc in reversed(list(self.procs)):
            try:
                self.stop(proc, timeout=5.0)
            except OSError:
                pass


def wait_reaping(proc, timeout):
    """Waits for proc like Popen.wait, but returns its CPU seconds too
    (user + system, from wait4), which /proc cannot give after exit.
    Returns (exit status, cpu seconds), or (None, None) on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_utime + usage.ru_stime
        if time.monotonic() >= deadline:
            return None, None
        time.sleep(0.1)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_listening(proc, port, timeout, what, log_path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SetupError("%s exited with status %s:\n%s" % (what, proc.returncode, tail(log_path)))
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SetupError("%s did not listen on port %d within %.0f s:\n%s" % (what, port, timeout, tail(log_path)))


def tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip() or "(no output)"
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------- servers


class RewindServer:
    name = "rewind"

    def __init__(self, binary, extra_args):
        self.binary = binary
        self.extra_args = extra_args

    def start(self, children, run_dir, port, core):
        self.log_path = os.path.join(run_dir, "rewind-origin.log")
        args = [self.binary, "--threads", "1", "--listen", "%s:%d" % (HOST, port),
                "--data-dir", os.path.join(run_dir, "data"), "--http.listen", "off"] + self.extra_args
        proc = children.start(args, self.log_path, core)
        wait_listening(proc, port, 15, "rewind-origin", self.log_path)
        return proc


NGINX_CONF = """\
load_module {module};
worker_processes 1;
master_process off;
daemon off;
worker_rlimit_nofile {nofile};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections {nofile}; }}
rtmp {{
    access_log off;
    server {{
        listen {host}:{port};
        chunk_size 4096;
        application {app} {{ live on; }}
    }}
}}
"""


class NginxServer:
    name = "nginx"

    def __init__(self, nofile):
        self.nofile = nofile

    def start(self, children, run_dir, port, core):
        self.log_path = os.path.join(run_dir, "error.log")
        os.makedirs(os.path.join(run_dir, "logs"), exist_ok=True)
        conf = os.path.join(run_dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(module=NGINX_RTMP_MODULE, nofile=self.nofile, dir=run_dir,
                                      host=HOST, port=port, app=APP))
        args = ["nginx", "-c", conf, "-p", run_dir, "-e", self.log_path]
        proc = children.start(args, os.path.join(run_dir, "nginx.stderr"), core)
        wait_listening(proc, port, 15, "nginx", self.log_path)
        return proc


# ---------------------------------------------------------------- one run


def ensure_media(path):
    """The test file, encoded once and cached (never committed)."""
    if os.path.exists(path):
        return
    log("making the test media %s (once)..." % path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = "%s.%d.partial.flv" % (path, os.getpid())
    try:
        result = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error", "-y"] +
                                MEDIA_ENCODE_ARGS + ["-f", "flv", partial],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            raise SetupError("ffmpeg could not make the test media:\n" + result.stderr[-2000:])
        os.replace(partial, path)  # atomic: a parallel run never sees half a file
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def wait_playable(config, children, run_dir, url, publisher, timeout=30.0):
    """One player must get media before the load starts: the publisher is
    in, and the server has the stream's headers."""
    probe_log = os.path.join(run_dir, "probe.log")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if publisher.poll() is not None:
            raise SetupError("the publisher exited with status %s:\n%s" %
                             (publisher.returncode, tail(os.path.join(run_dir, "publisher.log"))))
        probe = children.start([config.bench, "play", "--url", url, "--clients", "1", "--duration", "1",
                                "--timeout", "5", "--report-interval", "0"],
                               probe_log, config.load_core, stdout_path=os.path.join(run_dir, "probe.out"))
        status, _ = wait_reaping(probe, 20)
        children.stop(probe)
        if status == 0:
            return
        time.sleep(0.5)
    raise SetupError("the stream was not playable within %.0f s; last probe:\n%s\n%s" %
                     (timeout, tail(os.path.join(run_dir, "probe.out")), tail(probe_log)))


def run_one(config, children, server, players, round_number, run_dir):
    """Starts server and publisher, plays `players` players, stops both.
    Returns the run's record (the bench's raw report plus ours)."""
    port = free_port()
    url = "rtmp://%s:%d/%s/%s" % (HOST, port, APP, STREAM)
    record = {"round": round_number, "server": server.name, "players": players, "url": url}
    server_proc = publisher = None
    try:
        server_proc = server.start(children, run_dir, port, config.server_core)
        record["server_pid"] = server_proc.pid
        publisher = children.start(["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "warning",
                                    "-re", "-stream_loop", "-1", "-i", config.media,
                                    "-c", "copy", "-f", "flv", url],
                                   os.path.join(run_dir, "publisher.log"), config.load_core)
        wait_playable(config, children, run_dir, url, publisher)
        # The server's memory with the stream but no players: RSS per player
        # is counted above this.
        record["baseline_rss_kb"] = status_kb(server_proc.pid, "VmRSS")

        report_path = os.path.join(run_dir, "bench.json")
        bench_args = [config.bench, "play", "--url", url, "--clients", str(players),
                      "--ramp", str(config.ramp), "--duration", str(config.duration),
                      "--server-pid", str(server_proc.pid), "--json", report_path]
        if config.bench_args:
            bench_args += config.bench_args
        record["bench_command"] = " ".join(shlex.quote(a) for a in bench_args)

        # Everything the machine does while the bench runs, to tell our own
        # load from someone else's.
        softirq_threads = ksoftirqd_pids()
        ours_before = {pid: process_ticks(pid) for pid in [server_proc.pid, publisher.pid] + softirq_threads}
        everyone_before = all_process_ticks()
        self_before = resource.getrusage(resource.RUSAGE_SELF)
        busy_before, steal_before = machine_ticks()
        started = time.monotonic()
        bench = children.start(bench_args, os.path.join(run_dir, "bench.stderr"), config.load_core,
                               stdout_path=os.path.join(run_dir, "bench.stdout"))
        limit = players / config.ramp + config.duration + 60
        status, bench_cpu_s = wait_reaping(bench, limit)
        if status is None:
            children.stop(bench, timeout=10)
            raise SetupError("rewind-bench did not finish within %.0f s" % limit)
        children.stop(bench)
        elapsed = time.monotonic() - started
        busy_after, steal_after = machine_ticks()
        self_after = resource.getrusage(resource.RUSAGE_SELF)
        ours_after = {pid: process_ticks(pid) for pid in ours_before}
        everyone_after = all_process_ticks()

        record["bench_exit"] = status
        if status not in (0, 2):  # 2: some players failed or fell behind, a result
            raise SetupError("rewind-bench exited with status %d:\n%s" %
                             (status, tail(os.path.join(run_dir, "bench.stderr"))))
        with open(report_path) as f:
            record["bench"] = json.load(f)
        with open(os.path.join(run_dir, "bench.stdout")) as f:
            record["bench_summary"] = f.read().strip()
        if server_proc.poll() is not None:
            raise SetupError("%s died during the run (status %s):\n%s" %
                             (server.name, server_proc.returncode, tail(server.log_path)))
        if publisher.poll() is not None:
            raise SetupError("the publisher died during the run:\n%s" %
                             tail(os.path.join(run_dir, "publisher.log")))

        def ticks_used(pid):
            before, after = ours_before.get(pid), ours_after.get(pid)
            return after - before if before is not None and after is not None else 0

        seconds = elapsed  # percentages are of one core over the bench's whole run
        self_cpu_s = (self_after.ru_utime + self_after.ru_stime) - (self_before.ru_utime + self_before.ru_stime)
        ours_s = (sum(ticks_used(pid) for pid in ours_before) / CLOCK_TICKS + bench_cpu_s + self_cpu_s)
        machine_s = (busy_after - busy_before) / CLOCK_TICKS
        record["load"] = {
            "seconds": round(elapsed, 3),
            "machine_cpu_percent": round(100 * machine_s / seconds, 1),
            "bench_cpu_percent": round(100 * bench_cpu_s / seconds, 1),
            "publisher_cpu_percent": round(100 * ticks_used(publisher.pid) / CLOCK_TICKS / seconds, 1),
            "softirq_threads_cpu_percent": round(
                100 * sum(ticks_used(pid) for pid in softirq_threads) / CLOCK_TICKS / seconds, 1),
            "others_cpu_percent": round(max(0.0, 100 * (machine_s - ours_s) / seconds), 1),
            "steal_percent": round(100 * (steal_after - steal_before) / CLOCK_TICKS / seconds, 1),
            "busiest_others": busiest_others(everyone_before, everyone_after, set(ours_before) | {os.getpid()},
                                             seconds),
        }
    finally:
        if publisher is not None:
            children.stop(publisher)
        if server_proc is not None:
            record["server_exit"] = children.stop(server_proc)
    derive_figures(record)
    return record


def busiest_others(before, after, ours, seconds, count=3):
    """The processes not ours that used the most CPU over the run, as
    "name pid percent". Processes that started and ended within the run
    (a compiler, say) count in others_cpu_percent but are not named here."""
    used = []
    for pid, (name, ticks) in after.items():
        if pid in ours or pid not in before or before[pid][0] != name:  # gone, new, or a reused pid
            continue
        percent = 100 * (ticks - before[pid][1]) / CLOCK_TICKS / seconds
        if percent >= 1:
            used.append((percent, name, pid))
    return ["%s (pid %d) %.0f%%" % (name, pid, percent) for percent, name, pid in sorted(used, reverse=True)[:count]]


def derive_figures(record):
    """The figures the tables show, flat, and the reasons to doubt them."""
    bench = record["bench"]
    server = bench.get("server") or {}
    players = record["players"]
    peak = server.get("peak_rss_kb") or server.get("rss_max_kb")
    baseline = record.get("baseline_rss_kb")
    figures = {
        "cpu_percent": server.get("cpu_percent"),
        "peak_rss_mb": peak / 1024 if peak else None,
        "kb_per_player": (peak - baseline) / players if peak and baseline and players else None,
        "connected": bench["connected"],
        "failed": bench["failed"],
        "closed": bench["closed"],
        "behind_1s": bench["behind_1s"],
        "lag_p50_ms": bench["lag_ms"]["max"]["p50"],
        "lag_p95_ms": bench["lag_ms"]["max"]["p95"],
        "lag_max_ms": bench["lag_ms"]["max"]["max"],
        "gap_p50_ms": bench["max_gap_ms"]["p50"],
        "gap_p95_ms": bench["max_gap_ms"]["p95"],
        "gap_max_ms": bench["max_gap_ms"]["max"],
        "mbit_s": bench["receive_mbit_s"],
    }
    if figures["cpu_percent"] is not None:
        figures["cpu_percent_per_1000"] = figures["cpu_percent"] * 1000 / players
    record["figures"] = figures

    load = record["load"]
    suspect = []
    if load["others_cpu_percent"] > OTHERS_LIMIT:
        named = load.get("busiest_others")
        suspect.append("machine busy: other processes used %.0f%% of a core%s" % (
            load["others_cpu_percent"], " (%s)" % ", ".join(named) if named else ""))
    if load["steal_percent"] > STEAL_LIMIT:
        suspect.append("hypervisor stole %.0f%% of a core" % load["steal_percent"])
    if bench.get("bench_saturated"):
        suspect.append("bench saturated its core (%.0f%%): lag and gaps partly its own" %
                       bench.get("bench_cpu_percent", 0))
    record["suspect"] = suspect

    problems = []
    if figures["connected"] < players or figures["failed"]:
        problems.append("%d failed" % max(figures["failed"], players - figures["connected"]))
    if figures["closed"]:
        problems.append("%d closed" % figures["closed"])
    if figures["behind_1s"]:
        problems.append("%d >1s behind" % figures["behind_1s"])
    record["player_problems"] = problems
    record["server_saturated"] = (figures["cpu_percent"] or 0) >= SERVER_SATURATED


# ---------------------------------------------------------------- summary


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(records, servers, player_counts):
    """Medians per (server, N) over the completed rounds, and the median of
    the per-round ratios Rewind/nginx per N."""
    done = [r for r in records if "figures" in r]
    rows = {}
    for n in player_counts:
        for name in servers:
            runs = [r for r in done if r["server"] == name and r["players"] == n]
            if not runs:
                continue
            keys = runs[0]["figures"].keys()
            row = {k: median([r["figures"].get(k) for r in runs]) for k in keys}
            row["rounds"] = len(runs)
            row["notes"] = row_notes(runs)
            rows[(name, n)] = row
    ratios = {}
    if "rewind" in servers and "nginx" in servers:
        for n in player_counts:
            pairs = {}
            for r in done:
                if r["players"] == n:
                    pairs.setdefault(r["round"], {})[r["server"]] = r
            cpu, rss, suspect = [], [], 0
            for runs in pairs.values():
                if "rewind" in runs and "nginx" in runs:
                    pair = {name: run["figures"] for name, run in runs.items()}
                    suspect += bool(runs["rewind"]["suspect"] or runs["nginx"]["suspect"])
                    if pair["rewind"]["cpu_percent"] is not None and pair["nginx"]["cpu_percent"]:
                        cpu.append(pair["rewind"]["cpu_percent"] / pair["nginx"]["cpu_percent"])
                    if pair["rewind"]["peak_rss_mb"] and pair["nginx"]["peak_rss_mb"]:
                        rss.append(pair["rewind"]["peak_rss_mb"] / pair["nginx"]["peak_rss_mb"])
            if cpu or rss:
                ratios[n] = {"cpu": median(cpu), "rss": median(rss), "rounds": max(len(cpu), len(rss)),
                             "suspect_rounds": suspect}
    return rows, ratios


def row_notes(runs):
    """Per-round remarks: suspect measurements, players in trouble."""
    notes = []
    for r in runs:
        remarks = []
        if r["suspect"]:
            remarks.append("SUSPECT: " + "; ".join(r["suspect"]))
        remarks += r["player_problems"]
        if r["server_saturated"]:
            remarks.append("server at %.0f%% of its core" % r["figures"]["cpu_percent"])
        if remarks:
            notes.append("r%d: %s" % (r["round"], ", ".join(remarks)))
    return notes


def fmt(value, digits=0):
    if value is None:
        return "-"
    return "%.*f" % (digits, value)


def triple(row, prefix):
    return "/".join(fmt(row["%s_%s_ms" % (prefix, k)]) for k in ("p50", "p95", "max"))


COLUMNS = [
    # header, width, cell
    ("server", 7, lambda row, name: name),
    ("CPU%", 6, lambda row, name: fmt(row["cpu_percent"], 1)),
    ("CPU%/1k", 7, lambda row, name: fmt(row.get("cpu_percent_per_1000"), 1)),
    ("RSS MB", 7, lambda row, name: fmt(row["peak_rss_mb"], 1)),
    ("KB/pl", 6, lambda row, name: fmt(row["kb_per_player"], 1)),
    ("conn", 5, lambda row, name: fmt(row["connected"])),
    ("fail", 4, lambda row, name: fmt(row["failed"])),
    ("closed", 6, lambda row, name: fmt(row["closed"])),
    (">1s", 4, lambda row, name: fmt(row["behind_1s"])),
    ("lag p50/p95/max ms", 18, lambda row, name: triple(row, "lag")),
    ("gap p50/p95/max ms", 18, lambda row, name: triple(row, "gap")),
    ("Mbit/s", 7, lambda row, name: fmt(row["mbit_s"], 1)),
]


def failed_runs(records):
    """One line per run that could not be made."""
    return ["round %d, %s, %d players: %s" % (r["round"], r["server"], r["players"], r["error"].splitlines()[0])
            for r in records if "error" in r]


def console_report(rows, ratios, servers, player_counts, records):
    out = []
    for n in player_counts:
        present = [name for name in servers if (name, n) in rows]
        if not present:
            continue
        out.append("")
        out.append("== %d players (median over %s) ==" %
                   (n, ", ".join("%s %d round%s" % (name, rows[(name, n)]["rounds"],
                                                     "" if rows[(name, n)]["rounds"] == 1 else "s")
                                 for name in present)))
        out.append("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w, _) in enumerate(COLUMNS)))
        for name in present:
            row = rows[(name, n)]
            out.append("  ".join(cell(row, name).rjust(w) if i else cell(row, name).ljust(w)
                                 for i, (_, w, cell) in enumerate(COLUMNS)))
        for name in present:
            for note in rows[(name, n)]["notes"]:
                out.append("  note %s %s" % (name, note))
    if ratios:
        out.append("")
        out.append("== Rewind / nginx (median of the per-round ratios) ==")
        out.append("players   CPU    RSS  rounds  suspect")
        for n in player_counts:
            if n in ratios:
                r = ratios[n]
                out.append("%7d  %5s  %5s  %6d  %7d" % (n, fmt(r["cpu"], 2), fmt(r["rss"], 2), r["rounds"],
                                                       r["suspect_rounds"]))
    failures = failed_runs(records)
    if failures:
        out.append("")
        out.append("== runs that could not be made (not in the medians) ==")
        out += ["  " + line for line in failures]
    return "\n".join(out)


def markdown_report(rows, ratios, servers, player_counts, meta, records):
    lines = [
        "| players | server | CPU % of a core | CPU % per 1000 players | peak RSS MB | KB per player "
        "| connected | failed | closed | >1 s behind | lag p50/p95/max ms | largest gap p50/p95/max ms "
        "| Mbit/s | rounds |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    notes = []
    for n in player_counts:
        for name in servers:
            row = rows.get((name, n))
            if row is None:
                continue
            mark = " (see notes)" if row["notes"] else ""
            lines.append("| %d | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |" % (
                n, name, mark, fmt(row["cpu_percent"], 1), fmt(row.get("cpu_percent_per_1000"), 1),
                fmt(row["peak_rss_mb"], 1), fmt(row["kb_per_player"], 1), fmt(row["connected"]),
                fmt(row["failed"]), fmt(row["closed"]), fmt(row["behind_1s"]), triple(row, "lag"),
                triple(row, "gap"), fmt(row["mbit_s"], 1), row["rounds"]))
            notes += ["- %d players, %s, %s" % (n, name, note) for note in row["notes"]]
    notes += ["- not in the medians: %s" % line for line in failed_runs(records)]
    if ratios:
        lines += ["", "| players | CPU Rewind/nginx | peak RSS Rewind/nginx | rounds | suspect rounds |",
                  "| ---: | ---: | ---: | ---: | ---: |"]
        for n in player_counts:
            if n in ratios:
                r = ratios[n]
                lines.append("| %d | %s | %s | %d | %d |" % (n, fmt(r["cpu"], 2), fmt(r["rss"], 2), r["rounds"],
                                                          r["suspect_rounds"]))
    lines += [
        "",
        "Medians over the rounds; ratios are the median of each round's Rewind/nginx ratio. "
        "Lag is each player's worst lag behind live, gap its largest silence between two messages "
        "(p50/p95/max over players). CPU is the server's over the %g s measuring window." % meta["duration_s"],
    ]
    if notes:
        lines += ["", "Notes:", ""] + notes
    lines += [
        "",
        "Run %s on %s (%s cores, Linux %s); Rewind %s; %s. %g s windows, %g players/s ramp; "
        "rewind-origin --threads 1%s; nginx one worker, chunk_size 4096.%s" % (
            meta["started"], meta["cpu_model"], meta["cpus"], meta["kernel"], meta["rewind_version"],
            meta["nginx_version"], meta["duration_s"], meta["ramp_per_s"],
            "".join(" " + shlex.quote(a) for a in meta["rewind_args"]),
            " rewind-bench play " + " ".join(shlex.quote(a) for a in meta["bench_args"]) + "."
            if meta["bench_args"] else ""),
        "",
        "```",
        meta["command"],
        "```",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- set-up


def find_binary(explicit, env_name, relative, repo):
    """--origin/--bench, then $REWIND_ORIGIN/$REWIND_BENCH, then build/,
    then the newest build-*/ (a warning says which)."""
    for path in (explicit, os.environ.get(env_name)):
        if path:
            if not os.access(path, os.X_OK):
                raise SetupError("%s is not an executable" % path)
            return os.path.abspath(path)
    default = os.path.join(repo, "build", relative)
    if os.access(default, os.X_OK):
        return default
    candidates = []
    for entry in os.listdir(repo):
        path = os.path.join(repo, entry, relative)
        if entry.startswith("build") and os.access(path, os.X_OK):
            candidates.append((os.path.getmtime(path), path))
    if not candidates:
        raise SetupError("no %s under %s/build: build it, or pass its path" % (relative, repo))
    path = max(candidates)[1]
    warn("no build/%s; using the newest one, %s" % (relative, path))
    return path


def run_text(args, cwd=None):
    try:
        result = subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (result.stdout + result.stderr).strip() if result.returncode == 0 else None


def host_meta(repo):
    """When, where and what ran: the command, the machine, the source commit."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = run_text(["git", "--no-optional-locks", "rev-parse", "--short", "HEAD"], cwd=repo)
    dirty = run_text(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"], cwd=repo)
    return {
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in ["python3"] + sys.argv),
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "rewind_version": (commit or "unknown commit") + (" with local changes" if dirty else ""),
    }


def machine_meta(config, repo):
    return {
        **host_meta(repo),
        "nginx_version": (run_text(["nginx", "-v"]) or "nginx not found").replace("nginx version: ", ""),
        "origin": config.origin,
        "bench": config.bench,
        "media": config.media,
        "players": config.player_counts,
        "rounds": config.rounds,
        "duration_s": config.duration,
        "ramp_per_s": config.ramp,
        "servers": config.server_names,
        "rewind_args": config.rewind_args,
        "bench_args": config.bench_args,
        "server_core": config.server_core,
        "load_core": config.load_core,
        "nofile": config.nofile,
    }


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def choose_cores(config):
    allowed = sorted(os.sched_getaffinity(0))
    if config.server_core is None and config.load_core is None:
        if len(allowed) < 2:
            warn("fewer than 2 cores: server and load share a core, the figures mean little")
            return None, None
        return allowed[0], allowed[1]
    return config.server_core, config.load_core


def check_tools(config):
    needed = ["ffmpeg"] + (["taskset"] if config.server_core is not None else [])
    if "nginx" in config.server_names:
        needed.append("nginx")
    missing = [t for t in needed if shutil.which(t) is None]
    if missing:
        raise SetupError("missing tools: %s (Debian packages ffmpeg, util-linux, nginx)" % ", ".join(missing))
    if "nginx" in config.server_names and not os.path.exists(NGINX_RTMP_MODULE):
        raise SetupError("%s is missing (Debian package libnginx-mod-rtmp)" % NGINX_RTMP_MODULE)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Side-by-side fan-out benchmark: rewind-origin vs nginx-rtmp (issue 3). See COMPARE.md.")
    p.add_argument("--players", default="500,1000,2000,3000", help="player counts, comma-separated")
    p.add_argument("--rounds", type=int, default=3, help="rounds; servers take turns in each (default 3)")
    p.add_argument("--duration", type=float, default=20, help="measuring window in seconds (default 20)")
    p.add_argument("--ramp", type=float, default=500, help="players started per second (default 500)")
    p.add_argument("--servers", default="rewind,nginx", help="rewind,nginx or either alone")
    p.add_argument("--rewind-args", default="", help='extra rewind-origin flags, e.g. "--player.write-interval-ms 50"')
    p.add_argument("--bench-args", default="", help='extra rewind-bench play flags, e.g. "--delayed-ack on"')
    p.add_argument("--origin", help="rewind-origin binary (default: $REWIND_ORIGIN, then build/)")
    p.add_argument("--bench", help="rewind-bench binary (default: $REWIND_BENCH, then build/)")
    p.add_argument("--media", help="test FLV to publish (default: made once next to rewind-bench)")
    p.add_argument("--json", metavar="OUT", help="write every raw run and the summary as JSON")
    p.add_argument("--markdown", metavar="OUT", help="write the summary as a Markdown table")
    p.add_argument("--keep-going", action="store_true", help="go on after a run that could not be made")
    p.add_argument("--smoke", action="store_true",
                   help="exit 2 if any player failed, was dropped or fell >1 s behind (for CI)")
    p.add_argument("--keep-tmp", action="store_true", help="keep the logs and data of every run")
    p.add_argument("--server-core", type=int, help="core for the server (default: the first allowed)")
    p.add_argument("--load-core", type=int, help="core for bench and publisher (default: the second)")
    config = p.parse_args(argv)
    try:
        # Each count once, in the order given.
        config.player_counts = list(dict.fromkeys(int(n) for n in config.players.split(",") if n.strip()))
    except ValueError:
        p.error("--players takes numbers, e.g. 500,1000")
    config.server_names = [s.strip() for s in config.servers.split(",") if s.strip()]
    if not config.player_counts or min(config.player_counts) < 1:
        p.error("--players needs at least one count above 0")
    if not config.server_names or any(s not in SERVERS for s in config.server_names):
        p.error("--servers takes rewind, nginx or both")
    if config.rounds < 1 or config.duration <= 0 or config.ramp <= 0:
        p.error("--rounds, --duration and --ramp must be above 0")
    if (config.server_core is None) != (config.load_core is None):
        p.error("give both --server-core and --load-core, or neither")
    config.rewind_args = shlex.split(config.rewind_args)
    config.bench_args = shlex.split(config.bench_args)
    return config


# ---------------------------------------------------------------- main


def print_run(record):
    f = record["figures"]
    line = ("  %s %5d players: CPU %5.1f%%  peak RSS %6.1f MB  conn/fail/closed %d/%d/%d  >1s %d  "
            "lag p95 %s ms  gap p50 %s ms  %.1f Mbit/s" % (
                record["server"].ljust(6), record["players"], f["cpu_percent"] or 0, f["peak_rss_mb"] or 0,
                f["connected"], f["failed"], f["closed"], f["behind_1s"], fmt(f["lag_p95_ms"]),
                fmt(f["gap_p50_ms"]), f["mbit_s"]))
    log(line)
    load = record["load"]
    log("      machine: bench %.0f%%, publisher %.0f%%, ksoftirqd %.0f%%, others %.0f%%, steal %.0f%%" % (
        load["bench_cpu_percent"], load["publisher_cpu_percent"], load["softirq_threads_cpu_percent"],
        load["others_cpu_percent"], load["steal_percent"]))
    for s in record["suspect"]:
        log("      SUSPECT: %s" % s)
    if record["player_problems"]:
        log("      players: %s" % ", ".join(record["player_problems"]))
    if record.get("server_exit") != 0:
        log("      %s did not stop cleanly on SIGTERM (status %s)" % (record["server"], record.get("server_exit")))


def write_outputs(config, meta, records, rows, ratios, complete):
    if config.json:
        summary = {
            "medians": [dict(row, server=name, players=n) for (name, n), row in rows.items()],
            "ratios_rewind_over_nginx": [dict(r, players=n) for n, r in ratios.items()],
        }
        with open(config.json, "w") as f:
            json.dump({"meta": meta, "complete": complete, "runs": records, "summary": summary}, f, indent=2)
            f.write("\n")
        log("wrote %s" % config.json)
    if config.markdown and rows:
        with open(config.markdown, "w") as f:
            f.write(markdown_report(rows, ratios, config.server_names, config.player_counts, meta, records))
        log("wrote %s" % config.markdown)


def interrupt(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def clean_up(children, tmp_root, keep_tmp):
    """Stops every child and removes the runs' directory (unless kept),
    ignoring further signals so that a second Ctrl-C cannot cut it short."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    children.stop_all()
    if tmp_root:
        if keep_tmp:
            log("runs' logs and data kept in %s" % tmp_root)
        else:
            shutil.rmtree(tmp_root, ignore_errors=True)


def main(argv):
    config = parse_args(argv)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    children = Children()
    records = []
    meta = None
    rows, ratios = {}, {}
    tmp_root = None
    exit_status = 0
    complete = False
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
    try:
        config.origin = find_binary(config.origin, "REWIND_ORIGIN", "origin/rewind-origin", repo) \
            if "rewind" in config.server_names else None
        config.bench = find_binary(config.bench, "REWIND_BENCH", "tests/bench/rewind-bench", repo)
        config.server_core, config.load_core = choose_cores(config)
        check_tools(config)
        hard = raise_fd_limit()
        config.nofile = min(hard, NGINX_MAX_NOFILE)
        needed = max(config.player_counts) + 100
        if hard < needed:
            warn("descriptor limit %d is below %d players: expect failed connections" % (hard, needed))
        config.media = os.path.abspath(config.media or os.path.join(os.path.dirname(config.bench), MEDIA_NAME))
        ensure_media(config.media)
        meta = machine_meta(config, repo)
        tmp_root = tempfile.mkdtemp(prefix="rewind-compare-")

        servers = {"rewind": RewindServer(config.origin, config.rewind_args),
                   "nginx": NginxServer(config.nofile)}
        log("servers %s on core %s, bench and publisher on core %s; %s players, %d round(s), %g s window" % (
            ",".join(config.server_names), config.server_core, config.load_core,
            ",".join(map(str, config.player_counts)), config.rounds, config.duration))
        for round_number in range(1, config.rounds + 1):
            log("")
            log("round %d/%d" % (round_number, config.rounds))
            for players in config.player_counts:
                for name in config.server_names:
                    run_dir = os.path.join(tmp_root, "r%d-%d-%s" % (round_number, players, name))
                    os.makedirs(run_dir)
                    try:
                        record = run_one(config, children, servers[name], players, round_number, run_dir)
                        print_run(record)
                    except SetupError as e:
                        record = {"round": round_number, "server": name, "players": players, "error": str(e)}
                        log("  %s %5d players: RUN FAILED: %s" % (name.ljust(6), players, e))
                        if config.keep_tmp:
                            log("  (logs in %s)" % run_dir)
                        exit_status = 1
                        records.append(record)
                        if not config.keep_going:
                            raise
                        continue
                    records.append(record)
                    if not config.keep_tmp:
                        shutil.rmtree(run_dir, ignore_errors=True)
        complete = True
    except SetupError as e:
        if not records or "error" not in records[-1]:
            log("error: %s" % e)
        exit_status = 1
    except Interrupted as e:
        log("\ninterrupted (%s): stopping" % e)
        exit_status = 1
    finally:
        clean_up(children, tmp_root, config.keep_tmp)

    if meta is not None:
        rows, ratios = summarize(records, config.server_names, config.player_counts)
        report = console_report(rows, ratios, config.server_names, config.player_counts, records)
        if report:
            log(report)
        if any(r.get("suspect") for r in records):
            log("\nSUSPECT runs: the machine was busy or the bench saturated its core; "
                "their figures (notes above) are not to be trusted. Run again on a quiet machine.")
        write_outputs(config, meta, records, rows, ratios, complete)

    if config.smoke and exit_status == 0:
        troubled = [r for r in records if r.get("player_problems")]
        if troubled:
            for r in troubled:
                log("SMOKE FAILED: %s, %d players, round %d: %s" % (
                    r["server"], r["players"], r["round"], ", ".join(r["player_problems"])))
            exit_status = 2
        else:
            log("smoke: every player connected, played to the end and stayed within 1 s of live")
    return exit_status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
