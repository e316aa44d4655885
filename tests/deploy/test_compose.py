"""deploy/ for real (issue 9): build the image from deploy/Dockerfile and bring
deploy/docker-compose.yml up with podman and docker-compose, as a user with
Docker would with `docker compose up`, then publish with ffmpeg into the
origin container, play and seek at the edge container, and scrape the edge
and the compose file's Prometheus.

No Docker engine runs here and no registry can be pulled from, so:
- podman serves the Docker API on a socket of the test's own, with runc;
- the base images debian:bookworm and debian:bookworm-slim are made with
  debootstrap (once per machine: podman keeps them) from the same Debian
  mirror the host uses;
- prom/prometheus is stood in for by an image of Debian's prometheus
  package under the same name (tests/deploy/prometheus.Containerfile);
- Grafana is not started (deploy/grafana is checked by
  tests/interop/test_observe.py).

Needs root, podman, runc, docker-compose, debootstrap and the CNI dnsname
plugin (scripts/lib.sh installs them). The host's ports 1935-1938,
8935-8938 and 9090 must be free (ctest runs this test alone).
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(REPO, "deploy")
HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = "rewindtest"
SERVICES = ["origin", "origin-backup", "relay", "edge", "prometheus"]
FFMPEG_ARGS = ["-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i",
               "sine=frequency=1000", "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "50",
               "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k"]


def log(text):
    print("[compose] " + text, flush=True)


def run(args, timeout=600, env=None, check=True, quiet=False):
    started = time.monotonic()
    proc = subprocess.run(args, capture_output=True, timeout=timeout, env=env)
    took = time.monotonic() - started
    if not quiet or proc.returncode != 0:
        log("%s: exit %d in %.1f s" % (" ".join(args[:4]), proc.returncode, took))
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (" ".join(args), proc.returncode,
                                                          proc.stdout.decode()[-3000:], proc.stderr.decode()[-3000:]))
    return proc


def http(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except OSError:
        return 0, ""


def wait_until(predicate, timeout, what, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


def debian_mirror():
    """The mirror the host's apt uses (a container must use it too)."""
    for path in ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        m = re.search(r"^URIs:\s*(\S+)", text, re.M) or re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\b",
                                                                 text, re.M)
        if m:
            return m.group(1)
    return "http://deb.debian.org/debian"


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise AssertionError("the compose test needs root (podman's networks)")
        cls.tmp = tempfile.mkdtemp(prefix="rewind-compose-")
        conf = os.path.join(cls.tmp, "containers.conf")
        with open(conf, "w") as f:
            # runc (crun is not installed); the server needs descriptors.
            f.write('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n'
                    '[engine]\nruntime = "runc"\n')
        cls.env = dict(os.environ, CONTAINERS_CONF=conf)
        cls.sock = os.path.join(cls.tmp, "podman.sock")
        cls.service = subprocess.Popen(["podman", "system", "service", "--time=0", "unix://" + cls.sock],
                                       env=cls.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(cls.sock), 20, "podman's API socket")
        cls.compose_env = dict(cls.env, DOCKER_HOST="unix://" + cls.sock, COMPOSE_PROJECT_NAME=PROJECT)
        cls.up = False
        try:
            cls.base_images()
            cls.prometheus_image()
            cls.build_and_up()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def podman(cls, *args, **kw):
        return run(["podman", *args], env=cls.env, **kw)

    @classmethod
    def compose(cls, *args, **kw):
        return run(["docker-compose", "-f", os.path.join(DEPLOY, "docker-compose.yml"), *args],
                   env=cls.compose_env, **kw)

    @classmethod
    def image_exists(cls, name):
        return cls.podman("image", "exists", name, check=False, quiet=True).returncode == 0

    @classmethod
    def base_images(cls):
        """debian:bookworm and debian:bookworm-slim, made with debootstrap."""
        names = ["docker.io/library/debian:bookworm", "docker.io/library/debian:bookworm-slim"]
        if all(cls.image_exists(n) for n in names):
            return
        rootfs = os.path.join(cls.tmp, "rootfs")
        mirror = debian_mirror()
        log("debootstrap bookworm from %s" % mirror)
        run(["debootstrap", "--variant=minbase", "bookworm", rootfs, mirror], timeout=900)
        # The host's apt sources and settings: the image's build installs
        # the same package versions as the host's (the compiler above all,
        # so that the host build's compiler cache serves the image's
        # build), from a mirror that a snapshot may need settings for.
        for name in os.listdir("/etc/apt/apt.conf.d"):
            if "artifact" in name or "proxy" in name.lower():
                shutil.copy(os.path.join("/etc/apt/apt.conf.d", name), os.path.join(rootfs, "etc/apt/apt.conf.d"))
        if os.path.isdir("/etc/apt/sources.list.d") and os.listdir("/etc/apt/sources.list.d"):
            for name in os.listdir("/etc/apt/sources.list.d"):
                shutil.copy(os.path.join("/etc/apt/sources.list.d", name),
                            os.path.join(rootfs, "etc/apt/sources.list.d"))
            os.remove(os.path.join(rootfs, "etc/apt/sources.list"))
        elif os.path.exists("/etc/apt/sources.list"):
            shutil.copy("/etc/apt/sources.list", os.path.join(rootfs, "etc/apt/sources.list"))
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(["podman", "import", "-", names[0]], stdin=tar.stdout, capture_output=True,
                                  env=cls.env, timeout=600)
        tar.wait()
        if imported.returncode != 0:
            raise AssertionError("podman import: %s" % imported.stderr.decode())
        cls.podman("tag", names[0], names[1])
        shutil.rmtree(rootfs, ignore_errors=True)

    @classmethod
    def prometheus_image(cls):
        name = "docker.io/prom/prometheus:v2.42.0"
        if cls.image_exists(name):
            return
        cls.podman("build", "-f", os.path.join(HERE, "prometheus.Containerfile"), "-t", name, HERE, timeout=900)

    @classmethod
    def build_and_up(cls):
        cls.compose("config", "--quiet", timeout=60)
        cls.compose("down", "-v", "--remove-orphans", check=False, quiet=True)
        # What `docker compose up` does first: the image, from source, with
        # the compose file's context and Dockerfile. podman build rather
        # than compose's, for one thing compose cannot pass: the host
        # Release build's compiler cache, which the Dockerfile's cache
        # mount then uses (only what differs is compiled).
        args = ["build", "-f", os.path.join(DEPLOY, "Dockerfile"), "-t", "rewind:latest"]
        ccache = os.environ.get("REWIND_CCACHE_DIR")
        if ccache and os.path.isdir(ccache):
            args += ["-v", "%s:/ccache" % ccache]
        build = cls.podman(*args, REPO, timeout=2400)
        log("image built; compiler cache: %s" % "; ".join(
            l.strip() for l in build.stdout.decode().splitlines() if re.match(r"\s*(Hits|Misses):", l)))
        cls.up = True
        cls.compose("up", "-d", "--no-build", *SERVICES, timeout=600)
        for port in (8935, 8936, 8937, 8938):
            wait_until(lambda port=port: http("http://127.0.0.1:%d/healthz" % port)[0] == 200, 60,
                       "HTTP port %d" % port)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "up", False):
            logs = cls.compose("logs", "--no-color", "--tail", "30", check=False, quiet=True)
            if getattr(cls, "failed", False) or os.environ.get("REWIND_TEST_KEEP"):
                log("service logs:\n" + logs.stdout.decode()[-8000:])
            cls.compose("down", "-v", "--remove-orphans", check=False, timeout=300)
        if getattr(cls, "service", None):
            cls.service.terminate()
            cls.service.wait(20)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def tearDown(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is not None and not outcome.success:
            type(self).failed = True

    def test_chain_publish_play_seek_scrape(self):
        # The image is what the Dockerfile says: non-root, the volume, one
        # image for every role.
        inspect = json.loads(self.podman("image", "inspect", "rewind:latest", quiet=True).stdout)[0]
        config = inspect["Config"]
        self.assertEqual(config.get("User"), "rewind")
        self.assertIn("/var/lib/rewind", config.get("Volumes") or {})
        ps = self.compose("ps", quiet=True).stdout.decode()
        for service in SERVICES:
            self.assertRegex(ps, r"%s_%s_1\s.*Up" % (PROJECT, service))

        # Readiness: the relay and the edge reach their upstreams by
        # service name.
        for port in (8937, 8938):
            wait_until(lambda port=port: http("http://127.0.0.1:%d/readyz" % port)[0] == 200, 30,
                       "/readyz of port %d" % port)

        # Publish into the origin container (and the backup, as an encoder
        # feeding both does).
        workdir = self.tmp
        ffmpeg_log = open(os.path.join(workdir, "ffmpeg.log"), "wb")
        self.addCleanup(ffmpeg_log.close)
        publisher = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", *FFMPEG_ARGS, "-map", "0:v", "-map", "1:a", "-f", "tee",
             "[f=flv:onfail=ignore]rtmp://127.0.0.1:1935/live/cam|[f=flv:onfail=ignore]rtmp://127.0.0.1:1936/live/cam"],
            stdout=subprocess.DEVNULL, stderr=ffmpeg_log)
        try:
            wait_until(lambda: '"name":"cam"' in http("http://127.0.0.1:8935/api/v1/streams")[1], 30,
                       "the origin container to have the stream")
            # Live at the edge container.
            live = os.path.join(workdir, "live.flv")
            run(["timeout", "25", "rtmpdump", "--live", "-q", "-r", "rtmp://127.0.0.1:1938/live/cam", "-B", "4",
                 "-o", live], timeout=40, check=False)
            probe = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", live], timeout=30)
            codecs = sorted(s["codec_name"] for s in json.loads(probe.stdout)["streams"])
            self.assertEqual(codecs, ["aac", "h264"])

            # Rewind: seeks into the recording at the edge (through relay and
            # origin containers, segments fetched and cached on the way).
            wait_until(lambda: self.recorded_segments() >= 3, 40, "3 segments recorded at the origin")
            bench = os.environ.get("REWIND_BENCH")
            self.assertTrue(bench, "set REWIND_BENCH to the rewind-bench binary")
            seek = run([bench, "seek", "--url", "rtmp://127.0.0.1:1938/live/cam", "--clients", "4", "--seeks", "3",
                        "--range-ms", "4000", "--interval-ms", "300", "--timeout", "20", "--report-interval", "0",
                        "--json", "-"], timeout=180)
            # (The report is JSON lines: the summary first.)
            report = json.loads(seek.stdout.decode().splitlines()[0])
            log("seeks at the edge container: %s" % json.dumps(report)[:600])

            # Scrape the edge container, and Prometheus's view of the chain.
            status, metrics = http("http://127.0.0.1:8938/metrics")
            self.assertEqual(status, 200)
            self.assertIn('rewind_build_info{role="edge"', metrics)
            seeks = re.search(r'^rewind_dvr_seek_duration_seconds_count\{role="edge"\} (\S+)$', metrics, re.M)
            self.assertIsNotNone(seeks)
            self.assertGreaterEqual(float(seeks.group(1)), 12)
            self.assertRegex(metrics, r'rewind_proxy_upstream_up\{app="live",role="edge",upstream="rtmp://relay:1935"\} 1')
            fetched = re.search(r'^rewind_proxy_segment_fetches_total\{result="ok",role="edge"\} (\S+)$', metrics, re.M)
            self.assertGreater(float(fetched.group(1)), 0)

            def all_up():
                status, body = http("http://127.0.0.1:9090/api/v1/query?query=up")
                if status != 200:
                    return False
                results = json.loads(body)["data"]["result"]
                return len(results) == 4 and all(r["value"][1] == "1" for r in results)

            wait_until(all_up, 60, "Prometheus (the compose file's) to scrape every role by service name")
            status, body = http("http://127.0.0.1:9090/api/v1/query?query=sum+by+(role)+(rewind_players)")
            self.assertEqual(status, 200)
        finally:
            publisher.kill()
            publisher.wait()

    def recorded_segments(self):
        status, body = http("http://127.0.0.1:8935/api/v1/recordings")
        if status != 200:
            return 0
        recordings = json.loads(body)["recordings"]
        return max((r["segments"] for r in recordings if r["stream"] == "cam"), default=0)


if __name__ == "__main__":
    unittest.main()
