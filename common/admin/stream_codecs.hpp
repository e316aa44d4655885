// What the streams API says of a stream's codecs (SRS's `video` and
// `audio` objects), read from the codec headers and onMetaData a player
// would get.
#pragma once

#include <boost/json/value.hpp>

#include "common/media/stream_hub.hpp"

namespace rw::admin {

// {codec, profile, level, width, height}, or null without video.
boost::json::value video_json(const media::StreamHub::CodecState& codec);
// {codec, sample_rate, channel, profile}, or null without audio.
boost::json::value audio_json(const media::StreamHub::CodecState& codec);

}  // namespace rw::admin
