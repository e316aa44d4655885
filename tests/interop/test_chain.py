"""The cluster (issue 8): origins, relays and edges as real processes on
loopback, real publishers (ffmpeg) and players (raw client, ffprobe,
rtmpdump), and nginx-rtmp as an upstream.

ChainFanoutTest    origin <- relay <- edge: 50 players of one stream at the
                   edge make one upstream play per hop; 30 players seeking
                   into the recording at the edge fetch each segment once
                   per hop; a stream unknown upstream is StreamNotFound; the
                   ProxyStream codes; the pull lingers, then stops; a server
                   that is its own upstream refuses the loop.
ChainFailoverTest  two origins fed by one ffmpeg (tee), two relays, one
                   edge: kill -9 of the primary origin and SIGSTOP of the
                   primary relay; the edge's player keeps playing, waits
                   under 3 s (closed) and 5 s (silent) for video, time
                   never goes back, and DVR seeks work after.
ChainNginxTest     an edge in front of nginx-rtmp: live works (the raw
                   player, ffprobe, rtmpdump --live), DVR is refused as
                   there is no recording upstream.
ChainStaticPullTest an edge whose config file gives application "live" its
                   own upstream and a static pull: the pull runs with no
                   player, survives the linger, and serves players at once.
ChainHostileUpstreamTest
                   an upstream whose segments fail their checksum (a proxy
                   in front of the origin flips a byte in each segment page):
                   the edge logs which upstream and why, fails over to its
                   backup, and its player gets the recording intact.
ChainDiskCacheTest an edge whose memory tier holds a few segments spills
                   the others to disk (and the rest when it stops);
                   restarted, it serves them all with no upstream fetch.
"""

import collections
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

import harness
from harness import HOST
from rtmp_client import SET_CHUNK_SIZE, VIDEO, ChunkReader, PlayerThread, RtmpClient, chunk_message

PUBLISH_ARGS = harness.FFMPEG_PUBLISH_ARGS


class ChainCase(unittest.TestCase):
    """Servers and clients for one class, all stopped at the end; every
    Rewind server must exit cleanly on SIGTERM."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.make_workdir(cls.__name__)
        cls.servers = []
        cls.processes = []
        cls.players = []
        cls.failed = False
        try:
            cls.setUpChain()
        except BaseException:
            cls.failed = True
            cls.stop_all(check=False)
            sys.stderr.write("\n[%s] set-up failed; kept %s\n" % (cls.__name__, cls.workdir))
            raise

    @classmethod
    def setUpChain(cls):
        raise NotImplementedError

    @classmethod
    def origin(cls, label="origin", args=()):
        s = harness.OriginServer(cls.workdir, ["--app.live.dvr.record", "all", *args])
        s.label = label
        s.start()
        cls.servers.append(s)
        return s

    @classmethod
    def proxy(cls, role, upstreams, label=None, args=(), port=0):
        urls = [u if isinstance(u, str) else "rtmp://%s:%d" % (HOST, u.port) for u in upstreams]
        s = harness.ProxyServer(cls.workdir, role, urls, list(args), label=label)
        s.start(port)
        cls.servers.append(s)
        return s

    @classmethod
    def publish(cls, urls, label="publisher", duration=None):
        """ffmpeg publishing the test stream; to several servers at once
        (the tee muxer) when given several URLs, as an encoder feeding a
        primary and a backup origin does."""
        args = ["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "warning"] + PUBLISH_ARGS
        if duration:
            args += ["-t", str(duration)]
        if len(urls) == 1:
            args += ["-f", "flv", urls[0]]
        else:
            args += ["-map", "0:v", "-map", "1:a", "-f", "tee",
                     "|".join("[f=flv:onfail=ignore]%s" % u for u in urls)]
        p = harness.Process(args, cls.workdir, label)
        cls.processes.append(p)
        return p

    @classmethod
    def player(cls, server, name, start=-2):
        p = PlayerThread(HOST, server.port, name, start=start)
        cls.players.append(p)
        p.start()
        return p

    @classmethod
    def stop_all(cls, check=True):
        for p in cls.players:
            p.stop()
        for p in cls.processes:
            p.kill()
        problems = []
        for s in reversed(cls.servers):
            if s.proc is not None and s.proc.poll() is None:
                try:
                    os.kill(s.proc.pid, signal.SIGCONT)
                except OSError:
                    pass
            alive = s.alive()
            rc = s.stop()
            if getattr(s, "killed_on_purpose", False):
                continue
            if not alive:
                problems.append("%s died during the tests (exit code %s)" % (s.label, rc))
            elif rc != 0:
                problems.append("%s did not exit cleanly on SIGTERM: %s" % (s.label, rc))
        return problems

    @classmethod
    def tearDownClass(cls):
        problems = cls.stop_all()
        if problems or cls.failed or os.environ.get("REWIND_TEST_KEEP"):
            sys.stderr.write("\n[%s] kept %s\n" % (cls.__name__, cls.workdir))
            for s in cls.servers:
                if s.log:
                    sys.stderr.write("--- %s log tail:\n%s\n" % (s.label, s.log.tail(15)))
        else:
            shutil.rmtree(cls.workdir, ignore_errors=True)
        if problems:
            raise AssertionError("; ".join(problems))

    def tearDown(self):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        failed_here = any(test is self for test, _ in
                          list(getattr(result, "failures", [])) + list(getattr(result, "errors", [])))
        if failed_here or (outcome is not None and not outcome.success):
            type(self).failed = True

    def count(self, server, pattern, since=0):
        return len(re.findall(pattern, server.log.text(since)))

    def play_recording(self, server, name="cam"):
        """A player of the finished recording from 0 until Play.Stop."""
        p = self.player(server, name, start=0)
        harness.wait_until(lambda: ("NetStream.Play.Stop" in p.statuses and p.video_count() > 0) or p.error, 60,
                           what="the recording played to its end at the %s" % server.label)
        p.stop()
        return p


def video_gaps(player, since_index=0):
    """The largest step between consecutive video timestamps, and whether
    time ever went back."""
    with player.lock:
        ts = [f[1] for f in player.frames[since_index:] if f[0] == VIDEO]
    largest, back = 0, False
    for a, b in zip(ts, ts[1:]):
        if b < a:
            back = True
        largest = max(largest, b - a)
    return largest, back, len(ts)


class ArrivalWatch(threading.Thread):
    """The longest wall-clock wait between two video frames at a player,
    from now until stop()."""

    def __init__(self, player):
        super().__init__(daemon=True)
        self.player = player
        self.longest = 0.0
        self.flag = threading.Event()
        self.start()

    def run(self):
        last_count, last_at = self.player.video_count(), time.monotonic()
        while not self.flag.is_set():
            time.sleep(0.01)
            count, now = self.player.video_count(), time.monotonic()
            if count != last_count:
                last_count, last_at = count, now
            self.longest = max(self.longest, (now - last_at) * 1000)

    def stop(self):
        self.flag.set()
        self.join(2)
        return self.longest


class ChainFanoutTest(ChainCase):
    PLAYERS = 50
    SEEKERS = 30

    @classmethod
    def setUpChain(cls):
        cls.o = cls.origin()
        cls.r = cls.proxy("relay", [cls.o])
        cls.e = cls.proxy("edge", [cls.r], args=["--proxy.linger-ms", "2000"])
        cls.pub = cls.publish([cls.o.url("cam")])
        cls.o.wait_publishing("cam", timeout=20)
        cls.published_at = time.monotonic()

    def test_1_many_players_make_one_upstream_play(self):
        origin_mark, relay_mark, edge_mark = self.o.mark(), self.r.mark(), self.e.mark()
        players = [self.player(self.e, "cam", start=-1) for _ in range(self.PLAYERS)]
        harness.wait_until(lambda: all(p.video_count() >= 30 or p.error for p in players), 60,
                           what="video at every edge player")
        for p in players:
            self.assertIsNone(p.error)
            self.assertIn("NetStream.Play.Start", p.statuses)
        edge_plays = self.count(self.e, r"app=live stream=cam play live", edge_mark)
        relay_plays = self.count(self.r, r"app=live stream=cam play live", relay_mark)
        origin_plays = self.count(self.o, r"app=live stream=cam play live", origin_mark)
        sys.stderr.write("\n  plays: edge %d, relay %d, origin %d\n" % (edge_plays, relay_plays, origin_plays))
        self.assertEqual(edge_plays, self.PLAYERS)
        self.assertEqual(relay_plays, 1, "the edge's pull is the relay's only player")
        self.assertEqual(origin_plays, 1, "the relay's pull is the origin's only player")
        self.assertIsNotNone(self.e.log.find(r"ProxyStream\.Proxy\.Start app=live stream=cam"))
        self.assertIsNotNone(self.r.log.find(r"ProxyStream\.Proxy\.Start app=live stream=cam"))
        # Players at the edge start like players at the origin: the AVC
        # sequence header, then a keyframe.
        first_video = [f for f in players[0].frames if f[0] == VIDEO][:2]
        self.assertEqual(first_video[0][2][:2], b"\x17\x00", "AVC sequence header first")
        self.assertEqual(first_video[1][2][:2], b"\x17\x01", "then a keyframe")
        for p in players:
            p.stop()
        # Linger (2 s here), then the edge's pull stops.
        self.e.wait_log(r"live/cam has had no player for 2000 ms: the pull stops", timeout=15, since=edge_mark)
        self.e.wait_log(r"ProxyStream\.Proxy\.Stop app=live stream=cam", timeout=5, since=edge_mark)

    def test_2_seekers_fetch_each_segment_once_per_hop(self):
        # Enough recorded to seek into: 16 s.
        time.sleep(max(0.0, 16 - (time.monotonic() - self.published_at)))
        origin_mark, relay_mark, edge_mark = self.o.mark(), self.r.mark(), self.e.mark()
        rng = random.Random(8)
        starts = [rng.randrange(0, 12000) for _ in range(self.SEEKERS)]
        seekers = [self.player(self.e, "cam", start=s) for s in starts]
        harness.wait_until(lambda: all(p.video_count() >= 90 or p.error for p in seekers), 90,
                           what="3 s of video at every seeking player")
        for p, s in zip(seekers, starts):
            self.assertIsNone(p.error)
            first = next(f[1] for f in p.frames if f[0] == VIDEO)
            self.assertLessEqual(first, s + 100, "a seeker to %d ms started at %d ms" % (s, first))
            self.assertGreaterEqual(first, s - 2100, "a seeker to %d ms started at %d ms" % (s, first))
        for p in seekers:
            p.stop()
        edge_fetches = collections.Counter(re.findall(r"fetched segment (\d+) of live/cam", self.e.log.text(edge_mark)))
        relay_fetches = collections.Counter(re.findall(r"fetched segment (\d+) of live/cam", self.r.log.text(relay_mark)))
        origin_serves = collections.Counter(re.findall(r"serving segment (\d+) of live/cam",
                                                       self.o.log.text(origin_mark)))
        sys.stderr.write("\n  %d seekers; segments fetched: edge %s, relay %s; served by the origin %s\n" %
                         (self.SEEKERS, dict(edge_fetches), dict(relay_fetches), dict(origin_serves)))
        self.assertTrue(edge_fetches, "the edge fetched segments")
        self.assertEqual([s for s, n in edge_fetches.items() if n > 1], [], "a segment fetched twice by the edge")
        self.assertEqual([s for s, n in relay_fetches.items() if n > 1], [], "a segment fetched twice by the relay")
        self.assertEqual([s for s, n in origin_serves.items() if n > 1], [], "a segment served twice by the origin")

    def test_3_unknown_stream_is_not_found(self):
        c = RtmpClient(HOST, self.e.port)
        try:
            c.connect("live")
            sid = c.create_stream()
            started = time.monotonic()
            c.play(sid, "nosuchstream")
            info = c.wait_for_status(("NetStream.Play.StreamNotFound", "NetStream.Play.Start"), timeout=15)
            self.assertEqual(info.get("code"), "NetStream.Play.StreamNotFound", info)
            self.assertLess(time.monotonic() - started, 5)
        finally:
            c.close()

    def test_4_own_upstream_is_a_loop(self):
        port = harness.free_port()
        loop = self.proxy("relay", ["rtmp://%s:%d" % (HOST, port)], label="loop-relay", port=port)
        c = RtmpClient(HOST, loop.port)
        try:
            c.connect("live")
            sid = c.create_stream()
            c.play(sid, "cam")
            info = c.wait_for_status(("NetStream.Play.StreamNotFound", "NetStream.Play.Start"), timeout=20)
            self.assertEqual(info.get("code"), "NetStream.Play.StreamNotFound", info)
        finally:
            c.close()
        self.assertIsNotNone(loop.log.find(r"loop: \S+ connected to itself"), loop.log.tail(20))

    def test_6_segment_protocol_answers_downstream_servers_only(self):
        def reply(client, name, *args):
            values = client.wait_for_reply(client.call(name, *args))
            return values[0], values[3] if len(values) > 3 else None
        viewer = RtmpClient(HOST, self.o.port)
        server = RtmpClient(HOST, self.o.port)
        try:
            viewer.connect("live")
            kind, info = reply(viewer, "rewindStreamInfo", "cam")
            self.assertEqual(kind, "_error")
            self.assertEqual(info.get("reason"), "BadRequest", info)
            server.connect("live", extra={"rewindServer": "test-edge", "rewindRole": "edge"})
            kind, info = reply(server, "rewindSegment", "cam", 1.0, 999999.0, 0.0, 65536.0)
            self.assertEqual(kind, "_error")
            self.assertEqual(info.get("reason"), "NotFound", info)
            kind, info = reply(server, "rewindSegment", "cam")
            self.assertEqual(kind, "_error")
            self.assertEqual(info.get("reason"), "BadRequest", info)
            kind, info = reply(server, "rewindStreamInfo", "cam?rewindVia=x,%s" % "nobody")
            self.assertEqual(kind, "_result")
        finally:
            viewer.close()
            server.close()
        self.assertTrue(self.o.alive())

    def test_5_ended_stream_reports_stop(self):
        mark = self.e.mark()
        p = self.player(self.e, "cam", start=-1)
        harness.wait_until(lambda: p.video_count() > 10 or p.error, 20, what="video")
        self.pub.interrupt()
        harness.wait_until(lambda: "NetStream.Play.UnpublishNotify" in p.statuses, 15,
                           what="UnpublishNotify at the edge player")
        self.e.wait_log(r"ProxyStream\.Proxy\.Stop app=live stream=cam", timeout=5, since=mark)
        p.stop()


class ChainFailoverTest(ChainCase):

    @classmethod
    def setUpChain(cls):
        cls.a = cls.origin("origin-a")
        cls.b = cls.origin("origin-b")
        cls.r1 = cls.proxy("relay", [cls.a, cls.b], label="relay-1")
        cls.r2 = cls.proxy("relay", [cls.a, cls.b], label="relay-2")
        cls.e = cls.proxy("edge", [cls.r1, cls.r2])
        cls.pub = cls.publish([cls.a.url("cam"), cls.b.url("cam")])
        cls.a.wait_publishing("cam", timeout=20)
        cls.b.wait_publishing("cam", timeout=20)

    def test_player_survives_origin_kill_and_relay_stop(self):
        p = self.player(self.e, "cam", start=-1)
        harness.wait_until(lambda: p.video_count() >= 60 or p.error, 30, what="2 s of video at the edge")
        # kill -9 the primary origin: relay-1 goes on from origin-b.
        before = p.video_count()
        arrivals = ArrivalWatch(p)
        self.a.kill()
        self.a.killed_on_purpose = True
        self.r1.wait_log(r"upstream rtmp://\S+ lost", timeout=10)
        harness.wait_until(lambda: p.video_count() >= before + 150 or p.error, 30,
                           what="5 s more video after the origin was killed")
        kill_gap = arrivals.stop()
        # SIGSTOP the relay the edge plays from: no data and no ping answer
        # for 3 s is NetConnection.Proxy.NotResponding, then relay-2.
        mark = self.e.mark()
        before = p.video_count()
        arrivals = ArrivalWatch(p)
        os.kill(self.r1.proc.pid, signal.SIGSTOP)
        self.r1.killed_on_purpose = True
        self.e.wait_log(r"NetConnection\.Proxy\.NotResponding", timeout=15, since=mark)
        harness.wait_until(lambda: p.video_count() >= before + 150 or p.error, 40,
                           what="5 s more video after the relay stopped")
        stop_gap = arrivals.stop()
        self.assertIsNone(p.error)
        largest, back, n = video_gaps(p)
        sys.stderr.write("\n  failover: %d video frames; longest wait for video: %.0f ms after kill -9 of the "
                         "origin, %.0f ms after SIGSTOP of the relay; largest timestamp step %d ms; time went "
                         "back: %s\n" % (n, kill_gap, stop_gap, largest, back))
        self.assertFalse(back, "video timestamps went back after a failover")
        self.assertNotIn("NetStream.Play.Stop", p.statuses)
        # The bounds: under 3 s for a closed upstream, under
        # not_responding_ms (3 s) + 2 s for a silent one.
        self.assertLess(kill_gap, 3000)
        self.assertLess(stop_gap, 5000)
        # After both failovers, DVR still works at the edge: a seek into the
        # recording (now from origin-b, through relay-2).
        seeker = self.player(self.e, "cam", start=2000)
        harness.wait_until(lambda: seeker.video_count() >= 30 or seeker.error, 30, what="a DVR play after failover")
        self.assertIsNone(seeker.error)
        first = next(f[1] for f in seeker.frames if f[0] == VIDEO)
        self.assertLessEqual(first, 2000)
        seeker.stop()
        p.stop()


class ChainNginxTest(ChainCase):

    @classmethod
    def setUpChain(cls):
        if not shutil.which("nginx") or not os.path.exists("/usr/lib/nginx/modules/ngx_rtmp_module.so"):
            raise RuntimeError("nginx with libnginx-mod-rtmp is needed (scripts/setup.sh installs it)")
        cls.n = harness.NginxServer(cls.workdir)
        cls.n.label = "nginx"
        cls.n.start()
        cls.servers.append(cls.n)
        cls.n.killed_on_purpose = True  # its exit code is not ours to judge
        cls.e = cls.proxy("edge", ["rtmp://%s:%d" % (HOST, cls.n.port)])
        cls.pub = cls.publish([cls.n.url("cam")])
        time.sleep(2)

    def test_live_from_nginx(self):
        p = self.player(self.e, "cam", start=-1)
        harness.wait_until(lambda: p.video_count() >= 60 or p.error, 30, what="video from nginx through the edge")
        self.assertIsNone(p.error)
        self.assertIsNotNone(self.e.log.find(r"ProxyStream\.Proxy\.Start app=live stream=cam"))
        rc, out, err = harness.ffprobe_json(self.workdir, self.e.url("cam"), "ffprobe-edge")
        self.assertEqual(rc, 0, err)
        kinds = sorted(s["codec_name"] for s in out["streams"])
        self.assertEqual(kinds, ["aac", "h264"])
        flv = os.path.join(self.workdir, "rtmpdump-edge.flv")
        dump = harness.Process(["timeout", "--preserve-status", "-s", "INT", "6", "rtmpdump", "--live", "-r",
                                self.e.url("cam"), "-o", flv], self.workdir, "rtmpdump-edge")
        dump.wait(30)
        rc, out, err = harness.ffprobe_json(self.workdir, flv, "ffprobe-rtmpdump-file",
                                            extra=("-show_streams", "-count_packets"))
        self.assertEqual(rc, 0, err)
        video = [s for s in out["streams"] if s["codec_type"] == "video"]
        self.assertTrue(video, "rtmpdump --live wrote no video")
        self.assertGreater(int(video[0]["nb_read_packets"]), 90, "3 s of video from rtmpdump --live")
        p.stop()

    def test_no_recording_upstream(self):
        c = RtmpClient(HOST, self.e.port)
        try:
            c.connect("live")
            sid = c.create_stream()
            c.play(sid, "cam", start=0)
            info = c.wait_for_status(("NetStream.Play.StreamNotFound", "NetStream.Play.Start"), timeout=15)
            self.assertEqual(info.get("code"), "NetStream.Play.StreamNotFound", info)
        finally:
            c.close()


class ChainDiskCacheTest(ChainCase):

    @classmethod
    def setUpChain(cls):
        cls.o = cls.origin()
        # A memory tier of 1 MiB: most segments (about 250 kB each) are
        # evicted to disk, the last few are written there at shutdown.
        cls.edge_args = ["--cache.memory-bytes", "1048576"]
        cls.e = cls.proxy("edge", [cls.o], args=cls.edge_args)
        cls.pub = cls.publish([cls.o.url("cam")], duration=14)
        cls.pub.wait(40)
        time.sleep(1)

    def test_restarted_edge_serves_from_disk(self):
        first = self.play_recording(self.e)
        fetched = set(re.findall(r"fetched segment (\d+) of live/cam", self.e.log.text()))
        self.assertGreater(len(fetched), 3, "segments fetched from the origin")
        self.e.stop()
        self.e.start(0)
        mark = self.e.mark()
        second = self.play_recording(self.e)
        again = re.findall(r"fetched segment (\d+) of live/cam", self.e.log.text(mark))
        sys.stderr.write("\n  disk cache: %d segments fetched cold, %d after restart; %d and %d video frames\n" %
                         (len(fetched), len(again), first.video_count(), second.video_count()))
        self.assertEqual(again, [], "a restarted edge fetched segments its disk cache holds")
        self.assertEqual(first.video_count(), second.video_count())


class ChainStaticPullTest(ChainCase):

    @classmethod
    def setUpChain(cls):
        cls.o = cls.origin()
        conf = os.path.join(cls.workdir, "edge.conf")
        with open(conf, "w") as f:
            f.write('proxy { linger_ms: 1000 }\n'
                    'app {\n  name: "live"\n  upstream: "rtmp://%s:%d"\n'
                    '  static_proxy { local: "always" remote: "cam" }\n}\n' % (HOST, cls.o.port))
        cls.e = cls.proxy("edge", [], args=["--config", conf])
        cls.pub = cls.publish([cls.o.url("cam")])
        cls.o.wait_publishing("cam", timeout=20)

    def test_static_pull_runs_without_players(self):
        self.e.wait_log(r"ProxyStream\.Proxy\.Start app=live stream=always upstream=rtmp://", timeout=20)
        time.sleep(3)  # three lingers
        self.assertIsNone(self.e.log.find(r"live/always has had no player"), "a static pull lingered out")
        self.assertIsNone(self.e.log.find(r"ProxyStream\.Proxy\.Stop app=live stream=always"))
        p = self.player(self.e, "always", start=-1)
        harness.wait_until(lambda: p.video_count() >= 30 or p.error, 20, what="video of the static pull")
        self.assertIsNone(p.error)
        p.stop()
        # The origin saw one play of cam: the static pull's.
        self.assertEqual(self.count(self.o, r"app=live stream=cam play live"), 1)


class CorruptingProxy(threading.Thread):
    """A TCP proxy in front of an RTMP server that passes everything on but
    flips the last byte of every segment page it answers with (a large
    _result holding an AMF3 ByteArray), as a faulty or hostile upstream
    would: the chunk stream stays valid, the segment does not."""

    def __init__(self, upstream_port):
        super().__init__(daemon=True)
        self.upstream_port = upstream_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.corrupted = 0
        self.closed = False
        self.start()

    def run(self):
        while not self.closed:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            up = socket.create_connection((HOST, self.upstream_port))
            threading.Thread(target=self.pipe, args=(down, up), daemon=True).start()
            threading.Thread(target=self.corrupt, args=(up, down), daemon=True).start()

    @staticmethod
    def pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        CorruptingProxy.shut(src, dst)

    @staticmethod
    def shut(*sockets):
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def corrupt(self, up, down):
        try:
            handshake = b""
            while len(handshake) < 1 + 1536 + 1536:
                data = up.recv(1 + 1536 + 1536 - len(handshake))
                if not data:
                    return
                handshake += data
            down.sendall(handshake)
            reader = ChunkReader()
            out_chunk_size = 128
            while True:
                data = up.recv(65536)
                if not data:
                    break
                reader.feed(data)
                while True:
                    msg = reader.next_message()
                    if msg is None:
                        break
                    body = msg.body
                    if msg.type == 20 and len(body) > 20000 and body[3:10] == b"_result" and b"\x11\x0c" in body[:64]:
                        body = body[:-1] + bytes([body[-1] ^ 0xFF])
                        self.corrupted += 1
                    down.sendall(chunk_message(msg.type, body, msg.stream_id, msg.timestamp, msg.csid,
                                               out_chunk_size))
                    if msg.type == SET_CHUNK_SIZE:
                        out_chunk_size = struct.unpack(">I", msg.body[:4])[0] & 0x7FFFFFFF
        except OSError:
            pass
        self.shut(up, down)

    def close(self):
        self.closed = True
        self.listener.close()


class ChainHostileUpstreamTest(ChainCase):

    @classmethod
    def setUpChain(cls):
        cls.o = cls.origin()
        cls.bad = CorruptingProxy(cls.o.port)
        cls.addClassCleanup(cls.bad.close)
        bad_url = "rtmp://%s:%d" % (HOST, cls.bad.port)
        cls.e = cls.proxy("edge", [bad_url, cls.o])
        cls.bad_url = bad_url
        cls.pub = cls.publish([cls.o.url("cam")], duration=10)
        cls.pub.wait(40)
        time.sleep(1)

    def test_bad_segments_fail_over_and_never_reach_the_player(self):
        p = self.play_recording(self.e)
        self.assertIsNone(p.error)
        self.assertGreater(self.bad.corrupted, 0, "the proxy corrupted no segment page (was it asked for one?)")
        line = self.e.log.find(r"upstream %s sent a bad segment \d+ of live/cam: the segment fails its checksum"
                               % re.escape(self.bad_url))
        self.assertIsNotNone(line, self.e.log.tail(30))
        self.assertIsNotNone(self.e.log.find(r"fetched segment \d+ of live/cam from rtmp://%s:%d " %
                                             (re.escape(HOST), self.o.port)))
        # The whole recording, from its first keyframe, every frame intact
        # (a corrupt one would be cut short by a byte, or fail to decode).
        video = [f for f in p.frames if f[0] == VIDEO]
        self.assertLessEqual(video[0][1], 100)
        self.assertEqual(video[0][2][:2], b"\x17\x00")
        self.assertGreater(len(video), 9 * 30, "about 10 s of video")
        sys.stderr.write("\n  hostile upstream: %d segment pages corrupted, player got %d video frames from %d ms\n"
                         % (self.bad.corrupted, len(video), video[0][1]))


if __name__ == "__main__":
    unittest.main()
