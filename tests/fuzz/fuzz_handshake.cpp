// Feeds arbitrary bytes to both sides of the RTMP handshake: whole, in
// fixed-size pieces and cut once, with the piece size and cut taken from the
// input. All three must agree, and a server's S0+S1+S2 must satisfy our own
// client (S1 never claims a version without a digest that verifies).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/rtmp/handshake.hpp"
#include "tests/fuzz/alloc_budget.hpp"

namespace {

using rw::Bytes;
using rw::ByteView;
using namespace rw::rtmp;

constexpr std::size_t kServerOutputSize = 1 + 2 * kHandshakeSize;

void check(bool ok) {
  if (!ok) std::abort();
}

// Repeatable, so that every way of feeding produces the same bytes.
RandomFill counting_random() {
  return [next = std::uint8_t{0x5B}](std::span<std::uint8_t> out) mutable {
    for (auto& b : out) b = next++;
  };
}

struct Result {
  Bytes output;
  std::size_t consumed = 0;
  bool done = false;
  bool failed = false;
  HandshakeScheme scheme = HandshakeScheme::Simple;

  bool operator==(const Result&) const = default;
};

// Feeds `input` in pieces ending at `cuts`, then the rest; after an error
// nothing more is fed (the connection would be closed).
template <class Handshake>
Result run(Handshake& hs, ByteView input, const std::vector<std::size_t>& cuts) {
  Result r;
  std::size_t begin = 0;
  auto feed = [&](std::size_t end) {
    if (r.failed) return;
    const ByteView piece = input.subspan(begin, end - begin);
    const auto fed = hs.feed(piece);
    check(fed.consumed <= piece.size());
    // Short reads only happen when the handshake is over (or broken).
    check(fed.consumed == piece.size() || hs.done() || fed.error);
    check(!(fed.error && hs.done()));
    r.consumed += fed.consumed;
    r.failed = fed.error.has_value();
    const Bytes out = hs.take_output();
    r.output.insert(r.output.end(), out.begin(), out.end());
    begin = end;
  };
  for (std::size_t cut : cuts) feed(cut);
  feed(input.size());
  r.done = hs.done();
  r.scheme = hs.scheme();
  return r;
}

std::vector<std::size_t> every(std::size_t step, std::size_t size) {
  std::vector<std::size_t> cuts;
  for (std::size_t at = step; at < size; at += step) cuts.push_back(at);
  return cuts;
}

Result run_server(ByteView input, const std::vector<std::size_t>& cuts) {
  ServerHandshake server({.random = counting_random(), .time_ms = 7, .version = 0x0D0E0A0D});
  Result r = run(server, input, cuts);
  check(r.output.empty() || r.output.size() == kServerOutputSize);
  check(!r.done || r.consumed == kServerOutputSize);
  return r;
}

Result run_client(ByteView input, const std::vector<std::size_t>& cuts, std::uint32_t version) {
  ClientHandshake client({.random = counting_random(), .time_ms = 7, .version = version});
  check(client.start().size() == 1 + kHandshakeSize);
  Result r = run(client, input, cuts);
  check(r.output.empty() || (r.done && r.output.size() == kHandshakeSize));
  check(r.done == !r.output.empty());
  check(!r.done || r.consumed == kServerOutputSize);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  // Split choices come from the tail so they don't disturb C0/C1 much.
  const std::size_t step = size > 0 ? data[size - 1] % 97 + 1 : 1;
  const std::size_t cut = size > 1 ? (data[size - 2] * 31u + size) % (size + 1) : 0;

  // A handshake is fixed-size: whatever the bytes, it holds a few blocks.
  const rw::fuzz::AllocBudget budget;
  const Result server = run_server(input, {});
  budget.check(64u << 10, "fuzz_handshake: a server handshake");
  check(run_server(input, every(step, size)) == server);
  check(run_server(input, {cut}) == server);

  // A server's answer must satisfy our client, whichever scheme it chose.
  if (server.output.size() == kServerOutputSize) {
    const ByteView s0s1s2(server.output);
    const Result client = run_client(s0s1s2, {}, 0x80000702);
    check(client.done && !client.failed);
    check(client.scheme == server.scheme);
  }

  // The same bytes as a server's answer to our client, in both schemes.
  for (std::uint32_t version : {0x80000702u, 0u}) {
    const Result client = run_client(input, {}, version);
    check(run_client(input, every(step, size), version) == client);
    check(run_client(input, {cut}, version) == client);
  }
  return 0;
}
