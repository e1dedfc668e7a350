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
    const size_t n = co_await socket_.async_read_some(asio::buffer(buf_), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Status(Code::kUnavailable, ec == asio::error::eof ? "connection closed" : ec.message());
    reader_.feed(buf_, n);
  }
}

asio::awaitable<Result<Frame>> FramedSocket::read_frame_within(std::chrono::milliseconds timeout) {
  // The timer's handler and the read's completion can be queued in the same reactor pass, and
  // then cancel() no longer stops the handler (it already holds a success code). The shared
  // flags decide: once the read is done the handler touches nothing (not even `this`, which
  // may be gone), and a read whose timer closed the socket reports the timeout, so that OK
  // always comes with an open socket.
  struct Race {
    bool read_done = false;
    bool timed_out = false;
  };
  auto race = std::make_shared<Race>();
  asio::steady_timer timer(socket_.get_executor(), timeout);
  timer.async_wait([this, race](boost::system::error_code ec) {
    if (ec || race->read_done) return;
    race->timed_out = true;
    close();
  });
  Result<Frame> r = co_await read_frame();
  race->read_done = true;
  timer.cancel();
  if (race->timed_out) {
    co_return Status(Code::kUnavailable, "no complete frame within " + std::to_string(timeout.count()) + " ms");
  }
  co_return r;
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
