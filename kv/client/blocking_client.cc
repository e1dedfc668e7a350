#include "kv/client/blocking_client.h"

namespace castor::kv {

BlockingClient::BlockingClient(ClientOptions options)
    : guard_(boost::asio::make_work_guard(io_)),
      client_(std::make_unique<Client>(io_, std::move(options))),
      thread_([this] { io_.run(); }) {}

BlockingClient::~BlockingClient() {
  guard_.reset();
  io_.stop();
  thread_.join();
  // The loop has stopped, so no coroutine of the client runs while it is destroyed.
  client_.reset();
}

std::vector<Outcome<pb::StatusResponse>> BlockingClient::status_all() {
  std::vector<std::future<Outcome<pb::StatusResponse>>> pending;
  for (size_t i = 0; i < client_->options().endpoints.size(); ++i) {
    pending.push_back(start([i](Client& c) { return c.status(i); }));
  }
  std::vector<Outcome<pb::StatusResponse>> out;
  for (auto& f : pending) out.push_back(f.get());
  return out;
}

}  // namespace castor::kv
