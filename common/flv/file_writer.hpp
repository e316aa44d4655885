// Writes a seekable FLV file: an onMetaData tag first that carries the
// duration, the file size and a keyframe index
// (`keyframes: {times: [s...], filepositions: [bytes...]}`, as flvtool2 and
// yamdi write it; Flash players and JW Player seek with it).
//
// The index comes before the tags it points at, so writing is two passes
// over the same tags, which lets a caller stream a file larger than memory
// (a DVR range exported as a clip):
//
//   FileWriter w({.base_timestamp = t0, .metadata = recorded_metadata});
//   for (codec headers, then each tag in [t0, t1]) w.plan(type, ts, body);   // pass 1
//   sink(*w.begin());                                           // header + onMetaData
//   for (the same tags) { out.clear(); w.write(type, ts, body, out); sink(out); }
//   w.finish();                                                 // every tag written?
//
// plan() needs only the body's size and whether it is a keyframe, so pass 1
// can also run from an index without reading the bodies. The writer keeps
// 12 bytes per planned tag to check pass 2 against pass 1.
//
// duration is the last audio or video timestamp in the file, in seconds
// (as yamdi and flvtool2 compute it); filesize counts every byte written.
//
// The metadata's size depends on how many keyframes there are, not on
// their values (AMF0 numbers are 9 bytes each), so every position is known
// exactly before the first byte is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/amf/value.hpp"
#include "common/base/bytes.hpp"
#include "common/base/expected.hpp"
#include "common/flv/tag.hpp"

namespace rw::flv {

enum class WriteError {
  NotStarted,      // write() before begin()
  AlreadyStarted,  // plan() or begin() after begin()
  NotPlanned,      // more tags written than planned
  PlanMismatch,    // a tag's type, timestamp or size differs from its plan
  TooLarge,        // a body, or the onMetaData tag, over kMaxTagBodySize (u24 DataSize)
  Incomplete,      // finish() before every planned tag was written
};
const char* to_string(WriteError e);

struct FileWriterOptions {
  // Subtracted from every timestamp so that the file starts at 0: the start
  // t0 of an exported range. Tags stamped before it (codec headers recorded
  // earlier and re-sent at the start of the range) are written at 0.
  std::uint32_t base_timestamp = 0;
  // The caller's onMetaData fields (width, height, videocodecid,
  // audiocodecid, framerate, encoder...), kept in order. duration, filesize
  // and keyframes are computed and replace any the caller passed.
  amf::Object metadata;
};

class FileWriter {
 public:
  explicit FileWriter(FileWriterOptions options);

  // Pass 1, in file order. Don't plan the recording's own onMetaData tag:
  // pass its fields in the options (see metadata_from_script_tag), or the
  // file would hold two.
  Expected<void, WriteError> plan(TagType type, std::uint32_t timestamp, std::size_t body_size, bool keyframe);
  // The same, with the keyframe flag taken from the body (a video tag whose
  // parse_video() says is_keyframe()).
  Expected<void, WriteError> plan(TagType type, std::uint32_t timestamp, ByteView body);

  // Ends pass 1: the FLV header, PreviousTagSize0 and the onMetaData tag.
  Expected<Bytes, WriteError> begin();

  // Pass 2: appends the tag to `out`, with its timestamp rebased. Tags must
  // come in the planned order with the planned types, timestamps and sizes:
  // the index would point at the wrong bytes otherwise.
  Expected<void, WriteError> write(TagType type, std::uint32_t timestamp, ByteView body, Bytes& out);
  // Ok once every planned tag has been written.
  Expected<void, WriteError> finish() const;

  // Known after begin(): the whole file's size, as written in `filesize`.
  std::uint64_t file_size() const { return file_size_; }
  // The rebased timestamp a tag stamped `timestamp` gets in the file.
  std::uint32_t rebase(std::uint32_t timestamp) const;

 private:
  struct PlannedTag {
    std::uint32_t timestamp;  // rebased
    std::uint32_t body_size;
    TagType type;
    bool keyframe;
  };

  amf::Value build_metadata(const std::vector<double>& positions) const;

  FileWriterOptions options_;
  std::vector<PlannedTag> planned_;
  bool begun_ = false;
  std::size_t written_ = 0;
  std::uint64_t file_size_ = 0;
};

// The metadata object of an onMetaData script tag body: "onMetaData" (or
// "@setDataFrame", "onMetaData" as an RTMP publisher sends it) followed by
// an ECMA array or an object. nullopt for other script tags and bad AMF.
std::optional<amf::Object> metadata_from_script_tag(ByteView body);

}  // namespace rw::flv
