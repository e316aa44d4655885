// The RTMP handshake, simple and complex (PROTOCOL.md section 1).
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

 private:
  Options options_;
  Bytes input_;
  Bytes output_;
  HandshakeScheme scheme_ = HandshakeScheme::Simple;
  int state_ = 0;
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

  // C0+C1; call once before feeding.
  Bytes start();
  // Consumes S0+S1+S2; when complete, take_output() returns C2.
  struct FeedResult {
    std::size_t consumed = 0;
    std::optional<HandshakeError> error;
  };
  FeedResult feed(ByteView in);
  Bytes take_output();
  bool done() const;

 private:
  Options options_;
  Bytes c1_;
  Bytes input_;
  Bytes output_;
  int state_ = 0;
};

}  // namespace rw::rtmp
