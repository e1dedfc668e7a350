// JsonWriter: builds one compact JSON text (no spaces, one line) for `castorctl -w json`.
//
//   JsonWriter j;
//   j.begin_object().key("revision").number(42).bytes_field("key", k).end_object();
//
// JSON strings are Unicode, while Castor keys and values are bytes. bytes_field() writes
// "name":"text" when the bytes are valid UTF-8, and otherwise "name_base64":"..." (standard
// base64), so that any value survives the trip exactly and jq users see text keys as text.
// string() is for text (names, messages): bytes that are not UTF-8 become U+FFFD.
//
// What it does NOT do: check that the calls nest properly (the caller's job), or pretty-print.
// Not thread-safe; one writer per output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace castor::tools {

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  // The name of the next member of the current object.
  JsonWriter& key(std::string_view name);
  JsonWriter& string(std::string_view text);
  JsonWriter& number(uint64_t n);
  JsonWriter& boolean(bool b);
  // key(name) then the bytes when they are valid UTF-8, else key(name + "_base64") then their
  // base64 (raft/base/base64.h), so binary keys and values survive JSON.
  JsonWriter& bytes_field(std::string_view name, std::string_view bytes);

  const std::string& str() const { return out_; }

 private:
  // Writes the comma that separates this value from the previous one, if any.
  void separate();

  std::string out_;
  std::vector<bool> first_;  // per open object or array: nothing written in it yet
  bool after_key_ = false;
};

}  // namespace castor::tools
