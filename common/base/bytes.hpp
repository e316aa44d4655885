// Byte containers and big-/little-endian readers and writers used by every
// codec. Readers never throw: each read reports whether enough bytes were
// there, so a decoder can turn "not enough" into "need more" or "truncated".
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rw {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Sequential reader over a byte view. Every read_* returns false and leaves
// the position unchanged when fewer bytes remain than the read needs.
class ByteReader {
 public:
  explicit ByteReader(ByteView data) : data_(data) {}

  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }
  ByteView rest() const { return data_.subspan(pos_); }

  bool read_u8(std::uint8_t& v) {
    if (remaining() < 1) return false;
    v = data_[pos_++];
    return true;
  }
  bool read_u16be(std::uint16_t& v) { return read_be(v, 2); }
  bool read_u24be(std::uint32_t& v) { return read_be(v, 3); }
  bool read_u32be(std::uint32_t& v) { return read_be(v, 4); }
  bool read_u64be(std::uint64_t& v) { return read_be(v, 8); }
  bool read_u32le(std::uint32_t& v) {
    if (remaining() < 4) return false;
    v = static_cast<std::uint32_t>(data_[pos_]) | static_cast<std::uint32_t>(data_[pos_ + 1]) << 8 |
        static_cast<std::uint32_t>(data_[pos_ + 2]) << 16 | static_cast<std::uint32_t>(data_[pos_ + 3]) << 24;
    pos_ += 4;
    return true;
  }
  bool read_f64be(double& v) {
    std::uint64_t bits = 0;
    if (!read_u64be(bits)) return false;
    std::memcpy(&v, &bits, sizeof v);
    return true;
  }
  // A view of the next n bytes (no copy).
  bool read_bytes(std::size_t n, ByteView& v) {
    if (remaining() < n) return false;
    v = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool skip(std::size_t n) {
    if (remaining() < n) return false;
    pos_ += n;
    return true;
  }
  bool peek_u8(std::uint8_t& v) const {
    if (remaining() < 1) return false;
    v = data_[pos_];
    return true;
  }

 private:
  template <class T>
  bool read_be(T& v, std::size_t n) {
    if (remaining() < n) return false;
    T r = 0;
    for (std::size_t i = 0; i < n; ++i) r = static_cast<T>(r << 8 | data_[pos_ + i]);
    v = r;
    pos_ += n;
    return true;
  }

  ByteView data_;
  std::size_t pos_ = 0;
};

// Appends to a byte vector.
class ByteWriter {
 public:
  explicit ByteWriter(Bytes& out) : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16be(std::uint16_t v) { be(v, 2); }
  void u24be(std::uint32_t v) { be(v, 3); }
  void u32be(std::uint32_t v) { be(v, 4); }
  void u64be(std::uint64_t v) { be(v, 8); }
  void u32le(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  void f64be(double v) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    u64be(bits);
  }
  void bytes(ByteView v) { out_.insert(out_.end(), v.begin(), v.end()); }
  void bytes(std::string_view v) { bytes(as_bytes(v)); }
  std::size_t size() const { return out_.size(); }
  Bytes& buffer() { return out_; }

 private:
  template <class T>
  void be(T v, std::size_t n) {
    for (std::size_t i = n; i-- > 0;) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }

  Bytes& out_;
};

inline void put_u24be(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 16);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v);
}
inline void put_u32be(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}
inline std::uint32_t get_u24be(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 16 | static_cast<std::uint32_t>(p[1]) << 8 | p[2];
}
inline std::uint32_t get_u32be(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}

// Lower-case hex, for logs and tests.
std::string to_hex(ByteView b);
// The text with every byte that is not part of a well-formed UTF-8
// sequence replaced by U+FFFD. RTMP names need not be UTF-8; JSON and
// Prometheus label values must be.
std::string to_valid_utf8(std::string_view text);
// Parses hex digits (whitespace ignored); returns an empty vector on a bad digit.
Bytes from_hex(std::string_view hex);

}  // namespace rw
