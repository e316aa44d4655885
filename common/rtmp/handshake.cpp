#include "common/rtmp/handshake.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <memory>
#include <utility>

namespace rw::rtmp {
namespace {

constexpr std::uint8_t kRtmpVersion = 3;  // C0/S0; 6 would be RTMPE, which we don't speak
constexpr std::size_t kDigestSize = 32;   // SHA-256
// S2 (and C2) for a digest handshake: this many random bytes, then their HMAC.
constexpr std::size_t kSignedPartSize = kHandshakeSize - kDigestSize;

using Digest = std::array<std::uint8_t, kDigestSize>;

// The Adobe keys are an ASCII text followed by the same 32 bytes. C1 and S1
// digests are keyed with the text alone; S2 and C2 use the whole key.
template <std::size_t N>
constexpr std::array<std::uint8_t, N - 1 + 32> adobe_key(const char (&text)[N]) {
  constexpr std::array<std::uint8_t, 32> kSuffix = {
      0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
      0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE};
  std::array<std::uint8_t, N - 1 + 32> key{};
  for (std::size_t i = 0; i < N - 1; ++i) key[i] = static_cast<std::uint8_t>(text[i]);
  for (std::size_t i = 0; i < kSuffix.size(); ++i) key[N - 1 + i] = kSuffix[i];
  return key;
}
constexpr auto kClientKey = adobe_key("Genuine Adobe Flash Player 001");
constexpr auto kServerKey = adobe_key("Genuine Adobe Flash Media Server 001");
static_assert(kClientKey.size() == 62 && kServerKey.size() == 68);
constexpr ByteView kClientKeyText{kClientKey.data(), 30};
constexpr ByteView kServerKeyText{kServerKey.data(), 36};

// HMAC-SHA256 through OpenSSL 3's EVP_MAC (HMAC_CTX is deprecated there).
// The algorithm is fetched once per handshake, not once per digest.
class HmacSha256 {
 public:
  HmacSha256() : mac_(EVP_MAC_fetch(nullptr, "HMAC", nullptr)) {}

  // The HMAC of the parts concatenated; nothing only if OpenSSL fails
  // (out of memory), which callers treat as "no digest".
  std::optional<Digest> operator()(ByteView key, std::initializer_list<ByteView> parts) const {
    if (!mac_) return std::nullopt;
    std::unique_ptr<EVP_MAC_CTX, CtxFree> ctx(EVP_MAC_CTX_new(mac_.get()));
    if (!ctx) return std::nullopt;
    char digest_name[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                                 OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) return std::nullopt;
    for (ByteView part : parts) {
      if (EVP_MAC_update(ctx.get(), part.data(), part.size()) != 1) return std::nullopt;
    }
    Digest out{};
    std::size_t length = 0;
    if (EVP_MAC_final(ctx.get(), out.data(), &length, out.size()) != 1 || length != out.size()) {
      return std::nullopt;
    }
    return out;
  }

 private:
  struct MacFree {
    void operator()(EVP_MAC* m) const { EVP_MAC_free(m); }
  };
  struct CtxFree {
    void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
  };
  std::unique_ptr<EVP_MAC, MacFree> mac_;
};

// Where the 32-byte digest sits in a 1536-byte C1 or S1. The four bytes
// before the digest's block pick its position: bytes 8..11 in layout A
// (digest block first), 772..775 in layout B (key block first).
std::size_t digest_offset(ByteView block, HandshakeScheme layout) {
  const std::size_t base = layout == HandshakeScheme::KeyFirst ? 772 : 8;
  const unsigned sum = 0u + block[base] + block[base + 1] + block[base + 2] + block[base + 3];
  return sum % 728 + base + 4;
}

// The digest a block should carry at `offset`: the HMAC of the other 1504 bytes.
std::optional<Digest> compute_block_digest(const HmacSha256& hmac, ByteView block, std::size_t offset,
                                           ByteView key) {
  return hmac(key, {block.first(offset), block.subspan(offset + kDigestSize)});
}

bool has_digest(const HmacSha256& hmac, ByteView block, HandshakeScheme layout, ByteView key) {
  const std::size_t offset = digest_offset(block, layout);
  const auto expected = compute_block_digest(hmac, block, offset, key);
  return expected && CRYPTO_memcmp(expected->data(), block.data() + offset, kDigestSize) == 0;
}

// The layout whose digest verifies, if any. ffmpeg and librtmp use layout A
// for plain RTMP, so it is tried first.
std::optional<HandshakeScheme> find_digest(const HmacSha256& hmac, ByteView block, ByteView key) {
  for (HandshakeScheme layout : {HandshakeScheme::DigestFirst, HandshakeScheme::KeyFirst}) {
    if (has_digest(hmac, block, layout, key)) return layout;
  }
  return std::nullopt;
}

// Writes the block's digest in place; the rest of the block must be final.
bool sign_block(const HmacSha256& hmac, std::span<std::uint8_t> block, HandshakeScheme layout, ByteView key) {
  const std::size_t offset = digest_offset(block, layout);
  const auto digest = compute_block_digest(hmac, block, offset, key);
  if (!digest) return false;
  std::copy(digest->begin(), digest->end(), block.begin() + static_cast<std::ptrdiff_t>(offset));
  return true;
}

void fill_random(const RandomFill& random, std::span<std::uint8_t> out) {
  // Options without a generator leave zeros rather than crash; the servers
  // always pass one.
  if (random) random(out);
}

// S2 answering a digest C1, or C2 answering a digest S1: random bytes
// signed with a key derived from the peer's digest, which proves we read it.
bool write_digest_response(const HmacSha256& hmac, const RandomFill& random, std::span<std::uint8_t> out,
                           ByteView peer_digest, ByteView full_key) {
  const auto signed_part = out.first(kSignedPartSize);
  fill_random(random, signed_part);
  const auto key = hmac(full_key, {peer_digest});
  if (!key) return false;
  const auto signature = hmac(*key, {signed_part});
  if (!signature) return false;
  std::copy(signature->begin(), signature->end(), out.begin() + kSignedPartSize);
  return true;
}

// Collects a `size`-byte block from `in` starting at `pos`. Once the block
// is complete, returns a view of it: straight from `in` when it arrived in
// one piece, else from `partial`, which the caller clears after use.
std::optional<ByteView> collect(Bytes& partial, ByteView in, std::size_t& pos, std::size_t size) {
  const ByteView rest = in.subspan(pos);
  if (partial.empty() && rest.size() >= size) {
    pos += size;
    return rest.first(size);
  }
  const std::size_t n = std::min(size - partial.size(), rest.size());
  partial.insert(partial.end(), rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(n));
  pos += n;
  if (partial.size() < size) return std::nullopt;
  return ByteView(partial);
}

std::uint32_t version_field(ByteView block) { return get_u32be(block.data() + 4); }

}  // namespace

const char* to_string(HandshakeError e) {
  switch (e) {
    case HandshakeError::BadVersion:
      return "BadVersion";
    case HandshakeError::BadServerResponse:
      return "BadServerResponse";
  }
  return "unknown";
}

// ---------------------------------------------------------------- server

ServerHandshake::ServerHandshake(Options options) : options_(std::move(options)) {}

ServerHandshake::FeedResult ServerHandshake::feed(ByteView in) {
  std::size_t pos = 0;
  for (;;) {
    switch (state_) {
      case State::AwaitC0:
        if (pos == in.size()) return {pos, std::nullopt};
        if (in[pos] != kRtmpVersion) {
          state_ = State::Failed;
          return {pos, HandshakeError::BadVersion};
        }
        ++pos;
        state_ = State::AwaitC1;
        break;
      case State::AwaitC1: {
        const auto c1 = collect(partial_c1_, in, pos, kHandshakeSize);
        if (!c1) return {pos, std::nullopt};
        answer(*c1);
        partial_c1_ = Bytes{};  // release the buffer, the connection lives on
        state_ = State::AwaitC2;
        break;
      }
      case State::AwaitC2: {
        // C2 is skipped unchecked: ffmpeg, when it publishes, echoes S1 even
        // after a digest handshake instead of signing it.
        const std::size_t n = std::min(c2_remaining_, in.size() - pos);
        pos += n;
        c2_remaining_ -= n;
        if (c2_remaining_ > 0) return {pos, std::nullopt};
        state_ = State::Done;
        break;
      }
      case State::Done:
        return {pos, std::nullopt};
      case State::Failed:
        return {pos, HandshakeError::BadVersion};
    }
  }
}

void ServerHandshake::answer(ByteView c1) {
  client_version_ = version_field(c1);
  output_.assign(1 + 2 * kHandshakeSize, 0);
  output_[0] = kRtmpVersion;
  const auto s1 = std::span(output_).subspan(1, kHandshakeSize);
  put_u32be(s1.data(), options_.time_ms);
  fill_random(options_.random, s1.subspan(8));

  if (client_version_ != 0 && options_.version != 0) {
    const HmacSha256 hmac;
    if (const auto layout = find_digest(hmac, c1, kClientKeyText)) {
      // Answer in the client's layout: Flash Player looks for S1's digest
      // where it put its own.
      put_u32be(s1.data() + 4, options_.version);
      const ByteView c1_digest = c1.subspan(digest_offset(c1, *layout), kDigestSize);
      const auto s2 = std::span(output_).subspan(1 + kHandshakeSize);
      if (sign_block(hmac, s1, *layout, kServerKeyText) &&
          write_digest_response(hmac, options_.random, s2, c1_digest, kServerKey)) {
        scheme_ = *layout;
        return;
      }
    }
  }
  // Simple handshake, also when C1 claims a version but has no digest we
  // can verify. S1's version must then be zero: ffmpeg checks a digest in
  // any S1 whose version is set and gives up if it finds none.
  scheme_ = HandshakeScheme::Simple;
  put_u32be(s1.data() + 4, 0);
  std::copy(c1.begin(), c1.end(), output_.begin() + 1 + kHandshakeSize);
}

Bytes ServerHandshake::take_output() { return std::exchange(output_, Bytes{}); }

bool ServerHandshake::done() const { return state_ == State::Done; }

HandshakeScheme ServerHandshake::scheme() const { return scheme_; }

// ---------------------------------------------------------------- client

ClientHandshake::ClientHandshake(Options options) : options_(std::move(options)) {}

Bytes ClientHandshake::start() {
  if (state_ != State::NotStarted) return {};
  Bytes out(1 + kHandshakeSize, 0);
  out[0] = kRtmpVersion;
  const auto c1 = std::span(out).subspan(1);
  put_u32be(c1.data(), options_.time_ms);
  fill_random(options_.random, c1.subspan(8));
  if (options_.version != 0) {
    // Layout A, as Flash Player, ffmpeg and librtmp send it.
    put_u32be(c1.data() + 4, options_.version);
    sent_digest_ = sign_block(HmacSha256{}, c1, HandshakeScheme::DigestFirst, kClientKeyText);
    // Never claim a version without a digest (see the server side).
    if (!sent_digest_) put_u32be(c1.data() + 4, 0);
  }
  state_ = State::AwaitS0;
  return out;
}

ClientHandshake::FeedResult ClientHandshake::feed(ByteView in) {
  std::size_t pos = 0;
  for (;;) {
    switch (state_) {
      case State::NotStarted:
        return {pos, std::nullopt};
      case State::AwaitS0:
        if (pos == in.size()) return {pos, std::nullopt};
        if (in[pos] != kRtmpVersion) {
          error_ = HandshakeError::BadVersion;
          state_ = State::Failed;
          return {pos, error_};
        }
        ++pos;
        state_ = State::AwaitS1;
        break;
      case State::AwaitS1: {
        const auto s1 = collect(partial_s1_, in, pos, kHandshakeSize);
        if (!s1) return {pos, std::nullopt};
        answer(*s1);
        partial_s1_ = Bytes{};
        if (error_) {
          state_ = State::Failed;
          return {pos, error_};
        }
        state_ = State::AwaitS2;
        break;
      }
      case State::AwaitS2: {
        // S2 is not checked, as librtmp doesn't: the server proved nothing we
        // need, and the chunk stream tells soon enough if it is broken.
        const std::size_t n = std::min(s2_remaining_, in.size() - pos);
        pos += n;
        s2_remaining_ -= n;
        if (s2_remaining_ > 0) return {pos, std::nullopt};
        state_ = State::Done;
        break;
      }
      case State::Done:
        return {pos, std::nullopt};
      case State::Failed:
        return {pos, error_};
    }
  }
}

void ClientHandshake::answer(ByteView s1) {
  output_.assign(kHandshakeSize, 0);
  // Only a server answering our digest has to prove itself. After a simple
  // C1 the version field means nothing: SRS's simple S1 carries C1's time
  // there.
  if (sent_digest_ && version_field(s1) != 0) {
    const HmacSha256 hmac;
    const auto layout = find_digest(hmac, s1, kServerKeyText);
    if (!layout) {
      error_ = HandshakeError::BadServerResponse;
      return;
    }
    const ByteView s1_digest = s1.subspan(digest_offset(s1, *layout), kDigestSize);
    if (write_digest_response(hmac, options_.random, output_, s1_digest, kClientKey)) {
      scheme_ = *layout;
      return;
    }
  }
  scheme_ = HandshakeScheme::Simple;
  std::copy(s1.begin(), s1.end(), output_.begin());
}

Bytes ClientHandshake::take_output() {
  if (state_ != State::Done) return {};
  return std::exchange(output_, Bytes{});
}

bool ClientHandshake::done() const { return state_ == State::Done; }

}  // namespace rw::rtmp
