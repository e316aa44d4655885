// Frames for the DVR tests and the crash-test writer: small synthetic ones
// with exactly the timestamps a test needs, and real H.264 + AAC from
// common/flv/testdata/avc_aac_2s.flv, looped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/media/frame.hpp"

namespace rw::dvr::test_media {

// AVC frames: body 0x17/0x27, AVCPacketType 1, composition time 0, then
// `size` bytes derived from the timestamp (so payloads differ).
media::FramePtr keyframe(std::uint32_t timestamp, std::size_t size = 64);
media::FramePtr inter(std::uint32_t timestamp, std::size_t size = 32);
// An AVCDecoderConfigurationRecord-shaped sequence header; `version`
// changes its bytes (a new header mid-stream).
media::FramePtr avc_header(std::uint32_t timestamp, std::uint8_t version = 1);
media::FramePtr aac_header(std::uint32_t timestamp);
media::FramePtr aac(std::uint32_t timestamp, std::size_t size = 16);
// ["onMetaData", {title: title}]
media::FramePtr metadata(std::uint32_t timestamp, std::string_view title);
// ["onCuePoint", {name: name}]
media::FramePtr cue_point(std::uint32_t timestamp, std::string_view name);

// A video stream: headers at 0, then every `frame_ms` a frame, a keyframe
// at each timestamp in `keyframes` (frames before the first one are inter
// frames too), up to `end_ms` exclusive.
std::vector<media::FramePtr> video_stream(const std::vector<std::uint32_t>& keyframes, std::uint32_t end_ms,
                                          std::uint32_t frame_ms = 100, std::uint32_t start_ms = 0);

// The test file's path.
std::string real_file_path();
// Its frames: onMetaData and codec headers once, then its 2.2 s of audio
// and video `loops` times, each loop 2200 ms after the last (keyframes at
// 0 and 1000 ms of each loop), starting at `offset_ms`. Empty when the file
// cannot be read.
std::vector<media::FramePtr> real_frames(int loops, std::uint32_t offset_ms = 0);
inline constexpr std::uint32_t kRealLoopMs = 2200;

}  // namespace rw::dvr::test_media
