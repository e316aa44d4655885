"""The chain on three hosts (issue 8): origin, relay and edge each in a
network namespace of their own, joined by veth pairs, with no route from
the edge's host to the origin's, so that whatever a player at the edge
gets went through the relay. Real clients run on the edge's host:

- the edge's host cannot reach the origin at all;
- ffprobe and rtmpdump --live play the stream at the edge;
- python-librtmp plays the recording from 0, seeks, pauses 3 s, unpauses
  and seeks past the end back to live;
- 50 players at the edge make one upstream play at the relay and one at
  the origin;
- 30 players starting at the same old position (14 s) make each of its segments
  cross each hop once (counted at the origin, the relay and the edge).

Needs root (ip netns) and iproute2; scripts/run-tests.sh installs it.
"""

import collections
import json
import os
import re
import subprocess
import sys
import time
import unittest

import harness
from test_chain import ChainCase

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGIN_IP, RELAY_UP_IP, RELAY_DOWN_IP, EDGE_IP = "10.77.1.1", "10.77.1.2", "10.77.2.1", "10.77.2.2"
PORT = 1935


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class Hosts:
    """Three namespaces: origin - relay - edge, removed again by close()."""

    def __init__(self):
        tag = str(os.getpid() % 100000)
        self.origin, self.relay, self.edge = "rwo" + tag, "rwr" + tag, "rwe" + tag
        self.made = []
        for ns in (self.origin, self.relay, self.edge):
            ip("netns", "add", ns)
            self.made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        self.link(self.origin, "vo" + tag, ORIGIN_IP, self.relay, "vr" + tag, RELAY_UP_IP)
        self.link(self.relay, "vd" + tag, RELAY_DOWN_IP, self.edge, "ve" + tag, EDGE_IP)

    @staticmethod
    def link(ns_a, dev_a, ip_a, ns_b, dev_b, ip_b):
        ip("link", "add", dev_a, "type", "veth", "peer", "name", dev_b)
        ip("link", "set", dev_a, "netns", ns_a)
        ip("link", "set", dev_b, "netns", ns_b)
        for ns, dev, addr in ((ns_a, dev_a, ip_a), (ns_b, dev_b, ip_b)):
            ip("-n", ns, "addr", "add", addr + "/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")

    def close(self):
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made = []


def on(ns):
    return ["ip", "netns", "exec", ns]


class ChainNetnsTest(ChainCase):

    @classmethod
    def setUpChain(cls):
        if os.geteuid() != 0:
            raise RuntimeError("network namespaces need root (ip netns add)")
        cls.hosts = Hosts()
        cls.addClassCleanup(cls.hosts.close)
        h = cls.hosts
        cls.o = cls.server_on(harness.OriginServer(cls.workdir, ["--app.live.dvr.record", "all"]), h.origin,
                              ORIGIN_IP)
        cls.r = cls.server_on(harness.ProxyServer(cls.workdir, "relay", ["rtmp://%s:%d" % (ORIGIN_IP, PORT)]),
                              h.relay, RELAY_DOWN_IP)
        cls.e = cls.server_on(harness.ProxyServer(cls.workdir, "edge", ["rtmp://%s:%d" % (RELAY_DOWN_IP, PORT)]),
                              h.edge, EDGE_IP)
        args = on(h.origin) + ["ffmpeg", "-hide_banner", "-nostats", "-loglevel", "warning"] + \
            harness.FFMPEG_PUBLISH_ARGS + ["-f", "flv", cls.o.url("cam")]
        cls.pub = harness.Process(args, cls.workdir, "publisher")
        cls.processes.append(cls.pub)
        cls.o.wait_publishing("cam", timeout=20)
        cls.published_at = time.monotonic()

    @classmethod
    def server_on(cls, server, ns, host):
        server.prefix = on(ns)
        server.host = host
        server.start(PORT)
        cls.servers.append(server)
        return server

    def client(self, label, *args, timeout=90):
        """chain_clients.py on the edge's host: its JSON."""
        p = harness.Process(on(self.hosts.edge) + ["/usr/bin/python3", os.path.join(HERE, "chain_clients.py"),
                                                   *args], self.workdir, label)
        rc = p.wait(timeout)
        self.assertEqual(rc, 0, p.stderr_tail())
        return json.loads(p.stdout)

    def wait_recorded(self, seconds):
        time.sleep(max(0.0, seconds - (time.monotonic() - self.published_at)))

    def test_1_the_edge_cannot_reach_the_origin(self):
        p = harness.Process(on(self.hosts.edge) + ["timeout", "10", "ffprobe", "-v", "error", self.o.url("cam")],
                            self.workdir, "ffprobe-origin-from-edge")
        self.assertNotEqual(p.wait(20), 0, "the edge's host reached the origin directly")

    def test_2_ffprobe_and_rtmpdump_at_the_edge(self):
        probe = harness.Process(on(self.hosts.edge) + ["ffprobe", "-v", "error", "-show_streams", "-of", "json",
                                                       self.e.url("cam")], self.workdir, "ffprobe-edge")
        self.assertEqual(probe.wait(60), 0, probe.stderr_tail())
        out = json.loads(probe.stdout)
        self.assertEqual(sorted(s["codec_name"] for s in out["streams"]), ["aac", "h264"])
        flv = os.path.join(self.workdir, "rtmpdump-edge.flv")
        dump = harness.Process(on(self.hosts.edge) + ["timeout", "--preserve-status", "-s", "INT", "6", "rtmpdump",
                                                      "--live", "-r", self.e.url("cam"), "-o", flv],
                               self.workdir, "rtmpdump-edge")
        dump.wait(30)
        rc, out, err = harness.ffprobe_json(self.workdir, flv, "ffprobe-rtmpdump-file",
                                            extra=("-show_streams", "-count_packets"))
        self.assertEqual(rc, 0, err)
        video = [s for s in out["streams"] if s["codec_type"] == "video"]
        self.assertTrue(video)
        self.assertGreater(int(video[0]["nb_read_packets"]), 90, "3 s of video from rtmpdump --live at the edge")
        # Run here, not on loopback: where the edge's pull came from.
        self.assertIsNotNone(self.e.log.find(r"upstream rtmp://%s:%d ready" % (re.escape(RELAY_DOWN_IP), PORT)))

    def test_3_librtmp_plays_seeks_pauses_and_catches_up(self):
        self.wait_recorded(12)
        r = self.client("librtmp", "librtmp", self.e.url("cam"))
        sys.stderr.write("\n  [librtmp at the edge] %s\n" % {k: (v["video"][:1], v["video"][-1:]) for k, v in r.items()})
        self.assertLessEqual(r["from_0"]["video"][0], 100, "play from 0 starts at the beginning")
        seek = r["seek_4000"]["video"]
        self.assertTrue(seek)
        # It lands on the keyframe at or before 4 s (keyframes every 2 s).
        self.assertTrue(any(4000 - 2100 <= ts <= 4000 for ts in r["seek_4000"]["keyframes"]),
                        "no keyframe at or before 4 s after the seek: %s" % r["seek_4000"]["keyframes"])
        before_pause, after = seek[-1], r["unpaused"]["video"]
        self.assertTrue(after)
        self.assertLess(abs(after[0] - before_pause), 500, "unpause goes on where it paused")
        live = r["to_live"]["video"]
        self.assertTrue(live)
        elapsed_ms = (time.monotonic() - self.published_at) * 1000
        self.assertGreater(live[-1], elapsed_ms - 5000, "back at the live edge after seeking past the end")

    def test_4_fifty_players_one_upstream_play(self):
        marks = self.o.mark(), self.r.mark(), self.e.mark()
        r = self.client("players", "players", EDGE_IP, str(PORT), "cam", "50")
        errors = [p["error"] for p in r["players"] if p["error"]]
        self.assertEqual(errors, [])
        self.assertTrue(all(p["video"] >= 30 for p in r["players"]))
        self.assertEqual(r["players"][0]["first_two_video"], ["1700", "1701"], "sequence header, then a keyframe")
        plays = [self.count(s, r"app=live stream=cam play live", m) for s, m in zip((self.o, self.r, self.e), marks)]
        sys.stderr.write("\n  50 players at the edge: plays at origin/relay/edge %s\n" % plays)
        # The edge's pull may already be running (an earlier test), then
        # no new upstream play: at most one per hop.
        self.assertLessEqual(plays[0], 1)
        self.assertLessEqual(plays[1], 1)
        self.assertEqual(plays[2], 50)
        self.assertEqual(self.count(self.o, r"app=live stream=cam play live"), 1, "one upstream play at the origin")

    def test_5_thirty_seekers_one_fetch_per_hop(self):
        self.wait_recorded(24)
        marks = self.o.mark(), self.r.mark(), self.e.mark()
        r = self.client("seekers", "seekers", EDGE_IP, str(PORT), "cam", "30", "14000")
        self.assertEqual([p["error"] for p in r["players"] if p["error"]], [])
        firsts = sorted({p["first_video_ms"] for p in r["players"]})
        self.assertEqual(len(firsts), 1, "all start at the same keyframe: %s" % firsts)
        self.assertLessEqual(firsts[0], 14000)
        self.assertGreater(firsts[0], 14000 - 2100)
        served = collections.Counter(re.findall(r"serving segment (\d+) of live/cam", self.o.log.text(marks[0])))
        relay = collections.Counter(re.findall(r"fetched segment (\d+) of live/cam", self.r.log.text(marks[1])))
        edge = collections.Counter(re.findall(r"fetched segment (\d+) of live/cam", self.e.log.text(marks[2])))
        sys.stderr.write("\n  30 seekers at 14 s: served by the origin %s, fetched by the relay %s, by the edge %s\n" %
                         (dict(served), dict(relay), dict(edge)))
        self.assertTrue(edge, "the edge fetched the segments at 14 s (nobody had read them)")
        self.assertTrue(served, "the origin served them")
        for name, counts in (("origin served", served), ("relay fetched", relay), ("edge fetched", edge)):
            self.assertEqual([s for s, n in counts.items() if n > 1], [], "%s a segment twice: %s" % (name, counts))
        # Every segment the edge fetched for them came through the relay
        # from the origin (or was in the relay's cache already).
        all_relay = collections.Counter(re.findall(r"fetched segment (\d+) of live/cam", self.r.log.text()))
        self.assertTrue(set(edge) <= set(all_relay), "the edge got segments the relay never fetched")


if __name__ == "__main__":
    unittest.main()
