#include "raft/node.h"

#include <algorithm>

#include "raft/base/assert.h"
#include "raft/message_check.h"
#include "raft/quorum.h"

namespace castor::raft {

namespace {

// MSG_VOTE context that marks an election forced by leadership transfer: voters skip the
// leader-stickiness check for it (thesis 3.10, 4.2.3).
constexpr const char* kTransferContext = "transfer";

bool from_leader(pb::MessageType t) {
  return t == pb::MSG_APP || t == pb::MSG_HEARTBEAT || t == pb::MSG_SNAP;
}

}  // namespace

Node::Node(const Config& config, const LogReader& durable)
    : cfg_(config),
      durable_(durable),
      log_(durable),
      rng_(config.random_seed),
      follower_(config.planted_bug, log_),
      outbox_(config.planted_bug) {
  CASTOR_ASSERT(cfg_.id != kNoNode, "node id 0 is reserved");
  CASTOR_ASSERT(cfg_.heartbeat_interval_ticks > 0, "heartbeat interval must be positive");
  CASTOR_ASSERT(cfg_.heartbeat_interval_ticks < cfg_.election_timeout_ticks,
                "heartbeat interval must be shorter than the election timeout");
  const pb::HardState hs = durable.hard_state();
  const pb::ConfState conf = durable.conf_state();
  for (uint64_t v : conf.voters()) voters_.push_back(NodeId(v));
  term_ = Term(hs.term());
  vote_ = NodeId(hs.vote());
  become_follower(term_, kNoNode);
  outbox_.start_from(soft_state(), hard_state());
}

pb::HardState Node::hard_state() const {
  pb::HardState hs;
  hs.set_term(term_.value);
  hs.set_vote(vote_.value);
  hs.set_commit(log_.committed().value);
  return hs;
}

bool Node::is_voter(NodeId n) const { return std::find(voters_.begin(), voters_.end(), n) != voters_.end(); }

const std::map<NodeId, Progress>& Node::progress() const {
  static const std::map<NodeId, Progress> kNotLeading;
  return leading_ ? leading_->progress() : kNotLeading;
}

void Node::send(pb::Message m) {
  m.set_from(cfg_.id.value);
  if (m.term() == 0) m.set_term(term_.value);
  outbox_.send(std::move(m), role_);
}

// ---------------------------------------------------------------------------------------------
// Roles

void Node::reset(Term term) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  // Paper 5.2: randomized timeouts in [t, 2t) make split votes rare.
  randomized_election_timeout_ =
      cfg_.election_timeout_ticks + static_cast<uint32_t>(rng_() % cfg_.election_timeout_ticks);
  votes_.clear();
  leading_.reset();
}

void Node::become_follower(Term term, NodeId leader) {
  reset(term);
  role_ = Role::kFollower;
  leader_ = leader;
}

void Node::become_pre_candidate() {
  // Thesis 9.6: a pre-candidate asks whether it could win before it disturbs anyone; its term
  // and vote stay as they are.
  const Term keep = term_;
  reset(keep);
  role_ = Role::kPreCandidate;
}

void Node::become_candidate() {
  reset(Term(term_.value + 1));
  role_ = Role::kCandidate;
  vote_ = cfg_.id;
}

void Node::become_leader() {
  CASTOR_ASSERT(role_ == Role::kCandidate, "only a candidate becomes leader");
  reset(term_);
  role_ = Role::kLeader;
  leader_ = cfg_.id;
  leading_.emplace(term_, cfg_, durable_, log_, voters_, outbox_,
                   [this](pb::Message m) { send(std::move(m)); });
}

void Node::campaign(CampaignKind kind) {
  Term vote_term;
  pb::MessageType type;
  if (kind == CampaignKind::kPreElection) {
    become_pre_candidate();
    vote_term = Term(term_.value + 1);
    type = pb::MSG_PRE_VOTE;
  } else {
    become_candidate();
    vote_term = term_;
    type = pb::MSG_VOTE;
  }
  votes_[cfg_.id] = true;
  if (tally(voters_, votes_) == VoteResult::kWon) {
    // A single-node cluster wins at once.
    if (kind == CampaignKind::kPreElection) {
      campaign(CampaignKind::kElection);
    } else {
      become_leader();
    }
    return;
  }
  for (NodeId v : voters_) {
    if (v == cfg_.id) continue;
    pb::Message m;
    m.set_type(type);
    m.set_to(v.value);
    m.set_term(vote_term.value);
    m.set_index(log_.last_index().value);
    m.set_log_term(log_.last_term().value);
    if (kind == CampaignKind::kTransfer) m.set_context(kTransferContext);
    send(std::move(m));
  }
}

void Node::campaign_now() {
  if (role_ == Role::kLeader || !is_voter(cfg_.id)) return;
  campaign(cfg_.pre_vote ? CampaignKind::kPreElection : CampaignKind::kElection);
}

// ---------------------------------------------------------------------------------------------
// Time

void Node::tick() {
  ++election_elapsed_;
  if (role_ != Role::kLeader) {
    if (election_elapsed_ >= randomized_election_timeout_) {
      election_elapsed_ = 0;
      campaign_now();
    }
    return;
  }
  if (election_elapsed_ >= cfg_.election_timeout_ticks) {
    election_elapsed_ = 0;
    // Thesis 6.2: a leader cut off from a majority steps down rather than serve stale reads
    // and accept writes that can never commit.
    if (cfg_.check_quorum && !leading_->quorum_active()) {
      become_follower(term_, kNoNode);
      return;
    }
    // Thesis 3.10: a transfer that has not finished within an election timeout is abandoned.
    leading_->abandon_transfer();
  }
  leading_->tick_heartbeat();
}

// ---------------------------------------------------------------------------------------------
// Messages in

Status Node::step(const pb::Message& m) {
  Status s = check_peer_message(m, cfg_.id, voters_);
  if (s.is_ok()) step_checked(m);
  return s;
}

void Node::step_checked(const pb::Message& m) {
  const NodeId from(m.from());
  const Term mt(m.term());
  const pb::MessageType type = m.type();

  if (mt > term_) {
    if (type == pb::MSG_VOTE || type == pb::MSG_PRE_VOTE) {
      // Thesis 4.2.3: while we hear from a leader, ignore candidates (a removed or partitioned
      // server must not depose a healthy leader), unless a transfer forced the election.
      const bool forced = m.context() == kTransferContext;
      const bool in_lease =
          cfg_.check_quorum && leader_ != kNoNode && election_elapsed_ < cfg_.election_timeout_ticks;
      if (!forced && in_lease) return;
    }
    if (type == pb::MSG_PRE_VOTE || (type == pb::MSG_PRE_VOTE_RESP && !m.reject())) {
      // Pre-vote traffic carries a future term without changing anyone's term (thesis 9.6).
    } else {
      become_follower(mt, from_leader(type) ? from : kNoNode);
    }
  } else if (mt < term_) {
    if ((cfg_.check_quorum || cfg_.pre_vote) && (type == pb::MSG_APP || type == pb::MSG_HEARTBEAT)) {
      // A stale leader learns our term and steps down. Without this, a node that was cut off
      // and kept a low term by pre-vote could never rejoin a leader that outlived its term.
      pb::Message resp;
      resp.set_type(pb::MSG_APP_RESP);
      resp.set_to(from.value);
      send(std::move(resp));
    } else if (type == pb::MSG_PRE_VOTE) {
      pb::Message resp;
      resp.set_type(pb::MSG_PRE_VOTE_RESP);
      resp.set_to(from.value);
      resp.set_reject(true);
      send(std::move(resp));
    }
    return;
  }

  if (type == pb::MSG_VOTE || type == pb::MSG_PRE_VOTE) {
    handle_vote_request(m);
    return;
  }
  switch (role_) {
    case Role::kLeader:
      leading_->step(m);
      break;
    case Role::kPreCandidate:
    case Role::kCandidate:
      step_candidate(m);
      break;
    case Role::kFollower:
      step_follower(m);
      break;
  }
}

void Node::handle_vote_request(const pb::Message& m) {
  const NodeId from(m.from());
  const bool pre = m.type() == pb::MSG_PRE_VOTE;
  // Paper 5.2: one vote per term, first come first served; a pre-vote for a later term
  // promises nothing.
  const bool can_vote =
      vote_ == from || (vote_ == kNoNode && leader_ == kNoNode) || (pre && Term(m.term()) > term_);
  pb::Message resp;
  resp.set_type(pre ? pb::MSG_PRE_VOTE_RESP : pb::MSG_VOTE_RESP);
  resp.set_to(from.value);
  // Paper 5.4.1: only vote for a candidate whose log is at least as up-to-date as ours.
  if (can_vote && log_.is_up_to_date(LogIndex(m.index()), Term(m.log_term()))) {
    resp.set_term(pre ? m.term() : term_.value);
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = from;
    }
  } else {
    resp.set_term(term_.value);
    resp.set_reject(true);
  }
  send(std::move(resp));
}

void Node::step_follower(const pb::Message& m) {
  switch (m.type()) {
    case pb::MSG_APP:
    case pb::MSG_HEARTBEAT:
    case pb::MSG_SNAP:
      election_elapsed_ = 0;
      leader_ = NodeId(m.from());
      if (m.type() == pb::MSG_APP) send(follower_.append(m));
      if (m.type() == pb::MSG_HEARTBEAT) send(follower_.heartbeat(m));
      if (m.type() == pb::MSG_SNAP) {
        std::optional<pb::Snapshot> install;
        pb::Message resp = follower_.snapshot_chunk(m, install);
        if (install) install_snapshot_of(std::move(*install));
        send(std::move(resp));
      }
      break;
    case pb::MSG_TIMEOUT_NOW:
      if (is_voter(cfg_.id)) campaign(CampaignKind::kTransfer);
      break;
    case pb::MSG_READ_INDEX_RESP:
      outbox_.add_read({LogIndex(m.index()), m.context()});
      break;
    default:
      break;
  }
}

void Node::step_candidate(const pb::Message& m) {
  switch (m.type()) {
    case pb::MSG_APP:
    case pb::MSG_HEARTBEAT:
    case pb::MSG_SNAP:
      // Paper 5.2: a leader of our term exists; we lost.
      become_follower(term_, NodeId(m.from()));
      step_follower(m);
      break;
    case pb::MSG_VOTE_RESP:
    case pb::MSG_PRE_VOTE_RESP: {
      const bool mine = (m.type() == pb::MSG_PRE_VOTE_RESP) == (role_ == Role::kPreCandidate);
      if (!mine) break;
      votes_[NodeId(m.from())] = !m.reject();
      switch (tally(voters_, votes_)) {
        case VoteResult::kWon:
          if (role_ == Role::kPreCandidate) {
            campaign(CampaignKind::kElection);
          } else {
            become_leader();
          }
          break;
        case VoteResult::kLost:
          become_follower(term_, kNoNode);
          break;
        case VoteResult::kPending:
          break;
      }
      break;
    }
    default:
      break;
  }
}

void Node::install_snapshot_of(pb::Snapshot snapshot) {
  voters_.clear();
  for (uint64_t v : snapshot.meta().conf().voters()) voters_.push_back(NodeId(v));
  outbox_.install_snapshot(std::move(snapshot));
}

// ---------------------------------------------------------------------------------------------
// Requests

Result<Proposal> Node::propose(std::string data) {
  if (role_ != Role::kLeader) return Status(Code::kNotLeader, "not the leader");
  return leading_->propose(std::move(data));
}

Status Node::read_index(std::string context) {
  if (role_ == Role::kLeader) {
    leading_->read({std::move(context), cfg_.id});
    return Status::ok();
  }
  if (leader_ == kNoNode) return Status(Code::kNotLeader, "no leader known");
  pb::Message m;
  m.set_type(pb::MSG_READ_INDEX);
  m.set_to(leader_.value);
  m.set_context(std::move(context));
  send(std::move(m));
  return Status::ok();
}

Status Node::transfer_leadership(NodeId to) {
  if (role_ != Role::kLeader) return Status(Code::kNotLeader, "not the leader");
  if (to == cfg_.id) return Status::ok();
  if (!is_voter(to)) return Status(Code::kInvalidArgument, "transfer target is not a voter");
  // A host repeating its request re-sends but keeps the deadline: a transfer has one election
  // timeout (thesis 3.10), and restarting that clock on every retry would keep proposals
  // Dropped, and postpone check-quorum (thesis 6.2), for as long as the retries go on.
  if (leading_->transfer_to(to)) election_elapsed_ = 0;
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// Ready

bool Node::has_ready() const {
  return outbox_.has_ready(soft_state(), hard_state()) || !log_.unstable_entries().empty() ||
         log_.has_next_committed() || (leading_ && leading_->has_flush_work());
}

Ready Node::ready() {
  if (leading_) leading_->flush();
  Ready rd = outbox_.take(soft_state(), hard_state());
  rd.entries = log_.unstable_entries();
  rd.committed = take_committed();
  return rd;
}

std::vector<pb::Entry> Node::take_committed() {
  std::vector<pb::Entry> out = log_.next_committed(cfg_.apply_bytes_max);
  // Handed out now, whatever the host does with the Ready: no later call returns them again.
  if (!out.empty()) log_.applied_to(LogIndex(out.back().index()));
  return out;
}

void Node::advance(const Ready& rd) {
  outbox_.advance(rd);
  if (rd.snapshot) log_.snapshot_installed(LogIndex(rd.snapshot->meta().index()));
  if (!rd.entries.empty())
    log_.stable_to(LogIndex(rd.entries.back().index()), Term(rd.entries.back().term()));
  if (leading_) leading_->persisted();
}

}  // namespace castor::raft
