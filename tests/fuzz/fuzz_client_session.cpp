// The client side's whole input path, for a hostile upstream (a relay's
// origin): after a simple handshake that the target supplies, the input
// is what the server sends, fed to a ClientSession that pipelined connect,
// createStream, play and a call as a relay's pull does, in pieces whose
// size is the input's first byte (0: byte by byte). Server calls are
// answered, aggregates read.
//
// Checks: no crash or undefined behaviour; at most max_messages_per_feed
// events per feed(); errors are sticky; what the session holds stays
// within a small multiple of the input.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "common/rtmp/aggregate.hpp"
#include "common/rtmp/client_session.hpp"
#include "tests/fuzz/alloc_budget.hpp"
#include "tests/fuzz/feed_in_pieces.hpp"

namespace {

using rw::Bytes;
using rw::ByteView;
using namespace rw::rtmp;
namespace amf = rw::amf;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_client_session: %s\n", what);
    std::abort();
  }
}

ClientOptions options() {
  ClientOptions o;
  o.random = [](std::span<std::uint8_t> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(i * 11 + 3);
  };
  o.handshake_version = 0;  // simple: S1 is not checked
  o.chunk_limits = {64u << 10, 8, 128u << 10};
  o.amf_limits = {16, 2000, 16u << 10, 64u << 10};
  o.max_messages_per_feed = 16;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = data[0] == 0 ? 1 : data[0];
  const ByteView input(data + 1, size - 1);
  const ClientOptions o = options();

  const rw::fuzz::AllocBudget budget;
  ClientSession session(o);
  ConnectParams params;
  params.app = "live";
  params.tc_url = "rtmp://upstream/live";
  session.connect(params);
  session.create_stream();
  session.play(1, "cam", -2, -1, true);
  session.call("echo", {amf::Value("x")});
  session.take_output();
  std::vector<ClientEvent> events;
  // S0 S1 S2 of a simple handshake.
  Bytes hello(1 + 2 * 1536, 0);
  hello[0] = 3;
  auto r = session.feed(hello, events);
  check(!r.error && session.handshake_done(), "handshake");
  session.take_output();

  rw::fuzz::feed_in_pieces<ClientSession, ClientEvent>(
      session, input, piece, o.max_messages_per_feed,
      [&](std::vector<ClientEvent>& batch) {
        for (auto& e : batch) {
          if (auto* call = std::get_if<ServerCallEvent>(&e)) {
            if (call->command.transaction_id != 0) session.send_result(call->command.transaction_id, {amf::Null{}});
          } else if (auto* m = std::get_if<StreamMessageEvent>(&e)) {
            if (m->message.header.type == msg_type::kAggregate) {
              AggregateReader reader(m->message);
              check(reader.valid(), "an aggregate event that is not valid");
              Message part;
              while (reader.next(part)) {
              }
            }
          }
        }
        session.take_output();
      },
      "fuzz_client_session");
  budget.check(2 * sizeof(amf::Property) * size + o.chunk_limits.max_buffered_bytes +
                   2 * o.amf_limits.max_total_bytes + (256u << 10),
               "fuzz_client_session: a session");
  return 0;
}
