// Checks the handshake against digests computed here, independently of
// handshake.cpp: own key constants, own offset arithmetic (as
// docs/protocol.md, "Handshake" describes it) and OpenSSL's one-shot HMAC()
// instead of EVP_MAC.
#include "common/rtmp/handshake.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rw::rtmp {
namespace {

constexpr std::size_t N = kHandshakeSize;

// ------------------------------------------------------------ test-side crypto

Bytes key_text(std::string_view text) { return Bytes(text.begin(), text.end()); }
Bytes full_key(std::string_view text) {
  Bytes key = key_text(text);
  const Bytes tail = from_hex("F0EEC24A8068BEE82E00D0D1029E7E576EEC5D2D29806FAB93B8E636CFEB31AE");
  key.insert(key.end(), tail.begin(), tail.end());
  return key;
}
Bytes client_key_30() { return key_text("Genuine Adobe Flash Player 001"); }
Bytes client_key_62() { return full_key("Genuine Adobe Flash Player 001"); }
Bytes server_key_36() { return key_text("Genuine Adobe Flash Media Server 001"); }
Bytes server_key_68() { return full_key("Genuine Adobe Flash Media Server 001"); }

Bytes hmac_sha256(ByteView key, ByteView data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &length);
  out.resize(length);
  return out;
}

enum class Layout { A, B };

// Digest offsets: layout A (b[8]+b[9]+b[10]+b[11]) % 728 + 12,
// layout B (b[772]+b[773]+b[774]+b[775]) % 728 + 776.
std::size_t digest_pos(ByteView b, Layout layout) {
  if (layout == Layout::A) return (b[8] + b[9] + b[10] + b[11]) % 728u + 12;
  return (b[772] + b[773] + b[774] + b[775]) % 728u + 776;
}

Bytes without_digest(ByteView block, std::size_t pos) {
  Bytes rest(block.begin(), block.begin() + static_cast<std::ptrdiff_t>(pos));
  rest.insert(rest.end(), block.begin() + static_cast<std::ptrdiff_t>(pos + 32), block.end());
  return rest;
}

Bytes digest_at(ByteView block, std::size_t pos) {
  return Bytes(block.begin() + static_cast<std::ptrdiff_t>(pos), block.begin() + static_cast<std::ptrdiff_t>(pos + 32));
}

bool digest_verifies(ByteView block, Layout layout, ByteView key) {
  const std::size_t pos = digest_pos(block, layout);
  return hmac_sha256(key, without_digest(block, pos)) == digest_at(block, pos);
}

// S2/C2 of a digest handshake: 1504 bytes, then HMAC(those, HMAC(peer digest, full key)).
bool signature_verifies(ByteView response, ByteView peer_digest, ByteView full) {
  const Bytes key = hmac_sha256(full, peer_digest);
  return hmac_sha256(key, response.first(N - 32)) == Bytes(response.begin() + (N - 32), response.end());
}

// Deterministic stand-in for the server's random source (xorshift32).
Bytes random_stream(std::uint32_t seed, std::size_t size) {
  Bytes out(size);
  for (auto& b : out) {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    b = static_cast<std::uint8_t>(seed >> 24);
  }
  return out;
}
RandomFill seeded_random(std::uint32_t seed) {
  return [seed](std::span<std::uint8_t> out) mutable {
    for (auto& b : out) {
      seed ^= seed << 13;
      seed ^= seed >> 17;
      seed ^= seed << 5;
      b = static_cast<std::uint8_t>(seed >> 24);
    }
  };
}

constexpr std::uint32_t kFfmpegVersion = 0x09007C02;  // 9.0.124.2, what ffmpeg writes in C1

// A 1536-byte C1 with the given version and, if a layout is given, a digest
// signed with `key` (the 30-byte client key unless a test forges one).
Bytes make_c1(std::uint32_t version, std::optional<Layout> layout, std::uint32_t seed = 11,
              const Bytes& key = client_key_30()) {
  Bytes c1 = random_stream(seed, N);
  put_u32be(c1.data(), 0x00001234);
  put_u32be(c1.data() + 4, version);
  if (layout) {
    const std::size_t pos = digest_pos(c1, *layout);
    const Bytes digest = hmac_sha256(key, without_digest(c1, pos));
    std::copy(digest.begin(), digest.end(), c1.begin() + static_cast<std::ptrdiff_t>(pos));
  }
  return c1;
}

Bytes concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

constexpr std::uint8_t kC0[] = {0x03};

// C0+C1 as ffmpeg 5.1 sent them (`ffmpeg -i rtmp://127.0.0.1:PORT/app/x`
// against a listener that recorded the first 1537 bytes): a real client's
// layout-A digest.
Bytes ffmpeg_c0c1() {
  return from_hex(R"(
    030000000009007c02f778551eceab8e1e362f07c5868a70b266d40220e5086118a22e3697d5fc2b6329c22ee7c7c9b0
    b5b345dfa8398fea3bc879208a1068425aa1174cb57258cfebe24da42ec4ff9da19c7b406f18c95bfdd04ee48b6f8332
    14a47b8bf68eb05254e25ae9a9a8b496c5496f6e9cd7c68cb6bcc84169e67f3e372ffe186da8513862c5afdeb5a1218a
    860baccdd869b253dbab8a0efb59a48c442099875e55b74fd07a1b69af303e099873cb77e2d9e2c4741eb1f506a7f0b2
    962af91f5051c890a320994f4c8b36a01fa9c0f15f4b7cf7b6c3817da60918611d3b02ff7cc94038937537d3382e416b
    d57577834df9caf748352150ce92d0dbb40e871fc364e18b7e3569e39876c1ae0cb79ff6d7ab32f9f011869c8da4191e
    f46d3c1bc6b72d83812f2243d1752a412632d66a2075f5d302f45cdf2b98b802b79805dc4837d84eded1cc42cba7eec3
    137bf86dd0b2d7f624d521a3ff655bcf0df4101341d230e94651628e45a7abf8183101ce981e5e86a6faec5c79aa7ec7
    181ea459ed966e0c932a6f9e4bf554ab7b1c905cde054ed40d2fb89bbfc65752e58cfde4f2a04dc3ad1e5ef4fc64d57b
    071c14146a451f6a043156d2880f5957d78dfd3ff2b880f624ac70f27094f37734eaf1924f66ac3d648ae232930544a4
    420b65eed4696f7f50fe05fc948516650bfb9b65f953d848e3456965d0d76b627a84e35e9ddabd8b43f0fadaee458cdf
    59ebd773922e0ae507d5e64092e90ec67ed8439e8f221c753a9f9216f1cb85b5107bc7cc7c4fb2c3eed1afc709b192f5
    0de69c1ffca5650efb523b5fab5997cac4b7ef5af2bf5973e6293bae1fc1da499be5515077de4ddb3f7fbcd741711c62
    b7d803b8d054cf578182714d1c445bd692ba1b839a09e7266fc85daa8fad433dabbd206cde1ea571770c6bfa7956c266
    ee8435eb01caa6f583c0d83c33eefcf3f97db917bdb299f8a89fb8860ab1cd644c1e82cce1323a9eb79d25f5dc570b70
    b40bb20061743353d0536ecdabd82f2277756228cb54fe6932c4c9bd130d2bfc700bf5d85da6946e96f82e0afd8e9c20
    cfeabf9a6a189bb17bbef539d1d9e73ee966fcb5d6bdbf98444de865be1605e34087b34cdf04e3aff55bd4137c522d2e
    3c7bf2634db326b22a474db7f8a0952ab3510de555396c18a378a8390b73bff7772fb2760fa5786a3b0459c45a1d1b0d
    ff4cbbb65da0ed34f32116c3c2cc2b95825111bcfbb246c1505aa00c970d06d76cc950ce368b220db20487cba02bb1fc
    54b36567b42913d6b885062cd7795601d31a4a8e6d56467fa5c52162676fd526122513c3e47f2e6d9d6a19c4f8795431
    a94ced039221d27ac68a7a770e9305252271459b71d05505c4977b70e96851208bacdcdf7e682b3848840880f1fec2a3
    2fb1406862bc83cad89adf729f3ba6ffd3fe808e8403e7c6a0f6dcda3211898f6f16505b078cc78b80db600ded2f200f
    25ff5dcb31d32cbe2056b8bdc31091631abbd2ac28d61fe32480ec5035bbf35f173393f0d59a21d2300b2db4b59eaa63
    ffe0f93d65dc028516905f22a9c7dff387c4eb78c6300e7ebbb2a6663cfbe5a9977caf5764ba3f0aba57db4e6051e0ae
    c6e05b1bdaa649a97875edbc40bcc4214bb7fef72730d4368acbd3e10ab4c7642a1c53f93ca26db9c766555be26fdff0
    e2a721425b95762b0b776fd3e3eb17313d53129c9f34003c99a5196a8c6aacb6d64b51dd98b27c5b59a70bd941a1ba03
    00fb744cfc499d997e6d93392d28a767d116dfbc2cb9eb40540d11eb304ad9322386fdc597d55d3d1c67bc54df35479a
    fb19ea2cd204dd331efb49c1e172f6bb89fbf58207dcae6c12f8a7598bef1e872c0c35f22b4c29df10f9bb1add3aeb88
    7ab5fb38c036b88346f761c42f295dfe0b437dfb4f30a71276ab7d409ce424963f9ebb4f1f47e52b18786f279b5a8722
    6f66981dd6d0ad11f49af31055ff69710fda3457c4b7852db2e3936d0778bf879f1734ad3a24ffb1ae9584760b9cb045
    2a53ba0962ffe2f605af52830bd211a5488894cc0b052255048711cd198510a9e943bf8b839198455fbd41073005d303
    990b88d9b63656d43cfec8ed83748f4b0f0fc5120216794b22a054e5bc58abd8c41096070884393453ce509694afbeab
    e0
)");
}

// ------------------------------------------------------------ running a server

ServerHandshake::Options server_options(std::uint32_t version = 0x0D0E0A0D) {
  return {.random = seeded_random(99), .time_ms = 0x00ABCDEF, .version = version};
}

struct ServerRun {
  Bytes output;
  std::size_t consumed = 0;
  bool done = false;
  bool stalled = false;  // a feed left bytes over while neither done nor failed
  std::optional<HandshakeError> error;
  HandshakeScheme scheme = HandshakeScheme::Simple;
};

// Feeds `input` cut at `cuts` (ascending offsets), collecting output after
// every feed, and keeps feeding after completion to see nothing more is taken.
ServerRun run_server(ByteView input, const std::vector<std::size_t>& cuts, ServerHandshake::Options options) {
  ServerHandshake server(std::move(options));
  ServerRun run;
  std::size_t begin = 0;
  auto feed = [&](std::size_t end) {
    const ByteView piece = input.subspan(begin, end - begin);
    const auto r = server.feed(piece);
    run.consumed += r.consumed;
    if (r.error) run.error = r.error;
    if (r.consumed < piece.size() && !server.done() && !r.error) run.stalled = true;
    const Bytes out = server.take_output();
    run.output.insert(run.output.end(), out.begin(), out.end());
    begin = end;
  };
  for (std::size_t cut : cuts) feed(cut);
  feed(input.size());
  run.done = server.done();
  run.scheme = server.scheme();
  return run;
}

ServerRun run_server(ByteView input, ServerHandshake::Options options = server_options()) {
  return run_server(input, {}, std::move(options));
}

ByteView s1_of(const ServerRun& run) { return ByteView(run.output).subspan(1, N); }
ByteView s2_of(const ServerRun& run) { return ByteView(run.output).subspan(1 + N, N); }

// ------------------------------------------------------------ server: simple

TEST(ServerHandshake, SimpleC1GetsZeroVersionS1AndEchoingS2) {
  const Bytes c1 = make_c1(0, std::nullopt);
  const Bytes c2(N, 0x5A);
  const ServerRun run = run_server(concat({kC0, c1, c2}));
  ASSERT_FALSE(run.error);
  EXPECT_TRUE(run.done);
  EXPECT_EQ(run.consumed, 1 + 2 * N);
  EXPECT_EQ(run.scheme, HandshakeScheme::Simple);
  ASSERT_EQ(run.output.size(), 1 + 2 * N);
  EXPECT_EQ(run.output[0], 0x03);
  EXPECT_EQ(to_hex(s1_of(run).first(8)), "00abcdef00000000");  // time, zero version
  EXPECT_EQ(Bytes(s1_of(run).begin() + 8, s1_of(run).end()), random_stream(99, N - 8));
  EXPECT_EQ(Bytes(s2_of(run).begin(), s2_of(run).end()), c1);
}

TEST(ServerHandshake, OutputAppearsOnceC0C1AreInAndDoneOnlyAfterC2) {
  const Bytes input = concat({kC0, make_c1(kFfmpegVersion, Layout::A), Bytes(N, 0)});
  ServerHandshake server(server_options());
  auto r = server.feed(ByteView(input).first(N));  // C0 and all but one byte of C1
  EXPECT_EQ(r.consumed, N);
  EXPECT_TRUE(server.take_output().empty());
  r = server.feed(ByteView(input).subspan(N, 1));
  EXPECT_EQ(r.consumed, 1u);
  EXPECT_EQ(server.take_output().size(), 1 + 2 * N);
  EXPECT_TRUE(server.take_output().empty()) << "output is moved out once";
  EXPECT_FALSE(server.done());
  r = server.feed(ByteView(input).subspan(N + 1, N - 1));
  EXPECT_EQ(r.consumed, N - 1);
  EXPECT_FALSE(server.done());
  r = server.feed(ByteView(input).subspan(2 * N));
  EXPECT_EQ(r.consumed, 1u);
  EXPECT_TRUE(server.done());
  EXPECT_FALSE(r.error);
}

TEST(ServerHandshake, AcceptsAnyC2) {
  // ffmpeg's C2 echoes S1 when it publishes, even after a digest S1.
  for (std::uint8_t fill : std::initializer_list<std::uint8_t>{0x00, 0xFF}) {
    const ServerRun run = run_server(concat({kC0, make_c1(kFfmpegVersion, Layout::B), Bytes(N, fill)}));
    EXPECT_TRUE(run.done);
    EXPECT_FALSE(run.error);
  }
}

TEST(ServerHandshake, LeavesChunkBytesAfterC2) {
  const Bytes chunk = from_hex("03 000000 0000a1 14 00000000 02");
  const Bytes input = concat({kC0, make_c1(0, std::nullopt), Bytes(N, 1), chunk});
  ServerHandshake server(server_options());
  const auto r = server.feed(input);
  EXPECT_EQ(r.consumed, 1 + 2 * N);
  EXPECT_TRUE(server.done());
  EXPECT_EQ(server.feed(chunk).consumed, 0u);
  EXPECT_EQ(server.take_output().size(), 1 + 2 * N);
}

TEST(ServerHandshake, RejectsC0OtherThan3) {
  for (std::uint8_t c0 : std::initializer_list<std::uint8_t>{0x00, 0x06, 0x08, 0xFF}) {  // 6 and 8 are RTMPE
    ServerHandshake server(server_options());
    const Bytes input = concat({Bytes{c0}, make_c1(0, std::nullopt)});
    auto r = server.feed(ByteView(input).first(1));
    ASSERT_TRUE(r.error) << int{c0};
    EXPECT_EQ(*r.error, HandshakeError::BadVersion);
    EXPECT_EQ(r.consumed, 0u);
    r = server.feed(input);
    EXPECT_EQ(r.error, HandshakeError::BadVersion) << "stays failed";
    EXPECT_EQ(r.consumed, 0u);
    EXPECT_TRUE(server.take_output().empty());
    EXPECT_FALSE(server.done());
  }
}

TEST(ServerHandshake, EmptyFeedIsHarmless) {
  ServerHandshake server(server_options());
  const auto r = server.feed({});
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_FALSE(r.error);
  EXPECT_FALSE(server.done());
}

// ------------------------------------------------------------ server: digest

struct DigestCase {
  const char* name;
  Layout layout;
  HandshakeScheme scheme;
};
void PrintTo(const DigestCase& c, std::ostream* os) { *os << c.name; }

class ServerDigest : public testing::TestWithParam<DigestCase> {};

TEST_P(ServerDigest, AnswersInTheClientsLayoutWithVerifiableS1AndS2) {
  const DigestCase& c = GetParam();
  const Bytes c1 = make_c1(kFfmpegVersion, c.layout);
  ASSERT_TRUE(digest_verifies(c1, c.layout, client_key_30())) << "test-side C1 is sound";
  ServerHandshake server(server_options());
  const Bytes c0c1 = concat({kC0, c1});
  EXPECT_EQ(server.feed(c0c1).consumed, 1 + N);
  EXPECT_EQ(server.scheme(), c.scheme);
  EXPECT_EQ(server.client_version(), kFfmpegVersion);
  const Bytes out = server.take_output();
  ASSERT_EQ(out.size(), 1 + 2 * N);
  EXPECT_EQ(out[0], 0x03);
  const ByteView s1 = ByteView(out).subspan(1, N);
  const ByteView s2 = ByteView(out).subspan(1 + N);
  EXPECT_EQ(to_hex(s1.first(8)), "00abcdef0d0e0a0d");
  EXPECT_TRUE(digest_verifies(s1, c.layout, server_key_36()));
  EXPECT_FALSE(digest_verifies(s1, c.layout, client_key_30())) << "S1 is keyed with the server key";
  const Bytes c1_digest = digest_at(c1, digest_pos(c1, c.layout));
  EXPECT_TRUE(signature_verifies(s2, c1_digest, server_key_68()));
  EXPECT_NE(Bytes(s2.begin(), s2.end()), c1) << "not an echo";
}

auto both_layouts() {
  return testing::Values(DigestCase{"DigestFirst", Layout::A, HandshakeScheme::DigestFirst},
                         DigestCase{"KeyFirst", Layout::B, HandshakeScheme::KeyFirst});
}
std::string layout_name(const testing::TestParamInfo<DigestCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Layouts, ServerDigest, both_layouts(), layout_name);

TEST(ServerHandshake, VerifiesARealFfmpegC1) {
  const Bytes c0c1 = ffmpeg_c0c1();
  ASSERT_EQ(c0c1.size(), 1 + N);
  const ByteView c1 = ByteView(c0c1).subspan(1);
  ServerHandshake server(server_options());
  EXPECT_EQ(server.feed(c0c1).consumed, 1 + N);
  EXPECT_EQ(server.scheme(), HandshakeScheme::DigestFirst);
  EXPECT_EQ(server.client_version(), kFfmpegVersion);
  const Bytes out = server.take_output();
  ASSERT_EQ(out.size(), 1 + 2 * N);
  // What ffmpeg checks when it plays: S1's digest (it tries B, then A) and S2's signature.
  EXPECT_TRUE(digest_verifies(ByteView(out).subspan(1, N), Layout::A, server_key_36()));
  EXPECT_TRUE(signature_verifies(ByteView(out).subspan(1 + N), digest_at(c1, digest_pos(c1, Layout::A)),
                                 server_key_68()));
}

Bytes flipped(Bytes b, std::size_t pos) {
  b[pos] ^= 0x01;
  return b;
}

TEST(ServerHandshake, FallsBackToSimpleWhenNoDigestVerifies) {
  const Bytes good_a = make_c1(kFfmpegVersion, Layout::A);
  const Bytes good_b = make_c1(kFfmpegVersion, Layout::B);
  const struct {
    const char* name;
    Bytes c1;
  } cases[] = {
      {"digest byte flipped (A)", flipped(good_a, digest_pos(good_a, Layout::A) + 5)},
      {"body byte flipped (B)", flipped(good_b, 100)},
      {"version without digest", make_c1(kFfmpegVersion, std::nullopt)},
      {"signed with the server key", make_c1(kFfmpegVersion, Layout::A, 11, server_key_36())},
      {"signed with the full client key", make_c1(kFfmpegVersion, Layout::B, 11, client_key_62())},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const ServerRun run = run_server(concat({kC0, c.c1, Bytes(N, 0)}));
    ASSERT_FALSE(run.error);
    EXPECT_TRUE(run.done);
    EXPECT_EQ(run.scheme, HandshakeScheme::Simple);
    // Never a version without a digest: ffmpeg fails "Server response validating failed".
    EXPECT_EQ(to_hex(s1_of(run).first(8)), "00abcdef00000000");
    EXPECT_EQ(Bytes(s2_of(run).begin(), s2_of(run).end()), c.c1);
  }
}

TEST(ServerHandshake, ZeroVersionOptionAlwaysAnswersSimple) {
  const Bytes c1 = make_c1(kFfmpegVersion, Layout::A);
  const ServerRun run = run_server(concat({kC0, c1}), server_options(0));
  EXPECT_EQ(run.scheme, HandshakeScheme::Simple);
  EXPECT_EQ(to_hex(s1_of(run).subspan(4, 4)), "00000000");
  EXPECT_EQ(Bytes(s2_of(run).begin(), s2_of(run).end()), c1);
}

// Every input fed whole, one byte at a time and cut in two at every offset
// gives the same output and consumes exactly C0+C1+C2.
TEST(ServerHandshake, SplitFeedingChangesNothing) {
  const Bytes trailing = from_hex("c3 01 02 03");
  const struct {
    const char* name;
    Bytes c1;
    HandshakeScheme scheme;
  } cases[] = {
      {"simple", make_c1(0, std::nullopt), HandshakeScheme::Simple},
      {"layout A", make_c1(kFfmpegVersion, Layout::A), HandshakeScheme::DigestFirst},
      {"layout B", make_c1(kFfmpegVersion, Layout::B), HandshakeScheme::KeyFirst},
      {"fallback", make_c1(kFfmpegVersion, std::nullopt), HandshakeScheme::Simple},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Bytes input = concat({kC0, c.c1, Bytes(N, 0x77), trailing});
    const ServerRun whole = run_server(input);
    ASSERT_TRUE(whole.done);
    ASSERT_EQ(whole.scheme, c.scheme);
    ASSERT_EQ(whole.consumed, 1 + 2 * N);
    ASSERT_EQ(whole.output.size(), 1 + 2 * N);

    std::vector<std::size_t> every_byte;
    for (std::size_t i = 1; i < input.size(); ++i) every_byte.push_back(i);
    const ServerRun bytewise = run_server(input, every_byte, server_options());
    EXPECT_EQ(bytewise.output, whole.output);
    EXPECT_EQ(bytewise.consumed, whole.consumed);
    EXPECT_TRUE(bytewise.done);
    EXPECT_FALSE(bytewise.stalled);

    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
      const ServerRun split = run_server(input, {cut}, server_options());
      ASSERT_EQ(split.output, whole.output) << "cut at " << cut;
      ASSERT_EQ(split.consumed, whole.consumed) << "cut at " << cut;
      ASSERT_EQ(split.scheme, whole.scheme) << "cut at " << cut;
      ASSERT_TRUE(split.done) << "cut at " << cut;
      ASSERT_FALSE(split.stalled) << "cut at " << cut;
      ASSERT_FALSE(split.error) << "cut at " << cut;
    }
  }
}

// ------------------------------------------------------------ client

ClientHandshake::Options client_options(std::uint32_t version = 0x80000702) {
  return {.random = seeded_random(5), .time_ms = 0x01020304, .version = version};
}

TEST(ClientHandshake, StartSendsLayoutADigestC1) {
  ClientHandshake client(client_options());
  const Bytes c0c1 = client.start();
  ASSERT_EQ(c0c1.size(), 1 + N);
  EXPECT_EQ(c0c1[0], 0x03);
  const ByteView c1 = ByteView(c0c1).subspan(1);
  EXPECT_EQ(to_hex(c1.first(8)), "0102030480000702");
  EXPECT_TRUE(digest_verifies(c1, Layout::A, client_key_30()));
  EXPECT_TRUE(client.start().empty()) << "start() is once";
}

TEST(ClientHandshake, ZeroVersionSendsSimpleC1) {
  ClientHandshake client(client_options(0));
  const Bytes c0c1 = client.start();
  ASSERT_EQ(c0c1.size(), 1 + N);
  EXPECT_EQ(to_hex(ByteView(c0c1).subspan(1, 8)), "0102030400000000");
  EXPECT_EQ(Bytes(c0c1.begin() + 9, c0c1.end()), random_stream(5, N - 8));
}

// A server's S0+S1+S2 built here: S1 with `version` and, given a layout, a
// digest keyed with `key`.
Bytes make_s0s1s2(std::uint32_t version, std::optional<Layout> layout, const Bytes& key = server_key_36()) {
  Bytes s1 = random_stream(23, N);
  put_u32be(s1.data(), 0x00000042);
  put_u32be(s1.data() + 4, version);
  if (layout) {
    const std::size_t pos = digest_pos(s1, *layout);
    const Bytes digest = hmac_sha256(key, without_digest(s1, pos));
    std::copy(digest.begin(), digest.end(), s1.begin() + static_cast<std::ptrdiff_t>(pos));
  }
  return concat({kC0, s1, random_stream(31, N)});
}

struct ClientRun {
  Bytes c2;
  std::size_t consumed = 0;
  bool done = false;
  bool stalled = false;
  std::optional<HandshakeError> error;
  HandshakeScheme scheme = HandshakeScheme::Simple;
};

ClientRun run_client(ByteView s0s1s2, const std::vector<std::size_t>& cuts = {},
                     ClientHandshake::Options options = client_options()) {
  ClientHandshake client(std::move(options));
  client.start();
  ClientRun run;
  std::size_t begin = 0;
  auto feed = [&](std::size_t end) {
    const ByteView piece = s0s1s2.subspan(begin, end - begin);
    const auto r = client.feed(piece);
    run.consumed += r.consumed;
    if (r.error) run.error = r.error;
    if (r.consumed < piece.size() && !client.done() && !r.error) run.stalled = true;
    const Bytes out = client.take_output();
    run.c2.insert(run.c2.end(), out.begin(), out.end());
    begin = end;
  };
  for (std::size_t cut : cuts) feed(cut);
  feed(s0s1s2.size());
  run.done = client.done();
  run.scheme = client.scheme();
  return run;
}

class ClientDigest : public testing::TestWithParam<DigestCase> {};

TEST_P(ClientDigest, AnswersDigestS1WithSignedC2) {
  const DigestCase& c = GetParam();
  const Bytes s0s1s2 = make_s0s1s2(0x04050001, c.layout);
  const ClientRun run = run_client(s0s1s2);
  ASSERT_FALSE(run.error);
  EXPECT_TRUE(run.done);
  EXPECT_EQ(run.scheme, c.scheme);
  EXPECT_EQ(run.consumed, 1 + 2 * N);
  ASSERT_EQ(run.c2.size(), N);
  const ByteView s1 = ByteView(s0s1s2).subspan(1, N);
  EXPECT_TRUE(signature_verifies(run.c2, digest_at(s1, digest_pos(s1, c.layout)), client_key_62()));
}

INSTANTIATE_TEST_SUITE_P(Layouts, ClientDigest, both_layouts(), layout_name);

TEST(ClientHandshake, EchoesS1OfASimpleServer) {
  const Bytes s0s1s2 = make_s0s1s2(0, std::nullopt);
  const ClientRun run = run_client(s0s1s2);
  ASSERT_FALSE(run.error);
  EXPECT_TRUE(run.done);
  EXPECT_EQ(run.scheme, HandshakeScheme::Simple);
  EXPECT_EQ(run.c2, Bytes(s0s1s2.begin() + 1, s0s1s2.begin() + 1 + N));
}

TEST(ClientHandshake, SimpleC1IgnoresS1VersionField) {
  // SRS's simple S1 carries C1's time where the version goes, with no digest.
  const Bytes s0s1s2 = make_s0s1s2(0x01020304, std::nullopt);
  const ClientRun run = run_client(s0s1s2, {}, client_options(0));
  ASSERT_FALSE(run.error);
  EXPECT_TRUE(run.done);
  EXPECT_EQ(run.c2, Bytes(s0s1s2.begin() + 1, s0s1s2.begin() + 1 + N));
}

TEST(ClientHandshake, RejectsS1WhoseDigestDoesNotVerify) {
  const Bytes good = make_s0s1s2(0x04050001, Layout::A);
  const struct {
    const char* name;
    Bytes s0s1s2;
  } cases[] = {
      {"no digest", make_s0s1s2(0x04050001, std::nullopt)},
      {"digest byte flipped", flipped(good, 1 + digest_pos(ByteView(good).subspan(1), Layout::A))},
      {"signed with the client key", make_s0s1s2(0x04050001, Layout::A, client_key_30())},
      {"signed with the full server key", make_s0s1s2(0x04050001, Layout::B, server_key_68())},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ClientHandshake client(client_options());
    client.start();
    auto r = client.feed(c.s0s1s2);
    EXPECT_EQ(r.error, HandshakeError::BadServerResponse);
    EXPECT_EQ(r.consumed, 1 + N) << "reported as soon as S1 is in";
    EXPECT_FALSE(client.done());
    EXPECT_TRUE(client.take_output().empty());
    r = client.feed(c.s0s1s2);
    EXPECT_EQ(r.error, HandshakeError::BadServerResponse) << "stays failed";
    EXPECT_EQ(r.consumed, 0u);
  }
}

TEST(ClientHandshake, RejectsS0OtherThan3) {
  Bytes s0s1s2 = make_s0s1s2(0, std::nullopt);
  s0s1s2[0] = 0x06;
  ClientHandshake client(client_options());
  client.start();
  const auto r = client.feed(s0s1s2);
  EXPECT_EQ(r.error, HandshakeError::BadVersion);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_FALSE(client.done());
}

TEST(ClientHandshake, ConsumesNothingBeforeStart) {
  ClientHandshake client(client_options());
  const auto r = client.feed(make_s0s1s2(0, std::nullopt));
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_FALSE(r.error);
  EXPECT_FALSE(client.done());
}

TEST(ClientHandshake, HoldsC2UntilS2IsIn) {
  const Bytes s0s1s2 = make_s0s1s2(0x04050001, Layout::A);
  ClientHandshake client(client_options());
  client.start();
  EXPECT_EQ(client.feed(ByteView(s0s1s2).first(s0s1s2.size() - 1)).consumed, s0s1s2.size() - 1);
  EXPECT_TRUE(client.take_output().empty());
  EXPECT_FALSE(client.done());
  EXPECT_EQ(client.feed(ByteView(s0s1s2).last(1)).consumed, 1u);
  EXPECT_TRUE(client.done());
  EXPECT_EQ(client.take_output().size(), N);
  EXPECT_TRUE(client.take_output().empty());
}

TEST(ClientHandshake, SplitFeedingChangesNothing) {
  const Bytes trailing = from_hex("02 000000 000004 05 00000000 004c4b40");
  for (const auto& [name, s0s1s2] : {std::pair{"digest A", make_s0s1s2(0x04050001, Layout::A)},
                                     std::pair{"digest B", make_s0s1s2(0x04050001, Layout::B)},
                                     std::pair{"simple", make_s0s1s2(0, std::nullopt)}}) {
    SCOPED_TRACE(name);
    const Bytes input = concat({s0s1s2, trailing});
    const ClientRun whole = run_client(input);
    ASSERT_TRUE(whole.done);
    ASSERT_EQ(whole.consumed, 1 + 2 * N);
    ASSERT_EQ(whole.c2.size(), N);
    std::vector<std::size_t> every_byte;
    for (std::size_t i = 1; i < input.size(); ++i) every_byte.push_back(i);
    const ClientRun bytewise = run_client(input, every_byte);
    EXPECT_EQ(bytewise.c2, whole.c2);
    EXPECT_EQ(bytewise.consumed, whole.consumed);
    EXPECT_FALSE(bytewise.stalled);
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
      const ClientRun split = run_client(input, {cut});
      ASSERT_EQ(split.c2, whole.c2) << "cut at " << cut;
      ASSERT_EQ(split.consumed, whole.consumed) << "cut at " << cut;
      ASSERT_EQ(split.scheme, whole.scheme) << "cut at " << cut;
      ASSERT_TRUE(split.done) << "cut at " << cut;
      ASSERT_FALSE(split.stalled) << "cut at " << cut;
    }
  }
}

// ------------------------------------------------------------ round trips

struct RoundTrip {
  Bytes c0c1, s0s1s2, c2;
  HandshakeScheme server_scheme, client_scheme;
  bool server_done, client_done;
};

RoundTrip round_trip(std::uint32_t client_version) {
  ClientHandshake client(client_options(client_version));
  ServerHandshake server(server_options());
  RoundTrip t;
  t.c0c1 = client.start();
  EXPECT_EQ(server.feed(t.c0c1).consumed, t.c0c1.size());
  t.s0s1s2 = server.take_output();
  const auto r = client.feed(t.s0s1s2);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.consumed, t.s0s1s2.size());
  t.c2 = client.take_output();
  EXPECT_EQ(server.feed(t.c2).consumed, t.c2.size());
  t.server_scheme = server.scheme();
  t.client_scheme = client.scheme();
  t.server_done = server.done();
  t.client_done = client.done();
  return t;
}

TEST(HandshakeRoundTrip, Digest) {
  const RoundTrip t = round_trip(0x80000702);
  EXPECT_TRUE(t.server_done);
  EXPECT_TRUE(t.client_done);
  EXPECT_EQ(t.server_scheme, HandshakeScheme::DigestFirst);
  EXPECT_EQ(t.client_scheme, HandshakeScheme::DigestFirst);
  ASSERT_EQ(t.s0s1s2.size(), 1 + 2 * N);
  ASSERT_EQ(t.c2.size(), N);
  const ByteView c1 = ByteView(t.c0c1).subspan(1);
  const ByteView s1 = ByteView(t.s0s1s2).subspan(1, N);
  EXPECT_TRUE(signature_verifies(ByteView(t.s0s1s2).subspan(1 + N), digest_at(c1, digest_pos(c1, Layout::A)),
                                 server_key_68()));
  EXPECT_TRUE(signature_verifies(t.c2, digest_at(s1, digest_pos(s1, Layout::A)), client_key_62()));
}

TEST(HandshakeRoundTrip, Simple) {
  const RoundTrip t = round_trip(0);
  EXPECT_TRUE(t.server_done);
  EXPECT_TRUE(t.client_done);
  EXPECT_EQ(t.server_scheme, HandshakeScheme::Simple);
  EXPECT_EQ(t.client_scheme, HandshakeScheme::Simple);
  EXPECT_EQ(t.c2, Bytes(t.s0s1s2.begin() + 1, t.s0s1s2.begin() + 1 + N)) << "C2 echoes S1";
  EXPECT_EQ(Bytes(t.s0s1s2.begin() + 1 + N, t.s0s1s2.end()), Bytes(t.c0c1.begin() + 1, t.c0c1.end()))
      << "S2 echoes C1";
}

TEST(HandshakeErrorNames, AreStable) {
  EXPECT_STREQ(to_string(HandshakeError::BadVersion), "BadVersion");
  EXPECT_STREQ(to_string(HandshakeError::BadServerResponse), "BadServerResponse");
}

}  // namespace
}  // namespace rw::rtmp
