"""Self-tests of the test tools (no server): the FLV checks must reject
what they are meant to reject, and the raw client must parse chunk streams
the way docs/protocol.md describes, however the bytes are split."""

import struct
import unittest

import dvr_check
import flv_check
from rtmp_client import (EcmaArray, ChunkReader, amf0_decode_all, amf0_encode, basic_header, chunk_message,
                         decode_command, nested_amf0_objects)

AVC_SEQ = b"\x17\x00\x00\x00\x00\x01\x42\xc0\x1e"
AVC_KEY = b"\x17\x01\x00\x00\x00" + b"\x00" * 20
AVC_INTER = b"\x27\x01\x00\x00\x00" + b"\x00" * 10
AAC_SEQ = b"\xaf\x00\x12\x10"
AAC_RAW = b"\xaf\x01" + b"\x00" * 8


def good_stream(seconds=11, start=1000):
    """Sequence headers, then 30 fps video with a keyframe every 2 s and
    AAC frames, interleaved by timestamp."""
    frames = [(9, start, AVC_SEQ), (8, start, AAC_SEQ)]
    media = []
    for i in range(int(seconds * 30)):
        media.append((9, start + i * 1000 // 30, AVC_KEY if i % 60 == 0 else AVC_INTER))
    for i in range(int(seconds * flv_check.AUDIO_FPS)):
        media.append((8, start + int(i * 1024 * 1000 / 44100), AAC_RAW))
    media.sort(key=lambda f: f[1])
    return frames + media


def flv_bytes(frames):
    out = bytearray(b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00")
    for kind, ts, body in frames:
        out += bytes([kind]) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big")
        out += bytes([ts >> 24]) + b"\x00\x00\x00" + body + struct.pack(">I", 11 + len(body))
    return bytes(out)


class FlvCheckTest(unittest.TestCase):

    def test_good_stream_passes(self):
        report = flv_check.MediaReport(good_stream())
        flv_check.check_media(self, report, "synthetic")
        self.assertEqual(report.window_video, 300)

    def expect_rejected(self, frames):
        with self.assertRaises(AssertionError):
            flv_check.check_media(self, flv_check.MediaReport(frames), "synthetic")

    def test_missing_frames_fail(self):
        frames = good_stream()
        self.expect_rejected([f for i, f in enumerate(frames) if not (f[0] == 9 and i % 10 == 5)])
        self.expect_rejected([f for i, f in enumerate(frames) if not (f[0] == 8 and i % 10 == 5)])

    def test_short_stream_fails(self):
        self.expect_rejected(good_stream(seconds=9))

    def test_missing_sequence_header_fails(self):
        self.expect_rejected([f for f in good_stream() if f[2] != AVC_SEQ])
        self.expect_rejected([f for f in good_stream() if f[2] != AAC_SEQ])

    def test_inter_frame_first_fails(self):
        frames = good_stream()
        first_key = next(i for i, f in enumerate(frames) if f[2] == AVC_KEY)
        self.expect_rejected(frames[:first_key] + frames[first_key + 1:])

    def test_timestamps_going_back_fail(self):
        frames = good_stream()
        i = next(i for i, f in enumerate(frames) if f[0] == 9 and f[1] > 3000)
        frames[i] = (9, frames[i][1] - 500, frames[i][2])
        self.expect_rejected(frames)

    def test_timestamps_wrapping_are_monotonic(self):
        frames = [(9, 0xFFFFFF00, AVC_SEQ), (9, 0xFFFFFF00, AVC_KEY), (9, 0x10, AVC_INTER)]
        self.assertEqual(flv_check.MediaReport(frames).backwards["video"], [])

    def test_parse_flv_round_trip_and_truncation(self):
        frames = good_stream(seconds=1)
        data = flv_bytes(frames)
        flags, tags = flv_check.parse_flv(data)
        self.assertEqual(flags, 5)
        self.assertEqual(tags, frames)
        _, tags = flv_check.parse_flv(data[:-7])  # killed mid-tag
        self.assertEqual(tags, frames[:-1])
        bad = bytearray(data)
        bad[-1] ^= 1  # wrong PreviousTagSize
        with self.assertRaises(flv_check.FlvError):
            flv_check.parse_flv(bytes(bad))
        with self.assertRaises(flv_check.FlvError):
            flv_check.parse_flv(b"GIF89a" + data[6:])


class DvrCheckTest(unittest.TestCase):
    """The DVR checks must reject what they are meant to reject."""

    def test_clean_start(self):
        problems, key = dvr_check.clean_start_problems(good_stream(1), "x")
        self.assertEqual((problems, key), ([], 1000))
        no_header = [f for f in good_stream(1) if f[2] != AVC_SEQ]
        self.assertTrue(dvr_check.clean_start_problems(no_header, "x")[0])
        no_aac_header = [f for f in good_stream(1) if f[2] != AAC_SEQ]
        self.assertTrue(dvr_check.clean_start_problems(no_aac_header, "x")[0])
        frames = good_stream(1)
        inter_first = frames[:2] + [(9, 1000, AVC_INTER)] + frames[2:]
        self.assertTrue(dvr_check.clean_start_problems(inter_first, "x")[0])
        # An audio frame before the video header: headers do not come first.
        self.assertTrue(dvr_check.clean_start_problems([(8, 1000, AAC_RAW)] + frames, "x")[0])
        self.assertTrue(dvr_check.clean_start_problems([], "x")[0])

    def test_continuity(self):
        frames = good_stream(4)
        cut = next(i for i, f in enumerate(frames) if f[1] > 2500)
        self.assertEqual(dvr_check.continuity_problems(frames[:cut], frames[cut:], "x"), [])
        # Resuming one video frame late (a frame lost) or early (repeated).
        first_video = next(i for i in range(cut, len(frames)) if frames[i][0] == 9)
        skipped = frames[cut:first_video] + frames[first_video + 1:]
        self.assertTrue(dvr_check.continuity_problems(frames[:cut], skipped, "x"))
        repeated = frames[cut - 6:]
        self.assertTrue(dvr_check.continuity_problems(frames[:cut], repeated, "x"))
        # Restarting at the keyframe before (what a server that does not
        # keep its position would do).
        key = max(i for i, f in enumerate(frames[:cut]) if f[2] == AVC_KEY)
        self.assertTrue(dvr_check.continuity_problems(frames[:cut], frames[key:], "x"))

    def test_order(self):
        from dvr_check import Event
        from rtmp_client import amf0_encode
        def status(code):
            return Event(20, 0, amf0_encode("onStatus") + amf0_encode(0) + b"\x05" +
                         amf0_encode({"level": "status", "code": code}))
        eof, begin = Event(4, 0, struct.pack(">HI", 1, 1)), Event(4, 0, struct.pack(">HI", 0, 1))
        want = ["StreamEOF", "StreamBegin", "onStatus(NetStream.Seek.Notify)"]
        self.assertEqual(dvr_check.order_problems([eof, begin, status("NetStream.Seek.Notify")], want, "x"), [])
        self.assertTrue(dvr_check.order_problems([begin, eof, status("NetStream.Seek.Notify")], want, "x"))
        self.assertTrue(dvr_check.order_problems([eof, begin], want, "x"))

    def test_keyframe_index(self):
        frames = good_stream(5, start=0)
        body = flv_bytes(frames)
        _, tags = dvr_check.parse_flv_with_offsets(body)
        keys = [(off, ts) for off, (k, ts, b) in tags if b == AVC_KEY]

        def with_index(times, positions):
            """The file with an onMetaData tag first; positions are in the
            file without it, so they move by the tag's size."""
            def script(shift):
                meta = amf0_encode("onMetaData") + amf0_encode(EcmaArray(
                    duration=5.0, keyframes={"times": times, "filepositions": [p + shift for p in positions]}))
                return flv_bytes([(18, 0, meta)])[13:]
            size = len(script(0))  # numbers are fixed-size doubles: the shift does not change it
            data = body[:13] + script(size) + body[13:]
            _, tagged = dvr_check.parse_flv_with_offsets(data)
            return dvr_check.keyframe_index_problems(data, tagged, "x")[0]

        good_times = [ts / 1000 for _, ts in keys]
        good_positions = [float(off) for off, _ in keys]
        self.assertEqual(with_index(good_times, good_positions), [])
        self.assertTrue(with_index(good_times, [p + 11 for p in good_positions]))  # not a tag start
        self.assertTrue(with_index([t + 0.5 for t in good_times], good_positions))  # wrong times
        self.assertTrue(with_index(good_times[:1], good_positions[:1]))  # incomplete
        self.assertTrue(with_index([], []))
        self.assertTrue(dvr_check.keyframe_index_problems(body, tags, "x")[0])  # no onMetaData


class AmfTest(unittest.TestCase):

    def test_amf0_round_trip(self):
        values = ["_result", 1.0, {"fmsVer": "FMS/3,5,7,7009", "capabilities": 31.0},
                  EcmaArray(version="3,5"), None, True, [1.0, "a"], "x" * 70000]
        encoded = b"".join(amf0_encode(v) for v in values)
        self.assertEqual(amf0_decode_all(encoded), values)
        self.assertEqual(amf0_encode("x" * 70000)[:1], b"\x0c")

    def test_amf3_command(self):
        # _result, 1, null (AMF0), then an AMF3 object {code: "ok", n: 5}
        # with a string reference for the second "ok".
        body = (b"\x00" + amf0_encode("_result") + amf0_encode(1) + b"\x05" +
                b"\x11\x0a\x0b\x01\x09code\x06\x05ok\x03n\x04\x05\x03m\x06\x02\x01")
        self.assertEqual(decode_command(17, body), ["_result", 1.0, None, {"code": "ok", "n": 5, "m": "ok"}])

    def test_dates_stay_dates(self):
        from rtmp_client import AmfDate
        encoded = amf0_encode({"callTime": AmfDate(1700000000123.0), "n": 1700000000123.0})
        self.assertIn(b"\x0b" + struct.pack(">dh", 1700000000123.0, 0), encoded)
        decoded = amf0_decode_all(encoded)[0]
        self.assertIsInstance(decoded["callTime"], AmfDate)
        self.assertNotIsInstance(decoded["n"], AmfDate)
        self.assertEqual(decoded["callTime"], 1700000000123.0)
        # AMF3 date (marker 0x08, inline): 0x01 then the double.
        body = b"\x00" + amf0_encode("_result") + amf0_encode(1) + b"\x05" + b"\x11\x08\x01" + struct.pack(">d", 5.0)
        self.assertIsInstance(decode_command(17, body)[3], AmfDate)

    def test_nested_objects(self):
        self.assertEqual(amf0_decode_all(nested_amf0_objects(3)), [{"a": {"a": {}}}])


class ChunkReaderTest(unittest.TestCase):

    def read_all(self, data, split_every=None):
        reader = ChunkReader()
        out = []
        step = split_every or len(data)
        for i in range(0, len(data), step):
            reader.feed(data[i:i + step])
            while True:
                m = reader.next_message()
                if m is None:
                    break
                out.append((m.type, m.timestamp, m.stream_id, m.body, m.csid))
        return out

    def test_messages_survive_every_split(self):
        big = bytes(range(256)) * 3
        data = (chunk_message(20, b"cmd", 0, 0, csid=3) +
                chunk_message(9, big, 1, 1234, csid=70) +       # 2-byte basic header
                chunk_message(8, big, 1, 0x1000000, csid=400) +  # 3-byte header, extended timestamp
                chunk_message(1, struct.pack(">I", 300), csid=2) +
                chunk_message(9, big, 1, 0x1000001, csid=70, chunk_size=300))
        want = [(20, 0, 0, b"cmd", 3), (9, 1234, 1, big, 70), (8, 0x1000000, 1, big, 400),
                (1, 0, 0, struct.pack(">I", 300), 2), (9, 0x1000001, 1, big, 70)]
        self.assertEqual(self.read_all(data), want)
        for step in (1, 2, 3, 7, 128, 129):
            self.assertEqual(self.read_all(data, step), want, "split every %d bytes" % step)

    def test_header_compression(self):
        # fmt 0, then fmt 1 (delta 10, new length), fmt 2 (delta 5), fmt 3
        # starting a new message (re-applies delta 5).
        data = (basic_header(0, 4) + b"\x00\x00\x64" + b"\x00\x00\x02" + b"\x08" + b"\x01\x00\x00\x00" + b"ab" +
                basic_header(1, 4) + b"\x00\x00\x0a" + b"\x00\x00\x03" + b"\x08" + b"cde" +
                basic_header(2, 4) + b"\x00\x00\x05" + b"fgh" +
                basic_header(3, 4) + b"ijk")
        self.assertEqual([(m[1], m[3]) for m in self.read_all(data)],
                         [(100, b"ab"), (110, b"cde"), (115, b"fgh"), (120, b"ijk")])

    def test_extended_timestamp_not_repeated(self):
        # Old librtmp does not repeat the extended timestamp on continuations.
        body = bytes(200)
        first = (basic_header(0, 5) + b"\xff\xff\xff" + (200).to_bytes(3, "big") + b"\x09" + b"\x01\x00\x00\x00" +
                 struct.pack(">I", 0x2000000) + body[:128])
        rest = basic_header(3, 5) + body[128:]
        self.assertEqual(self.read_all(first + rest), [(9, 0x2000000, 1, body, 5)])


if __name__ == "__main__":
    unittest.main()
