"""SRS-compatible HTTP callbacks (docs/applications.md): a real callback
server (http.server in this process) records every hook's JSON and answers
by rules an SRS callback server might have; ffmpeg, rtmpdump and a raw
client see the answers.

The rules: a client of application "closed" is refused at connect; a
stream named "nopub..." may not be published, one named "noplay..." may
not be played; /slow answers after 5 s (longer than the hooks' timeout).
"""

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest

import harness
from harness import HOST
from rtmp_client import RtmpClient, status_info

ACTIONS = ("on_connect", "on_close", "on_publish", "on_unpublish", "on_play", "on_stop", "on_proxy")


class CallbackServer:
    """SRS's callback server, as its users write them: POST JSON in, "0"
    (allow) or an HTTP error out. Records (path, body) of every call."""

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The answer in one write, as callback servers send it: headers
            # and body written apart would wait for a delayed ACK (40 ms).
            wbufsize = 65536

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsed": raw.decode("latin-1")}
                with owner.lock:
                    owner.calls.append((self.path, body, self.headers.get("Content-Type")))
                if self.path.startswith("/slow"):
                    time.sleep(5)
                allowed = owner.allows(body)
                answer = b"0" if allowed else b'{"code": 403, "msg": "denied by the test"}'
                self.send_response(200 if allowed else 403)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                try:
                    self.wfile.write(answer)
                    self.wfile.flush()
                except BrokenPipeError:
                    pass  # /slow: the server gave up waiting, as it should

        self.httpd = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def allows(body):
        action = body.get("action")
        if action == "on_connect" and body.get("app") == "closed":
            return False
        if action == "on_publish" and body.get("stream", "").startswith("nopub"):
            return False
        if action == "on_play" and body.get("stream", "").startswith("noplay"):
            return False
        return True

    def url(self, path):
        return "http://%s:%d%s" % (HOST, self.port, path)

    def bodies(self, action=None):
        """The bodies of every call but the /audit copies."""
        with self.lock:
            return [b for p, b, _ in self.calls if p != "/audit" and (action is None or b.get("action") == action)]

    def wait_for(self, predicate, what, timeout=10):
        def found():
            matches = [b for b in self.bodies() if predicate(b)]
            return matches or None
        return harness.wait_until(found, timeout, what=what)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def hook_args(callbacks, path, actions=ACTIONS, timeout_ms=None):
    args = []
    for action in actions:
        args += ["--default-app.hooks.%s" % action.replace("_", "-"), callbacks.url(path)]
    if timeout_ms is not None:
        args += ["--default-app.hooks.timeout-ms", str(timeout_ms)]
    return args


def raw_connect(server, app="live", timeout=10):
    """A raw client's connect: (client, the reply's command name, its info)."""
    c = RtmpClient(HOST, server.port)
    c.handshake()
    tc_url = "rtmp://%s:%d/%s" % (HOST, server.port, app)
    c.send_command("connect", 1, {"app": app, "flashVer": "LNX 9,0,124,2", "tcUrl": tc_url,
                                  "objectEncoding": 0.0, "pageUrl": "http://example.com/player.html"})
    values = c.wait_for_command(("_result", "_error"), timeout)
    return c, values[0], status_info(values)


class ServerTest(harness.NotesFailures):
    """Keeps the servers' logs of a failed test (the harness's way)."""

    servers = ()

    @classmethod
    def keep_or_remove(cls):
        alive = all(s.alive() for s in cls.servers)
        codes = [s.stop() for s in cls.servers]
        if cls.failed or not alive or any(codes):
            for s in cls.servers:
                sys.stderr.write("\n[%s] kept %s; %s log tail:\n%s\n" % (cls.__name__, cls.workdir, s.kind,
                                                                       s.log.tail(30)))
        else:
            shutil.rmtree(cls.workdir, ignore_errors=True)
        if not alive or any(codes):
            raise AssertionError("a server died or did not exit cleanly (exit codes %s)" % codes)


class OriginHooksTest(ServerTest):

    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.make_workdir(cls.__name__)
        cls.failed = False
        cls.callbacks = CallbackServer()
        # on_connect twice: both URLs are called, in order.
        cls.origin = harness.OriginServer(cls.workdir, hook_args(cls.callbacks, "/origin") +
                                          ["--default-app.hooks.on-connect", cls.callbacks.url("/audit"),
                                           "--default-app.dvr.record", "off"])
        cls.servers = (cls.origin,)
        cls.origin.start()

    @classmethod
    def tearDownClass(cls):
        cls.callbacks.stop()
        cls.keep_or_remove()

    def test_1_publish_play_and_their_ends(self):
        publisher = harness.start_publisher(self.workdir, self.origin.publish_url("cam") + "?token=abc")
        try:
            self.origin.wait_publishing("cam", timeout=15)
            connect = self.callbacks.wait_for(lambda b: b["action"] == "on_connect" and "FMLE" not in b["tcUrl"]
                                              and b["app"] == "live", "ffmpeg's on_connect")[0]
            for key in ("client_id", "ip", "vhost", "app", "tcUrl", "pageUrl", "server_id", "stream_url",
                        "stream_id", "param"):
                self.assertIn(key, connect)
            self.assertEqual(connect["vhost"], "__defaultVhost__")
            self.assertEqual(connect["ip"], HOST)
            self.assertEqual(connect["rewind_role"], "origin")
            publish = self.callbacks.wait_for(lambda b: b["action"] == "on_publish", "on_publish")[0]
            self.assertEqual(publish["stream"], "cam")
            # ffmpeg sends the stream key's query with the name: SRS's param.
            self.assertEqual(publish["param"], "?token=abc")
            self.assertEqual(publish["client_id"], connect["client_id"])

            # rtmpdump plays for a moment: on_connect, on_play, then on_stop
            # and on_close when it goes.
            out = os.path.join(self.workdir, "dump.flv")
            dump = subprocess.run(["timeout", "--preserve-status", "-s", "INT", "3", "rtmpdump", "-q", "--live",
                                   "-r", self.origin.url("cam"), "-o", out], capture_output=True, timeout=30)
            self.assertGreater(os.path.getsize(out), 10000, dump.stderr[-500:])
            play = self.callbacks.wait_for(lambda b: b["action"] == "on_play", "on_play")[0]
            self.assertEqual(play["stream"], "cam")
            self.callbacks.wait_for(lambda b: b["action"] == "on_stop" and b["client_id"] == play["client_id"],
                                    "rtmpdump's on_stop")
            close = self.callbacks.wait_for(lambda b: b["action"] == "on_close" and
                                            b["client_id"] == play["client_id"], "rtmpdump's on_close")[0]
            self.assertGreater(close["send_bytes"], 10000)
        finally:
            publisher.interrupt()
        unpublish = self.callbacks.wait_for(lambda b: b["action"] == "on_unpublish", "on_unpublish")[0]
        self.assertEqual(unpublish["stream"], "cam")
        # Every body came as JSON and said so; each on_connect went to
        # /origin, then to /audit.
        with self.callbacks.lock:
            calls = list(self.callbacks.calls)
        self.assertTrue(all(t == "application/json" for _, _, t in calls), calls[:3])
        self.assertEqual({p for p, b, _ in calls if b["action"] != "on_connect"}, {"/origin"})
        connects = [(p, b["client_id"]) for p, b, _ in calls if b["action"] == "on_connect"]
        for i in range(0, len(connects), 2):
            self.assertEqual([p for p, _ in connects[i:i + 2]], ["/origin", "/audit"], connects)
            self.assertEqual(connects[i][1], connects[i + 1][1])
        # on_close after everything else of its connection, as it happened.
        actions = [b["action"] for b in self.callbacks.bodies() if b.get("client_id") == play["client_id"]]
        self.assertEqual(actions, ["on_connect", "on_play", "on_stop", "on_close"])

    def test_2_denied_connect_refuses_ffmpeg_and_rtmpdump(self):
        publisher = harness.start_publisher(self.workdir, self.origin.publish_url("cam", app="closed"),
                                            label="refused-publisher")
        self.assertNotEqual(publisher.wait(20), 0, "ffmpeg published to a refused application")
        dump = subprocess.run(["timeout", "--preserve-status", "-s", "INT", "10", "rtmpdump", "-q", "--live",
                               "-r", self.origin.url("cam", app="closed"), "-o", os.devnull],
                              capture_output=True, timeout=30)
        self.assertNotEqual(dump.returncode, 0)
        self.assertGreaterEqual(len([b for b in self.callbacks.bodies("on_connect") if b["app"] == "closed"]), 2)
        # A raw client reads why.
        c, reply, info = raw_connect(self.origin, app="closed")
        c.close()
        self.assertEqual(reply, "_error")
        self.assertEqual(info["code"], "NetConnection.Connect.Rejected")
        self.assertEqual(info["description"], "on_connect callback denied")
        self.origin.wait_log(r"hook on_connect .*/origin.* denied: HTTP 403", timeout=5)

    def test_3_denied_publish_and_play(self):
        c, reply, _ = raw_connect(self.origin)
        try:
            self.assertEqual(reply, "_result")
            sid = c.create_stream()
            c.publish(sid, "nopub1")
            info = c.wait_for_status(("NetStream.Publish.Rejected", "NetStream.Publish.Start"))
            self.assertEqual(info["code"], "NetStream.Publish.Rejected")
            self.assertEqual(info["level"], "error")
            sid = c.create_stream()
            c.play(sid, "noplay1")
            info = c.wait_for_status(("NetStream.Play.Failed", "NetStream.Play.Start", "NetStream.Play.Reset"))
            self.assertEqual(info["code"], "NetStream.Play.Failed")
            self.assertEqual(info["description"], "on_play callback denied")
        finally:
            c.close()
        self.assertTrue(self.origin.alive())


class TimeoutHookTest(ServerTest):
    """A callback server that does not answer in hooks.timeout_ms denies, and
    the connections it holds up hold up nobody else."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.make_workdir(cls.__name__)
        cls.failed = False
        cls.callbacks = CallbackServer()
        cls.origin = harness.OriginServer(cls.workdir, hook_args(cls.callbacks, "/slow", ("on_connect",),
                                                                 timeout_ms=800) + ["--threads", "1"])
        cls.servers = (cls.origin,)
        cls.origin.start()

    @classmethod
    def tearDownClass(cls):
        cls.callbacks.stop()
        cls.keep_or_remove()

    def test_a_hook_that_times_out_denies(self):
        waiting = []
        results = []

        def connect():
            started = time.monotonic()
            c, reply, info = raw_connect(self.origin, timeout=10)
            c.close()
            results.append((reply, info.get("code"), time.monotonic() - started))

        # Eight at once on one worker thread: each waits for its own
        # answer, so all end after one timeout, not eight.
        for _ in range(8):
            waiting.append(threading.Thread(target=connect))
            waiting[-1].start()
        for t in waiting:
            t.join(15)
        self.assertEqual(len(results), 8)
        for reply, code, seconds in results:
            self.assertEqual((reply, code), ("_error", "NetConnection.Connect.Rejected"))
            self.assertGreater(seconds, 0.7)
            self.assertLess(seconds, 3.0)
        self.origin.wait_log(r"hook on_connect .*/slow.* denied: timed out", timeout=5)


class DvrHooksTest(ServerTest):
    """on_dvr: when retention deletes recorded segments, and when a
    recording ends."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.make_workdir(cls.__name__)
        cls.failed = False
        cls.callbacks = CallbackServer()
        cls.origin = harness.OriginServer(cls.workdir, hook_args(cls.callbacks, "/dvr", ("on_dvr",)) + [
            "--default-app.dvr.record", "all", "--default-app.dvr.segment-ms", "1000",
            "--dvr.store-max-bytes", "300000", "--dvr.retention-interval-s", "1"])
        cls.servers = (cls.origin,)
        cls.origin.start()

    @classmethod
    def tearDownClass(cls):
        cls.callbacks.stop()
        cls.keep_or_remove()

    def test_the_end_of_a_recording_and_retention(self):
        # 7 s recorded (about 800 KB) in a store capped at 300 KB: the
        # retention pass deletes its oldest segments. (A recording's own
        # window is kept segment by segment as it records, unreported.)
        publisher = harness.start_publisher(self.workdir, self.origin.publish_url("kept"), duration=7)
        self.assertEqual(publisher.wait(30), 0, publisher.stderr_tail())
        ended = self.callbacks.wait_for(lambda b: b.get("rewind_event") == "record_stop", "on_dvr at the end")[0]
        self.assertEqual((ended["action"], ended["stream"]), ("on_dvr", "kept"))
        self.assertEqual(ended["file"], "/live/kept")
        self.assertIn("client_id", ended)
        deleted = self.callbacks.wait_for(lambda b: b.get("rewind_event") == "delete", "on_dvr for a deletion",
                                          timeout=15)[0]
        self.assertEqual((deleted["action"], deleted["app"], deleted["stream"]), ("on_dvr", "live", "kept"))
        self.assertGreater(deleted["segments"], 0)
        self.assertGreater(deleted["bytes"], 0)
        self.assertIn("store_max_bytes", deleted["reason"])


class ChainHooksTest(ServerTest):
    """Hooks at every tier: the edge sees the viewer (and its token), the
    relay sees the edge's pull, the origin the relay's, each saying who it
    is; the edge's on_play refuses a name; on_proxy reports the pull."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.make_workdir(cls.__name__)
        cls.failed = False
        cls.callbacks = CallbackServer()
        cls.origin = harness.OriginServer(cls.workdir, hook_args(cls.callbacks, "/origin") +
                                          ["--default-app.dvr.record", "off"])
        cls.servers = [cls.origin]
        cls.origin.start()
        cls.relay = harness.ProxyServer(cls.workdir, "relay", ["rtmp://%s:%d" % (HOST, cls.origin.port)],
                                        hook_args(cls.callbacks, "/relay"))
        cls.servers.append(cls.relay)
        cls.relay.start()
        cls.edge = harness.ProxyServer(cls.workdir, "edge", ["rtmp://%s:%d" % (HOST, cls.relay.port)],
                                       hook_args(cls.callbacks, "/edge"))
        cls.servers.append(cls.edge)
        cls.edge.start()
        cls.publisher = harness.start_publisher(cls.workdir, cls.origin.publish_url("hall"))
        cls.origin.wait_publishing("hall", timeout=15)

    @classmethod
    def tearDownClass(cls):
        cls.publisher.kill()
        cls.callbacks.stop()
        cls.keep_or_remove()

    def test_hooks_at_every_tier(self):
        c = RtmpClient(HOST, self.edge.port)
        try:
            c.handshake()
            tc_url = "rtmp://%s:%d/live?token=viewer1" % (HOST, self.edge.port)
            c.send_command("connect", 1, {"app": "live", "flashVer": "LNX 9,0,124,2", "tcUrl": tc_url,
                                          "objectEncoding": 0.0})
            self.assertEqual(c.wait_for_command(("_result", "_error"))[0], "_result")
            sid = c.create_stream()
            c.play(sid, "hall?token=viewer1")
            c.wait_for_status(("NetStream.Play.Start",), timeout=15)
            refused = c.create_stream()
            c.play(refused, "noplay-hall")
            info = c.wait_for_status(("NetStream.Play.Failed",), timeout=10)
            self.assertEqual(info["description"], "on_play callback denied")
        finally:
            c.close()

        edge_connect = self.callbacks.wait_for(lambda b: b["action"] == "on_connect" and b["rewind_role"] == "edge",
                                               "the viewer's on_connect at the edge")[0]
        self.assertEqual(edge_connect["param"], "?token=viewer1")
        self.assertNotIn("client_role", edge_connect)
        edge_play = self.callbacks.wait_for(lambda b: b["action"] == "on_play" and b["rewind_role"] == "edge" and
                                            b["stream"] == "hall", "on_play at the edge")[0]
        self.assertEqual(edge_play["param"], "?token=viewer1")
        # The edge's pull at the relay, the relay's at the origin: each
        # upstream's hooks can tell a server from a viewer.
        relay_connect = self.callbacks.wait_for(lambda b: b["action"] == "on_connect" and
                                                b["rewind_role"] == "relay", "the edge's on_connect at the relay")[0]
        self.assertEqual(relay_connect["client_role"], "edge")
        origin_connect = self.callbacks.wait_for(lambda b: b["action"] == "on_connect" and
                                                 b["rewind_role"] == "origin" and b.get("client_role") == "relay",
                                                 "the relay's on_connect at the origin")[0]
        self.assertTrue(origin_connect["client_server"].startswith("relay"))
        self.callbacks.wait_for(lambda b: b["action"] == "on_play" and b["rewind_role"] == "origin" and
                                b.get("client_role") == "relay" and b["stream"] == "hall",
                                "the relay's on_play at the origin")
        proxy = self.callbacks.wait_for(lambda b: b["action"] == "on_proxy" and b["rewind_role"] == "edge" and
                                        b["code"] == "ProxyStream.Proxy.Start", "on_proxy at the edge")[0]
        self.assertEqual(proxy["stream"], "hall")
        with self.callbacks.lock:
            paths = {(p, b["rewind_role"]) for p, b, _ in self.callbacks.calls}
        self.assertEqual({role for p, role in paths if p == "/edge"}, {"edge"})
        self.assertEqual({role for p, role in paths if p == "/relay"}, {"relay"})


if __name__ == "__main__":
    unittest.main()
