"""Writes the seed corpora of fuzz_server_session and fuzz_client_session:
realistic conversations after the handshake (which the targets do
themselves), built with the interop tests' raw client. Each seed's first
byte is the piece size the target feeds with (fuzz_server_session: its
low 7 bits; the top bit set means the seed brings its own handshake). Run it again after changing
what the targets expect:

    python3 tests/fuzz/make_session_seeds.py
"""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))

from rtmp_client import (ACK, AGGREGATE, AUDIO, COMMAND_AMF0, COMMAND_AMF3, DATA_AMF0, SET_CHUNK_SIZE,  # noqa: E402
                         USER_CONTROL, VIDEO, WINDOW_ACK_SIZE, aggregate_of_empty_tags, amf0_encode, chunk_message)

SET_PEER_BANDWIDTH = 6


def command(name, txn, obj, *args, stream_id=0, csid=3, chunk=128, amf3=False):
    body = b"".join(amf0_encode(v) for v in (name, float(txn), obj) + args)
    if amf3:
        return chunk_message(COMMAND_AMF3, b"\x00" + body, stream_id, 0, csid, chunk)
    return chunk_message(COMMAND_AMF0, body, stream_id, 0, csid, chunk)


def control(msg_type, body):
    return chunk_message(msg_type, body, 0, 0, 2, 128)


def video(ts, key, size=600, stream_id=1, chunk=4096):
    body = bytes([0x17 if key else 0x27, 1, 0, 0, 0]) + bytes(size)
    return chunk_message(VIDEO, body, stream_id, ts, 6, chunk)


def audio(ts, stream_id=1, chunk=4096):
    return chunk_message(AUDIO, b"\xaf\x01" + bytes(100), stream_id, ts, 4, chunk)


def server_seeds():
    connect = command("connect", 1, {"app": "live", "tcUrl": "rtmp://127.0.0.1/live", "flashVer": "FMLE/3.0",
                                     "objectEncoding": 0.0})
    set_chunk = control(SET_CHUNK_SIZE, struct.pack(">I", 4096))
    seeds = {}
    publisher = bytearray(connect + set_chunk)
    publisher += command("releaseStream", 2, None, "cam", chunk=4096)
    publisher += command("FCPublish", 3, None, "cam", chunk=4096)
    publisher += command("createStream", 4, None, chunk=4096)
    publisher += command("publish", 0, None, "cam", "live", stream_id=1, csid=8, chunk=4096)
    meta = b"".join(amf0_encode(v) for v in ("@setDataFrame", "onMetaData", {"width": 640.0, "height": 360.0}))
    publisher += chunk_message(DATA_AMF0, meta, 1, 0, 5, 4096)
    publisher += chunk_message(VIDEO, b"\x17\x00\x00\x00\x00\x01\x42\xc0\x1e\xff", 1, 0, 6, 4096)
    publisher += chunk_message(AUDIO, b"\xaf\x00\x12\x10", 1, 0, 4, 4096)
    for i in range(6):
        publisher += video(i * 33, i == 0) + audio(i * 33)
    publisher += chunk_message(AGGREGATE, aggregate_of_empty_tags(8, VIDEO), 1, 200, 6, 4096)
    publisher += command("FCUnpublish", 5, None, "cam", chunk=4096)
    publisher += command("deleteStream", 0, None, 1.0, chunk=4096)
    seeds["publisher"] = bytes([127]) + bytes(publisher)
    # The same after a handshake of the client's own (C0 C1, then C2).
    c1 = struct.pack(">II", 0, 0) + bytes((i * 7 + 3) & 0xFF for i in range(1528))
    seeds["publisher_with_handshake"] = bytes([0x80 | 100]) + b"\x03" + c1 + bytes(1536) + bytes(publisher)

    player = bytearray(connect + set_chunk)
    player += control(WINDOW_ACK_SIZE, struct.pack(">I", 2500000))
    player += command("createStream", 2, None, chunk=4096)
    player += control(USER_CONTROL, struct.pack(">HII", 3, 1, 1000))
    player += command("play", 0, None, "cam", -2000.0, -1.0, True, stream_id=1, csid=8, chunk=4096)
    player += command("seek", 0, None, 5000.0, stream_id=1, csid=8, chunk=4096)
    player += command("pause", 0, None, True, 5000.0, stream_id=1, csid=8, chunk=4096)
    player += command("pause", 0, None, False, 5000.0, stream_id=1, csid=8, chunk=4096)
    player += command("receiveAudio", 0, None, False, stream_id=1, csid=8, chunk=4096)
    player += command("play2", 0, None, {"streamName": "cam", "start": 3.0, "transition": "resume", "offset": 3.0},
                      stream_id=1, csid=8, chunk=4096)
    player += command("DVRGetStreamInfo", 3, None, "cam", chunk=4096)
    player += command("getStreamLength", 4, None, "cam", chunk=4096)
    player += control(USER_CONTROL, struct.pack(">HI", 7, 1234))
    player += control(ACK, struct.pack(">I", 5000))
    player += command("closeStream", 0, None, stream_id=1, csid=8, chunk=4096)
    seeds["player"] = bytes([64]) + bytes(player)

    amf3 = command("connect", 1, {"app": "live", "objectEncoding": 3.0}, "token", amf3=True)
    amf3 += command("fooBar", 2, None, b"\x11\x09\x03\x01\x04\x01".decode("latin-1"), amf3=True)
    seeds["amf3_client"] = bytes([0]) + amf3
    seeds["rejected"] = bytes([17]) + command("connect", 1, {"app": "reject"})
    return seeds


def client_seeds():
    reply = bytearray()
    reply += control(WINDOW_ACK_SIZE, struct.pack(">I", 2500000))
    reply += control(SET_PEER_BANDWIDTH, struct.pack(">IB", 2500000, 2))
    reply += control(USER_CONTROL, struct.pack(">HI", 0, 0))
    reply += control(SET_CHUNK_SIZE, struct.pack(">I", 4096))
    reply += command("_result", 1, {"fmsVer": "FMS/3,5,7,7009", "capabilities": 31.0},
                     {"level": "status", "code": "NetConnection.Connect.Success", "objectEncoding": 0.0},
                     chunk=4096)
    reply += command("_result", 2, None, 1.0, chunk=4096)
    reply += control(USER_CONTROL, struct.pack(">HI", 0, 1))
    reply += command("onStatus", 0, None, {"level": "status", "code": "NetStream.Play.Start"}, stream_id=1,
                     csid=5, chunk=4096)
    meta = b"".join(amf0_encode(v) for v in ("onMetaData", {"duration": 0.0}))
    reply += chunk_message(DATA_AMF0, meta, 1, 0, 5, 4096)
    for i in range(6):
        reply += video(i * 33, i == 0) + audio(i * 33)
    reply += chunk_message(AGGREGATE, aggregate_of_empty_tags(4, AUDIO), 1, 300, 6, 4096)
    reply += control(USER_CONTROL, struct.pack(">HI", 6, 77))
    reply += command("onBWDone", 0, None, chunk=4096)
    reply += command("_result", 3, None, "x", chunk=4096)
    reply += command("onStatus", 0, None, {"level": "status", "code": "NetStream.Play.UnpublishNotify"},
                     stream_id=1, csid=5, chunk=4096)
    return {"relay_pull": bytes([200]) + bytes(reply),
            "rejected": bytes([0]) + command("_error", 1, None,
                                             {"level": "error", "code": "NetConnection.Connect.Rejected"})}


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("fuzz_server_session", server_seeds())
    write("fuzz_client_session", client_seeds())
