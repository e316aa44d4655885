"""DVR on the origin with real clients (issue 4): ffmpeg publishes 40 s of
the test stream once, and every check of the class shares it.

While it is live:
- python-librtmp plays the recording from 0, seeks to 20 s, pauses 3 s,
  resumes, then seeks past the stored tail and lands on the live edge;
- a raw-client player of the live edge (play -1) pauses 3 s and resumes
  time-shifted;
- DVRCast calls (raw client) report a growing recording;
- rewind-export saves what is recorded so far.
After the publisher ends:
- rtmpdump -A 10 and ffmpeg (-rtmp_live recorded) read the finished
  recording to its end and stop by themselves;
- rewind-export saves the whole recording and a 10..20 s clip, which
  ffprobe reads with the right duration and which carry a keyframe index;
- DVRCast reports the stream offline; seeks outside the window get
  NetStream.Seek.InvalidTime; play(name, 5000, 3000) ends after 3 s.
A second stream, in an application whose DVR window is 6 s, shows the
window start moving and seeks before it refused.

A reference player of the live edge (raw client, play -1) tells the tests
what "live" and "published" mean in media time.
"""

import os
import struct
import sys
import time
import unittest

import dvr_check
import flv_check
import harness
from dvr_check import Timeline
from harness import HOST
from rtmp_client import AUDIO, USER_CONTROL, VIDEO, AmfDate, PlayerThread, RtmpClient

try:
    # Imported here: it installs a SIGINT handler, which only the main
    # thread may do.
    import librtmp
except ImportError as e:  # the pyenv python3 has no librtmp: use /usr/bin/python3
    librtmp = None
    LIBRTMP_IMPORT_ERROR = str(e)

NAME = "dvr"
PUBLISH_SECONDS = 40
# The short-window application: its DVR window is 6 s and it is published
# for 20 s, so its window start has moved well past 0 when checked.
SHORT_APP = "shortwin"
SHORT_WINDOW_S = 6
SHORT_SECONDS = 20
# The seek to 20 s waits until the live edge is here: by then the segment
# holding 20 s is stored (segments close at the first keyframe after each
# 2 s multiple, and are written a moment later).
SEEK_TARGET_MS = 20000
SEEK_READY_MS = 25000
PAUSE_SECONDS = 3.0
# Tolerance of durations: one segment, as the issue says, plus the keyframe
# interval where a start snaps back to a keyframe.
SEGMENT_MS = dvr_check.SEGMENT_MS
GOP_MS = dvr_check.GOP_MS
SLACK_MS = 150
# play2 "resume" offset: between keyframes (12.023 s and 14.023 s).
RESUME_OFFSET_MS = 12500


def read_reply(client, txn, timeout=10.0):
    """The _result / _error of a call: (name, value after the null)."""
    values = client.wait_for_reply(txn, timeout)
    return values[0], (values[3] if len(values) > 3 else None)


def call(client, method, *args):
    return read_reply(client, client.call(method, *args))


def of_stream(msg, stream_id):
    """Whether a message is about NetStream stream_id (or the connection)."""
    if msg.type == USER_CONTROL and len(msg.body) >= 6:
        return struct.unpack(">I", msg.body[2:6])[0] in (0, stream_id)
    return msg.stream_id in (0, stream_id)


def read_into(client, timeline, seconds=None, until=None, timeout=20.0, stream_id=None):
    """Read messages into the timeline for `seconds`, or until until(event);
    with stream_id, messages of the connection's other streams are left out."""
    deadline = time.monotonic() + (seconds if seconds is not None else timeout)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            if until is not None:
                raise TimeoutError("no %s within %.0f s; read: %s" % (getattr(until, "what", "event"), timeout,
                                                                     timeline.summary(max(0, len(timeline.events) - 40))))
            return
        try:
            msg = client.read_message(min(left, 0.5))
        except TimeoutError:
            continue
        if stream_id is not None and not of_stream(msg, stream_id):
            continue
        event = timeline.add(msg.type, msg.timestamp, msg.body)
        if until is not None and until(event):
            return event


def status_is(*codes):
    def check(event):
        return event.kind == "status" and event.code in codes or (
            event.kind == "data" and event.code in codes)
    check.what = " or ".join(codes)
    return check


class DvrPlaybackTest(harness.ServerTestCase):

    # Listing one application means listing all: "live" keeps the defaults.
    origin_args = ("--app.live.dvr.record", "all", "--app.%s.dvr.window-s" % SHORT_APP, str(SHORT_WINDOW_S))

    @classmethod
    def setUpClass(cls):
        if harness.SERVER_KIND not in ("origin", "chain"):
            raise unittest.SkipTest("DVR is Rewind's (nginx-rtmp records no DVR)")
        super().setUpClass()

    @classmethod
    def setUpClients(cls):
        srv = cls.server
        cls.publisher = cls.start_publisher(NAME, duration=PUBLISH_SECONDS)
        srv.wait_publishing(NAME, timeout=20)
        cls.publish_started = time.monotonic()
        cls.publish_started_wall = time.time()
        cls.short_publisher = cls.start_publisher(SHORT_APP + "-cam", label="publisher-short",
                                                  duration=SHORT_SECONDS, app=SHORT_APP)
        # The live edge, as a live-only player sees it.
        cls.live_ref = PlayerThread(HOST, srv.port, NAME, start=-1)
        cls.players.append(cls.live_ref)
        cls.live_ref.start()
        harness.wait_until(lambda: cls.live_ref.last_timestamp() is not None or cls.live_ref.error, 15,
                           what="media at the live reference player")

        live_jobs = [harness.Job("librtmp", cls.librtmp_session), harness.Job("live_pause", cls.live_pause_session),
                     harness.Job("dvrcast_live", cls.dvrcast_live_session),
                     harness.Job("export_live", cls.export_live_session)]
        for job in live_jobs:
            job.start()
        cls.publisher_rc = cls.publisher.wait(PUBLISH_SECONDS + 30)
        cls.publisher_stderr = cls.publisher.stderr_tail()
        # The reference player saw everything published; UnpublishNotify
        # tells it the end came.
        harness.wait_until(lambda: "NetStream.Play.UnpublishNotify" in cls.live_ref.statuses, 10,
                           what="UnpublishNotify at the live reference player")
        cls.published_end_ms = cls.live_ref.max_timestamp()
        cls.jobs = {job.name: job.finish(30) for job in live_jobs}
        cls.short_publisher.wait(SHORT_SECONDS + 30)

        # The finished recording.
        cls.rtmpdump_out = os.path.join(cls.workdir, "rtmpdump-A10.flv")
        cls.ffmpeg_out = os.path.join(cls.workdir, "ffmpeg-recorded.flv")
        started = time.monotonic()
        cls.rtmpdump = cls.start_process(
            ["timeout", "--preserve-status", "-s", "INT", "90",
             "rtmpdump", "-r", srv.url(NAME), "-A", "10", "-o", cls.rtmpdump_out], "rtmpdump-A10")
        # ffmpeg as a user would run it: its default 3 s buffer, so the
        # origin sends at about real time and this takes about 40 s.
        cls.ffmpeg = cls.start_process(
            ["ffmpeg", "-hide_banner", "-nostats", "-rtmp_live", "recorded", "-i", srv.url(NAME),
             "-map", "0:v:0", "-map", "0:a:0", "-c", "copy", "-copyinkf", "-f", "flv", "-y", cls.ffmpeg_out],
            "ffmpeg-recorded")
        done_jobs = [harness.Job("finished", cls.finished_session), harness.Job("short", cls.short_window_session),
                     harness.Job("export", cls.export_session)]
        for job in done_jobs:
            job.start()
        cls.rtmpdump_rc = cls.wait_exit(cls.rtmpdump, 100)
        cls.rtmpdump_seconds = time.monotonic() - started
        cls.ffmpeg_rc = cls.wait_exit(cls.ffmpeg, PUBLISH_SECONDS + 40)
        cls.ffmpeg_seconds = time.monotonic() - started
        cls.jobs.update({job.name: job.finish(60) for job in done_jobs})

    @staticmethod
    def wait_exit(process, timeout):
        try:
            return process.wait(timeout)
        except TimeoutError:
            process.kill()
            return "still running after %d s" % timeout

    # -- helpers ---------------------------------------------------------------

    @classmethod
    def live_edge(cls):
        return cls.live_ref.last_timestamp() or 0

    def job(self, name):
        result = self.jobs[name]
        self.assertNotIn("error", result, "%s failed: %s" % (name, result.get("error")))
        return result

    def assertNoProblems(self, problems, context=""):
        self.assertEqual(problems, [], context)

    @classmethod
    def raw_client(cls):
        client = RtmpClient(HOST, cls.server.port)
        client.connect()
        return client

    @classmethod
    def export_dirs(cls):
        """What a user passes to rewind-export: the origin's --data-dir."""
        return [cls.server.data_dir]

    @classmethod
    def run_export(cls, label, *range_args):
        """rewind-export of NAME; returns (exit code, output path, stderr,
        data dir that worked or None)."""
        binary = harness.export_binary()
        if not binary:
            raise RuntimeError("set REWIND_EXPORT to the rewind-export binary")
        out = os.path.join(cls.workdir, label + ".flv")
        attempts = []
        for data_dir in cls.export_dirs():
            p = harness.Process([binary, "--data-dir", data_dir, "--app", "live", "--stream", NAME,
                                 *range_args, "--output", out], cls.workdir, "%s-%d" % (label, len(attempts)))
            rc = p.wait(60)
            attempts.append((data_dir, rc, p.stderr_tail()))
            if rc == 0:
                return {"rc": rc, "path": out, "data_dir": data_dir, "attempts": attempts}
        return {"rc": attempts[-1][1], "path": out, "data_dir": None, "attempts": attempts}

    # -- live phase: python-librtmp plays, seeks, pauses, catches up ------------

    @classmethod
    def librtmp_session(cls, r):
        if librtmp is None:
            raise RuntimeError("python3-librtmp not importable (run /usr/bin/python3): " + LIBRTMP_IMPORT_ERROR)
        # Start once the live edge is well past 0, so "from 0" is not "live".
        harness.wait_until(lambda: cls.live_edge() >= 6000, 30, what="6 s published")
        tl = Timeline()
        r["timeline"] = tl
        # live=False with no start: librtmp sends play(name, 0). buffer=1000:
        # its 30 s default would have the origin send 30 s ahead.
        conn = librtmp.RTMP(cls.server.url(NAME), live=False, buffer=1000, timeout=10)
        conn.connect()
        stream = conn.create_stream()  # keep it: io.IOBase.__del__ would close the connection
        r["started_at_ms"] = (time.monotonic() - cls.publish_started) * 1000

        def read(seconds=None, until=None):
            deadline = time.monotonic() + (seconds or 30)
            while time.monotonic() < deadline:
                packet = conn.read_packet()
                # librtmp must see every packet: it answers pings, and its
                # pause position is the last media timestamp it handled.
                conn.handle_packet(packet)
                tl.add(packet.type, packet.timestamp, packet.body)
                if until is not None and until():
                    return
            if until is not None:
                raise TimeoutError("librtmp session: condition not met in time")

        read(until=lambda: cls.live_edge() >= SEEK_READY_MS)
        tl.mark("seek")
        r["live_edge_at_seek"] = cls.live_edge()
        stream.seek(SEEK_TARGET_MS)  # python-librtmp's seek takes milliseconds
        read(2.0)
        tl.mark("pause")
        stream.pause()
        # Paused: read nothing for 3 s (librtmp's read would block anyway).
        # Whatever the origin sends meanwhile waits in the socket, in order.
        time.sleep(PAUSE_SECONDS)
        tl.mark("unpause")
        stream.unpause()
        read(2.0)
        tl.mark("seek_live")
        edge = cls.live_edge()
        r["live_edge_at_tail_seek"] = edge
        r["elapsed_at_tail_seek_ms"] = (time.monotonic() - cls.publish_started) * 1000
        r["tail_seek_target"] = edge + 10000
        stream.seek(edge + 10000)
        read(2.5)
        r["live_edge_at_end"] = cls.live_edge()
        r["received_at_end"] = tl.media()[-1][1] if tl.media() else None
        r["publisher_alive_at_end"] = cls.publisher.alive()
        stream.close()

    def librtmp_timeline(self):
        r = self.job("librtmp")
        return r, r["timeline"]

    def test_librtmp_plays_recording_from_0_while_live(self):
        r, tl = self.librtmp_timeline()
        frames = tl.media(0, tl.marks["seek"])
        problems, first_key = dvr_check.clean_start_problems(frames, "play from 0")
        self.assertNoProblems(problems, tl.summary(0, 30))
        sys.stderr.write("\n  [librtmp] play from 0 at %.1f s of the publish: first keyframe %d ms, read up to %d ms\n" %
                         (r["started_at_ms"] / 1000, first_key, frames[-1][1]))
        # From the start of the recording (the first frame ffmpeg sent),
        # not from the live edge, which was seconds ahead.
        self.assertLessEqual(first_key, 500, "play(name, 0) did not start at the beginning: " + tl.summary(0, 30))
        self.assertLess(first_key, r["started_at_ms"] - 1500,
                        "play(name, 0) started near the live edge, not at 0")
        # onMetaData first, at timestamp 0 (ffmpeg-based players read a
        # script tag at any other time as a data stream).
        meta = tl.find(lambda e: e.kind == "data" and e.name == "onMetaData")
        first_media = tl.find(lambda e: e.kind == "media")
        self.assertIsNotNone(meta, "no onMetaData: " + tl.summary(0, 30))
        self.assertLess(meta, first_media, tl.summary(0, 30))
        self.assertEqual(tl.events[meta].timestamp, 0)
        self.assertNoProblems(dvr_check.monotonic_problems(frames, "play from 0"))
        # Paced, but it did play: seconds of media before the seek.
        self.assertGreater(frames[-1][1] - first_key, 10000, "only %d ms played before the seek" % frames[-1][1])

    def test_librtmp_seek_to_20s_while_live(self):
        r, tl = self.librtmp_timeline()
        start, end = tl.marks["seek"], tl.marks["pause"]
        notify = tl.find_status("NetStream.Seek.Notify", start)
        self.assertIsNotNone(notify, "no Seek.Notify after seek(%d): %s" % (SEEK_TARGET_MS, tl.summary(start, end)))
        self.assertLess(notify, end, "Seek.Notify came only after 2 s: " + tl.summary(start, end))
        self.assertNoProblems(dvr_check.order_problems(
            tl.events[start:end], ["StreamEOF", "StreamIsRecorded", "StreamBegin", "onStatus(NetStream.Seek.Notify)",
                                   "onStatus(NetStream.Play.Start)"], "seek"))
        # Media after Seek.Notify: headers first, then the keyframe at or
        # before 20 s (keyframes are 2 s apart).
        frames = tl.media(notify, end)
        problems, first_key = dvr_check.clean_start_problems(frames, "after the seek to 20 s")
        self.assertNoProblems(problems, tl.around(notify, 4, 12))
        sys.stderr.write("\n  [librtmp] seek(20000) with the live edge at %d ms: first keyframe %d ms\n" %
                         (r["live_edge_at_seek"], first_key))
        self.assertLessEqual(first_key, SEEK_TARGET_MS, "the keyframe after the seek is after the target")
        self.assertGreater(first_key, SEEK_TARGET_MS - GOP_MS - SLACK_MS,
                           "not the keyframe just before the target (keyframes are 2 s apart)")
        self.assertNoProblems(dvr_check.monotonic_problems(frames, "after the seek"))
        self.assertGreater(frames[-1][1] - first_key, 1500, "playback did not go on after the seek")

    def test_librtmp_pause_and_resume_are_contiguous(self):
        r, tl = self.librtmp_timeline()
        pause, unpause, end = tl.marks["pause"], tl.marks["unpause"], tl.marks["seek_live"]
        notify = tl.find_status("NetStream.Pause.Notify", pause)
        self.assertIsNotNone(notify, "no Pause.Notify: " + tl.summary(pause, end))
        eof = tl.find(lambda e: e.is_uc(1), notify)
        self.assertIsNotNone(eof, "no StreamEOF after Pause.Notify: " + tl.summary(pause, end))
        resumed = tl.find_status("NetStream.Unpause.Notify", unpause)
        self.assertIsNotNone(resumed, "no Unpause.Notify: " + tl.summary(unpause, end))
        self.assertIsNotNone(tl.find(lambda e: e.is_uc(0), resumed, end), "no StreamBegin after Unpause.Notify")
        # Paused means nothing sent.
        while_paused = tl.media(notify, resumed)
        self.assertEqual(while_paused, [], "media sent while paused: " + tl.summary(notify, resumed))
        # Resumed exactly after the last frame received before the pause:
        # no gap, no repeat, no restart at a keyframe.
        before = tl.media(tl.find_status("NetStream.Seek.Notify", tl.marks["seek"]), notify)
        after = tl.media(resumed, end)
        problems = dvr_check.continuity_problems(before, after, "pause/unpause")
        self.assertNoProblems(problems, tl.around(resumed, 20, 12))
        self.assertFalse(flv_check.is_avc_sequence_header(next(b for k, _, b in after if k == VIDEO)),
                         "unpause restarted with a sequence header: " + tl.around(resumed, 4, 8))
        sys.stderr.write("\n  [librtmp] pause at %d ms, resumed at %d ms\n" %
                         (dvr_check.per_kind(before, VIDEO)[-1], dvr_check.per_kind(after, VIDEO)[0]))

    def test_librtmp_seek_past_tail_lands_on_live(self):
        r, tl = self.librtmp_timeline()
        start = tl.marks["seek_live"]
        notify = tl.find(lambda e: e.kind == "status" and e.code in ("NetStream.Seek.Notify",
                                                                     "NetStream.Seek.InvalidTime",
                                                                     "NetStream.Seek.Failed"), start)
        self.assertIsNotNone(notify, "no reply to seek(%d): %s" % (r["tail_seek_target"], tl.summary(start)))
        self.assertEqual(tl.events[notify].code, "NetStream.Seek.Notify",
                         "seek past the tail of a live recording: %s" % tl.events[notify].info)
        frames = tl.media(notify)
        problems, first_key = dvr_check.clean_start_problems(frames, "after the seek past the tail")
        self.assertNoProblems(problems, tl.around(notify, 4, 12))
        edge = r["live_edge_at_tail_seek"]
        elapsed = r["elapsed_at_tail_seek_ms"]
        sys.stderr.write("\n  [librtmp] seek(%d) past the tail, live edge %d ms, %.1f s after the publish "
                         "started: first keyframe %d ms; at the end %d ms received, live edge %d ms\n" %
                         (r["tail_seek_target"], edge, elapsed / 1000, first_key, r["received_at_end"],
                          r["live_edge_at_end"]))
        # The keyframe that starts the live edge: at most a GOP behind it.
        self.assertGreaterEqual(first_key, edge - GOP_MS - 500, "landed behind the live edge")
        self.assertLessEqual(first_key, edge + 1000)
        self.assertLess(abs(first_key - elapsed), GOP_MS + 3000,
                        "timestamps after the seek are not near the time elapsed since the publish started")
        # And it stays there: at the end of the session it is at live.
        self.assertGreater(r["received_at_end"], r["live_edge_at_end"] - 1000, "fell behind live after the seek")
        self.assertNoProblems(dvr_check.monotonic_problems(frames, "after the seek past the tail"))
        self.assertTrue(r["publisher_alive_at_end"], "the publish ended before the session did: test too slow")

    # -- live phase: pause a live-only play ---------------------------------------

    @classmethod
    def live_pause_session(cls, r):
        tl = Timeline()
        r["timeline"] = tl
        c = cls.raw_client()
        try:
            sid = c.create_stream()
            c.play(sid, NAME, start=-1, buffer_ms=1000)
            read_into(c, tl, until=status_is("NetStream.Play.Start"))
            read_into(c, tl, 3.0)
            tl.mark("pause")
            last = tl.media()[-1][1] if tl.media() else 0
            c.pause(sid, True, last)
            read_into(c, tl, PAUSE_SECONDS)
            tl.mark("unpause")
            c.pause(sid, False, last)
            read_into(c, tl, 4.0)
            r["live_edge_at_end"] = cls.live_edge()
            r["received_at_end"] = tl.media()[-1][1] if tl.media() else None
        finally:
            c.close()

    def test_pause_of_live_play_resumes_time_shifted(self):
        r = self.job("live_pause")
        tl = r["timeline"]
        pause, unpause = tl.marks["pause"], tl.marks["unpause"]
        notify = tl.find_status("NetStream.Pause.Notify", pause)
        self.assertIsNotNone(notify, "no Pause.Notify on a live play: " + tl.summary(pause))
        resumed = tl.find_status("NetStream.Unpause.Notify", unpause)
        self.assertIsNotNone(resumed, "no Unpause.Notify: " + tl.summary(unpause))
        self.assertEqual(tl.media(notify, resumed), [], "media sent while paused: " + tl.summary(notify, resumed))
        before = tl.media(0, notify)
        after = tl.media(resumed)
        self.assertNoProblems(dvr_check.continuity_problems(before, after, "live pause/unpause"),
                              tl.around(resumed, 12, 12))
        lag = r["live_edge_at_end"] - r["received_at_end"]
        sys.stderr.write("\n  [live pause] paused %.0f s; afterwards %d ms behind live\n" % (PAUSE_SECONDS, lag))
        # 3 s paused, less the 1 s the player buffers ahead of real time.
        self.assertGreater(lag, PAUSE_SECONDS * 1000 - 1500, "not time-shifted: back at the live edge")
        self.assertLess(lag, PAUSE_SECONDS * 1000 + 1500, "further behind live than the pause")

    # -- live phase: DVRCast ---------------------------------------------------------

    @classmethod
    def dvrcast_live_session(cls, r):
        c = cls.raw_client()
        try:
            r["subscribe"] = call(c, "DVRSubscribe", NAME)
            harness.wait_until(lambda: cls.live_edge() >= 10000, 30, what="10 s published")
            r["info1"] = call(c, "DVRGetStreamInfo", NAME)
            r["info1_wall"] = time.time()
            r["info1_edge"] = cls.live_edge()
            time.sleep(3.5)
            r["info2"] = call(c, "DVRGetStreamInfo", NAME)
            r["info2_edge"] = cls.live_edge()
            r["length"] = call(c, "getStreamLength", NAME)
            r["length_edge"] = cls.live_edge()
            r["unknown"] = call(c, "DVRGetStreamInfo", "nobody-publishes-this")
            r["unsubscribe"] = call(c, "DVRUnsubscribe", NAME)
            r["unsubscribe2"] = call(c, "DVRUnSubscribe", NAME)
        finally:
            c.close()

    def check_stream_info(self, reply, live_edge_ms, live):
        """A DVRGetStreamInfo Success reply: the fields OSMF and FLVPlayback
        read, with their types."""
        kind, obj = reply
        self.assertEqual(kind, "_result", reply)
        self.assertIsInstance(obj, dict, reply)
        self.assertEqual(obj.get("code"), "NetStream.DVRStreamInfo.Success", obj)
        data = obj.get("data")
        self.assertIsInstance(data, dict, obj)
        missing = [k for k in ("callTime", "offline", "begOffset", "endOffset", "windowDuration", "startRec",
                               "stopRec", "isRec", "streamName", "lastUpdate", "currLen", "maxLen") if k not in data]
        self.assertEqual(missing, [], data)
        for k in ("callTime", "startRec", "lastUpdate"):
            self.assertIsInstance(data[k], AmfDate, "%s is not an AMF Date: %r" % (k, data))
        for k in ("begOffset", "endOffset", "windowDuration", "currLen", "maxLen"):
            self.assertIsInstance(data[k], float, "%s is not a number: %r" % (k, data))
            self.assertNotIsInstance(data[k], AmfDate, k)
        self.assertEqual(data["streamName"], NAME)
        self.assertIs(data["offline"], not live, data)
        self.assertIs(data["isRec"], live, data)
        # Media seconds: currLen is how far the recording goes.
        self.assertLessEqual(data["currLen"] * 1000, live_edge_ms + SLACK_MS, data)
        self.assertGreater(data["currLen"] * 1000, live_edge_ms - SEGMENT_MS - GOP_MS - 1000,
                           "currLen lags the live edge (%d ms) by more than a segment: %r" % (live_edge_ms, data))
        self.assertGreaterEqual(data["begOffset"], 0)
        self.assertLess(data["begOffset"], 1.0, "the window starts at the recording's start: %r" % data)
        self.assertAlmostEqual(data["windowDuration"], data["currLen"] - data["begOffset"], delta=0.1, msg=data)
        # Dates are wall clock ms: the recording started when ffmpeg did.
        self.assertLess(abs(data["startRec"] - self.publish_started_wall * 1000), 5000, data)
        self.assertLess(abs(data["callTime"] - time.time() * 1000), 120000, data)
        if live:
            self.assertNotIsInstance(data["stopRec"], AmfDate, "stopRec set while recording: %r" % data)
        else:
            self.assertIsInstance(data["stopRec"], AmfDate, "stopRec is not a Date after the end: %r" % data)
            self.assertGreaterEqual(data["stopRec"], data["startRec"])
        return data

    def test_dvrcast_subscribe_and_unsubscribe(self):
        r = self.job("dvrcast_live")
        for key, code in (("subscribe", "NetStream.DVRSubscribe.Success"),
                          ("unsubscribe", "NetStream.DVRUnsubscribe.Success"),
                          ("unsubscribe2", "NetStream.DVRUnsubscribe.Success")):
            kind, obj = r[key]
            self.assertEqual(kind, "_result", "%s: %r" % (key, r[key]))
            self.assertIsInstance(obj, dict, "%s: %r" % (key, r[key]))
            self.assertEqual(obj.get("level"), "status", obj)
            self.assertTrue(str(obj.get("code", "")).startswith("NetStream.DVR"), obj)

    def test_dvrcast_stream_info_while_live(self):
        r = self.job("dvrcast_live")
        first = self.check_stream_info(r["info1"], r["info1_edge"], live=True)
        second = self.check_stream_info(r["info2"], r["info2_edge"], live=True)
        sys.stderr.write("\n  [DVRGetStreamInfo] live edge %d ms: %r\n" % (r["info1_edge"], first))
        # The recording grows: 3.5 s later at least one more segment is in.
        self.assertGreater(second["currLen"], first["currLen"] + 1.0, "currLen did not grow: %r -> %r" %
                           (first["currLen"], second["currLen"]))
        self.assertGreater(second["lastUpdate"], first["lastUpdate"])

    def test_dvrcast_retry_for_unknown_stream(self):
        kind, obj = self.job("dvrcast_live")["unknown"]
        self.assertEqual(kind, "_result", obj)
        self.assertEqual(obj.get("code"), "NetStream.DVRStreamInfo.Retry", obj)
        self.assertIsInstance(obj.get("data"), dict, obj)
        self.assertGreater(obj["data"].get("retry", 0), 0, obj)

    def test_get_stream_length_while_live(self):
        r = self.job("dvrcast_live")
        kind, seconds = r["length"]
        self.assertEqual(kind, "_result", r["length"])
        self.assertIsInstance(seconds, float)
        self.assertLessEqual(seconds * 1000, r["length_edge"] + SLACK_MS)
        self.assertGreater(seconds * 1000, r["length_edge"] - SEGMENT_MS - GOP_MS - 1000)

    # -- live phase: export while recording -------------------------------------------

    @classmethod
    def export_live_session(cls, r):
        harness.wait_until(lambda: cls.live_edge() >= 16000, 40, what="16 s published")
        r["edge"] = cls.live_edge()
        r.update(cls.run_export("export-while-live"))
        if r["data_dir"]:
            r["probe"] = harness.ffprobe_json(cls.workdir, r["path"], "ffprobe-export-while-live")

    def test_export_while_live(self):
        r = self.job("export_live")
        self.assertIsNotNone(r["data_dir"], "rewind-export failed while recording: %s" % r["attempts"])
        rc, probe, err = r["probe"]
        self.assertEqual(rc, 0, err)
        duration = float(probe["format"]["duration"]) * 1000
        sys.stderr.write("\n  [export while live] live edge %d ms, exported %d ms\n" % (r["edge"], duration))
        self.assertGreater(duration, r["edge"] - SEGMENT_MS - GOP_MS - 1000)
        self.assertLess(duration, r["edge"] + 1000)

    # -- after the publish: real players read the finished recording ----------------

    def test_publisher_published_40s(self):
        self.assertEqual(self.publisher_rc, 0, self.publisher_stderr)
        self.assertGreater(self.published_end_ms, PUBLISH_SECONDS * 1000 - 1000)

    def recorded_file_frames(self, path, shift_ms=0):
        with open(path, "rb") as f:
            _, tags = flv_check.parse_flv(f.read())
        return [(k, ts - shift_ms, body) for k, ts, body in tags if k in (AUDIO, VIDEO)]

    def check_read_to_end(self, frames, start_ms, who):
        """A player of the finished recording from start_ms: headers, the
        keyframe at or before start_ms, every frame to the end."""
        problems, first_key = dvr_check.clean_start_problems(frames, who)
        self.assertNoProblems(problems)
        self.assertNoProblems(dvr_check.monotonic_problems(frames, who))
        last = max(ts for _, ts, _ in frames)
        span = last - first_key
        expected = self.published_end_ms - start_ms
        sys.stderr.write("\n  [%s] first keyframe %d ms, last frame %d ms (published up to %d ms): "
                         "%.1f s from %d s\n" % (who, first_key, last, self.published_end_ms, span / 1000,
                                                 start_ms / 1000))
        self.assertLessEqual(first_key, max(start_ms, 500), "%s: started after %d ms" % (who, start_ms))
        self.assertGreater(first_key, start_ms - GOP_MS - SLACK_MS, "%s: started too early" % who)
        self.assertGreater(last, self.published_end_ms - SEGMENT_MS - SLACK_MS,
                           "%s: the end of the recording is missing" % who)
        self.assertLessEqual(last, self.published_end_ms + SLACK_MS)
        self.assertGreater(span, expected - SEGMENT_MS - SLACK_MS)
        self.assertLess(span, expected + GOP_MS + SLACK_MS)
        # Every frame in between: 95% of 30 fps and of the AAC frame rate.
        video = len(dvr_check.per_kind(frames, VIDEO))
        audio = len(dvr_check.per_kind(frames, AUDIO))
        self.assertGreater(video, span / 1000 * flv_check.VIDEO_FPS * 0.95, "%s: %d video frames" % (who, video))
        self.assertGreater(audio, span / 1000 * flv_check.AUDIO_FPS * 0.95, "%s: %d audio frames" % (who, audio))

    def assertFileStreams(self, path):
        rc, probe, err = harness.ffprobe_json(self.workdir, path, "ffprobe-" + os.path.basename(path))
        self.assertEqual(rc, 0, err)
        streams = sorted((s["codec_type"], s.get("codec_name")) for s in probe["streams"])
        self.assertIn(("video", "h264"), streams, path)
        self.assertIn(("audio", "aac"), streams, path)
        return probe

    def test_rtmpdump_reads_finished_recording_from_10s(self):
        # Exit code 0 is rtmpdump's "Download complete": it saw the end
        # (Play.Complete / Play.Stop), it was not stopped by the timeout.
        self.assertEqual(self.rtmpdump_rc, 0, self.rtmpdump.stderr_tail())
        self.assertIn("Download complete", self.rtmpdump.stderr_text())
        self.assertLess(self.rtmpdump_seconds, 30, "rtmpdump (10 h buffer) should not be paced at real time")
        # rtmpdump -A adds the start offset to the timestamps it writes; the
        # origin's are media time.
        frames = self.recorded_file_frames(self.rtmpdump_out, shift_ms=10000)
        self.check_read_to_end(frames, 10000, "rtmpdump -A 10")
        self.assertFileStreams(self.rtmpdump_out)

    def test_ffmpeg_reads_finished_recording_from_0(self):
        self.assertEqual(self.ffmpeg_rc, 0, self.ffmpeg.stderr_tail())
        sys.stderr.write("\n  [ffmpeg] read the recording in %.1f s\n" % self.ffmpeg_seconds)
        frames = self.recorded_file_frames(self.ffmpeg_out)
        # ffmpeg -c copy moves the first timestamp to 0: compare spans.
        first = min(ts for _, ts, _ in frames)
        recording_start = self.jobs["finished"].get("recording_start_ms", 0)
        frames = [(k, ts - first + recording_start, b) for k, ts, b in frames]
        self.check_read_to_end(frames, 0, "ffmpeg -rtmp_live recorded")
        self.assertFileStreams(self.ffmpeg_out)

    # -- after the publish: DVRCast, seeks outside the window, play with a length ----

    @classmethod
    def finished_session(cls, r):
        c = cls.raw_client()
        try:
            r["info"] = call(c, "DVRGetStreamInfo", NAME)
            r["length"] = call(c, "getStreamLength", NAME)

            # play(name, 5000, 3000): from the keyframe before 5 s to 8 s.
            tl = Timeline()
            r["len_timeline"] = tl
            sid = c.create_stream()
            c.play(sid, NAME, start=5000, length=3000, buffer_ms=30000)
            started = time.monotonic()
            read_into(c, tl, until=status_is("NetStream.Play.Stop", "NetStream.Play.StreamNotFound"), timeout=15,
                      stream_id=sid)
            r["len_seconds"] = time.monotonic() - started

            # A player of the whole recording, paced 1 s ahead, seeks.
            tl = Timeline()
            r["seek_timeline"] = tl
            sid2 = c.create_stream()
            c.play(sid2, NAME, start=0, buffer_ms=1000)
            read_into(c, tl, until=lambda e: e.kind == "media" and e.type == VIDEO and
                      flv_check.is_avc_keyframe(e.body), stream_id=sid2)
            r["recording_start_ms"] = tl.events[-1].timestamp
            read_into(c, tl, 0.5, stream_id=sid2)
            tl.mark("past_end")
            c.seek(sid2, cls.published_end_ms + 10000)
            read_into(c, tl, until=status_is("NetStream.Seek.Notify", "NetStream.Seek.InvalidTime",
                                             "NetStream.Seek.Failed"), stream_id=sid2)
            read_into(c, tl, 0.5, stream_id=sid2)
            tl.mark("zero")
            c.seek(sid2, 0)
            read_into(c, tl, until=status_is("NetStream.Seek.Notify", "NetStream.Seek.InvalidTime",
                                             "NetStream.Seek.Failed"), stream_id=sid2)
            read_into(c, tl, 1.0, stream_id=sid2)

            # play2 "resume": a reconnecting player continues at its offset
            # (seconds, NetStreamPlayOptions) with no jump.
            tl = Timeline()
            r["resume_timeline"] = tl
            # One stream playing at a time on this connection.
            c.send_command("deleteStream", 0, None, float(sid2), csid=3)
            sid3 = c.create_stream()
            c.send_command("play2", 0, None, {"streamName": NAME, "oldStreamName": NAME, "start": 0.0,
                                              "len": -1.0, "offset": RESUME_OFFSET_MS / 1000.0,
                                              "transition": "resume"}, stream_id=sid3, csid=8)
            c.set_buffer_length(sid3, 1000)
            read_into(c, tl, 1.5, stream_id=sid3)
        finally:
            c.close()

    def test_play2_resume_continues_at_offset(self):
        tl = self.job("finished")["resume_timeline"]
        start = tl.find(lambda e: e.kind == "status" and e.code in ("NetStream.Play.Start", "NetStream.Play.Failed",
                                                                    "NetStream.Play.StreamNotFound"))
        self.assertIsNotNone(start, "no reply to play2: " + tl.summary())
        self.assertEqual(tl.events[start].code, "NetStream.Play.Start", tl.events[start].info)
        frames = tl.media(start)
        self.assertTrue(frames, "no media after play2: " + tl.summary())
        for kind, name, frame_ms in ((VIDEO, "video", dvr_check.VIDEO_FRAME_MS),
                                     (AUDIO, "audio", dvr_check.AUDIO_FRAME_MS)):
            ts = dvr_check.per_kind(frames, kind)
            self.assertTrue(ts, "no %s after play2: %s" % (name, tl.summary()))
            sys.stderr.write("\n  [play2 resume at %d ms] first %s frame %d ms" % (RESUME_OFFSET_MS, name, ts[0]))
            # The frame at or right after the offset: not a keyframe before it.
            self.assertGreaterEqual(ts[0], RESUME_OFFSET_MS - 1, "%s jumps back to %d ms" % (name, ts[0]))
            self.assertLess(ts[0], RESUME_OFFSET_MS + 1.5 * frame_ms, "%s skips ahead to %d ms" % (name, ts[0]))
        self.assertEqual(dvr_check.monotonic_problems(frames, "play2 resume"), [])

    def test_dvrcast_stream_info_after_unpublish(self):
        r = self.job("finished")
        data = self.check_stream_info(r["info"], self.published_end_ms, live=False)
        self.assertLess(data["currLen"] * 1000, self.published_end_ms + SLACK_MS)
        self.assertGreater(data["currLen"] * 1000, self.published_end_ms - SEGMENT_MS, data)
        kind, seconds = r["length"]
        self.assertAlmostEqual(seconds, data["currLen"], delta=0.1)

    def test_play_with_length_completes(self):
        r = self.job("finished")
        tl = r["len_timeline"]
        self.assertNoProblems(dvr_check.order_problems(
            tl.events, ["StreamIsRecorded", "StreamBegin", "onStatus(NetStream.Play.Start)"], "play(5000, 3000)"))
        frames = tl.media()
        problems, first_key = dvr_check.clean_start_problems(frames, "play(5000, 3000)")
        self.assertNoProblems(problems, tl.summary(0, 20))
        last = max(ts for _, ts, _ in frames)
        sys.stderr.write("\n  [play 5000 3000] media %d..%d ms, ended after %.1f s: %s\n" %
                         (first_key, last, r["len_seconds"], tl.summary(len(tl.events) - 6)))
        self.assertLessEqual(first_key, 5000)
        self.assertGreater(first_key, 5000 - GOP_MS - SLACK_MS)
        # It ends at start + len, 8 s of media time.
        self.assertGreater(last, 8000 - 2 * dvr_check.VIDEO_FRAME_MS - SLACK_MS, "stopped before 8 s")
        self.assertLessEqual(last, 8000 + SLACK_MS, "played on past 8 s")
        # The end: StreamEOF, onPlayStatus Play.Complete, then Play.Stop.
        self.assertNoProblems(dvr_check.order_problems(
            tl.events[tl.find(lambda e: e.kind == "media"):],
            ["StreamEOF", "onPlayStatus(NetStream.Play.Complete)", "onStatus(NetStream.Play.Stop)"], "end of play"))
        complete = tl.events[tl.find(lambda e: e.kind == "data" and e.code == "NetStream.Play.Complete")]
        self.assertEqual(complete.info.get("level"), "status", complete.info)

    def test_seek_past_end_of_finished_recording_is_invalid(self):
        tl = self.job("finished")["seek_timeline"]
        reply = tl.events[tl.find(lambda e: e.kind == "status" and e.code.startswith("NetStream.Seek."),
                                  tl.marks["past_end"])]
        self.assertEqual(reply.code, "NetStream.Seek.InvalidTime", reply.info)
        self.assertEqual(reply.info.get("level"), "error", reply.info)
        # details: the nearest valid position, seconds: the end.
        details = reply.info.get("details")
        self.assertIsInstance(details, float, reply.info)
        self.assertAlmostEqual(details * 1000, self.published_end_ms, delta=SEGMENT_MS, msg=reply.info)

    def test_seek_to_0_plays_from_the_first_keyframe(self):
        # Flash's NetStream.seek(0) is "back to the start". The recording's
        # first frame is a few ms after 0 (ffmpeg's first timestamp).
        tl = self.job("finished")["seek_timeline"]
        start = tl.marks["zero"]
        i = tl.find(lambda e: e.kind == "status" and e.code.startswith("NetStream.Seek."), start)
        reply = tl.events[i]
        self.assertEqual(reply.code, "NetStream.Seek.Notify",
                         "seek(0) on a recording that starts at %d ms: %s" %
                         (self.jobs["finished"].get("recording_start_ms", -1), reply.info))
        problems, first_key = dvr_check.clean_start_problems(tl.media(i), "after seek(0)")
        self.assertNoProblems(problems)
        self.assertLessEqual(first_key, 500)

    # -- the short window: the start moves, seeks before it are refused --------------

    @classmethod
    def short_window_session(cls, r):
        c = RtmpClient(HOST, cls.server.port)
        try:
            c.connect(app=SHORT_APP)
            name = SHORT_APP + "-cam"
            r["info"] = call(c, "DVRGetStreamInfo", name)
            tl = Timeline()
            r["timeline"] = tl
            sid = c.create_stream()
            c.play(sid, name, start=-2, buffer_ms=1000)  # not live any more: the recording
            read_into(c, tl, until=lambda e: e.kind == "media" and e.type == VIDEO and
                      flv_check.is_avc_keyframe(e.body))
            read_into(c, tl, 0.3)
            tl.mark("before_window")
            c.seek(sid, 1000)
            read_into(c, tl, until=status_is("NetStream.Seek.Notify", "NetStream.Seek.InvalidTime",
                                             "NetStream.Seek.Failed"))
        finally:
            c.close()

    def test_seek_before_window_start_is_invalid(self):
        r = self.job("short")
        kind, obj = r["info"]
        self.assertEqual(obj.get("code"), "NetStream.DVRStreamInfo.Success", obj)
        data = obj["data"]
        sys.stderr.write("\n  [short window] %r\n" % data)
        # 20 s published into a 6 s window: the start has moved.
        self.assertGreater(data["begOffset"], SHORT_SECONDS - SHORT_WINDOW_S - SEGMENT_MS / 1000 - 2.5, data)
        self.assertLessEqual(data["windowDuration"], SHORT_WINDOW_S + SEGMENT_MS / 1000 + 0.2, data)
        tl = r["timeline"]
        # play(-2) of the finished stream starts at the window start.
        problems, first_key = dvr_check.clean_start_problems(tl.media(0, tl.marks["before_window"]), "play(-2)")
        self.assertNoProblems(problems)
        self.assertAlmostEqual(first_key, data["begOffset"] * 1000, delta=SLACK_MS)
        reply = tl.events[-1]
        self.assertEqual(reply.code, "NetStream.Seek.InvalidTime",
                         "seek(1000) before a window starting at %.1f s: %s" % (data["begOffset"], reply.info))
        self.assertEqual(reply.info.get("level"), "error")
        self.assertAlmostEqual(reply.info.get("details"), data["begOffset"], delta=0.05, msg=reply.info)

    # -- after the publish: export ---------------------------------------------------

    @classmethod
    def export_session(cls, r):
        for label, args in (("whole", ()), ("clip", ("--from", "10", "--to", "20"))):
            result = cls.run_export("export-" + label, *args)
            if result["data_dir"]:
                result["probe"] = harness.ffprobe_json(cls.workdir, result["path"], "ffprobe-export-" + label)
                with open(result["path"], "rb") as f:
                    result["bytes"] = f.read()
            r[label] = result

    def test_export_takes_the_origin_data_dir(self):
        # A user runs rewind-export with the --data-dir they gave the origin.
        r = self.job("export")["whole"]
        first = r["attempts"][0]
        self.assertEqual(first[1], 0, "rewind-export --data-dir %s (the origin's --data-dir): %s" %
                         (first[0], first[2]))

    def check_export(self, label, expected_ms, lowest_ms):
        r = self.job("export")[label]
        self.assertIsNotNone(r["data_dir"], "rewind-export failed: %s" % r["attempts"])
        rc, probe, err = r["probe"]
        self.assertEqual(rc, 0, err)
        streams = sorted((s["codec_type"], s.get("codec_name")) for s in probe["streams"])
        self.assertEqual(streams, [("audio", "aac"), ("video", "h264")])
        duration = float(probe["format"]["duration"]) * 1000
        _, tags = dvr_check.parse_flv_with_offsets(r["bytes"])
        problems, meta = dvr_check.keyframe_index_problems(r["bytes"], tags, "export " + label)
        frames = [t for _, t in tags if t[0] in (AUDIO, VIDEO)]
        span = max(ts for _, ts, _ in frames) - min(ts for _, ts, _ in frames)
        sys.stderr.write("\n  [export %s] ffprobe duration %.3f s, tags span %.3f s, %d keyframes indexed\n" %
                         (label, duration / 1000, span / 1000,
                          len((meta or {}).get("keyframes", {}).get("times", [])) if isinstance(meta, dict) else 0))
        self.assertGreater(duration, lowest_ms, "ffprobe duration %d ms" % duration)
        self.assertLess(duration, expected_ms + GOP_MS + SLACK_MS, "ffprobe duration %d ms" % duration)
        self.assertNoProblems(problems)
        problems, _ = dvr_check.clean_start_problems(frames, "export " + label)
        self.assertNoProblems(problems)
        self.assertNoProblems(dvr_check.monotonic_problems(frames, "export " + label))

    def test_export_whole_recording(self):
        self.check_export("whole", self.published_end_ms, self.published_end_ms - SEGMENT_MS - SLACK_MS)

    def test_export_clip_10_to_20(self):
        self.check_export("clip", 10000, 10000 - SLACK_MS)


if __name__ == "__main__":
    unittest.main()
