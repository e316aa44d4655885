// The parts of the decoder both formats use: reading primitives, budgets
// and reference tables.
#include "common/amf/decoder.hpp"

#include <cstring>

namespace rw::amf::detail {

bool Decoder::u8(std::uint8_t& v) {
  if (remaining() < 1) return fail(Error::Truncated);
  v = body_[pos_++];
  return true;
}

bool Decoder::u16(std::uint16_t& v) {
  if (remaining() < 2) return fail(Error::Truncated);
  v = static_cast<std::uint16_t>(body_[pos_] << 8 | body_[pos_ + 1]);
  pos_ += 2;
  return true;
}

bool Decoder::u32(std::uint32_t& v) {
  if (remaining() < 4) return fail(Error::Truncated);
  v = get_u32be(body_.data() + pos_);
  pos_ += 4;
  return true;
}

bool Decoder::f64(double& v) {
  if (remaining() < 8) return fail(Error::Truncated);
  std::uint64_t bits = static_cast<std::uint64_t>(get_u32be(body_.data() + pos_)) << 32 |
                       get_u32be(body_.data() + pos_ + 4);
  std::memcpy(&v, &bits, sizeof v);
  pos_ += 8;
  return true;
}

// U29: up to four bytes; the first three carry 7 bits each and a
// continuation bit, the fourth carries 8 bits.
bool Decoder::u29(std::uint32_t& v) {
  v = 0;
  for (int i = 0; i < 3; ++i) {
    std::uint8_t b = 0;
    if (!u8(b)) return false;
    v = v << 7 | (b & 0x7Fu);
    if ((b & 0x80) == 0) return true;
  }
  std::uint8_t b = 0;
  if (!u8(b)) return false;
  v = v << 8 | b;
  return true;
}

bool Decoder::text(std::size_t n, std::string_view& v) {
  if (n > limits_.max_bytes) return fail(Error::TooLarge);
  if (remaining() < n) return fail(Error::Truncated);
  v = as_chars(body_.subspan(pos_, n));
  pos_ += n;
  return true;
}

bool Decoder::materialize(std::string_view s, std::string& out) {
  if (s.size() > limits_.max_total_bytes - state_.bytes) return fail(Error::TooLarge);
  state_.bytes += s.size();
  out.assign(s);
  return true;
}

bool Decoder::count_element() {
  if (state_.elements >= limits_.max_elements) return fail(Error::TooManyElements);
  ++state_.elements;
  return true;
}

bool Decoder::check_count(std::size_t count, std::size_t min_bytes_each) {
  if (count > limits_.max_elements - state_.elements) return fail(Error::TooManyElements);
  if (count > remaining() / min_bytes_each) return fail(Error::Truncated);
  return true;
}

bool Decoder::enter_container() {
  if (depth_ >= limits_.max_depth) return fail(Error::DepthExceeded);
  ++depth_;
  return true;
}

std::size_t Decoder::add_entry(std::vector<TableEntry>& table, std::size_t offset) {
  if (replaying_ > 0) return 0;
  table.push_back({offset, false});
  return table.size() - 1;
}

void Decoder::complete_entry(std::vector<TableEntry>& table, std::size_t index) {
  if (replaying_ > 0) return;
  table[index].complete = true;
}

bool Decoder::resolve(const std::vector<TableEntry>& table, std::size_t index, bool amf3, Value& out) {
  if (index >= table.size() || !table[index].complete) return fail(Error::BadReference);
  // The copy is decoded at the reference's depth and counted against the
  // element and byte budgets like any other value, so chains of references
  // cannot grow the result beyond the limits. References only point
  // backwards to complete values, so this terminates.
  const std::size_t saved = pos_;
  pos_ = table[index].offset;
  ++replaying_;
  const bool ok = amf3 ? read_amf3(out) : read_amf0(out);
  --replaying_;
  pos_ = saved;
  return ok;
}

}  // namespace rw::amf::detail
