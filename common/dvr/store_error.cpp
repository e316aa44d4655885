#include "common/dvr/store_error.hpp"

#include <rocksdb/status.h>

namespace rw::dvr {
namespace {

StoreError::Code code_of(const rocksdb::Status& s) {
  using Code = StoreError::Code;
  // Disk full comes as an IOError with subcode kNoSpace from RocksDB's own
  // checks, but as a plain IOError carrying strerror(ENOSPC) when a write(2)
  // fails (PosixWritableFile), so look at the message too.
  if (s.IsNoSpace() || s.ToString().find("No space left") != std::string::npos) return Code::NoSpace;
  switch (s.code()) {
    case rocksdb::Status::kNotFound: return Code::NotFound;
    case rocksdb::Status::kCorruption: return Code::Corruption;
    case rocksdb::Status::kInvalidArgument: return Code::InvalidArgument;
    case rocksdb::Status::kNotSupported: return Code::NotSupported;
    case rocksdb::Status::kIOError: return Code::IoError;
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kTryAgain: return Code::Busy;
    default: return Code::Other;
  }
}

}  // namespace

const char* to_string(StoreError::Code code) {
  switch (code) {
    case StoreError::Code::NotFound: return "NotFound";
    case StoreError::Code::InvalidArgument: return "InvalidArgument";
    case StoreError::Code::Corruption: return "Corruption";
    case StoreError::Code::IoError: return "IoError";
    case StoreError::Code::NoSpace: return "NoSpace";
    case StoreError::Code::Busy: return "Busy";
    case StoreError::Code::ReadOnly: return "ReadOnly";
    case StoreError::Code::NotSupported: return "NotSupported";
    case StoreError::Code::Other: return "Other";
  }
  return "?";
}

std::string StoreError::describe() const {
  std::string out = to_string(code);
  out += ": ";
  out += message;
  return out;
}

StoreError store_error(const rocksdb::Status& s, std::string_view context) {
  std::string message(context);
  message += ": ";
  message += s.ToString();
  return {code_of(s), std::move(message)};
}

}  // namespace rw::dvr
