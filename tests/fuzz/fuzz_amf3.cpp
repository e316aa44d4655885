// Decodes one AMF3 value, re-encodes it (with string and traits
// references), and requires the encoding to decode to an equal value
// (unless it holds a NaN: NaN != NaN) that re-encodes to the same bytes.
// AMF3 decoding loses nothing the encoder writes, so unlike AMF0 no
// normalising round comes first.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "common/amf/codec.hpp"
#include "tests/fuzz/alloc_budget.hpp"

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_amf3: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rw::amf;
  Limits limits;
  limits.max_elements = 4000;
  limits.max_total_bytes = 256u << 10;
  std::size_t consumed = 0;
  // As in fuzz_amf0: a value per input byte at most, and what references
  // may copy within the budgets (AMF3 traits tables hold names too).
  const rw::fuzz::AllocBudget budget;
  auto first = decode_amf3(rw::ByteView(data, size), consumed, limits);
  budget.check(2 * sizeof(Property) * (size + limits.max_elements) + 2 * limits.max_total_bytes + (64u << 10),
               "fuzz_amf3: decoding");
  if (!first) return 0;
  check(consumed <= size, "consumed more than the input");

  rw::Bytes b1;
  encode_amf3(*first, b1);
  std::size_t consumed1 = 0;
  auto second = decode_amf3(b1, consumed1, limits);
  check(second.has_value(), "re-encoded value does not decode");
  check(consumed1 == b1.size(), "re-encoded value left bytes");
  check(!(*first == *first) || *first == *second, "values differ after a round trip");
  rw::Bytes b2;
  encode_amf3(*second, b2);
  check(b1 == b2, "re-encoding is not stable");

  // The same value inside an AMF0 body (reference-free AMF3 where needed).
  rw::Bytes amf0;
  encode_amf0(*second, amf0);
  Limits relaxed = limits;
  relaxed.max_total_bytes += 8 * limits.max_elements;
  auto from_amf0 = decode_amf0_all(amf0, relaxed);
  check(from_amf0.has_value() && from_amf0->size() == 1, "AMF0 encoding does not decode to one value");
  return 0;
}
