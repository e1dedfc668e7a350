#include "kv/machine/state_machine.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <system_error>
#include <utility>

#include "kv/machine/encoding.h"
#include "kv/machine/error_code.h"
#include "raft/storage/durable_dir.h"
#include "raft/storage/lmdb_file.h"

namespace castor::kv {
namespace {

constexpr std::string_view kAppliedIndexKey = "applied_index";
constexpr std::string_view kAppliedTermKey = "applied_term";
constexpr std::string_view kFormatVersionKey = "format_version";
constexpr std::string_view kRevisionKey = "revision";
// 2: the store revision (kRevisionKey) numbers state-changing writes; in 1, revisions were Raft
// indexes. The two cannot be mixed on one cluster, so version 1 is refused (see open()).
constexpr uint64_t kFormatVersion = 2;

// Table ids in snapshot streams: part of the snapshot format, never renumber.
enum SnapshotTable : uint8_t {
  kMetaTable = 1,
  kKeysTable = 2,
  kSessionsTable = 3,
  kSessionLruTable = 4,
  kResponsesTable = 5,
};

// No legitimate record comes near this (a value is at most Limits::value_bytes_max, a cached
// answer a few range responses); it only stops a damaged length from buffering a whole stream.
constexpr uint64_t kSnapshotRecordBytesMax = uint64_t{256} << 20;

// What to do about state of another format version. Version 1 (revisions were Raft indexes)
// cannot be converted in place: each replica would derive a different store revision from its
// own applied index, and replicas must agree.
std::string format_version_error(const std::string& what, uint64_t version) {
  std::string message = what + " has format version " + std::to_string(version) + ", this castord needs " +
                        std::to_string(kFormatVersion);
  if (version < kFormatVersion) {
    message +=
        ": it was written by an older Castor, whose revisions were Raft indexes. Copy the keys out "
        "with the old castord (castorctl range '' -w json), start a new cluster with empty data "
        "directories, and write them back";
  } else {
    message += ": it was written by a newer Castor; run that version";
  }
  return message;
}

// What apply checks (limits.h): a request's shape and the key bound LMDB itself imposes, and no
// size flag of this node. The flags bound what a node proposes; an entry in the log is applied
// the same way by every replica, whatever flags each runs with.
constexpr Limits kApplyLimits{.key_bytes_max = kLmdbKeyBytesMax,
                              .value_bytes_max = UINT64_MAX,
                              .txn_ops_max = UINT64_MAX,
                              .request_bytes_max = UINT64_MAX,
                              .txn_response_bytes_max = UINT64_MAX};

struct EnvCloser {
  void operator()(MDB_env* env) const { mdb_env_close(env); }
};

}  // namespace

Result<std::unique_ptr<StateMachine>> StateMachine::open(const StateMachineOptions& options) {
  const std::filesystem::path dir = std::filesystem::path(options.data_dir) / "kv";
  if (Status s = raft::create_dirs_durably(dir); !s.is_ok()) return s;

  MDB_env* raw_env = nullptr;
  if (int rc = mdb_env_create(&raw_env); rc != MDB_SUCCESS) return lmdb_status(rc, "mdb_env_create");
  std::unique_ptr<MDB_env, EnvCloser> env(raw_env);
  if (int rc = mdb_env_set_mapsize(env.get(), options.map_bytes); rc != MDB_SUCCESS) {
    return lmdb_status(rc, "mdb_env_set_mapsize");
  }
  if (int rc = mdb_env_set_maxdbs(env.get(), 8); rc != MDB_SUCCESS)
    return lmdb_status(rc, "mdb_env_set_maxdbs");
  const uint64_t lmdb_key_bytes_max = static_cast<uint64_t>(mdb_env_get_maxkeysize(env.get()));
  // kApplyLimits assumes the bound of Debian's LMDB build; a build with another would apply
  // keys differently from its peers, so it is refused outright.
  if (lmdb_key_bytes_max != kLmdbKeyBytesMax) {
    return Status(Code::kInternal, "this LMDB build allows keys of " + std::to_string(lmdb_key_bytes_max) +
                                       " bytes; Castor needs " + std::to_string(kLmdbKeyBytesMax));
  }
  if (options.limits.key_bytes_max > lmdb_key_bytes_max) {
    return Status(Code::kInvalidArgument, "key_bytes_max " + std::to_string(options.limits.key_bytes_max) +
                                              " exceeds LMDB's " + std::to_string(lmdb_key_bytes_max));
  }
  // Sync flags. The Raft log is the source of truth: after a crash the server replays committed
  // entries above the applied index stored here, so this environment may lose its last
  // transactions but must never be damaged.
  // - MDB_NOMETASYNC gives exactly that: each commit fsyncs the data pages but not the meta
  //   page, which reaches disk with the next commit or sync(). An OS crash may undo the last
  //   transaction (applied index and its effects together, since they share the transaction);
  //   LMDB stays consistent. One fsync per apply batch instead of two.
  // - MDB_NOSYNC would skip the fsync too, but then integrity depends on the file system keeping
  //   write order, which ext4 and XFS do not promise: a crash could corrupt the database.
  // - MDB_WRITEMAP is not used: a stray write through a pointer into the map would corrupt it.
  // A process crash loses nothing in any mode (the writes are in the page cache).
  // MDB_NOTLS: read transactions are not tied to a thread, so readers on any thread work.
  const unsigned flags = MDB_NOMETASYNC | MDB_NOTLS;
  if (int rc = mdb_env_open(env.get(), dir.c_str(), flags, 0644); rc != MDB_SUCCESS) {
    return lmdb_status(rc, "mdb_env_open");
  }
  if (Status s = raft::check_lmdb_file_complete(
          env.get(), "restore this node from a peer: remove the data directory and rejoin");
      !s.is_ok()) {
    return s;
  }
  // The files LMDB may have just created: their names are durable only once kv/ is fsynced.
  if (Status s = raft::fsync_dir(dir); !s.is_ok()) return s;

  auto txn = LmdbTxn::begin(env.get(), false);
  if (!txn.is_ok()) return txn.status();
  auto opened = open_tables(*txn);
  if (!opened.is_ok()) return opened.status();
  const Tables tables = *opened;
  auto version = read_u64_record(*txn, tables.meta, kFormatVersionKey, 0);
  if (!version.is_ok()) return version.status();
  if (*version == 0) {
    if (Status s = txn->put(tables.meta, kFormatVersionKey, u64_key(kFormatVersion)); !s.is_ok()) return s;
  } else if (*version != kFormatVersion) {
    return Status(Code::kCorruption, format_version_error("state in " + dir.string(), *version));
  }
  auto applied = read_u64_record(*txn, tables.meta, kAppliedIndexKey, 0);
  if (!applied.is_ok()) return applied.status();
  auto revision = read_u64_record(*txn, tables.meta, kRevisionKey, 0);
  if (!revision.is_ok()) return revision.status();
  History history(tables.history, tables.history_marks, options.history);
  if (Status s = history.open(*txn, *revision); !s.is_ok()) return s;
  if (Status s = txn->commit(); !s.is_ok()) return s;
  return std::unique_ptr<StateMachine>(
      new StateMachine(options, env.release(), tables, raft::LogIndex(*applied), *revision));
}

Result<StateMachine::Tables> StateMachine::open_tables(LmdbTxn& txn) {
  Tables tables{};
  const std::pair<const char*, MDB_dbi*> named[] = {{"meta", &tables.meta},
                                                    {"keys", &tables.keys},
                                                    {"sessions", &tables.sessions},
                                                    {"session_lru", &tables.session_lru},
                                                    {"responses", &tables.responses},
                                                    {"history", &tables.history},
                                                    {"history_marks", &tables.history_marks}};
  for (const auto& [name, dbi] : named) {
    if (int rc = mdb_dbi_open(txn.raw(), name, MDB_CREATE, dbi); rc != MDB_SUCCESS) {
      return lmdb_status(rc, "mdb_dbi_open");
    }
  }
  return tables;
}

StateMachine::StateMachine(const StateMachineOptions& options, MDB_env* env, const Tables& tables,
                           raft::LogIndex applied, uint64_t revision)
    : options_(options),
      env_(env),
      tables_(tables),
      keys_(tables.keys, options.limits),
      sessions_(options.sessions,
                Sessions::Tables{tables.meta, tables.sessions, tables.session_lru, tables.responses}),
      history_(tables.history, tables.history_marks, options.history),
      applied_index_(applied.value),
      revision_(revision) {}

StateMachine::~StateMachine() {
  open_txn_.reset();  // aborts what was never committed: the Raft log replays it
  mdb_env_close(env_);
}

Result<LmdbTxn> StateMachine::begin_read() const { return LmdbTxn::begin(env_, true); }

Result<uint64_t> StateMachine::session_count() const {
  auto txn = begin_read();
  if (!txn.is_ok()) return txn.status();
  return txn->count(tables_.sessions);
}

Result<std::vector<AppliedCommand>> StateMachine::apply(std::span<const raft::pb::Entry> entries) {
  std::vector<AppliedCommand> collected;
  Status s = apply_uncommitted(
      entries, [&collected](AppliedBatch applied) { collected = std::move(applied.answers); });
  if (s.is_ok()) s = commit();
  if (!s.is_ok()) return s;
  return collected;
}

Status StateMachine::apply_uncommitted(std::span<const raft::pb::Entry> entries, const AppliedSink& applied) {
  Status s = apply_to_open_txn(entries, applied);
  // A failed batch may have applied part of an entry: drop the whole uncommitted transaction,
  // so no commit() can ever make that part durable. The node stops and replays from its log.
  if (!s.is_ok()) open_txn_.reset();
  return s;
}

Status StateMachine::apply_to_open_txn(std::span<const raft::pb::Entry> entries, const AppliedSink& sink) {
  AppliedBatch batch_applied;
  const uint64_t applied_before = open_txn_ ? open_applied_ : applied_index_.load(std::memory_order_relaxed);
  uint64_t applied = applied_before;
  uint64_t applied_term = 0;
  for (const raft::pb::Entry& entry : entries) {
    if (entry.index() <= applied) continue;
    if (entry.index() != applied + 1) {
      return Status(Code::kInternal, "entry " + std::to_string(entry.index()) + " follows applied index " +
                                         std::to_string(applied));
    }
    if (Status s = ensure_open_txn(); !s.is_ok()) return s;
    switch (entry.type()) {
      case raft::pb::ENTRY_NORMAL: {
        pb::CommandBatch batch;
        if (!batch.ParseFromString(entry.data())) {
          return Status(Code::kCorruption,
                        "entry " + std::to_string(entry.index()) + " is not a CommandBatch");
        }
        for (const pb::Command& command : batch.commands()) {
          auto result =
              apply_command(*open_txn_, raft::LogIndex(entry.index()), command, batch_applied.events);
          if (!result.is_ok()) return result.status();
          batch_applied.answers.push_back(std::move(*result));
        }
        break;
      }
      case raft::pb::ENTRY_NOOP:
      case raft::pb::ENTRY_CONF:
        break;
      default:
        return Status(Code::kCorruption, "entry " + std::to_string(entry.index()) + " has unknown type " +
                                             std::to_string(entry.type()));
    }
    applied = entry.index();
    applied_term = entry.term();
  }
  // Everything was at or below the applied index: nothing to write.
  if (applied == applied_before) return Status::ok();
  if (Status s = open_txn_->put(tables_.meta, kAppliedIndexKey, u64_key(applied)); !s.is_ok()) return s;
  if (Status s = open_txn_->put(tables_.meta, kAppliedTermKey, u64_key(applied_term)); !s.is_ok()) return s;
  if (Status s = open_txn_->put(tables_.meta, kRevisionKey, u64_key(open_revision_)); !s.is_ok()) return s;
  if (Status s = history_.settle(*open_txn_, open_revision_); !s.is_ok()) return s;
  open_applied_ = applied;
  batch_applied.revision = open_revision_;
  sink(std::move(batch_applied));
  return Status::ok();
}

Status StateMachine::commit() {
  if (!open_txn_) return Status::ok();
  Status s = open_txn_->commit();
  open_txn_.reset();
  if (!s.is_ok()) return s;
  revision_.store(open_revision_, std::memory_order_release);
  applied_index_.store(open_applied_, std::memory_order_release);
  return Status::ok();
}

Status StateMachine::ensure_open_txn() {
  if (open_txn_.has_value()) return Status::ok();
  auto begun = LmdbTxn::begin(env_, false);
  if (!begun.is_ok()) return begun.status();
  // Read from the transaction rather than taken from revision_: after a failed batch was
  // dropped, the stored revision is the one to continue from.
  auto revision = read_u64_record(*begun, tables_.meta, kRevisionKey, 0);
  if (!revision.is_ok()) return revision.status();
  open_revision_ = *revision;
  if (Status s = history_.begin(*begun); !s.is_ok()) return s;
  open_txn_.emplace(std::move(*begun));
  return Status::ok();
}

Result<AppliedCommand> StateMachine::apply_command(LmdbTxn& txn, raft::LogIndex index,
                                                   const pb::Command& command,
                                                   std::vector<pb::Event>& events) {
  auto now = sessions_.advance_clock(txn, command.timestamp_ms(), command.session_timeout_ms());
  if (!now.is_ok()) return now.status();
  AppliedCommand out;
  out.index = index;
  pb::ClientResponse& response = out.response;
  switch (command.command_case()) {
    case pb::Command::kRegisterClient: {
      auto client_id = sessions_.register_client(txn, *now);
      if (!client_id.is_ok()) return client_id.status();
      response.mutable_register_client()->set_client_id(*client_id);
      response.mutable_register_client()->set_nonce(command.register_client().nonce());
      break;
    }
    case pb::Command::kWrite: {
      const pb::WriteRequest& write = command.write();
      out.client_id = write.client_id();
      out.seq = write.seq();
      // Checked again here because the log, not the proposer, is the authority, but only for
      // its shape and LMDB's own key bound (kApplyLimits): the size flags are the proposer's
      // business, and a replica with other flags must apply the entry as every replica does.
      // Checked before the session sees the request, so that malformed session fields cannot
      // disturb it. The verdict depends on the request alone, so a retry gets the same answer
      // without caching it.
      if (Status valid = validate(write, kApplyLimits); !valid.is_ok()) {
        response.set_code(to_error_code(valid.code()));
        response.set_message(valid.message());
        break;
      }
      // Without a session (client_id 0) there is nothing to deduplicate or record (kv.proto).
      const bool in_session = write.client_id() != 0;
      if (in_session) {
        auto admission = sessions_.admit(txn, write, *now);
        if (!admission.is_ok()) return admission.status();
        // A duplicate answers exactly as the first time, header included.
        if (admission->kind == Sessions::Admission::Kind::kDuplicate && !options_.unsafe_skip_dedup) {
          response = std::move(admission->response);
          return out;
        }
        if (admission->kind == Sessions::Admission::Kind::kRejected) {
          response = std::move(admission->response);
          break;
        }
      }
      if (Status s = execute_admitted(txn, index, write, response, events); !s.is_ok()) return s;
      return out;
    }
    case pb::Command::COMMAND_NOT_SET:
      // A command kind this binary does not know (a newer leader's): refused the same way on
      // every replica of this version.
      response.set_code(pb::INVALID_ARGUMENT);
      response.set_message("command has no known body");
      break;
  }
  response.mutable_header()->set_revision(open_revision_);
  return out;
}

Status StateMachine::execute_admitted(LmdbTxn& txn, raft::LogIndex index, const pb::WriteRequest& write,
                                      pb::ClientResponse& response, std::vector<pb::Event>& events) {
  // The revision this write takes if it changes anything (kv.proto, ResponseHeader).
  const uint64_t revision = options_.unsafe_revision_per_entry ? index.value : open_revision_ + 1;
  KeySpace::Changes changes;
  auto result = execute(txn, write, revision, changes);
  if (!result.is_ok()) return result.status();
  // A write takes a revision when it changed anything (kv.proto): a put always (version and
  // mod_revision move even for an equal value), a delete that found a key, a Txn whose branch
  // did either. Its events are kept for watches under that revision.
  if (!changes.empty()) {
    open_revision_ = revision;
    if (!options_.unsafe_revision_per_entry) {
      if (Status s = history_.append(txn, revision, changes); !s.is_ok()) return s;
    }
    std::move(changes.begin(), changes.end(), std::back_inserter(events));
  }
  *response.mutable_write() = std::move(*result);
  response.mutable_header()->set_revision(open_revision_);
  // Without a session (client_id 0) there is nothing to record (kv.proto).
  if (write.client_id() == 0) return Status::ok();
  return sessions_.record(txn, write.client_id(), write.seq(), response);
}

Result<pb::WriteResponse> StateMachine::execute(LmdbTxn& txn, const pb::WriteRequest& write,
                                                uint64_t revision, KeySpace::Changes& changes) {
  pb::WriteResponse response;
  switch (write.op_case()) {
    case pb::WriteRequest::kPut: {
      auto r = keys_.put(txn, write.put(), revision, changes);
      if (!r.is_ok()) return r.status();
      *response.mutable_put() = std::move(*r);
      break;
    }
    case pb::WriteRequest::kDeleteKey: {
      auto r = keys_.delete_key(txn, write.delete_key(), revision, changes);
      if (!r.is_ok()) return r.status();
      *response.mutable_delete_key() = std::move(*r);
      break;
    }
    case pb::WriteRequest::kDeleteRange: {
      auto r = keys_.delete_range(txn, write.delete_range(), revision, changes);
      if (!r.is_ok()) return r.status();
      *response.mutable_delete_range() = std::move(*r);
      break;
    }
    case pb::WriteRequest::kTxn: {
      auto r = keys_.txn(txn, write.txn(), revision, changes);
      if (!r.is_ok()) return r.status();
      *response.mutable_txn() = std::move(*r);
      break;
    }
    case pb::WriteRequest::OP_NOT_SET:
      CASTOR_ASSERT(false, "a write without an op passed validate()");
  }
  return response;
}

Result<pb::ClientResponse> StateMachine::get(const pb::GetRequest& request) const {
  if (Status s = validate(request, options_.limits); !s.is_ok()) return s;
  auto txn = begin_read();
  if (!txn.is_ok()) return txn.status();
  // The revision comes from the same transaction as the data, so they agree.
  auto revision = read_u64_record(*txn, tables_.meta, kRevisionKey, 0);
  if (!revision.is_ok()) return revision.status();
  auto kv = keys_.get(*txn, request.key());
  if (!kv.is_ok()) return kv.status();
  pb::ClientResponse response;
  response.mutable_header()->set_revision(*revision);
  pb::GetResponse* get_response = response.mutable_get();
  if (kv->has_value()) *get_response->mutable_kv() = std::move(**kv);
  return response;
}

Result<pb::ClientResponse> StateMachine::range(const pb::RangeRequest& request) const {
  if (Status s = validate(request, options_.limits); !s.is_ok()) return s;
  auto txn = begin_read();
  if (!txn.is_ok()) return txn.status();
  auto revision = read_u64_record(*txn, tables_.meta, kRevisionKey, 0);
  if (!revision.is_ok()) return revision.status();
  auto result = keys_.range(*txn, request);
  if (!result.is_ok()) return result.status();
  pb::ClientResponse response;
  response.mutable_header()->set_revision(*revision);
  *response.mutable_range() = std::move(*result);
  return response;
}

Result<SnapshotInfo> StateMachine::snapshot(uint64_t chunk_bytes, const SnapshotWriter::Sink& sink) const {
  auto txn = begin_read();
  if (!txn.is_ok()) return txn.status();
  SnapshotInfo info;
  auto index = read_u64_record(*txn, tables_.meta, kAppliedIndexKey, 0);
  if (!index.is_ok()) return index.status();
  auto term = read_u64_record(*txn, tables_.meta, kAppliedTermKey, 0);
  if (!term.is_ok()) return term.status();
  info.index = raft::LogIndex(*index);
  info.term = raft::Term(*term);
  SnapshotWriter writer(chunk_bytes, sink);
  const std::pair<SnapshotTable, MDB_dbi> tables[] = {{kMetaTable, tables_.meta},
                                                      {kKeysTable, tables_.keys},
                                                      {kSessionsTable, tables_.sessions},
                                                      {kSessionLruTable, tables_.session_lru},
                                                      {kResponsesTable, tables_.responses}};
  for (const auto& [table, dbi] : tables) {
    auto cursor = LmdbCursor::open(*txn, dbi);
    if (!cursor.is_ok()) return cursor.status();
    for (auto found = cursor->first();; found = cursor->next()) {
      if (!found.is_ok()) return found.status();
      if (!*found) break;
      if (Status s = writer.add(table, cursor->key(), cursor->value()); !s.is_ok()) return s;
    }
  }
  if (Status s = writer.finish(); !s.is_ok()) return s;
  info.bytes = writer.bytes_written();
  return info;
}

Result<MDB_dbi> StateMachine::snapshot_table(uint8_t table) const {
  switch (table) {
    case kMetaTable:
      return tables_.meta;
    case kKeysTable:
      return tables_.keys;
    case kSessionsTable:
      return tables_.sessions;
    case kSessionLruTable:
      return tables_.session_lru;
    case kResponsesTable:
      return tables_.responses;
    default:
      return Status(Code::kCorruption, "snapshot record of unknown table " + std::to_string(table));
  }
}

Result<SnapshotInfo> StateMachine::restore(const SnapshotReader::Source& source) {
  if (open_txn_) return Status(Code::kInternal, "restore called with applied writes not yet committed");
  auto txn = LmdbTxn::begin(env_, false);
  if (!txn.is_ok()) return txn.status();
  const MDB_dbi all[] = {tables_.meta, tables_.keys, tables_.sessions, tables_.session_lru,
                         tables_.responses};
  for (MDB_dbi dbi : all) {
    if (Status s = txn->clear(dbi); !s.is_ok()) return s;
  }
  SnapshotInfo info;
  SnapshotReader reader(
      [&source, &info]() {
        auto chunk = source();
        if (chunk.is_ok()) info.bytes += chunk->size();
        return chunk;
      },
      kSnapshotRecordBytesMax);
  const uint64_t lmdb_key_bytes_max = static_cast<uint64_t>(mdb_env_get_maxkeysize(env_));
  for (;;) {
    auto record = reader.next();
    if (!record.is_ok()) return record.status();
    if (!record->has_value()) break;
    const SnapshotRecord& r = **record;
    auto dbi = snapshot_table(r.table);
    if (!dbi.is_ok()) return dbi.status();
    if (r.key.empty() || r.key.size() > lmdb_key_bytes_max) {
      return Status(Code::kCorruption,
                    "snapshot record with a key of " + std::to_string(r.key.size()) + " bytes");
    }
    if (r.table == kKeysTable && !KeySpace::well_formed(r.value)) {
      return Status(Code::kCorruption, "snapshot holds a malformed stored value");
    }
    if (Status s = txn->put(*dbi, r.key, r.value); !s.is_ok()) return s;
  }
  // The stream was intact (the reader checked its checksum); now check it is a state machine's.
  auto version = read_u64_record(*txn, tables_.meta, kFormatVersionKey, 0);
  if (!version.is_ok()) return version.status();
  if (*version != kFormatVersion)
    return Status(Code::kCorruption, format_version_error("snapshot", *version));
  auto index = read_u64_record(*txn, tables_.meta, kAppliedIndexKey, 0);
  if (!index.is_ok()) return index.status();
  auto term = read_u64_record(*txn, tables_.meta, kAppliedTermKey, 0);
  if (!term.is_ok()) return term.status();
  auto revision = read_u64_record(*txn, tables_.meta, kRevisionKey, 0);
  if (!revision.is_ok()) return revision.status();
  // The history before the snapshot is not ours to know: watches start at its revision or later.
  if (Status s = history_.reset(*txn, *revision); !s.is_ok()) return s;
  if (Status s = txn->commit(); !s.is_ok()) return s;
  revision_.store(*revision, std::memory_order_release);
  applied_index_.store(*index, std::memory_order_release);
  info.index = raft::LogIndex(*index);
  info.term = raft::Term(*term);
  return info;
}

Result<HistoryPage> StateMachine::read_history(uint64_t after, uint64_t page_bytes_max) const {
  auto txn = begin_read();
  if (!txn.is_ok()) return txn.status();
  return history_.read(*txn, after, page_bytes_max);
}

Status StateMachine::sync() { return lmdb_status(mdb_env_sync(env_, 1), "mdb_env_sync"); }

}  // namespace castor::kv
