#include "common/dvr/recorder.hpp"

namespace rw::dvr {

std::shared_ptr<Recorder> Recorder::create(SegmentStore& store, media::Executor& writer, media::Executor& owner,
                                           const Clock& clock, RecorderOptions options, const StreamInfo& begun,
                                           RecorderListener* listener) {
  return std::shared_ptr<Recorder>(
      new Recorder(store, writer, owner, clock, std::move(options), begun, listener));
}

Recorder::Recorder(SegmentStore& store, media::Executor& writer, media::Executor& owner, const Clock& clock,
                   RecorderOptions options, const StreamInfo& begun, RecorderListener* listener)
    : store_(store),
      writer_(writer),
      owner_(owner),
      clock_(clock),
      options_(std::move(options)),
      listener_(listener),
      segmenter_(options_.segmenter, SegmenterStart::after(begun)) {}

void Recorder::record(media::Frame& frame) {
  if (failed_ || finished_) return;
  auto completed = segmenter_.push(frame, clock_.wall_ms());
  frame.position = segmenter_.last_frame_position();
  if (completed) store_segment(std::move(*completed));
}

void Recorder::finish() {
  if (finished_) return;
  finished_ = true;
  listener_ = nullptr;
  if (failed_) return;
  if (auto last = segmenter_.flush()) store_segment(std::move(*last));
  writer_.post([self = shared_from_this()] {
    // Nobody listens any more: a failure here is only the store's to log.
    (void)self->store_.end_recording(self->options_.app, self->options_.name, self->clock_.wall_ms());
  });
}

void Recorder::store_segment(Segment&& segment) {
  const std::size_t size = segment.tags().size();
  if (queued_bytes_ + size > options_.write_queue_max_bytes) {
    if (options_.stats) options_.stats->write_errors.fetch_add(1, std::memory_order_relaxed);
    fail("the disk is too slow: " + std::to_string(queued_bytes_ >> 20) + " MB of segments are waiting", false);
    return;
  }
  queued_bytes_ += size;
  if (options_.stats) options_.stats->queued_bytes.fetch_add(static_cast<std::int64_t>(size), std::memory_order_relaxed);
  const std::uint64_t next_position = segment.first_position() + segment.frame_count();
  auto shared = std::make_shared<const Segment>(std::move(segment));
  writer_.post([self = shared_from_this(), shared, size, next_position] {
    auto written = self->store_.append_segment(self->options_.app, self->options_.name, *shared,
                                               self->options_.retention);
    std::optional<StoreError> error;
    if (!written) error = written.error();
    if (RecordingStats* stats = self->options_.stats) {
      stats->queued_bytes.fetch_sub(static_cast<std::int64_t>(size), std::memory_order_relaxed);
      if (written) {
        stats->segments_written.fetch_add(1, std::memory_order_relaxed);
        stats->bytes_written.fetch_add(size, std::memory_order_relaxed);
      } else {
        stats->write_errors.fetch_add(1, std::memory_order_relaxed);
      }
    }
    self->owner_.post([self, size, next_position, error = std::move(error)] {
      self->queued_bytes_ -= size;
      if (error) {
        self->fail("the store refused a segment: " + error->message, error->code == StoreError::Code::NoSpace);
      } else if (self->listener_ && !self->failed_) {
        self->listener_->on_recording_durable(next_position);
      }
    });
  });
}

void Recorder::fail(const std::string& why, bool no_space) {
  if (failed_) return;
  failed_ = true;
  if (listener_) listener_->on_recording_failed(why, no_space);
  // The store keeps what it has; the recording is no longer growing.
  writer_.post([self = shared_from_this()] {
    (void)self->store_.end_recording(self->options_.app, self->options_.name, self->clock_.wall_ms());
  });
}

}  // namespace rw::dvr
