"""Protocol behaviours clients rely on, checked with the raw client:
AMF3 connect, recorded play refused, play before publish, unpublish and
republish notifications."""

import struct
import unittest

import flv_check
import harness
from rtmp_client import (AUDIO, COMMAND_AMF0, COMMAND_AMF3, UC_STREAM_BEGIN, UC_STREAM_EOF, USER_CONTROL, VIDEO,
                         RtmpClient, status_info, summarize)


def is_command(msg, *names):
    if msg.type not in (COMMAND_AMF0, COMMAND_AMF3):
        return False
    values = msg.command()
    return bool(values) and values[0] in names


def is_status(msg, code):
    return is_command(msg, "onStatus") and status_info(msg.command()).get("code") == code


def user_control(msg):
    """(event, stream id) of a user control message, else None."""
    if msg.type != USER_CONTROL or len(msg.body) < 6:
        return None
    return struct.unpack(">HI", msg.body[:6])


class ProtocolTest(harness.ServerTestCase):

    @harness.origin_only("nginx-rtmp answers in AMF0")
    def test_amf3_connect_gets_amf3_replies(self):
        c = RtmpClient(harness.HOST, self.server.port)
        try:
            c.handshake()
            # Flash sends connect itself as AMF0 even when it asks for AMF3.
            c.send_command("connect", 1, {"app": "live", "flashVer": "WIN 32,0,0,465",
                                          "tcUrl": "rtmp://%s:%d/live" % (harness.HOST, self.server.port),
                                          "objectEncoding": 3.0})
            msg, seen = c.wait_for(lambda m: is_command(m, "_result", "_error"), 10, "the connect reply")
            values = msg.command()
            self.assertEqual(msg.type, COMMAND_AMF3, "connect reply is type %d: %r" % (msg.type, values))
            self.assertEqual(values[0], "_result", values)
            self.assertEqual(values[1], 1)
            info = status_info(values)
            self.assertEqual(info.get("code"), "NetConnection.Connect.Success", values)
            self.assertEqual(info.get("objectEncoding"), 3, values)
            # Later commands (in AMF3 too) get AMF3 replies.
            c.send_command("createStream", 2, None, amf3=True)
            msg, _ = c.wait_for(lambda m: is_command(m, "_result", "_error"), 10, "the createStream reply")
            self.assertEqual(msg.type, COMMAND_AMF3)
            values = msg.command()
            self.assertEqual(values[:2], ["_result", 2], values)
            self.assertGreater(values[3], 0)
        finally:
            c.close()

    def test_amf0_connect_gets_amf0_replies(self):
        c = RtmpClient(harness.HOST, self.server.port)
        try:
            c.handshake()
            c.send_command("connect", 1, {"app": "live", "flashVer": "LNX 9,0,124,2",
                                          "tcUrl": "rtmp://%s:%d/live" % (harness.HOST, self.server.port)})
            msg, seen = c.wait_for(lambda m: is_command(m, "_result", "_error"), 10, "the connect reply")
            self.assertEqual(msg.type, COMMAND_AMF0)
            self.assertEqual(status_info(msg.command()).get("code"), "NetConnection.Connect.Success")
            # The usual preamble came first: window ack size and peer bandwidth.
            types = [m.type for m in seen]
            self.assertIn(5, types, summarize(seen))
            self.assertIn(6, types, summarize(seen))
        finally:
            c.close()

    @harness.origin_only("nginx-rtmp plays live whatever the start")
    def test_play_with_start_offset_is_not_found(self):
        for start in (0, 5000):
            with self.subTest(start=start):
                mark = self.server.mark()
                c = RtmpClient(harness.HOST, self.server.port)
                try:
                    c.connect()
                    sid = c.create_stream()
                    c.play(sid, "recorded", start=start)
                    info = c.wait_for_status(("NetStream.Play.StreamNotFound", "NetStream.Play.Start"), 5)
                    self.assertEqual(info.get("code"), "NetStream.Play.StreamNotFound", info)
                    self.assertEqual(info.get("level"), "error", info)
                    self.server.wait_log(r"peer=127\.0\.0\.1:%d .*play refused" % c.local_port, 5, since=mark)
                finally:
                    c.close()

    def read_media_start(self, c, sid, what):
        """After a (re)publish: the video starts with the AVC sequence
        header and then a keyframe; returns the media messages read."""
        frames = []

        def enough(m):
            if m.type in (AUDIO, VIDEO):
                frames.append((m.type, m.timestamp, m.body))
            return sum(1 for f in frames if f[0] == VIDEO) >= 45

        c.wait_for(enough, 20, "video after %s" % what)
        report = flv_check.MediaReport(frames)
        self.assertTrue(report.first_video_is_sequence_header, "%s: %s" % (what, report.summary()))
        self.assertTrue(report.first_frame_is_keyframe, "%s: %s" % (what, report.summary()))
        self.assertTrue(report.first_audio_is_sequence_header, "%s: %s" % (what, report.summary()))
        self.assertEqual(report.backwards, {"video": [], "audio": []})
        return frames

    def test_play_before_publish_unpublish_and_republish(self):
        c = RtmpClient(harness.HOST, self.server.port)
        try:
            c.connect()
            sid = c.create_stream()
            c.play(sid, "late", start=-2)
            # Play.Start at once, although nobody publishes "late" yet.
            msg, seen = c.wait_for(lambda m: is_status(m, "NetStream.Play.Start"), 3, "Play.Start")
            self.assertFalse([m for m in seen if m.type in (AUDIO, VIDEO)])

            publisher = self.start_publisher("late")
            msg, seen = c.wait_for(lambda m: is_status(m, "NetStream.Play.PublishNotify"), 20, "PublishNotify")
            self.assertFalse([m for m in seen if m.type in (AUDIO, VIDEO)], "media before PublishNotify")
            self.read_media_start(c, sid, "the first publish")

            # ffmpeg unpublishes on SIGINT (FCUnpublish, deleteStream).
            publisher.interrupt()
            got = {}

            def unpublished(m):
                if is_status(m, "NetStream.Play.UnpublishNotify"):
                    got["notify"] = True
                if user_control(m) == (UC_STREAM_EOF, sid):
                    got["eof"] = True
                return len(got) == 2

            c.wait_for(unpublished, 10, "UnpublishNotify and StreamEOF(%d)" % sid)

            # Republish: the waiting player resumes, from a sequence header
            # and a keyframe again.
            republisher = self.start_publisher("late", label="republisher-late")
            c.wait_for(lambda m: is_status(m, "NetStream.Play.PublishNotify"), 20, "PublishNotify after republish")
            self.read_media_start(c, sid, "the republish")
            republisher.interrupt()
        finally:
            c.close()

    @harness.origin_only("nginx-rtmp sends StreamBegin only once a publisher is there")
    def test_stream_begin_precedes_play_start(self):
        c = RtmpClient(harness.HOST, self.server.port)
        try:
            c.connect()
            sid = c.create_stream()
            c.play(sid, "somewhere", start=-2)
            msg, seen = c.wait_for(lambda m: is_status(m, "NetStream.Play.Start"), 5, "Play.Start")
            self.assertIn((UC_STREAM_BEGIN, sid), [user_control(m) for m in seen], summarize(seen))
            self.assertEqual(msg.stream_id, sid, "onStatus on message stream %d, not %d" % (msg.stream_id, sid))
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
