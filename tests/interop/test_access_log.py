"""The access log (--access-log FILE): FMS's W3C-style lines for a
publish, play, seek, pause and stop session, at the origin and at an edge
of a chain, and the file reopened on SIGHUP (logrotate's way).

ffmpeg publishes; a raw client plays the recording from 0, seeks, pauses,
unpauses, stops and disconnects; the log must have one line for each, in
order, with the fields FMS writes.
"""

import os
import shutil
import signal
import sys
import time
import unittest

import harness
from harness import HOST
from rtmp_client import VIDEO, RtmpClient

NAME = "logged"
FIELDS = ["x-event", "x-category", "date", "time", "c-ip", "c-client-id", "x-app", "x-sname", "x-duration",
          "sc-bytes", "cs-bytes", "x-status"]


def read_lines(path):
    """(header lines, entries as dicts of FIELDS)."""
    if not os.path.exists(path):
        return [], []
    header, entries = [], []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                header.append(line)
            elif line:
                values = line.split(" ")
                if len(values) != len(FIELDS):
                    raise AssertionError("malformed access log line %r" % line)
                entries.append(dict(zip(FIELDS, values)))
    return header, entries


def session(server, name):
    """A raw player: connect, play the recording from 0, seek to 1 s,
    pause, unpause, closeStream, disconnect. Returns its connection id as
    the server numbered it (from the log lines)."""
    c = RtmpClient(HOST, server.port)
    try:
        c.connect()
        sid = c.create_stream()
        c.play(sid, name, start=0)
        c.wait_for_status(("NetStream.Play.Start",), timeout=10)
        c.wait_for(lambda m: m.type == VIDEO, timeout=10, what="video")
        c.seek(sid, 1000)
        c.wait_for_status(("NetStream.Seek.Notify",), timeout=10)
        c.pause(sid, True, 1000)
        c.wait_for_status(("NetStream.Pause.Notify",), timeout=10)
        time.sleep(0.3)
        c.pause(sid, False, 1000)
        c.wait_for_status(("NetStream.Unpause.Notify",), timeout=10)
        c.send_command("closeStream", 0, None, stream_id=sid, csid=8)
        time.sleep(0.3)
    finally:
        c.close()


class AccessLogTest(harness.NotesFailures):

    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.make_workdir(cls.__name__)
        cls.failed = False
        cls.log_path = os.path.join(cls.workdir, "access.log")
        cls.server = harness.OriginServer(cls.workdir, ["--access-log", cls.log_path])
        cls.publisher = None
        try:
            cls.server.start()
            cls.publisher = harness.start_publisher(cls.workdir, cls.server.publish_url(NAME))
            cls.server.wait_publishing(NAME, timeout=15)
            # A few seconds recorded, so that the seek to 1 s has a segment.
            time.sleep(5)
        except BaseException:
            cls.failed = True
            cls._stop()
            raise

    @classmethod
    def _stop(cls):
        if cls.publisher:
            cls.publisher.kill()
        cls.server.kill()

    @classmethod
    def tearDownClass(cls):
        if cls.publisher:
            cls.publisher.kill()
        alive = cls.server.alive()
        rc = cls.server.stop()
        if cls.failed or not alive or rc != 0:
            sys.stderr.write("\n[%s] kept %s; server log tail:\n%s\n" % (cls.__name__, cls.workdir,
                                                                       cls.server.log.tail(30)))
        else:
            shutil.rmtree(cls.workdir, ignore_errors=True)
        if not alive or rc != 0:
            raise AssertionError("the server died or did not exit cleanly (exit code %s)" % rc)

    def entries_of(self, path, connection_id):
        return [e for e in read_lines(path)[1] if e["c-client-id"] == connection_id]

    def test_1_a_publish_play_seek_stop_session(self):
        session(self.server, NAME)

        def player_entries():
            _, entries = read_lines(self.log_path)
            ids = [e["c-client-id"] for e in entries if e["x-event"] == "play"]
            if not ids:
                return None
            mine = [e for e in entries if e["c-client-id"] == ids[-1]]
            return mine if mine[-1]["x-event"] == "disconnect" else None

        mine = harness.wait_until(player_entries, 10, what="the player's disconnect line")
        header, entries = read_lines(self.log_path)
        self.assertIn("#Version: 1.0", header)
        self.assertIn("#Fields: " + " ".join(FIELDS), header)
        self.assertEqual([e["x-event"] for e in mine],
                         ["connect", "play", "seek", "pause", "unpause", "stop", "disconnect"])
        for e in mine:
            self.assertEqual(e["c-ip"], HOST)
            self.assertEqual(e["x-app"], "live")
            self.assertEqual(e["x-status"], "200")
            self.assertRegex(e["date"], r"^\d{4}-\d\d-\d\d$")
            self.assertRegex(e["time"], r"^\d\d:\d\d:\d\d$")
        self.assertEqual([e["x-category"] for e in mine],
                         ["session"] + ["stream"] * 5 + ["session"])
        self.assertTrue(all(e["x-sname"] == NAME for e in mine[1:6]), mine)
        # The play lasted at least the 0.3 s paused (seeks and unpauses do
        # not restart it); the
        # disconnect's bytes sent cover the video the player received.
        self.assertGreaterEqual(float(mine[5]["x-duration"]), 0.28)
        self.assertGreater(int(mine[6]["sc-bytes"]), 10000)
        self.assertGreater(int(mine[6]["cs-bytes"]), 100)
        # The publisher: connect and publish, ffmpeg's stream name.
        publisher = [e for e in entries if e["x-event"] == "publish"]
        self.assertEqual(len(publisher), 1, entries)
        self.assertEqual(publisher[0]["x-sname"], NAME)
        self.assertEqual(publisher[0]["x-category"], "stream")

    def test_2_sighup_reopens_the_file(self):
        rotated = self.log_path + ".1"
        os.rename(self.log_path, rotated)
        mark = self.server.mark()
        os.kill(self.server.pid(), signal.SIGHUP)
        self.server.wait_log(r"access log .* reopened", timeout=10, since=mark)
        session(self.server, NAME)
        harness.wait_until(lambda: any(e["x-event"] == "disconnect" for e in read_lines(self.log_path)[1]), 10,
                           what="a line in the new file")
        header, entries = read_lines(self.log_path)
        self.assertIn("#Fields: " + " ".join(FIELDS), header)
        self.assertEqual([e["x-event"] for e in entries][:2], ["connect", "play"])
        # Nothing of the new session went to the old file.
        old_ids = {e["c-client-id"] for e in read_lines(rotated)[1]}
        self.assertFalse({e["c-client-id"] for e in entries} & old_ids)
        self.assertTrue(self.server.alive())

    def test_3_unpublish_is_logged(self):
        self.publisher.interrupt()
        harness.wait_until(lambda: any(e["x-event"] == "unpublish" for e in read_lines(self.log_path)[1]), 15,
                           what="the unpublish line")
        unpublish = [e for e in read_lines(self.log_path)[1] if e["x-event"] == "unpublish"]
        self.assertEqual(unpublish[0]["x-sname"], NAME)
        self.assertGreater(float(unpublish[0]["x-duration"]), 5.0)
        self.assertGreater(int(unpublish[0]["cs-bytes"]), 100000)


if __name__ == "__main__":
    unittest.main()
