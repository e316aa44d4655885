// The reference tables and budgets of one message body. Internal to
// common/amf: Amf0Reader holds one so that every value it reads, and every
// AMF3 value after a 0x11 switch, shares them.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace rw::amf::detail {

// A complex value in a reference table, by the offset of its type marker.
// A reference is resolved by decoding the value again from there, so
// nothing is copied unless a reference asks for it. `complete` stays false
// while the value is being decoded: a reference to it then is a cycle.
struct TableEntry {
  std::size_t offset = 0;
  bool complete = false;
};

// AMF3 traits: the class of an object and its sealed member names.
struct Traits {
  std::string_view class_name;
  std::vector<std::string_view> sealed_names;
  bool dynamic = false;
  bool externalizable = false;
};

struct DecodeState {
  std::size_t elements = 0;  // values decoded so far, references' copies included
  std::size_t bytes = 0;     // string, key and byte-array bytes decoded so far
  std::vector<TableEntry> amf0_objects;
  // Strings and traits point into the body, which outlives the decoding.
  std::vector<std::string_view> amf3_strings;
  std::vector<TableEntry> amf3_objects;
  std::vector<Traits> amf3_traits;
};

}  // namespace rw::amf::detail
