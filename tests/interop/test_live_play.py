"""Live interop on loopback: ffmpeg publishes the test stream, and four real
players (ffprobe, ffmpeg, rtmpdump, python-librtmp) plus our raw client
play it at the same time. Each must see H.264 and AAC, at least 95% of the
frames of 10 s of media, per-stream timestamps that never go back, and
video that starts with the AVC sequence header followed by a keyframe.
"""

import json
import os
import sys
import threading
import time
import unittest

import flv_check
import harness
from rtmp_client import AUDIO, VIDEO

try:
    # Imported here: it installs a SIGINT handler, which only the main
    # thread may do.
    import librtmp
except ImportError as e:  # the pyenv python3 has no librtmp: use /usr/bin/python3
    librtmp = None
    LIBRTMP_IMPORT_ERROR = str(e)

PLAY_SECONDS = 12  # 10 s window to check, plus slack at both ends
WINDOW_MS = 10000


def librtmp_play(url, seconds, result):
    """Read RTMP packets with python-librtmp until `seconds` of video
    arrived (or a deadline passed); media packets go to result["frames"]."""
    if librtmp is None:
        result["error"] = "python3-librtmp not importable (run /usr/bin/python3): " + LIBRTMP_IMPORT_ERROR
        return
    frames = []
    result["frames"] = frames
    try:
        # buffer=1000: librtmp's default 30 s buffer asks the server to run
        # 30 s ahead; a live server is then judged by what it does not need.
        conn = librtmp.RTMP(url, live=True, buffer=1000, timeout=10)
        conn.connect()
        stream = conn.create_stream()  # keep it: io.IOBase.__del__ would close the connection
        deadline = time.monotonic() + seconds + 8
        first_video_ts = None
        while time.monotonic() < deadline:
            packet = conn.read_packet()
            # Let librtmp answer pings and apply chunk sizes.
            conn.handle_packet(packet)
            if packet.type in (AUDIO, VIDEO):
                frames.append((packet.type, packet.timestamp, bytes(packet.body)))
                if packet.type == VIDEO and flv_check.is_media_frame(VIDEO, frames[-1][2]):
                    if first_video_ts is None:
                        first_video_ts = packet.timestamp
                    elif packet.timestamp - first_video_ts >= seconds * 1000:
                        break
        stream.close()
        conn.close()
    except Exception as e:
        result["error"] = "%s: %s" % (type(e).__name__, e)


class LivePlayTest(harness.ServerTestCase):
    """One publisher, five players started together; each test method
    checks one player's result."""

    @classmethod
    def setUpClients(cls):
        srv = cls.server
        cls.publisher = cls.start_publisher("test")
        srv.wait_publishing("test", timeout=20)
        url = srv.url("test")
        wd = cls.workdir
        cls.ffmpeg_out = os.path.join(wd, "ffmpeg-player.flv")
        cls.rtmpdump_out = os.path.join(wd, "rtmpdump.flv")

        cls.ffprobe = cls.start_process(
            ["ffprobe", "-v", "error", "-show_streams", "-show_entries", "packet=codec_type,dts,flags",
             "-read_intervals", "%%+%d" % PLAY_SECONDS, "-of", "json", url], "ffprobe")
        # -copyinkf: copy leading non-keyframes too, so the file shows what
        # the server sent first instead of ffmpeg's cleaned-up version.
        cls.ffmpeg = cls.start_process(
            ["ffmpeg", "-hide_banner", "-nostats", "-i", url, "-map", "0:v:0", "-map", "0:a:0", "-c", "copy",
             "-copyinkf", "-t", str(PLAY_SECONDS), "-f", "flv", "-y", cls.ffmpeg_out], "ffmpeg-player")
        # rtmpdump's own stop options (-B) are unreliable: stop it with
        # SIGINT from timeout, which makes it finish the file.
        cls.rtmpdump = cls.start_process(
            ["timeout", "--preserve-status", "-s", "INT", str(PLAY_SECONDS + 2),
             "rtmpdump", "--live", "-r", url, "-o", cls.rtmpdump_out], "rtmpdump")
        cls.librtmp_result = {}
        librtmp_thread = threading.Thread(target=librtmp_play, args=(url, PLAY_SECONDS, cls.librtmp_result),
                                          daemon=True)
        librtmp_thread.start()
        cls.raw_player = cls.start_player("test", wait_video_frames=0)

        limit = PLAY_SECONDS + 25
        cls.ffprobe_rc = cls.ffprobe.wait(limit)
        cls.ffmpeg_rc = cls.ffmpeg.wait(limit)
        cls.rtmpdump_rc = cls.rtmpdump.wait(limit)
        librtmp_thread.join(limit)
        harness.wait_until(lambda: cls.raw_player.video_count() >= PLAY_SECONDS * 30 or cls.raw_player.error,
                           limit, what="the raw player to receive %d s of video" % PLAY_SECONDS)
        cls.raw_player.stop()
        cls.publisher_alive = cls.publisher.alive()
        cls.publisher.interrupt()

    def report(self, who, frames):
        report = flv_check.MediaReport(frames, WINDOW_MS)
        sys.stderr.write("\n  [%s] %s\n" % (who, report.summary()))
        return report

    def test_publisher_kept_publishing(self):
        self.assertTrue(self.publisher_alive, "ffmpeg publisher stopped early:\n" + self.publisher.stderr_tail())

    def test_ffprobe(self):
        self.assertEqual(self.ffprobe_rc, 0, self.ffprobe.stderr_tail())
        out = json.loads(self.ffprobe.stdout)
        streams = sorted((s["codec_type"], s.get("codec_name")) for s in out.get("streams", []))
        sys.stderr.write("\n  [ffprobe] streams %s\n" % streams)
        self.assertIn(("video", "h264"), streams)
        self.assertIn(("audio", "aac"), streams)
        packets = out.get("packets", [])
        frames = [(VIDEO if p["codec_type"] == "video" else AUDIO, int(p["dts"]), None)
                  for p in packets if p.get("codec_type") in ("video", "audio") and "dts" in p]
        video = [ts for kind, ts, _ in frames if kind == VIDEO]
        audio = [ts for kind, ts, _ in frames if kind == AUDIO]
        self.assertTrue(video and audio, "ffprobe read no packets")
        key_first = next(p for p in packets if p.get("codec_type") == "video")["flags"].startswith("K")
        self.assertTrue(key_first, "ffprobe's first video packet is not a keyframe")
        for name, ts in (("video", video), ("audio", audio)):
            back = [(a, b) for a, b in zip(ts, ts[1:]) if b < a]
            self.assertEqual(back, [], "ffprobe: %s DTS go back" % name)
        start = video[0]
        in_window_v = sum(1 for t in video if start <= t < start + WINDOW_MS)
        in_window_a = sum(1 for t in audio if start <= t < start + WINDOW_MS)
        sys.stderr.write("  [ffprobe] video %d (%d in %d ms), audio %d (%d in window), span %d ms\n" %
                         (len(video), in_window_v, WINDOW_MS, len(audio), in_window_a, video[-1] - start))
        self.assertGreaterEqual(video[-1] - start, WINDOW_MS - 100)
        self.assertGreaterEqual(in_window_v, int(flv_check.VIDEO_FPS * 10 * 0.95))
        self.assertGreaterEqual(in_window_a, int(flv_check.AUDIO_FPS * 10 * 0.95))
        # Last, as it fails for a different reason than the above: ffmpeg's
        # FLV demuxer turns a script tag that is not at time 0 into a
        # "subtitle" stream of codec text, so an onMetaData sent with a
        # timestamp other than 0 shows up as a third, bogus stream in every
        # ffmpeg-based player (nginx-rtmp sends it at 0).
        self.assertEqual(streams, [("audio", "aac"), ("video", "h264")],
                         "ffprobe found streams besides H.264 and AAC")

    def test_ffmpeg_copy_to_flv(self):
        self.assertEqual(self.ffmpeg_rc, 0, self.ffmpeg.stderr_tail())
        with open(self.ffmpeg_out, "rb") as f:
            flags, tags = flv_check.parse_flv(f.read())
        self.assertEqual(flags & 5, 5, "FLV header does not announce audio and video")
        flv_check.check_media(self, self.report("ffmpeg -c copy", tags), "ffmpeg")
        self.assertFileStreams(self.ffmpeg_out)

    def assertFileStreams(self, path):
        """ffprobe reads a recording as H.264 + AAC."""
        probe = harness.Process(["ffprobe", "-v", "error", "-show_streams", "-of", "json", path],
                                self.workdir, "ffprobe-" + os.path.basename(path))
        self.assertEqual(probe.wait(30), 0, probe.stderr_tail())
        streams = sorted((s["codec_type"], s.get("codec_name")) for s in json.loads(probe.stdout)["streams"])
        self.assertIn(("video", "h264"), streams, path)
        self.assertIn(("audio", "aac"), streams, path)

    def test_rtmpdump(self):
        # SIGINT is what stops it: it then exits 2 ("incomplete", a live
        # stream never completes) and logs a read error caused by the
        # signal. Errors before the signal are real.
        self.assertIn(self.rtmpdump_rc, (0, 2), self.rtmpdump.stderr_tail())
        before_signal = self.rtmpdump.stderr_text().split("Caught signal")[0]
        self.assertNotIn("ERROR", before_signal, self.rtmpdump.stderr_tail())
        with open(self.rtmpdump_out, "rb") as f:
            flags, tags = flv_check.parse_flv(f.read())
        flv_check.check_media(self, self.report("rtmpdump", tags), "rtmpdump")
        self.assertFileStreams(self.rtmpdump_out)

    def test_python_librtmp(self):
        self.assertNotIn("error", self.librtmp_result, self.librtmp_result.get("error"))
        flv_check.check_media(self, self.report("python-librtmp", self.librtmp_result["frames"]), "python-librtmp")

    def test_raw_client(self):
        self.assertIsNone(self.raw_player.error)
        self.assertIn("NetStream.Play.Start", self.raw_player.statuses)
        flv_check.check_media(self, self.report("raw client", self.raw_player.frames), "raw client")


if __name__ == "__main__":
    unittest.main()
