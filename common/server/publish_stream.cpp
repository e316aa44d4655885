#include "common/server/publish_stream.hpp"

#include "common/amf/codec.hpp"
#include "common/media/stream_name.hpp"
#include "common/server/connection.hpp"

namespace rw::server {

std::unique_ptr<PublishStream> PublishStream::start(Connection& connection, const rtmp::PublishEvent& event) {
  auto& session = connection.session();
  media::StreamName name = media::split_stream_name(event.name);
  auto bad_name = [&](const std::string& why) {
    session.send_status(event.stream_id, "error", "NetStream.Publish.BadName", why,
                        amf::Object{{"details", name.name}});
    connection.flush_session();
    connection.emit(EventType::Error, name.name, "publish refused: " + why);
    return nullptr;
  };
  if (std::string why = media::validate_stream_name(name.name); !why.empty()) return bad_name(why);
  std::string type = event.type == "appendWithGap" ? "append" : event.type;
  if (type != "live" && type != "record" && type != "append") type = "live";

  auto& registry = connection.context().streams;
  auto hub = registry.acquire(connection.app(), name.name);
  if (!hub->start_publish()) {
    registry.release(hub);
    return bad_name(name.name + " is already being published");
  }
  auto stream = std::make_unique<PublishStream>(connection, event.stream_id, name.name, type, std::move(hub));
  session.send_user_control(rtmp::UserControlEvent::StreamBegin, event.stream_id);
  session.send_status(event.stream_id, "status", "NetStream.Publish.Start", name.name + " is now published.",
                      amf::Object{{"details", name.name}, {"clientid", static_cast<double>(connection.id())}});
  connection.flush_session();
  connection.emit(EventType::Publish, name.name, type);
  return stream;
}

PublishStream::PublishStream(Connection& connection, std::uint32_t stream_id, std::string name, std::string type,
                             std::shared_ptr<media::StreamHub> hub)
    : NetStream(connection, stream_id, std::move(name)), type_(std::move(type)), hub_(std::move(hub)) {}

PublishStream::~PublishStream() {
  hub_->stop_publish();
  connection_.context().streams.release(hub_);
  connection_.emit(EventType::Unpublish, name_);
}

void PublishStream::on_close() {
  connection_.session().send_status(stream_id_, "status", "NetStream.Unpublish.Success",
                                    name_ + " is now unpublished.", amf::Object{{"details", name_}});
  connection_.flush_session();
}

void PublishStream::on_media(rtmp::MediaEvent& event) {
  auto& m = event.message;
  if (m.payload.empty()) return;  // some encoders send empty audio at start
  hub_->publish(media::make_media_frame(m.header.type, m.header.timestamp, std::move(m.payload)));
}

void PublishStream::on_data(rtmp::DataEvent& event) {
  auto& values = event.values;
  if (values.empty()) return;
  std::string_view first = values[0].as_string();
  // Encoders send [@setDataFrame, onMetaData, {...}]; players get
  // [onMetaData, {...}]. Some send onMetaData directly.
  std::size_t skip = first == "@setDataFrame" ? 1 : 0;
  if (first == "@clearDataFrame") return;
  Bytes body;
  for (std::size_t i = skip; i < values.size(); ++i) amf::encode_amf0(values[i], body);
  if (body.empty()) return;
  bool is_metadata = values.size() > skip && values[skip].as_string() == "onMetaData";
  hub_->publish(is_metadata ? media::make_metadata_frame(event.timestamp, std::move(body))
                            : media::make_data_frame(event.timestamp, std::move(body)));
}

}  // namespace rw::server
