#include "common/amf/value.hpp"

#include <charconv>
#include <cmath>

namespace rw::amf {

Object::Object(std::initializer_list<Property> props) : properties(props) {}

const Value* Object::find(std::string_view key) const {
  for (const Property& p : properties) {
    if (p.key == key) return &p.value;
  }
  return nullptr;
}

Value* Object::find(std::string_view key) {
  for (Property& p : properties) {
    if (p.key == key) return &p.value;
  }
  return nullptr;
}

Object& Object::set(std::string key, Value value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
  } else {
    properties.push_back({std::move(key), std::move(value)});
  }
  return *this;
}

bool Object::operator==(const Object& other) const {
  return class_name == other.class_name && properties == other.properties && sealed_count == other.sealed_count &&
         dynamic == other.dynamic && externalizable == other.externalizable;
}

const Value* Array::find(std::string_view key) const {
  for (const Property& p : assoc) {
    if (p.key == key) return &p.value;
  }
  return nullptr;
}

bool Array::operator==(const Array& other) const {
  return dense == other.dense && assoc == other.assoc && ecma == other.ecma;
}

bool Vector::operator==(const Vector& other) const {
  return kind == other.kind && fixed == other.fixed && type_name == other.type_name && items == other.items;
}

bool Dictionary::operator==(const Dictionary& other) const {
  return weak_keys == other.weak_keys && entries == other.entries;
}

double Value::as_number(double fallback) const {
  if (const double* d = std::get_if<double>(&v_)) return *d;
  if (const std::int32_t* i = std::get_if<std::int32_t>(&v_)) return *i;
  return fallback;
}

std::optional<std::uint32_t> Value::as_uint32() const {
  if (const auto* i = std::get_if<std::int32_t>(&v_)) {
    if (*i < 0) return std::nullopt;
    return static_cast<std::uint32_t>(*i);
  }
  const auto* d = std::get_if<double>(&v_);
  // The comparisons are false for NaN.
  if (!d || !(*d >= 0 && *d <= 4294967295.0) || *d != std::floor(*d)) return std::nullopt;
  return static_cast<std::uint32_t>(*d);
}

std::optional<std::uint64_t> Value::as_uint64() const {
  if (const auto* i = std::get_if<std::int32_t>(&v_)) {
    if (*i < 0) return std::nullopt;
    return static_cast<std::uint64_t>(*i);
  }
  const auto* d = std::get_if<double>(&v_);
  if (!d || !(*d >= 0 && *d <= 9007199254740992.0) || *d != std::floor(*d)) return std::nullopt;
  return static_cast<std::uint64_t>(*d);
}

bool Value::as_bool(bool fallback) const {
  if (const bool* b = std::get_if<bool>(&v_)) return *b;
  return fallback;
}

std::string_view Value::as_string(std::string_view fallback) const {
  if (const std::string* s = std::get_if<std::string>(&v_)) return *s;
  return fallback;
}

const Value* Value::find(std::string_view key) const {
  if (const Object* o = as_object()) return o->find(key);
  if (const Array* a = as_array()) return a->find(key);
  return nullptr;
}

namespace {

// Renders values for logs: strings and byte arrays are cut short, and the
// whole rendering stops after kMaxOutput characters.
class DebugPrinter {
 public:
  std::string take() && { return std::move(out_); }

  void value(const Value& v) {
    if (full()) return;
    std::visit([this](const auto& x) { write(x); }, v.storage());
  }

 private:
  static constexpr std::size_t kMaxOutput = 4096;
  static constexpr std::size_t kMaxString = 256;
  static constexpr std::size_t kMaxBytes = 32;

  bool full() {
    if (out_.size() < kMaxOutput) return false;
    if (!truncated_) out_ += "...";
    truncated_ = true;
    return true;
  }

  void write(const Undefined&) { out_ += "undefined"; }
  void write(const Null&) { out_ += "null"; }
  void write(bool b) { out_ += b ? "true" : "false"; }
  void write(double d) { number(d); }
  void write(std::int32_t i) { number(i); }
  void write(const std::string& s) { quoted(s); }
  void write(const Date& d) {
    out_ += "Date(";
    number(d.ms);
    if (d.timezone != 0) {
      out_ += ", tz ";
      number(d.timezone);
    }
    out_ += ')';
  }
  void write(const Xml& x) {
    out_ += x.document ? "XMLDocument(" : "XML(";
    quoted(x.text);
    out_ += ')';
  }
  void write(const ByteArray& b) {
    static constexpr char digits[] = "0123456789abcdef";
    out_ += "ByteArray(";
    number(b.bytes.size());
    out_ += ": ";
    for (std::size_t i = 0; i < b.bytes.size() && i < kMaxBytes; ++i) {
      out_ += digits[b.bytes[i] >> 4];
      out_ += digits[b.bytes[i] & 15];
    }
    if (b.bytes.size() > kMaxBytes) out_ += "...";
    out_ += ')';
  }
  void write(const Object& o) {
    if (!o.class_name.empty()) {
      out_ += o.class_name;
      out_ += ' ';
    }
    out_ += '{';
    properties(o.properties, true);
    out_ += '}';
  }
  void write(const Array& a) {
    out_ += '[';
    bool first = true;
    for (const Value& item : a.dense) {
      if (full()) return;
      if (!first) out_ += ", ";
      first = false;
      value(item);
    }
    if (!a.assoc.empty() && !first) out_ += ", ";
    properties(a.assoc, true);
    out_ += ']';
  }
  void write(const Vector& v) {
    switch (v.kind) {
      case Vector::Kind::Int: out_ += "Vector.<int>"; break;
      case Vector::Kind::Uint: out_ += "Vector.<uint>"; break;
      case Vector::Kind::Double: out_ += "Vector.<Number>"; break;
      case Vector::Kind::Object:
        out_ += "Vector.<";
        out_ += v.type_name.empty() ? std::string_view("*") : std::string_view(v.type_name);
        out_ += '>';
        break;
    }
    out_ += '[';
    for (std::size_t i = 0; i < v.items.size(); ++i) {
      if (full()) return;
      if (i > 0) out_ += ", ";
      value(v.items[i]);
    }
    out_ += ']';
  }
  void write(const Dictionary& d) {
    out_ += "Dictionary{";
    for (std::size_t i = 0; i < d.entries.size(); ++i) {
      if (full()) return;
      if (i > 0) out_ += ", ";
      value(d.entries[i].key);
      out_ += " => ";
      value(d.entries[i].value);
    }
    out_ += '}';
  }

  void properties(const std::vector<Property>& props, bool first) {
    for (const Property& p : props) {
      if (full()) return;
      if (!first) out_ += ", ";
      first = false;
      key(p.key);
      out_ += ": ";
      value(p.value);
    }
  }
  void key(std::string_view k) {
    bool plain = !k.empty();
    for (char c : k) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '$' || c == '@' || c == '|' || c == '.';
      plain = plain && ok;
    }
    if (plain) out_ += k;
    else quoted(k);
  }
  void quoted(std::string_view s) {
    static constexpr char digits[] = "0123456789abcdef";
    out_ += '"';
    for (std::size_t i = 0; i < s.size() && i < kMaxString; ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += static_cast<char>(c);
      } else if (c == '\n') {
        out_ += "\\n";
      } else if (c < 0x20 || c == 0x7F) {
        out_ += "\\x";
        out_ += digits[c >> 4];
        out_ += digits[c & 15];
      } else {
        out_ += static_cast<char>(c);
      }
    }
    if (s.size() > kMaxString) {
      out_ += "\"...(";
      number(s.size());
      out_ += " bytes)";
    } else {
      out_ += '"';
    }
  }
  template <class T>
  void number(T n) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    if (ec == std::errc()) out_.append(buf, end);
  }

  std::string out_;
  bool truncated_ = false;
};

}  // namespace

std::string to_debug_string(const Value& v) {
  DebugPrinter printer;
  printer.value(v);
  return std::move(printer).take();
}

}  // namespace rw::amf
