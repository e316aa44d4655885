#include "common/flv/file_reader.hpp"

#include <algorithm>

namespace rw::flv {

const char* to_string(ReadError e) {
  switch (e) {
    case ReadError::NotFlv: return "NotFlv";
    case ReadError::BadHeader: return "BadHeader";
    case ReadError::TagTooLarge: return "TagTooLarge";
    case ReadError::BadTagType: return "BadTagType";
  }
  return "?";
}

bool FileReader::gather(ByteView in, std::size_t& pos, std::size_t need) {
  const std::size_t n = std::min(need - pending_.size(), in.size() - pos);
  pending_.insert(pending_.end(), in.begin() + static_cast<std::ptrdiff_t>(pos),
                  in.begin() + static_cast<std::ptrdiff_t>(pos + n));
  pos += n;
  return pending_.size() == need;
}

FileReader::FeedResult FileReader::fail(ReadError e, std::size_t consumed) {
  state_ = State::Failed;
  error_ = e;
  pending_.clear();
  pending_.shrink_to_fit();
  tag_ = Tag{};
  return {consumed, e};
}

FileReader::FeedResult FileReader::feed(ByteView in, std::vector<Tag>& out) {
  std::size_t pos = 0;
  for (;;) {
    switch (state_) {
      case State::Failed:
        return {pos, error_};

      case State::FileHeader: {
        if (!gather(in, pos, kFileHeaderSize)) return {pos, std::nullopt};
        const std::uint8_t* h = pending_.data();
        if (h[0] != 'F' || h[1] != 'L' || h[2] != 'V') return fail(ReadError::NotFlv, pos);
        // The version byte (h[3]) is not checked: 1 is the only one there is.
        const std::uint32_t data_offset = get_u32be(h + 5);
        if (data_offset < kFileHeaderSize) return fail(ReadError::BadHeader, pos);
        header_seen_ = true;
        has_audio_ = (h[4] & 0x04) != 0;
        has_video_ = (h[4] & 0x01) != 0;
        skip_ = (data_offset - kFileHeaderSize) + kPreviousTagSizeSize;
        pending_.clear();
        state_ = State::Skip;
        break;
      }

      case State::Skip: {
        const std::size_t n = std::min(skip_, in.size() - pos);
        pos += n;
        skip_ -= n;
        if (skip_ > 0) return {pos, std::nullopt};
        state_ = State::TagHeader;
        break;
      }

      case State::TagHeader: {
        const std::uint8_t* h = nullptr;
        if (pending_.empty() && in.size() - pos >= kTagHeaderSize) {
          h = in.data() + pos;  // the common case: the header is all here
          pos += kTagHeaderSize;
        } else {
          if (!gather(in, pos, kTagHeaderSize)) return {pos, std::nullopt};
          h = pending_.data();
        }
        // The whole byte must match: the encrypted-tag Filter bit (0x20)
        // and the reserved bits make it another type we cannot read.
        const std::uint8_t type = h[0];
        if (type != static_cast<std::uint8_t>(TagType::Audio) && type != static_cast<std::uint8_t>(TagType::Video) &&
            type != static_cast<std::uint8_t>(TagType::Script)) {
          return fail(ReadError::BadTagType, pos);
        }
        const std::size_t size = get_u24be(h + 1);
        if (size > max_tag_size_) return fail(ReadError::TagTooLarge, pos);
        const std::uint32_t timestamp = get_u24be(h + 4) | static_cast<std::uint32_t>(h[7]) << 24;
        pending_.clear();

        if (in.size() - pos >= size) {
          // The whole body is here: copy it straight into the emitted tag.
          Tag& tag = out.emplace_back();
          tag.type = static_cast<TagType>(type);
          tag.timestamp = timestamp;
          tag.body.assign(in.begin() + static_cast<std::ptrdiff_t>(pos),
                          in.begin() + static_cast<std::ptrdiff_t>(pos + size));
          pos += size;
          skip_ = kPreviousTagSizeSize;
          state_ = State::Skip;
          break;
        }
        tag_.type = static_cast<TagType>(type);
        tag_.timestamp = timestamp;
        // Grown as the body arrives (doubling, never past its declared
        // size): a header claiming a large tag costs nothing until the
        // bytes come.
        tag_.body.clear();
        body_size_ = size;
        state_ = State::TagBody;
        break;
      }

      case State::TagBody: {
        const std::size_t n = std::min(body_size_ - tag_.body.size(), in.size() - pos);
        if (tag_.body.size() + n > tag_.body.capacity()) {
          tag_.body.reserve(std::min(body_size_, std::max(tag_.body.size() + n, 2 * tag_.body.capacity())));
        }
        tag_.body.insert(tag_.body.end(), in.begin() + static_cast<std::ptrdiff_t>(pos),
                         in.begin() + static_cast<std::ptrdiff_t>(pos + n));
        pos += n;
        if (tag_.body.size() < body_size_) return {pos, std::nullopt};
        out.push_back(std::move(tag_));
        tag_ = Tag{};
        skip_ = kPreviousTagSizeSize;
        state_ = State::Skip;
        break;
      }
    }
  }
}

}  // namespace rw::flv
