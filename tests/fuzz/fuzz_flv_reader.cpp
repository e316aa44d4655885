// Feeds arbitrary bytes to flv::FileReader, whole and split, and checks:
// - the tags, error and consumed count do not depend on how input is split;
// - parse_video/parse_audio/metadata_from_script_tag survive every body;
// - re-encoding the tags and reading them again gives the same tags;
// - writing them through FileWriter gives a file whose keyframe index points
//   at the keyframe tags.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "common/flv/file_reader.hpp"
#include "common/flv/file_writer.hpp"
#include "common/flv/tag.hpp"
#include "tests/fuzz/alloc_budget.hpp"

namespace {

using rw::Bytes;
using rw::ByteView;
using namespace rw::flv;

constexpr std::size_t kMaxTagSize = 1u << 20;

#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) {                                                   \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                  \
    }                                                                \
  } while (0)

struct ReadResult {
  std::vector<Tag> tags;
  std::optional<ReadError> error;
  std::size_t consumed = 0;
  bool has_audio = false;
  bool has_video = false;
};

ReadResult read_pieces(ByteView data, std::size_t piece_size) {
  FileReader reader(kMaxTagSize);
  ReadResult r;
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min(piece_size, data.size() - pos);
    auto result = reader.feed(data.subspan(pos, n), r.tags);
    pos += n;
    r.consumed += result.consumed;
    if (result.error) {
      CHECK(!r.error || *r.error == *result.error);
      r.error = result.error;
    } else {
      CHECK(!r.error);
      CHECK(result.consumed == n);
    }
  } while (pos < data.size());
  r.has_audio = reader.has_audio();
  r.has_video = reader.has_video();
  return r;
}

bool same_tags(const std::vector<Tag>& a, const std::vector<Tag>& b, std::size_t b_offset = 0) {
  if (a.size() + b_offset != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const Tag& x = a[i];
    const Tag& y = b[i + b_offset];
    if (x.type != y.type || x.timestamp != y.timestamp || x.body != y.body) return false;
  }
  return true;
}

void inspect_bodies(const std::vector<Tag>& tags) {
  for (const auto& t : tags) {
    switch (t.type) {
      case TagType::Video: {
        auto info = parse_video(t.body);
        if (info && info->is_keyframe()) CHECK(!info->sequence_header && !info->end_of_sequence);
        break;
      }
      case TagType::Audio: {
        auto info = parse_audio(t.body);
        if (info) CHECK(info->rate <= 3);
        break;
      }
      case TagType::Script:
        (void)metadata_from_script_tag(t.body);
        break;
    }
  }
}

// Writes the tags as a seekable file and checks its index against the tags.
void check_writer(const std::vector<Tag>& tags) {
  FileWriter writer({});
  for (const auto& t : tags) {
    CHECK(writer.plan(t.type, t.timestamp, t.body));
  }
  auto head = writer.begin();
  CHECK(head);
  Bytes file = std::move(*head);
  for (const auto& t : tags) CHECK(writer.write(t.type, t.timestamp, t.body, file));
  CHECK(writer.finish());
  CHECK(file.size() == writer.file_size());

  ReadResult back = read_pieces(file, file.size());
  CHECK(!back.error);
  CHECK(!back.tags.empty() && back.tags[0].type == TagType::Script);
  CHECK(same_tags(tags, back.tags, 1));
  auto metadata = metadata_from_script_tag(back.tags[0].body);
  CHECK(metadata);
  const rw::amf::Value* keyframes = metadata->find("keyframes");
  CHECK(keyframes);
  const rw::amf::Value* positions = keyframes->find("filepositions");
  CHECK(positions && positions->as_array());

  std::size_t pos = kFileHeaderSize + kPreviousTagSizeSize;
  std::size_t k = 0;
  const auto& listed = positions->as_array()->dense;
  for (std::size_t i = 0; i < back.tags.size(); ++i) {
    const Tag& t = back.tags[i];
    auto info = t.type == TagType::Video ? parse_video(t.body) : std::nullopt;
    if (info && info->is_keyframe()) {
      CHECK(k < listed.size());
      CHECK(listed[k].as_number(-1) == static_cast<double>(pos));
      ++k;
    }
    pos += kTagHeaderSize + t.body.size() + kPreviousTagSizeSize;
  }
  CHECK(k == listed.size());
  CHECK(pos == file.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  // A tag's body is read as it comes: what the reader holds is about the
  // input, plus the tags' own bookkeeping.
  const rw::fuzz::AllocBudget budget;
  const ReadResult whole = read_pieces(input, size);
  budget.check(8 * size + (64u << 10), "fuzz_flv_reader: reading");
  inspect_bodies(whole.tags);

  // The same bytes in other splits: a few fixed piece sizes, and one byte
  // at a time for small inputs.
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
    if (piece == 1 && size > 8192) continue;
    const ReadResult split = read_pieces(input, piece);
    CHECK(same_tags(whole.tags, split.tags));
    CHECK(split.error == whole.error);
    CHECK(split.consumed == whole.consumed);
  }

  // Re-encode what was read; it must read back identically.
  if (!whole.tags.empty()) {
    Bytes again = encode_file_header(whole.has_audio, whole.has_video);
    for (const auto& t : whole.tags) encode_tag(t.type, t.timestamp, t.body, again);
    const ReadResult reread = read_pieces(again, again.size());
    CHECK(!reread.error);
    CHECK(reread.consumed == again.size());
    CHECK(same_tags(whole.tags, reread.tags));
    CHECK(reread.has_audio == whole.has_audio && reread.has_video == whole.has_video);
  }

  if (size <= 65536) check_writer(whole.tags);
  return 0;
}
