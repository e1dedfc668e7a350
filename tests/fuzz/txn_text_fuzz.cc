// castorctl txn's text form (tools/txn_text.h), read from standard input: whatever it is given,
// an answer (a TxnRequest or a "line N: ..." error), never a crash.
#include <cstdlib>
#include <string_view>

#include "tools/txn_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto txn = castor::tools::parse_txn_text(text);
  if (!txn.is_ok() && txn.status().code() != castor::Code::kInvalidArgument) abort();
  return 0;
}
