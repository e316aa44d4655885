#include "common/server/ingest.hpp"

#include "common/rtmp/aggregate.hpp"
#include "common/rtmp/command.hpp"

namespace rw::server {

media::MutableFramePtr frame_of_data(const std::vector<amf::Value>& values, std::uint32_t timestamp) {
  if (values.empty()) return nullptr;
  const std::string_view first = values[0].as_string();
  // Encoders send [@setDataFrame, onMetaData, {...}]; players get
  // [onMetaData, {...}]. Some send onMetaData directly.
  if (first == "@clearDataFrame" || first == "|RtmpSampleAccess" || first == "onPlayStatus") return nullptr;
  const std::size_t skip = first == "@setDataFrame" ? 1 : 0;
  Bytes body;
  for (std::size_t i = skip; i < values.size(); ++i) amf::encode_amf0(values[i], body);
  if (body.empty()) return nullptr;
  const bool is_metadata = values.size() > skip && values[skip].as_string() == "onMetaData";
  return is_metadata ? media::make_metadata_frame(timestamp, std::move(body))
                     : media::make_data_frame(timestamp, std::move(body));
}

namespace {

void frame_of_part(rtmp::Message& m, const amf::Limits& limits, const FrameSink& sink) {
  const std::uint8_t type = m.header.type;
  if (type == rtmp::msg_type::kAudio || type == rtmp::msg_type::kVideo) {
    if (m.payload.empty()) return;
    sink(media::make_media_frame(type, m.header.timestamp, std::move(m.payload)));
  } else if (type == rtmp::msg_type::kDataAmf0 || type == rtmp::msg_type::kDataAmf3) {
    auto values = rtmp::parse_data(m.payload, type, limits);
    if (!values) return;
    if (auto frame = frame_of_data(*values, m.header.timestamp)) sink(std::move(frame));
  }
}

}  // namespace

void frames_of_message(rtmp::Message& message, const amf::Limits& limits, const FrameSink& sink) {
  if (message.header.type != rtmp::msg_type::kAggregate) {
    frame_of_part(message, limits, sink);
    return;
  }
  // FMS, Wowza and some encoders send aggregates.
  rtmp::AggregateReader reader(message);
  rtmp::Message part;
  while (reader.next(part)) {
    if (part.header.type != rtmp::msg_type::kAggregate) frame_of_part(part, limits, sink);
  }
}

}  // namespace rw::server
