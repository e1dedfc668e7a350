// Linked into every fuzz target. Protobuf logs an ERROR for each string field with invalid
// UTF-8 it parses; fuzz inputs are full of them, and they would drown the fuzzer's output.
#include <google/protobuf/stubs/logging.h>

namespace {
const bool kSilenced = (google::protobuf::SetLogHandler(nullptr), true);
}  // namespace
