// ServerMetrics (kv/server/server_metrics.h): the node gauges show the scrape each render is
// given (not the status they were registered with), per peer by id; rejection reasons that
// appear at runtime get their series; answered requests are counted by operation and code.
#include "kv/server/server_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace castor::kv {
namespace {

pb::StatusResponse status(const std::string& role, uint64_t term, bool b_connected) {
  pb::StatusResponse s;
  s.set_name("a");
  s.set_id(1);
  s.set_cluster_id("c");
  s.set_role(role);
  s.set_term(term);
  s.set_healthy(role == "leader");
  pb::PeerStatus* b = s.add_peers();
  b->set_id(2);
  b->set_name("b");
  b->set_connected(b_connected);
  b->set_match(term * 10);
  pb::PeerStatus* c = s.add_peers();
  c->set_id(3);
  c->set_name("c");
  c->set_dropped(4);
  return s;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(ServerMetrics, NodeGaugesShowTheScrapeTheyAreRenderedWith) {
  ServerMetrics m;
  m.add_node_gauges(status("follower", 1, false));
  const std::string first = m.render({status("leader", 7, true), true, 3, 5});
  EXPECT_TRUE(has_line(first, "castor_term 7")) << first;
  EXPECT_TRUE(has_line(first, "castor_is_leader 1")) << first;
  EXPECT_TRUE(has_line(first, "castor_role{role=\"leader\"} 1")) << first;
  EXPECT_TRUE(has_line(first, "castor_role{role=\"follower\"} 0")) << first;
  EXPECT_TRUE(has_line(first, "castor_healthy 1")) << first;
  EXPECT_TRUE(has_line(first, "castor_disk_below_reserve 1")) << first;
  EXPECT_TRUE(has_line(first, "castor_pending_reads 3")) << first;
  EXPECT_TRUE(has_line(first, "castor_pending_writes 5")) << first;
  EXPECT_TRUE(has_line(first, "castor_peer_connected{peer=\"b\"} 1")) << first;
  EXPECT_TRUE(has_line(first, "castor_peer_match_index{peer=\"b\"} 70")) << first;
  EXPECT_TRUE(has_line(first, "castor_peer_messages_dropped_total{peer=\"c\"} 4")) << first;
  EXPECT_TRUE(has_line(first, "castor_info{node=\"a\",id=\"1\",cluster=\"c\"} 1")) << first;

  const std::string second = m.render({status("follower", 8, false), false, 0, 0});
  EXPECT_TRUE(has_line(second, "castor_term 8")) << second;
  EXPECT_TRUE(has_line(second, "castor_is_leader 0")) << second;
  EXPECT_TRUE(has_line(second, "castor_peer_connected{peer=\"b\"} 0")) << second;
  EXPECT_TRUE(has_line(second, "castor_healthy 0")) << second;
}

TEST(ServerMetrics, APeerMissingFromTheScrapeReadsZero) {
  ServerMetrics m;
  m.add_node_gauges(status("leader", 1, true));
  pb::StatusResponse without_peers = status("leader", 1, true);
  without_peers.clear_peers();
  const std::string text = m.render({without_peers, false, 0, 0});
  EXPECT_TRUE(has_line(text, "castor_peer_connected{peer=\"b\"} 0")) << text;
}

TEST(ServerMetrics, RejectionReasonsSeenAtRuntimeGetTheirSeries) {
  ServerMetrics m;
  std::map<std::string, uint64_t> rejected;
  m.count_rejected("client", rejected);
  EXPECT_EQ(m.render({}).find("castor_rejected_total{"), std::string::npos);
  rejected["bad magic"] = 2;
  m.count_rejected("client", rejected);
  rejected["bad magic"] = 3;  // read at render time
  const std::string text = m.render({});
  EXPECT_TRUE(has_line(text, "castor_rejected_total{listener=\"client\",reason=\"bad magic\"} 3")) << text;
}

TEST(ServerMetrics, AnsweredRequestsAreCountedByOperationAndCode) {
  ServerMetrics m;
  m.request(RequestOp::kPut, pb::OK, std::chrono::milliseconds(1));
  m.request(RequestOp::kPut, pb::OK, std::chrono::milliseconds(1));
  m.request(RequestOp::kGet, pb::NOT_LEADER, std::chrono::milliseconds(1));
  m.request(RequestOp::kCount, pb::OK, std::chrono::milliseconds(1));  // no body: not counted
  const std::string text = m.render({});
  EXPECT_TRUE(has_line(text, "castor_requests_total{op=\"put\",code=\"OK\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "castor_requests_total{op=\"get\",code=\"NOT_LEADER\"} 1")) << text;
}

}  // namespace
}  // namespace castor::kv
