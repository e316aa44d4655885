// The server's whole input path: bytes in through the handshake, the chunk
// stream, AMF and the session's state machine, answered by a small
// application that does what the origin does (accepts connect unless the
// app is "reject", creates streams, accepts publish and play, answers
// calls, reads aggregates), so that every state is reachable. The input's
// first byte says how: its low 7 bits are the size of the pieces the rest
// is fed in (0: byte by byte), calling feed() again while it stops early;
// its top bit set means the rest starts with the client's own handshake
// (C0, C1, C2: fuzzed like everything else), clear that the target does a
// simple handshake first and the rest is what a client sends after it.
//
// Checks: no crash or undefined behaviour (ASan, UBSan); one feed() makes
// at most max_messages_per_feed events (plus one for an error); an error
// is sticky; what the session holds stays within a small multiple of the
// input (see alloc_budget.hpp) and what it queues for the client is taken
// after every feed.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "common/rtmp/aggregate.hpp"
#include "common/rtmp/server_session.hpp"
#include "tests/fuzz/alloc_budget.hpp"
#include "tests/fuzz/feed_in_pieces.hpp"

namespace {

using rw::Bytes;
using rw::ByteView;
using namespace rw::rtmp;
namespace amf = rw::amf;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_server_session: %s\n", what);
    std::abort();
  }
}

void fixed_random(std::span<std::uint8_t> out) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(i * 13 + 7);
}

SessionOptions options() {
  SessionOptions o;
  o.random = fixed_random;
  o.command_chunk_limits = {8u << 10, 8, 16u << 10};
  o.chunk_limits = {64u << 10, 8, 128u << 10};
  o.amf_limits = {16, 2000, 16u << 10, 64u << 10};
  o.max_messages_per_feed = 16;
  o.max_streams = 4;
  return o;
}

// Answers like the origin's Connection would.
void answer(ServerSession& s, SessionEvent& event) {
  if (auto* connect = std::get_if<ConnectEvent>(&event)) {
    if (connect->app == "reject") {
      s.reject_connect("NetConnection.Connect.Rejected", "go away");
    } else {
      s.accept_connect(amf::Object{{"app", connect->app}});
    }
  } else if (auto* create = std::get_if<CreateStreamEvent>(&event)) {
    s.create_stream(create->transaction_id);
  } else if (auto* publish = std::get_if<PublishEvent>(&event)) {
    s.allow_publishing();
    s.send_status(publish->stream_id, "status", "NetStream.Publish.Start", publish->name);
  } else if (auto* play = std::get_if<PlayEvent>(&event)) {
    s.send_user_control(UserControlEvent::StreamBegin, play->stream_id);
    s.send_status(play->stream_id, "status", "NetStream.Play.Start", play->name);
    s.send_data(play->stream_id, 0, {amf::Value("|RtmpSampleAccess"), amf::Value(true), amf::Value(true)});
  } else if (auto* command = std::get_if<CommandEvent>(&event)) {
    if (command->command.transaction_id != 0) s.send_result(command->command.transaction_id, {amf::Null{}});
  } else if (auto* media = std::get_if<MediaEvent>(&event)) {
    if (media->message.header.type == msg_type::kAggregate) {
      AggregateReader reader(media->message);
      check(reader.valid(), "an aggregate event that is not valid");
      Message part;
      while (reader.next(part)) check(part.header.length == part.payload.size(), "aggregate part length");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool own_handshake = (data[0] & 0x80) != 0;
  const std::size_t piece = (data[0] & 0x7F) == 0 ? 1 : data[0] & 0x7F;
  const ByteView input(data + 1, size - 1);
  const SessionOptions o = options();

  const rw::fuzz::AllocBudget budget;
  ServerSession session(o);
  if (!own_handshake) {
    // A simple handshake: C0 C1 (version 0), then C2 (not checked).
    std::vector<SessionEvent> events;
    Bytes hello(1 + 2 * 1536, 0);
    hello[0] = 3;
    auto r = session.feed(hello, events);
    check(!r.error && r.consumed == hello.size() && session.handshake_done(), "handshake");
    session.take_output();
  }

  rw::fuzz::feed_in_pieces<ServerSession, SessionEvent>(
      session, input, piece, o.max_messages_per_feed,
      [&](std::vector<SessionEvent>& batch) {
        for (auto& e : batch) answer(session, e);
        session.take_output();
      },
      "fuzz_server_session");
  // Decoded commands (a value per input byte at most), a batch of
  // messages, buffered partial messages and the session's fixed state.
  budget.check(2 * sizeof(amf::Property) * size + o.chunk_limits.max_buffered_bytes +
                   2 * o.amf_limits.max_total_bytes + (256u << 10),
               "fuzz_server_session: a session");
  return 0;
}
