#include "raft/storage/durable_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "raft/storage/unique_fd.h"

namespace castor::raft {
namespace {

Status dir_error(const std::string& what, const std::filesystem::path& dir, int err) {
  const Code code = (err == ENOSPC || err == EDQUOT) ? Code::kResourceExhausted : Code::kInternal;
  return Status(code, what + " " + dir.string() + ": " + std::strerror(err));
}

}  // namespace

Status fsync_dir(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return dir_error("open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return dir_error("fsync directory", dir, errno);
  return Status::ok();
}

Status create_dirs_durably(const std::filesystem::path& dir) {
  // The missing ones, innermost first.
  std::vector<std::filesystem::path> missing;
  std::error_code ec;
  for (std::filesystem::path p = std::filesystem::absolute(dir, ec); !ec && !p.empty(); p = p.parent_path()) {
    if (std::filesystem::exists(p, ec)) break;
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  if (ec) return dir_error("look up", dir, ec.value());
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST) return dir_error("create directory", *it, errno);
    if (Status s = fsync_dir(it->parent_path()); !s.is_ok()) return s;
  }
  return Status::ok();
}

}  // namespace castor::raft
