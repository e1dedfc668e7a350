#include "kv/client/kv_json.h"

#include "raft/base/base64.h"

namespace castor::kv {

void set_bytes(Json& obj, const std::string& name, std::string_view bytes) {
  if (is_valid_utf8(bytes)) {
    obj[name] = std::string(bytes);
  } else {
    obj[name + "_base64"] = base64_encode(bytes);
  }
}

Json kv_json(const pb::KeyValue& kv, bool keys_only) {
  Json j = Json::object();
  set_bytes(j, "key", kv.key());
  if (!keys_only) set_bytes(j, "value", kv.value());
  j["create_revision"] = kv.create_revision();
  j["mod_revision"] = kv.mod_revision();
  j["version"] = kv.version();
  return j;
}

Json kvs_json(const google::protobuf::RepeatedPtrField<pb::KeyValue>& kvs, bool keys_only) {
  Json a = Json::array();
  for (const pb::KeyValue& kv : kvs) a.push_back(kv_json(kv, keys_only));
  return a;
}

Json event_json(const pb::Event& event) {
  const bool deleted = event.type() == pb::Event::DELETE;
  Json j = Json::object();
  j["type"] = deleted ? "DELETE" : "PUT";
  j["kv"] = kv_json(event.kv(), /*keys_only=*/deleted);
  if (event.has_prev_kv()) j["prev_kv"] = kv_json(event.prev_kv());
  return j;
}

Json header_json(const pb::ResponseHeader& h) {
  Json j = Json::object();
  j["revision"] = h.revision();
  j["term"] = h.term();
  j["leader"] = h.leader();
  j["node"] = h.node();
  return j;
}

}  // namespace castor::kv
