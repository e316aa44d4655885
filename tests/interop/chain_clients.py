"""Clients that test_chain_netns.py runs inside a network namespace (a
host of its own), printing what they saw as one JSON object on stdout.

  chain_clients.py players HOST PORT NAME COUNT      COUNT live players, until each has 1 s of video
  chain_clients.py seekers HOST PORT NAME COUNT MS   COUNT players of the recording from MS, 2 s of video each
  chain_clients.py librtmp URL                       python-librtmp: play from 0, seek, pause 3 s, unpause,
                                                     seek past the end (back to live)
"""

import json
import sys
import time

from rtmp_client import AUDIO, VIDEO, PlayerThread


def wait_all(players, frames, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(p.video_count() >= frames or p.error for p in players):
            break
        time.sleep(0.05)
    for p in players:
        p.stop()


def first_video(p):
    return next((f[1] for f in p.frames if f[0] == VIDEO), None)


def players(host, port, name, count, start=-1, frames=30, timeout=60):
    ps = [PlayerThread(host, port, name, start=start) for _ in range(count)]
    for p in ps:
        p.start()
    wait_all(ps, frames, timeout)
    return {"players": [{"video": p.video_count(), "error": str(p.error) if p.error else None,
                         "statuses": p.statuses, "first_video_ms": first_video(p),
                         "first_two_video": [f[2][:2].hex() for f in p.frames if f[0] == VIDEO][:2]}
                        for p in ps]}


def librtmp_session(url):
    import librtmp
    conn = librtmp.RTMP(url, live=False, buffer=1000, timeout=10)
    conn.connect()
    stream = conn.create_stream()  # keep it: io.IOBase.__del__ would close the connection
    phases = {}
    current = []

    def read(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            packet = conn.read_packet()
            conn.handle_packet(packet)
            if packet.type in (AUDIO, VIDEO) and packet.body:
                key = packet.type == VIDEO and packet.body[0] >> 4 == 1 and packet.body[1:2] == b"\x01"
                current.append((packet.type, packet.timestamp, key))

    def phase(label):
        nonlocal current
        current = []
        phases[label] = current

    phase("from_0")
    read(2.0)
    phase("seek_4000")
    stream.seek(4000)
    read(2.0)
    stream.pause()
    time.sleep(3.0)
    phase("unpaused")
    stream.unpause()
    read(2.0)
    last = max((ts for _, ts, _ in current), default=0)
    phase("to_live")
    stream.seek(last + 60000)
    read(3.0)
    stream.close()
    conn.close()
    return {label: {"video": [ts for kind, ts, _ in frames if kind == VIDEO],
                    "keyframes": [ts for kind, ts, key in frames if key]} for label, frames in phases.items()}


def main(argv):
    what = argv[0]
    if what == "players":
        out = players(argv[1], int(argv[2]), argv[3], int(argv[4]))
    elif what == "seekers":
        out = players(argv[1], int(argv[2]), argv[3], int(argv[4]), start=int(argv[5]), frames=60)
    elif what == "librtmp":
        out = librtmp_session(argv[1])
    else:
        raise SystemExit("unknown client " + what)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
