"""Watching the chain (issue 9): origin <- relay <- edge on loopback with a
real publisher (ffmpeg) and players, each role's HTTP port scraped by the
real Prometheus (Debian's package).

ObserveChainTest
  - `promtool check metrics` passes on every role's /metrics;
  - the admin API lists streams and clients with the right counts while
    players run, at every tier;
  - 20 viewers seeking to the same place at the edge make the edge's cache
    hits and seek counts rise, with few upstream fetches;
  - kicking a client needs the bearer token (401 without), and with it the
    client is disconnected while the others play on;
  - every PromQL expression of the Grafana dashboard returns data from that
    Prometheus, and the provisioning files agree with the compose file;
  - malformed, huge and slow HTTP requests get a 4xx (or are closed) and a
    log line, and the RTMP players do not notice.
ReadinessTest
  an edge whose upstream does not answer is alive (/healthz) but not ready
  (/readyz 503); one whose upstream listens is ready before any player.
"""

import http.client
import json
import os
import re
import socket
import subprocess
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import harness
from harness import HOST
from test_chain import ChainCase

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(REPO, "deploy")
TOKEN = "s3cret-token"


def http_get(url, timeout=5, headers=None, method="GET"):
    """(status, body) of a request; 4xx and 5xx answers included."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def get_json(url):
    status, body = http_get(url)
    if status != 200:
        raise AssertionError("%s: %d %s" % (url, status, body))
    return json.loads(body)


def metric(text, name, **labels):
    """The sum of the samples of `name` whose labels include `labels`."""
    total = None
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        m = re.match(r'^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total = (total or 0) + float(m.group(4))
    return total


class Prometheus:
    """Debian's prometheus, scraping the given HTTP ports every second."""

    def __init__(self, workdir, targets):
        self.dir = os.path.join(workdir, "prometheus")
        os.makedirs(self.dir, exist_ok=True)
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n")
            for job, port in targets:
                f.write("  - job_name: %s\n    static_configs:\n      - targets: ['%s:%d']\n" % (job, HOST, port))
        self.port = harness.free_port()
        self.process = harness.Process(
            ["prometheus", "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=%s:%d" % (HOST, self.port), "--log.level=warn"],
            workdir, "prometheus")
        def ready():
            if not self._alive():
                return True
            try:
                return http_get(self.url("/-/ready"), timeout=1)[0] == 200
            except OSError:  # not listening yet
                return False

        try:
            harness.wait_until(ready, 30, interval=0.2, what="Prometheus to be ready")
            if not self._alive():
                raise AssertionError("prometheus exited: %s" % self.process.stderr_tail())
        except BaseException:
            self.process.kill()  # the class never gets to stop it
            raise

    def _alive(self):
        return self.process.proc.poll() is None

    def url(self, path):
        return "http://%s:%d%s" % (HOST, self.port, path)

    def query(self, expr):
        """The result vector of an instant query."""
        answer = get_json(self.url("/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
        if answer.get("status") != "success":
            raise AssertionError("query %r: %s" % (expr, answer))
        return answer["data"]["result"]

    def stop(self):
        self.process.kill()


class ObserveChainTest(ChainCase):
    @classmethod
    def setUpChain(cls):
        cls.origin_server = cls.origin()
        cls.relay = cls.proxy("relay", [cls.origin_server])
        cls.edge = cls.proxy("edge", [cls.relay], args=["--http.api-token", TOKEN])
        cls.publish([cls.origin_server.url("cam")], label="ffmpeg")
        cls.origin_server.wait_publishing("cam", timeout=20)
        cls.viewers = [cls.player(cls.edge, "cam") for _ in range(3)]
        for v in cls.viewers:
            harness.wait_until(lambda v=v: v.video_count() > 10 or v.error, 20, what="a viewer at the edge")
            if v.error:
                raise AssertionError("viewer failed: %s" % v.error)
        cls.prometheus = Prometheus(cls.workdir, [("origin", cls.origin_server.http_port),
                                                  ("relay", cls.relay.http_port), ("edge", cls.edge.http_port)])
        # Every role scraped at least once.
        harness.wait_until(lambda: len([r for r in cls.prometheus.query("up") if r["value"][1] == "1"]) == 3,
                           20, interval=0.5, what="Prometheus to scrape all three roles")

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "prometheus", None):
            cls.prometheus.stop()
        super().tearDownClass()

    def scrape(self, server):
        status, text = http_get(server.http_url("/metrics"))
        self.assertEqual(status, 200)
        return text

    def test_1_promtool_accepts_every_roles_metrics(self):
        for server in (self.origin_server, self.relay, self.edge):
            text = self.scrape(server)
            check = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True,
                                   timeout=30)
            self.assertEqual(check.returncode, 0, "%s: promtool check metrics:\n%s%s" % (
                server.label, check.stdout.decode(), check.stderr.decode()))
            self.assertIn('rewind_build_info{role="%s"' % server.kind, text)

    def test_2_api_counts_streams_and_clients_at_every_tier(self):
        edge_clients = get_json(self.edge.http_url("/api/v1/clients"))["clients"]
        players = [c for c in edge_clients if c["type"] == "rtmp-play" and c["name"] == "cam"]
        self.assertEqual(len(players), 3, edge_clients)
        for c in players:
            self.assertEqual(c["vhost"], "__defaultVhost__")
            self.assertEqual(c["url"], "/live/cam")
            self.assertGreater(c["send_bytes"], 10000)
        [stream] = [s for s in get_json(self.edge.http_url("/api/v1/streams"))["streams"] if s["name"] == "cam"]
        self.assertEqual(stream["clients"], 3)
        self.assertTrue(stream["publish"]["active"])
        self.assertTrue(stream["publish"]["pulled"], "the edge's stream is published by its pull")
        self.assertEqual(stream["video"]["codec"], "H264")
        self.assertEqual(stream["audio"]["codec"], "AAC")

        origin_clients = get_json(self.origin_server.http_url("/api/v1/clients"))["clients"]
        self.assertEqual(sorted(c["type"] for c in origin_clients), ["fmle-publish", "rewind-pull"], origin_clients)
        [publisher] = [c for c in origin_clients if c["publish"]]
        self.assertGreater(publisher["recv_bytes"], 100000)
        [origin_stream] = get_json(self.origin_server.http_url("/api/v1/streams"))["streams"]
        self.assertEqual(origin_stream["publish"]["cid"], publisher["id"])
        self.assertFalse(origin_stream["publish"]["pulled"])
        relay_clients = get_json(self.relay.http_url("/api/v1/clients"))["clients"]
        self.assertEqual([c["type"] for c in relay_clients], ["rewind-pull"], "the edge, pulling")

        proxies = get_json(self.edge.http_url("/api/v1/proxies"))
        [pull] = proxies["proxies"]
        self.assertEqual((pull["stream"], pull["state"], pull["players"]), ("cam", "playing", 3))
        self.assertEqual(pull["code"], "ProxyStream.Proxy.Start")
        self.assertEqual(pull["upstream"], "rtmp://%s:%d" % (HOST, self.relay.port))
        self.assertEqual([(u["current"], u["ready"]) for u in proxies["upstreams"]], [(True, True)])
        [recording] = get_json(self.origin_server.http_url("/api/v1/recordings"))["recordings"]
        self.assertTrue(recording["live"])
        self.assertGreater(recording["bytes"], 0)

        # The metrics agree.
        text = self.scrape(self.edge)
        self.assertEqual(metric(text, "rewind_players", app="live"), 3)
        self.assertEqual(metric(text, "rewind_proxy_live_pulls", app="live"), 1)
        self.assertEqual(metric(self.scrape(self.origin_server), "rewind_publishers", app="live"), 1)
        self.assertEqual(metric(self.scrape(self.relay), "rewind_downstream_servers", app="live"), 1)

    def test_3_cache_hits_rise_when_20_viewers_seek_to_the_same_place(self):
        # A few segments recorded (2 s each), so that there is a past to seek into.
        harness.wait_until(lambda: get_json(self.origin_server.http_url("/api/v1/recordings"))["recordings"][0]
                           ["segments"] >= 4, 30, interval=0.5, what="4 segments recorded")
        before = self.scrape(self.edge)
        bench = os.environ.get("REWIND_BENCH")
        self.assertTrue(bench, "set REWIND_BENCH to the rewind-bench binary")
        run = subprocess.run([bench, "seek", "--url", self.edge.url("cam"), "--clients", "20", "--seeks", "3",
                              "--range-ms", "1500", "--interval-ms", "300", "--timeout", "15",
                              "--report-interval", "0", "--json", "-"], capture_output=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr.decode()[-2000:])
        after = self.scrape(self.edge)

        def delta(name, **labels):
            return (metric(after, name, **labels) or 0) - (metric(before, name, **labels) or 0)

        hits = delta("rewind_cache_requests_total", tier="memory", result="hit")
        fetches = delta("rewind_proxy_segment_fetches_total", result="ok")
        seeks = delta("rewind_dvr_seek_duration_seconds_count")
        coalesced = delta("rewind_cache_coalesced_waits_total")
        note = "hits +%d, coalesced +%d, fetches +%d, seeks +%d" % (hits, coalesced, fetches, seeks)
        self.assertGreaterEqual(seeks, 60, note)
        # 20 viewers x 3 seeks into the first 1.5 s read the first segment
        # (or two): each is fetched once, the other reads hit or wait for it.
        self.assertGreaterEqual(hits + coalesced, 50, note)
        self.assertLessEqual(fetches, 8, note)
        self.assertGreater(delta("rewind_cache_served_bytes_total"), delta("rewind_proxy_fetched_bytes_total"))
        # And Prometheus saw it.
        target = metric(after, "rewind_cache_requests_total", tier="memory", result="hit")
        harness.wait_until(lambda: any(float(r["value"][1]) >= target for r in self.prometheus.query(
            'rewind_cache_requests_total{role="edge",tier="memory",result="hit"}')), 10, interval=0.5,
            what="Prometheus to see the edge's cache hits")

    def test_4_kick_needs_the_token(self):
        victim, *others = self.viewers
        port = victim.client.sock.getsockname()[1]
        clients = get_json(self.edge.http_url("/api/v1/clients"))["clients"]
        [entry] = [c for c in clients if c["peer"].endswith(":%d" % port)]
        url = self.edge.http_url("/api/v1/clients/" + entry["id"])
        status, _ = http_get(url, method="DELETE")
        self.assertEqual(status, 401)
        status, _ = http_get(url, method="DELETE", headers={"Authorization": "Bearer wrong"})
        self.assertEqual(status, 401)
        status, _ = http_get(self.origin_server.http_url("/api/v1/clients/1"), method="DELETE",
                             headers={"Authorization": "Bearer " + TOKEN})
        self.assertEqual(status, 403, "the origin has no token: read-only")
        time.sleep(0.5)
        self.assertIsNone(victim.error, "not kicked without the token")
        since = self.edge.mark()
        status, body = http_get(url, method="DELETE", headers={"Authorization": "Bearer " + TOKEN})
        self.assertEqual(status, 200, body)
        self.edge.wait_log(r"conn=%s .*disconnect kicked by the admin API" % entry["id"], 5, since)
        harness.wait_until(lambda: victim.error is not None or not victim.is_alive(), 5,
                           what="the kicked player to lose its connection")
        counts = [o.video_count() for o in others]
        time.sleep(1.5)
        for o, n in zip(others, counts):
            self.assertIsNone(o.error)
            self.assertGreater(o.video_count(), n, "the other viewers play on")
        self.assertEqual(metric(self.scrape(self.edge), "rewind_disconnects_total", reason="kicked"), 1)

    def test_5_every_dashboard_query_returns_data(self):
        with open(os.path.join(DEPLOY, "grafana", "dashboards", "rewind.json")) as f:
            dashboard = json.load(f)
        exprs = []
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                self.assertEqual(target["datasource"]["uid"], "prometheus", panel["title"])
                exprs.append((panel["title"], target["expr"]))
        self.assertGreater(len(exprs), 20)
        # Grafana's $__rate_interval is at least four scrape intervals.
        time.sleep(3)
        empty = []
        for title, expr in exprs:
            result = self.prometheus.query(expr.replace("$__rate_interval", "30s"))
            if not result:
                empty.append("%s: %s" % (title, expr))
        self.assertEqual(empty, [], "panels with no data")

    def test_6_provisioning_matches_the_compose_file(self):
        check = subprocess.run(["promtool", "check", "config", os.path.join(DEPLOY, "prometheus", "prometheus.yml")],
                               capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout.decode() + check.stderr.decode())
        with open(os.path.join(DEPLOY, "grafana", "provisioning", "datasources", "prometheus.yml")) as f:
            datasource = f.read()
        self.assertIn("uid: prometheus", datasource)
        self.assertIn("url: http://prometheus:9090", datasource)
        with open(os.path.join(DEPLOY, "grafana", "provisioning", "dashboards", "rewind.yml")) as f:
            self.assertIn("path: /var/lib/grafana/dashboards", f.read())
        with open(os.path.join(DEPLOY, "docker-compose.yml")) as f:
            compose = f.read()
        self.assertIn("./grafana/dashboards:/var/lib/grafana/dashboards", compose)
        self.assertIn("./grafana/provisioning:/etc/grafana/provisioning", compose)
        self.assertIn("./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml", compose)

    def test_7_bad_http_input_gets_4xx_and_rtmp_goes_on(self):
        since = self.edge.mark()
        counts = [v.video_count() for v in self.viewers[1:]]
        host, port = HOST, self.edge.http_port

        def raw(data, read=True):
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(data)
            answer = s.recv(200) if read else b""
            s.close()
            return answer

        self.assertTrue(raw(b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431"))
        self.assertTrue(raw(b"\x16\x03\x01\x02\x00 not http\r\n\r\n").startswith(b"HTTP/1.1 400"))
        self.assertTrue(raw(b"POST /metrics HTTP/1.1\r\nContent-Length: 900000\r\n\r\n" + b"x" * 70000)
                        .startswith(b"HTTP/1.1 413"))
        status, _ = http_get(self.edge.http_url("/nowhere"))
        self.assertEqual(status, 404)
        # Slow clients hold at most the connection limit; the rest are closed.
        slow = []
        for _ in range(80):
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHo")
            slow.append(s)
        self.edge.wait_log(r"http: peer=\S+ closed at accept", 5, since)
        self.edge.wait_log(r"http: peer=\S+ 431", 5, since)
        for s in slow:
            s.close()
        time.sleep(1)
        for v, n in zip(self.viewers[1:], counts):
            self.assertIsNone(v.error)
            self.assertGreater(v.video_count(), n + 10, "the players did not notice")
        harness.wait_until(lambda: http_get(self.edge.http_url("/healthz"))[0] == 200, 5,
                           what="HTTP to answer again")


class ReadinessTest(ChainCase):
    @classmethod
    def setUpChain(cls):
        cls.origin_server = cls.origin()
        dead = harness.free_port()
        cls.lonely = cls.proxy("edge", ["rtmp://%s:%d" % (HOST, dead)], label="lonely-edge")
        cls.edge = cls.proxy("edge", [cls.origin_server])

    def test_ready_only_with_a_reachable_upstream(self):
        # No player yet: ready once its probe found the upstream listening
        # (/readyz answers from the last probe and never waits for one).
        harness.wait_until(lambda: http_get(self.edge.http_url("/readyz")) == (200, "ready\n"), 10,
                           what="the edge to be ready")
        self.assertEqual(http_get(self.origin_server.http_url("/readyz")), (200, "ready\n"))
        self.assertEqual(http_get(self.lonely.http_url("/healthz"))[0], 200)
        for _ in range(3):
            started = time.monotonic()
            status, body = http_get(self.lonely.http_url("/readyz"))
            self.assertEqual((status, body.strip()), (503, "no upstream reachable"))
            self.assertLess(time.monotonic() - started, 0.5, "answered without waiting for the probe")
            time.sleep(1.2)


if __name__ == "__main__":
    unittest.main()
