// HTTP requests, as bytes on a connection: one HttpServer on loopback for the whole run,
// answering through kv/http_api's serve_http against a fake node, so that one input goes
// through Beast's parser, the server's own framing and target checks, the API's query and
// JSON handling and back. Each input is sent on a fresh connection, which is then half-closed;
// the input ends when the server has closed it. Checked: what comes back is nothing (a
// connection ended by an exception) or starts as an HTTP response.
//
// A socket per input is slower than a parser called in-process, but it drives the server's
// real read loop, without a seam in production code.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdlib>
#include <memory>
#include <string>

#include "kv/server/http_api.h"
#include "net/http_server.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace castor;

namespace {

// The node stand-in: every request it gets is answered OK, with an empty answer of its kind.
kv::HttpApiHooks fake_node() {
  kv::HttpApiHooks h;
  h.submit = [](kv::pb::ClientRequest r, std::function<void(kv::pb::ClientResponse)> done) {
    kv::pb::ClientResponse answer;
    answer.set_request_id(r.request_id());
    answer.mutable_header()->set_revision(7);
    if (r.has_get()) answer.mutable_get();
    if (r.has_range()) answer.mutable_range();
    if (r.has_write()) answer.mutable_write();
    done(answer);
  };
  // A watch streams two lines and ends, as one the node cancels at once would.
  h.watch = [](kv::pb::ClientRequest, net::HttpServer::Respond respond) {
    respond.start(net::HttpResponse{200, "application/x-ndjson", "", {}});
    respond.part("{\"created\":true,\"revision\":7}\n");
    respond.part("{\"canceled\":true,\"code\":\"OK\",\"message\":\"\",\"revision\":7}\n");
    respond.end();
  };
  h.metrics = [] { return std::string("castor_term 3\n"); };
  h.status = [] { return kv::pb::StatusResponse(); };
  h.http_address_of = [](uint64_t) { return std::string("127.0.0.1:9"); };
  return h;
}

struct Harness {
  asio::io_context io;
  kv::HttpApiHooks hooks = fake_node();
  // Small limits, so that inputs of a few KiB reach them.
  net::HttpServer server{io, net::HttpServerOptions{.body_bytes_max = 2048, .header_bytes_max = 1024},
                         [this](net::HttpRequest req, net::HttpServer::Respond respond) {
                           kv::serve_http(hooks, std::move(req), std::move(respond));
                         }};
  net::Endpoint endpoint;

  Harness() {
    spdlog::set_level(spdlog::level::off);  // the server logs each refusal; the fuzzer's output is enough
    auto bound = server.start(net::Endpoint{"127.0.0.1", 0});
    if (!bound.is_ok()) abort();
    endpoint = *bound;
  }
};

asio::awaitable<void> exchange(tcp::socket& sock, std::string request, std::string& response, bool& done) {
  boost::system::error_code ec;
  co_await asio::async_write(sock, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
  sock.shutdown(tcp::socket::shutdown_send, ec);
  co_await asio::async_read(sock, asio::dynamic_buffer(response),
                            asio::redirect_error(asio::use_awaitable, ec));
  done = true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* h = new Harness();  // for the whole run: never destroyed
  tcp::socket sock(h->io);
  // libFuzzer's SIGALRM (its -timeout check, once a second) can interrupt the connect: try
  // again then, as any caller of a blocking connect must. Any other failure is the harness's.
  const tcp::endpoint server(asio::ip::make_address(h->endpoint.host), h->endpoint.port);
  boost::system::error_code ec;
  do {
    if (sock.is_open()) sock.close();
    sock.connect(server, ec);
  } while (ec == asio::error::interrupted);
  if (ec) abort();
  std::string response;
  bool done = false;
  asio::co_spawn(h->io,
                 exchange(sock, std::string(reinterpret_cast<const char*>(data), size), response, done),
                 asio::detached);
  while (!done || h->server.connections() > 0) h->io.run_one();
  if (!response.empty() && !response.starts_with("HTTP/1.")) abort();
  return 0;
}
