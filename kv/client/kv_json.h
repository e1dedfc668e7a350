// Castor's wire types as JSON, spelled one way for the HTTP API (docs/HTTP.md) and castorctl's
// `-w json`.
//
// JSON strings are Unicode, while Castor keys and values are bytes: set_bytes() writes
// "name":"text" when the bytes are valid UTF-8, and otherwise "name_base64":"..." (standard
// base64, raft/base/base64.h), so that any value survives the trip exactly and jq users see
// text keys as text (Consul's KV API does the same).
//
// What it does NOT do: read JSON back (the HTTP API's txn parser does) or choose what a
// command prints around these pieces.
#pragma once

#include <string>
#include <string_view>

#include "kv/kv.pb.h"
#include "raft/base/json.h"

namespace castor::kv {

// Sets obj[name] to the bytes as text, or obj[name + "_base64"] to their base64.
void set_bytes(Json& obj, const std::string& name, std::string_view bytes);

// {"key", "value" (unless keys_only), "create_revision", "mod_revision", "version"}.
Json kv_json(const pb::KeyValue& kv, bool keys_only = false);
Json kvs_json(const google::protobuf::RepeatedPtrField<pb::KeyValue>& kvs, bool keys_only = false);

// A watch event: {"type": "PUT" or "DELETE", "kv", "prev_kv" (when the watch asked for it)}.
// A DELETE's kv has the key and the revision of the delete, no value.
Json event_json(const pb::Event& event);

// {"revision", "term", "leader", "node"}.
Json header_json(const pb::ResponseHeader& header);

}  // namespace castor::kv
