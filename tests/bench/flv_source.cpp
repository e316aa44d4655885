#include "tests/bench/flv_source.hpp"

#include <algorithm>

#include "common/flv/file_reader.hpp"
#include "common/flv/tag.hpp"

namespace rw::bench {

namespace {

bool is_config(const flv::Tag& tag) {
  switch (tag.type) {
    case flv::TagType::Script:
      return true;
    case flv::TagType::Video: {
      auto info = flv::parse_video(tag.body);
      return info && info->sequence_header;
    }
    case flv::TagType::Audio: {
      auto info = flv::parse_audio(tag.body);
      return info && info->sequence_header;
    }
  }
  return false;
}

// AMF0 string "@setDataFrame": publishers wrap onMetaData in it, and
// servers keep the inner [onMetaData, {...}] for players.
constexpr std::uint8_t kSetDataFrame[] = {0x02, 0x00, 0x0d, '@', 's', 'e', 't', 'D', 'a',
                                          't',  'a',  'F',  'r', 'a', 'm', 'e'};

}  // namespace

Expected<FlvSource, std::string> load_flv(ByteView file) {
  flv::FileReader reader;
  std::vector<flv::Tag> tags;
  auto r = reader.feed(file, tags);
  if (r.error) return unexpected(std::string("not a usable FLV file: ") + flv::to_string(*r.error));
  if (!reader.header_seen()) return unexpected(std::string("not an FLV file: too short"));

  FlvSource source;
  bool have_media = false;
  std::uint32_t first = 0;
  bool first_seen = false;
  std::uint32_t first_video = 0;
  std::uint32_t last_video = 0;
  std::size_t video_frames = 0;
  std::uint32_t last = 0;
  for (auto& tag : tags) {
    if (!first_seen) {
      first = tag.timestamp;
      first_seen = true;
    }
    SourceTag t;
    t.type = static_cast<std::uint8_t>(tag.type);
    t.timestamp = tag.timestamp - first;
    t.config = is_config(tag);
    if (tag.type == flv::TagType::Script) {
      t.body.assign(std::begin(kSetDataFrame), std::end(kSetDataFrame));
      t.body.insert(t.body.end(), tag.body.begin(), tag.body.end());
    } else {
      t.body = std::move(tag.body);
    }
    if (!t.config) {
      have_media = true;
      last = std::max(last, t.timestamp);
      if (tag.type == flv::TagType::Video) {
        if (video_frames++ == 0) first_video = t.timestamp;
        last_video = t.timestamp;
      }
    }
    source.tags.push_back(std::move(t));
  }
  if (!have_media) return unexpected(std::string("the FLV file has no audio or video frames"));
  const std::uint32_t frame = video_frames > 1 ? (last_video - first_video) / static_cast<std::uint32_t>(video_frames - 1)
                                               : 40;
  source.loop_period_ms = last + std::max<std::uint32_t>(frame, 1);
  return source;
}

std::uint32_t FlvLoop::timestamp() const {
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(tag().timestamp) +
                                    loops_ * source_->loop_period_ms);
}

std::int64_t FlvLoop::due_ms() const {
  return static_cast<std::int64_t>(tag().timestamp) +
         static_cast<std::int64_t>(loops_) * static_cast<std::int64_t>(source_->loop_period_ms);
}

void FlvLoop::advance() {
  // load_flv guarantees a non-config tag, so this ends.
  do {
    if (++index_ == source_->tags.size()) {
      index_ = 0;
      ++loops_;
    }
  } while (loops_ > 0 && source_->tags[index_].config);
}

}  // namespace rw::bench
