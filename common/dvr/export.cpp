#include "common/dvr/export.hpp"

#include <utility>

#include "common/dvr/segment_tags.hpp"
#include "common/dvr/segmenter.hpp"
#include "common/flv/file_writer.hpp"

namespace rw::dvr {
namespace {

constexpr std::size_t kSinkChunk = 1u << 20;
constexpr std::size_t kInfoBatch = 64;

ExportError failure(ExportError::Code code, std::string message) { return {code, std::move(message)}; }
ExportError store_failure(const StoreError& e) { return {ExportError::Code::Store, e.describe()}; }

// Where the file starts: the tag of segment `sequence` stamped `timestamp`,
// a keyframe (in audio-only recordings, an audio frame).
struct StartPoint {
  std::uint64_t sequence = 0;
  std::uint32_t timestamp = 0;
  bool audio_only = false;
};

std::optional<std::uint32_t> last_keyframe_at_or_before(const SegmentInfo& entry, std::uint32_t ms) {
  std::optional<std::uint32_t> found;
  for (std::uint32_t k : entry.keyframe_ms()) {
    if (timestamp_diff(k, ms) <= 0) found = k;
  }
  return found;
}

Expected<StartPoint, ExportError> find_start(const SegmentStore& store, std::string_view app, std::string_view name,
                                             const StreamInfo& stream, std::uint32_t from_ms) {
  auto found = store.find_segment(app, name, from_ms);
  if (!found) return unexpected(store_failure(found.error()));
  if (!*found) return unexpected(failure(ExportError::Code::NotFound, "nothing recorded"));
  const SegmentInfo located = std::move(**found);

  // Back from the segment holding from_ms to the nearest keyframe at or
  // before it (nearly always in that same segment: segments start at one).
  SegmentInfo entry = located;
  for (;;) {
    if (auto k = last_keyframe_at_or_before(entry, from_ms)) return StartPoint{entry.sequence(), *k, false};
    if (entry.sequence() <= stream.first_sequence()) break;
    auto previous = store.segment_infos(app, name, entry.sequence() - 1, 1);
    if (!previous) return unexpected(store_failure(previous.error()));
    if (previous->empty() || previous->front().sequence() != entry.sequence() - 1) break;
    entry = std::move(previous->front());
  }

  // from_ms is before the first keyframe of the window: start at it.
  for (std::uint64_t sequence = located.sequence();;) {
    auto batch = store.segment_infos(app, name, sequence, kInfoBatch);
    if (!batch) return unexpected(store_failure(batch.error()));
    if (batch->empty()) break;
    for (const auto& e : *batch) {
      if (e.keyframe_ms_size() > 0) return StartPoint{e.sequence(), e.keyframe_ms(0), false};
    }
    sequence = batch->back().sequence() + 1;
  }

  // No keyframe anywhere: an audio-only recording. Start at its first
  // audio frame at or after from_ms.
  for (std::uint64_t sequence = located.sequence();; ++sequence) {
    auto segment = store.read_segment(app, name, sequence);
    if (!segment) return unexpected(store_failure(segment.error()));
    if (!*segment) break;
    TagWalker walk((*segment)->tags());
    while (auto tag = walk.next()) {
      if (tag->type == flv::TagType::Audio && !tag->is_sequence_header() &&
          timestamp_diff(tag->timestamp, from_ms) >= 0) {
        return StartPoint{sequence, tag->timestamp, true};
      }
    }
  }
  return unexpected(failure(ExportError::Code::Empty, "no frame in the range"));
}

// What the two passes do with the range.
class RangeVisitor {
 public:
  virtual ~RangeVisitor() = default;
  // Once, before the first tag: the headers in effect at the start.
  virtual Expected<void, ExportError> start(std::string_view metadata, std::string_view video_header,
                                            std::string_view audio_header) = 0;
  virtual Expected<void, ExportError> tag(const TagView& tag) = 0;
};

// Walks the range's tags in order, calling the visitor for each tag that
// goes into the file.
Expected<void, ExportError> walk_range(const SegmentStore& store, std::string_view app, std::string_view name,
                                       std::uint64_t recording_id, const StartPoint& start,
                                       std::optional<std::uint32_t> to_ms, RangeVisitor& visitor) {
  const auto changed = [&](std::uint64_t sequence) {
    return failure(ExportError::Code::Changed, "segment " + std::to_string(sequence) + " of recording " +
                                                   std::to_string(recording_id) + " is no longer stored");
  };
  bool started = false;
  std::string metadata;
  std::string video_header;
  std::string audio_header;
  std::uint64_t sequence = start.sequence;
  for (;;) {
    auto batch = store.segment_infos(app, name, sequence, kInfoBatch);
    if (!batch) return unexpected(store_failure(batch.error()));
    if (batch->empty()) break;
    if (batch->front().sequence() != sequence) return unexpected(changed(sequence));
    for (const auto& entry : *batch) {
      sequence = entry.sequence() + 1;
      if (started && to_ms && timestamp_diff(entry.start_ms(), *to_ms) > 0) return {};
      auto segment = store.read_segment(app, name, entry.sequence());
      if (!segment) return unexpected(store_failure(segment.error()));
      if (!*segment || (*segment)->recording_id() != recording_id) return unexpected(changed(entry.sequence()));
      const Segment& s = **segment;
      if (!started) {
        metadata = s.metadata();
        video_header = s.video_header();
        audio_header = s.audio_header();
      }
      TagWalker walk(s.tags());
      while (auto tag = walk.next()) {
        const bool media = tag->type != flv::TagType::Script;
        if (!started) {
          const bool is_start = tag->timestamp == start.timestamp &&
                                (start.audio_only ? tag->type == flv::TagType::Audio && !tag->is_sequence_header()
                                                  : tag->is_keyframe());
          if (!is_start) {
            // Before the start: only the headers it changes matter.
            if (tag->is_metadata()) {
              metadata.assign(as_chars(tag->body));
            } else if (tag->is_sequence_header()) {
              (tag->type == flv::TagType::Video ? video_header : audio_header).assign(as_chars(tag->body));
            }
            continue;
          }
          started = true;
          if (auto ok = visitor.start(metadata, video_header, audio_header); !ok) return ok;
        }
        // The file's onMetaData is written first, from the recording's;
        // a second one would confuse players.
        if (tag->is_metadata()) continue;
        // Audio interleaved just before the start keyframe, or past the end.
        if (media && timestamp_diff(tag->timestamp, start.timestamp) < 0) continue;
        if (to_ms && timestamp_diff(tag->timestamp, *to_ms) > 0) continue;
        if (auto ok = visitor.tag(*tag); !ok) return ok;
      }
      if (walk.failed()) {
        return unexpected(failure(ExportError::Code::Format, "segment " + std::to_string(entry.sequence()) +
                                                                 " holds a malformed tag"));
      }
    }
  }
  if (!started) return unexpected(failure(ExportError::Code::Changed, "the start keyframe is no longer stored"));
  return {};
}

ExportError format_failure(flv::WriteError e) {
  return failure(ExportError::Code::Format, std::string("FLV writer: ") + flv::to_string(e));
}

// Pass 1: plans every tag.
class Planner final : public RangeVisitor {
 public:
  explicit Planner(std::uint32_t base) : base_(base) {}

  Expected<void, ExportError> start(std::string_view metadata, std::string_view video_header,
                                    std::string_view audio_header) override {
    flv::FileWriterOptions options;
    options.base_timestamp = base_;
    if (auto fields = flv::metadata_from_script_tag(as_bytes(metadata))) options.metadata = std::move(*fields);
    writer_.emplace(std::move(options));
    for (auto [type, body] : {std::pair{flv::TagType::Video, video_header}, std::pair{flv::TagType::Audio, audio_header}}) {
      if (body.empty()) continue;
      if (auto ok = writer_->plan(type, base_, as_bytes(body)); !ok) return unexpected(format_failure(ok.error()));
      ++summary_.tags;
    }
    return {};
  }

  Expected<void, ExportError> tag(const TagView& tag) override {
    if (auto ok = writer_->plan(tag.type, tag.timestamp, tag.body); !ok) return unexpected(format_failure(ok.error()));
    ++summary_.tags;
    if (tag.type != flv::TagType::Script) {
      if (!seen_media_ || timestamp_diff(tag.timestamp, summary_.last_ms) > 0) summary_.last_ms = tag.timestamp;
      seen_media_ = true;
    }
    if (tag.is_keyframe()) ++summary_.keyframes;
    return {};
  }

  std::optional<flv::FileWriter>& writer() { return writer_; }
  ExportSummary& summary() { return summary_; }
  bool seen_media() const { return seen_media_; }

 private:
  std::uint32_t base_;
  std::optional<flv::FileWriter> writer_;
  ExportSummary summary_;
  bool seen_media_ = false;
};

// Pass 2: writes them, in chunks to the sink.
class Writer final : public RangeVisitor {
 public:
  Writer(flv::FileWriter& writer, std::uint32_t base, const ExportSink& sink)
      : writer_(writer), base_(base), sink_(sink) {}

  Expected<void, ExportError> start(std::string_view, std::string_view video_header,
                                    std::string_view audio_header) override {
    for (auto [type, body] : {std::pair{flv::TagType::Video, video_header}, std::pair{flv::TagType::Audio, audio_header}}) {
      if (body.empty()) continue;
      if (auto ok = write(type, base_, as_bytes(body)); !ok) return ok;
    }
    return {};
  }

  Expected<void, ExportError> tag(const TagView& tag) override { return write(tag.type, tag.timestamp, tag.body); }

  Expected<void, ExportError> drain() {
    if (!buffer_.empty() && !sink_(buffer_)) return unexpected(failure(ExportError::Code::Write, "output refused"));
    buffer_.clear();
    return {};
  }

 private:
  Expected<void, ExportError> write(flv::TagType type, std::uint32_t timestamp, ByteView body) {
    if (auto ok = writer_.write(type, timestamp, body, buffer_); !ok) {
      // A mismatch with pass 1: the stored range changed in between.
      if (ok.error() == flv::WriteError::PlanMismatch || ok.error() == flv::WriteError::NotPlanned) {
        return unexpected(failure(ExportError::Code::Changed, "the range changed during the export"));
      }
      return unexpected(format_failure(ok.error()));
    }
    if (buffer_.size() >= kSinkChunk) return drain();
    return {};
  }

  flv::FileWriter& writer_;
  std::uint32_t base_;
  const ExportSink& sink_;
  Bytes buffer_;
};

}  // namespace

const char* to_string(ExportError::Code code) {
  switch (code) {
    case ExportError::Code::NotFound: return "NotFound";
    case ExportError::Code::Empty: return "Empty";
    case ExportError::Code::Store: return "Store";
    case ExportError::Code::Changed: return "Changed";
    case ExportError::Code::Format: return "Format";
    case ExportError::Code::Write: return "Write";
  }
  return "?";
}

Expected<ExportSummary, ExportError> export_flv(const SegmentStore& store, std::string_view app, std::string_view name,
                                                const ExportRange& range, const ExportSink& sink) {
  auto info = store.stream_info(app, name);
  if (!info) return unexpected(store_failure(info.error()));
  if (!*info) return unexpected(failure(ExportError::Code::NotFound, "no stream " + std::string(app) + "/" + std::string(name)));
  const StreamInfo& stream = **info;
  if (stream.first_sequence() == stream.next_sequence()) {
    return unexpected(failure(ExportError::Code::NotFound, "nothing recorded"));
  }
  auto complete = store.stream_complete(app, name);
  if (!complete) return unexpected(store_failure(complete.error()));
  if (!*complete) {
    return unexpected(failure(ExportError::Code::Changed,
                              "the store's view misses part of the index (a secondary opened while the origin "
                              "switched WAL files): catch up and try again"));
  }
  if (range.to_ms && timestamp_diff(*range.to_ms, range.from_ms) < 0) {
    return unexpected(failure(ExportError::Code::Empty, "the range ends before it starts"));
  }

  auto start = find_start(store, app, name, stream, range.from_ms);
  if (!start) return unexpected(start.error());
  if (range.to_ms && timestamp_diff(start->timestamp, *range.to_ms) > 0) {
    return unexpected(failure(ExportError::Code::Empty, "no frame in the range"));
  }

  Planner planner(start->timestamp);
  if (auto ok = walk_range(store, app, name, stream.recording_id(), *start, range.to_ms, planner); !ok) {
    return unexpected(ok.error());
  }
  if (!planner.seen_media()) return unexpected(failure(ExportError::Code::Empty, "no frame in the range"));
  flv::FileWriter& file = *planner.writer();

  auto head = file.begin();
  if (!head) return unexpected(format_failure(head.error()));
  if (!sink(*head)) return unexpected(failure(ExportError::Code::Write, "output refused"));

  Writer writer(file, start->timestamp, sink);
  if (auto ok = walk_range(store, app, name, stream.recording_id(), *start, range.to_ms, writer); !ok) {
    return unexpected(ok.error());
  }
  if (auto ok = writer.drain(); !ok) return unexpected(ok.error());
  if (auto ok = file.finish(); !ok) {
    return unexpected(failure(ExportError::Code::Changed, "the range changed during the export"));
  }

  ExportSummary summary = planner.summary();
  summary.first_ms = start->timestamp;
  summary.file_bytes = file.file_size();
  return summary;
}

}  // namespace rw::dvr
