// The Hello handshake: the first frame's payload, from anyone who can connect, parsed and
// checked on both a peer port and a client port.
#include <cstdlib>

#include "net/hello.h"

using castor::net::check_hello;
using castor::net::pb::Hello;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Hello hello;
  if (!hello.ParseFromArray(data, static_cast<int>(size))) return 0;
  for (Hello::Role role : {Hello::PEER, Hello::CLIENT}) {
    const bool ok = check_hello(hello, "fuzz", role).is_ok();
    // An accepted Hello is one the matching end would send.
    if (ok && (hello.cluster_id() != "fuzz" || hello.role() != role)) abort();
  }
  return 0;
}
