#include "net/accept_error.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace castor::net {

namespace asio = boost::asio;
using errc = boost::system::errc::errc_t;

bool out_of_file_descriptors(const boost::system::error_code& ec) {
  return ec == errc::too_many_files_open || ec == errc::too_many_files_open_in_system ||
         ec == errc::no_buffer_space || ec == errc::not_enough_memory;
}

asio::awaitable<void> handle_accept_error(boost::system::error_code ec, std::string port,
                                          std::map<std::string, uint64_t>& rejected, RateLimitedLog& log) {
  if (!out_of_file_descriptors(ec)) {
    log.warn(port + ": accept failed", ec.message());
    co_return;
  }
  ++rejected[kOutOfFileDescriptors];
  log.warn(port + ": " + kOutOfFileDescriptors,
           ec.message() + "; new connections wait in the listen backlog, accepting again every " +
               std::to_string(kAcceptPauseWhenExhausted.count()) +
               " ms (raise the open-files limit: docs/RUNBOOK.md)");
  asio::steady_timer pause(co_await asio::this_coro::executor, kAcceptPauseWhenExhausted);
  boost::system::error_code ignored;
  co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

}  // namespace castor::net
