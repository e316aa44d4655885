"""Recording started and stopped by the encoder (issue 4), with the raw
client as the encoder: under `--default-app.dvr.record requested` a
`live` publish is not recorded until DVRSetStreamInfo {startRec} (FMLE's
DVR button), and DVRSetStreamInfo {stopRec} stops it while the publish goes
on. Synthetic frames (an AVC and an AAC header, a keyframe every 2 s) are
enough: the origin records what it is sent, it does not decode it.
"""

import time
import unittest

import dvr_check
import harness
from dvr_check import Timeline
from harness import HOST
from rtmp_client import AUDIO, DATA_AMF0, VIDEO, AmfDate, EcmaArray, RtmpClient, amf0_encode

NAME = "fmle"
AVC_HEADER = b"\x17\x00\x00\x00\x00\x01\x42\xc0\x1e\xff\xe1\x00\x04\x67\x42\xc0\x1e\x01\x00\x03\x68\xce\x3c"
AAC_HEADER = b"\xaf\x00\x12\x10"
GOP_MS = dvr_check.GOP_MS
SEGMENT_MS = dvr_check.SEGMENT_MS


def avc_frame(keyframe, n):
    return (b"\x17\x01" if keyframe else b"\x27\x01") + b"\x00\x00\x00" + bytes([n & 0xFF]) * 200


class Encoder:
    """A raw-client publisher sending 30 fps video and AAC at 10x real time."""

    def __init__(self, port):
        self.client = RtmpClient(HOST, port)
        self.client.connect()
        self.sid = self.client.create_stream()
        self.next_ms = 0
        self.frame = 0

    def publish(self, name):
        self.client.publish(self.sid, name, "live")
        info = self.client.wait_for_status(("NetStream.Publish.Start", "NetStream.Publish.BadName"))
        if info.get("code") != "NetStream.Publish.Start":
            raise AssertionError("publish refused: %r" % info)
        meta = EcmaArray(width=640.0, height=360.0, framerate=30.0, videocodecid=7.0, audiocodecid=10.0)
        self.client.send_message(DATA_AMF0, amf0_encode("@setDataFrame") + amf0_encode("onMetaData") +
                                 amf0_encode(meta), self.sid, 0, csid=4)
        self.client.send_message(VIDEO, AVC_HEADER, self.sid, 0, csid=6)
        self.client.send_message(AUDIO, AAC_HEADER, self.sid, 0, csid=4)

    def send_until(self, end_ms):
        """Frames up to end_ms of media time, interleaved by timestamp."""
        while self.next_ms < end_ms:
            ts = self.next_ms
            self.client.send_message(VIDEO, avc_frame(self.frame % 60 == 0, self.frame), self.sid, ts, csid=6)
            self.client.send_message(AUDIO, b"\xaf\x01" + bytes(60), self.sid, ts, csid=4)
            self.frame += 1
            self.next_ms = self.frame * 1000 // 30
            if self.frame % 30 == 0:
                time.sleep(0.1)  # 10x real time: the origin forwards, not throttles

    def call(self, method, *args):
        values = self.client.wait_for_reply(self.client.call(method, *args))
        return values[0], (values[3] if len(values) > 3 else None)


class DvrRecordControlTest(harness.ServerTestCase):

    origin_args = ("--default-app.dvr.record", "requested")

    @classmethod
    def setUpClass(cls):
        if harness.SERVER_KIND != "origin":
            raise unittest.SkipTest("DVR is rewind-origin's (nginx-rtmp records no DVR)")
        super().setUpClass()

    @classmethod
    def setUpClients(cls):
        srv = cls.server
        viewer = RtmpClient(HOST, srv.port)
        viewer.connect()
        cls.viewer = viewer
        enc = Encoder(srv.port)
        cls.encoder = enc
        enc.publish(NAME)
        enc.send_until(3000)
        cls.info_before = cls.viewer_call("DVRGetStreamInfo", NAME)
        # Someone else may not start the encoder's recording.
        cls.foreign_set = cls.viewer_call("DVRSetStreamInfo", {"streamName": NAME,
                                                               "startRec": AmfDate(time.time() * 1000)})
        start_wall = time.time() * 1000
        cls.start_reply = enc.call("DVRSetStreamInfo", {
            "streamName": NAME, "callTime": AmfDate(start_wall), "startRec": AmfDate(start_wall), "stopRec": None,
            "maxLen": 3600.0, "begOffset": 0.0, "endOffset": 0.0, "append": False, "offline": False,
            "dynamicStreamSet": False})
        cls.recording_from_ms = enc.next_ms
        enc.send_until(9000)
        cls.recording_to_ms = enc.next_ms
        stop_wall = time.time() * 1000
        cls.stop_reply = enc.call("DVRSetStreamInfo", {
            "streamName": NAME, "callTime": AmfDate(stop_wall), "startRec": AmfDate(start_wall),
            "stopRec": AmfDate(stop_wall), "append": False, "offline": False})
        enc.send_until(12000)
        # Give the recorder a moment to store the last segment.
        try:
            harness.wait_until(lambda: not cls.info_live(), 5, interval=0.2)
        except TimeoutError:
            pass  # test_recording_covers_start_to_stop says what is wrong
        cls.info_after = cls.viewer_call("DVRGetStreamInfo", NAME)

        # The recording plays: from the first keyframe after startRec to
        # the stop.
        tl = Timeline()
        cls.play_timeline = tl
        c = RtmpClient(HOST, srv.port)
        try:
            c.connect()
            sid = c.create_stream()
            c.play(sid, NAME, start=0, buffer_ms=600000)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    msg = c.read_message(0.5)
                except TimeoutError:
                    continue
                event = tl.add(msg.type, msg.timestamp, msg.body)
                if event.kind == "status" and event.code in ("NetStream.Play.Stop", "NetStream.Play.StreamNotFound"):
                    break
        finally:
            c.close()
        enc.client.close()
        viewer.close()

    @classmethod
    def viewer_call(cls, method, *args):
        values = cls.viewer.wait_for_reply(cls.viewer.call(method, *args))
        return values[0], (values[3] if len(values) > 3 else None)

    @classmethod
    def stream_data(cls):
        kind, obj = cls.viewer_call("DVRGetStreamInfo", NAME)
        if isinstance(obj, dict) and obj.get("code") == "NetStream.DVRStreamInfo.Success":
            return obj["data"]
        return None

    @classmethod
    def info_live(cls):
        data = cls.stream_data()
        return data is None or data["isRec"]

    def test_live_publish_not_recorded_when_policy_is_requested(self):
        kind, obj = self.info_before
        self.assertEqual(kind, "_result")
        self.assertEqual(obj.get("code"), "NetStream.DVRStreamInfo.Retry",
                         "a live publish was recorded under dvr.record requested: %r" % obj)

    def test_set_stream_info_from_another_connection_is_refused(self):
        kind, obj = self.foreign_set
        self.assertEqual(kind, "_error", "DVRSetStreamInfo by a viewer: %r" % (obj,))

    def test_start_and_stop_replies(self):
        for reply in (self.start_reply, self.stop_reply):
            kind, obj = reply
            self.assertEqual(kind, "_result", reply)
            self.assertIsInstance(obj, dict, reply)
            self.assertEqual(obj.get("level"), "status", obj)

    def test_recording_covers_start_to_stop(self):
        kind, obj = self.info_after
        self.assertEqual(obj.get("code"), "NetStream.DVRStreamInfo.Success", obj)
        data = obj["data"]
        self.assertIs(data["isRec"], False, "still recording after stopRec: %r" % data)
        # From the keyframe at or after startRec to where stopRec came.
        self.assertGreaterEqual(data["begOffset"] * 1000, self.recording_from_ms - GOP_MS, data)
        self.assertLessEqual(data["begOffset"] * 1000, self.recording_from_ms + GOP_MS, data)
        self.assertGreater(data["currLen"] * 1000, self.recording_to_ms - SEGMENT_MS, data)
        self.assertLess(data["currLen"] * 1000, self.recording_to_ms + GOP_MS + 100,
                        "recorded on after stopRec: %r" % data)

    def test_recording_plays(self):
        tl = self.play_timeline
        self.assertIsNone(tl.find_status("NetStream.Play.StreamNotFound"), tl.summary())
        self.assertIsNotNone(tl.find_status("NetStream.Play.Stop"), "did not play to the end: " + tl.summary())
        frames = tl.media()
        problems, first_key = dvr_check.clean_start_problems(frames, "the recording")
        self.assertEqual(problems, [], tl.summary(0, 20))
        last = max(ts for _, ts, _ in frames)
        self.assertGreaterEqual(first_key, self.recording_from_ms - GOP_MS)
        self.assertLess(last, self.recording_to_ms + GOP_MS + 100)
        self.assertEqual(dvr_check.monotonic_problems(frames, "the recording"), [])
        self.assertGreater(len(dvr_check.per_kind(frames, VIDEO)), (last - first_key) / 1000 * 30 * 0.95)


if __name__ == "__main__":
    unittest.main()
