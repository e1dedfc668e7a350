// castor-powerfs: serves PowerFs (power_fs.h) over FUSE, in the foreground, single-threaded.
//
//   castor-powerfs [--seed N] BACKING MOUNTPOINT
//
// Faults: write a command line to MOUNTPOINT/.powerfs (echo power-cut > MOUNTPOINT/.powerfs);
// read it for what fired. After a cut every other operation fails with EIO: unmount
// (fusermount3 -u MOUNTPOINT, or umount) and mount again over BACKING to "power on".
#define FUSE_USE_VERSION 35
#include <fuse3/fuse.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "tests/powerfs/power_fs.h"

namespace {

using castor::powerfs::PowerFs;

constexpr const char* kControl = "/.powerfs";
constexpr uint64_t kControlHandle = std::numeric_limits<uint64_t>::max();

PowerFs& fs() { return *static_cast<PowerFs*>(fuse_get_context()->private_data); }
bool is_control(const char* path) { return std::strcmp(path, kControl) == 0; }
int handle(const fuse_file_info* fi) { return static_cast<int>(fi->fh); }

void* on_init(fuse_conn_info* /*conn*/, fuse_config* cfg) {
  // No caching of names or attributes in the kernel: a cut must show at once, and sizes come
  // from the volatile layer. hard_remove: unlink for real rather than renaming open files to
  // .fuse_hidden*, which would pass through the journal as renames.
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->hard_remove = 1;
  return fuse_get_context()->private_data;
}

void on_destroy(void* data) { static_cast<PowerFs*>(data)->unmount(); }

int on_getattr(const char* path, struct stat* st, fuse_file_info* /*fi*/) {
  if (is_control(path)) {
    *st = {};
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_size = 4096;  // reads of it are direct: the length is a bound, not its size
    return 0;
  }
  return fs().getattr(path, st);
}

int on_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t /*offset*/, fuse_file_info* /*fi*/,
               fuse_readdir_flags /*flags*/) {
  std::vector<std::string> names;
  if (int rc = fs().readdir(path, &names); rc != 0) return rc;
  for (const std::string& n : names) fill(buf, n.c_str(), nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  return 0;
}

int on_open(const char* path, fuse_file_info* fi) {
  if (is_control(path)) {
    fi->fh = kControlHandle;
    fi->direct_io = 1;
    return 0;
  }
  int fh = -1;
  const int rc = fs().open(path, fi->flags, &fh);
  if (rc == 0) fi->fh = static_cast<uint64_t>(fh);
  return rc;
}

int on_create(const char* path, mode_t mode, fuse_file_info* fi) {
  int fh = -1;
  const int rc = fs().create(path, fi->flags, mode, &fh);
  if (rc == 0) fi->fh = static_cast<uint64_t>(fh);
  return rc;
}

int on_read(const char* /*path*/, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  if (fi->fh == kControlHandle) {
    const std::string s = fs().status();
    if (static_cast<size_t>(offset) >= s.size()) return 0;
    const size_t n = std::min(size, s.size() - static_cast<size_t>(offset));
    std::memcpy(buf, s.data() + offset, n);
    return static_cast<int>(n);
  }
  return fs().read(handle(fi), buf, size, static_cast<uint64_t>(offset));
}

int on_write(const char* /*path*/, const char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  if (fi->fh == kControlHandle) {
    const int rc = fs().control(std::string(buf, size));
    return rc == 0 ? static_cast<int>(size) : rc;
  }
  return fs().write(handle(fi), buf, size, static_cast<uint64_t>(offset));
}

int on_truncate(const char* path, off_t size, fuse_file_info* fi) {
  if (is_control(path)) return 0;  // `echo cmd > .powerfs` opens it with O_TRUNC
  if (fi != nullptr) return fs().ftruncate(handle(fi), static_cast<uint64_t>(size));
  return fs().truncate(path, static_cast<uint64_t>(size));
}

int on_fsync(const char* /*path*/, int /*datasync*/, fuse_file_info* fi) {
  return fi->fh == kControlHandle ? 0 : fs().fsync(handle(fi));
}

int on_release(const char* /*path*/, fuse_file_info* fi) {
  return fi->fh == kControlHandle ? 0 : fs().release(handle(fi));
}

int on_mkdir(const char* path, mode_t mode) { return fs().mkdir(path, mode); }
int on_unlink(const char* path) { return fs().unlink(path); }
int on_rmdir(const char* path) { return fs().rmdir(path); }
int on_rename(const char* from, const char* to, unsigned flags) { return fs().rename(from, to, flags); }
int on_fsyncdir(const char* path, int /*datasync*/, fuse_file_info* /*fi*/) { return fs().fsyncdir(path); }
int on_statfs(const char* /*path*/, struct statvfs* st) { return fs().statfs(st); }

// Permissions and times pass through: a power cut in this model loses data and names, not them.
int on_chmod(const char* path, mode_t mode, fuse_file_info* /*fi*/) { return fs().chmod(path, mode); }
int on_utimens(const char* path, const timespec tv[2], fuse_file_info* /*fi*/) {
  return fs().utimens(path, tv);
}

int usage() {
  std::fprintf(stderr, "usage: castor-powerfs [--seed N] BACKING MOUNTPOINT\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 1;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seed" && i + 1 < argc) {
      seed = std::stoull(argv[++i]);
    } else if (!a.empty() && a[0] == '-') {
      return usage();
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) return usage();
  // fuse_main moves to "/" even in the foreground: a relative BACKING must be made absolute.
  auto state = std::make_unique<PowerFs>(std::filesystem::absolute(positional[0]), seed);

  fuse_operations ops{};
  ops.init = on_init;
  ops.destroy = on_destroy;
  ops.getattr = on_getattr;
  ops.readdir = on_readdir;
  ops.open = on_open;
  ops.create = on_create;
  ops.read = on_read;
  ops.write = on_write;
  ops.truncate = on_truncate;
  ops.fsync = on_fsync;
  ops.release = on_release;
  ops.mkdir = on_mkdir;
  ops.unlink = on_unlink;
  ops.rmdir = on_rmdir;
  ops.rename = on_rename;
  ops.fsyncdir = on_fsyncdir;
  ops.statfs = on_statfs;
  ops.chmod = on_chmod;
  ops.utimens = on_utimens;

  // Foreground (the harness keeps our pid), single-threaded (PowerFs is not thread-safe), and
  // unmounted by fusermount3 should we die.
  std::string self = argv[0];
  std::vector<char*> fuse_argv = {self.data(), positional[1].data()};
  std::string f = "-f", s = "-s", o = "-o", opts = "fsname=castor-powerfs,auto_unmount";
  for (std::string* x : {&f, &s, &o, &opts}) fuse_argv.push_back(x->data());
  return fuse_main(static_cast<int>(fuse_argv.size()), fuse_argv.data(), &ops, state.get());
}
