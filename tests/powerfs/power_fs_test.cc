// The forgetting file system on its own, without FUSE and without Castor: after a cut, the
// backing directory must hold exactly what was fsynced, no less and no more.
#include "tests/powerfs/power_fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

namespace castor::powerfs {
namespace {

class PowerFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/powerfs_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs_ = std::make_unique<PowerFs>(dir_, 7);
  }
  void TearDown() override {
    fs_.reset();
    std::filesystem::remove_all(dir_);
  }

  int create(const std::string& path) {
    int fh = -1;
    EXPECT_EQ(fs_->create(path, O_WRONLY, 0644, &fh), 0) << path;
    return fh;
  }
  void write(int fh, const std::string& data, uint64_t offset = 0) {
    EXPECT_EQ(fs_->write(fh, data.data(), data.size(), offset), static_cast<int>(data.size()));
  }
  std::string read_all(int fh, size_t size = 1 << 16) {
    std::string buf(size, '\0');
    const int n = fs_->read(fh, buf.data(), size, 0);
    EXPECT_GE(n, 0);
    buf.resize(static_cast<size_t>(std::max(n, 0)));
    return buf;
  }
  // What a machine finds on the disk after the cut.
  std::string on_disk(const std::string& name) const {
    std::ifstream in(dir_ / name, std::ios::binary);
    if (!in) return "<absent>";
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void cut(const char* how = "power-cut") { ASSERT_EQ(fs_->control(how), 0); }

  std::filesystem::path dir_;
  std::unique_ptr<PowerFs> fs_;
};

TEST_F(PowerFsTest, ReadsSeeUnsyncedWritesAsAPageCacheShowsThem) {
  const int fh = create("/f");
  write(fh, "hello world");
  write(fh, "HELLO", 0);
  EXPECT_EQ(read_all(fh), "HELLO world");
  struct stat st {};
  ASSERT_EQ(fs_->getattr("/f", &st), 0);
  EXPECT_EQ(st.st_size, 11);
  ASSERT_EQ(fs_->ftruncate(fh, 5), 0);
  write(fh, "!", 7);
  EXPECT_EQ(read_all(fh), std::string("HELLO\0\0!", 8)) << "bytes cut off read back as zeros";
  EXPECT_EQ(on_disk("f"), "") << "nothing reached the disk before fsync";
  fs_->release(fh);
}

TEST_F(PowerFsTest, SyncedDataSurvivesACutAndUnsyncedDataDoesNot) {
  const int fh = create("/f");
  ASSERT_EQ(fs_->fsyncdir("/"), 0);
  write(fh, "durable");
  ASSERT_EQ(fs_->fsync(fh), 0);
  write(fh, "LOST", 3);
  EXPECT_EQ(read_all(fh), "durLOST");
  cut();
  EXPECT_EQ(on_disk("f"), "durable");
  EXPECT_EQ(fs_->read(fh, nullptr, 0, 0), -EIO) << "after the cut nothing answers";
  EXPECT_NE(fs_->status().find("cut"), std::string::npos);
  EXPECT_NE(fs_->status().find("lost-files=1"), std::string::npos) << fs_->status();
}

TEST_F(PowerFsTest, ANewFileWhoseDirectoryWasNotFsyncedIsLostEvenIfTheFileWas) {
  ASSERT_EQ(fs_->mkdir("/d", 0755), 0);
  ASSERT_EQ(fs_->fsyncdir("/"), 0);
  const int fh = create("/d/f");
  write(fh, "data");
  ASSERT_EQ(fs_->fsync(fh), 0);
  cut();
  EXPECT_TRUE(std::filesystem::exists(dir_ / "d"));
  EXPECT_EQ(on_disk("d/f"), "<absent>");
}

TEST_F(PowerFsTest, ARenameWithoutADirectoryFsyncIsTakenBackWithWhatItReplaced) {
  int fh = create("/current");
  write(fh, "old");
  ASSERT_EQ(fs_->fsync(fh), 0);
  fs_->release(fh);
  fh = create("/current.tmp");
  write(fh, "new");
  ASSERT_EQ(fs_->fsync(fh), 0);
  fs_->release(fh);
  ASSERT_EQ(fs_->fsyncdir("/"), 0);
  ASSERT_EQ(fs_->rename("/current.tmp", "/current", 0), 0);
  EXPECT_EQ(on_disk("current"), "new") << "everyone sees the rename at once";
  cut();
  EXPECT_EQ(on_disk("current"), "old");
  EXPECT_EQ(on_disk("current.tmp"), "new");
  EXPECT_FALSE(std::filesystem::exists(dir_ / NamespaceJournal::kTrash / "1"));
}

TEST_F(PowerFsTest, ARenameFollowedByADirectoryFsyncIsDurable) {
  const int fh = create("/a");
  write(fh, "x");
  ASSERT_EQ(fs_->fsync(fh), 0);
  ASSERT_EQ(fs_->rename("/a", "/b", 0), 0);
  ASSERT_EQ(fs_->fsyncdir("/"), 0);
  ASSERT_EQ(fs_->unlink("/b"), 0);
  cut();
  EXPECT_EQ(on_disk("b"), "x") << "the unlink was not fsynced";
  EXPECT_EQ(on_disk("a"), "<absent>");
}

TEST_F(PowerFsTest, ATornCutKeepsOnlyWholeSectorsOfTheLastWrite) {
  const int fh = create("/log");
  ASSERT_EQ(fs_->fsyncdir("/"), 0);
  // Seeds differ in the prefix they keep; over many cuts every length from none to all shows.
  std::set<size_t> kept;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    PowerFs fs(dir_, seed);
    int h = -1;
    ASSERT_EQ(fs.open("/log", O_RDWR | O_TRUNC, &h), 0);
    ASSERT_EQ(fs.fsync(h), 0);
    const std::string first(700, 'a'), last(1500, 'b');
    ASSERT_EQ(fs.write(h, first.data(), first.size(), 0), 700);
    ASSERT_EQ(fs.write(h, last.data(), last.size(), 700), 1500);
    ASSERT_EQ(fs.control("torn-cut"), 0);
    fs.release(h);
    const std::string disk = on_disk("log");
    // Sectors 1..4 hold bytes 700..2199; a prefix ends on a sector boundary or the write's end.
    EXPECT_TRUE(disk.empty() || disk.size() == 1024 || disk.size() == 1536 || disk.size() == 2048 ||
                disk.size() == 2200)
        << disk.size();
    EXPECT_EQ(disk.find('a'), std::string::npos) << "the earlier unsynced write is lost";
    kept.insert(disk.size());
  }
  EXPECT_GE(kept.size(), 4u);
  fs_->release(fh);
}

TEST_F(PowerFsTest, DiskFullRefusesWritesPastTheLimitUntilDiskOk) {
  const int fh = create("/f");
  ASSERT_EQ(fs_->control("disk-full 10"), 0);
  write(fh, "12345678");
  EXPECT_EQ(fs_->write(fh, "abc", 3, 8), -ENOSPC);
  ASSERT_EQ(fs_->control("disk-ok"), 0);
  write(fh, "abc", 8);
  EXPECT_EQ(read_all(fh), "12345678abc");
  EXPECT_NE(fs_->status().find("disk-full=1"), std::string::npos) << fs_->status();
}

TEST_F(PowerFsTest, DiskFullShowsOnlyWhatIsLeftAsFree) {
  struct statvfs before {};
  ASSERT_EQ(fs_->statfs(&before), 0);
  ASSERT_GT(uint64_t{before.f_bavail} * before.f_frsize, uint64_t{1} << 20) << "the test needs 1 MiB free";
  ASSERT_EQ(fs_->control("disk-full 65536"), 0);
  struct statvfs full {};
  ASSERT_EQ(fs_->statfs(&full), 0);
  EXPECT_EQ(uint64_t{full.f_bavail} * full.f_frsize, 65536u - 65536u % full.f_frsize);
  ASSERT_EQ(fs_->control("disk-ok"), 0);
  struct statvfs after {};
  ASSERT_EQ(fs_->statfs(&after), 0);
  EXPECT_GT(uint64_t{after.f_bavail} * after.f_frsize, uint64_t{1} << 20);
}

TEST_F(PowerFsTest, AFailedFsyncDropsTheUnsyncedBytesAsLinuxDoes) {
  const int fh = create("/f");
  write(fh, "kept");
  ASSERT_EQ(fs_->fsync(fh), 0);
  write(fh, "gone", 4);
  ASSERT_EQ(fs_->control("fsync-error"), 0);
  EXPECT_EQ(fs_->fsync(fh), -EIO);
  EXPECT_EQ(fs_->fsync(fh), 0) << "a retry succeeds, with the data already gone";
  EXPECT_EQ(read_all(fh), "kept");
  EXPECT_EQ(on_disk("f"), "kept");
}

TEST_F(PowerFsTest, ACleanUnmountLosesNothing) {
  const int fh = create("/f");
  write(fh, "unsynced");
  fs_->release(fh);
  fs_->unmount();
  EXPECT_EQ(on_disk("f"), "unsynced");
}

TEST_F(PowerFsTest, UnknownCommandsAreRefused) { EXPECT_EQ(fs_->control("melt"), -EINVAL); }

}  // namespace
}  // namespace castor::powerfs
