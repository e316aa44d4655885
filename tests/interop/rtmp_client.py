"""A small raw RTMP client for tests: simple handshake, chunk reader and
writer, AMF0 (and enough AMF3 to read replies), and command helpers.

It is a test tool, not a library: it does what the interop tests need,
including the things a real client must never do (send garbage, claim
oversized messages, stop reading).
"""

import socket
import struct
import threading
import time

# Message types.
SET_CHUNK_SIZE = 1
ABORT = 2
ACK = 3
USER_CONTROL = 4
WINDOW_ACK_SIZE = 5
SET_PEER_BANDWIDTH = 6
AUDIO = 8
VIDEO = 9
DATA_AMF3 = 15
COMMAND_AMF3 = 17
DATA_AMF0 = 18
COMMAND_AMF0 = 20
AGGREGATE = 22

# User control events.
UC_STREAM_BEGIN = 0
UC_STREAM_EOF = 1
UC_PING_REQUEST = 6
UC_PING_RESPONSE = 7


class ConnectionClosed(Exception):
    """The server closed the connection."""


# --------------------------------------------------------------------- AMF0

class Undefined:
    def __repr__(self):
        return "undefined"


UNDEFINED = Undefined()


class EcmaArray(dict):
    """An AMF0 ECMA array (associative), distinct from an anonymous object."""


class AmfDate(float):
    """An AMF Date: milliseconds since the epoch (UTC), a float that remembers
    it was sent as a Date (DVRCast's callTime, startRec... must be Dates)."""

    def __new__(cls, ms, tz=0):
        obj = super().__new__(cls, ms)
        obj.tz = tz
        return obj

    def __repr__(self):
        return "AmfDate(%r)" % float(self)


class AmfError(Exception):
    pass


def amf0_encode(value):
    out = bytearray()
    _amf0_write(out, value)
    return bytes(out)


def _amf0_write_key(out, key):
    raw = key.encode()
    out += struct.pack(">H", len(raw)) + raw


def _amf0_write(out, v):
    if v is None:
        out.append(0x05)
    elif v is UNDEFINED:
        out.append(0x06)
    elif isinstance(v, bool):
        out += bytes([0x01, 1 if v else 0])
    elif isinstance(v, AmfDate):
        out.append(0x0B)
        out += struct.pack(">dh", float(v), v.tz)
    elif isinstance(v, (int, float)):
        out.append(0x00)
        out += struct.pack(">d", float(v))
    elif isinstance(v, (str, bytes)):
        raw = v.encode() if isinstance(v, str) else v
        if len(raw) <= 0xFFFF:
            out.append(0x02)
            out += struct.pack(">H", len(raw)) + raw
        else:
            out.append(0x0C)
            out += struct.pack(">I", len(raw)) + raw
    elif isinstance(v, EcmaArray):
        out.append(0x08)
        out += struct.pack(">I", len(v))
        for k, item in v.items():
            _amf0_write_key(out, k)
            _amf0_write(out, item)
        out += b"\x00\x00\x09"
    elif isinstance(v, dict):
        out.append(0x03)
        for k, item in v.items():
            _amf0_write_key(out, k)
            _amf0_write(out, item)
        out += b"\x00\x00\x09"
    elif isinstance(v, (list, tuple)):
        out.append(0x0A)
        out += struct.pack(">I", len(v))
        for item in v:
            _amf0_write(out, item)
    else:
        raise TypeError("cannot encode %r as AMF0" % (v,))


class _Reader:
    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def take(self, n):
        if self.pos + n > len(self.data):
            raise AmfError("truncated AMF at %d (need %d)" % (self.pos, n))
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self):
        return self.take(1)[0]

    def at_end(self):
        return self.pos >= len(self.data)


def _amf0_read_utf8(r, long=False):
    n = struct.unpack(">I" if long else ">H", r.take(4 if long else 2))[0]
    return r.take(n).decode("utf-8", "replace")


def _amf0_read_pairs(r, target):
    while True:
        key = _amf0_read_utf8(r)
        if key == "" and r.data[r.pos:r.pos + 1] == b"\x09":
            r.pos += 1
            return target
        target[key] = _amf0_read(r)


def _amf0_read(r):
    marker = r.u8()
    if marker == 0x00:
        return struct.unpack(">d", r.take(8))[0]
    if marker == 0x01:
        return r.u8() != 0
    if marker == 0x02:
        return _amf0_read_utf8(r)
    if marker == 0x03:
        return _amf0_read_pairs(r, {})
    if marker == 0x05:
        return None
    if marker == 0x06:
        return UNDEFINED
    if marker == 0x08:
        r.take(4)  # count hint
        return _amf0_read_pairs(r, EcmaArray())
    if marker == 0x0A:
        n = struct.unpack(">I", r.take(4))[0]
        return [_amf0_read(r) for _ in range(n)]
    if marker == 0x0B:
        ms, tz = struct.unpack(">dh", r.take(10))
        return AmfDate(ms, tz)
    if marker in (0x0C, 0x0F):
        return _amf0_read_utf8(r, long=True)
    if marker == 0x10:
        _amf0_read_utf8(r)  # class name
        return _amf0_read_pairs(r, {})
    if marker == 0x11:
        return _Amf3Reader(r).value()
    raise AmfError("unsupported AMF0 marker 0x%02x at %d" % (marker, r.pos - 1))


def amf0_decode_all(data):
    """Every AMF0 value in data, in order."""
    r = _Reader(data)
    values = []
    while not r.at_end():
        values.append(_amf0_read(r))
    return values


# --------------------------------------------------------------------- AMF3
# Only decoding, and only what a server puts into command replies.

class _Amf3Reader:
    def __init__(self, r):
        self.r = r
        self.strings = []
        self.objects = []
        self.traits = []

    def u29(self):
        n = 0
        for i in range(4):
            b = self.r.u8()
            if i == 3:
                return (n << 8) | b
            n = (n << 7) | (b & 0x7F)
            if not b & 0x80:
                return n
        return n

    def string(self):
        ref = self.u29()
        if not ref & 1:
            return self.strings[ref >> 1]
        s = self.r.take(ref >> 1).decode("utf-8", "replace")
        if s:
            self.strings.append(s)
        return s

    def value(self):
        marker = self.r.u8()
        if marker == 0x00:
            return UNDEFINED
        if marker == 0x01:
            return None
        if marker == 0x02:
            return False
        if marker == 0x03:
            return True
        if marker == 0x04:
            n = self.u29()
            return n - (1 << 29) if n & (1 << 28) else n
        if marker == 0x05:
            return struct.unpack(">d", self.r.take(8))[0]
        if marker in (0x06, 0x07, 0x0B):
            return self.string()
        if marker == 0x08:
            ref = self.u29()
            if not ref & 1:
                return self.objects[ref >> 1]
            ms = AmfDate(struct.unpack(">d", self.r.take(8))[0])
            self.objects.append(ms)
            return ms
        if marker == 0x09:
            ref = self.u29()
            if not ref & 1:
                return self.objects[ref >> 1]
            result = EcmaArray()
            self.objects.append(result)
            while True:
                key = self.string()
                if key == "":
                    break
                result[key] = self.value()
            dense = [self.value() for _ in range(ref >> 1)]
            if not result:
                self.objects[-1] = dense
                return dense
            for i, item in enumerate(dense):
                result[str(i)] = item
            return result
        if marker == 0x0A:
            ref = self.u29()
            if not ref & 1:
                return self.objects[ref >> 1]
            if not ref & 2:
                traits = self.traits[ref >> 2]
            else:
                if ref & 4:
                    raise AmfError("externalizable AMF3 objects are not supported")
                self.string()  # class name
                names = [self.string() for _ in range(ref >> 4)]
                traits = (names, bool(ref & 8))
                self.traits.append(traits)
            result = {}
            self.objects.append(result)
            names, dynamic = traits
            for name in names:
                result[name] = self.value()
            if dynamic:
                while True:
                    key = self.string()
                    if key == "":
                        break
                    result[key] = self.value()
            return result
        if marker == 0x0C:
            ref = self.u29()
            if not ref & 1:
                return self.objects[ref >> 1]
            data = self.r.take(ref >> 1)
            self.objects.append(data)
            return data
        raise AmfError("unsupported AMF3 marker 0x%02x" % marker)


def decode_command(msg_type, body):
    """[name, transaction id, command object, args...] of a command or data
    message (types 20, 17, 18, 15)."""
    if msg_type in (COMMAND_AMF3, DATA_AMF3) and body[:1] == b"\x00":
        body = body[1:]
    return amf0_decode_all(body)


def amf0_strict_array_bomb(depth=31, count=99000):
    """AMF0 strict arrays nested `depth` deep, each declaring `count` items,
    followed by just enough null bytes that every declared count looks
    possible (about `count` bytes in all). A decoder that reserves each
    declared count before reading its items reserves depth x count values."""
    return b"\x0a" + struct.pack(">I", count) + (b"\x0a" + struct.pack(">I", count)) * (depth - 1) + b"\x05" * count


def _u29(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x4000:
        return bytes([(n >> 7) | 0x80, n & 0x7F])
    if n < 0x200000:
        return bytes([(n >> 14) | 0x80, ((n >> 7) & 0x7F) | 0x80, n & 0x7F])
    return bytes([(n >> 22) | 0x80, ((n >> 15) & 0x7F) | 0x80, ((n >> 8) & 0x7F) | 0x80, n & 0xFF])


def amf3_trait_bomb(depth=31, members=60000):
    """An AMF0 value switching to AMF3 (0x11): an object whose inline trait
    declares `members` sealed members (one name, referenced again), whose
    first member is an object of the same trait, `depth` deep, then null
    bytes. A decoder that sizes each object by its trait before reading the
    values reserves depth x members properties."""
    out = bytearray(b"\x11\x0a")
    out += _u29((members << 4) | 0x03)  # inline traits, sealed, not dynamic
    out += b"\x01"                      # class name: the empty string
    out += b"\x03a" + b"\x00" * (members - 1)  # "a", then references to it
    out += b"\x0a\x01" * (depth - 1)    # objects of trait 0
    out += b"\x01" * members            # nulls
    return bytes(out)


def aggregate_of_empty_tags(count, tag_type=AUDIO):
    """An aggregate message body of `count` empty FLV tags (15 bytes each)."""
    tag = bytes([tag_type]) + b"\x00" * 10 + struct.pack(">I", 11)
    return tag * count


def nested_amf0_objects(depth):
    """An AMF0 value of `depth` objects nested in each other, built without
    recursion: {"a": {"a": ... {} ...}}."""
    return b"\x03\x00\x01a" * (depth - 1) + b"\x03" + b"\x00\x00\x09" * depth


# ------------------------------------------------------------------ Chunks

class Message:
    __slots__ = ("type", "timestamp", "stream_id", "body", "csid")

    def __init__(self, type, timestamp, stream_id, body, csid=0):
        self.type = type
        self.timestamp = timestamp
        self.stream_id = stream_id
        self.body = body
        self.csid = csid

    def command(self):
        return decode_command(self.type, self.body)

    def __repr__(self):
        return "Message(type=%d ts=%d sid=%d len=%d)" % (self.type, self.timestamp, self.stream_id, len(self.body))


def basic_header(fmt, csid):
    if csid < 64:
        return bytes([(fmt << 6) | csid])
    if csid < 320:
        return bytes([fmt << 6, csid - 64])
    return bytes([(fmt << 6) | 1, (csid - 64) & 0xFF, (csid - 64) >> 8])


def chunk_message(msg_type, body, stream_id=0, timestamp=0, csid=3, chunk_size=128):
    """One message as chunks: fmt 0 first, fmt 3 continuations, and the
    extended timestamp repeated on every continuation (the Flash way)."""
    extended = timestamp >= 0xFFFFFF
    ts_field = 0xFFFFFF if extended else timestamp
    ext = struct.pack(">I", timestamp & 0xFFFFFFFF) if extended else b""
    out = bytearray(basic_header(0, csid))
    out += struct.pack(">I", ts_field)[1:] + struct.pack(">I", len(body))[1:]
    out.append(msg_type)
    out += struct.pack("<I", stream_id) + ext
    out += body[:chunk_size]
    pos = chunk_size
    while pos < len(body):
        out += basic_header(3, csid) + ext + body[pos:pos + chunk_size]
        pos += chunk_size
    return bytes(out)


class _ChunkStream:
    __slots__ = ("timestamp", "delta", "length", "type", "stream_id", "extended", "ext_value", "partial")

    def __init__(self):
        self.timestamp = 0
        self.delta = 0
        self.length = 0
        self.type = 0
        self.stream_id = 0
        self.extended = False
        self.ext_value = 0
        self.partial = None  # bytearray while a message is being assembled


class ChunkReader:
    """Turns the server's byte stream into messages."""

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0
        self.chunk_size = 128
        self.streams = {}

    def feed(self, data):
        self.buf += data

    def _need(self, n):
        return self.pos + n <= len(self.buf)

    def next_message(self):
        """A complete message, or None when more bytes are needed."""
        while True:
            start = self.pos
            msg = self._read_chunk()
            if msg is _INCOMPLETE:
                self.pos = start
                self._compact()
                return None
            if msg is not None:
                self._compact()
                if msg.type == SET_CHUNK_SIZE and len(msg.body) >= 4:
                    self.chunk_size = struct.unpack(">I", msg.body[:4])[0] & 0x7FFFFFFF
                elif msg.type == ABORT and len(msg.body) >= 4:
                    cs = self.streams.get(struct.unpack(">I", msg.body[:4])[0])
                    if cs:
                        cs.partial = None
                return msg

    def _compact(self):
        if self.pos > 65536 or self.pos == len(self.buf):
            del self.buf[:self.pos]
            self.pos = 0

    def _read_chunk(self):
        b = self.buf
        if not self._need(1):
            return _INCOMPLETE
        first = b[self.pos]
        fmt, csid = first >> 6, first & 0x3F
        p = self.pos + 1
        if csid == 0:
            if not self._need(2):
                return _INCOMPLETE
            csid = 64 + b[p]
            p += 1
        elif csid == 1:
            if not self._need(3):
                return _INCOMPLETE
            csid = 64 + b[p] + b[p + 1] * 256
            p += 2
        header_len = (11, 7, 3, 0)[fmt]
        if len(b) < p + header_len:
            return _INCOMPLETE
        cs = self.streams.setdefault(csid, _ChunkStream())
        new_message = cs.partial is None
        ts_field = None
        if fmt <= 2:
            ts_field = int.from_bytes(b[p:p + 3], "big")
        if fmt <= 1:
            length = int.from_bytes(b[p + 3:p + 6], "big")
            mtype = b[p + 6]
        if fmt == 0:
            stream_id = struct.unpack("<I", b[p + 7:p + 11])[0]
        p += header_len
        ext_value = None
        if ts_field == 0xFFFFFF:
            if len(b) < p + 4:
                return _INCOMPLETE
            ext_value = struct.unpack(">I", b[p:p + 4])[0]
            p += 4
        elif fmt == 3 and cs.extended:
            # Continuation (or an fmt-3 new message) of an extended-timestamp
            # message: the 4 bytes may or may not be repeated (SRS's rule:
            # consume them when they equal the message's extended timestamp).
            if len(b) < p + 4:
                return _INCOMPLETE
            if struct.unpack(">I", b[p:p + 4])[0] == cs.ext_value:
                p += 4
        # Check the payload is all here before changing any state, so an
        # incomplete chunk can be parsed again from the start.
        restart = new_message or fmt != 3
        msg_length = length if fmt <= 1 else cs.length
        have = 0 if restart else len(cs.partial)
        want = min(self.chunk_size, msg_length - have)
        if len(b) < p + want:
            return _INCOMPLETE
        if fmt <= 2:
            cs.extended = ts_field == 0xFFFFFF
            value = ext_value if cs.extended else ts_field
            if cs.extended:
                cs.ext_value = ext_value
            if fmt == 0:
                cs.timestamp = value
                cs.delta = 0
                cs.stream_id = stream_id
            else:
                cs.delta = value
            if fmt <= 1:
                cs.length = length
                cs.type = mtype
        if restart:
            # A header on a chunk stream with a partial message abandons it.
            if fmt != 0:
                cs.timestamp = (cs.timestamp + cs.delta) & 0xFFFFFFFF
            cs.partial = bytearray()
        cs.partial += b[p:p + want]
        self.pos = p + want
        if len(cs.partial) < cs.length:
            return None
        body = bytes(cs.partial)
        cs.partial = None
        return Message(cs.type, cs.timestamp, cs.stream_id, body, csid)


_INCOMPLETE = object()


# ------------------------------------------------------------------ Client

def simple_c1():
    return struct.pack(">II", int(time.monotonic() * 1000) & 0xFFFFFFFF, 0) + bytes(
        (i * 7 + 3) & 0xFF for i in range(1528))


class RtmpClient:
    """One RTMP connection. Methods raise ConnectionClosed or
    TimeoutError; nothing is retried."""

    def __init__(self, host, port, timeout=10.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Before connect, so the window the server sees stays small.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local_port = self.sock.getsockname()[1]
        self.reader = ChunkReader()
        self.out_chunk_size = 128
        self.next_txn = 2
        self.bytes_in = 0
        self.ack_window = 0
        self.last_ack = 0
        self.closed = False
        self.host = host
        self.port = port

    # -- raw bytes

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise ConnectionClosed(str(e))

    def recv_some(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            raise TimeoutError("no data from the server in %.1f s" % timeout)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            raise ConnectionClosed("server closed the connection")
        self.bytes_in += len(data)
        return data

    def recv_exact(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        data = bytearray()
        while len(data) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("handshake: got %d of %d bytes" % (len(data), n))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(n - len(data))
            except socket.timeout:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise ConnectionClosed("server closed the connection during the handshake")
            data += chunk
        return bytes(data)

    def wait_closed(self, timeout):
        """Read and discard until the server closes; True if it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.recv_some(deadline - time.monotonic())
            except ConnectionClosed:
                return True
            except TimeoutError:
                return False
            except OSError:
                return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- handshake and messages

    def handshake(self):
        c1 = simple_c1()
        self.send(b"\x03" + c1)
        s0s1 = self.recv_exact(1 + 1536)
        if s0s1[0] != 3:
            raise AssertionError("S0 is %d, not 3" % s0s1[0])
        s2 = self.recv_exact(1536)
        if s2 != c1:
            raise AssertionError("S2 does not echo C1")
        self.send(s0s1[1:])  # C2 echoes S1

    def send_message(self, msg_type, body, stream_id=0, timestamp=0, csid=3):
        self.send(chunk_message(msg_type, body, stream_id, timestamp, csid, self.out_chunk_size))

    def set_chunk_size(self, size, apply=True):
        self.send_message(SET_CHUNK_SIZE, struct.pack(">I", size), csid=2)
        if apply:
            self.out_chunk_size = size

    def send_command(self, name, txn, cmd_obj=None, *args, stream_id=0, csid=3, amf3=False):
        body = b"".join(amf0_encode(v) for v in (name, txn, cmd_obj) + args)
        if amf3:
            self.send_message(COMMAND_AMF3, b"\x00" + body, stream_id, csid=csid)
        else:
            self.send_message(COMMAND_AMF0, body, stream_id, csid=csid)

    def read_message(self, timeout=10.0):
        """The next message; answers pings and acknowledges by itself."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.reader.next_message()
            if msg is not None:
                self._on_message(msg)
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete message in %.1f s" % timeout)
            self.reader.feed(self.recv_some(left))

    def _on_message(self, msg):
        if msg.type == WINDOW_ACK_SIZE and len(msg.body) >= 4:
            self.ack_window = struct.unpack(">I", msg.body[:4])[0]
        elif msg.type == USER_CONTROL and len(msg.body) >= 6:
            event, value = struct.unpack(">HI", msg.body[:6])
            if event == UC_PING_REQUEST:
                self.send_message(USER_CONTROL, struct.pack(">HI", UC_PING_RESPONSE, value), csid=2)
        if self.ack_window and self.bytes_in - self.last_ack >= self.ack_window // 2:
            self.last_ack = self.bytes_in
            self.send_message(ACK, struct.pack(">I", self.bytes_in & 0xFFFFFFFF), csid=2)

    def wait_for(self, predicate, timeout=10.0, what="a message"):
        """Read until predicate(msg) holds; returns (msg, messages seen before it)."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out waiting for %s; saw %s" % (what, summarize(seen)))
            try:
                msg = self.read_message(left)
            except TimeoutError:
                raise TimeoutError("timed out waiting for %s; saw %s" % (what, summarize(seen)))
            if predicate(msg):
                return msg, seen
            seen.append(msg)

    def wait_for_command(self, names, timeout=10.0):
        """The next command message whose name is in names: its values."""
        if isinstance(names, str):
            names = (names,)
        found = []

        def wanted(m):
            if m.type not in (COMMAND_AMF0, COMMAND_AMF3):
                return False
            values = m.command()
            if values and values[0] in names:
                found.append(values)
                return True
            return False

        self.wait_for(wanted, timeout, "command %s" % (names,))
        return found[0]

    def wait_for_status(self, codes, timeout=10.0):
        """The next onStatus whose code is in codes: its info object. Other
        onStatus codes seen first are an error."""
        if isinstance(codes, str):
            codes = (codes,)
        deadline = time.monotonic() + timeout
        while True:
            values = self.wait_for_command(("onStatus",), max(deadline - time.monotonic(), 0.001))
            info = status_info(values)
            if info.get("code") in codes:
                return info

    # -- NetConnection and NetStream

    def connect(self, app="live", object_encoding=0, extra=None, timeout=10.0):
        """Handshake and connect; returns the _result values."""
        self.handshake()
        tc_url = "rtmp://%s:%d/%s" % (self.host, self.port, app)
        obj = {"app": app, "flashVer": "LNX 9,0,124,2", "tcUrl": tc_url, "fpad": False,
               "capabilities": 15.0, "audioCodecs": 3191.0, "videoCodecs": 252.0, "videoFunction": 1.0,
               "objectEncoding": float(object_encoding)}
        if extra:
            obj.update(extra)
        self.send_command("connect", 1, obj)
        values = self.wait_for_command(("_result", "_error"), timeout)
        if values[0] != "_result":
            raise AssertionError("connect failed: %r" % (values,))
        self.set_chunk_size(4096)
        return values

    def call(self, name, *args, cmd_obj=None):
        txn = self.next_txn
        self.next_txn += 1
        self.send_command(name, txn, cmd_obj, *args)
        return txn

    def wait_for_reply(self, txn, timeout=10.0):
        while True:
            values = self.wait_for_command(("_result", "_error"), timeout)
            if len(values) > 1 and values[1] == txn:
                return values

    def create_stream(self, timeout=10.0):
        txn = self.call("createStream")
        values = self.wait_for_reply(txn, timeout)
        if values[0] != "_result":
            raise AssertionError("createStream failed: %r" % (values,))
        return int(values[3])

    def play(self, stream_id, name, start=-2, length=-1, buffer_ms=1000):
        """play [name, start, len] (milliseconds on the wire), then
        SetBufferLength: a recorded stream is sent at most that far ahead of
        real time."""
        self.send_command("play", 0, None, name, float(start), float(length), stream_id=stream_id, csid=8)
        self.set_buffer_length(stream_id, buffer_ms)

    def set_buffer_length(self, stream_id, ms):
        self.send_message(USER_CONTROL, struct.pack(">HII", 3, stream_id, int(ms)), csid=2)

    def seek(self, stream_id, ms):
        self.send_command("seek", 0, None, float(ms), stream_id=stream_id, csid=8)

    def pause(self, stream_id, paused, ms=0):
        """pause [flag, ms]: ms is where the player paused (servers use their
        own position)."""
        self.send_command("pause", 0, None, bool(paused), float(ms), stream_id=stream_id, csid=8)

    def publish(self, stream_id, name, kind="live"):
        self.send_command("publish", 0, None, name, kind, stream_id=stream_id, csid=8)


def status_info(values):
    """The info object of an onStatus / _result / _error command."""
    for v in values[2:]:
        if isinstance(v, dict) and "code" in v:
            return v
    return {}


def summarize(messages, limit=30):
    parts = []
    for m in messages[-limit:]:
        if m.type in (COMMAND_AMF0, COMMAND_AMF3, DATA_AMF0):
            try:
                values = m.command()
                info = status_info(values)
                parts.append("%s%s" % (values[0], "(%s)" % info["code"] if "code" in info else ""))
            except Exception:
                parts.append("cmd?")
        elif m.type == USER_CONTROL:
            parts.append("uc%d" % struct.unpack(">H", m.body[:2])[0])
        else:
            parts.append("t%d" % m.type)
    return "[" + ", ".join(parts) + "]"


class PlayerThread(threading.Thread):
    """A raw-client player that reads in the background and counts frames,
    so a test can check it keeps receiving while something else happens."""

    def __init__(self, host, port, name, app="live", start=-2, buffer_ms=1000):
        super().__init__(daemon=True)
        self.host, self.port, self.name, self.app, self.start_arg = host, port, name, app, start
        self.buffer_ms = buffer_ms
        self.lock = threading.Lock()
        self.video = 0
        self.audio = 0
        self.frames = []  # (type, timestamp, body) of media messages
        self.statuses = []
        self.user_controls = []  # (event, value)
        self.error = None
        self.playing = threading.Event()
        self.stop_flag = threading.Event()
        self.client = None

    def run(self):
        try:
            self.client = RtmpClient(self.host, self.port)
            self.client.connect(self.app)
            sid = self.client.create_stream()
            self.client.play(sid, self.name, self.start_arg, buffer_ms=self.buffer_ms)
            while not self.stop_flag.is_set():
                try:
                    msg = self.client.read_message(0.5)
                except TimeoutError:
                    continue
                with self.lock:
                    if msg.type in (AUDIO, VIDEO):
                        self.frames.append((msg.type, msg.timestamp, msg.body))
                        if msg.type == VIDEO:
                            self.video += 1
                        else:
                            self.audio += 1
                    elif msg.type in (COMMAND_AMF0, COMMAND_AMF3):
                        values = msg.command()
                        if values and values[0] == "onStatus":
                            code = status_info(values).get("code")
                            self.statuses.append(code)
                            if code == "NetStream.Play.Start":
                                self.playing.set()
                    elif msg.type == USER_CONTROL:
                        self.user_controls.append(struct.unpack(">HI", msg.body[:6]))
        except Exception as e:  # reported by the test through .error
            self.error = e
        finally:
            if self.client:
                self.client.close()

    def video_count(self):
        with self.lock:
            return self.video

    def last_timestamp(self):
        """Timestamp of the newest media frame received (None before any)."""
        with self.lock:
            return self.frames[-1][1] if self.frames else None

    def max_timestamp(self, recent=100):
        """The highest timestamp among the last `recent` frames: the end of
        what was received (ffmpeg's closing end-of-sequence tag goes out
        after audio frames with later timestamps)."""
        with self.lock:
            return max((f[1] for f in self.frames[-recent:]), default=None)

    def stop(self):
        self.stop_flag.set()
        self.join(5)
