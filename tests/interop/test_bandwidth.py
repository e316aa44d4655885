"""FMS bandwidth detection (docs/applications.md, "Bandwidth detection"):
the origin runs in a network namespace behind a veth whose server-to-client
direction `tc` limits to 8 Mbit/s. A raw client calls checkBandwidth and
answers every onBWCheck as Flash's NetConnection does; the onBWDone it
gets must say a rate within a factor 2 of the link's. A client that does
not answer (and ffmpeg, rtmpdump) is left alone and plays on.

Needs root (ip netns, tc) and iproute2; scripts/run-tests.sh installs it.
"""

import os
import shutil
import subprocess
import time
import unittest

import harness
from rtmp_client import RtmpClient, VIDEO, COMMAND_AMF0

HOST_IP, SERVER_IP = "10.78.1.1", "10.78.1.2"
PORT = 1935
LINK_KBPS = 8000


def run(*args):
    subprocess.run(list(args), check=True, capture_output=True, text=True)


class LimitedHost:
    """A namespace joined to ours by a veth pair, its egress (towards us)
    shaped to LINK_KBPS by a token bucket."""

    def __init__(self):
        tag = str(os.getpid() % 100000)
        self.ns = "rwb" + tag
        self.made = False
        run("ip", "netns", "add", self.ns)
        self.made = True
        outer, inner = "vbh" + tag, "vbn" + tag
        run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        run("ip", "link", "set", inner, "netns", self.ns)
        run("ip", "addr", "add", HOST_IP + "/24", "dev", outer)
        run("ip", "link", "set", outer, "up")
        run("ip", "-n", self.ns, "addr", "add", SERVER_IP + "/24", "dev", inner)
        run("ip", "-n", self.ns, "link", "set", inner, "up")
        run("ip", "-n", self.ns, "link", "set", "lo", "up")
        run("ip", "netns", "exec", self.ns, "tc", "qdisc", "add", "dev", inner, "root", "tbf",
            "rate", "%dkbit" % LINK_KBPS, "burst", "16kb", "latency", "200ms")
        self.outer = outer

    def close(self):
        if self.made:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
            subprocess.run(["ip", "link", "del", self.outer], capture_output=True)
            self.made = False


def check_bandwidth(port, app="live", answer=True, timeout=15):
    """Connects, calls checkBandwidth and (if answer) answers each onBWCheck
    with a _result, as Flash's client.onBWCheck does. Returns (onBWDone's
    arguments or None, number of onBWCheck calls, the checkBandwidth reply
    name or None, the client)."""
    c = RtmpClient(SERVER_IP, port, timeout=timeout)
    c.connect(app)
    c.send_command("checkBandwidth", 2, None)
    checks, done, reply = 0, None, None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            m = c.read_message(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
        except TimeoutError:
            if not answer and checks:
                break  # nothing more comes: left alone
            continue
        if m.type != COMMAND_AMF0:
            continue
        values = m.command()
        if values[0] == "onBWCheck":
            checks += 1
            if answer:
                c.send_command("_result", values[1], None, float(checks))
        elif values[0] == "onBWDone":
            done = values[3:]
            break
        elif values[0] in ("_result", "_error") and values[1] == 2:
            reply = values[0]
            if reply == "_error":
                break
    return done, checks, reply, c


class BandwidthTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise RuntimeError("the shaped link needs root (ip netns, tc)")
        cls.workdir = harness.make_workdir(cls.__name__)
        cls.host = LimitedHost()
        cls.addClassCleanup(cls.host.close)
        cls.server = harness.OriginServer(cls.workdir, [
            "--app.live.dvr.record", "off",
            "--app.capped.bandwidth-detection.max-rate-kbps", "2000", "--app.capped.dvr.record", "off",
            "--app.nobw.bandwidth-detection.enabled", "false", "--app.nobw.dvr.record", "off"])
        cls.server.prefix = ["ip", "netns", "exec", cls.host.ns]
        cls.server.host = SERVER_IP
        cls.server.start(PORT)
        cls.addClassCleanup(cls.server.kill)

    @classmethod
    def tearDownClass(cls):
        alive = cls.server.alive()
        rc = cls.server.stop()
        if not alive or rc != 0:
            raise AssertionError("the server died or did not exit cleanly (%s):\n%s" % (rc, cls.server.log.tail(30)))
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def test_1_rate_within_a_factor_2_of_the_link(self):
        done, checks, reply, c = check_bandwidth(self.server.port)
        c.close()
        self.assertIsNotNone(done, "no onBWDone after %d onBWCheck calls" % checks)
        kbps, delta_down, delta_time, latency = done
        print("\nonBWDone: %.0f kbit/s (link %d), %.0f kbit in %.2f s, latency %.0f ms, %d calls" %
              (kbps, LINK_KBPS, delta_down, delta_time, latency, checks))
        self.assertEqual(reply, "_result")
        self.assertGreater(kbps, LINK_KBPS / 2)
        self.assertLess(kbps, LINK_KBPS * 2)
        self.assertGreater(delta_time, 1.5)
        self.assertAlmostEqual(kbps, delta_down / delta_time, delta=1)
        self.assertGreaterEqual(latency, 1)
        self.server.wait_log(r"bandwidth check: \d+ kbit/s", timeout=5)

    def test_2_max_rate_caps_what_is_sent(self):
        done, _, _, c = check_bandwidth(self.server.port, app="capped")
        c.close()
        self.assertIsNotNone(done)
        self.assertLess(done[0], 2000 * 1.2)
        self.assertGreater(done[0], 2000 / 2)

    def test_3_off_is_an_error(self):
        done, checks, reply, c = check_bandwidth(self.server.port, app="nobw", timeout=5)
        c.close()
        self.assertEqual((done, checks, reply), (None, 0, "_error"))

    def test_4_a_client_that_does_not_answer_plays_on(self):
        publisher = harness.start_publisher(self.workdir, "rtmp://%s:%d/live/cam" % (SERVER_IP, PORT))
        try:
            self.server.wait_publishing("cam", timeout=20)
            done, checks, _, c = check_bandwidth(self.server.port, answer=False, timeout=4)
            try:
                self.assertIsNone(done)
                self.assertEqual(checks, 1)  # the latency call only
                sid = c.create_stream()
                c.play(sid, "cam")
                c.wait_for_status(("NetStream.Play.Start",), timeout=10)
                c.wait_for(lambda m: m.type == VIDEO, timeout=10, what="video")
            finally:
                c.close()
            # ffmpeg and rtmpdump play from the application as from any.
            probe = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "compact",
                                    "rtmp://%s:%d/live/cam" % (SERVER_IP, PORT)],
                                   capture_output=True, text=True, timeout=30)
            self.assertEqual(probe.returncode, 0, probe.stderr[-500:])
            self.assertIn("codec_name=h264", probe.stdout)
            out = os.path.join(self.workdir, "dump.flv")
            subprocess.run(["timeout", "--preserve-status", "-s", "INT", "4", "rtmpdump", "-q", "--live", "-r",
                            "rtmp://%s:%d/live/cam" % (SERVER_IP, PORT), "-o", out], capture_output=True,
                           timeout=30)
            self.assertGreater(os.path.getsize(out), 50000)
        finally:
            publisher.interrupt()


if __name__ == "__main__":
    unittest.main()
