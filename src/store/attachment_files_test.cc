#include "store/attachment_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "base/sha256.h"

namespace mailgate::store {
namespace {

namespace fs = std::filesystem;

std::string AllBytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
  return s;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AttachmentFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    top_ = fs::temp_directory_path() /
           ("mailgate-attachments-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(top_);
    fs::create_directories(top_);
    dir_ = (top_ / "attachments").string();
  }
  void TearDown() override { fs::remove_all(top_); }

  fs::path top_;
  std::string dir_;
};

TEST_F(AttachmentFilesTest, PutSyncGetRoundTripsEveryByteAndEmptyFiles) {
  AttachmentFiles files(dir_);
  EXPECT_FALSE(files.HasPending());
  const std::string bytes = AllBytes() + std::string("\0\0x\0", 4);
  const std::string sha = Sha256Hex(bytes), empty_sha = Sha256Hex("");
  auto a = files.Put(sha, bytes);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = files.Put(empty_sha, "");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(files.HasPending());
  ASSERT_TRUE(files.Sync().ok());
  EXPECT_FALSE(files.HasPending());
  EXPECT_EQ(a->pack, "pack-000001");
  EXPECT_EQ(b->pack, "pack-000001");
  EXPECT_GT(b->offset, a->offset + bytes.size()) << "one record after the other";

  auto got = files.Get(a->pack, a->offset, bytes.size(), sha);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, bytes);
  auto got_empty = files.Get(b->pack, b->offset, 0, empty_sha);
  ASSERT_TRUE(got_empty.ok()) << got_empty.status().ToString();
  EXPECT_EQ(*got_empty, "");

  // The pack reads without the database: a header line before each record.
  const std::string pack = ReadFile(fs::path(dir_) / "pack-000001");
  EXPECT_TRUE(pack.starts_with("mailgate-attachment " + sha + " 260\n" + bytes));
  EXPECT_EQ(fs::status(dir_).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(fs::path(dir_) / "pack-000001").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(AttachmentFilesTest, TwoWritersShareTheNewestPack) {
  AttachmentFiles one(dir_), two(dir_);
  auto a = one.Put("key-a", "first");
  auto b = two.Put("key-b", "second");
  auto c = one.Put("key-c", "third");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_TRUE(one.Sync().ok());
  ASSERT_TRUE(two.Sync().ok());
  EXPECT_EQ(a->pack, b->pack);
  EXPECT_EQ(b->pack, c->pack);
  // Each writer's records land whole, wherever the other left the end.
  EXPECT_EQ(*two.Get(a->pack, a->offset, 5, "key-a"), "first");
  EXPECT_EQ(*one.Get(b->pack, b->offset, 6, "key-b"), "second");
  EXPECT_EQ(*two.Get(c->pack, c->offset, 5, "key-c"), "third");
}

TEST_F(AttachmentFilesTest, AFullPackIsFollowedByTheNextAndANewWriterAppendsThere) {
  {
    AttachmentFiles files(dir_, 100);
    auto a = files.Put("big", std::string(150, 'a'));
    auto b = files.Put("small", "b");
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(files.Sync().ok());
    EXPECT_EQ(a->pack, "pack-000001");
    EXPECT_EQ(b->pack, "pack-000002");
    EXPECT_EQ(*files.Get(a->pack, a->offset, 150, "big"), std::string(150, 'a'));
    EXPECT_EQ(*files.Get(b->pack, b->offset, 1, "small"), "b");
  }
  AttachmentFiles later(dir_, 100);
  auto c = later.Put("later", "c");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(later.Sync().ok());
  EXPECT_EQ(c->pack, "pack-000002");
}

TEST_F(AttachmentFilesTest, DamagedWrongOrMissingBytesAreRefused) {
  AttachmentFiles files(dir_);
  const std::string bytes = "attachment bytes";
  const std::string sha = Sha256Hex(bytes);
  auto a = files.Put(sha, bytes);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(files.Sync().ok());

  // A wrong size or offset does not pass for the record.
  EXPECT_EQ(files.Get(a->pack, a->offset, bytes.size() - 1, sha).status().kind(),
            Status::Kind::kIo);
  EXPECT_EQ(files.Get(a->pack, a->offset + 1, bytes.size(), sha).status().kind(),
            Status::Kind::kIo);
  EXPECT_EQ(files.Get(a->pack, 0, bytes.size(), sha).status().kind(), Status::Kind::kIo);
  // Names that are not packs are not opened.
  EXPECT_EQ(files.Get("../mailgate.db", a->offset, bytes.size(), sha).status().kind(),
            Status::Kind::kIo);
  EXPECT_EQ(files.Get("pack-000009", a->offset, bytes.size(), sha).status().kind(),
            Status::Kind::kNotFound);

  // One byte changed on disk: the digest no longer matches.
  const fs::path pack = fs::path(dir_) / a->pack;
  std::string content = ReadFile(pack);
  content[a->offset + 3] ^= 1;
  std::ofstream(pack, std::ios::binary | std::ios::trunc) << content;
  auto damaged = files.Get(a->pack, a->offset, bytes.size(), sha);
  EXPECT_EQ(damaged.status().kind(), Status::Kind::kIo);
  EXPECT_NE(damaged.status().message().find("backup"), std::string::npos);
}

TEST_F(AttachmentFilesTest, AFolderThatCannotBeMadeIsAnIoErrorSayingWhere) {
  std::ofstream(top_ / "file") << "not a folder";
  AttachmentFiles files((top_ / "file" / "attachments").string());
  auto a = files.Put("key", "bytes");
  EXPECT_EQ(a.status().kind(), Status::Kind::kIo);
  EXPECT_NE(a.status().message().find("file/attachments"), std::string::npos);
  EXPECT_FALSE(files.HasPending());
  EXPECT_EQ(files.Put("two words", "x").status().kind(), Status::Kind::kInternal);
}

}  // namespace
}  // namespace mailgate::store
