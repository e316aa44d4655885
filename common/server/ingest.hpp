// The frames a stream's messages make, whoever sends them: a publisher at
// the origin, or an upstream server a relay or an edge plays from. Audio
// and video as they come (empty ones dropped: some encoders send empty
// audio at start), script data with the encoder's @setDataFrame removed,
// aggregates one sub-message at a time so a big aggregate of tiny tags
// costs no more than its bytes. Timestamps are as sent: the caller maps
// them onto its timeline.
#pragma once

#include <functional>
#include <vector>

#include "common/amf/codec.hpp"
#include "common/amf/value.hpp"
#include "common/media/frame.hpp"
#include "common/rtmp/message.hpp"

namespace rw::server {

using FrameSink = std::function<void(media::MutableFramePtr)>;

// Script data values ([@setDataFrame,] onMetaData, {...} or any other
// call): onMetaData becomes a Metadata frame, others a Data frame. Nothing
// for @clearDataFrame, an empty body, and what a server says about its
// own play (|RtmpSampleAccess, onPlayStatus), which is not the stream's.
media::MutableFramePtr frame_of_data(const std::vector<amf::Value>& values, std::uint32_t timestamp);

// Audio, video, data (AMF0 or AMF3) or an aggregate message: each frame
// it holds goes to `sink`. Data that is not valid AMF within `limits` is
// dropped.
void frames_of_message(rtmp::Message& message, const amf::Limits& limits, const FrameSink& sink);

}  // namespace rw::server
