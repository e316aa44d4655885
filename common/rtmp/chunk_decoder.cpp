#include "common/rtmp/chunk_decoder.hpp"

#include <algorithm>
#include <cstring>

namespace rw::rtmp {

namespace {

// The timestamp field value that announces a 4-byte extended timestamp.
constexpr std::uint32_t kExtendedTimestampMarker = 0xFFFFFF;

// Message header size by fmt.
constexpr std::size_t kMessageHeaderSize[4] = {11, 7, 3, 0};

// Basic header size from its first byte: the low 6 bits 0 and 1 announce
// one and two more csid bytes.
std::size_t basic_header_size(std::uint8_t first) {
  const unsigned low = first & 0x3F;
  return low == 0 ? 2 : low == 1 ? 3 : 1;
}

// The csid of a complete basic header.
std::uint32_t basic_header_csid(const std::uint8_t* p) {
  const unsigned low = p[0] & 0x3F;
  if (low == 0) return 64u + p[1];
  if (low == 1) return 64u + p[1] + (static_cast<std::uint32_t>(p[2]) << 8);  // little-endian
  return low;
}

std::uint32_t get_u32le(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

}  // namespace

const char* to_string(ChunkError e) {
  switch (e) {
    case ChunkError::BadChunkSize: return "bad chunk size";
    case ChunkError::MessageTooLarge: return "message too large";
    case ChunkError::TooManyChunkStreams: return "too many chunk streams";
    case ChunkError::NoPreviousHeader: return "no previous header on chunk stream";
    case ChunkError::BufferedTooMuch: return "too many bytes buffered in partial messages";
    case ChunkError::BadControlMessage: return "bad control message";
  }
  return "unknown chunk error";
}

ChunkDecoder::ChunkDecoder(ChunkDecoderLimits limits) : limits_(limits) {}

void ChunkDecoder::set_limits(const ChunkDecoderLimits& limits) {
  limits_ = limits;
  for (const auto& [csid, cs] : streams_) {
    if (cs.assembling && cs.header.length > limits_.max_message_size && !error_) error_ = ChunkError::MessageTooLarge;
  }
}

ChunkDecoder::ChunkStream* ChunkDecoder::find_stream(std::uint32_t csid) {
  if (cached_stream_ != nullptr && cached_csid_ == csid) return cached_stream_;
  auto it = streams_.find(csid);
  if (it == streams_.end()) return nullptr;
  cached_csid_ = csid;
  cached_stream_ = &it->second;
  return cached_stream_;
}

// How many bytes the header starting at p needs, judging from the n bytes
// there are: the answer grows as more bytes reveal the basic header size,
// the fmt and whether an extended timestamp follows. The header is complete
// once the answer is <= n.
std::size_t ChunkDecoder::header_bytes_needed(const std::uint8_t* p, std::size_t n) {
  if (n < 1) return 1;
  const std::size_t basic = basic_header_size(p[0]);
  if (n < basic) return basic;
  const unsigned fmt = p[0] >> 6;
  if (fmt == 3) {
    // The message header is the previous one; four extended timestamp bytes
    // follow (or, on a continuation chunk from old librtmp, may follow) if
    // that header had one. An unknown csid is reported by parse_header.
    const ChunkStream* cs = find_stream(basic_header_csid(p));
    return cs != nullptr && cs->extended ? basic + 4 : basic;
  }
  const std::size_t size = basic + kMessageHeaderSize[fmt];
  if (n < size) return size;
  return get_u24be(p + basic) == kExtendedTimestampMarker ? size + 4 : size;
}

void ChunkDecoder::append_payload(ChunkStream& cs, const std::uint8_t* p, std::size_t n) {
  Bytes& payload = cs.payload;
  const std::size_t needed = payload.size() + n;
  if (needed > payload.capacity()) {
    constexpr std::size_t kFirstCapacity = 4096;
    const std::size_t grown = std::max({needed, payload.capacity() * 2, kFirstCapacity});
    payload.reserve(std::min<std::size_t>(grown, cs.header.length));
  }
  payload.insert(payload.end(), p, p + n);
}

ChunkDecoder::FeedResult ChunkDecoder::feed(ByteView in, std::vector<Message>& out, std::size_t max_messages) {
  if (error_) return {0, error_};
  const std::size_t first_message = out.size();
  const std::uint8_t* data = in.data();
  const std::size_t size = in.size();
  std::size_t pos = 0;

  auto drop_pending = [this](std::size_t n) {
    pending_size_ -= n;
    if (pending_size_ > 0) std::memmove(pending_, pending_ + n, pending_size_);
  };

  for (;;) {
    if (current_ != nullptr) {
      // Chunk payload: first any bytes peeked as a possible extended
      // timestamp that were payload after all, then the input.
      std::size_t take = 0;
      if (pending_size_ > 0) {
        take = std::min<std::size_t>(pending_size_, chunk_remaining_);
        append_payload(*current_, pending_, take);
        drop_pending(take);
      } else {
        take = std::min<std::size_t>(size - pos, chunk_remaining_);
        if (take == 0) break;
        append_payload(*current_, data + pos, take);
        pos += take;
      }
      chunk_remaining_ -= static_cast<std::uint32_t>(take);
      if (chunk_remaining_ == 0) {
        ChunkStream& cs = *current_;
        current_ = nullptr;
        if (cs.payload.size() == cs.header.length) {
          if (auto e = complete_message(cs, out)) {
            error_ = e;
            break;
          }
        }
      }
      continue;
    }
    // Between chunks: the place to stop once enough messages are out.
    if (out.size() - first_message >= max_messages) break;

    // Chunk header. Parsed in place when the input holds all of it;
    // otherwise gathered into pending_ (at most 18 bytes).
    if (pending_size_ == 0 && header_bytes_needed(data + pos, size - pos) <= size - pos) {
      auto used = parse_header(data + pos, out);
      if (!used) {
        error_ = used.error();
        break;
      }
      pos += *used;
      continue;
    }
    std::size_t need = header_bytes_needed(pending_, pending_size_);
    while (need > pending_size_ && pos < size) {
      const std::size_t copy = std::min(need - pending_size_, size - pos);
      std::memcpy(pending_ + pending_size_, data + pos, copy);
      pending_size_ += copy;
      pos += copy;
      need = header_bytes_needed(pending_, pending_size_);
    }
    if (need > pending_size_) break;  // need more input
    auto used = parse_header(pending_, out);
    if (!used) {
      error_ = used.error();
      break;
    }
    drop_pending(*used);
  }

  bytes_consumed_ += pos;
  return {pos, error_};
}

Expected<std::size_t, ChunkError> ChunkDecoder::parse_header(const std::uint8_t* p, std::vector<Message>& out) {
  const unsigned fmt = p[0] >> 6;
  std::size_t pos = basic_header_size(p[0]);
  const std::uint32_t csid = basic_header_csid(p);

  ChunkStream* cs = find_stream(csid);
  if (cs == nullptr) {
    // librtmp sends its first user control message (ping, SetBufferLength)
    // on a fresh csid 2 with fmt 1; SRS accepts that (ossrs/srs#98), taking
    // stream id 0 and timestamp 0 for the missing fields. fmt 2 and 3 lack
    // the length and type, so there is nothing sensible to assume.
    if (fmt >= 2) return unexpected(ChunkError::NoPreviousHeader);
    if (streams_.size() >= limits_.max_chunk_streams) return unexpected(ChunkError::TooManyChunkStreams);
    cs = &streams_[csid];
    cs->header.csid = csid;
    cached_csid_ = csid;
    cached_stream_ = cs;
  }

  if (fmt == 3) {
    if (cs->assembling) {
      // A continuation chunk. Flash, FMLE, FMS and ffmpeg repeat the
      // extended timestamp here, old librtmp does not: consume the four
      // bytes only if they equal it (what SRS does); else they are payload.
      if (cs->extended && get_u32be(p + pos) == cs->timestamp_field) pos += 4;
    } else {
      // fmt 3 starting a new message re-applies the previous delta (after a
      // fmt 0: its timestamp), as SRS and ffmpeg read it; the extended
      // timestamp comes again if the previous header had one.
      if (cs->extended) {
        cs->timestamp_field = get_u32be(p + pos);
        pos += 4;
      }
      cs->header.timestamp += cs->timestamp_field;
      if (auto e = start_message(*cs, out)) return unexpected(*e);
    }
  } else {
    std::uint32_t field = get_u24be(p + pos);
    std::uint32_t length = cs->header.length;
    std::uint8_t type = cs->header.type;
    std::uint32_t stream_id = cs->header.stream_id;
    if (fmt <= 1) {
      length = get_u24be(p + pos + 3);
      type = p[pos + 6];
    }
    if (fmt == 0) stream_id = get_u32le(p + pos + 7);  // little-endian, unlike everything else
    pos += kMessageHeaderSize[fmt];
    const bool extended = field == kExtendedTimestampMarker;
    if (extended) {
      field = get_u32be(p + pos);
      pos += 4;
    }
    // A full header in the middle of a message: ffmpeg keeps assembling the
    // message and ignores the repeated fields (SRS does too for fmt 1 and 2).
    if (!cs->assembling) {
      if (length > limits_.max_message_size) return unexpected(ChunkError::MessageTooLarge);
      cs->extended = extended;
      cs->timestamp_field = field;
      // Timestamps are 32-bit and wrap; unsigned arithmetic does that.
      cs->header.timestamp = fmt == 0 ? field : cs->header.timestamp + field;
      cs->header.length = length;
      cs->header.type = type;
      cs->header.stream_id = stream_id;
      if (auto e = start_message(*cs, out)) return unexpected(*e);
    }
  }

  if (cs->assembling) {
    current_ = cs;
    chunk_remaining_ =
        std::min<std::uint32_t>(chunk_size_, cs->header.length - static_cast<std::uint32_t>(cs->payload.size()));
  }
  return pos;
}

std::optional<ChunkError> ChunkDecoder::start_message(ChunkStream& cs, std::vector<Message>& out) {
  if (cs.header.length == 0) {
    // A chunk with no payload is a whole message.
    cs.payload.clear();
    return complete_message(cs, out);
  }
  // The declared length counts as buffered from the start, so a peer that
  // announces big messages on many chunk streams and sends them slowly is
  // stopped by the limit before it sends them. Memory itself is taken only
  // as payload arrives: announcing costs the peer as much as it costs us.
  if (cs.header.length > limits_.max_buffered_bytes - std::min(buffered_bytes_, limits_.max_buffered_bytes)) {
    return ChunkError::BufferedTooMuch;
  }
  buffered_bytes_ += cs.header.length;
  cs.assembling = true;
  cs.payload = Bytes();
  return std::nullopt;
}

std::optional<ChunkError> ChunkDecoder::complete_message(ChunkStream& cs, std::vector<Message>& out) {
  if (cs.assembling) {
    buffered_bytes_ -= cs.header.length;
    cs.assembling = false;
  }
  const MessageHeader& header = cs.header;
  // Set Chunk Size and Abort change how the following bytes are framed, so
  // the decoder applies them itself, whatever chunk or message stream they
  // came on.
  if (header.type == msg_type::kSetChunkSize || header.type == msg_type::kAbort) {
    if (cs.payload.size() < 4) return ChunkError::BadControlMessage;
    const std::uint32_t value = get_u32be(cs.payload.data());
    if (header.type == msg_type::kSetChunkSize) {
      if (value == 0 || (value & 0x80000000u) != 0) return ChunkError::BadChunkSize;
      chunk_size_ = value;
    } else if (ChunkStream* target = find_stream(value); target != nullptr && target->assembling) {
      buffered_bytes_ -= target->header.length;
      target->assembling = false;
      target->payload = Bytes();  // give the reserved memory back
    }
  }
  out.push_back(Message{header, std::move(cs.payload)});
  return std::nullopt;
}

}  // namespace rw::rtmp
