"""FLV parsing and the media checks every player's output must pass.

A "frame" here is (tag type, timestamp in ms, body): FLV tags read from a
file and RTMP audio/video messages read off the wire look the same.
"""

import struct

AUDIO = 8
VIDEO = 9
SCRIPT = 18


class FlvError(Exception):
    pass


def parse_flv(data):
    """(header flags, [(type, timestamp, body)]) of an FLV file. A
    truncated last tag (a player killed mid-write) is dropped, not an error."""
    if len(data) < 13 or data[:3] != b"FLV":
        raise FlvError("not an FLV file (%d bytes, starts %r)" % (len(data), data[:3]))
    if data[3] != 1:
        raise FlvError("FLV version %d" % data[3])
    flags = data[4]
    offset = struct.unpack(">I", data[5:9])[0]
    if offset < 9:
        raise FlvError("FLV header size %d" % offset)
    pos = offset
    if struct.unpack(">I", data[pos:pos + 4])[0] != 0:
        raise FlvError("PreviousTagSize0 is not 0")
    pos += 4
    tags = []
    while pos + 11 <= len(data):
        tag_type = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1:pos + 4], "big")
        timestamp = int.from_bytes(data[pos + 4:pos + 7], "big") | (data[pos + 7] << 24)
        end = pos + 11 + size
        if end + 4 > len(data):
            break  # truncated tail
        previous_size = struct.unpack(">I", data[end:end + 4])[0]
        if previous_size != 11 + size:
            raise FlvError("tag %d at %d: PreviousTagSize %d, expected %d" % (len(tags), pos, previous_size,
                                                                               11 + size))
        if tag_type not in (AUDIO, VIDEO, SCRIPT):
            raise FlvError("tag %d at %d has type %d" % (len(tags), pos, tag_type))
        tags.append((tag_type, timestamp, bytes(data[pos + 11:end])))
        pos = end + 4
    return flags, tags


def is_avc_sequence_header(body):
    return len(body) >= 2 and body[0] & 0x0F == 7 and body[1] == 0


def is_avc_keyframe(body):
    return len(body) >= 2 and body[0] >> 4 == 1 and body[0] & 0x0F == 7 and body[1] == 1


def is_aac_sequence_header(body):
    return len(body) >= 2 and body[0] >> 4 == 10 and body[1] == 0


def is_media_frame(kind, body):
    """A coded frame (not a sequence header, not an empty tag)."""
    if kind == VIDEO:
        return len(body) >= 2 and body[0] & 0x0F == 7 and body[1] == 1
    if kind == AUDIO:
        return len(body) >= 2 and body[0] >> 4 == 10 and body[1] == 1
    return False


class MediaReport:
    """What a player received, reduced to the numbers the tests check."""

    def __init__(self, frames, window_ms=10000):
        self.window_ms = window_ms
        self.total_video = 0
        self.total_audio = 0
        self.problems = []
        video = [(ts, body) for kind, ts, body in frames if kind == VIDEO]
        audio = [(ts, body) for kind, ts, body in frames if kind == AUDIO]
        self.total_video = sum(1 for _, b in video if is_media_frame(VIDEO, b))
        self.total_audio = sum(1 for _, b in audio if is_media_frame(AUDIO, b))

        # First video: the sequence header, then a keyframe.
        self.first_video_is_sequence_header = bool(video) and is_avc_sequence_header(video[0][1])
        self.first_frame_is_keyframe = len(video) >= 2 and is_avc_keyframe(video[1][1])
        self.first_audio_is_sequence_header = bool(audio) and is_aac_sequence_header(audio[0][1])
        if not video:
            self.problems.append("no video at all")
        else:
            if not self.first_video_is_sequence_header:
                self.problems.append("first video tag is not an AVC sequence header (bytes %s)" %
                                     video[0][1][:2].hex())
            if not self.first_frame_is_keyframe:
                self.problems.append("video tag after the sequence header is not an AVC keyframe (bytes %s)" %
                                     (video[1][1][:2].hex() if len(video) > 1 else "none"))
        if not audio:
            self.problems.append("no audio at all")
        elif not self.first_audio_is_sequence_header:
            self.problems.append("first audio tag is not an AAC sequence header (bytes %s)" % audio[0][1][:2].hex())

        # Timestamps: per stream, never going back (serial arithmetic).
        self.backwards = {}
        for name, stream in (("video", video), ("audio", audio)):
            back = [(a, b) for (a, _), (b, _) in zip(stream, stream[1:]) if ((b - a) & 0xFFFFFFFF) >= 0x80000000]
            self.backwards[name] = back
            if back:
                self.problems.append("%s timestamps go back %d times, first %d -> %d" %
                                     (name, len(back), back[0][0], back[0][1]))

        # Frames in the first window_ms of media, from the first keyframe.
        coded_video = [ts for ts, b in video if is_media_frame(VIDEO, b)]
        coded_audio = [ts for ts, b in audio if is_media_frame(AUDIO, b)]
        self.start_ts = coded_video[0] if coded_video else 0
        end_ts = self.start_ts + window_ms
        self.span_ms = (coded_video[-1] - self.start_ts) if coded_video else 0
        self.window_video = sum(1 for ts in coded_video if self.start_ts <= ts < end_ts)
        self.window_audio = sum(1 for ts in coded_audio if self.start_ts <= ts < end_ts)

    def summary(self):
        return ("video %d (%d in %d ms), audio %d (%d in window), span %d ms, seqhdr-first %s, keyframe-next %s, "
                "aac-seqhdr-first %s" % (self.total_video, self.window_video, self.window_ms, self.total_audio,
                                         self.window_audio, self.span_ms, self.first_video_is_sequence_header,
                                         self.first_frame_is_keyframe, self.first_audio_is_sequence_header))


# The test stream: testsrc2 at 30 fps, AAC at 44.1 kHz (1024 samples a frame).
VIDEO_FPS = 30.0
AUDIO_FPS = 44100.0 / 1024.0


def check_media(test, report, who, min_ratio=0.95):
    """Assert the report shows a good live stream over its window."""
    seconds = report.window_ms / 1000.0
    want_video = int(VIDEO_FPS * seconds * min_ratio)
    want_audio = int(AUDIO_FPS * seconds * min_ratio)
    test.assertEqual(report.problems, [], "%s: %s" % (who, report.summary()))
    test.assertGreaterEqual(report.span_ms, report.window_ms - 100,
                            "%s: received only %d ms of video: %s" % (who, report.span_ms, report.summary()))
    test.assertGreaterEqual(report.window_video, want_video, "%s: too few video frames: %s" % (who, report.summary()))
    test.assertGreaterEqual(report.window_audio, want_audio, "%s: too few audio frames: %s" % (who, report.summary()))
