"""A full disk while recording (issue 4): the publisher gets
NetStream.Record.Failed, live goes on for its players, and the origin's log
says why. The origin's --data-dir is a small tmpfs that the test fills
while a raw-client encoder publishes: the DVR store refuses to write while
less than its reserve is free (2 write buffers + 32 MB, 160 MB by default),
before RocksDB itself would fail.
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from harness import HOST
from rtmp_client import PlayerThread
from test_dvr_record_control import Encoder

NAME = "full"
TMPFS_MB = 400
RESERVE_MB = 160


def free_mb(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize // (1 << 20)


class DvrDiskFullTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        if harness.SERVER_KIND != "origin":
            raise unittest.SkipTest("DVR is rewind-origin's (nginx-rtmp records no DVR)")
        cls.mount_point = tempfile.mkdtemp(prefix="rewind-full-")
        if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=%dm" % TMPFS_MB, "tmpfs", cls.mount_point],
                           stderr=subprocess.DEVNULL) != 0:
            os.rmdir(cls.mount_point)
            raise unittest.SkipTest("cannot mount a tmpfs here (needs root)")
        # A later --data-dir wins over the harness's own.
        cls.origin_args = ("--data-dir", cls.mount_point)
        try:
            super().setUpClass()
        except BaseException:
            cls.unmount()
            raise

    @classmethod
    def unmount(cls):
        subprocess.call(["umount", "-l", cls.mount_point], stderr=subprocess.DEVNULL)
        shutil.rmtree(cls.mount_point, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.unmount()

    @classmethod
    def setUpClients(cls):
        srv = cls.server
        enc = Encoder(srv.port)
        cls.encoder = enc
        enc.publish(NAME)
        cls.record_start = enc.client.wait_for_status(("NetStream.Record.Start",), 10)
        player = PlayerThread(HOST, srv.port, NAME, start=-1)
        player.start()
        cls.players.append(player)
        player.playing.wait(10)
        enc.send_until(6000)
        cls.video_before_full = player.video

        # Fill the disk to below the store's reserve.
        filler_mb = max(free_mb(cls.mount_point) - RESERVE_MB + 40, 0)
        with open(os.path.join(cls.mount_point, "filler"), "wb") as out:
            chunk = b"\0" * (1 << 20)
            for _ in range(filler_mb):
                out.write(chunk)
        cls.free_after_fill = free_mb(cls.mount_point)

        # The next segment the recorder stores is refused.
        enc.send_until(12000)
        cls.record_failed = enc.client.wait_for_status(("NetStream.Record.Failed",), 15)
        video_at_failure = player.video
        enc.send_until(18000)
        deadline = time.monotonic() + 5
        while player.video < video_at_failure + 60 and time.monotonic() < deadline:
            time.sleep(0.1)
        cls.video_at_failure = video_at_failure
        cls.video_at_end = player.video
        cls.log_line = srv.wait_log(r"stream=%s error recording stopped: .*MB free" % NAME, timeout=5)
        enc.client.close()

    def test_recording_started(self):
        self.assertEqual(self.record_start.get("level"), "status", self.record_start)

    def test_disk_was_filled_below_the_reserve(self):
        self.assertLess(self.free_after_fill, RESERVE_MB)

    def test_publisher_gets_record_failed(self):
        self.assertEqual(self.record_failed.get("level"), "error", self.record_failed)
        self.assertIn("MB free", self.record_failed.get("description", ""), self.record_failed)

    def test_live_goes_on(self):
        self.assertGreater(self.video_before_full, 0, "the player got nothing before the disk filled")
        self.assertGreaterEqual(self.video_at_end - self.video_at_failure, 60,
                                "the player stopped receiving when recording failed")

    def test_log_says_why(self):
        self.assertIsNotNone(self.log_line)


if __name__ == "__main__":
    unittest.main()
