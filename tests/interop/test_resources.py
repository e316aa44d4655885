"""Operating limits a server meets in the field: running out of file
descriptors, and an encoder whose connection goes half-open."""

import os
import signal
import socket
import sys
import time
import unittest

import harness

STREAM = "cam"


@harness.origin_only("checks the origin's accept loop")
class OutOfDescriptorsTest(harness.ServerTestCase):
    """With RLIMIT_NOFILE at 64 and more clients than that, accepting fails
    at once and every time: the origin must pause rather than spin a core
    writing a log line per try (88 MB of log in 3 s before), refuse the
    waiting clients rather than leave them hanging, and serve again once
    descriptors are free."""

    origin_max_files = 64
    origin_args = ["--threads", "1", "--default-app.dvr.record", "off", "--log-level", "info"]

    def test_pauses_and_refuses_when_out_of_descriptors_then_recovers(self):
        pid = self.server.pid()
        sockets = []
        try:
            for _ in range(100):
                s = socket.create_connection((harness.HOST, self.server.port), timeout=5)
                sockets.append(s)
            mark = self.server.mark()
            cpu_before = harness.cpu_seconds(pid)
            time.sleep(3)
            cpu = (harness.cpu_seconds(pid) - cpu_before) / 3 * 100
            lines = self.server.log.text(mark).count("\n") + 1
            log_bytes = len(self.server.log.text(mark))
            sys.stderr.write("\n  [out of descriptors] %.1f%% CPU, %d log lines (%d bytes) in 3 s\n" %
                             (cpu, lines, log_bytes))
            self.assertLess(cpu, 20, "the accept loop spins while out of descriptors")
            self.assertLess(log_bytes, 20000, "the log grows by a line per accept try")
            self.server.wait_log(r"accept failed: .*[Tt]oo many open files.*refusing new connections", 1,
                                 since=0)
            # Clients beyond the limit are closed, not left in the backlog.
            refused = 0
            for s in sockets:
                s.settimeout(0.01)
                try:
                    if s.recv(1) == b"":
                        refused += 1
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    refused += 1
            sys.stderr.write("  [out of descriptors] %d of %d waiting clients refused at once\n" %
                             (refused, len(sockets)))
            self.assertGreater(refused, 0, "no waiting client was refused")
        finally:
            for s in sockets:
                s.close()
        # Descriptors are free again: a player is served.
        publisher = self.start_publisher(STREAM)
        self.server.wait_publishing(STREAM, timeout=30)
        player = self.start_player(STREAM, timeout=20)
        self.assertIsNone(player.error)
        self.assertTrue(publisher.alive())


@harness.origin_only("checks the origin's publisher timeout")
class HalfOpenPublisherTest(harness.ServerTestCase):
    """An encoder whose connection goes half-open (its host froze, a NAT
    dropped the mapping) sends nothing more but never closes. Stopping
    ffmpeg with SIGSTOP makes exactly that. Its reconnect (a second ffmpeg)
    must be able to publish the same name once publisher.idle_timeout_ms
    has passed, not get NetStream.Publish.BadName forever."""

    IDLE_MS = 3000
    origin_args = ["--publisher.idle-timeout-ms", str(IDLE_MS), "--log-level", "info"]

    def test_silent_publisher_releases_its_name(self):
        stuck = self.start_publisher(STREAM, label="stuck-encoder")
        self.server.wait_publishing(STREAM, timeout=20)
        player = self.start_player(STREAM)
        os.kill(stuck.proc.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            mark = self.server.mark()
            m = self.server.wait_log(r"disconnect publisher sent no media for %d ms" % self.IDLE_MS,
                                     self.IDLE_MS / 1000 + 5, since=mark)
            released = time.monotonic() - stopped_at
            sys.stderr.write("\n  [half-open publisher] released after %.1f s: %s\n" %
                             (released, m.string[m.start():]))
            self.assertLess(released, self.IDLE_MS / 1000 + 2.5)
            # The player heard the stream end, and stays for the next one.
            harness.wait_until(lambda: "NetStream.Play.UnpublishNotify" in player.statuses, 5,
                               what="UnpublishNotify at the player")
            count = player.video_count()
            again = self.start_publisher(STREAM, label="reconnected-encoder")
            self.server.wait_publishing(STREAM, timeout=20, since=mark)
            harness.wait_until(lambda: player.video_count() > count + 30 or player.error, 20,
                               what="the player to get the reconnected encoder's video")
            self.assertIsNone(player.error)
            self.assertTrue(again.alive(), again.stderr_tail())
        finally:
            os.kill(stuck.proc.pid, signal.SIGCONT)


if __name__ == "__main__":
    unittest.main()
