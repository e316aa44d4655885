#include "common/flv/file_writer.hpp"

#include <algorithm>
#include <cassert>
#include <string>
#include <utility>

#include "common/amf/codec.hpp"

namespace rw::flv {
namespace {

constexpr std::uint64_t kTagOverhead = kTagHeaderSize + kPreviousTagSizeSize;

double seconds(std::uint32_t ms) { return static_cast<double>(ms) / 1000.0; }

// Replaces the property named key in an ECMA array's associative part, or
// appends it.
void set_property(amf::Array& array, std::string key, amf::Value value) {
  for (auto& p : array.assoc) {
    if (p.key == key) {
      p.value = std::move(value);
      return;
    }
  }
  array.assoc.push_back({std::move(key), std::move(value)});
}

}  // namespace

const char* to_string(WriteError e) {
  switch (e) {
    case WriteError::NotStarted: return "NotStarted";
    case WriteError::AlreadyStarted: return "AlreadyStarted";
    case WriteError::NotPlanned: return "NotPlanned";
    case WriteError::PlanMismatch: return "PlanMismatch";
    case WriteError::TooLarge: return "TooLarge";
    case WriteError::Incomplete: return "Incomplete";
  }
  return "?";
}

FileWriter::FileWriter(FileWriterOptions options) : options_(std::move(options)) {}

std::uint32_t FileWriter::rebase(std::uint32_t timestamp) const {
  return timestamp >= options_.base_timestamp ? timestamp - options_.base_timestamp : 0;
}

Expected<void, WriteError> FileWriter::plan(TagType type, std::uint32_t timestamp, std::size_t body_size,
                                            bool keyframe) {
  if (begun_) return unexpected(WriteError::AlreadyStarted);
  if (body_size > kMaxTagBodySize) return unexpected(WriteError::TooLarge);
  planned_.push_back({rebase(timestamp), static_cast<std::uint32_t>(body_size), type, keyframe});
  return {};
}

Expected<void, WriteError> FileWriter::plan(TagType type, std::uint32_t timestamp, ByteView body) {
  bool keyframe = false;
  if (type == TagType::Video) {
    auto info = parse_video(body);
    keyframe = info && info->is_keyframe();
  }
  return plan(type, timestamp, body.size(), keyframe);
}

amf::Value FileWriter::build_metadata(const std::vector<double>& positions) const {
  amf::Array fields;
  fields.ecma = true;  // onMetaData is an ECMA array in files ffmpeg, flvtool2 and yamdi write
  fields.assoc = options_.metadata.properties;

  std::uint32_t last_timestamp = 0;
  amf::Array times;
  for (const auto& tag : planned_) {
    if (tag.type != TagType::Script) last_timestamp = std::max(last_timestamp, tag.timestamp);
    if (tag.keyframe) times.dense.emplace_back(seconds(tag.timestamp));
  }
  amf::Array filepositions;
  filepositions.dense.reserve(positions.size());
  for (double p : positions) filepositions.dense.emplace_back(p);

  set_property(fields, "duration", seconds(last_timestamp));
  set_property(fields, "filesize", static_cast<double>(file_size_));
  amf::Object keyframes;
  keyframes.set("times", std::move(times));
  keyframes.set("filepositions", std::move(filepositions));
  set_property(fields, "keyframes", std::move(keyframes));
  return fields;
}

Expected<Bytes, WriteError> FileWriter::begin() {
  if (begun_) return unexpected(WriteError::AlreadyStarted);

  bool has_audio = false;
  bool has_video = false;
  std::size_t keyframe_count = 0;
  for (const auto& tag : planned_) {
    has_audio = has_audio || tag.type == TagType::Audio;
    has_video = has_video || tag.type == TagType::Video;
    if (tag.keyframe) ++keyframe_count;
  }

  // First pass over the metadata with placeholder numbers: its size is all
  // the positions depend on.
  std::vector<double> positions(keyframe_count, 0.0);
  Bytes metadata_body;
  amf::encode_amf0("onMetaData", metadata_body);
  amf::encode_amf0(build_metadata(positions), metadata_body);
  const std::size_t metadata_size = metadata_body.size();
  if (metadata_size > kMaxTagBodySize) return unexpected(WriteError::TooLarge);

  std::uint64_t offset = kFileHeaderSize + kPreviousTagSizeSize + kTagOverhead + metadata_size;
  positions.clear();
  for (const auto& tag : planned_) {
    if (tag.keyframe) positions.push_back(static_cast<double>(offset));
    offset += kTagOverhead + tag.body_size;
  }
  file_size_ = offset;

  metadata_body.clear();
  amf::encode_amf0("onMetaData", metadata_body);
  amf::encode_amf0(build_metadata(positions), metadata_body);
  // Numbers are fixed-size in AMF0, so the real values cannot move a byte.
  assert(metadata_body.size() == metadata_size);

  Bytes out = encode_file_header(has_audio, has_video);
  out.reserve(out.size() + kTagOverhead + metadata_size);
  encode_tag(TagType::Script, 0, metadata_body, out);
  begun_ = true;
  return out;
}

Expected<void, WriteError> FileWriter::write(TagType type, std::uint32_t timestamp, ByteView body, Bytes& out) {
  if (!begun_) return unexpected(WriteError::NotStarted);
  if (written_ == planned_.size()) return unexpected(WriteError::NotPlanned);
  const PlannedTag& planned = planned_[written_];
  const std::uint32_t rebased = rebase(timestamp);
  if (type != planned.type || rebased != planned.timestamp || body.size() != planned.body_size) {
    return unexpected(WriteError::PlanMismatch);
  }
  encode_tag(type, rebased, body, out);
  ++written_;
  return {};
}

Expected<void, WriteError> FileWriter::finish() const {
  if (!begun_ || written_ != planned_.size()) return unexpected(WriteError::Incomplete);
  return {};
}

std::optional<amf::Object> metadata_from_script_tag(ByteView body) {
  amf::Amf0Reader reader(body);
  auto name = reader.read();
  if (!name) return std::nullopt;
  // An RTMP publisher wraps it: "@setDataFrame", "onMetaData", {...}.
  if (name->as_string() == "@setDataFrame") {
    name = reader.read();
    if (!name) return std::nullopt;
  }
  if (name->as_string() != "onMetaData") return std::nullopt;
  auto value = reader.read();
  if (!value) return std::nullopt;
  if (amf::Object* object = value->as_object()) return std::move(*object);
  if (const amf::Array* array = value->as_array()) {
    amf::Object object;
    object.properties = array->assoc;
    return object;
  }
  return std::nullopt;
}

}  // namespace rw::flv
