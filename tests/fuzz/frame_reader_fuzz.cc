// FrameReader: a byte stream, arriving in pieces of any size, must come out as the frames it
// encodes, then nothing or one error that sticks. Checked: the frames read, encoded again,
// are exactly the bytes consumed.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdlib>
#include <string>

#include "net/frame.h"

using castor::net::append_frame;
using castor::net::FrameReader;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  // A small limit, so that the fuzzer reaches both sides of it.
  FrameReader reader(in.ConsumeIntegralInRange<uint32_t>(1, 64));
  std::string fed, decoded;
  bool failed = false;
  while (in.remaining_bytes() > 0 && !failed) {
    const std::string piece = in.ConsumeRandomLengthString(16);
    reader.feed(piece.data(), piece.size());
    fed += piece;
    for (;;) {
      auto frame = reader.next();
      if (!frame.is_ok()) {
        failed = true;
        break;
      }
      if (!frame->has_value()) break;
      append_frame(decoded, (*frame)->kind, (*frame)->payload);
    }
  }
  if (fed.compare(0, decoded.size(), decoded) != 0) abort();
  if (!failed && decoded.size() + reader.buffered() != fed.size()) abort();
  if (failed && reader.next().is_ok()) abort();  // the error sticks
  return 0;
}
