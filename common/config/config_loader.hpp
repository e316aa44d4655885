// Loads a role's configuration: the defaults in proto/config.proto, then
// the file given by --config (or REWIND_CONFIG), then REWIND_* environment
// variables, then flags, and validates the result. Every error names the
// key, where its value came from, and what is wrong with it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/expected.hpp"
#include "proto/config.pb.h"

namespace rw::config {

struct Loaded {
  Config config;
  bool help = false;  // --help was given: print help_text() and exit
};

// args: the command line without the program name. env: the process
// environment (only REWIND_* entries matter).
Expected<Loaded, std::string> load(const std::vector<std::string>& args,
                                   const std::map<std::string, std::string>& env);

// Every setting with its flag, environment variable, default and meaning.
std::string help_text(std::string_view program, std::string_view summary);

// Checks values a schema cannot (ranges, address syntax, names). `sources`
// maps a key to where its value came from, for the message.
Expected<void, std::string> validate(const Config& config, const std::map<std::string, std::string>& sources);

// "HOST:PORT" -> host and port; false when malformed.
bool parse_host_port(std::string_view text, std::string& host, std::uint16_t& port);

}  // namespace rw::config
