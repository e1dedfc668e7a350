#include "net/frame.h"

namespace castor::net {

namespace {
bool known_kind(uint8_t k) {
  return k >= static_cast<uint8_t>(FrameKind::kHello) && k <= static_cast<uint8_t>(FrameKind::kPong);
}
}  // namespace

void append_frame(std::string& out, FrameKind kind, std::string_view payload) {
  const uint32_t len = static_cast<uint32_t>(payload.size() + 1);
  const char header[kFrameHeaderBytes] = {static_cast<char>(len >> 24), static_cast<char>(len >> 16),
                                          static_cast<char>(len >> 8), static_cast<char>(len),
                                          static_cast<char>(kind)};
  out.append(header, kFrameHeaderBytes);
  out.append(payload);
}

void FrameReader::feed(const char* data, size_t size) {
  // Drop consumed bytes before growing, so the buffer stays about one frame large.
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data, size);
}

Result<std::optional<Frame>> FrameReader::next() {
  if (error_) return *error_;
  if (buffered() < 4) return std::optional<Frame>();
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  const uint32_t len =
      (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
  if (len == 0) {
    error_ = Status(Code::kInvalidArgument, "frame of length 0");
  } else if (len > frame_bytes_max_) {
    error_ = Status(Code::kTooLarge, "frame of " + std::to_string(len) + " bytes exceeds frame_bytes_max " +
                                         std::to_string(frame_bytes_max_));
  } else if (buffered() >= 5 && !known_kind(p[4])) {
    error_ = Status(Code::kInvalidArgument, "unknown frame kind " + std::to_string(p[4]));
  }
  if (error_) return *error_;
  if (buffered() < 4 + size_t{len}) return std::optional<Frame>();
  Frame f{static_cast<FrameKind>(p[4]), buf_.substr(pos_ + kFrameHeaderBytes, len - 1)};
  pos_ += 4 + size_t{len};
  return std::optional<Frame>(std::move(f));
}

}  // namespace castor::net
