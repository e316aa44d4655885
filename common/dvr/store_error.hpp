// The DVR store's one error type. RocksDB statuses become StoreErrors in
// one place (store_error.cpp), so callers match on a short, stable enum and
// never include RocksDB.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rocksdb {
class Status;
}

namespace rw::dvr {

struct StoreError {
  enum class Code : std::uint8_t {
    NotFound,         // no such stream (for the calls that need one)
    InvalidArgument,  // a segment out of order, of another recording, or not whole FLV tags
    Corruption,       // stored bytes that do not parse, or RocksDB found a bad checksum
    IoError,          // the disk failed (other than full)
    NoSpace,          // the disk is full: the Recorder answers NetStream.Record.Failed
    Busy,             // RocksDB asked to try again (timeouts, lock contention)
    ReadOnly,         // a write to a store opened as a secondary reader
    NotSupported,
    Other,
  };
  Code code = Code::Other;
  std::string message;

  // "NoSpace: append_segment live/cam1: IO error: No space left on device..."
  std::string describe() const;
};

const char* to_string(StoreError::Code code);

// The conversion: `context` says what was being done ("append_segment
// live/cam1"). s must not be ok().
StoreError store_error(const rocksdb::Status& s, std::string_view context);

}  // namespace rw::dvr
