#include "net/acceptor.h"

namespace castor::net {

using tcp = boost::asio::ip::tcp;

Result<std::unique_ptr<tcp::acceptor>> open_acceptor(boost::asio::io_context& io, const Endpoint& listen,
                                                     const std::string& what) {
  try {
    tcp::resolver resolver(io);
    const tcp::endpoint ep = *resolver.resolve(listen.host, std::to_string(listen.port)).begin();
    auto acceptor = std::make_unique<tcp::acceptor>(io);
    acceptor->open(ep.protocol());
    acceptor->set_option(tcp::acceptor::reuse_address(true));
    acceptor->bind(ep);
    acceptor->listen();
    return acceptor;
  } catch (const boost::system::system_error& e) {
    return Status(Code::kUnavailable,
                  "cannot listen for " + what + " on " + listen.to_string() + ": " + e.code().message());
  }
}

}  // namespace castor::net
