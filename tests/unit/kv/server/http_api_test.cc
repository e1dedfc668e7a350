// kv/http_api: HTTP requests become the binary API's requests, answers become JSON with the
// right status; bad input is refused before it reaches the node (docs/HTTP.md).
#include "kv/server/http_api.h"

#include <gtest/gtest.h>

#include <optional>

#include "kv/server/http_watch.h"

namespace castor::kv {
namespace {

using castor::Json;
using net::HttpRequest;
using net::HttpResponse;

// A node stand-in: records what reaches it and answers with `answer`.
struct FakeNode {
  std::optional<pb::ClientRequest> got;
  pb::ClientResponse answer;
  std::string leader_http = "127.0.0.1:9";
  HttpApiHooks hooks() {
    HttpApiHooks h;
    h.submit = [this](pb::ClientRequest r, std::function<void(pb::ClientResponse)> done) {
      got = std::move(r);
      done(answer);
    };
    h.watch = [this](pb::ClientRequest r, net::HttpServer::Respond respond) {
      got = std::move(r);
      respond(HttpResponse{200, "application/x-ndjson", "watching", {}});
    };
    h.metrics = [] { return std::string("castor_term 3\n"); };
    h.status = [] {
      pb::StatusResponse s;
      s.set_name("n1");
      s.set_role("follower");
      s.set_healthy(false);
      s.set_unhealthy_reason("no leader (role pre-candidate)");
      return s;
    };
    h.http_address_of = [this](uint64_t) { return leader_http; };
    return h;
  }
};

HttpRequest request(std::string method, std::string path, std::map<std::string, std::string> query = {},
                    std::string body = "") {
  HttpRequest r;
  r.method = std::move(method);
  r.path = path;
  r.target = path;
  r.query = std::move(query);
  r.body = std::move(body);
  return r;
}

HttpResponse serve(FakeNode& node, HttpRequest req) {
  HttpApiHooks hooks = node.hooks();
  std::optional<HttpResponse> out;
  serve_http(hooks, std::move(req), [&out](HttpResponse r) { out = std::move(r); });
  EXPECT_TRUE(out.has_value());
  return out.value_or(HttpResponse{});
}

Json body_of(const HttpResponse& r) {
  auto j = castor::parse_json(r.body);
  EXPECT_TRUE(j.is_ok()) << r.body;
  return j.is_ok() ? *j : Json();
}

std::string code_of(const HttpResponse& r) {
  const Json body = body_of(r);
  const Json* c = castor::json_find(body, "code");
  return c != nullptr && c->is_string() ? c->get<std::string>() : "";
}

TEST(HttpApi, PutIsASessionlessWriteAndAnswersWithTheRevision) {
  FakeNode node;
  node.answer.mutable_header()->set_revision(42);
  node.answer.mutable_write()->mutable_put();
  HttpResponse r = serve(node, request("PUT", "/v1/kv/models/a", {}, std::string("v\0\xff", 3)));
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(node.got.has_value());
  EXPECT_EQ(node.got->write().client_id(), 0u);
  EXPECT_EQ(node.got->write().put().key(), "models/a");
  EXPECT_EQ(node.got->write().put().value(), std::string("v\0\xff", 3));
  EXPECT_EQ(body_of(r).at("revision"), 42u);
}

TEST(HttpApi, CasBecomesAModRevisionCompareAndAFailedCompareIs409WithTheCurrentKey) {
  FakeNode node;
  pb::TxnResponse* t = node.answer.mutable_write()->mutable_txn();
  t->set_succeeded(false);
  pb::KeyValue* kv = t->add_responses()->mutable_get()->mutable_kv();
  kv->set_key("k");
  kv->set_value("now");
  kv->set_mod_revision(9);
  HttpResponse r = serve(node, request("PUT", "/v1/kv/k", {{"cas", "7"}}, "new"));
  ASSERT_TRUE(node.got.has_value());
  const pb::TxnRequest& txn = node.got->write().txn();
  ASSERT_EQ(txn.compares_size(), 1);
  EXPECT_EQ(txn.compares(0).mod_revision(), 7u);
  EXPECT_EQ(txn.compares(0).op(), pb::Compare::EQUAL);
  EXPECT_EQ(txn.success(0).put().value(), "new");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(code_of(r), "FAILED_PRECONDITION");
  const Json body = body_of(r);
  EXPECT_EQ(body.at("current").at("value"), "now");
}

TEST(HttpApi, UnknownOrBadParametersAreRefusedBeforeTheNode) {
  FakeNode node;
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"cass", "3"}, {"cas", "abc"}, {"cas", "-1"}, {"cas", ""}}) {
    HttpResponse r = serve(node, request("PUT", "/v1/kv/k", {{name, value}}, "v"));
    EXPECT_EQ(r.status, 400) << name << "=" << value;
    EXPECT_EQ(code_of(r), "INVALID_ARGUMENT");
  }
  EXPECT_EQ(serve(node, request("GET", "/v1/kv/k", {{"limit", "1"}})).status, 400);  // limit needs ?prefix
  EXPECT_EQ(serve(node, request("PUT", "/v1/kv/", {}, "v")).status, 400);            // empty key
  EXPECT_FALSE(node.got.has_value());
}

TEST(HttpApi, MethodsPathsAndTheirErrors) {
  FakeNode node;
  HttpResponse r = serve(node, request("POST", "/v1/kv/k"));
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(serve(node, request("PUT", "/metrics")).status, 405);
  EXPECT_EQ(serve(node, request("GET", "/v1/txn")).status, 405);
  r = serve(node, request("GET", "/nope"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(code_of(r), "NOT_FOUND");
  EXPECT_FALSE(node.got.has_value());
}

TEST(HttpApi, NotLeaderRedirectsToTheLeadersHttpAddressOrSays421) {
  FakeNode node;
  node.answer.set_code(pb::NOT_LEADER);
  node.answer.mutable_header()->set_leader(3);
  HttpRequest req = request("PUT", "/v1/kv/k", {{"cas", "0"}}, "v");
  req.target = "/v1/kv/k?cas=0";
  HttpResponse r = serve(node, req);
  EXPECT_EQ(r.status, 307);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "http://127.0.0.1:9/v1/kv/k?cas=0");
  node.leader_http = "";
  r = serve(node, req);
  EXPECT_EQ(r.status, 421);
  EXPECT_EQ(body_of(r).at("leader"), 3u);
}

TEST(HttpApi, EveryCodeHasItsStatus) {
  EXPECT_EQ(http_status_of(pb::OK), 200);
  EXPECT_EQ(http_status_of(pb::FAILED_PRECONDITION), 409);
  EXPECT_EQ(http_status_of(pb::UNAVAILABLE), 503);
  EXPECT_EQ(http_status_of(pb::DROPPED), 503);
  EXPECT_EQ(http_status_of(pb::UNKNOWN), 504);
  EXPECT_EQ(http_status_of(pb::TOO_LARGE), 413);
  EXPECT_EQ(http_status_of(pb::INVALID_ARGUMENT), 400);
  EXPECT_EQ(http_status_of(pb::RESOURCE_EXHAUSTED), 507);
  EXPECT_EQ(http_status_of(pb::NOT_FOUND), 404);
  EXPECT_EQ(http_status_of(pb::CORRUPTION), 500);
  FakeNode node;
  node.answer.set_code(pb::UNAVAILABLE);
  HttpResponse r = serve(node, request("GET", "/v1/kv/k"));
  EXPECT_EQ(r.status, 503);
  bool retry_after = false;
  for (const auto& [k, v] : r.headers) retry_after = retry_after || k == "Retry-After";
  EXPECT_TRUE(retry_after);
}

TEST(HttpApi, TxnJsonTranslatesCompletelyAndNamesWhatIsWrong) {
  auto t = txn_from_json(R"({"compares":[{"key":"a","target":"mod_revision","op":"==","value":5},
                                          {"key_base64":"/w==","target":"value","op":"!=","value_base64":"AA=="}],
                             "success":[{"put":{"key":"a","value":"1","prev_kv":true}},{"delete":{"key":"b"}}],
                             "failure":[{"range":{"key":"p/","prefix":true,"limit":2}},{"delete_range":{"key":"q/","prefix":true}}]})");
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  ASSERT_EQ(t->compares_size(), 2);
  EXPECT_EQ(t->compares(0).mod_revision(), 5u);
  EXPECT_EQ(t->compares(1).key(), "\xff");
  EXPECT_EQ(t->compares(1).value(), std::string(1, '\0'));
  EXPECT_EQ(t->compares(1).op(), pb::Compare::NOT_EQUAL);
  EXPECT_TRUE(t->success(0).put().prev_kv());
  EXPECT_EQ(t->success(1).delete_key().key(), "b");
  EXPECT_EQ(t->failure(0).range().limit(), 2u);
  EXPECT_TRUE(t->failure(1).delete_range().prefix());

  for (const char* bad : {R"({"compares":[})", R"([])", R"({"comparez":[]})",
                          R"({"compares":[{"key":"a","target":"mod_revision","op":"=","value":1}]})",
                          R"({"compares":[{"key":"a","target":"mod_revision","op":"==","value":-1}]})",
                          R"({"compares":[{"key":"a","target":"flavour","op":"==","value":1}]})",
                          R"({"success":[{"put":{"key":"a"}}]})", R"({"success":[{"put":{"value":"v"}}]})",
                          R"({"success":[{"put":{"key":"a","value":"v","color":1}}]})",
                          R"({"success":[{"get":{"key":"a"},"put":{"key":"a","value":"v"}}]})",
                          R"({"success":[{"put":{"key":"a","value_base64":"not base64"}}]})",
                          R"({"success":[{"put":{"key":"a","value":"v","value_base64":"dg=="}}]})"}) {
    auto r = txn_from_json(bad);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(HttpApi, HealthIs503WithTheReasonAndMetricsArePrometheusText) {
  FakeNode node;
  HttpResponse r = serve(node, request("GET", "/health"));
  EXPECT_EQ(r.status, 503);
  const Json body = body_of(r);
  EXPECT_EQ(body.at("reason"), "no leader (role pre-candidate)");
  r = serve(node, request("GET", "/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "castor_term 3\n");
  EXPECT_NE(r.content_type.find("version=0.0.4"), std::string::npos);
}

TEST(HttpApi, AWatchRequestTakesPrefixEndRevPrevKvAndProgress) {
  FakeNode node;
  HttpResponse r =
      serve(node, request("GET", "/v1/watch/models/", {{"prefix", ""}, {"rev", "5"}, {"prev_kv", ""}}));
  EXPECT_EQ(r.body, "watching");
  ASSERT_TRUE(node.got && node.got->has_watch());
  const pb::WatchRequest& w = node.got->watch();
  EXPECT_EQ(w.key(), "models/");
  EXPECT_TRUE(w.prefix());
  ASSERT_TRUE(w.has_start_revision());
  EXPECT_EQ(w.start_revision(), 4u) << "?rev=5 wants revision 5 itself";
  EXPECT_TRUE(w.prev_kv());
  EXPECT_FALSE(w.progress_notify());

  serve(node, request("GET", "/v1/watch/a", {{"end", "c"}, {"progress", ""}}));
  EXPECT_EQ(node.got->watch().range_end(), "c");
  EXPECT_FALSE(node.got->watch().has_start_revision()) << "without ?rev: from now";
  EXPECT_TRUE(node.got->watch().progress_notify());
}

TEST(HttpApi, ABadWatchRequestIsRefusedBeforeTheNode) {
  FakeNode node;
  const std::pair<HttpRequest, std::string> bad[] = {
      {request("GET", "/v1/watch/k", {{"rev", "0"}}), "revisions count from 1"},
      {request("GET", "/v1/watch/k", {{"rev", "-1"}}), "not a non-negative integer"},
      {request("GET", "/v1/watch/k", {{"prefx", ""}}), "unknown query parameter 'prefx'"},
      {request("GET", "/v1/watch/k", {{"prefix", ""}, {"end", "z"}}), "do not go together"},
      {request("GET", "/v1/watch/"), "empty key"},
  };
  for (const auto& [req, why] : bad) {
    HttpResponse r = serve(node, req);
    EXPECT_EQ(r.status, 400) << req.target;
    EXPECT_NE(r.body.find(why), std::string::npos) << r.body;
  }
  EXPECT_EQ(serve(node, request("PUT", "/v1/watch/k")).status, 405);
  EXPECT_FALSE(node.got.has_value());
}

TEST(HttpApi, EachWatchAnswerIsOneJsonLine) {
  pb::ClientResponse created;
  created.mutable_watch()->set_created(true);
  created.mutable_watch()->set_revision(9);
  EXPECT_EQ(watch_line(created), "{\"created\":true,\"revision\":9}\n");

  pb::ClientResponse events;
  pb::Event* e = events.mutable_watch()->add_events();
  e->set_type(pb::Event::DELETE);
  e->mutable_kv()->set_key("k");
  e->mutable_kv()->set_mod_revision(11);
  events.mutable_watch()->set_revision(11);
  events.mutable_watch()->set_fragment(true);
  EXPECT_EQ(watch_line(events),
            "{\"revision\":11,\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"k\",\"create_revision\":0,"
            "\"mod_revision\":11,\"version\":0}}],\"fragment\":true}\n");

  pb::ClientResponse ended;
  ended.set_code(pb::COMPACTED);
  ended.set_message("history starts at 20");
  ended.mutable_watch()->set_canceled(true);
  ended.mutable_watch()->set_revision(3);
  ended.mutable_watch()->set_compact_revision(20);
  EXPECT_EQ(watch_line(ended),
            "{\"canceled\":true,\"code\":\"COMPACTED\",\"message\":\"history starts at 20\",\"revision\":3,"
            "\"compact_revision\":20}\n");
}

}  // namespace
}  // namespace castor::kv
