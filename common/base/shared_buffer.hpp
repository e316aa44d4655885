// An immutable, reference-counted byte buffer. Media frames and their
// chunked encodings cross threads and are shared by every subscriber as
// SharedBuffers, so a frame is copied once however many players get it.
#pragma once

#include <memory>

#include "common/base/bytes.hpp"

namespace rw {

class SharedBuffer {
 public:
  SharedBuffer() = default;
  explicit SharedBuffer(Bytes&& bytes) : data_(std::make_shared<const Bytes>(std::move(bytes))) {}
  static SharedBuffer copy_of(ByteView v) { return SharedBuffer(Bytes(v.begin(), v.end())); }

  const std::uint8_t* data() const { return data_ ? data_->data() : nullptr; }
  std::size_t size() const { return data_ ? data_->size() : 0; }
  bool empty() const { return size() == 0; }
  ByteView view() const { return data_ ? ByteView(*data_) : ByteView(); }
  operator ByteView() const { return view(); }  // NOLINT: a buffer is a view
  const Bytes& bytes() const {
    static const Bytes kEmpty;
    return data_ ? *data_ : kEmpty;
  }

 private:
  std::shared_ptr<const Bytes> data_;
};

}  // namespace rw
