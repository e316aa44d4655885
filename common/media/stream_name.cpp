#include "common/media/stream_name.hpp"

namespace rw::media {

StreamName split_stream_name(std::string_view raw) {
  StreamName out;
  auto q = raw.find('?');
  out.name = std::string(raw.substr(0, q));
  if (q != std::string_view::npos) out.query = std::string(raw.substr(q + 1));
  return out;
}

namespace {

std::string validate_path(std::string_view what, std::string_view s, std::size_t max_length) {
  if (s.empty()) return std::string(what) + " is empty";
  if (s.size() > max_length) return std::string(what) + " is longer than " + std::to_string(max_length) + " bytes";
  if (s.front() == '/') return std::string(what) + " starts with '/'";
  if (s.back() == '/') return std::string(what) + " ends with '/'";
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return std::string(what) + " contains a control character";
    if (c == '\\') return std::string(what) + " contains a backslash";
  }
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find('/', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view segment = s.substr(start, end - start);
    if (segment.empty()) return std::string(what) + " has an empty path segment";
    if (segment == "." || segment == "..") return std::string(what) + " contains '" + std::string(segment) + "'";
    start = end + 1;
  }
  return {};
}

}  // namespace

std::string validate_stream_name(std::string_view name, std::size_t max_length) {
  return validate_path("stream name", name, max_length);
}

std::string validate_app_name(std::string_view app, std::size_t max_length) {
  return validate_path("application name", app, max_length);
}

}  // namespace rw::media
