// Decodes an AMF0 body (with 0x11 switches to AMF3), re-encodes it, and
// requires the re-encoding to decode and re-encode to the same bytes.
//
// The first re-encoding normalises (references become copies, long strings
// that fit become short ones, AMF3 arrays become ECMA arrays), so the check
// starts from it: encode(decode(b1)) == b1, and the values decoded from b1
// and b2 are equal unless they hold a NaN (NaN != NaN).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "common/amf/codec.hpp"
#include "tests/fuzz/alloc_budget.hpp"

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_amf0: %s\n", what);
    std::abort();
  }
}

rw::Bytes encode_all(const std::vector<rw::amf::Value>& values) {
  rw::Bytes out;
  for (const rw::amf::Value& v : values) rw::amf::encode_amf0(v, out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rw::amf;
  Limits limits;
  limits.max_elements = 4000;
  limits.max_total_bytes = 256u << 10;
  // What decoding may hold: each input byte may become a value (a
  // property at most, in a vector that grows by doubling), and references
  // may copy up to the element and byte budgets. A decoder that reserves
  // declared counts, nested, goes far over.
  const rw::fuzz::AllocBudget budget;
  auto first = decode_amf0_all(rw::ByteView(data, size), limits);
  budget.check(2 * sizeof(Property) * (size + limits.max_elements) + 2 * limits.max_total_bytes + (64u << 10),
               "fuzz_amf0: decoding");
  if (!first) return 0;

  // Normalising may add key bytes: dense items of an AMF3 array become the
  // ECMA members "0", "1", ...
  Limits relaxed = limits;
  relaxed.max_total_bytes += 8 * limits.max_elements;

  const rw::Bytes b1 = encode_all(*first);
  auto second = decode_amf0_all(b1, relaxed);
  check(second.has_value(), "re-encoded body does not decode");
  const rw::Bytes b2 = encode_all(*second);
  check(b1 == b2, "re-encoding is not stable");
  auto third = decode_amf0_all(b2, relaxed);
  check(third.has_value(), "second re-encoding does not decode");
  check(!(*second == *second) || *second == *third, "values differ after a round trip");

  // Every value must also survive AMF3.
  for (const Value& v : *second) {
    rw::Bytes amf3;
    encode_amf3(v, amf3);
    std::size_t consumed = 0;
    auto back = decode_amf3(amf3, consumed, relaxed);
    check(back.has_value(), "AMF3 encoding of an AMF0 value does not decode");
    check(consumed == amf3.size(), "AMF3 decoding left bytes");
  }
  return 0;
}
