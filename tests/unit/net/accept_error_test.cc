// What an accept loop does when the process is out of file descriptors (net/accept_error.h),
// seen through the client listener.
#include "net/accept_error.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/write.hpp>
#include <thread>

#include "net/client_listener.h"
#include "net/hello.h"
#include "tests/unit/net/io_thread.h"

namespace castor::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// The sanitizers' runtimes need descriptors of their own while this test leaves none: UBSan
// checks that memory is readable by writing it to a pipe, and without one it reports a valid
// object as having an "invalid vptr". The plain build (tools/test) and
// tests/bad_input/test_fd_exhaustion.py run the test instead.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// Lowers this process's soft open-files limit to the lowest free descriptor number, so that no
// descriptor can be opened (EMFILE) but one held in reserve; restores the limit when destroyed.
class NoFreeDescriptors {
 public:
  NoFreeDescriptors() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    reserve_ = ::open("/dev/null", O_RDONLY);
    const int lowest_free = ::open("/dev/null", O_RDONLY);  // the kernel hands out the lowest free
    ::close(lowest_free);
    rlimit low = saved_;
    low.rlim_cur = static_cast<rlim_t>(lowest_free);
    ::setrlimit(RLIMIT_NOFILE, &low);
  }
  ~NoFreeDescriptors() {
    free_one();
    ::setrlimit(RLIMIT_NOFILE, &saved_);
  }
  NoFreeDescriptors(const NoFreeDescriptors&) = delete;
  NoFreeDescriptors& operator=(const NoFreeDescriptors&) = delete;

  void free_one() {
    if (reserve_ >= 0) ::close(reserve_);
    reserve_ = -1;
  }

 private:
  rlimit saved_{};
  int reserve_ = -1;
};

// CPU seconds this process has used, every thread, user and system.
double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The node's Hello in answer to a client Hello on `s`, or the reason there is none within 5 s.
Result<pb::Hello> hello_answer(tcp::socket& s) {
  pollfd p{s.native_handle(), POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return Status(Code::kUnavailable, "no answer within 5 s");
  char buf[4096];
  boost::system::error_code ec;
  FrameReader reader(1 << 20);
  reader.feed(buf, s.read_some(asio::buffer(buf), ec));
  if (ec) return Status(Code::kUnavailable, ec.message());
  auto f = reader.next();
  pb::Hello hello;
  if (!f.is_ok() || !f->has_value() || (*f)->kind != FrameKind::kHello ||
      !hello.ParseFromString((*f)->payload)) {
    return Status(Code::kInvalidArgument, "the answer is not a Hello");
  }
  return hello;
}

// Out of descriptors, accept fails at once for as long as the shortage lasts. The accept loop
// used to retry at once: it spun at full CPU on the io thread (300,000 failed accepts a second
// in castord). Now it waits 100 ms between tries, counts each, and takes the waiting connection
// from the listen backlog once a descriptor is free.
TEST(AcceptError, OutOfFileDescriptorsTheListenerWaitsInsteadOfSpinningThenServesTheConnection) {
  if (kSanitized) GTEST_SKIP() << "the sanitizer runtime needs the descriptors this test takes away";
  IoThread io;
  ClientListenerOptions o;
  o.cluster_id = "castor";
  ClientListener listener(io.io, o, [](std::string, ClientListener::Respond) {});
  const Endpoint ep = io.call([&] { return listener.start(Endpoint{"127.0.0.1", 0}).value(); });
  const auto tries = [&] {
    return io.call([&] {
      auto it = listener.rejected().find("out of file descriptors");
      return it == listener.rejected().end() ? uint64_t{0} : it->second;
    });
  };
  std::string hello;
  append_frame(hello, FrameKind::kHello,
               make_hello("castor", 0, pb::Hello::CLIENT, "test").SerializeAsString());
  asio::io_context client_io;
  tcp::socket waiting(client_io);
  waiting.open(tcp::v4());  // its descriptor, before there are none
  {
    NoFreeDescriptors none;
    waiting.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), ep.port));
    asio::write(waiting, asio::buffer(hello));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the listener meets EMFILE
    const uint64_t tries_before = tries();
    const double cpu_before = cpu_seconds();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const double cpu = cpu_seconds() - cpu_before;
    EXPECT_LT(cpu, 0.2) << "the accept loop spins";
    EXPECT_GE(tries() - tries_before, 3u) << "each try is counted as \"out of file descriptors\"";
    EXPECT_LE(tries() - tries_before, 30u) << "about one try per 100 ms";

    none.free_one();
    auto answer = hello_answer(waiting);
    ASSERT_TRUE(answer.is_ok()) << "the waiting connection: " << answer.status().to_string();
    EXPECT_TRUE(answer->refused().empty()) << answer->refused();
  }
  // With descriptors to spare, a new connection is served at once.
  tcp::socket next(client_io);
  next.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), ep.port));
  asio::write(next, asio::buffer(hello));
  auto answer = hello_answer(next);
  ASSERT_TRUE(answer.is_ok()) << "a new connection: " << answer.status().to_string();
  EXPECT_EQ(io.call([&] { return listener.connections(); }), 2u);
  io.stop();
}

TEST(AcceptError, OnlyAShortageOfDescriptorsOrMemoryPausesTheLoop) {
  namespace errc = boost::system::errc;
  for (auto e : {errc::too_many_files_open, errc::too_many_files_open_in_system, errc::no_buffer_space,
                 errc::not_enough_memory}) {
    EXPECT_TRUE(out_of_file_descriptors(errc::make_error_code(e))) << e;
  }
  EXPECT_FALSE(out_of_file_descriptors(asio::error::connection_aborted));
  EXPECT_FALSE(out_of_file_descriptors(asio::error::operation_aborted));
  EXPECT_FALSE(out_of_file_descriptors({}));
}

}  // namespace
}  // namespace castor::net
