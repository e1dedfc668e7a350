#include "net/http_server.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>
#include <deque>
#include <exception>
#include <optional>
#include <string_view>

#include "net/accept_error.h"
#include "net/acceptor.h"
#include "raft/base/assert.h"
#include "raft/base/json.h"

namespace castor::net {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// After a response that closes the connection, the server stops sending and reads and
// discards what the client still sends for up to this long before closing. Closing a socket
// with unread input makes the kernel send RST, and the client may then lose the very error
// response (413, 400) that explains why (RFC 9112 section 9.6).
constexpr std::chrono::milliseconds kLingerTimeout{1000};

// Extra header values are bounded well below Beast's 64 KiB field limit.
constexpr size_t kHeaderValueBytesMax = 32 * 1024;

// The most asked of the socket in one read (what Beast's own reads ask).
constexpr size_t kReadBytesMax = 64 * 1024;

const std::string kBothLengths = "content-length with transfer-encoding";
const std::string kBadTransferEncoding = "bad transfer-encoding";

using RequestParser = http::request_parser<http::string_body>;

// A request the server answers by itself with an error, and the reason it counts it under.
struct Refusal {
  int status;
  std::string reason;
  std::string detail;
};

std::string error_body(Code code, const std::string& message) {
  Json j = Json::object();
  j["code"] = code_name(code);
  j["message"] = message;
  return dump_json(j);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding; false on a '%' not followed by two hex digits.
bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (plus_is_space && in[i] == '+') {
      out += ' ';
    } else {
      out += in[i];
    }
  }
  return true;
}

// Splits and decodes the request target into path and query; false when it is not an
// origin-form target ("/path?query", RFC 9112 section 3.2.1) or its escapes are malformed.
bool parse_target(std::string_view target, HttpRequest& req, std::string& why) {
  if (target.empty() || target[0] != '/') {
    why = "the request target must start with '/'";
    return false;
  }
  const size_t q = target.find('?');
  if (!percent_decode(target.substr(0, q), false, req.path)) {
    why = "bad percent-encoding in the path";
    return false;
  }
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::string name, value;
    if (!percent_decode(part.substr(0, eq), true, name) ||
        (eq != std::string_view::npos && !percent_decode(part.substr(eq + 1), true, value))) {
      why = "bad percent-encoding in the query";
      return false;
    }
    req.query.emplace(std::move(name), std::move(value));  // the first value wins
  }
  return true;
}

// The JSON error code of a status the server answers by itself.
Code code_of_refusal(int status) {
  switch (status) {
    case 400:
    case 501:  // raft/base/status.h has no "unimplemented": the request asked for what is not served
      return Code::kInvalidArgument;
    case 408:
      return Code::kUnavailable;
    default:
      return Code::kTooLarge;
  }
}

std::string_view trim_ows(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// The transfer codings a request names, lower-cased and in order, from every Transfer-Encoding
// field (RFC 9112 section 6.1), empty list elements skipped. Parameters stay part of the
// coding: chunked has none, so "chunked;x" is another coding.
std::vector<std::string> transfer_codings(const http::fields& fields) {
  std::vector<std::string> codings;
  for (auto [it, end] = fields.equal_range(http::field::transfer_encoding); it != end; ++it) {
    std::string_view rest(it->value().data(), it->value().size());
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view element = trim_ows(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (element.empty()) continue;
      std::string coding(element);
      for (char& c : coding) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      codings.push_back(std::move(coding));
    }
  }
  return codings;
}

// Whether a request's body framing is one Castor reads unambiguously. Beast alone takes
// "chunked, gzip" for a request without a body and would parse that body as the next request
// (smuggling), and ignores the codings before "chunked", which nothing here undoes.
std::optional<Refusal> check_framing(const RequestParser& parser) {
  const http::request_header<>& h = parser.get();
  if (h.count(http::field::transfer_encoding) == 0) return std::nullopt;
  // RFC 9112 section 6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
  if (h.version() < 11) return Refusal{400, kBadTransferEncoding, "Transfer-Encoding in HTTP/1.0"};
  // RFC 9112 section 6.3: the two lengths disagree on where the body ends; refuse both.
  if (h.count(http::field::content_length) != 0) return Refusal{400, kBothLengths, "send one of them"};
  const std::vector<std::string> codings = transfer_codings(h);
  // RFC 9112 section 6.3: without chunked last, once, the body's length cannot be known. The
  // parser must read the list the same way, or it would frame the body otherwise.
  if (codings.empty() || codings.back() != "chunked" ||
      std::count(codings.begin(), codings.end(), "chunked") != 1 || !parser.chunked()) {
    return Refusal{400, kBadTransferEncoding, "chunked must be the last transfer coding, once"};
  }
  // RFC 9112 section 6.1: a coding the server does not understand (only chunked is) is 501.
  if (codings.size() > 1) {
    return Refusal{501, "unsupported transfer-encoding",
                   "only chunked is implemented, not " + codings.front()};
  }
  return std::nullopt;
}

// Beast refuses some Content-Length and Transfer-Encoding pairs while it reads the header,
// before check_framing can see it: bad_transfer_encoding for a Transfer-Encoding after a
// Content-Length, bad_content_length for the reverse. The fields read so far tell which.
bool both_lengths(const boost::system::error_code& ec, const http::fields& so_far) {
  return (ec == http::error::bad_transfer_encoding && so_far.count(http::field::content_length) != 0) ||
         (ec == http::error::bad_content_length && so_far.count(http::field::transfer_encoding) != 0);
}

// Which part of a chunked body outgrew the buffer, from the bytes the parser left unparsed:
// they begin at the chunk-size line it waits for (after the CRLF that ends the previous
// chunk's data). A complete last-chunk line ("0", maybe extensions) means it waits for the end
// of the trailer section; anything else means the chunk-size line itself is too long.
bool waiting_for_trailers(std::string_view unparsed) {
  if (unparsed.starts_with("\r\n")) unparsed.remove_prefix(2);
  const size_t eol = unparsed.find("\r\n");
  const size_t zeros = unparsed.find_first_not_of('0');
  return eol != std::string_view::npos && zeros > 0 &&
         (zeros == eol || !std::isxdigit(static_cast<unsigned char>(unparsed[zeros])));
}

// A client that asks may wait for "100 Continue" before sending the body (curl does for large
// PUTs); the interim response queues behind earlier answers, in order.
bool wants_continue(const http::request_header<>& h) {
  return h.version() == 11 && boost::beast::iequals(h[http::field::expect], "100-continue");
}

std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an exception of unknown type";
  }
}

// A header value the handler gave may not break out of its line (header injection).
bool header_value_safe(std::string_view s) {
  return s.size() <= kHeaderValueBytesMax &&
         s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// A header name must be an RFC 9110 token.
bool header_name_safe(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
  }
  return true;
}

// Feeds `parser` from the socket until it has the header (whole = false) or the whole request.
// Parsing happens here, inside the connection's coroutine, rather than in Beast's async_read,
// whose composed operation parses in a completion handler: whatever the parser throws (Beast's
// fields throw std::length_error for a value of 64 KiB) then reaches the connection's boundary
// instead of unwinding io_context::run() and ending the process.
// `buf` never holds more than its max_size() of unparsed input: http::error::buffer_overflow
// when the parser needs more than that before it can go on.
asio::awaitable<boost::system::error_code> read_until(tcp::socket& sock, boost::beast::flat_buffer& buf,
                                                      RequestParser& parser, bool whole) {
  boost::system::error_code ec;
  while (whole ? !parser.is_done() : !parser.is_header_done()) {
    if (buf.size() > 0) {
      buf.consume(parser.put(buf.data(), ec));
      if (!ec) continue;
      if (ec != http::error::need_more) co_return ec;
    }
    const size_t room = std::min(kReadBytesMax, buf.max_size() - buf.size());
    if (room == 0) co_return http::error::buffer_overflow;
    const size_t n =
        co_await sock.async_read_some(buf.prepare(room), asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof)
      co_return parser.got_some() ? http::error::partial_message : http::error::end_of_stream;
    if (ec) co_return ec;
    buf.commit(n);
  }
  co_return boost::system::error_code{};
}

// The answer to a request that could not be read whole; nullopt when there is nobody to answer
// (a socket error) or nothing to answer (an idle keep-alive connection timing out).
std::optional<Refusal> refusal_for(const boost::system::error_code& ec, bool timed_out,
                                   const RequestParser& parser, const boost::beast::flat_buffer& buf,
                                   const HttpServerOptions& opt) {
  const std::string limit = "the limit is " + std::to_string(opt.header_bytes_max) + " bytes";
  if (timed_out) {
    // Silence before a request starts is an idle keep-alive connection, not an offence.
    if (!parser.got_some()) return std::nullopt;
    return Refusal{408, "read timeout", "no complete request within the read timeout"};
  }
  if (ec == http::error::body_limit) {
    return Refusal{413, "body too large", "the limit is " + std::to_string(opt.body_bytes_max) + " bytes"};
  }
  if (ec == http::error::header_limit) return Refusal{431, "header too large", limit};
  if (ec == http::error::buffer_overflow) {
    // Only a chunked body's framing can fill the buffer: the header stops at header_limit first.
    const std::string_view unparsed(static_cast<const char*>(buf.data().data()), buf.size());
    if (waiting_for_trailers(unparsed))
      return Refusal{431, "trailer too large", "the trailer section: " + limit};
    return Refusal{413, "chunk extension too large", "a chunk-size line with its extensions: " + limit};
  }
  if (both_lengths(ec, parser.get())) return Refusal{400, kBothLengths, "send one of them"};
  if (ec == http::error::bad_transfer_encoding) return Refusal{400, kBadTransferEncoding, ec.message()};
  if (ec.category() == make_error_code(http::error::bad_method).category()) {
    return Refusal{400, "malformed request", ec.message()};
  }
  return std::nullopt;
}

// The request as the handler sees it; false (and why) when its target is not one to serve.
bool make_request(http::request<http::string_body>& msg, const std::string& remote, HttpRequest& req,
                  std::string& why) {
  req.target = std::string(msg.target());
  if (!parse_target(req.target, req, why)) return false;
  req.method = std::string(msg.method_string());
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, inserted] = req.headers.emplace(std::move(name), std::string(field.value()));
    if (!inserted) {
      it->second += ", ";
      it->second.append(field.value().data(), field.value().size());
    }
  }
  req.body = std::move(msg.body());
  req.remote = remote;
  return true;
}

// A status the handler should not have produced is logged and replaced by a 500.
void check_status(HttpResponse& r, RateLimitedLog& log) {
  if (r.status >= 200 && r.status <= 599) return;
  log.warn("http port: handler returned an invalid status", std::to_string(r.status));
  r = HttpResponse{500, "application/json", error_body(Code::kInternal, "invalid response status"), {}};
}

// The status line and headers of the handler's answer; a header it should not have produced is
// logged and left out, never sent.
template <typename Body>
void set_head(http::response<Body>& res, const HttpResponse& r, unsigned version, bool keep_alive,
              RateLimitedLog& log) {
  res.version(version);
  res.result(static_cast<unsigned>(r.status));
  for (const auto& [name, value] : r.headers) {
    if (!header_name_safe(name) || !header_value_safe(value)) {
      log.warn("http port: handler returned an invalid header", name.substr(0, 64));
      continue;
    }
    res.insert(name, value);
  }
  res.keep_alive(keep_alive);
  if (r.status != 204 && r.status != 304 && header_value_safe(r.content_type))
    res.set(http::field::content_type, r.content_type);
}

// The handler's whole answer as Beast writes it.
http::response<http::string_body> to_beast(HttpResponse r, unsigned version, bool head, bool keep_alive,
                                           RateLimitedLog& log) {
  check_status(r, log);
  http::response<http::string_body> res;
  set_head(res, r, version, keep_alive, log);
  // 204 and 304 responses have no body and no length (RFC 9110 sections 15.3.5, 15.4.5).
  if (r.status != 204 && r.status != 304) {
    res.content_length(r.body.size());
    if (!head) res.body() = std::move(r.body);
  }
  return res;
}

// The head of a streamed answer: chunked in HTTP/1.1; in HTTP/1.0 the body ends with the
// connection, so it has no length and closes.
http::response<http::empty_body> stream_head(HttpResponse r, unsigned version, bool keep_alive,
                                             RateLimitedLog& log) {
  check_status(r, log);
  http::response<http::empty_body> res;
  set_head(res, r, version, keep_alive, log);  // HTTP/1.0: the slot closes (Conn::start)
  if (version >= 11) res.chunked(true);
  return res;
}

// One chunk of a chunked body (RFC 9112 section 7.1): size in hex, CRLF, data, CRLF.
void append_chunk(std::string& out, const std::string& data, bool chunked) {
  if (!chunked) {
    out += data;
    return;
  }
  char size[20];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  out.append(size, static_cast<size_t>(n));
  out += data;
  out += "\r\n";
}

}  // namespace

struct HttpServer::Conn {
  // One response to send, in request order.
  struct Slot {
    bool ready = false;    // the response is known (the handler answered, or the server did)
    bool interim = false;  // "100 Continue", sent before the request's body is read
    bool close = false;    // the connection closes after this response
    bool head = false;     // the request was HEAD: send the headers only
    unsigned version = 11;
    HttpResponse response;  // of a streamed answer: its head
    // A streamed answer (HttpRespond::start): parts wait here until written.
    bool streamed = false;
    bool head_sent = false;
    bool ended = false;  // end() was called: the body ends after the parts queued
    std::deque<std::string> parts;
    uint64_t queued_bytes = 0;  // in `parts` and in the write in progress
    // Whether the writer has nothing to do for it until a part or end() comes.
    bool waiting_for_parts() const { return streamed && head_sent && parts.empty() && !ended; }
  };

  Conn(tcp::socket s, asio::io_context& io)
      : sock(std::move(s)), read_timer(io), write_timer(io), wake_writer(io), wake_reader(io) {
    boost::system::error_code ec;
    const auto ep = sock.remote_endpoint(ec);
    remote = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  uint64_t push(Slot slot) {
    slots.push_back(std::move(slot));
    wake_writer.cancel();
    return front_seq + slots.size() - 1;
  }

  void answer(uint64_t seq, HttpResponse response) {
    CASTOR_ASSERT(seq >= front_seq,
                  "HttpServer::Respond called twice for one request (its answer is already written)");
    CASTOR_ASSERT(seq - front_seq < slots.size(), "HttpServer::Respond called for a request it never took");
    CASTOR_ASSERT(!slots[seq - front_seq].ready, "HttpServer::Respond called twice for one request");
    Slot& s = slots[seq - front_seq];
    s.response = std::move(response);
    s.ready = true;
    wake_writer.cancel();
  }

  // The slot of request `seq` while its answer is still to be written, else null.
  Slot* slot_of(uint64_t seq) {
    if (seq < front_seq || seq - front_seq >= slots.size()) return nullptr;
    return &slots[seq - front_seq];
  }
  void start(uint64_t seq, HttpResponse head) {
    answer(seq, std::move(head));
    Slot& s = slots[seq - front_seq];
    s.streamed = true;
    if (s.version < 11) s.close = true;  // the body ends with the connection
  }
  void part(uint64_t seq, std::string data) {
    Slot* s = slot_of(seq);
    if (s == nullptr || !s->streamed || s->ended || s->head) return;
    s->queued_bytes += data.size();
    s->parts.push_back(std::move(data));
    wake_writer.cancel();
  }
  void end(uint64_t seq) {
    Slot* s = slot_of(seq);
    if (s == nullptr || !s->streamed) return;
    s->ended = true;
    wake_writer.cancel();
  }
  bool streaming() const {
    return std::any_of(slots.begin(), slots.end(), [](const Slot& s) { return s.streamed; });
  }

  void close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    sock.shutdown(tcp::socket::shutdown_both, ignored);
    sock.close(ignored);
    read_timer.cancel();
    write_timer.cancel();
    wake_writer.cancel();
    wake_reader.cancel();
  }

  tcp::socket sock;
  std::string remote;
  asio::steady_timer read_timer;
  asio::steady_timer write_timer;
  asio::steady_timer wake_writer;
  asio::steady_timer wake_reader;
  // Responses not yet fully written, oldest first; the front one may be being written. A
  // slot's sequence number is front_seq + its index, so a late Respond finds its slot.
  std::deque<Slot> slots;
  uint64_t front_seq = 0;
  // Tell a stale timer expiry (queued just as its operation finished) from the current one.
  uint64_t read_timer_generation = 0;
  uint64_t write_timer_generation = 0;
  bool read_timed_out = false;
  bool reader_done = false;  // the reader will read no more requests
  bool peer_closed = false;  // the client finished sending (EOF): nothing left to drain
  bool closed = false;
};

// The way back to one request on a connection. Whole answers hop to the io thread (handlers
// may answer from any thread); the stream's methods run on it already.
class HttpServer::ConnResponder : public HttpResponder {
 public:
  ConnResponder(asio::io_context& io, const std::shared_ptr<Conn>& conn, uint64_t seq)
      : io_(io), conn_(conn), seq_(seq) {}
  // The last copy of a started answer's HttpRespond is gone: nobody can end it but here.
  ~ConnResponder() override {
    if (started_) end();
  }
  void answer(HttpResponse response) override {
    asio::dispatch(io_, [weak = conn_, seq = seq_, response = std::move(response)]() mutable {
      auto c = weak.lock();
      if (c && !c->closed) c->answer(seq, std::move(response));
    });
  }
  void start(HttpResponse head) override {
    started_ = true;
    if (auto c = live()) c->start(seq_, std::move(head));
  }
  void part(std::string data) override {
    if (auto c = live()) c->part(seq_, std::move(data));
  }
  void end() override {
    if (auto c = live()) c->end(seq_);
  }
  uint64_t queued_bytes() const override {
    auto c = live();
    const Conn::Slot* s = c ? c->slot_of(seq_) : nullptr;
    return s ? s->queued_bytes : 0;
  }
  bool open() const override {
    auto c = live();
    const Conn::Slot* s = c ? c->slot_of(seq_) : nullptr;
    return s != nullptr && !c->peer_closed && !(s->streamed && s->ended);
  }

 private:
  std::shared_ptr<Conn> live() const {
    auto c = conn_.lock();
    return c && !c->closed ? c : nullptr;
  }

  asio::io_context& io_;
  std::weak_ptr<Conn> conn_;
  const uint64_t seq_;
  bool started_ = false;
};

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options, Handler handler)
    : io_(io), opt_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { stop(); }

Result<Endpoint> HttpServer::start(const Endpoint& listen) {
  auto acceptor = open_acceptor(io_, listen, "HTTP");
  if (!acceptor.is_ok()) return acceptor.status();
  acceptor_ = std::move(*acceptor);
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return Endpoint{listen.host, acceptor_->local_endpoint().port()};
}

void HttpServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  for (auto& [raw, conn] : conns_) conn->close();
}

void HttpServer::reject(const std::string& reason, const std::string& detail) {
  ++rejected_[reason];
  log_.warn("http port: " + reason, detail);
}

void HttpServer::end_on_exception(const std::shared_ptr<Conn>& conn, const std::exception_ptr& e) {
  reject("exception", conn->remote + ": " + describe(e));
  conn->close();
  conns_.erase(conn.get());
}

void HttpServer::refuse(Conn& conn, int status, const std::string& reason, const std::string& detail) {
  reject(reason, conn.remote + ": " + detail);
  Conn::Slot slot;
  slot.ready = true;
  slot.close = true;
  slot.response = HttpResponse{
      status, "application/json", error_body(code_of_refusal(status), reason + ": " + detail), {}};
  conn.push(std::move(slot));
  conn.reader_done = true;
}

asio::awaitable<void> HttpServer::accept_loop() {
  while (!stopped_) {
    boost::system::error_code ec;
    tcp::socket sock = co_await acceptor_->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopped_) break;
      co_await handle_accept_error(ec, "http port", rejected_, log_);
      continue;
    }
    if (conns_.size() >= opt_.connections_max) {
      reject("too many connections", "limit " + std::to_string(opt_.connections_max));
      // One non-blocking write into the fresh socket's empty send buffer: the client learns
      // why, and a flood of connections cannot make the server queue work for each.
      const std::string body = error_body(Code::kResourceExhausted, "too many connections");
      const std::string text =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      sock.non_blocking(true, ec);
      sock.write_some(asio::buffer(text), ec);
      sock.shutdown(tcp::socket::shutdown_both, ec);
      continue;  // the socket closes as it goes out of scope
    }
    sock.set_option(tcp::no_delay(true), ec);
    auto conn = std::make_shared<Conn>(std::move(sock), io_);
    conns_[conn.get()] = conn;
    // The connection's boundary: whatever its coroutines throw ends this connection only.
    const auto boundary = [this, conn](std::exception_ptr e) {
      if (e) end_on_exception(conn, e);
    };
    asio::co_spawn(io_, read_loop(conn), boundary);
    asio::co_spawn(io_, write_loop(conn), boundary);
  }
}

void HttpServer::arm_read_timer(const std::shared_ptr<Conn>& conn) {
  const uint64_t generation = ++conn->read_timer_generation;
  conn->read_timer.expires_after(opt_.read_timeout);
  conn->read_timer.async_wait(
      [this, weak = std::weak_ptr<Conn>(conn), generation](boost::system::error_code ec) {
        auto c = weak.lock();
        if (ec || !c || c->closed || generation != c->read_timer_generation) return;
        // A client with unanswered requests is waiting for us, not idling: give it more time.
        if (!c->slots.empty()) {
          arm_read_timer(c);
          return;
        }
        // Cancel rather than close, so that the reader can still answer 408. No write is in
        // progress: writes happen only while `slots` is non-empty.
        c->read_timed_out = true;
        boost::system::error_code ignored;
        c->sock.cancel(ignored);
      });
}

// GCC 12 pairs the coroutine frame's operator delete (Asio's awaitable_frame_base) with the
// global operator new that the frame's operator new inlines to, and reports
// -Wmismatched-new-delete for these two coroutines. Both sides go through Asio's
// thread_info_base recycling allocator, so the pair is matched: a false positive in Boost's
// headers, silenced for these definitions only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
asio::awaitable<void> HttpServer::read_loop(std::shared_ptr<Conn> conn) {
  // Unparsed input is held to header_bytes_max: the parser needs the header, each chunk-size
  // line (extensions included) and a chunked body's trailer section whole before it parses
  // them, so this bounds each of them, where header_limit alone bounds only the header.
  boost::beast::flat_buffer buf(opt_.header_bytes_max);
  boost::system::error_code ec;
  while (!conn->closed && !conn->reader_done) {
    if (conn->slots.size() >= opt_.in_flight_max) {
      conn->wake_reader.expires_at(asio::steady_timer::time_point::max());
      co_await conn->wake_reader.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    RequestParser parser;
    parser.header_limit(opt_.header_bytes_max);
    parser.body_limit(opt_.body_bytes_max);
    conn->read_timed_out = false;
    arm_read_timer(conn);
    ec = co_await read_until(conn->sock, buf, parser, /*whole=*/false);
    std::optional<Refusal> refusal;
    if (!ec) refusal = check_framing(parser);
    if (!ec && !refusal && !parser.is_done()) {
      if (wants_continue(parser.get())) {
        Conn::Slot interim;
        interim.ready = true;
        interim.interim = true;
        conn->push(std::move(interim));
      }
      parser.eager(true);
      ec = co_await read_until(conn->sock, buf, parser, /*whole=*/true);
    }
    ++conn->read_timer_generation;
    conn->read_timer.cancel();
    if (conn->closed) break;
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
      conn->peer_closed = true;  // the client is done sending; answer what it asked
      // ... unless it is streamed to: a stream has no end of its own, and a client that
      // closed its side is taken for gone.
      if (conn->streaming()) conn->close();
      break;
    }
    if (ec) refusal = refusal_for(ec, conn->read_timed_out, parser, buf, opt_);
    if (refusal) {
      refuse(*conn, refusal->status, refusal->reason, refusal->detail);
      break;
    }
    if (ec) break;  // a socket error: nothing can be sent

    http::request<http::string_body> msg = parser.release();
    HttpRequest req;
    std::string why;
    if (!make_request(msg, conn->remote, req, why)) {
      refuse(*conn, 400, "malformed request", why);
      break;
    }
    Conn::Slot slot;
    slot.close = !msg.keep_alive();
    slot.head = msg.method() == http::verb::head;
    slot.version = msg.version();
    const uint64_t seq = conn->push(std::move(slot));
    if (!msg.keep_alive()) conn->reader_done = true;
    handler_(std::move(req), Respond(std::make_shared<ConnResponder>(io_, conn, seq)));
  }
  conn->reader_done = true;
  conn->wake_writer.cancel();
}

asio::awaitable<void> HttpServer::write_loop(std::shared_ptr<Conn> conn) {
  boost::system::error_code ec;
  bool close_after = false;
  while (!conn->closed) {
    if (conn->slots.empty() || !conn->slots.front().ready || conn->slots.front().waiting_for_parts()) {
      if (conn->slots.empty() && conn->reader_done) break;
      conn->wake_writer.expires_at(asio::steady_timer::time_point::max());
      co_await conn->wake_writer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    // The slot stays at the front while it is written (a deque keeps references to its
    // elements across push_back), so that `slots` is non-empty whenever a write is in progress.
    Conn::Slot& slot = conn->slots.front();
    close_after = slot.close;

    const uint64_t generation = ++conn->write_timer_generation;
    conn->write_timer.expires_after(opt_.write_timeout);
    conn->write_timer.async_wait(
        [this, weak = std::weak_ptr<Conn>(conn), generation](boost::system::error_code timer_ec) {
          auto c = weak.lock();
          if (timer_ec || !c || c->closed || generation != c->write_timer_generation) return;
          reject("write timeout", c->remote + ": the client is not reading its responses");
          c->close();
        });
    bool complete = true;
    if (slot.interim) {
      static const std::string k100Continue = "HTTP/1.1 100 Continue\r\n\r\n";
      co_await asio::async_write(conn->sock, asio::buffer(k100Continue),
                                 asio::redirect_error(asio::use_awaitable, ec));
    } else if (slot.streamed) {
      complete = co_await write_stream(*conn, ec);
    } else {
      http::response<http::string_body> res =
          to_beast(std::move(slot.response), slot.version, slot.head, !close_after, log_);
      co_await http::async_write(conn->sock, res, asio::redirect_error(asio::use_awaitable, ec));
    }
    ++conn->write_timer_generation;
    conn->write_timer.cancel();
    if (!ec && !complete) continue;
    conn->slots.pop_front();
    ++conn->front_seq;
    conn->wake_reader.cancel();
    if (ec || close_after) break;
  }

  if (close_after && !ec && !conn->closed && !conn->peer_closed) {
    boost::system::error_code ignored;
    conn->sock.shutdown(tcp::socket::shutdown_send, ignored);
    conn->read_timer.expires_after(kLingerTimeout);
    conn->read_timer.async_wait([weak = std::weak_ptr<Conn>(conn)](boost::system::error_code timer_ec) {
      auto c = weak.lock();
      if (!timer_ec && c) c->close();
    });
    char drain[4096];
    while (!ec) {
      co_await conn->sock.async_read_some(asio::buffer(drain), asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  conn->close();
  conns_.erase(conn.get());
}

asio::awaitable<bool> HttpServer::write_stream(Conn& conn, boost::system::error_code& ec) {
  // The slot stays at the front, and in place, while it is written (write_loop).
  Conn::Slot& slot = conn.slots.front();
  if (!slot.head_sent) {
    slot.head_sent = true;
    http::response<http::empty_body> res =
        stream_head(std::move(slot.response), slot.version, !slot.close, log_);
    http::response_serializer<http::empty_body> sr(res);
    co_await http::async_write_header(conn.sock, sr, asio::redirect_error(asio::use_awaitable, ec));
    co_return slot.head;  // the answer to HEAD is its head
  }
  const bool chunked = slot.version >= 11;
  std::string out;
  uint64_t taken = 0;
  for (const std::string& part : slot.parts) {
    append_chunk(out, part, chunked);
    taken += part.size();
  }
  slot.parts.clear();
  // Parts that come during the write below wait for the next turn; none come after end().
  const bool complete = slot.ended;
  if (complete && chunked) out += "0\r\n\r\n";  // the last chunk, with no trailer section
  co_await asio::async_write(conn.sock, asio::buffer(out), asio::redirect_error(asio::use_awaitable, ec));
  slot.queued_bytes -= taken;
  co_return complete;
}

#pragma GCC diagnostic pop

}  // namespace castor::net
