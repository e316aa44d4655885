// rewind-export: saves a recorded range of a stream as a standalone,
// seekable FLV file (a clip), or lists what a DVR store holds. It reads the
// store as a RocksDB secondary, so it works while rewind-origin records
// into it.
//
//   rewind-export --data-dir DIR --app APP --stream NAME [--from SECONDS]
//                 [--to SECONDS] --output FILE.flv
//   rewind-export --data-dir DIR --list
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "common/dvr/export.hpp"
#include "common/dvr/segment_store.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: rewind-export --data-dir DIR --app APP --stream NAME [--from SECONDS] [--to SECONDS] --output FILE.flv\n"
    "       rewind-export --data-dir DIR --list\n"
    "\n"
    "Saves the recorded range [from, to] of a stream (media time, seconds; default: the whole\n"
    "window) as a seekable FLV file starting at the keyframe at or before `from`. Reads the\n"
    "DVR store in --data-dir while rewind-origin runs. --list prints each stream's window.\n";

struct Arguments {
  std::string data_dir;
  std::string app;
  std::string stream;
  std::string output;
  std::optional<double> from;
  std::optional<double> to;
  bool list = false;
};

std::optional<double> parse_seconds(std::string_view text) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || v < 0 || v > 4294967.295) {
    return std::nullopt;
  }
  return v;
}

// Returns an error message, or nothing when the arguments are usable.
std::optional<std::string> parse(int argc, char** argv, Arguments& args) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--list") {
      args.list = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") return std::string();
    if (i + 1 >= argc) return "missing value after " + std::string(flag);
    const std::string_view value = argv[++i];
    if (flag == "--data-dir") {
      args.data_dir = value;
    } else if (flag == "--app") {
      args.app = value;
    } else if (flag == "--stream") {
      args.stream = value;
    } else if (flag == "--output") {
      args.output = value;
    } else if (flag == "--from" || flag == "--to") {
      auto seconds = parse_seconds(value);
      if (!seconds) return std::string(flag) + " wants seconds (0 to 4294967.295), not \"" + std::string(value) + "\"";
      (flag == "--from" ? args.from : args.to) = seconds;
    } else {
      return "unknown option " + std::string(flag);
    }
  }
  if (args.data_dir.empty()) return std::string("--data-dir is required");
  if (args.list) return std::nullopt;
  if (args.stream.empty()) return std::string("--stream is required");
  if (args.output.empty()) return std::string("--output is required");
  if (args.from && args.to && *args.to < *args.from) return std::string("--to is before --from");
  return std::nullopt;
}

constexpr int kAttempts = 50;

std::uint32_t to_ms(double seconds) { return static_cast<std::uint32_t>(std::llround(seconds * 1000.0)); }

// The secondary instance's scratch directory, removed on exit.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/rewind-export-XXXXXX";
    if (::mkdtemp(pattern.data())) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int list_streams(const rw::dvr::SegmentStore& store) {
  auto streams = store.list_streams();
  if (!streams) {
    std::fprintf(stderr, "rewind-export: %s\n", streams.error().describe().c_str());
    return 1;
  }
  std::printf("%-12s %-24s %-8s %10s %10s %9s %12s\n", "app", "stream", "state", "from_s", "to_s", "segments", "bytes");
  for (const auto& s : *streams) {
    const bool empty = s.first_sequence() == s.next_sequence();
    std::printf("%-12s %-24s %-8s %10.3f %10.3f %9llu %12llu\n", s.app().c_str(), s.name().c_str(),
                s.live() ? "live" : "offline", empty ? 0.0 : s.start_ms() / 1000.0, empty ? 0.0 : s.end_ms() / 1000.0,
                static_cast<unsigned long long>(s.next_sequence() - s.first_sequence()),
                static_cast<unsigned long long>(s.total_bytes()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments args;
  if (auto problem = parse(argc, argv, args)) {
    if (problem->empty()) {
      std::fputs(kUsage.data(), stdout);
      return 0;
    }
    std::fprintf(stderr, "rewind-export: %s\n%s", problem->c_str(), kUsage.data());
    return 2;
  }

  ScratchDir scratch;
  if (scratch.path().empty()) {
    std::fprintf(stderr, "rewind-export: cannot make a scratch directory: %s\n", std::strerror(errno));
    return 1;
  }
  // --data-dir is the origin's: its store is inside it.
  auto store = rw::dvr::SegmentStore::open_secondary(rw::dvr::SegmentStore::directory_in(args.data_dir), scratch.path());
  if (!store) {
    std::fprintf(stderr, "rewind-export: %s\n", store.error().describe().c_str());
    return 1;
  }
  if (args.list) return list_streams(**store);

  // Written beside the output and renamed into place: a failed export
  // leaves no half file.
  const std::string partial = args.output + ".partial";
  std::FILE* out = std::fopen(partial.c_str(), "wb");
  if (!out) {
    std::fprintf(stderr, "rewind-export: %s: %s\n", partial.c_str(), std::strerror(errno));
    return 1;
  }
  rw::dvr::ExportRange range;
  if (args.from) range.from_ms = to_ms(*args.from);
  if (args.to) range.to_ms = to_ms(*args.to);
  std::uint64_t written = 0;
  const auto sink = [out, &written](rw::ByteView bytes) {
    written += bytes.size();
    return std::fwrite(bytes.data(), 1, bytes.size(), out) == bytes.size();
  };
  auto summary = rw::dvr::export_flv(**store, args.app, args.stream, range, sink);
  // A secondary opened while the origin switched WAL files may see part
  // of the index missing (SegmentStore::stream_complete): catching up
  // fixes that. Nothing was written then.
  for (int attempt = 0; attempt < kAttempts && !summary && written == 0 &&
                        summary.error().code == rw::dvr::ExportError::Code::Changed;
       ++attempt) {
    ::usleep(20'000);
    if (auto caught_up = (*store)->catch_up(); !caught_up) {
      std::fprintf(stderr, "rewind-export: %s\n", caught_up.error().describe().c_str());
      break;
    }
    summary = rw::dvr::export_flv(**store, args.app, args.stream, range, sink);
  }
  const bool closed = std::fclose(out) == 0;
  if (!summary || !closed) {
    std::remove(partial.c_str());
    if (!summary) {
      std::fprintf(stderr, "rewind-export: %s/%s: %s: %s\n", args.app.c_str(), args.stream.c_str(),
                   rw::dvr::to_string(summary.error().code), summary.error().message.c_str());
    } else {
      std::fprintf(stderr, "rewind-export: %s: %s\n", partial.c_str(), std::strerror(errno));
    }
    return 1;
  }
  if (std::rename(partial.c_str(), args.output.c_str()) != 0) {
    std::fprintf(stderr, "rewind-export: rename to %s: %s\n", args.output.c_str(), std::strerror(errno));
    std::remove(partial.c_str());
    return 1;
  }
  std::printf("%s: %s/%s %.3f-%.3f s (%.3f s), %llu tags, %llu keyframes, %llu bytes\n", args.output.c_str(),
              args.app.c_str(), args.stream.c_str(), summary->first_ms / 1000.0, summary->last_ms / 1000.0,
              (summary->last_ms - summary->first_ms) / 1000.0, static_cast<unsigned long long>(summary->tags),
              static_cast<unsigned long long>(summary->keyframes),
              static_cast<unsigned long long>(summary->file_bytes));
  return 0;
}
