#include "kv/server/http_api.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <memory>

#include "kv/client/kv_json.h"
#include "kv/client/request_builders.h"
#include "kv/server/http_params.h"
#include "kv/server/http_watch.h"
#include "raft/base/base64.h"
#include "raft/base/metrics.h"

namespace castor::kv {

namespace {

using net::HttpRequest;
using net::HttpResponse;

using Respond = net::HttpServer::Respond;

constexpr std::string_view kKvPrefix = "/v1/kv/";
constexpr std::string_view kWatchPrefix = "/v1/watch/";

HttpResponse json_response(int status, const Json& body) {
  HttpResponse r;
  r.status = status;
  r.body = dump_json(body);
  return r;
}

HttpResponse error_response(int status, pb::ErrorCode code, const std::string& message) {
  Json j = Json::object();
  j["code"] = pb::ErrorCode_Name(code);
  j["message"] = message;
  return json_response(status, j);
}

HttpResponse bad_request(const std::string& message) {
  return error_response(400, pb::INVALID_ARGUMENT, message);
}

HttpResponse bad_method(const std::string& allow) {
  HttpResponse r = error_response(405, pb::INVALID_ARGUMENT, "method not allowed here; allowed: " + allow);
  r.headers.emplace_back("Allow", allow);
  return r;
}

Json op_response_json(const pb::ResponseOp& op) {
  Json j = Json::object();
  switch (op.response_case()) {
    case pb::ResponseOp::kGet:
      j["get"] = op.get().has_kv() ? kv_json(op.get().kv()) : Json();
      break;
    case pb::ResponseOp::kRange: {
      Json r = Json::object();
      r["kvs"] = kvs_json(op.range().kvs());
      r["more"] = op.range().more();
      r["count"] = op.range().count();
      j["range"] = r;
      break;
    }
    case pb::ResponseOp::kPut: {
      Json r = Json::object();
      if (op.put().has_prev_kv()) r["prev_kv"] = kv_json(op.put().prev_kv());
      j["put"] = r;
      break;
    }
    case pb::ResponseOp::kDeleteKey: {
      Json r = Json::object();
      r["deleted"] = op.delete_key().deleted();
      if (op.delete_key().has_prev_kv()) r["prev_kv"] = kv_json(op.delete_key().prev_kv());
      j["delete"] = r;
      break;
    }
    case pb::ResponseOp::kDeleteRange: {
      Json r = Json::object();
      r["deleted"] = op.delete_range().deleted();
      j["delete_range"] = r;
      break;
    }
    case pb::ResponseOp::RESPONSE_NOT_SET:
      break;
  }
  return j;
}

// ---- txn JSON ----

Status json_error(const std::string& where, const std::string& what) {
  return Status(Code::kInvalidArgument, "txn: " + where + ": " + what);
}

// A bytes field given as "<name>" (UTF-8 text) or "<name>_base64".
Result<std::optional<std::string>> bytes_field(const Json& obj, const std::string& name,
                                               const std::string& where) {
  const Json* text = json_find(obj, name);
  const Json* b64 = json_find(obj, name + "_base64");
  if (text != nullptr && b64 != nullptr)
    return json_error(where, "give " + name + " or " + name + "_base64, not both");
  if (text != nullptr) {
    if (!text->is_string()) return json_error(where, name + " must be a string");
    return std::optional<std::string>(text->get_ref<const std::string&>());
  }
  if (b64 != nullptr) {
    if (!b64->is_string()) return json_error(where, name + "_base64 must be a string");
    auto decoded = base64_decode(b64->get_ref<const std::string&>());
    if (!decoded.is_ok()) return json_error(where, name + "_base64: " + decoded.status().message());
    return std::optional<std::string>(std::move(*decoded));
  }
  return std::optional<std::string>();
}

Result<std::string> required_key(const Json& obj, const std::string& where) {
  auto key = bytes_field(obj, "key", where);
  if (!key.is_ok()) return key.status();
  if (!key->has_value()) return json_error(where, "key is missing");
  return std::move(**key);
}

Status check_members(const Json& obj, std::initializer_list<std::string_view> known,
                     const std::string& where) {
  if (!obj.is_object()) return json_error(where, "must be an object");
  for (const auto& [name, value] : obj.get_ref<const Json::object_t&>()) {
    if (!is_one_of(name, known)) return json_error(where, "unknown member '" + name + "'");
  }
  return Status::ok();
}

Result<bool> bool_member(const Json& obj, const std::string& name, const std::string& where) {
  const Json* v = json_find(obj, name);
  if (v == nullptr) return false;
  if (!v->is_boolean()) return json_error(where, name + " must be true or false");
  return v->get<bool>();
}

Result<uint64_t> uint_member(const Json& obj, const std::string& name, const std::string& where) {
  const Json* v = json_find(obj, name);
  if (v == nullptr) return uint64_t{0};
  auto n = json_uint64(*v);
  if (!n) return json_error(where, name + " must be a non-negative integer");
  return *n;
}

Result<pb::Compare> compare_from_json(const Json& c, const std::string& where) {
  if (Status s = check_members(c, {"key", "key_base64", "target", "op", "value", "value_base64"}, where);
      !s.is_ok()) {
    return s;
  }
  auto key = required_key(c, where);
  if (!key.is_ok()) return key.status();
  const Json* op = json_find(c, "op");
  const Json* target = json_find(c, "target");
  if (op == nullptr || !op->is_string()) return json_error(where, "op must be one of ==, !=, <, >");
  if (target == nullptr || !target->is_string()) {
    return json_error(where, "target must be one of version, create_revision, mod_revision, value");
  }
  pb::Compare::Op o;
  const std::string& os = op->get_ref<const std::string&>();
  if (os == "==") {
    o = pb::Compare::EQUAL;
  } else if (os == "!=") {
    o = pb::Compare::NOT_EQUAL;
  } else if (os == "<") {
    o = pb::Compare::LESS;
  } else if (os == ">") {
    o = pb::Compare::GREATER;
  } else {
    return json_error(where, "op '" + os + "' is not one of ==, !=, <, >");
  }
  const std::string& t = target->get_ref<const std::string&>();
  if (t == "value") {
    auto v = bytes_field(c, "value", where);
    if (!v.is_ok()) return v.status();
    if (!v->has_value()) return json_error(where, "value is missing");
    return compare_value(std::move(*key), o, std::move(**v));
  }
  const Json* n = json_find(c, "value");
  const std::optional<uint64_t> number = n == nullptr ? std::nullopt : json_uint64(*n);
  if (!number) return json_error(where, "value must be a non-negative integer for target " + t);
  if (t == "version") return compare_version(std::move(*key), o, *number);
  if (t == "create_revision") return compare_create_revision(std::move(*key), o, *number);
  if (t == "mod_revision") return compare_mod_revision(std::move(*key), o, *number);
  return json_error(where, "target '" + t + "' is not one of version, create_revision, mod_revision, value");
}

// The range fields shared by "range" and "delete_range" ops.
template <typename RangeLike>
Status range_from_json(const Json& body, RangeLike& r, const std::string& where) {
  auto key = required_key(body, where);
  if (!key.is_ok()) return key.status();
  r.set_key(std::move(*key));
  auto end = bytes_field(body, "range_end", where);
  if (!end.is_ok()) return end.status();
  if (end->has_value()) r.set_range_end(std::move(**end));
  auto prefix = bool_member(body, "prefix", where);
  if (!prefix.is_ok()) return prefix.status();
  r.set_prefix(*prefix);
  return Status::ok();
}

Result<pb::RequestOp> op_from_json(const Json& op, const std::string& where) {
  if (!op.is_object() || op.size() != 1) {
    return json_error(where, "must be an object with one member: get, range, put, delete or delete_range");
  }
  const auto& [kind, body] = op.get_ref<const Json::object_t&>().front();
  const std::string at = where + "." + kind;
  pb::RequestOp out;
  if (kind == "get") {
    if (Status s = check_members(body, {"key", "key_base64"}, at); !s.is_ok()) return s;
    auto key = required_key(body, at);
    if (!key.is_ok()) return key.status();
    out.mutable_get()->set_key(std::move(*key));
  } else if (kind == "range") {
    if (Status s = check_members(
            body, {"key", "key_base64", "range_end", "range_end_base64", "prefix", "limit"}, at);
        !s.is_ok()) {
      return s;
    }
    if (Status s = range_from_json(body, *out.mutable_range(), at); !s.is_ok()) return s;
    auto limit = uint_member(body, "limit", at);
    if (!limit.is_ok()) return limit.status();
    out.mutable_range()->set_limit(*limit);
  } else if (kind == "put") {
    if (Status s = check_members(body, {"key", "key_base64", "value", "value_base64", "prev_kv"}, at);
        !s.is_ok()) {
      return s;
    }
    auto key = required_key(body, at);
    if (!key.is_ok()) return key.status();
    auto value = bytes_field(body, "value", at);
    if (!value.is_ok()) return value.status();
    if (!value->has_value()) return json_error(at, "value is missing");
    auto prev = bool_member(body, "prev_kv", at);
    if (!prev.is_ok()) return prev.status();
    pb::PutRequest* p = out.mutable_put();
    p->set_key(std::move(*key));
    p->set_value(std::move(**value));
    p->set_prev_kv(*prev);
  } else if (kind == "delete") {
    if (Status s = check_members(body, {"key", "key_base64", "prev_kv"}, at); !s.is_ok()) return s;
    auto key = required_key(body, at);
    if (!key.is_ok()) return key.status();
    auto prev = bool_member(body, "prev_kv", at);
    if (!prev.is_ok()) return prev.status();
    out.mutable_delete_key()->set_key(std::move(*key));
    out.mutable_delete_key()->set_prev_kv(*prev);
  } else if (kind == "delete_range") {
    if (Status s = check_members(body, {"key", "key_base64", "range_end", "range_end_base64", "prefix"}, at);
        !s.is_ok()) {
      return s;
    }
    if (Status s = range_from_json(body, *out.mutable_delete_range(), at); !s.is_ok()) return s;
  } else {
    return json_error(where, "unknown op '" + kind + "' (want get, range, put, delete or delete_range)");
  }
  return out;
}

Status ops_from_json(const Json& txn, const std::string& name,
                     google::protobuf::RepeatedPtrField<pb::RequestOp>& out) {
  const Json* ops = json_find(txn, name);
  if (ops == nullptr) return Status::ok();
  if (!ops->is_array()) return json_error(name, "must be an array");
  for (size_t i = 0; i < ops->size(); ++i) {
    auto op = op_from_json((*ops)[i], name + "[" + std::to_string(i) + "]");
    if (!op.is_ok()) return op.status();
    *out.Add() = std::move(*op);
  }
  return Status::ok();
}

// ---- answers ----

// NOT_LEADER: a redirect to the leader's HTTP address when this node knows it (307 keeps the
// method and the body), else 421 with the leader's id.
HttpResponse not_leader(const HttpApiHooks& hooks, const HttpRequest& req, const pb::ClientResponse& r) {
  const uint64_t leader = r.header().leader();
  const std::string address = leader == 0 ? "" : hooks.http_address_of(leader);
  Json j = Json::object();
  j["code"] = "NOT_LEADER";
  j["message"] = r.message();
  j["leader"] = leader;
  if (address.empty()) return json_response(421, j);
  HttpResponse resp = json_response(307, j);
  resp.headers.emplace_back("Location", "http://" + address + req.target);
  return resp;
}

// A non-OK answer from the node.
HttpResponse failure(const HttpApiHooks& hooks, const HttpRequest& req, const pb::ClientResponse& r) {
  if (r.code() == pb::NOT_LEADER) return not_leader(hooks, req, r);
  return error_answer(r);
}

// Submits `request` and turns its answer into an HTTP response with `on_ok` (OK answers only).
void run(const HttpApiHooks& hooks, HttpRequest req, pb::ClientRequest request, Respond respond,
         std::function<HttpResponse(const pb::ClientResponse&)> on_ok) {
  auto shared = std::make_shared<HttpRequest>(std::move(req));
  hooks.submit(std::move(request), [&hooks, shared, respond = std::move(respond),
                                    on_ok = std::move(on_ok)](pb::ClientResponse r) {
    respond(r.code() == pb::OK ? on_ok(r) : failure(hooks, *shared, r));
  });
}

// A write's answer with its header; `extra` adds the op's own fields.
HttpResponse write_ok(const pb::ClientResponse& r, const std::function<void(Json&)>& extra) {
  Json j = Json::object();
  j["header"] = header_json(r.header());
  j["revision"] = r.header().revision();
  extra(j);
  return json_response(200, j);
}

// A compare-and-swap that failed: 409 with the key's current state (the txn's failure get).
HttpResponse cas_failed(const pb::ClientResponse& r, uint64_t expected) {
  Json j = Json::object();
  j["code"] = "FAILED_PRECONDITION";
  const pb::TxnResponse& t = r.write().txn();
  const bool found = t.responses_size() == 1 && t.responses(0).get().has_kv();
  const uint64_t actual = found ? t.responses(0).get().kv().mod_revision() : 0;
  j["message"] = "compare failed: the mod_revision of the key is " + std::to_string(actual) + ", not " +
                 std::to_string(expected) + (found ? "" : " (the key does not exist)");
  j["header"] = header_json(r.header());
  j["current"] = found ? kv_json(t.responses(0).get().kv()) : Json();
  return json_response(409, j);
}

pb::ClientRequest write_request() {
  pb::ClientRequest req;
  req.mutable_write();  // client_id 0: no session (kv.proto)
  return req;
}

// ---- routes ----

void kv_get(const HttpApiHooks& hooks, HttpRequest req, const std::string& key, Respond respond) {
  const bool prefix = req.has_query("prefix");
  Status s = prefix ? check_params(req, {"prefix", "limit", "keys", "count", "serializable"})
                    : check_params(req, {"serializable", "raw"});
  if (!s.is_ok()) return respond(bad_request(s.message()));
  pb::ClientRequest request;
  const bool serializable = req.has_query("serializable");
  if (!prefix) {
    if (key.empty()) return respond(bad_request("empty key (to list keys, use GET /v1/kv/<prefix>?prefix)"));
    request.mutable_get()->set_key(key);
    request.mutable_get()->set_serializable(serializable);
    const bool raw = req.has_query("raw");
    return run(hooks, std::move(req), std::move(request), std::move(respond),
               [raw](const pb::ClientResponse& r) {
                 if (!r.get().has_kv()) {
                   Json j = Json::object();
                   j["code"] = "NOT_FOUND";
                   j["message"] = "key not found";
                   j["header"] = header_json(r.header());
                   return json_response(404, j);
                 }
                 if (raw) {
                   HttpResponse resp;
                   resp.content_type = "application/octet-stream";
                   resp.body = r.get().kv().value();
                   return resp;
                 }
                 Json j = kv_json(r.get().kv());
                 j["header"] = header_json(r.header());
                 return json_response(200, j);
               });
  }
  auto limit = uint_param(req, "limit");
  if (!limit.is_ok()) return respond(bad_request(limit.status().message()));
  pb::RangeRequest* range = request.mutable_range();
  range->set_key(key);
  range->set_prefix(true);
  range->set_limit(limit->value_or(0));
  const bool keys_only = req.has_query("keys");
  range->set_keys_only(keys_only);
  range->set_count_only(req.has_query("count"));
  range->set_serializable(serializable);
  run(hooks, std::move(req), std::move(request), std::move(respond),
      [keys_only](const pb::ClientResponse& r) {
        Json j = Json::object();
        j["header"] = header_json(r.header());
        j["kvs"] = kvs_json(r.range().kvs(), keys_only);
        j["more"] = r.range().more();
        j["count"] = r.range().count();
        return json_response(200, j);
      });
}

void kv_put(const HttpApiHooks& hooks, HttpRequest req, const std::string& key, Respond respond) {
  if (Status s = check_params(req, {"cas", "prev_kv"}); !s.is_ok()) return respond(bad_request(s.message()));
  if (key.empty()) return respond(bad_request("empty key"));
  auto cas_rev = uint_param(req, "cas");
  if (!cas_rev.is_ok()) return respond(bad_request(cas_rev.status().message()));
  pb::ClientRequest request = write_request();
  if (cas_rev->has_value()) {
    const uint64_t expected = **cas_rev;
    // Consul's ?cas=: the key's modify index must be this one; 0 means "only if absent" (an
    // absent key has mod_revision 0, kv.proto).
    *request.mutable_write()->mutable_txn() =
        cas(compare_mod_revision(key, pb::Compare::EQUAL, expected), key, std::move(req.body));
    return run(hooks, std::move(req), std::move(request), std::move(respond),
               [expected](const pb::ClientResponse& r) {
                 if (!r.write().txn().succeeded()) return cas_failed(r, expected);
                 return write_ok(r, [](Json&) {});
               });
  }
  pb::PutRequest* put = request.mutable_write()->mutable_put();
  put->set_key(key);
  put->set_value(std::move(req.body));
  put->set_prev_kv(req.has_query("prev_kv"));
  run(hooks, std::move(req), std::move(request), std::move(respond), [](const pb::ClientResponse& r) {
    return write_ok(r, [&r](Json& j) {
      if (r.write().put().has_prev_kv()) j["prev_kv"] = kv_json(r.write().put().prev_kv());
    });
  });
}

void kv_delete(const HttpApiHooks& hooks, HttpRequest req, const std::string& key, Respond respond) {
  if (Status s = check_params(req, {"cas", "prefix", "prev_kv"}); !s.is_ok())
    return respond(bad_request(s.message()));
  auto cas_rev = uint_param(req, "cas");
  if (!cas_rev.is_ok()) return respond(bad_request(cas_rev.status().message()));
  pb::ClientRequest request = write_request();
  if (req.has_query("prefix")) {
    if (cas_rev->has_value()) return respond(bad_request("?cas and ?prefix do not go together"));
    pb::DeleteRangeRequest* d = request.mutable_write()->mutable_delete_range();
    d->set_key(key);
    d->set_prefix(true);
    return run(hooks, std::move(req), std::move(request), std::move(respond),
               [](const pb::ClientResponse& r) {
                 return write_ok(r, [&r](Json& j) { j["deleted"] = r.write().delete_range().deleted(); });
               });
  }
  if (key.empty()) return respond(bad_request("empty key (to delete every key, use DELETE /v1/kv/?prefix)"));
  if (cas_rev->has_value()) {
    const uint64_t expected = **cas_rev;
    pb::TxnRequest* t = request.mutable_write()->mutable_txn();
    *t->add_compares() = compare_mod_revision(key, pb::Compare::EQUAL, expected);
    t->add_success()->mutable_delete_key()->set_key(key);
    t->add_failure()->mutable_get()->set_key(key);
    return run(hooks, std::move(req), std::move(request), std::move(respond),
               [expected](const pb::ClientResponse& r) {
                 if (!r.write().txn().succeeded()) return cas_failed(r, expected);
                 return write_ok(r, [&r](Json& j) {
                   j["deleted"] = r.write().txn().responses(0).delete_key().deleted();
                 });
               });
  }
  pb::DeleteRequest* d = request.mutable_write()->mutable_delete_key();
  d->set_key(key);
  d->set_prev_kv(req.has_query("prev_kv"));
  run(hooks, std::move(req), std::move(request), std::move(respond), [](const pb::ClientResponse& r) {
    return write_ok(r, [&r](Json& j) {
      j["deleted"] = r.write().delete_key().deleted();
      if (r.write().delete_key().has_prev_kv()) j["prev_kv"] = kv_json(r.write().delete_key().prev_kv());
    });
  });
}

void txn(const HttpApiHooks& hooks, HttpRequest req, Respond respond) {
  if (Status s = check_params(req, {}); !s.is_ok()) return respond(bad_request(s.message()));
  auto t = txn_from_json(req.body);
  if (!t.is_ok()) {
    const pb::ErrorCode code = t.status().code() == Code::kTooLarge ? pb::TOO_LARGE : pb::INVALID_ARGUMENT;
    return respond(error_response(http_status_of(code), code, t.status().message()));
  }
  pb::ClientRequest request = write_request();
  *request.mutable_write()->mutable_txn() = std::move(*t);
  run(hooks, std::move(req), std::move(request), std::move(respond), [](const pb::ClientResponse& r) {
    return write_ok(r, [&r](Json& j) {
      j["succeeded"] = r.write().txn().succeeded();
      Json a = Json::array();
      for (const pb::ResponseOp& op : r.write().txn().responses()) a.push_back(op_response_json(op));
      j["responses"] = a;
    });
  });
}

HttpResponse health(const HttpApiHooks& hooks) {
  const pb::StatusResponse s = hooks.status();
  Json j = Json::object();
  j["healthy"] = s.healthy();
  if (!s.healthy()) j["reason"] = s.unhealthy_reason();
  j["name"] = s.name();
  j["role"] = s.role();
  j["term"] = s.term();
  j["leader"] = s.leader();
  j["commit"] = s.commit();
  j["applied"] = s.applied();
  return json_response(s.healthy() ? 200 : 503, j);
}

}  // namespace

HttpResponse error_answer(const pb::ClientResponse& r) {
  Json j = Json::object();
  j["code"] = pb::ErrorCode_Name(r.code());
  j["message"] = r.message();
  j["header"] = header_json(r.header());
  HttpResponse resp = json_response(http_status_of(r.code()), j);
  if (resp.status == 503) resp.headers.emplace_back("Retry-After", "1");
  return resp;
}

int http_status_of(pb::ErrorCode code) {
  switch (code) {
    case pb::OK:
      return 200;
    case pb::NOT_LEADER:
      return 421;
    case pb::UNAVAILABLE:
    case pb::DROPPED:
      return 503;
    case pb::UNKNOWN:
      return 504;
    case pb::FAILED_PRECONDITION:
      return 409;
    case pb::INVALID_ARGUMENT:
    case pb::SESSION_EXPIRED:
      return 400;
    case pb::TOO_LARGE:
      return 413;
    case pb::RESOURCE_EXHAUSTED:
      return 507;
    case pb::NOT_FOUND:
      return 404;
    case pb::COMPACTED:
      return 410;  // Gone: that part of the history is no longer kept
    case pb::TOO_SLOW:
      return 503;
    case pb::CORRUPTION:
    case pb::INTERNAL:
    default:
      return 500;
  }
}

Result<pb::TxnRequest> txn_from_json(std::string_view body) {
  auto parsed = parse_json(body);
  if (!parsed.is_ok()) return Status(parsed.status().code(), "txn body: " + parsed.status().message());
  const Json& j = *parsed;
  if (Status s = check_members(j, {"compares", "success", "failure"}, "body"); !s.is_ok()) return s;
  pb::TxnRequest t;
  if (const Json* compares = json_find(j, "compares"); compares != nullptr) {
    if (!compares->is_array()) return json_error("compares", "must be an array");
    for (size_t i = 0; i < compares->size(); ++i) {
      auto c = compare_from_json((*compares)[i], "compares[" + std::to_string(i) + "]");
      if (!c.is_ok()) return c.status();
      *t.add_compares() = std::move(*c);
    }
  }
  if (Status s = ops_from_json(j, "success", *t.mutable_success()); !s.is_ok()) return s;
  if (Status s = ops_from_json(j, "failure", *t.mutable_failure()); !s.is_ok()) return s;
  return t;
}

Json status_json(const pb::StatusResponse& s) {
  Json j = Json::object();
  j["name"] = s.name();
  j["id"] = s.id();
  j["cluster_id"] = s.cluster_id();
  j["role"] = s.role();
  j["term"] = s.term();
  Json leader = Json::object();
  leader["id"] = s.leader();
  leader["name"] = s.leader_name();
  j["leader"] = leader;
  j["healthy"] = s.healthy();
  if (!s.healthy()) j["reason"] = s.unhealthy_reason();
  j["commit"] = s.commit();
  j["applied"] = s.applied();
  j["last_index"] = s.last_index();
  j["snapshot_index"] = s.snapshot_index();
  j["sessions"] = s.sessions();
  j["log_bytes"] = s.log_bytes();
  Json addresses = Json::object();
  addresses["client"] = s.client_address();
  addresses["peer"] = s.peer_address();
  addresses["http"] = s.http_address();
  j["addresses"] = addresses;
  Json peers = Json::array();
  for (const pb::PeerStatus& p : s.peers()) {
    Json pj = Json::object();
    pj["id"] = p.id();
    pj["name"] = p.name();
    pj["peer_address"] = p.peer_address();
    pj["http_address"] = p.http_address();
    pj["connected"] = p.connected();
    pj["rtt_ms"] = p.rtt_seconds() * 1000;
    pj["queue_depth"] = p.queue_depth();
    pj["dropped"] = p.dropped();
    if (s.role() == "leader") {
      pj["match"] = p.match();
      pj["next"] = p.next();
    }
    peers.push_back(pj);
  }
  j["peers"] = peers;
  return j;
}

void serve_http(const HttpApiHooks& hooks, HttpRequest req, Respond respond) {
  const std::string& m = req.method;
  const bool read = m == "GET" || m == "HEAD";
  if (req.path == "/metrics" || req.path == "/health" || req.path == "/status") {
    if (!read) return respond(bad_method("GET, HEAD"));
    if (Status s = check_params(req, {}); !s.is_ok()) return respond(bad_request(s.message()));
    if (req.path == "/health") return respond(health(hooks));
    if (req.path == "/status") return respond(json_response(200, status_json(hooks.status())));
    HttpResponse r;
    r.content_type = Metrics::kContentType;
    r.body = hooks.metrics();
    return respond(std::move(r));
  }
  if (req.path.starts_with(kKvPrefix)) {
    const std::string key = req.path.substr(kKvPrefix.size());
    if (read) return kv_get(hooks, std::move(req), key, std::move(respond));
    if (m == "PUT") return kv_put(hooks, std::move(req), key, std::move(respond));
    if (m == "DELETE") return kv_delete(hooks, std::move(req), key, std::move(respond));
    return respond(bad_method("GET, HEAD, PUT, DELETE"));
  }
  if (req.path.starts_with(kWatchPrefix)) {
    if (m != "GET") return respond(bad_method("GET"));
    auto request = watch_request(req, req.path.substr(kWatchPrefix.size()));
    if (!request.is_ok()) return respond(bad_request(request.status().message()));
    return hooks.watch(std::move(*request), std::move(respond));
  }
  if (req.path == "/v1/txn") {
    if (m != "POST") return respond(bad_method("POST"));
    return txn(hooks, std::move(req), std::move(respond));
  }
  respond(error_response(404, pb::NOT_FOUND,
                         "no such path: " + req.path +
                             " (see docs/HTTP.md: /metrics, /health, /status, /v1/kv/<key>, "
                             "/v1/txn, /v1/watch/<key>)"));
}

}  // namespace castor::kv
