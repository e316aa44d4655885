#include "tests/bench/seek_check.hpp"

#include <gtest/gtest.h>

#include <set>

#include "common/rtmp/message.hpp"

namespace rw::bench {
namespace {

TEST(RandomMs, SameSeedAndClientGiveTheSameSequence) {
  RandomMs a(7, 3), b(7, 3);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next(600000), b.next(600000));
}

TEST(RandomMs, ClientsAndSeedsGiveDifferentSequences) {
  std::set<std::vector<std::uint32_t>> sequences;
  for (std::uint64_t seed : {1u, 2u}) {
    for (std::size_t client : {0u, 1u, 2u}) {
      RandomMs r(seed, client);
      std::vector<std::uint32_t> v;
      for (int i = 0; i < 5; ++i) v.push_back(r.next(600000));
      sequences.insert(v);
    }
  }
  EXPECT_EQ(sequences.size(), 6u) << "seed 1 client 2 must not repeat seed 2 client 1, etc.";
}

TEST(RandomMs, UniformWithinTheRange) {
  RandomMs r(1, 0);
  std::vector<int> deciles(10);
  for (int i = 0; i < 20000; ++i) {
    const std::uint32_t v = r.next(1000);
    ASSERT_LT(v, 1000u);
    ++deciles[v / 100];
  }
  for (int count : deciles) {
    EXPECT_GT(count, 1800);  // 2000 expected; 4.5 standard deviations either side
    EXPECT_LT(count, 2200);
  }
}

TEST(RandomMs, TinyRanges) {
  RandomMs r(1, 0);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(r.next(0), 0u);
    EXPECT_EQ(r.next(1), 0u);
    EXPECT_LT(r.next(2), 2u);
    EXPECT_LT(r.next(0xFFFFFFFFu), 0xFFFFFFFFu);
  }
}

TEST(ClassifyMedia, TellsHeadersKeyframesAndFrames) {
  using rtmp::msg_type::kAudio;
  using rtmp::msg_type::kVideo;
  struct Case {
    std::uint8_t type;
    const char* hex;
    MediaKind kind;
    bool needs_header;
  };
  const std::vector<Case> cases = {
      {kVideo, "1700000000 01640028", MediaKind::VideoHeader, true},  // AVC sequence header
      {kVideo, "1701000000 aa", MediaKind::Keyframe, true},           // AVC keyframe
      {kVideo, "2701000000 bb", MediaKind::InterFrame, true},         // AVC inter frame
      {kVideo, "3701000000 bb", MediaKind::InterFrame, true},         // disposable inter frame
      {kVideo, "1702000000", MediaKind::Other, true},                 // AVC end of sequence
      {kVideo, "5700", MediaKind::Other, true},                       // video info/command frame
      {kVideo, "4701000000 aa", MediaKind::Other, true},              // generated keyframe: the server's own
      {kVideo, "12 0000", MediaKind::Keyframe, false},                // Sorenson H.263 keyframe
      {kVideo, "22 0000", MediaKind::InterFrame, false},              // Sorenson H.263 inter frame
      {kVideo, "90 68766331 01", MediaKind::VideoHeader, true},       // Enhanced RTMP HEVC SequenceStart
      {kVideo, "91 68766331 000000 aa", MediaKind::Keyframe, true},   // Enhanced RTMP HEVC coded keyframe
      {kVideo, "", MediaKind::Other, false},                          // empty: unparsable
      {kAudio, "af00 1210", MediaKind::AudioHeader, true},            // AAC AudioSpecificConfig
      {kAudio, "af01 01", MediaKind::AudioFrame, true},               // AAC raw
      {kAudio, "2f fffb", MediaKind::AudioFrame, false},              // MP3
      {kAudio, "", MediaKind::Other, false},
      {18, "02000a6f6e4d65746144617461", MediaKind::Other, false},    // onMetaData
  };
  for (const auto& c : cases) {
    const Bytes payload = from_hex(c.hex);
    const MediaClass m = classify_media(c.type, payload);
    EXPECT_EQ(m.kind, c.kind) << c.hex;
    EXPECT_EQ(m.needs_header, c.needs_header) << c.hex;
  }
}

constexpr MediaClass kVideoHeader{MediaKind::VideoHeader, true};
constexpr MediaClass kKeyframe{MediaKind::Keyframe, true};
constexpr MediaClass kInter{MediaKind::InterFrame, true};
constexpr MediaClass kAudioHeader{MediaKind::AudioHeader, true};
constexpr MediaClass kAac{MediaKind::AudioFrame, true};
constexpr MediaClass kMp3{MediaKind::AudioFrame, false};
constexpr MediaClass kH263Keyframe{MediaKind::Keyframe, false};
constexpr MediaClass kData{MediaKind::Other, false};

std::vector<SeekViolation> kinds(const SeekProbe& p) {
  std::vector<SeekViolation> out;
  for (const auto& v : p.violations()) out.push_back(v.kind);
  return out;
}

TEST(SeekProbe, WellFormedSeekLandsWithoutViolations) {
  // Sent at 1 s; two frames from the old place arrive first.
  SeekProbe p(20'500, 1'000'000, 90'000, 0);
  EXPECT_FALSE(p.on_media(kInter, 90'033, 1'001'000));
  EXPECT_FALSE(p.on_media(kKeyframe, 90'066, 1'002'000)) << "a keyframe before Seek.Notify is stale";
  EXPECT_FALSE(p.notified());
  p.on_notify(1'004'000);
  EXPECT_FALSE(p.on_media(kData, 0, 1'004'100));
  EXPECT_FALSE(p.on_media(kVideoHeader, 20'000, 1'004'200));
  EXPECT_FALSE(p.on_media(kAudioHeader, 20'000, 1'004'300));
  EXPECT_TRUE(p.on_media(kKeyframe, 20'000, 1'006'000));
  EXPECT_FALSE(p.on_media(kAac, 19'990, 1'006'100)) << "audio a little before the keyframe is fine";
  EXPECT_FALSE(p.on_media(kInter, 20'033, 1'006'200));
  EXPECT_FALSE(p.on_media(kKeyframe, 22'000, 1'500'000)) << "the next keyframe, after the target";
  EXPECT_TRUE(p.notified());
  EXPECT_TRUE(p.landed());
  EXPECT_DOUBLE_EQ(p.notify_ms(), 4);
  EXPECT_DOUBLE_EQ(p.keyframe_ms(), 6);
  EXPECT_EQ(p.keyframe_timestamp(), 20'000u);
  EXPECT_EQ(p.keyframe_before_target_ms(), 500);
  EXPECT_EQ(p.stale_messages(), 2u);
  EXPECT_EQ(p.from_ms(), 90'000u);
  EXPECT_TRUE(p.violations().empty());
}

TEST(SeekProbe, KeyframeAtTheTargetIsFine) {
  SeekProbe p(20'000, 0, 0, std::nullopt);
  p.on_notify(1);
  p.on_media(kVideoHeader, 20'000, 2);
  EXPECT_TRUE(p.on_media(kKeyframe, 20'000, 3));
  EXPECT_TRUE(p.violations().empty());
  EXPECT_EQ(p.keyframe_before_target_ms(), 0);
}

TEST(SeekProbe, KeyframeAfterTheTarget) {
  SeekProbe p(20'000, 0, 0, 23);
  p.on_notify(1);
  p.on_media(kVideoHeader, 22'000, 2);
  EXPECT_TRUE(p.on_media(kKeyframe, 22'000, 3));
  EXPECT_EQ(kinds(p), std::vector{SeekViolation::KeyframeAfterTarget});
  EXPECT_EQ(p.violations()[0].timestamp_ms, 22'000u);
  EXPECT_EQ(p.keyframe_before_target_ms(), -2000);
}

TEST(SeekProbe, TargetBeforeTheFirstKeyframeLandsOnIt) {
  // The recording's first keyframe is at 23 ms; seek(10) lands there.
  SeekProbe excused(10, 0, 5000, 23);
  excused.on_notify(1);
  excused.on_media(kVideoHeader, 23, 2);
  EXPECT_TRUE(excused.on_media(kKeyframe, 23, 3));
  EXPECT_TRUE(excused.violations().empty());

  SeekProbe unknown(10, 0, 5000, std::nullopt);
  unknown.on_notify(1);
  unknown.on_media(kVideoHeader, 23, 2);
  unknown.on_media(kKeyframe, 23, 3);
  EXPECT_EQ(kinds(unknown), std::vector{SeekViolation::KeyframeAfterTarget}) << "no first keyframe known: no excuse";
}

TEST(SeekProbe, KeyframeBeforeItsSequenceHeader) {
  SeekProbe p(20'000, 0, 0, std::nullopt);
  p.on_notify(1);
  EXPECT_TRUE(p.on_media(kKeyframe, 20'000, 2));
  p.on_media(kVideoHeader, 20'000, 3);
  EXPECT_EQ(kinds(p), std::vector{SeekViolation::KeyframeBeforeSequenceHeader});

  SeekProbe h263(20'000, 0, 0, std::nullopt);
  h263.on_notify(1);
  EXPECT_TRUE(h263.on_media(kH263Keyframe, 20'000, 2));
  EXPECT_TRUE(h263.violations().empty()) << "Sorenson H.263 has no sequence header";
}

TEST(SeekProbe, HeaderBeforeNotifyDoesNotCount) {
  // Headers from before the seek do not stand for the seek's own.
  SeekProbe p(20'000, 0, 0, std::nullopt);
  p.on_media(kVideoHeader, 90'000, 1);
  p.on_notify(2);
  p.on_media(kKeyframe, 20'000, 3);
  EXPECT_EQ(kinds(p), std::vector{SeekViolation::KeyframeBeforeSequenceHeader});
}

TEST(SeekProbe, InterFramesBeforeTheKeyframe) {
  SeekProbe p(20'000, 0, 90'000, std::nullopt);
  p.on_notify(1);
  p.on_media(kInter, 90'033, 2);  // the old place's, sent after Notify
  p.on_media(kInter, 90'066, 3);
  p.on_media(kVideoHeader, 20'000, 4);
  EXPECT_TRUE(p.on_media(kKeyframe, 20'000, 5));
  ASSERT_EQ(kinds(p), std::vector{SeekViolation::InterFrameBeforeKeyframe});
  EXPECT_EQ(p.violations()[0].timestamp_ms, 90'033u) << "the first offending frame";
}

TEST(SeekProbe, AacBeforeItsSequenceHeader) {
  SeekProbe p(20'000, 0, 0, std::nullopt);
  p.on_notify(1);
  p.on_media(kVideoHeader, 20'000, 2);
  p.on_media(kAac, 90'046, 3);
  p.on_media(kAudioHeader, 20'000, 4);
  p.on_media(kKeyframe, 20'000, 5);
  EXPECT_EQ(kinds(p), std::vector{SeekViolation::AudioBeforeSequenceHeader});

  SeekProbe mp3(20'000, 0, 0, std::nullopt);
  mp3.on_notify(1);
  mp3.on_media(kVideoHeader, 20'000, 2);
  mp3.on_media(kMp3, 20'000, 3);
  mp3.on_media(kKeyframe, 20'000, 4);
  EXPECT_TRUE(mp3.violations().empty()) << "MP3 needs no sequence header";
}

TEST(SeekProbe, LaterKeyframeStillAtOrBeforeTheTarget) {
  SeekProbe p(21'000, 0, 0, std::nullopt);
  p.on_notify(1);
  p.on_media(kVideoHeader, 18'000, 2);
  EXPECT_TRUE(p.on_media(kKeyframe, 18'000, 3));
  EXPECT_TRUE(p.violations().empty());
  p.on_media(kKeyframe, 20'000, 4);  // the one it should have started from
  p.on_media(kKeyframe, 21'000, 5);
  ASSERT_EQ(kinds(p), std::vector{SeekViolation::LaterKeyframeAtOrBeforeTarget}) << "counted once";
  EXPECT_EQ(p.violations()[0].timestamp_ms, 20'000u);
  EXPECT_EQ(p.keyframe_timestamp(), 18'000u) << "the landing stays the first keyframe";
}

TEST(SeekProbe, TimestampsCompareAcrossTheWrap) {
  SeekProbe p(5, 0, 0, std::nullopt);
  p.on_notify(1);
  p.on_media(kVideoHeader, 0xFFFFFFF0u, 2);
  EXPECT_TRUE(p.on_media(kKeyframe, 0xFFFFFFF0u, 3));
  EXPECT_TRUE(p.violations().empty()) << "0xFFFFFFF0 is 21 ms before 5";
  EXPECT_EQ(p.keyframe_before_target_ms(), 21);
}

TEST(SeekProbe, SecondNotifyKeepsTheFirstTime) {
  SeekProbe p(0, 1000, 0, std::nullopt);
  p.on_notify(3000);
  p.on_notify(9000);
  p.on_media(kVideoHeader, 0, 9500);
  p.on_media(kKeyframe, 0, 10'000);
  EXPECT_DOUBLE_EQ(p.notify_ms(), 2);
  EXPECT_DOUBLE_EQ(p.keyframe_ms(), 9);
}

TEST(SeekTally, CountsLandingsFailuresAndViolations) {
  SeekTally t;
  SeekProbe good(20'000, 0, 1000, std::nullopt);
  good.on_media(kAac, 1023, 500);
  good.on_notify(2000);
  good.on_media(kVideoHeader, 19'000, 2500);
  good.on_media(kKeyframe, 19'000, 3000);
  t.sent_one();
  t.record_landing(good);
  t.record_violations(good, 0, 1);

  SeekProbe bad(20'000, 0, 90'000, std::nullopt);
  bad.on_notify(1000);
  bad.on_media(kInter, 90'033, 1500);
  bad.on_media(kKeyframe, 22'000, 4000);
  t.sent_one();
  t.record_landing(bad);
  t.record_violations(bad, 7, 2);

  t.sent_one();
  t.record_failure("NetStream.Seek.InvalidTime");

  EXPECT_EQ(t.sent, 3u);
  EXPECT_EQ(t.landed, 2u);
  EXPECT_EQ(t.failed, 1u);
  EXPECT_EQ(t.failures.at("NetStream.Seek.InvalidTime"), 1u);
  EXPECT_EQ(t.keyframe_ms, (std::vector<double>{3, 4}));
  EXPECT_EQ(t.notify_ms, (std::vector<double>{2, 1}));
  EXPECT_EQ(t.keyframe_before_target_ms, (std::vector<double>{1000, -2000}));
  EXPECT_EQ(t.stale_messages, 1u);
  EXPECT_EQ(t.violations, 1u) << "seeks with violations, not violations";
  EXPECT_EQ(t.violation_kinds.size(), 3u);
  EXPECT_EQ(t.violation_kinds.at("keyframe after the target"), 1u);
  EXPECT_EQ(t.violation_kinds.at("inter frame before the keyframe"), 1u);
  EXPECT_EQ(t.violation_kinds.at("keyframe before the video sequence header"), 1u);
  ASSERT_EQ(t.examples.size(), 1u);
  EXPECT_EQ(t.examples[0],
            "client 7 seek 2: from 90000 ms to target 20000 ms, keyframe 22000 ms; inter frame before the keyframe "
            "(at 90033 ms); keyframe before the video sequence header (at 22000 ms); keyframe after the target (at "
            "22000 ms)");
}

TEST(SeekTally, KeepsAFewExamplesOnly) {
  SeekTally t;
  for (std::size_t i = 0; i < SeekTally::kMaxExamples + 5; ++i) {
    SeekProbe p(0, 0, 0, std::nullopt);
    p.on_notify(1);
    p.on_media(kKeyframe, 0, 2);
    t.record_violations(p, i, 1);
  }
  EXPECT_EQ(t.violations, SeekTally::kMaxExamples + 5);
  EXPECT_EQ(t.examples.size(), SeekTally::kMaxExamples);
}

TEST(SeekTally, SeekWithoutKeyframeSaysSo) {
  SeekTally t;
  SeekProbe p(20'000, 0, 5000, std::nullopt);
  p.on_notify(1);
  p.on_media(kInter, 5033, 2);
  t.record_failure("no keyframe within 10 s of NetStream.Seek.Notify");
  t.record_violations(p, 1, 4);
  ASSERT_EQ(t.examples.size(), 1u);
  EXPECT_NE(t.examples[0].find("to target 20000 ms, no keyframe; inter frame"), std::string::npos) << t.examples[0];
}

}  // namespace
}  // namespace rw::bench
