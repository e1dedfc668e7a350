#include "raft/message_check.h"

#include <algorithm>
#include <string>

namespace castor::raft {

namespace {

Status refuse(const std::string& field, const std::string& why) {
  return Status(Code::kInvalidArgument, field + ": " + why);
}

std::string node_name(uint64_t id) { return "n" + std::to_string(id); }

// The optional fields of pb::Message, one bit each.
enum Field : uint32_t {
  kLogTerm = 1u << 0,
  kIndex = 1u << 1,
  kEntries = 1u << 2,
  kCommit = 1u << 3,
  kReject = 1u << 4,
  kRejectHint = 1u << 5,
  kContext = 1u << 6,
  kReadRound = 1u << 7,
  kSnapshotMeta = 1u << 8,
  kSnapshotOffset = 1u << 9,
  kSnapshotChunk = 1u << 10,
  kSnapshotDone = 1u << 11,
};

struct FieldOf {
  Field field;
  const char* name;
  bool (*present)(const pb::Message&);
};

constexpr FieldOf kFields[] = {
    {kLogTerm, "log_term", [](const pb::Message& m) { return m.log_term() != 0; }},
    {kIndex, "index", [](const pb::Message& m) { return m.index() != 0; }},
    {kEntries, "entries", [](const pb::Message& m) { return m.entries_size() != 0; }},
    {kCommit, "commit", [](const pb::Message& m) { return m.commit() != 0; }},
    {kReject, "reject", [](const pb::Message& m) { return m.reject(); }},
    {kRejectHint, "reject_hint", [](const pb::Message& m) { return m.reject_hint() != 0; }},
    {kContext, "context", [](const pb::Message& m) { return !m.context().empty(); }},
    {kReadRound, "read_round", [](const pb::Message& m) { return m.read_round() != 0; }},
    {kSnapshotMeta, "snapshot_meta", [](const pb::Message& m) { return m.has_snapshot_meta(); }},
    {kSnapshotOffset, "snapshot_offset", [](const pb::Message& m) { return m.snapshot_offset() != 0; }},
    {kSnapshotChunk, "snapshot_chunk", [](const pb::Message& m) { return !m.snapshot_chunk().empty(); }},
    {kSnapshotDone, "snapshot_done", [](const pb::Message& m) { return m.snapshot_done(); }},
};

// The fields each type carries, as the core (node.cc, leader.cc, follower.cc) fills them in; a rejection's
// details come only with `reject`. Anything else set means the sender built a different message than its type
// says (an append relabelled a heartbeat would otherwise lose its entries without a word).
uint32_t fields_carried(pb::MessageType type, bool reject) {
  switch (type) {
    case pb::MSG_APP:
      return kIndex | kLogTerm | kEntries | kCommit;
    case pb::MSG_APP_RESP:
      return kIndex | kReject | (reject ? kRejectHint | kLogTerm : 0u);
    case pb::MSG_VOTE:
      return kIndex | kLogTerm | kContext;  // context: a transfer's election
    case pb::MSG_PRE_VOTE:
      return kIndex | kLogTerm;
    case pb::MSG_VOTE_RESP:
    case pb::MSG_PRE_VOTE_RESP:
      return kReject;
    case pb::MSG_HEARTBEAT:
      return kCommit | kReadRound;
    case pb::MSG_HEARTBEAT_RESP:
      return kReject | kReadRound | (reject ? kRejectHint : 0u);
    case pb::MSG_SNAP:
      return kSnapshotMeta | kSnapshotOffset | kSnapshotChunk | kSnapshotDone;
    case pb::MSG_SNAP_RESP:
      return kIndex | kReject | kSnapshotOffset;
    case pb::MSG_READ_INDEX:
      return kContext;
    case pb::MSG_READ_INDEX_RESP:
      return kIndex | kContext;
    default:
      return 0;  // MSG_TIMEOUT_NOW carries nothing but its header
  }
}

Status check_type(const pb::Message& m) {
  if (m.type() == pb::MSG_NONE || !pb::MessageType_IsValid(m.type())) {
    return refuse("type", std::to_string(static_cast<int>(m.type())) + " is not a message type");
  }
  return Status::ok();
}

Status check_addressing(const pb::Message& m, NodeId self, const std::vector<NodeId>& voters) {
  const NodeId from(m.from());
  if (NodeId(m.to()) != self) {
    return refuse("to", "is " + node_name(m.to()) + ", not this node (" + node_name(self.value) + ")");
  }
  if (from == kNoNode) return refuse("from", "is 0, which names no node");
  if (from == self) return refuse("from", "is this node itself");
  if (std::find(voters.begin(), voters.end(), from) == voters.end()) {
    return refuse("from", node_name(from.value) + " is not a voter in this node's configuration");
  }
  return Status::ok();
}

Status check_count(const std::string& field, uint64_t value) {
  if (value < kCountLimit) return Status::ok();
  return refuse(field, std::to_string(value) + " is beyond any term or index a cluster reaches (2^63)");
}

Status check_counts(const pb::Message& m) {
  const std::pair<const char*, uint64_t> counts[] = {
      {"term", m.term()},
      {"log_term", m.log_term()},
      {"index", m.index()},
      {"commit", m.commit()},
      {"reject_hint", m.reject_hint()},
      {"snapshot_meta.index", m.snapshot_meta().index()},
  };
  for (const auto& [field, value] : counts) {
    if (Status s = check_count(field, value); !s.is_ok()) return s;
  }
  return Status::ok();
}

Status check_fields(const pb::Message& m) {
  const uint32_t carried = fields_carried(m.type(), m.reject());
  for (const FieldOf& f : kFields) {
    if (f.present(m) && (carried & f.field) == 0) {
      return refuse(f.name,
                    std::string("is set, but a ") + pb::MessageType_Name(m.type()) + " does not carry it");
    }
  }
  return Status::ok();
}

// A log holds no entry from a term its owner has not reached: every entry's term is at most
// its leader's term when appended (paper 5.3), and a node adopts a term before its entries.
Status check_log_term(const pb::Message& m) {
  if (m.log_term() <= m.term()) return Status::ok();
  return refuse("log_term",
                std::to_string(m.log_term()) + " is above the message's term " + std::to_string(m.term()));
}

// A configuration elects and commits by majorities of its voters (thesis 4.1): it needs one at
// least, each a real node, each counted once.
Status check_conf(const pb::ConfState& conf, const std::string& field) {
  if (conf.voters().empty()) return refuse(field + ".voters", "is empty: no voter, no majority");
  std::vector<uint64_t> voters(conf.voters().begin(), conf.voters().end());
  std::sort(voters.begin(), voters.end());
  if (voters.front() == 0) return refuse(field + ".voters", "lists node 0, which names no node");
  if (auto dup = std::adjacent_find(voters.begin(), voters.end()); dup != voters.end()) {
    return refuse(field + ".voters",
                  "lists " + node_name(*dup) + " twice, so a majority would count it twice");
  }
  return Status::ok();
}

Status check_entry(const pb::Message& m, int i, uint64_t prev_term) {
  const pb::Entry& e = m.entries(i);
  auto field = [i](const char* name) { return "entries[" + std::to_string(i) + "]." + name; };
  // Paper 5.3: an append is the run of entries right after (index, log_term); the follower
  // places entries[i] at index + 1 + i and commits up to the last of them.
  const uint64_t expected = m.index() + 1 + static_cast<uint64_t>(i);
  if (e.index() != expected) {
    return refuse(field("index"), "is " + std::to_string(e.index()) + ", but the entries follow index " +
                                      std::to_string(m.index()) + " so it must be " +
                                      std::to_string(expected));
  }
  if (!pb::EntryType_IsValid(e.type())) {
    return refuse(field("type"), std::to_string(static_cast<int>(e.type())) + " is not an entry type");
  }
  // Terms in a log never decrease: each leader appends at its own term, above its
  // predecessors' (paper 5.3, 5.4). Term 0 comes before any leader, so no entry has it.
  if (e.term() == 0) return refuse(field("term"), "is 0, before any leader");
  if (e.term() < prev_term) {
    return refuse(field("term"), std::to_string(e.term()) + " is below the term before it, " +
                                     std::to_string(prev_term) + ": terms in a log never decrease");
  }
  if (e.term() > m.term()) {
    return refuse(field("term"),
                  std::to_string(e.term()) + " is above the leader's term " + std::to_string(m.term()));
  }
  if (e.type() == pb::ENTRY_CONF) {
    pb::ConfState conf;
    if (!conf.ParseFromString(e.data())) return refuse(field("data"), "of a conf entry is not a ConfState");
    return check_conf(conf, field("data"));
  }
  return Status::ok();
}

Status check_entries(const pb::Message& m) {
  uint64_t prev_term = m.log_term();
  for (int i = 0; i < m.entries_size(); ++i) {
    if (Status s = check_entry(m, i, prev_term); !s.is_ok()) return s;
    prev_term = m.entries(i).term();
  }
  // Each index is now index + 1 + i, so the last one bounds them all.
  if (m.entries_size() == 0) return Status::ok();
  return check_count("entries.index", m.entries(m.entries_size() - 1).index());
}

// The follower's hint is the last index at or below the rejected one whose term could match
// (paper 5.3; RaftLog::find_conflict_by_term).
Status check_rejection_hint(const pb::Message& m) {
  if (!m.reject() || m.reject_hint() <= m.index()) return Status::ok();
  return refuse("reject_hint", std::to_string(m.reject_hint()) + " is above the rejected index " +
                                   std::to_string(m.index()));
}

// Paper 7: a chunk is bytes [offset, offset + size) of the snapshot's data_bytes, and `done`
// marks the one that ends it.
Status check_snapshot_chunk(const pb::Message& m) {
  const pb::SnapshotMeta& meta = m.snapshot_meta();
  if (Status s = check_conf(meta.conf(), "snapshot_meta.conf"); !s.is_ok()) return s;
  // A snapshot covers committed entries, whose terms are at most the leader's (paper 5.3).
  if (meta.term() > m.term()) {
    return refuse("snapshot_meta.term",
                  std::to_string(meta.term()) + " is above the leader's term " + std::to_string(m.term()));
  }
  const uint64_t total = meta.data_bytes();
  const uint64_t offset = m.snapshot_offset();
  const uint64_t size = m.snapshot_chunk().size();
  if (offset > total) {
    return refuse("snapshot_offset", std::to_string(offset) + " is past the snapshot's end (data_bytes " +
                                         std::to_string(total) + ")");
  }
  if (size > total - offset) {
    return refuse("snapshot_chunk", std::to_string(size) + " bytes at offset " + std::to_string(offset) +
                                        " run past data_bytes " + std::to_string(total));
  }
  const bool ends = offset + size == total;
  if (m.snapshot_done() != ends) {
    return refuse("snapshot_done", std::string(m.snapshot_done() ? "is set on a chunk that does not end"
                                                                 : "is not set on the chunk that ends") +
                                       " the snapshot");
  }
  return Status::ok();
}

Status check_by_type(const pb::Message& m) {
  switch (m.type()) {
    case pb::MSG_APP:
      return check_entries(m);
    case pb::MSG_APP_RESP:
      return check_rejection_hint(m);
    case pb::MSG_SNAP:
      return check_snapshot_chunk(m);
    default:
      return Status::ok();
  }
}

}  // namespace

Status check_peer_message(const pb::Message& m, NodeId self, const std::vector<NodeId>& voters) {
  if (Status s = check_type(m); !s.is_ok()) return s;
  if (Status s = check_addressing(m, self, voters); !s.is_ok()) return s;
  if (Status s = check_counts(m); !s.is_ok()) return s;
  if (Status s = check_fields(m); !s.is_ok()) return s;
  if (Status s = check_log_term(m); !s.is_ok()) return s;
  return check_by_type(m);
}

}  // namespace castor::raft
