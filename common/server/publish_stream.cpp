#include "common/server/publish_stream.hpp"

#include "common/amf/codec.hpp"
#include "common/media/stream_name.hpp"
#include "common/server/connection.hpp"
#include "common/server/dvr_access.hpp"
#include "common/server/ingest.hpp"
#include "common/server/worker.hpp"

namespace rw::server {

namespace asio = boost::asio;

namespace {

// Which recording a publish makes under the application's policy, if any.
std::optional<dvr::RecordMode> record_mode(const DvrPolicy& policy, const std::string& type) {
  if (policy.record == DvrPolicy::Record::Off) return std::nullopt;
  if (type == "record") return dvr::RecordMode::NewRecording;
  if (type == "append") return dvr::RecordMode::Append;
  // A live publish is recorded only when the application records all
  // streams; it continues the stream's recording, so a publisher that
  // reconnects keeps the viewers' DVR window.
  if (policy.record == DvrPolicy::Record::All) return dvr::RecordMode::Append;
  return std::nullopt;
}

}  // namespace

asio::awaitable<std::unique_ptr<PublishStream>> PublishStream::start(Connection& connection,
                                                                     const rtmp::PublishEvent& event) {
  auto& session = connection.session();
  media::StreamName name = media::split_stream_name(event.name);
  auto bad_name = [&](const std::string& why) {
    session.send_status(event.stream_id, "error", "NetStream.Publish.BadName", why,
                        amf::Object{{"details", name.name}});
    connection.flush_session();
    connection.emit(EventType::Error, name.name, "publish refused: " + why);
  };
  if (std::string why = media::validate_stream_name(name.name); !why.empty()) {
    bad_name(why);
    co_return nullptr;
  }
  // At a relay or an edge the application's streams come from upstream: a
  // client publishing there would take a pulled name from its viewers (as
  // FMS edges, they refuse).
  if (LivePuller* puller = connection.context().puller; puller && puller->pulls(connection.app())) {
    bad_name("this server pulls application " + connection.app() + " from upstream: publish to the origin");
    co_return nullptr;
  }
  std::string type = event.type == "appendWithGap" ? "append" : event.type;
  if (type != "live" && type != "record" && type != "append") type = "live";

  auto& registry = connection.context().streams;
  auto hub = registry.acquire(connection.app(), name.name);
  if (!hub->start_publish()) {
    registry.release(hub);
    bad_name(name.name + " is already being published");
    co_return nullptr;
  }
  auto stream = std::make_unique<PublishStream>(connection, event.stream_id, name.name, type, std::move(hub));
  // From now on the client may send media messages (up to
  // rtmp.max_message_size); until a publish is accepted only small ones.
  session.allow_publishing();
  session.send_user_control(rtmp::UserControlEvent::StreamBegin, event.stream_id);
  session.send_status(event.stream_id, "status", "NetStream.Publish.Start", name.name + " is now published.",
                      amf::Object{{"details", name.name}, {"clientid", static_cast<double>(connection.id())}});
  connection.flush_session();
  connection.emit(EventType::Publish, name.name, type);

  const AppSettings* app = connection.context().find_app(connection.app());
  if (auto mode = app ? record_mode(app->dvr, type) : std::nullopt; mode && connection.context().dvr) {
    co_await stream->start_recording(*mode);
  }
  co_return stream;
}

PublishStream::PublishStream(Connection& connection, std::uint32_t stream_id, std::string name, std::string type,
                             std::shared_ptr<media::StreamHub> hub)
    : NetStream(connection, stream_id, std::move(name)), type_(std::move(type)), hub_(std::move(hub)) {}

PublishStream::~PublishStream() {
  *alive_ = false;
  stop_recording();
  hub_->stop_publish();
  connection_.context().streams.release(hub_);
  connection_.emit(EventType::Unpublish, name_);
}

asio::awaitable<void> PublishStream::start_recording(dvr::RecordMode mode) {
  DvrAccess* dvr = connection_.context().dvr;
  const AppSettings* app = connection_.context().find_app(connection_.app());
  if (!dvr || !app || recorder_) co_return;
  auto alive = alive_;
  const std::string app_name = connection_.app();
  const std::string name = name_;
  const std::int64_t now = connection_.context().clock.wall_ms();
  // On the writer thread, after whatever an earlier publisher of this
  // stream still had queued (its last segment).
  auto begun = co_await dvr->begin_recording(app_name, name, mode, now);
  if (!*alive) co_return;
  auto& session = connection_.session();
  if (!begun) {
    const bool no_space = begun.error().code == dvr::StoreError::Code::NoSpace;
    session.send_status(stream_id_, "error", no_space ? "NetStream.Record.Failed" : "NetStream.Record.NoAccess",
                        "Recording is not possible: " + begun.error().message, amf::Object{{"details", name_}});
    connection_.flush_session();
    connection_.emit(EventType::Error, name_, "recording refused: " + begun.error().message);
    co_return;
  }
  const dvr::StreamInfo& info = *begun;
  if (mode == dvr::RecordMode::Append && info.next_sequence() > info.first_sequence()) {
    continue_after_ = info.last_timestamp_ms();
  }
  dvr::RecorderOptions options;
  options.app = app_name;
  options.name = name_;
  options.segmenter.target_ms = app->dvr.segment_ms;
  options.retention = dvr::Retention{app->dvr.window_ms, app->dvr.max_bytes};
  options.write_queue_max_bytes = app->dvr.write_queue_max_bytes;
  options.stats = &dvr->recording_stats();
  recorder_ = dvr::Recorder::create(dvr->store(), dvr->writer(), connection_.worker(), connection_.context().clock,
                                    std::move(options), info, this);
  // Recording can start after the publisher sent its metadata and codec
  // headers (FMLE's DVR button): the recording needs them in effect.
  const media::StreamHub::CodecState codec = hub_->codec_state();
  for (const media::FramePtr& f : {codec.metadata, codec.video_header, codec.audio_header}) {
    if (!f) continue;
    media::Frame copy = *f;
    recorder_->record(copy);
  }
  hub_->set_recorded(true, app->dvr.tail_max_bytes);
  session.send_status(stream_id_, "status", "NetStream.Record.Start", "Recording " + name_ + ".",
                      amf::Object{{"details", name_}});
  connection_.flush_session();
  connection_.emit(EventType::RecordStart, name_, mode == dvr::RecordMode::Append ? "append" : "record");
}

void PublishStream::stop_recording() {
  if (!recorder_) return;
  recorder_->finish();
  recorder_.reset();
  hub_->set_recorded(false, 0);
  connection_.emit(EventType::RecordStop, name_);
}

void PublishStream::on_recording_durable(std::uint64_t next_position) { hub_->mark_durable(next_position); }

void PublishStream::on_recording_failed(const std::string& why, bool no_space) {
  (void)no_space;
  // Live goes on; only the recording stopped.
  hub_->set_recorded(false, 0);
  connection_.session().send_status(stream_id_, "error", "NetStream.Record.Failed", "Recording stopped: " + why,
                                    amf::Object{{"details", name_}});
  connection_.flush_session();
  connection_.emit(EventType::Error, name_, "recording stopped: " + why);
}

void PublishStream::on_close() {
  stop_recording();
  connection_.session().send_status(stream_id_, "status", "NetStream.Unpublish.Success",
                                    name_ + " is now unpublished.", amf::Object{{"details", name_}});
  connection_.flush_session();
}

std::uint32_t PublishStream::timeline(std::uint32_t timestamp) {
  if (!timestamp_shift_) {
    // The first frame of an append lands just after the recording's end.
    timestamp_shift_ = continue_after_ ? *continue_after_ + 1 - timestamp : 0;
  }
  return timestamp + *timestamp_shift_;
}

void PublishStream::publish(media::MutableFramePtr frame) {
  if (recorder_) recorder_->record(*frame);
  hub_->publish(std::move(frame));
}

void PublishStream::on_media(rtmp::MediaEvent& event) {
  connection_.note_media();
  frames_of_message(event.message, connection_.session().amf_limits(), [this](media::MutableFramePtr frame) {
    frame->timestamp = timeline(frame->timestamp);
    publish(std::move(frame));
  });
}

void PublishStream::on_data(rtmp::DataEvent& event) {
  if (auto frame = frame_of_data(event.values, timeline(event.timestamp))) publish(std::move(frame));
}

}  // namespace rw::server
