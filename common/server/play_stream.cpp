#include "common/server/play_stream.hpp"

#include "common/media/stream_name.hpp"
#include "common/server/connection.hpp"
#include "common/server/worker.hpp"

namespace rw::server {

std::unique_ptr<PlayStream> PlayStream::start(Connection& connection, std::uint32_t stream_id,
                                              const std::string& raw_name, double start, double length,
                                              bool reset) {
  (void)length;
  auto& session = connection.session();
  media::StreamName name = media::split_stream_name(raw_name);
  auto not_found = [&](const std::string& why) {
    session.send_status(stream_id, "error", "NetStream.Play.StreamNotFound", why,
                        amf::Object{{"details", name.name}});
    connection.flush_session();
    connection.emit(EventType::Error, name.name, "play refused: " + why);
    return nullptr;
  };
  if (std::string why = media::validate_stream_name(name.name); !why.empty()) return not_found(why);
  if (start >= 0) return not_found("no recording of " + name.name + " (recorded playback is not enabled)");

  auto hub = connection.context().streams.acquire(connection.app(), name.name);
  auto stream = std::make_unique<PlayStream>(connection, stream_id, name.name, std::move(hub));

  // What Flash, librtmp and ffmpeg accept for a live play: StreamBegin,
  // Play.Reset, Play.Start, |RtmpSampleAccess, then metadata, sequence
  // headers and frames from a keyframe.
  session.send_user_control(rtmp::UserControlEvent::StreamBegin, stream_id);
  if (reset) stream->send_status("status", "NetStream.Play.Reset", "Playing and resetting " + name.name + ".");
  stream->send_status("status", "NetStream.Play.Start", "Started playing " + name.name + ".");
  // Two booleans: audio and video sample access. Players disagree on their
  // order, so both get the same value.
  session.send_data(stream_id, 0, {amf::Value("|RtmpSampleAccess"), amf::Value(true), amf::Value(true)});
  connection.flush_session();
  connection.emit(EventType::Play, name.name, "start=" + std::to_string(static_cast<long long>(start)));
  stream->subscribe();
  return stream;
}

PlayStream::PlayStream(Connection& connection, std::uint32_t stream_id, std::string name,
                       std::shared_ptr<media::StreamHub> hub)
    : NetStream(connection, stream_id, std::move(name)), hub_(std::move(hub)) {}

PlayStream::~PlayStream() {
  unsubscribe();
  connection_.context().streams.release(hub_);
  connection_.emit(EventType::Stop, name_);
}

void PlayStream::send_status(std::string_view level, std::string_view code, std::string_view description) {
  connection_.session().send_status(
      stream_id_, level, code, description,
      amf::Object{{"details", name_}, {"clientid", static_cast<double>(connection_.id())}});
}

void PlayStream::subscribe() {
  if (subscribed_) return;
  media::StartState state = hub_->subscribe(*this, connection_.worker());
  subscribed_ = true;
  if (state.publishing) send_start(state);
}

void PlayStream::unsubscribe() {
  if (!subscribed_) return;
  hub_->unsubscribe(*this, connection_.worker());
  subscribed_ = false;
}

void PlayStream::send_start(const media::StartState& state) {
  has_video_ = state.video_header != nullptr;
  waiting_for_keyframe_ = true;
  // Sequence headers go out stamped with the time of the first frame that
  // follows them, so a player's clock starts where the media does.
  // onMetaData goes at 0: ffmpeg's FLV demuxer (ffplay, ffprobe, VLC) reads
  // a script tag with any other timestamp as a subtitle stream.
  std::uint32_t start_time = 0;
  if (!state.gop.empty()) start_time = state.gop.front()->timestamp;
  else if (state.video_header) start_time = state.video_header->timestamp;
  else if (state.audio_header) start_time = state.audio_header->timestamp;
  if (state.metadata) send_own(*state.metadata, 0);
  if (state.video_header && receive_video_) send_own(*state.video_header, start_time);
  if (state.audio_header && receive_audio_) send_own(*state.audio_header, start_time);
  for (const auto& frame : state.gop) {
    media::ChunkedFrameCache chunks(frame);
    on_frame(chunks);
  }
}

void PlayStream::send_own(const media::Frame& frame, std::uint32_t timestamp) {
  media::Frame restamped = frame;
  restamped.timestamp = timestamp;
  queue(media::chunk_frame(restamped, stream_id_, connection_.session().out_chunk_size()), frame, timestamp);
}

void PlayStream::queue(const SharedBuffer& bytes, const media::Frame& frame, std::uint32_t timestamp) {
  MediaTag tag;
  tag.stream_id = stream_id_;
  tag.timestamp = timestamp;
  tag.essential = frame.sequence_header || frame.kind == media::FrameKind::Metadata;
  tag.resume_point = frame.keyframe || (frame.kind == media::FrameKind::Audio && !has_video_);
  if (connection_.send_media(bytes, tag) == OutQueue::Push::TooSlow) {
    connection_.close("player too slow: fell more than " +
                      std::to_string(connection_.context().options.out_queue.max_lag_ms) +
                      " ms behind live again after skipping to keyframes");
  }
}

void PlayStream::on_frame(media::ChunkedFrameCache& chunks) {
  const media::Frame& frame = *chunks.frame();
  if (paused_ || connection_.closing()) return;
  switch (frame.kind) {
    case media::FrameKind::Audio:
      if (!receive_audio_) return;
      break;
    case media::FrameKind::Video:
      has_video_ = true;
      if (!receive_video_) return;
      // A decoder needs a keyframe after its sequence header; until one
      // comes, inter frames would only show garbage.
      if (waiting_for_keyframe_ && !frame.sequence_header) {
        if (!frame.keyframe) return;
        waiting_for_keyframe_ = false;
      }
      break;
    case media::FrameKind::Metadata:
    case media::FrameKind::Data:
      break;
  }
  queue(chunks.get(stream_id_, connection_.session().out_chunk_size()), frame, frame.timestamp);
}

void PlayStream::on_publish_start() {
  send_status("status", "NetStream.Play.PublishNotify", name_ + " is now published.");
  connection_.session().send_user_control(rtmp::UserControlEvent::StreamBegin, stream_id_);
  connection_.flush_session();
  has_video_ = false;
  waiting_for_keyframe_ = true;
}

void PlayStream::on_unpublish() {
  send_status("status", "NetStream.Play.UnpublishNotify", name_ + " is now unpublished.");
  connection_.session().send_user_control(rtmp::UserControlEvent::StreamEof, stream_id_);
  connection_.flush_session();
}

void PlayStream::on_pause(const rtmp::PauseEvent& event) {
  if (event.pause == paused_) return;
  paused_ = event.pause;
  if (paused_) {
    // Nothing to keep while paused on a live stream: resuming starts again
    // at the live edge.
    unsubscribe();
    send_status("status", "NetStream.Pause.Notify", "Pausing " + name_ + ".");
    connection_.session().send_user_control(rtmp::UserControlEvent::StreamEof, stream_id_);
    connection_.flush_session();
    connection_.emit(EventType::Pause, name_);
  } else {
    send_status("status", "NetStream.Unpause.Notify", "Unpausing " + name_ + ".");
    connection_.session().send_user_control(rtmp::UserControlEvent::StreamBegin, stream_id_);
    connection_.flush_session();
    connection_.emit(EventType::Unpause, name_);
    subscribe();
  }
}

void PlayStream::on_receive_media(const rtmp::ReceiveMediaEvent& event) {
  if (event.audio) {
    receive_audio_ = event.enabled;
  } else {
    if (event.enabled && !receive_video_) waiting_for_keyframe_ = true;
    receive_video_ = event.enabled;
  }
}

void PlayStream::on_close() {
  unsubscribe();
  send_status("status", "NetStream.Play.Stop", "Stopped playing " + name_ + ".");
  connection_.flush_session();
}

}  // namespace rw::server
