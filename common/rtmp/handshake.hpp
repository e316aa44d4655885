// The RTMP handshake, simple and complex (docs/protocol.md, "Handshake").
//
// Sans-I/O: feed() consumes bytes from the peer and take_output() returns
// bytes to send. Randomness comes from the caller so tests are repeatable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "common/base/bytes.hpp"

namespace rw::rtmp {

inline constexpr std::size_t kHandshakeSize = 1536;

enum class HandshakeError {
  BadVersion,         // C0/S0 is not 3
  BadServerResponse,  // client side: S1 claims a digest that does not verify
};
const char* to_string(HandshakeError e);

// Fills the span with random bytes.
using RandomFill = std::function<void(std::span<std::uint8_t>)>;

enum class HandshakeScheme {
  Simple,         // no digest (C1 version zero, or no digest verified)
  DigestFirst,    // layout A: digest block then key block (ffmpeg, librtmp)
  KeyFirst,       // layout B: key block then digest block
};

class ServerHandshake {
 public:
  struct Options {
    RandomFill random;
    std::uint32_t time_ms = 0;                     // S1 time field
    std::uint32_t version = 0x0D0E0A0D;            // S1 version when answering a digest C1
                                                   // (zero: always answer simple)
  };
  explicit ServerHandshake(Options options);

  struct FeedResult {
    std::size_t consumed = 0;
    std::optional<HandshakeError> error;
  };
  // Consumes C0+C1, then C2. Bytes after C2 are not consumed: they belong to
  // the chunk stream.
  FeedResult feed(ByteView in);
  // S0+S1+S2 once C0+C1 have arrived; empty otherwise. Moves the bytes out.
  Bytes take_output();
  bool done() const;
  HandshakeScheme scheme() const;
  // C1's version field (ffmpeg writes 9.0.124.2, Flash Player its own
  // version, simple clients zero); for logs. Zero until C1 has arrived.
  std::uint32_t client_version() const { return client_version_; }

 private:
  enum class State { AwaitC0, AwaitC1, AwaitC2, Done, Failed };
  void answer(ByteView c1);

  Options options_;
  Bytes partial_c1_;  // C1 bytes while it arrives in pieces
  Bytes output_;
  std::size_t c2_remaining_ = kHandshakeSize;
  std::uint32_t client_version_ = 0;
  HandshakeScheme scheme_ = HandshakeScheme::Simple;
  State state_ = State::AwaitC0;
};

class ClientHandshake {
 public:
  struct Options {
    RandomFill random;
    std::uint32_t time_ms = 0;
    // Client version written in C1. Non-zero sends a digest (layout A),
    // which Flash-era servers expect; zero sends a simple handshake.
    std::uint32_t version = 0x80000702;  // what Flash Player 9 wrote
  };
  explicit ClientHandshake(Options options);

  // C0+C1; call once before feeding (feed() consumes nothing until then).
  Bytes start();
  // Consumes S0+S1+S2; when complete, take_output() returns C2.
  struct FeedResult {
    std::size_t consumed = 0;
    std::optional<HandshakeError> error;
  };
  FeedResult feed(ByteView in);
  Bytes take_output();
  bool done() const;
  // Simple unless the server answered with an S1 digest, then its layout.
  HandshakeScheme scheme() const { return scheme_; }

 private:
  enum class State { NotStarted, AwaitS0, AwaitS1, AwaitS2, Done, Failed };
  void answer(ByteView s1);

  Options options_;
  Bytes partial_s1_;  // S1 bytes while it arrives in pieces
  Bytes output_;      // C2, handed out once S2 has been consumed
  std::size_t s2_remaining_ = kHandshakeSize;
  bool sent_digest_ = false;
  HandshakeScheme scheme_ = HandshakeScheme::Simple;
  std::optional<HandshakeError> error_;
  State state_ = State::NotStarted;
};

}  // namespace rw::rtmp
