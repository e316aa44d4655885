"""DVR crash safety with real clients (issue 4): kill -9 the origin while
ffmpeg publishes (and so records), start it again on the same --data-dir,
play the recording to its end, then publish again: a live publish appends
to the recording, on the same timeline.
"""

import re
import sys
import time
import unittest

import dvr_check
import flv_check
import harness
from dvr_check import Timeline
from harness import HOST
from rtmp_client import VIDEO, AmfDate, PlayerThread, RtmpClient

NAME = "crashcam"
PUBLISHED_BEFORE_KILL_MS = 13000
REPUBLISH_SECONDS = 8
SEGMENT_MS = dvr_check.SEGMENT_MS
GOP_MS = dvr_check.GOP_MS
SLACK_MS = 150


class DvrCrashTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        if harness.SERVER_KIND != "origin":
            raise unittest.SkipTest("DVR is rewind-origin's (nginx-rtmp records no DVR)")
        super().setUpClass()

    @classmethod
    def setUpClients(cls):
        srv = cls.server
        publisher = cls.start_publisher(NAME)
        srv.wait_publishing(NAME, timeout=20)
        live_ref = PlayerThread(HOST, srv.port, NAME, start=-1)
        cls.players.append(live_ref)
        live_ref.start()
        harness.wait_until(lambda: (live_ref.last_timestamp() or 0) >= PUBLISHED_BEFORE_KILL_MS or live_ref.error,
                           PUBLISHED_BEFORE_KILL_MS / 1000 + 20, what="13 s of media at a live player")
        # What the origin had received when it died: what it forwarded.
        cls.published_before_kill = live_ref.last_timestamp()
        srv.kill()  # SIGKILL, mid-segment
        cls.kill_exit = srv.proc.returncode
        live_ref.stop()
        publisher.kill()

        srv.start()  # same --data-dir; a new port and log file
        cls.first_play = cls.play_to_end("play-after-restart")
        cls.info_after_restart = cls.stream_info()

        mark = srv.mark()
        republisher = cls.start_publisher(NAME, label="republisher", duration=REPUBLISH_SECONDS)
        srv.wait_publishing(NAME, timeout=20, since=mark)
        cls.republisher_rc = republisher.wait(REPUBLISH_SECONDS + 30)
        harness.wait_until(lambda: srv.log.find(r"stream=%s unpublish" % NAME, mark), 10,
                           what="the end of the republish in the log")
        cls.republish_log = srv.log.text(mark)
        cls.second_play = cls.play_to_end("play-after-republish")

    @classmethod
    def play_to_end(cls, label, timeout=30.0):
        """Play the recording from 0 with a 10 min buffer (the origin then
        sends as fast as we read) until Play.Stop or an error status."""
        result = {"label": label}
        tl = Timeline()
        result["timeline"] = tl
        c = RtmpClient(HOST, cls.server.port)
        try:
            c.connect()
            sid = c.create_stream()
            c.play(sid, NAME, start=0, buffer_ms=600000)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    msg = c.read_message(min(0.5, max(deadline - time.monotonic(), 0.01)))
                except TimeoutError:
                    continue
                event = tl.add(msg.type, msg.timestamp, msg.body)
                if event.kind == "status" and (event.code == "NetStream.Play.Stop" or event.info.get("level") == "error"):
                    result["end"] = event.code
                    break
            else:
                result["end"] = None  # neither an end nor an error in time
        except Exception as e:
            result["error"] = "%s: %s" % (type(e).__name__, e)
        finally:
            c.close()
        return result

    @classmethod
    def stream_info(cls):
        c = RtmpClient(HOST, cls.server.port)
        try:
            c.connect()
            values = c.wait_for_reply(c.call("DVRGetStreamInfo", NAME))
            return values[3] if len(values) > 3 else values
        finally:
            c.close()

    def check_played_to_end(self, result):
        self.assertNotIn("error", result, result.get("error"))
        tl = result["timeline"]
        self.assertEqual(result["end"], "NetStream.Play.Stop",
                         "%s: the recording did not end with Play.Stop (got %s): %s" %
                         (result["label"], result["end"], tl.summary(max(0, len(tl.events) - 30))))
        errors = [e.info for e in tl.events if e.kind == "status" and e.info.get("level") == "error"]
        self.assertEqual(errors, [], result["label"])
        self.assertIsNotNone(tl.find(lambda e: e.kind == "data" and e.code == "NetStream.Play.Complete"),
                             "%s: no onPlayStatus Play.Complete: %s" % (result["label"], tl.summary()))
        frames = tl.media()
        problems, first_key = dvr_check.clean_start_problems(frames, result["label"])
        self.assertEqual(problems, [])
        self.assertEqual(dvr_check.monotonic_problems(frames, result["label"]), [])
        self.assertLessEqual(first_key, 500, "%s does not start at the beginning" % result["label"])
        return frames

    def test_killed_with_sigkill(self):
        self.assertEqual(self.kill_exit, -9)
        self.assertGreaterEqual(self.published_before_kill, PUBLISHED_BEFORE_KILL_MS)

    def test_store_opens_cleanly_after_kill(self):
        self.assertServerAlive()
        log = self.server.log.text()
        self.assertIsNone(re.search(r"\b(ERROR|FATAL)\b", log), "errors after the restart:\n" + log[-3000:])

    def test_recording_plays_to_its_end_after_kill(self):
        frames = self.check_played_to_end(self.first_play)
        last = max(ts for _, ts, _ in frames)
        sys.stderr.write("\n  [after kill -9] published up to %d ms, recording plays up to %d ms\n" %
                         (self.published_before_kill, last))
        # Every segment completed before the kill is there: at most the
        # segment being written (2 s, plus the keyframe interval as segments
        # end at keyframes) is lost.
        self.assertGreater(last, self.published_before_kill - SEGMENT_MS - GOP_MS - SLACK_MS,
                           "more than a segment lost")
        self.assertLessEqual(last, self.published_before_kill + SLACK_MS)
        span = last - min(ts for _, ts, _ in frames)
        video = len(dvr_check.per_kind(frames, VIDEO))
        self.assertGreater(video, span / 1000 * flv_check.VIDEO_FPS * 0.95, "frames missing inside the recording")

    def test_stream_info_after_restart_says_offline(self):
        # Nobody publishes after the restart: a DVRCast player (OSMF) must
        # see the recording as offline, or it waits for it to grow.
        info = self.info_after_restart
        self.assertIsInstance(info, dict, info)
        self.assertEqual(info.get("code"), "NetStream.DVRStreamInfo.Success", info)
        data = info["data"]
        self.assertIs(data["offline"], True, data)
        self.assertIs(data["isRec"], False, data)
        self.assertIsInstance(data["stopRec"], AmfDate, data)

    def test_republish_appends_on_the_same_timeline(self):
        self.assertEqual(self.republisher_rc, 0)
        self.assertRegex(self.republish_log, r"stream=%s record-start append" % NAME,
                         "the republish did not append")
        before = self.check_played_to_end(self.first_play)
        frames = self.check_played_to_end(self.second_play)
        old_end = max(ts for _, ts, _ in before)
        old = [f for f in frames if f[1] <= old_end]
        new = [f for f in frames if f[1] > old_end]
        self.assertTrue(new, "nothing after the old end (%d ms): the republish was not recorded on the timeline" %
                        old_end)
        # The old part is still all there.
        self.assertGreaterEqual(len(old), len(before) - 2, "the old part changed: %d frames, was %d" %
                                (len(old), len(before)))
        new_start = min(ts for _, ts, _ in new)
        new_end = max(ts for _, ts, _ in new)
        sys.stderr.write("\n  [append] old part ends %d ms, new part %d..%d ms\n" % (old_end, new_start, new_end))
        self.assertLess(new_start - old_end, 5000, "a gap of %d ms between the old end and the new part" %
                        (new_start - old_end))
        self.assertGreater(new_end - new_start, REPUBLISH_SECONDS * 1000 - SEGMENT_MS - SLACK_MS)
        self.assertLess(new_end - new_start, REPUBLISH_SECONDS * 1000 + SLACK_MS)
        # The new part starts like any playback would need it to, at a keyframe.
        first_new_video = next(body for k, ts, body in new if k == VIDEO and flv_check.is_media_frame(k, body))
        self.assertTrue(flv_check.is_avc_keyframe(first_new_video), "the appended part does not start at a keyframe")


if __name__ == "__main__":
    unittest.main()
