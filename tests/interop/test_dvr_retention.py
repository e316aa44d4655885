"""Retention beyond the recording itself (issue 7): a recording that has
ended is trimmed to its application's window when that window is lowered
(a restart with new settings), and dvr.store_max_bytes caps the store as a
whole, deleting the least recently updated finished recordings first."""

import re
import sys
import unittest

import harness
from harness import HOST
from rtmp_client import RtmpClient


def stream_info(server, name):
    """DVRGetStreamInfo's data for a stream (None when the store has none)."""
    c = RtmpClient(HOST, server.port)
    try:
        c.connect()
        values = c.wait_for_reply(c.call("DVRGetStreamInfo", name))
        reply = values[3] if len(values) > 3 else {}
        if reply.get("code") != "NetStream.DVRStreamInfo.Success":
            return None
        return reply["data"]
    finally:
        c.close()


@harness.origin_only("DVR retention is rewind-origin's")
class DvrRetentionTest(harness.ServerTestCase):
    origin_args = ["--default-app.dvr.segment-ms", "1000", "--log-level", "info"]

    def restart(self, *args):
        mark_file_before = self.server.starts
        self.server.stop()
        self.server.extra_args = list(self.origin_args) + list(args)
        self.server.start()
        self.assertEqual(self.server.starts, mark_file_before + 1)

    def test_finished_recordings_follow_the_window_and_the_store_cap(self):
        # Three recordings that end one after another: a (4 s), b (6 s), c (8 s).
        publishers = [self.start_publisher(name, duration=seconds) for name, seconds in
                      (("a", 4), ("b", 6), ("c", 8))]
        for p in publishers:
            self.assertEqual(p.wait(40), 0, p.stderr_tail())
        for name in ("a", "b", "c"):
            self.server.wait_log(r"stream=%s record-stop" % name, 10)
        c_before = stream_info(self.server, "c")
        self.assertGreaterEqual(c_before["windowDuration"], 6.5, c_before)

        # The window is now 3 s: the finished recordings are trimmed to it at start.
        self.restart("--default-app.dvr.window-s", "3")
        self.server.wait_log(r"dvr: deleted \d+ segments .*stream=c: beyond its window", 10)
        c_after = stream_info(self.server, "c")
        sys.stderr.write("\n  [retention] c: window %.1f s -> %.1f s\n" %
                         (c_before["windowDuration"], c_after["windowDuration"]))
        self.assertGreaterEqual(c_after["windowDuration"], 3.0, c_after)
        self.assertLess(c_after["windowDuration"], 5.0, c_after)
        self.assertEqual(c_after["currLen"], c_before["currLen"], "the end of the recording moved")

        # A store cap that holds one 3 s recording of the 1 Mbit/s test
        # stream (about 400 KB) but not two: the least recently updated (a,
        # then b) are deleted whole, c stays.
        self.restart("--default-app.dvr.window-s", "3", "--dvr.store-max-bytes", "600000")
        m_a = self.server.wait_log(r"dvr: deleted .*stream=a: .*whole recording", 10)
        m_b = self.server.wait_log(r"dvr: deleted .*stream=b: .*whole recording", 10)
        sys.stderr.write("  [store cap] %s\n  [store cap] %s\n" % (m_a.string[m_a.start():], m_b.string[m_b.start():]))
        self.assertIsNone(self.server.log.find(r"dvr: deleted .*stream=c: .*whole recording"))
        self.assertIsNone(stream_info(self.server, "a"))
        self.assertIsNone(stream_info(self.server, "b"))
        self.assertIsNotNone(stream_info(self.server, "c"))
        self.assertServerAlive()


if __name__ == "__main__":
    unittest.main()
