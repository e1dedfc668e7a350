#include "net/framed_socket.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace castor::net {

namespace asio = boost::asio;

asio::awaitable<Result<Frame>> FramedSocket::read_frame() {
  for (;;) {
    Result<std::optional<Frame>> r = reader_.next();
    if (!r.is_ok()) co_return r.status();
    if (r->has_value()) co_return std::move(**r);
    boost::system::error_code ec;
    const size_t n =
        co_await socket_.async_read_some(asio::buffer(buf_), asio::redirect_error(asio::use_awaitable, ec));
    if (ec)
      co_return Status(Code::kUnavailable, ec == asio::error::eof ? std::string(kPeerClosed) : ec.message());
    reader_.feed(buf_, n);
  }
}

// A deadline for one operation on the socket: the timer closes the socket unless the operation
// finished first. The timer's handler and the operation's completion can be queued in the same
// reactor pass, and then cancel() no longer stops the handler (it already holds a success
// code). The shared flags decide: once the operation is done the handler touches nothing (not
// even the socket, which may be gone), and an operation whose timer closed the socket reports
// the timeout, so that OK always comes with an open socket.
class FramedSocket::Deadline {
 public:
  Deadline(FramedSocket& socket, std::chrono::milliseconds timeout)
      : timer_(socket.socket_.get_executor(), timeout), race_(std::make_shared<Race>()) {
    timer_.async_wait([&socket, race = race_](boost::system::error_code ec) {
      if (ec || race->done) return;
      race->timed_out = true;
      socket.close();
    });
  }
  // The operation finished; true when the deadline had closed the socket first.
  bool expired() {
    race_->done = true;
    timer_.cancel();
    return race_->timed_out;
  }

 private:
  struct Race {
    bool done = false;
    bool timed_out = false;
  };
  asio::steady_timer timer_;
  std::shared_ptr<Race> race_;
};

asio::awaitable<Result<Frame>> FramedSocket::read_frame_within(std::chrono::milliseconds timeout) {
  Deadline deadline(*this, timeout);
  Result<Frame> r = co_await read_frame();
  if (deadline.expired()) {
    co_return Status(Code::kUnavailable,
                     "no complete frame within " + std::to_string(timeout.count()) + " ms");
  }
  co_return r;
}

asio::awaitable<Status> FramedSocket::write_within(const std::string& bytes,
                                                   std::chrono::milliseconds timeout) {
  Deadline deadline(*this, timeout);
  Status s = co_await write(bytes);
  if (deadline.expired()) {
    co_return Status(Code::kUnavailable,
                     "the peer took no write within " + std::to_string(timeout.count()) + " ms");
  }
  co_return s;
}

asio::awaitable<Status> FramedSocket::write(const std::string& bytes) {
  boost::system::error_code ec;
  co_await asio::async_write(socket_, asio::buffer(bytes), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Status(Code::kUnavailable, ec.message());
  co_return Status::ok();
}

void FramedSocket::close() {
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

std::string FramedSocket::remote() const {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace castor::net
