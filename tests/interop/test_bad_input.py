"""Hostile and broken clients. Each attack runs while a concurrent player
plays the live test stream: the player must keep receiving during and
after the attack, the server must stay up, its log must name the offender
(by its address and port) with a clear reason, and the attack must not
make the server hold more than a few MB: the server's peak RSS is watched
during each attack (VmHWM, reset just before it), not only after."""

import contextlib
import os
import re
import socket
import struct
import subprocess
import sys
import time
import unittest

import harness
from rtmp_client import (AGGREGATE, AUDIO, COMMAND_AMF0, VIDEO, RtmpClient, aggregate_of_empty_tags,
                         amf0_encode, amf0_strict_array_bomb, amf3_trait_bomb, basic_header, chunk_message,
                         nested_amf0_objects, status_info)

STREAM = "live1"
HANDSHAKE_TIMEOUT_MS = 2000
MAX_MESSAGE_SIZE = 1 << 20
MAX_COMMAND_SIZE = 128 << 10
SEND_TIMEOUT_MS = 4000
SEND_BUFFER = 256 << 10
# What one hostile connection may cost at its peak ("a few MB").
ATTACK_BUDGET_MIB = 4


def offender(port):
    """Log regex prefix for lines about the client at this local port."""
    return r"peer=127\.0\.0\.1:%d\b" % port


def send_queues(port):
    """{peer port: bytes in the kernel's send queue} for the server's
    established sockets on `port` (ss's Send-Q)."""
    out = subprocess.run(["ss", "-tnH", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True, check=True).stdout
    queues = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            queues[int(fields[3].rsplit(":", 1)[1])] = int(fields[1])
    return queues


class BadInputTest(harness.ServerTestCase):
    origin_args = ["--rtmp.handshake-timeout-ms", str(HANDSHAKE_TIMEOUT_MS),
                   "--rtmp.max-message-size", str(MAX_MESSAGE_SIZE),
                   "--rtmp.max-command-size", str(MAX_COMMAND_SIZE),
                   "--rtmp.send-timeout-ms", str(SEND_TIMEOUT_MS),
                   "--player.send-buffer-bytes", str(SEND_BUFFER),
                   # Above the 2 s GOP a new player gets at once.
                   "--player.max-queue-lag-ms", "3000",
                   # "norec" records nothing: what a flood costs in the
                   # server, apart from what recording it stores.
                   "--app.live.dvr.record", "all", "--app.norec.dvr.record", "off"]

    @classmethod
    def setUpClients(cls):
        cls.publisher = cls.start_publisher(STREAM)
        cls.server.wait_publishing(STREAM, timeout=20)
        cls.player = cls.start_player(STREAM)

    def setUp(self):
        self.assertIsNone(self.player.error, "the concurrent player failed earlier")
        self.attack_started = time.monotonic()
        self.count_at_start = self.player.video_count()
        self.mark = self.server.mark()

    def assertPlayerUnaffected(self):
        """The concurrent player received frames during the attack (when it
        lasted long enough to expect some) and keeps receiving after it."""
        attack_seconds = time.monotonic() - self.attack_started
        count_at_end = self.player.video_count()
        if attack_seconds >= 1.0:
            self.assertGreater(count_at_end, self.count_at_start,
                               "the concurrent player received nothing during a %.1f s attack" % attack_seconds)
        harness.wait_until(lambda: self.player.video_count() >= count_at_end + 30 or self.player.error, 8,
                           what="30 more frames at the concurrent player after the attack")
        self.assertIsNone(self.player.error)
        self.assertTrue(self.publisher.alive(), self.publisher.stderr_tail())
        self.assertServerAlive()
        sys.stderr.write("\n  [concurrent player] %d -> %d video frames during %.1f s, %d now\n" %
                         (self.count_at_start, count_at_end, attack_seconds, self.player.video_count()))

    @contextlib.contextmanager
    def memory_budget(self, what, mib=ATTACK_BUDGET_MIB):
        """The server's RSS may peak at most `mib` MiB above where it was
        when the block started. Leave the block only once the server has
        handled the attack (a reply came, the connection closed)."""
        if not self.server.is_origin or harness.SANITIZED:
            yield
            return
        pid = self.server.pid()
        before = harness.rss_kib(pid)
        harness.reset_peak_rss(pid)
        yield
        grew = harness.peak_rss_kib(pid) - before
        sys.stderr.write("\n  [memory] %s: peak RSS +%d KiB\n" % (what, grew))
        self.assertLess(grew, mib * 1024, "%s: the server's RSS peaked %d KiB above the %d KiB before it"
                        % (what, grew, before))

    def raw_socket(self):
        s = socket.create_connection((harness.HOST, self.server.port), timeout=10)
        self.addCleanup(s.close)
        return s

    def wait_socket_closed(self, s, timeout):
        """Read until EOF; the seconds it took, or None if still open."""
        start = time.monotonic()
        deadline = start + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                if not s.recv(65536):
                    return time.monotonic() - start
            except socket.timeout:
                return None
            except ConnectionResetError:
                return time.monotonic() - start
        return None

    def client(self, **kwargs):
        c = RtmpClient(harness.HOST, self.server.port, **kwargs)
        self.addCleanup(c.close)
        return c

    def claim_oversized(self, c, msg_type, limit, stream_id=0, csid=3, chunk_size=0x7FFFFFFF):
        """Sends the first chunk of a message claiming `limit` + 1 bytes;
        the server must refuse it (close) and say it is too large."""
        header_only = chunk_message(msg_type, b"\x17\x01" + bytes(1000), stream_id=stream_id, csid=csid,
                                    chunk_size=chunk_size)
        claimed = limit + 1
        c.send(header_only[:4] + claimed.to_bytes(3, "big") + header_only[7:])
        self.assertTrue(c.wait_closed(5), "a %d-byte message was not refused" % claimed)
        self.server.wait_log(offender(c.local_port) + r" .*disconnect .*(?i:too large)", 5, since=self.mark)

    def publishing_client(self, name, app="live"):
        """A raw client that published `name` (and got Publish.Start)."""
        c = self.client()
        c.connect(app)
        sid = c.create_stream()
        c.publish(sid, name)
        c.wait_for_status("NetStream.Publish.Start", 5)
        return c, sid

    # (a) Not RTMP at all.
    def test_a_garbage_instead_of_handshake(self):
        garbage = {
            "tls client hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(1600),
            "http request": b"GET /live/test HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 1600,
            "rtmpe (C0=6)": b"\x06" + os.urandom(1536),
            "zeros": bytes(1537),
        }
        for label, data in garbage.items():
            with self.subTest(label):
                mark = self.server.mark()
                s = self.raw_socket()
                port = s.getsockname()[1]
                try:
                    s.sendall(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # closed while we still wrote: fine
                took = self.wait_socket_closed(s, 5)
                self.assertIsNotNone(took, "%s: the server kept the connection open" % label)
                if self.server.is_origin:
                    self.server.wait_log(offender(port) + r" .*disconnect .*handshake", 5, since=mark)
        self.assertPlayerUnaffected()

    # (b) C0 and half of C1, then silence.
    @harness.origin_only("nginx-rtmp's handshake timeout is not configurable per test")
    def test_b_truncated_handshake_times_out(self):
        s = self.raw_socket()
        port = s.getsockname()[1]
        s.sendall(b"\x03" + bytes(768))
        took = self.wait_socket_closed(s, HANDSHAKE_TIMEOUT_MS / 1000.0 + 5)
        self.assertIsNotNone(took, "a half handshake was not dropped within %d ms + 5 s" % HANDSHAKE_TIMEOUT_MS)
        self.assertGreaterEqual(took, HANDSHAKE_TIMEOUT_MS / 1000.0 - 0.5,
                                "dropped after %.1f s, before the handshake timeout" % took)
        self.server.wait_log(offender(port) + r" .*disconnect .*(?i:handshake|no connect|time)", 5, since=self.mark)
        self.assertPlayerUnaffected()

    # (c) The largest legal chunk size, then messages at and over the limits:
    # a client that does not publish may send commands up to
    # rtmp.max_command_size, a publisher media up to rtmp.max_message_size.
    @harness.origin_only("checks the origin's limits and log")
    def test_c_huge_chunk_size_then_oversized_messages(self):
        with self.memory_budget("a command just under max_command_size with chunk size 0x7FFFFFFF"):
            c = self.client()
            c.connect()
            c.set_chunk_size(0x7FFFFFFF)
            c.create_stream()
            txn = c.call("fooBar", "x" * (MAX_COMMAND_SIZE - 1000))
            reply = c.wait_for_reply(txn, 10)
            self.assertEqual(reply[0], "_error", reply)
        with self.memory_budget("a command claiming more than max_command_size"):
            self.claim_oversized(c, COMMAND_AMF0, MAX_COMMAND_SIZE)

        # A publisher may send a keyframe just under max_message_size.
        with self.memory_budget("a publisher's media message just under max_message_size",
                                ATTACK_BUDGET_MIB + MAX_MESSAGE_SIZE / (1 << 20)):
            p, sid = self.publishing_client("big-frames", app="norec")
            p.set_chunk_size(0x7FFFFFFF)
            p.send_message(VIDEO, b"\x17\x01" + bytes(MAX_MESSAGE_SIZE - 2000), stream_id=sid, csid=6)
            p.create_stream()  # answered only after the frame was read
        with self.memory_budget("a media message claiming more than max_message_size"):
            self.claim_oversized(p, VIDEO, MAX_MESSAGE_SIZE, stream_id=sid, csid=6)
        self.assertPlayerUnaffected()

    # (d) A message length over every limit at the default chunk size.
    def test_d_oversized_message(self):
        for label, connect_first in (("before connect", False), ("after connect", True)):
            with self.subTest(label):
                mark = self.server.mark()
                c = self.client()
                if connect_first:
                    c.connect()
                else:
                    c.handshake()
                first_chunk = chunk_message(COMMAND_AMF0, bytes(128), csid=3, chunk_size=128)[:12 + 128]
                claimed = 0xFFFFFF  # 16 MiB - 1: over every limit
                c.send(first_chunk[:4] + claimed.to_bytes(3, "big") + first_chunk[7:])
                self.assertTrue(c.wait_closed(5), "%s: a %d-byte message was not refused" % (label, claimed))
                if self.server.is_origin:
                    self.server.wait_log(offender(c.local_port) + r" .*disconnect .*(?i:too large|size|limit)", 5,
                                         since=mark)
        self.assertPlayerUnaffected()

    # (e) AMF nested far deeper than any real client sends.
    @harness.origin_only("nginx-rtmp ignores what it cannot parse")
    def test_e_deeply_nested_amf(self):
        nested = {
            "objects": nested_amf0_objects(10000),
            "strict arrays": b"\x0a\x00\x00\x00\x01" * 10000 + b"\x05",
            "ecma arrays": b"\x08\x00\x00\x00\x01\x00\x01a" * 9999 + b"\x05" + b"\x00\x00\x09" * 9999,
        }
        for label, value in nested.items():
            with self.subTest(label):
                mark = self.server.mark()
                c = self.client()
                c.connect()
                body = b"\x02\x00\x04deep" + b"\x00" + struct.pack(">d", 7.0) + b"\x05" + value
                c.send_message(COMMAND_AMF0, body)
                values = c.wait_for_command(("_error", "_result"), 10)
                self.assertEqual(values[0], "_error", values)
                self.assertEqual(status_info(values).get("code"), "NetConnection.Call.BadValue", values)
                self.assertTrue(c.wait_closed(5), "%s: still connected after malformed AMF" % label)
                self.server.wait_log(offender(c.local_port) + r" .*disconnect .*(?i:amf|depth)", 5, since=mark)
        self.assertPlayerUnaffected()

    # (e2) AMF that declares far more than it holds, nested: a 100 KB
    # command that a decoder reserving each declared count would turn into
    # hundreds of MB, before the client has even connected.
    @harness.origin_only("nginx-rtmp ignores what it cannot parse")
    def test_e2_amplifying_amf(self):
        bombs = {
            "amf0 strict arrays, connect": (amf0_strict_array_bomb(), False),
            "amf0 strict arrays, call": (amf0_strict_array_bomb(), True),
            "amf3 sealed traits, connect": (amf3_trait_bomb(), False),
            "amf3 sealed traits, call": (amf3_trait_bomb(), True),
        }
        for label, (value, connected) in bombs.items():
            with self.subTest(label), self.memory_budget("%s (%d bytes)" % (label, len(value))):
                mark = self.server.mark()
                c = self.client()
                if connected:
                    c.connect()
                    body = amf0_encode("bomb") + amf0_encode(5.0) + b"\x05" + value
                else:
                    c.handshake()
                    body = amf0_encode("connect") + amf0_encode(1.0) + amf0_encode({"app": "live"}) + value
                c.send_message(COMMAND_AMF0, body)
                values = c.wait_for_command(("_error", "_result"), 10)
                self.assertEqual(values[0], "_error", values)
                self.assertTrue(c.wait_closed(5), "%s: still connected after malformed AMF" % label)
                self.server.wait_log(offender(c.local_port) + r" .*disconnect .*(?i:amf)", 5, since=mark)
        self.assertPlayerUnaffected()

    # (f) A method the server does not have.
    @harness.origin_only("nginx-rtmp does not answer unknown methods")
    def test_f_unknown_command_gets_call_failed(self):
        c = self.client()
        c.connect()
        c.send_command("fooBar", 5, None, "an argument", 42)
        values = c.wait_for_reply(5, 10)
        self.assertEqual(values[0], "_error", values)
        info = status_info(values)
        self.assertEqual(info.get("code"), "NetConnection.Call.Failed", values)
        self.assertEqual(info.get("level"), "error", values)
        self.server.wait_log(r"unknown command 'fooBar'", 5, since=self.mark)
        # Still connected and usable.
        self.assertGreater(c.create_stream(), 0)
        self.assertPlayerUnaffected()

    # (f2) A flood of unknown commands: every one answered, but the log says
    # so a bounded number of times; names cannot forge log lines.
    @harness.origin_only("checks the origin's log")
    def test_f2_command_flood_and_forged_log_lines(self):
        c = self.client()
        c.connect()
        forged = "x\n2026-01-01T00:00:00.000Z ERROR forged line"
        c.send_command(forged, 2, None)
        self.assertEqual(c.wait_for_reply(2, 10)[0], "_error")
        n = 2000
        for i in range(n):
            c.send_command("flood%d" % i, 3 + i, None)
        self.assertEqual(c.wait_for_reply(2 + n, 20)[0], "_error")
        lines = [l for l in self.server.log.text(self.mark).splitlines() if re.search(offender(c.local_port), l)]
        about = [l for l in lines if "unknown command" in l]
        sys.stderr.write("\n  [log] %d unknown commands -> %d lines about them\n" % (n + 1, len(about)))
        self.assertLess(len(about), 50, "the log took a line per unknown command")
        self.assertTrue(any("x\\x0a2026" in l for l in about), "the forged name was not logged escaped")
        self.assertIsNone(self.server.log.find(r"^2026-01-01T00:00:00.000Z ERROR forged", self.mark),
                          "a command name forged a log line")
        # A stream name with a newline, published and refused: escaped too.
        c2 = self.client()
        c2.connect()
        sid = c2.create_stream()
        c2.publish(sid, "bad\nname\x01")
        c2.wait_for_status("NetStream.Publish.BadName", 5)
        self.server.wait_log(r"stream=bad\\x0aname\\x01 ", 5, since=self.mark)
        self.assertPlayerUnaffected()

    # (g) A player that never reads: dropped within the send timeout of its
    # socket filling, and the kernel holds at most its send buffer for it.
    @harness.origin_only("nginx-rtmp has no send timeout to lower")
    def test_g_player_that_never_reads(self):
        # A small receive buffer keeps the TCP window small, so the server
        # notices within seconds rather than after megabytes.
        c = self.client(rcvbuf=4096)
        c.connect()
        sid = c.create_stream()
        c.play(sid, STREAM)
        c.wait_for_status("NetStream.Play.Start", 5)
        started = time.monotonic()
        # From here on we read nothing.
        most_queued = 0
        while time.monotonic() - started < 30:
            most_queued = max(most_queued, send_queues(self.server.port).get(c.local_port, 0))
            if self.server.log.find(offender(c.local_port) + r" .*disconnect", self.mark):
                break
            time.sleep(0.1)
        took = time.monotonic() - started
        m = self.server.wait_log(offender(c.local_port) + r" .*disconnect .*(?i:too slow|read nothing)", 1,
                                 since=self.mark)
        sys.stderr.write("\n  [slow player] after %.1f s, at most %d KiB in the kernel: %s\n" %
                         (took, most_queued // 1024, m.string[m.start():]))
        # The kernel doubles SO_SNDBUF for its bookkeeping; Send-Q counts data.
        self.assertLessEqual(most_queued, 2 * SEND_BUFFER, "the kernel held %d bytes for a player" % most_queued)
        # The socket fills within seconds at 1 Mbit/s, then the timeout runs.
        self.assertLess(took, SEND_TIMEOUT_MS / 1000.0 + 8)
        self.assertTrue(c.wait_closed(15), "the server logged the disconnect but kept the socket open")
        self.assertPlayerUnaffected()

    # (g2) Many players that never read cost little each, in the kernel and
    # in the server: the frames they have not read are shared, not copied.
    @harness.origin_only("checks the origin's memory")
    def test_g2_many_players_that_never_read(self):
        n = 100
        clients = []
        with self.memory_budget("%d players that never read" % n, 12):
            for _ in range(n):
                c = self.client(rcvbuf=4096)
                c.connect()
                sid = c.create_stream()
                c.play(sid, STREAM)
                c.wait_for_status("NetStream.Play.Start", 5)
                clients.append(c)
            time.sleep(3)  # their sockets fill
            queues = send_queues(self.server.port)
            held = sum(queues.get(c.local_port, 0) for c in clients)
        sys.stderr.write("\n  [never reading] %d players: %d KiB in the kernel's send queues\n" % (n, held // 1024))
        self.assertLessEqual(held, n * 2 * SEND_BUFFER)
        for c in clients:
            c.close()
        self.assertPlayerUnaffected()

    # (h) Aggregates of empty tags: split one tag at a time, never all at
    # once; before connect they are not even read.
    @harness.origin_only("checks the origin's memory")
    def test_h_amplifying_aggregates(self):
        with self.memory_budget("an aggregate of empty tags before connect"):
            c = self.client()
            c.handshake()
            body = aggregate_of_empty_tags((MAX_COMMAND_SIZE - 100) // 15)
            c.send(chunk_message(AGGREGATE, body, stream_id=1, csid=6))
            c.send_command("connect", 1, {"app": "live", "tcUrl": "rtmp://x/live"})
            self.assertEqual(c.wait_for_command(("_result", "_error"), 10)[0], "_result")
            self.server.wait_log(offender(c.local_port) + r" .*media message sent before connect", 5,
                                 since=self.mark)
        for tag_type, label in ((AUDIO, "empty audio tags"), (VIDEO, "empty video tags")):
            with self.subTest(label), self.memory_budget("a 1 MB aggregate of %s from a publisher" % label,
                                                         ATTACK_BUDGET_MIB + 1):
                p, sid = self.publishing_client("aggregates-%d" % tag_type)
                body = aggregate_of_empty_tags((MAX_MESSAGE_SIZE - 100) // 15, tag_type)
                p.set_chunk_size(65536)
                p.send_message(AGGREGATE, body, stream_id=sid, csid=6)
                p.create_stream()  # answered only after the aggregate was read
        self.assertPlayerUnaffected()

    # (i) A publisher sending a flood of one-byte messages: each costs a
    # chunk header and a byte, but the server builds only a few at a time.
    @harness.origin_only("checks the origin's memory")
    def test_i_flood_of_tiny_messages(self):
        p, sid = self.publishing_client("tiny", app="norec")
        first = chunk_message(AUDIO, b"\xaf", stream_id=sid, csid=4)
        flood = first + (basic_header(3, 4) + b"\xaf") * 500_000
        with self.memory_budget("500000 one-byte messages (%d KB)" % (len(flood) // 1024)):
            p.send(flood)
            p.create_stream()
        self.assertPlayerUnaffected()

    # (j) Numbers that are not stream ids where a stream id belongs.
    @harness.origin_only("checks the origin's handling of stream ids")
    def test_j_stream_ids_that_are_not_numbers_in_range(self):
        c = self.client()
        c.connect()
        for value in (float("nan"), -1.0, 1e300, 2.5, 4294967296.0, float("inf")):
            c.send_command("deleteStream", 0, None, value)
        # Still connected and usable.
        self.assertGreater(c.create_stream(), 0)
        self.server.wait_log(offender(c.local_port) + r" .*deleteStream of something that is not a stream id", 5,
                             since=self.mark)
        self.assertPlayerUnaffected()

    def test_z_server_still_serves_new_players(self):
        """After all of the above a new player still gets the stream."""
        late = self.start_player(STREAM, timeout=10)
        late.stop()
        self.assertIsNone(late.error)
        self.assertPlayerUnaffected()


if __name__ == "__main__":
    unittest.main()
