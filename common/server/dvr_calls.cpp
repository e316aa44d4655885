#include "common/server/dvr_calls.hpp"

#include <algorithm>

#include "common/cluster/identity.hpp"
#include "common/cluster/segment_protocol.hpp"
#include "common/media/stream_name.hpp"
#include "common/server/segment_source.hpp"

namespace rw::server {

namespace asio = boost::asio;

namespace {

// What one answer carries at most, whatever a downstream asks for.
constexpr std::uint64_t kMaxIndexEntries = 1024;
constexpr std::uint64_t kMaxPageBytes = 1u << 20;

// The stream a call is about: its first argument, a name or an object
// with streamName (DVRSetStreamInfo's shape), split from its query string.
media::StreamName stream_argument(const rtmp::Command& cmd) {
  const amf::Value* arg = cmd.args.empty() ? nullptr : &cmd.args[0];
  std::string name(arg ? arg->as_string() : std::string_view());
  if (const amf::Object* o = arg ? arg->as_object() : nullptr) {
    if (const amf::Value* v = o->find("streamName")) name = std::string(v->as_string());
  }
  return media::split_stream_name(name);
}

}  // namespace

bool DvrCalls::handles(std::string_view name) {
  return name == "getStreamLength" || name == "DVRSubscribe" || name == "DVRUnsubscribe" ||
         name == "DVRUnSubscribe" || name == "DVRGetStreamInfo" || cluster::is_segment_protocol_call(name);
}

void DvrCalls::fail(double transaction_id, std::string_view reason, const std::string& description) {
  amf::Object info = rtmp::status_object("error", "NetConnection.Call.Failed", description);
  info.set("reason", std::string(reason));
  session_.send_result_error(transaction_id, std::move(info));
}

asio::awaitable<void> DvrCalls::answer(const rtmp::Command& cmd) {
  const media::StreamName stream = stream_argument(cmd);
  const std::string& name = stream.name;
  const double txn = cmd.transaction_id;
  // A downstream server's call says which servers it went through; a relay
  // passes that on upstream with its own id (docs/cluster.md, "Loops").
  via_ = cluster::via_of_query(stream.query);
  const std::string& self = context_.options.server_id;
  if (cluster::via_contains(via_, self)) {
    const std::string why = "loop: " + cmd.name + " of " + name + " came back to " + self + " through " + via_;
    context_.log.warn() << log_escape(why);
    fail(txn, "Loop", why);
    co_return;
  }
  if (cluster::is_segment_protocol_call(cmd.name) && !downstream_server_) {
    fail(txn, "BadRequest", cmd.name + " is for Rewind relays and edges (rewindServer in connect)");
    co_return;
  }
  if (cmd.name == "getStreamLength") {
    co_await stream_length(cmd, name);
  } else if (cmd.name == "DVRSubscribe") {
    session_.send_result(txn, {rtmp::status_object("status", "NetStream.DVRSubscribe.Success", name)});
  } else if (cmd.name == "DVRUnsubscribe" || cmd.name == "DVRUnSubscribe") {
    // Both spellings are in the wild (OSMF, FLVPlayback).
    session_.send_result(txn, {rtmp::status_object("status", "NetStream.DVRUnsubscribe.Success", name)});
  } else if (cmd.name == "DVRGetStreamInfo") {
    co_await dvr_stream_info(cmd, name);
  } else if (cmd.name == cluster::kSegmentCall) {
    co_await segment(cmd, name);
  } else {
    co_await index(cmd, name);
  }
}

asio::awaitable<void> DvrCalls::index(const rtmp::Command& cmd, const std::string& name) {
  const double txn = cmd.transaction_id;
  SegmentSource* source = context_.segments;
  if (!source) {
    fail(txn, "NotFound", "this server serves no recordings");
    co_return;
  }
  if (std::string why = media::validate_stream_name(name); !why.empty()) {
    fail(txn, "BadRequest", why);
    co_return;
  }
  auto arg = [&](std::size_t i) -> std::optional<std::uint64_t> {
    return i < cmd.args.size() ? cmd.args[i].as_uint64() : std::nullopt;
  };
  auto found = co_await source->stream_info(app_, name, via_);
  if (closing_) co_return;
  if (!found) {
    fail(txn, "Unavailable", found.error().message);
    co_return;
  }
  cluster::IndexPage page;
  page.set_known(found->has_value());
  if (*found) *page.mutable_stream() = **found;
  if (*found && cmd.name == cluster::kSegmentInfosCall) {
    const auto from = arg(1);
    const auto limit = arg(2);
    if (!from || !limit) {
      fail(txn, "BadRequest", "rewindSegmentInfos takes a stream, a first sequence and a count");
      co_return;
    }
    const std::size_t count = static_cast<std::size_t>(std::min<std::uint64_t>(*limit, kMaxIndexEntries));
    auto entries = co_await source->segment_infos(app_, name, *from, count, via_);
    if (closing_) co_return;
    if (!entries) {
      fail(txn, "Unavailable", entries.error().message);
      co_return;
    }
    for (auto& e : *entries) *page.add_segments() = std::move(e);
  } else if (*found && cmd.name == cluster::kFindSegmentCall) {
    const std::optional<std::uint32_t> at = cmd.args.size() > 1 ? cmd.args[1].as_uint32() : std::nullopt;
    if (!at) {
      fail(txn, "BadRequest", "rewindFindSegment takes a stream and a media time in ms");
      co_return;
    }
    const std::uint32_t media_ms = *at;
    auto where = co_await source->find_segment(app_, name, media_ms, via_);
    if (closing_) co_return;
    if (!where) {
      fail(txn, "Unavailable", where.error().message);
      co_return;
    }
    if (*where) *page.add_segments() = std::move(**where);
  }
  session_.send_result(txn, {cluster::to_byte_array(page)});
}

asio::awaitable<void> DvrCalls::segment(const rtmp::Command& cmd, const std::string& name) {
  const double txn = cmd.transaction_id;
  SegmentSource* source = context_.segments;
  auto arg = [&](std::size_t i) -> std::optional<std::uint64_t> {
    return i < cmd.args.size() ? cmd.args[i].as_uint64() : std::nullopt;
  };
  const auto recording = arg(1);
  const auto sequence = arg(2);
  const auto offset = arg(3);
  const auto max_bytes = arg(4);
  if (!source) {
    fail(txn, "NotFound", "this server serves no recordings");
    co_return;
  }
  if (!media::validate_stream_name(name).empty() || !recording || !sequence || !offset || !max_bytes ||
      *max_bytes == 0) {
    fail(txn, "BadRequest", "rewindSegment takes a stream, a recording id, a sequence, an offset and a page size");
    co_return;
  }
  auto found = co_await source->stream_info(app_, name, via_);
  if (closing_) co_return;
  if (!found) {
    fail(txn, "Unavailable", found.error().message);
    co_return;
  }
  // Only the current recording's segments are served (a `record` publish
  // starts the stream over with a new id).
  if (!*found || (**found).recording_id() != *recording) {
    fail(txn, "NotFound", "no recording " + std::to_string(*recording) + " of " + name);
    co_return;
  }
  const std::uint64_t seq = *sequence;
  auto bytes = co_await source->read_segment_bytes(app_, name, seq, via_);
  if (closing_) co_return;
  if (!bytes) {
    fail(txn, "Unavailable", bytes.error().message);
    co_return;
  }
  if (!*bytes || *offset > (**bytes).size()) {
    fail(txn, "NotFound", "segment " + std::to_string(seq) + " of " + name + " is not stored");
    co_return;
  }
  if (*offset == 0) {
    // One line per segment a downstream server fetches: how tests and
    // operators see that each segment crosses each hop once.
    context_.log.debug() << "dvr: serving segment " << seq << " of " << log_field(app_) << "/" << log_field(name)
                         << " (" << (**bytes).size() << " bytes) to a downstream server, via " << log_field(via_);
  }
  const std::size_t page_bytes = static_cast<std::size_t>(std::min<std::uint64_t>(*max_bytes, kMaxPageBytes));
  session_.send_result(txn, {cluster::to_byte_array(cluster::segment_page((**bytes).view(), *recording, seq, *offset,
                                                                       page_bytes))});
}

asio::awaitable<void> DvrCalls::stream_length(const rtmp::Command& cmd, const std::string& name) {
  // Seconds of media, as FMS applications answered; 0 for a stream that
  // is only live.
  double seconds = 0;
  if (SegmentSource* source = context_.segments; source && media::validate_stream_name(name).empty()) {
    auto found = co_await source->stream_info(app_, name, via_);
    if (closing_) co_return;
    if (found && *found) seconds = (*found)->end_ms() / 1000.0;
  }
  session_.send_result(cmd.transaction_id, {seconds});
}

asio::awaitable<void> DvrCalls::dvr_stream_info(const rtmp::Command& cmd, const std::string& name) {
  std::optional<dvr::StreamInfo> info;
  if (SegmentSource* source = context_.segments; source && media::validate_stream_name(name).empty()) {
    auto found = co_await source->stream_info(app_, name, via_);
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
