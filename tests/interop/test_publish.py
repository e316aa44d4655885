"""Publishing rules: a second publisher of a live name is refused with
NetStream.Publish.BadName while the first keeps going and players keep
receiving; invalid names are refused the same way."""

import re
import sys
import unittest

import harness
from rtmp_client import RtmpClient

STREAM = "dup"


class DuplicatePublishTest(harness.ServerTestCase):

    @classmethod
    def setUpClients(cls):
        cls.publisher = cls.start_publisher(STREAM)
        cls.server.wait_publishing(STREAM, timeout=20)
        cls.player = cls.start_player(STREAM)

    def assertPlayerKeepsReceiving(self, frames=45, timeout=10):
        before = self.player.video_count()
        harness.wait_until(lambda: self.player.video_count() >= before + frames or self.player.error, timeout,
                           what="%d more video frames at the player (had %d)" % (frames, before))
        self.assertIsNone(self.player.error)
        self.assertNotIn("NetStream.Play.UnpublishNotify", self.player.statuses,
                         "the first publisher was unpublished")

    def test_raw_client_second_publish_gets_bad_name(self):
        mark = self.server.mark()
        c = RtmpClient(harness.HOST, self.server.port)
        try:
            c.connect()
            sid = c.create_stream()
            c.publish(sid, STREAM)
            info = c.wait_for_status(("NetStream.Publish.BadName", "NetStream.Publish.Start"))
            self.assertEqual(info.get("code"), "NetStream.Publish.BadName", info)
            self.assertEqual(info.get("level"), "error", info)
            if self.server.is_origin:
                self.server.wait_log(r"peer=127\.0\.0\.1:%d .*stream=%s error publish refused: .*already" %
                                     (c.local_port, STREAM), timeout=5, since=mark)
            self.assertPlayerKeepsReceiving()
        finally:
            c.close()
        self.assertTrue(self.publisher.alive(), self.publisher.stderr_tail())

    def test_second_ffmpeg_fails(self):
        mark = self.server.mark()
        second = self.start_publisher(STREAM, label="publisher-dup-second")
        rc = second.wait(30)
        err = second.stderr_text()
        sys.stderr.write("\n  [second ffmpeg] exit %d; %s\n" %
                         (rc, "; ".join(l for l in err.splitlines() if re.search(r"(?i)error|already", l))[:300]))
        self.assertNotEqual(rc, 0, "the second ffmpeg publisher was not refused:\n" + second.stderr_tail())
        # ffmpeg prints the onStatus description (or code) of an error.
        self.assertRegex(err, r"Server error: .*(?i:already|badname)", second.stderr_tail())
        if self.server.is_origin:
            self.server.wait_log(r"stream=%s error publish refused: .*already" % STREAM, timeout=5, since=mark)
        self.assertTrue(self.publisher.alive(), "the first publisher stopped:\n" + self.publisher.stderr_tail())
        self.assertPlayerKeepsReceiving()

    @harness.origin_only("nginx-rtmp accepts any stream name")
    def test_invalid_names_get_bad_name(self):
        for label, name in (("dot-dot", "../x"), ("control character", "a\x01b"), ("300 bytes", "n" * 300),
                            ("leading slash", "/abs"), ("empty segment", "a//b")):
            with self.subTest(label):
                mark = self.server.mark()
                c = RtmpClient(harness.HOST, self.server.port)
                try:
                    c.connect()
                    sid = c.create_stream()
                    c.publish(sid, name)
                    info = c.wait_for_status(("NetStream.Publish.BadName", "NetStream.Publish.Start"))
                    self.assertEqual(info.get("code"), "NetStream.Publish.BadName", "%s: %r" % (label, info))
                    self.server.wait_log(r"peer=127\.0\.0\.1:%d .*error publish refused" % c.local_port, timeout=5,
                                         since=mark)
                    # The connection is still usable after the refusal.
                    c.create_stream()
                finally:
                    c.close()
        self.assertServerAlive()


if __name__ == "__main__":
    unittest.main()
