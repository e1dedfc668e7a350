// Peer messages into a Raft node: node 1 of voters {1, 2, 3}, fresh, driven by a script of
// records, each one op byte:
//   'm' u16 (big-endian) length, then that many bytes of a raft.pb.Message to step
//   'c' campaign now          'p' propose an entry          any other byte: tick
// After each op the node's Ready is persisted to its MemoryLog and advanced (its messages go
// nowhere). Node::step runs check_peer_message first; what it accepts must never reach an
// assertion of the core (CASTOR_ASSERT aborts, which the fuzzer reports).
#include <cstdlib>
#include <string>

#include "raft/memory_log.h"
#include "raft/node.h"

using namespace castor::raft;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pb::ConfState conf;
  for (uint64_t id : {1, 2, 3}) conf.add_voters(id);
  MemoryLog log(conf);
  Config cfg;
  cfg.id = NodeId(1);
  Node node(cfg, log);
  size_t i = 0;
  while (i < size) {
    const uint8_t op = data[i++];
    if (op == 'm') {
      if (size - i < 2) break;
      const size_t len = std::min<size_t>(size_t{data[i]} << 8 | data[i + 1], size - i - 2);
      i += 2;
      pb::Message m;
      if (m.ParseFromArray(data + i, static_cast<int>(len))) {
        const castor::Status s = node.step(m);
        if (!s.is_ok() && s.code() != castor::Code::kInvalidArgument) abort();
      }
      i += len;
    } else if (op == 'c') {
      node.campaign_now();
    } else if (op == 'p') {
      (void)node.propose("fuzz");  // kNotLeader or kDropped are answers, not failures
    } else {
      node.tick();
    }
    while (node.has_ready()) {
      Ready rd = node.ready();
      if (rd.snapshot) log.install_snapshot(*rd.snapshot);
      log.append(rd.hard_state, rd.entries);
      node.advance(rd);
    }
  }
  return 0;
}
