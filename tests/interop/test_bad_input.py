"""Hostile and broken clients. Each attack runs while a concurrent player
plays the live test stream: the player must keep receiving during and
after the attack, the server must stay up, and its log must name the
offender (by its address and port) with a clear reason."""

import os
import socket
import struct
import sys
import time
import unittest

import harness
from rtmp_client import (COMMAND_AMF0, RtmpClient, chunk_message,
                         nested_amf0_objects, status_info)

STREAM = "live1"
HANDSHAKE_TIMEOUT_MS = 2000
MAX_MESSAGE_SIZE = 1 << 20
SEND_TIMEOUT_MS = 4000


def offender(port):
    """Log regex prefix for lines about the client at this local port."""
    return r"peer=127\.0\.0\.1:%d\b" % port


class BadInputTest(harness.ServerTestCase):
    origin_args = ["--rtmp.handshake-timeout-ms", str(HANDSHAKE_TIMEOUT_MS),
                   "--rtmp.max-message-size", str(MAX_MESSAGE_SIZE),
                   "--rtmp.send-timeout-ms", str(SEND_TIMEOUT_MS),
                   # Above the 2 s GOP a new player gets at once.
                   "--player.max-queue-lag-ms", "3000"]

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

    # (c) The largest legal chunk size, then a message over the size limit.
    @harness.origin_only("checks the origin's memory and log")
    def test_c_huge_chunk_size_then_oversized_message(self):
        pid = self.server.pid()
        rss_before = harness.rss_kib(pid)
        c = self.client()
        c.connect()
        c.set_chunk_size(0x7FFFFFFF)
        # The connection still works with it: a createStream, and a message
        # just under the limit sent as one chunk.
        c.create_stream()
        big = "x" * (MAX_MESSAGE_SIZE - 1000)
        txn = c.call("fooBar", big)
        reply = c.wait_for_reply(txn, 10)
        self.assertEqual(reply[0], "_error", reply)
        rss_after = harness.rss_kib(pid)
        self.assertLess(rss_after - rss_before, 64 * 1024,
                        "RSS grew from %d to %d KiB after Set Chunk Size 0x7FFFFFFF" % (rss_before, rss_after))
        # Now a message claiming more than the limit.
        header_only = chunk_message(COMMAND_AMF0, b"\x02\x00\x03abc" + bytes(1000), csid=3,
                                    chunk_size=0x7FFFFFFF)
        claimed = MAX_MESSAGE_SIZE + 1
        c.send(header_only[:4] + claimed.to_bytes(3, "big") + header_only[7:])
        self.assertTrue(c.wait_closed(5), "a %d-byte message was not refused" % claimed)
        self.server.wait_log(offender(c.local_port) + r" .*disconnect .*(?i:too large|size|limit)", 5,
                             since=self.mark)
        self.assertLess(harness.rss_kib(pid) - rss_before, 64 * 1024)
        self.assertPlayerUnaffected()

    # (d) A message length over the limit at the default chunk size.
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
                claimed = 0xFFFFFF  # 16 MiB - 1: over the 1 MiB limit
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

    # (g) A player that never reads.
    @harness.origin_only("nginx-rtmp has no send timeout to lower")
    def test_g_player_that_never_reads(self):
        # A small receive buffer keeps the TCP window small, so the server
        # notices within seconds rather than after megabytes.
        c = self.client(rcvbuf=4096)
        c.connect()
        sid = c.create_stream()
        c.play(sid, STREAM)
        c.wait_for_status("NetStream.Play.Start", 5)
        # From here on we read nothing.
        m = self.server.wait_log(offender(c.local_port) + r" .*disconnect .*(?i:too slow|read nothing)", 45,
                                 since=self.mark)
        sys.stderr.write("\n  [slow player] %s\n" % m.string[m.start():])
        self.assertTrue(c.wait_closed(15), "the server logged the disconnect but kept the socket open")
        self.assertPlayerUnaffected()

    def test_z_server_still_serves_new_players(self):
        """After all of the above a new player still gets the stream."""
        late = self.start_player(STREAM, timeout=10)
        late.stop()
        self.assertIsNone(late.error)
        self.assertPlayerUnaffected()


if __name__ == "__main__":
    unittest.main()
