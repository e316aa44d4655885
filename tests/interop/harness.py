"""Start and stop the server under test and real clients, on loopback, with
temporary directories and captured logs. Tests wait on events (log lines,
messages, process exits), not on sleeps.

The server under test is rewind-origin (binary in $REWIND_ORIGIN) unless
REWIND_TEST_SERVER says otherwise: "chain" runs origin <- relay <- edge
($REWIND_RELAY, $REWIND_EDGE), publishers at the origin and players at the
edge; "nginx" runs nginx-rtmp instead, a baseline that shows whether a
failing check is the server's fault or the test's.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from rtmp_client import PlayerThread

SERVER_KIND = os.environ.get("REWIND_TEST_SERVER", "origin")
# The server under test was built with ASan and UBSan: its memory use is
# not what a user's build would use (freed memory sits in quarantine).
SANITIZED = os.environ.get("REWIND_TEST_SANITIZED") == "1"
HOST = "127.0.0.1"

# The test stream of the issue: H.264 baseline 30 fps with a 2 s GOP, AAC.
FFMPEG_PUBLISH_ARGS = [
    "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
    "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100",
    "-c:v", "libx264", "-profile:v", "baseline", "-preset", "veryfast", "-tune", "zerolatency",
    "-b:v", "900k", "-g", "60", "-pix_fmt", "yuv420p",
    "-c:a", "aac", "-b:a", "96k",
]


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Poll predicate until it returns something true; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class LogCapture:
    """Collects a process's output lines (in memory and in a file) so tests
    can wait for a line to appear."""

    def __init__(self, stream, path):
        self.lines = []
        self.cond = threading.Condition()
        self.file = open(path, "w", encoding="utf-8", errors="replace")
        self.thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self.thread.start()

    def _pump(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.lines.append(line)
                self.file.write(line + "\n")
                self.file.flush()
                self.cond.notify_all()
        stream.close()
        with self.cond:
            self.file.close()
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.lines)

    def text(self, since=0):
        with self.cond:
            return "\n".join(self.lines[since:])

    def find(self, pattern, since=0):
        regex = re.compile(pattern)
        with self.cond:
            for line in self.lines[since:]:
                m = regex.search(line)
                if m:
                    return m
        return None

    def wait(self, pattern, timeout=10.0, since=0):
        """The first match of pattern in a line at index >= since."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        index = since
        with self.cond:
            while True:
                while index < len(self.lines):
                    m = regex.search(self.lines[index])
                    index += 1
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = "\n".join(self.lines[-25:])
                    raise TimeoutError("no log line matching %r within %.1f s; last lines:\n%s" %
                                       (pattern, timeout, tail))
                self.cond.wait(left)

    def tail(self, n=40):
        with self.cond:
            return "\n".join(self.lines[-n:])


class Server:
    """Common interface of the servers under test."""

    kind = "?"
    is_origin = False

    def __init__(self, workdir, extra_args=(), max_files=None):
        self.workdir = workdir
        self.extra_args = list(extra_args)
        # RLIMIT_NOFILE of the server process (None: inherited).
        self.max_files = max_files
        self.proc = None
        self.log = None
        self.port = None
        # Where it listens, and what runs it (["ip", "netns", "exec", NS]
        # puts it on a host of its own).
        self.host = HOST
        self.prefix = []

    def url(self, name="test", app="live"):
        return "rtmp://%s:%d/%s/%s" % (self.host, self.port, app, name)

    def publish_url(self, name="test", app="live"):
        """Where publishers publish (the origin of a chain)."""
        return self.url(name, app)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def mark(self):
        return self.log.mark()

    def wait_log(self, pattern, timeout=10.0, since=0):
        return self.log.wait(pattern, timeout, since)

    def stop(self, timeout=15.0):
        """SIGTERM; the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self.log.thread.join(5)
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # Log patterns of events tests wait for (None: the server logs no such line).
    def publish_pattern(self, name):
        raise NotImplementedError

    def wait_publishing(self, name, timeout=15.0, since=0):
        return self.wait_log(self.publish_pattern(name), timeout, since)


class RewindServer(Server):
    """rewind-origin, rewind-relay or rewind-edge (binary in $REWIND_ORIGIN,
    $REWIND_RELAY, $REWIND_EDGE), listening on a free port, logging at
    debug into LABEL.log in the work directory."""

    kind = "origin"
    is_origin = True
    binary_env = "REWIND_ORIGIN"
    label = "origin"

    def start(self, port=0):
        binary = os.environ.get(self.binary_env)
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError("set %s to the rewind-%s binary (got %r)" % (self.binary_env, self.kind, binary))
        # HTTP on a free port too (tests run in parallel); a later
        # --http.listen in extra_args wins.
        args = self.prefix + [binary, "--listen", "%s:%d" % (self.host, port), "--data-dir", self.data_dir,
                              "--http.listen", "%s:0" % self.host, "--log-level", "debug"] + self.extra_args
        def limit_files():
            if self.max_files:
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE, (self.max_files, self.max_files))

        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=limit_files)
        # A restart (same data dir, after kill()) logs to a file of its own.
        self.starts = getattr(self, "starts", 0) + 1
        log_name = "%s.log" % self.label if self.starts == 1 else "%s-%d.log" % (self.label, self.starts)
        self.log = LogCapture(self.proc.stderr, os.path.join(self.workdir, log_name))
        m = self.wait_log(r"listening on [\d.]+:(\d+)", timeout=15)
        self.port = int(m.group(1))
        # Logged before the RTMP line (or not at all with --http.listen off).
        m = self.log.find(r"health checks on [\d.]+:(\d+)")
        self.http_port = int(m.group(1)) if m else None

    def http_url(self, path="/"):
        """http://HOST:PORT/path of its HTTP port (metrics, admin API)."""
        return "http://%s:%d%s" % (self.host, self.http_port, path)

    def publish_pattern(self, name):
        return r"stream=%s publish\b" % re.escape(name)

    def pid(self):
        return self.proc.pid

    @property
    def data_dir(self):
        """The --data-dir it runs with (the origin's DVR store lives there)."""
        return os.path.join(self.workdir, "data" if self.label == "origin" else self.label + "-data")


class OriginServer(RewindServer):
    pass


class ProxyServer(RewindServer):
    """A relay or an edge pulling from the given upstream URLs."""

    is_origin = False

    def __init__(self, workdir, role, upstreams=(), extra_args=(), label=None):
        super().__init__(workdir, [a for u in upstreams for a in ("--upstream", u)] + list(extra_args))
        self.kind = role
        self.binary_env = "REWIND_" + role.upper()
        self.label = label or role

    def publish_pattern(self, name):
        return r"ProxyStream\.Proxy\.Start app=\S+ stream=%s\b" % re.escape(name)


class ChainServer(Server):
    """A 3-tier chain, origin <- relay <- edge, as one server under test
    (REWIND_TEST_SERVER=chain): publishers publish to the origin, players
    play from the edge, so every check of a test runs two hops from the
    publisher."""

    kind = "chain"
    is_origin = True

    def __init__(self, workdir, origin_args=(), max_files=None):
        super().__init__(workdir)
        self.origin = OriginServer(workdir, origin_args, max_files)
        self.relay = None
        self.edge = None

    def start(self):
        self.origin.start()
        self.relay = ProxyServer(self.workdir, "relay", ["rtmp://%s:%d" % (HOST, self.origin.port)])
        self.relay.start()
        self.edge = ProxyServer(self.workdir, "edge", ["rtmp://%s:%d" % (HOST, self.relay.port)])
        self.edge.start()
        self.port = self.edge.port
        self.log = self.edge.log

    def servers(self):
        return [s for s in (self.edge, self.relay, self.origin) if s is not None]

    def publish_url(self, name="test", app="live"):
        return self.origin.url(name, app)

    def alive(self):
        return all(s.alive() for s in self.servers())

    def stop(self, timeout=15.0):
        codes = [s.stop(timeout) for s in self.servers()]
        for code in codes:
            if code != 0:
                return code
        return 0

    def kill(self):
        for s in self.servers():
            s.kill()

    def wait_publishing(self, name, timeout=15.0, since=0):
        return self.origin.wait_publishing(name, timeout, since)

    def publish_pattern(self, name):
        return self.origin.publish_pattern(name)

    def pid(self):
        return self.edge.pid()

    @property
    def data_dir(self):
        return self.origin.data_dir


NGINX_CONF = """\
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 4096;
error_log stderr info;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
rtmp {{
    access_log off;
    server {{
        listen {host}:{port};
        chunk_size 4096;
        application live {{ live on; publish_notify on; }}
    }}
}}
"""


class NginxServer(Server):
    kind = "nginx"

    def start(self):
        self.port = free_port()
        os.makedirs(os.path.join(self.workdir, "logs"), exist_ok=True)
        conf = os.path.join(self.workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.workdir, host=HOST, port=self.port))
        self.proc = subprocess.Popen(["nginx", "-e", "stderr", "-c", conf, "-p", self.workdir],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.log = LogCapture(self.proc.stderr, os.path.join(self.workdir, "nginx.log"))

        def listening():
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited: %s" % self.log.tail())
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return True
            except OSError:
                return False

        wait_until(listening, 15, what="nginx to listen")

    def publish_pattern(self, name):
        return r"publish: name='%s'" % re.escape(name)

    def pid(self):
        return self.proc.pid


def make_server(workdir, origin_args=(), max_files=None):
    if SERVER_KIND == "nginx":
        return NginxServer(workdir)
    if SERVER_KIND == "chain":
        return ChainServer(workdir, origin_args, max_files)
    if SERVER_KIND != "origin":
        raise RuntimeError("REWIND_TEST_SERVER must be origin, chain or nginx, not %r" % SERVER_KIND)
    return OriginServer(workdir, origin_args, max_files)


def origin_only(reason):
    """Skip a test that checks behaviour only rewind-origin promises."""
    return unittest.skipIf(SERVER_KIND != "origin", "not checked against %s: %s" % (SERVER_KIND, reason))


class Process:
    """A client process (ffmpeg, rtmpdump, ...) with its output in a file."""

    def __init__(self, args, workdir, label):
        self.args = args
        self.label = label
        self.stderr_path = os.path.join(workdir, label + ".stderr")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._stderr)
        self.stdout = b""
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    def _read_stdout(self):
        self.stdout = self.proc.stdout.read()
        self.proc.stdout.close()

    def alive(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError("%s still running after %.1f s:\n%s" % (self.label, timeout, self.stderr_tail()))
        self._reader.join(5)
        self._stderr.close()
        return rc

    def interrupt(self, timeout=10.0):
        """SIGINT (ffmpeg and rtmpdump finish their output on it); the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.wait(timeout)
        except TimeoutError:
            self.kill()
            raise

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()

    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr_tail(self, n=25):
        # Without rtmpdump's progress lines ("1234.5 kB / 9.66 sec").
        lines = [l for l in self.stderr_text().splitlines() if not re.match(r"^[\d.]+ kB / [\d.]+ sec", l)]
        return "\n".join(lines[-n:])


def export_binary():
    """rewind-export (ctest sets REWIND_EXPORT), or None."""
    binary = os.environ.get("REWIND_EXPORT")
    return binary if binary and os.access(binary, os.X_OK) else None


def ffprobe_json(workdir, path, label, extra=("-show_format", "-show_streams")):
    """ffprobe's JSON about a file: (exit code, parsed output or None, stderr tail)."""
    import json
    probe = Process(["ffprobe", "-v", "error", *extra, "-of", "json", path], workdir, label)
    rc = probe.wait(60)
    try:
        out = json.loads(probe.stdout) if probe.stdout else None
    except ValueError:
        out = None
    return rc, out, probe.stderr_tail()


def start_publisher(workdir, url, label="publisher", duration=None):
    """ffmpeg publishing the issue's lavfi test stream to url."""
    args = ["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "info"] + FFMPEG_PUBLISH_ARGS
    if duration:
        args += ["-t", str(duration)]
    args += ["-f", "flv", url]
    return Process(args, workdir, label)


class Job(threading.Thread):
    """A piece of a test scenario run in the background: fn(result) fills
    the result dict; an exception lands in result["error"] with its
    traceback, for the test method that looks at this job."""

    def __init__(self, name, fn):
        super().__init__(daemon=True, name=name)
        self.fn = fn
        self.result = {}

    def run(self):
        import traceback
        try:
            self.fn(self.result)
        except BaseException as e:  # reported by the test that reads the result
            self.result["error"] = "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())

    def finish(self, timeout):
        self.join(timeout)
        if self.is_alive():
            self.result.setdefault("error", "job %s still running after %.0f s" % (self.name, timeout))
        return self.result


def cpu_seconds(pid):
    """User plus system CPU time a process has used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak_rss(pid):
    """Makes VmHWM start again from the current RSS (Linux >= 4.0)."""
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")


def peak_rss_kib(pid):
    """The highest RSS since the process started or reset_peak_rss()."""
    return _status_kib(pid, "VmHWM:")


def rss_kib(pid):
    """Resident set size of a process, in KiB."""
    return _status_kib(pid, "VmRSS:")


def _status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def make_workdir(label):
    """A test class's directory, under $REWIND_TEST_TMP when set."""
    base = os.environ.get("REWIND_TEST_TMP") or None
    if base:
        os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(prefix="rewind-interop-%s-" % label, dir=base)


class NotesFailures(unittest.TestCase):
    """Sets the class's `failed` when one of its tests fails or errs, so
    that its tearDownClass keeps the work directory and shows the logs."""

    failed = False

    def setUp(self):
        self.addCleanup(self._note_failure)

    def _note_failure(self):
        result = getattr(self._outcome, "result", None)
        if any(t is self for t, _ in list(getattr(result, "failures", [])) + list(getattr(result, "errors", []))):
            type(self).failed = True


class ServerTestCase(unittest.TestCase):
    """One server for the whole class, stopped with SIGTERM at the end: a
    clean exit (code 0) is part of what every class checks."""

    origin_args = ()
    origin_max_files = None  # RLIMIT_NOFILE for the origin

    @classmethod
    def setUpClass(cls):
        cls.workdir = make_workdir(cls.__name__)
        cls.failed = False
        cls.processes = []
        cls.players = []
        cls.server = make_server(cls.workdir, cls.origin_args, cls.origin_max_files)
        try:
            cls.server.start()
            cls.setUpClients()
        except BaseException:
            # unittest skips tearDownClass when setUpClass fails.
            cls.failed = True
            cls._stop_clients()
            cls.server.kill()
            sys.stderr.write("\n[%s] set-up failed; kept %s\n" % (cls.__name__, cls.workdir))
            raise

    @classmethod
    def setUpClients(cls):
        """Publishers and players the whole class shares."""

    @classmethod
    def _stop_clients(cls):
        for p in cls.players:
            p.stop()
        for p in cls.processes:
            p.kill()

    @classmethod
    def tearDownClass(cls):
        cls._stop_clients()
        alive_before_stop = cls.server.alive()
        rc = cls.server.stop()
        problem = None
        if not alive_before_stop:
            problem = "the server died during the tests (exit code %s)" % rc
        elif rc != 0:
            problem = "the server did not exit cleanly on SIGTERM: exit code %s" % rc
        if problem or cls.failed or os.environ.get("REWIND_TEST_KEEP"):
            sys.stderr.write("\n[%s] kept %s; server log tail:\n%s\n" % (cls.__name__, cls.workdir,
                                                                       cls.server.log.tail(30)))
        else:
            shutil.rmtree(cls.workdir, ignore_errors=True)
        if problem:
            raise AssertionError(problem)

    def tearDown(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return
        # Python 3.11 reports a failed assertion straight to the result and
        # leaves outcome.success True until after tearDown: look at both.
        result = getattr(outcome, "result", None)
        failed_here = any(test is self for test, _ in
                          list(getattr(result, "failures", [])) + list(getattr(result, "errors", [])))
        if failed_here or not outcome.success:
            type(self).failed = True

    # Helpers for tests.

    @classmethod
    def start_publisher(cls, name="test", label=None, duration=None, app="live"):
        p = start_publisher(cls.workdir, cls.server.publish_url(name, app), label or "publisher-" + name, duration)
        cls.processes.append(p)
        return p

    @classmethod
    def start_player(cls, name="test", wait_video_frames=30, timeout=15):
        """A raw-client player in a thread (see rtmp_client.PlayerThread),
        started and, by default, waited on until it received some video."""
        player = PlayerThread(HOST, cls.server.port, name)
        cls.players.append(player)
        player.start()
        if wait_video_frames:
            wait_until(lambda: player.video_count() >= wait_video_frames or player.error, timeout,
                       what="%d video frames at a player of %s" % (wait_video_frames, name))
            if player.error:
                raise AssertionError("player of %s failed: %s" % (name, player.error))
        return player

    @classmethod
    def start_process(cls, args, label):
        p = Process(args, cls.workdir, label)
        cls.processes.append(p)
        return p

    def assertServerAlive(self):
        self.assertTrue(self.server.alive(), "the server died: %s" % self.server.log.tail())
