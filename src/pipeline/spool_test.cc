#include "pipeline/spool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace mailgate::pipeline {
namespace {

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mailgate-spool-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::filesystem::path dir_;
};

TEST_F(SpoolTest, StreamedMessageIsStoredByteExactWithItsHash) {
  auto spool = Spool::Open(dir_);
  ASSERT_TRUE(spool.ok()) << spool.status().ToString();
  auto w = (*spool)->Create();
  ASSERT_TRUE(w.ok());
  std::string body = "Subject: x\r\n\r\n" + std::string(100000, 'a') + std::string("\0\xFF", 2);
  for (std::size_t i = 0; i < body.size(); i += 4096) {
    ASSERT_TRUE(w->Append(std::string_view(body).substr(i, 4096)).ok());
  }
  auto f = w->Finish();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->size, body.size());
  EXPECT_EQ(f->sha256, Sha256Hex(body));
  EXPECT_EQ(Read(f->path), body);
  EXPECT_TRUE((*spool)->Sync({*f}).ok());
  auto list = (*spool)->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, std::vector<std::string>{f->path});
}

TEST_F(SpoolTest, BatchSyncAndOldestFirstOrder) {
  auto spool = Spool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  std::vector<SpooledFile> batch;
  for (int i = 0; i < 10; ++i) {
    auto w = (*spool)->Create();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->Append("message " + std::to_string(i)).ok());
    auto f = w->Finish();
    ASSERT_TRUE(f.ok());
    batch.push_back(*f);
  }
  EXPECT_TRUE((*spool)->Sync(batch).ok());
  auto list = (*spool)->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Read((*list)[i]), "message " + std::to_string(i));
}

TEST_F(SpoolTest, AbandonedWriterLeavesNothingBehind) {
  auto spool = Spool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  {
    auto w = (*spool)->Create();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->Append("half a mess").ok());
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "tmp"));
  EXPECT_TRUE((*spool)->List()->empty());
}

TEST_F(SpoolTest, TemporaryFilesFromACrashAreDiscardedOnOpen) {
  std::filesystem::create_directories(dir_ / "tmp");
  std::ofstream(dir_ / "tmp" / "leftover") << "partial";
  auto spool = Spool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "tmp"));
}

TEST_F(SpoolTest, RemoveIsIdempotent) {
  auto spool = Spool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  auto w = (*spool)->Create();
  ASSERT_TRUE(w->Append("x").ok());
  auto f = w->Finish();
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE((*spool)->Remove(f->path).ok());
  EXPECT_TRUE((*spool)->Remove(f->path).ok());
  EXPECT_TRUE((*spool)->List()->empty());
}

}  // namespace
}  // namespace mailgate::pipeline
