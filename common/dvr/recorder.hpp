// Records one publisher's stream into the segment store without ever
// blocking it.
//
// The recorder runs on the publisher's thread: it numbers each frame (its
// recording position, before the frame is shared with players) and feeds
// the Segmenter. Completed segments go to the store on the store's writer
// thread, in order; the results come back to the publisher's thread. A slow
// disk only makes segments wait in that queue; past write_queue_max_bytes,
// or on a store error (a full disk), recording stops and the listener is
// told why, while the live stream goes on.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/base/clock.hpp"
#include "common/dvr/segment_store.hpp"
#include "common/dvr/segmenter.hpp"
#include "common/media/frame.hpp"
#include "common/media/stream_hub.hpp"

namespace rw::dvr {

// What every recorder of a store did, for the metrics (docs/operations.md):
// written by recorders on their threads and the writer thread, read by
// anyone.
struct RecordingStats {
  std::atomic<std::uint64_t> segments_written{0};
  std::atomic<std::uint64_t> bytes_written{0};   // segment bytes (media and tags)
  std::atomic<std::uint64_t> write_errors{0};    // segments the store refused or recording gave up on
  std::atomic<std::int64_t> queued_bytes{0};     // segments waiting for the writer thread
};

struct RecorderOptions {
  std::string app;
  std::string name;
  SegmenterOptions segmenter;
  Retention retention;
  std::size_t write_queue_max_bytes = 256u << 20;
  RecordingStats* stats = nullptr;  // the store's, or none
};

// Told, on the publisher's thread, what became of the recording.
class RecorderListener {
 public:
  virtual ~RecorderListener() = default;
  // Frames numbered before `next_position` are now in the store.
  virtual void on_recording_durable(std::uint64_t next_position) = 0;
  // Recording stopped for good. no_space: the store's disk is full.
  virtual void on_recording_failed(const std::string& why, bool no_space) = 0;
};

class Recorder : public std::enable_shared_from_this<Recorder> {
 public:
  // `begun` is what SegmentStore::begin_recording returned for this
  // publish. `writer` runs store writes (one thread, in order); `owner` is
  // the publisher's thread.
  static std::shared_ptr<Recorder> create(SegmentStore& store, media::Executor& writer, media::Executor& owner,
                                          const Clock& clock, RecorderOptions options, const StreamInfo& begun,
                                          RecorderListener* listener);

  // Numbers the frame and records it. Call on the owner thread, before the
  // frame is shared; frames the recording leaves out keep position 0.
  void record(media::Frame& frame);
  // The publisher stopped: stores the open segment and marks the recording
  // offline. Nothing is reported to the listener after this.
  void finish();

  bool failed() const { return failed_; }
  std::size_t queued_bytes() const { return queued_bytes_; }

 private:
  Recorder(SegmentStore& store, media::Executor& writer, media::Executor& owner, const Clock& clock,
           RecorderOptions options, const StreamInfo& begun, RecorderListener* listener);
  void store_segment(Segment&& segment);
  void fail(const std::string& why, bool no_space);

  SegmentStore& store_;
  media::Executor& writer_;
  media::Executor& owner_;
  const Clock& clock_;
  const RecorderOptions options_;
  RecorderListener* listener_;
  Segmenter segmenter_;
  std::size_t queued_bytes_ = 0;
  bool failed_ = false;
  bool finished_ = false;
};

}  // namespace rw::dvr
