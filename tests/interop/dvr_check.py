"""What a DVR player received, as a timeline of events, and the checks the
DVR tests make on it.

A timeline keeps every message a player read, in order: media frames,
onStatus codes, data messages (onMetaData, onPlayStatus), user control
events. Messages read off the wire by the raw client and packets read by
python-librtmp go in the same way, so the checks do not care which client
played. Checks return a list of problems (empty: good) so a test can print
everything wrong at once, and test_tools can show that they do fail.
"""

import struct
import time

import flv_check
from rtmp_client import (AUDIO, COMMAND_AMF0, COMMAND_AMF3, DATA_AMF0, DATA_AMF3, USER_CONTROL, VIDEO,
                         decode_command, status_info)

# User control events a DVR player sees.
UC_NAMES = {0: "StreamBegin", 1: "StreamEOF", 2: "StreamDry", 4: "StreamIsRecorded", 6: "PingRequest",
            7: "PingResponse", 31: "BufferEmpty", 32: "BufferReady"}

# The test stream: a frame every 33.3 ms, an AAC frame every 23.2 ms, a
# keyframe every 2 s (ffmpeg -g 60 at 30 fps).
VIDEO_FRAME_MS = 1000.0 / 30
AUDIO_FRAME_MS = 1024 * 1000.0 / 44100
GOP_MS = 2000
SEGMENT_MS = 2000  # the origin's default --default-app.dvr.segment-ms


class Event:
    """One message: kind is media, status, data, uc, result or other."""

    __slots__ = ("kind", "type", "timestamp", "body", "name", "code", "info", "values", "uc", "wall")

    def __init__(self, msg_type, timestamp, body, wall=None):
        self.type = msg_type
        self.timestamp = timestamp
        self.body = body
        self.wall = time.monotonic() if wall is None else wall
        self.name = self.code = self.info = self.values = self.uc = None
        if msg_type in (AUDIO, VIDEO):
            self.kind = "media"
        elif msg_type == USER_CONTROL and len(body) >= 2:
            self.kind = "uc"
            self.uc = struct.unpack(">H", body[:2])[0]
            self.body = bytes(body)
        elif msg_type in (COMMAND_AMF0, COMMAND_AMF3, DATA_AMF0, DATA_AMF3):
            self.body = bytes(body)
            try:
                self.values = decode_command(msg_type, self.body)
            except Exception:  # a test tool: an undecodable message is just "other"
                self.values = None
            self.name = self.values[0] if self.values else None
            if msg_type in (DATA_AMF0, DATA_AMF3):
                self.kind = "data"
                if self.name == "onPlayStatus":
                    self.info = next((v for v in self.values[1:] if isinstance(v, dict)), {})
                    self.code = self.info.get("code")
            elif self.name == "onStatus":
                self.kind = "status"
                self.info = status_info(self.values)
                self.code = self.info.get("code")
            elif self.name in ("_result", "_error"):
                self.kind = "result"
            else:
                self.kind = "other"
        else:
            self.kind = "other"

    def is_status(self, code):
        return self.kind == "status" and self.code == code

    def is_uc(self, event):
        return self.kind == "uc" and self.uc == event

    def frame(self):
        return (self.type, self.timestamp, self.body)

    def label(self):
        if self.kind == "media":
            body = self.body
            what = "seq" if (flv_check.is_avc_sequence_header(body) if self.type == VIDEO
                             else flv_check.is_aac_sequence_header(body)) else (
                "key" if self.type == VIDEO and flv_check.is_avc_keyframe(body) else "")
            return "%s%s@%d" % ("V" if self.type == VIDEO else "A", what, self.timestamp)
        if self.kind == "uc":
            return UC_NAMES.get(self.uc, "uc%d" % self.uc)
        if self.kind in ("status", "data") and self.code:
            return "%s(%s)" % (self.name, self.code)
        if self.kind in ("data", "result", "other") and self.name:
            return str(self.name)
        return "t%d" % self.type

    def __repr__(self):
        return self.label()


class Timeline:
    """Events in the order a player read them; marks name positions in it
    ("seek", "pause"...) where the test did something."""

    def __init__(self):
        self.events = []
        self.marks = {}

    def add(self, msg_type, timestamp, body, wall=None):
        event = Event(msg_type, timestamp, bytes(body) if msg_type in (AUDIO, VIDEO) else body, wall)
        self.events.append(event)
        return event

    def mark(self, name):
        self.marks[name] = len(self.events)

    def find(self, predicate, start=0, end=None):
        """Index of the first event at or after start matching predicate."""
        for i in range(start, len(self.events) if end is None else end):
            if predicate(self.events[i]):
                return i
        return None

    def find_status(self, code, start=0):
        return self.find(lambda e: e.is_status(code), start)

    def media(self, start=0, end=None):
        return [e.frame() for e in self.events[start:end] if e.kind == "media"]

    def around(self, index, before=8, after=12):
        """A short description of the events near index, for messages."""
        lo = max(0, index - before)
        parts = [("[%s]" if i == index else "%s") % self.events[i].label()
                 for i in range(lo, min(len(self.events), index + after))]
        return "#%d: %s" % (index, " ".join(parts))

    def summary(self, start=0, end=None, limit=40):
        """Non-media events and the first media after each, compressed."""
        parts = []
        previous_media = False
        for e in self.events[start:end]:
            if e.kind == "media":
                if not previous_media:
                    parts.append(e.label() + "...")
                previous_media = True
            else:
                parts.append(e.label())
                previous_media = False
        return " ".join(parts[:limit]) + (" ..." if len(parts) > limit else "")


def clean_start_problems(frames, what):
    """A decoder's needs at a (re)start: the AVC and AAC sequence headers
    before any coded frame, and a keyframe as the first coded video frame.
    Returns (problems, timestamp of that first keyframe or None)."""
    problems = []
    seen_video_header = seen_audio_header = False
    first_key = None
    for kind, ts, body in frames:
        if kind == VIDEO and flv_check.is_avc_sequence_header(body):
            seen_video_header = True
            continue
        if kind == AUDIO and flv_check.is_aac_sequence_header(body):
            seen_audio_header = True
            continue
        if not flv_check.is_media_frame(kind, body):
            continue
        if not (seen_video_header and seen_audio_header):
            problems.append("%s: a coded %s frame at %d ms came before the %s sequence header" %
                            (what, "video" if kind == VIDEO else "audio", ts,
                             "AVC" if not seen_video_header else "AAC"))
            break
        if kind == VIDEO:
            if not flv_check.is_avc_keyframe(body):
                problems.append("%s: the first video frame (at %d ms) is not a keyframe" % (what, ts))
            else:
                first_key = ts
            break
    if not frames:
        problems.append("%s: no media at all" % what)
    elif first_key is None and not problems:
        problems.append("%s: no video frame" % what)
    return problems, first_key


def order_problems(events, expected, what):
    """expected (labels such as "StreamEOF" or "onStatus(NetStream.Seek.Notify)")
    must appear in that order among the non-media events."""
    labels = [e.label() for e in events if e.kind != "media"]
    pos = 0
    for want in expected:
        try:
            pos = labels.index(want, pos) + 1
        except ValueError:
            return ["%s: expected %s in this order, %s missing; got %s" % (what, expected, want, labels[:20])]
    return []


def per_kind(frames, kind):
    """Timestamps of the coded frames of one kind (no sequence headers)."""
    return [ts for k, ts, body in frames if k == kind and flv_check.is_media_frame(k, body)]


def continuity_problems(before, after, what):
    """after continues before with no gap and no repeat, per stream: its
    first coded frame is the one right after before's last (within 1.5
    frame intervals), and no timestamp of before comes again."""
    problems = []
    for kind, name, frame_ms in ((VIDEO, "video", VIDEO_FRAME_MS), (AUDIO, "audio", AUDIO_FRAME_MS)):
        b = per_kind(before, kind)
        a = per_kind(after, kind)
        if not b or not a:
            problems.append("%s: no %s frames %s" % (what, name, "before" if not b else "after"))
            continue
        gap = a[0] - b[-1]
        if gap <= 0:
            problems.append("%s: %s goes back or repeats: last %d ms before, first %d ms after" %
                            (what, name, b[-1], a[0]))
        elif gap > 1.5 * frame_ms:
            problems.append("%s: %s jumps %d ms (last %d, first %d), frames skipped" % (what, name, gap, b[-1], a[0]))
        repeated = sorted(set(a) & set(b))
        if repeated:
            problems.append("%s: %d %s timestamps sent twice, first %d" % (what, len(repeated), name, repeated[0]))
        back = [(x, y) for x, y in zip(a, a[1:]) if y < x]
        if back:
            problems.append("%s: %s timestamps go back after the resume: %s" % (what, name, back[:3]))
    return problems


def monotonic_problems(frames, what):
    problems = []
    for kind, name in ((VIDEO, "video"), (AUDIO, "audio")):
        ts = [t for k, t, _ in frames if k == kind]
        back = [(a, b) for a, b in zip(ts, ts[1:]) if b < a]
        if back:
            problems.append("%s: %s timestamps go back %d times, first %d -> %d" %
                            (what, name, len(back), back[0][0], back[0][1]))
    return problems


def flv_script_values(body):
    """The AMF0 values of an FLV script tag (onMetaData, ...)."""
    from rtmp_client import amf0_decode_all
    return amf0_decode_all(body)


def keyframe_index_problems(data, tags_with_offsets, what):
    """onMetaData's keyframes {times, filepositions} (the index players and
    ffmpeg seek with): present, as long as each other, and every position
    is the start of a video keyframe tag whose timestamp is the time."""
    scripts = [(off, body) for off, (kind, ts, body) in tags_with_offsets if kind == flv_check.SCRIPT]
    if not scripts:
        return ["%s: no script tag (onMetaData)" % what], None
    values = flv_script_values(scripts[0][1])
    if not values or values[0] != "onMetaData" or len(values) < 2 or not isinstance(values[1], dict):
        return ["%s: the first script tag is %r, not onMetaData" % (what, values[:1])], None
    meta = values[1]
    index = meta.get("keyframes")
    if not isinstance(index, dict):
        return ["%s: onMetaData has no keyframes object (keys %s)" % (what, sorted(meta))], meta
    times = index.get("times")
    positions = index.get("filepositions")
    if not isinstance(times, list) or not isinstance(positions, list):
        return ["%s: keyframes.times / filepositions are not arrays: %r" % (what, index)], meta
    problems = []
    if len(times) != len(positions):
        problems.append("%s: %d keyframe times but %d file positions" % (what, len(times), len(positions)))
    if not times:
        problems.append("%s: the keyframe index is empty" % what)
    by_offset = {off: (kind, ts, body) for off, (kind, ts, body) in tags_with_offsets}
    keyframes_in_file = [(off, ts) for off, (kind, ts, body) in tags_with_offsets
                         if kind == VIDEO and flv_check.is_avc_keyframe(body)]
    for t, pos in zip(times, positions):
        tag = by_offset.get(int(pos))
        if tag is None:
            problems.append("%s: file position %d (time %.3f) is not the start of a tag" % (what, pos, t))
            break
        kind, ts, body = tag
        if kind != VIDEO or not flv_check.is_avc_keyframe(body):
            problems.append("%s: file position %d (time %.3f) is a %s tag, not a video keyframe" %
                            (what, pos, t, {8: "audio", 9: "video inter", 18: "script"}.get(kind, kind)))
            break
        if abs(ts - t * 1000) > 1.5:
            problems.append("%s: keyframe at %d has timestamp %d ms but the index says %.3f s" % (what, pos, ts, t))
            break
    if times and len(times) < len(keyframes_in_file) - 1:
        problems.append("%s: the index lists %d keyframes, the file has %d" %
                        (what, len(times), len(keyframes_in_file)))
    return problems, meta


def parse_flv_with_offsets(data):
    """Like flv_check.parse_flv, with each tag's byte offset: [(offset, (type, ts, body))]."""
    flags, tags = flv_check.parse_flv(data)
    offsets = []
    pos = struct.unpack(">I", data[5:9])[0] + 4
    for tag in tags:
        offsets.append((pos, tag))
        pos += 11 + len(tag[2]) + 4
    return flags, offsets
