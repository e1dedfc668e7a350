// The text form of a Txn that `castorctl txn` reads from standard input: one directive per
// line, in the order compares, then success ops, then failure ops (they may interleave; each
// line says where it goes).
//
//   # promote v8 if nobody changed serving or schema since we read them
//   compare mod_revision models/fraud/serving = 42
//   compare mod models/fraud/schema = 41
//   success put models/fraud/serving v8
//   success put models/fraud/schema "schema v8"
//   failure get models/fraud/serving
//
//   compare FIELD KEY OP OPERAND
//       FIELD    value | version | create_revision | mod_revision   (or etcdctl's ver, create, mod)
//       OP       =  !=  <  >                                         (== is the same as =)
//       OPERAND  bytes for value, a number otherwise ("version 0" means the key is absent)
//   success|failure get KEY
//   success|failure range PREFIX        every key starting with PREFIX
//   success|failure put KEY VALUE
//   success|failure del KEY
//   success|failure del_prefix PREFIX
//
// Tokens are separated by spaces or tabs. A token holding spaces, '#', quotes or arbitrary
// bytes is written in double quotes with C escapes: \" \\ \n \r \t \0 \xHH. '#' outside quotes
// starts a comment; blank lines are ignored.
//
// What it does NOT do: check sizes or op counts against a node's limits (the node does, and
// answers INVALID_ARGUMENT or TOO_LARGE) or send the Txn (castorctl does).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kv/kv.pb.h"
#include "raft/base/status.h"

namespace castor::tools {

// The Txn the text describes; INVALID_ARGUMENT "line N: ..." naming the first error.
Result<kv::pb::TxnRequest> parse_txn_text(std::string_view text);

// One line cut into tokens (quotes removed, escapes decoded); INVALID_ARGUMENT on a bad quote
// or escape.
Result<std::vector<std::string>> split_txn_line(std::string_view line);

}  // namespace castor::tools
