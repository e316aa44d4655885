#include "common/server/dvr_calls.hpp"

#include "common/media/stream_name.hpp"
#include "common/server/segment_source.hpp"

namespace rw::server {

namespace asio = boost::asio;

namespace {

// The stream a call is about: its first argument, a name or an object
// with streamName (DVRSetStreamInfo's shape), without a query string.
std::string stream_argument(const rtmp::Command& cmd) {
  const amf::Value* arg = cmd.args.empty() ? nullptr : &cmd.args[0];
  std::string name(arg ? arg->as_string() : std::string_view());
  if (const amf::Object* o = arg ? arg->as_object() : nullptr) {
    if (const amf::Value* v = o->find("streamName")) name = std::string(v->as_string());
  }
  return media::split_stream_name(name).name;
}

}  // namespace

bool DvrCalls::handles(std::string_view name) {
  return name == "getStreamLength" || name == "DVRSubscribe" || name == "DVRUnsubscribe" ||
         name == "DVRUnSubscribe" || name == "DVRGetStreamInfo";
}

asio::awaitable<void> DvrCalls::answer(const rtmp::Command& cmd) {
  const std::string name = stream_argument(cmd);
  const double txn = cmd.transaction_id;
  if (cmd.name == "getStreamLength") {
    co_await stream_length(cmd, name);
  } else if (cmd.name == "DVRSubscribe") {
    session_.send_result(txn, {rtmp::status_object("status", "NetStream.DVRSubscribe.Success", name)});
  } else if (cmd.name == "DVRUnsubscribe" || cmd.name == "DVRUnSubscribe") {
    // Both spellings are in the wild (OSMF, FLVPlayback).
    session_.send_result(txn, {rtmp::status_object("status", "NetStream.DVRUnsubscribe.Success", name)});
  } else if (cmd.name == "DVRGetStreamInfo") {
    co_await dvr_stream_info(cmd, name);
  }
}

asio::awaitable<void> DvrCalls::stream_length(const rtmp::Command& cmd, const std::string& name) {
  // Seconds of media, as FMS applications answered; 0 for a stream that
  // is only live.
  double seconds = 0;
  if (SegmentSource* source = context_.segments; source && media::validate_stream_name(name).empty()) {
    auto found = co_await source->stream_info(app_, name);
    if (closing_) co_return;
    if (found && *found) seconds = (*found)->end_ms() / 1000.0;
  }
  session_.send_result(cmd.transaction_id, {seconds});
}

asio::awaitable<void> DvrCalls::dvr_stream_info(const rtmp::Command& cmd, const std::string& name) {
  std::optional<dvr::StreamInfo> info;
  if (SegmentSource* source = context_.segments; source && media::validate_stream_name(name).empty()) {
    auto found = co_await source->stream_info(app_, name);
    if (closing_) co_return;
    if (found && *found) info = std::move(**found);
  }
  const double txn = cmd.transaction_id;
  if (!info) {
    // Not known yet (the encoder has not started): OSMF asks again.
    amf::Object reply = rtmp::status_object("status", "NetStream.DVRStreamInfo.Retry", name);
    reply.set("data", amf::Object{{"retry", 3.0}});
    session_.send_result(txn, {std::move(reply)});
    co_return;
  }
  const double now = static_cast<double>(context_.clock.wall_ms());
  const bool recording = info->live();
  // Offsets and lengths are seconds of media time, the time seek() takes.
  amf::Object data{
      {"callTime", amf::Date{now, 0}},
      {"offline", !recording},
      {"begOffset", info->start_ms() / 1000.0},
      {"endOffset", 0.0},
      {"windowDuration", (info->end_ms() - info->start_ms()) / 1000.0},
      {"startRec", amf::Date{static_cast<double>(info->record_start_wall_ms()), 0}},
      {"stopRec", recording ? amf::Value(amf::Null{})
                            : amf::Value(amf::Date{static_cast<double>(info->last_update_wall_ms()), 0})},
      {"isRec", recording},
      {"streamName", name},
      {"lastUpdate", amf::Date{static_cast<double>(info->last_update_wall_ms()), 0}},
      {"currLen", info->end_ms() / 1000.0},
      {"maxLen", 0.0},
  };
  if (const AppSettings* app = context_.find_app(app_)) {
    data.set("maxLen", static_cast<double>(app->dvr.window_ms) / 1000.0);
  }
  amf::Object reply = rtmp::status_object("status", "NetStream.DVRStreamInfo.Success", name);
  reply.set("data", std::move(data));
  session_.send_result(txn, {std::move(reply)});
}

}  // namespace rw::server
