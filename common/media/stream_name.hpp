// Application and stream names as clients send them.
#pragma once

#include <string>
#include <string_view>

namespace rw::media {

struct StreamName {
  std::string name;   // without the query string
  std::string query;  // what followed '?', e.g. a token
};

// Splits "name?query". ffmpeg and OBS pass stream keys this way.
StreamName split_stream_name(std::string_view raw);

// Empty when the name is acceptable, else why not. Names are path-like
// ("camera1", "event/hall-a") because recordings are stored by name: no
// "..", no leading '/', no empty segments, no control characters or
// backslashes, at most max_length bytes.
std::string validate_stream_name(std::string_view name, std::size_t max_length = 256);
// The same rules for an application name (one or more path segments).
std::string validate_app_name(std::string_view app, std::size_t max_length = 128);

}  // namespace rw::media
