#include "pipeline/spool.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
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
  EXPECT_TRUE(std::filesystem::is_empty((*spool)->tmp_dir()));
  EXPECT_TRUE((*spool)->List()->empty());
}

TEST_F(SpoolTest, ClosingTheSpoolRemovesItsTemporaryFolderAndLock) {
  {
    auto spool = Spool::Open(dir_);
    ASSERT_TRUE(spool.ok());
    EXPECT_TRUE(std::filesystem::is_directory((*spool)->tmp_dir()));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "tmp"));
}

// Regression: with several `mailgate serve` workers on one data dir, a worker
// starting up removed every file in tmp/, including the message another
// worker was still downloading; that worker's Finish then failed.
TEST_F(SpoolTest, OpeningTheSpoolLeavesALiveWorkersUnfinishedFileAlone) {
  auto first = Spool::Open(dir_);
  ASSERT_TRUE(first.ok());
  auto w = (*first)->Create();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append("Subject: half\r\n").ok());

  auto second = Spool::Open(dir_);  // another worker starts
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_NE((*first)->tmp_dir(), (*second)->tmp_dir());

  ASSERT_TRUE(w->Append("\r\nbody").ok());
  auto f = w->Finish();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(Read(f->path), "Subject: half\r\n\r\nbody");
}

TEST_F(SpoolTest, ADeadWorkersUnfinishedFilesAreDiscardedOnOpen) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The worker dies mid-download: no destructor runs; the kernel drops
    // its lock.
    auto spool = Spool::Open(dir_);
    if (!spool.ok()) ::_exit(1);
    auto w = (*spool)->Create();
    if (!w.ok() || !w->Append("partial").ok()) ::_exit(2);
    ::_exit(0);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << wstatus;
  std::size_t left = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "tmp")) {
    left += e.is_regular_file() ? 1 : 0;
  }
  ASSERT_EQ(left, 2u);  // the dead worker's lock file and its partial message

  auto spool = Spool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "tmp")) {
    names.push_back(e.path().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{(*spool)->tmp_dir(), (*spool)->tmp_dir() + ".lock"}));
}

TEST_F(SpoolTest, OldLooseTemporaryFilesAreDiscardedOnOpenRecentOnesKept) {
  namespace fs = std::filesystem;
  fs::create_directories(dir_ / "tmp");
  std::ofstream(dir_ / "tmp" / "leftover") << "partial";
  std::ofstream(dir_ / "tmp" / "being-written") << "partial";
  fs::last_write_time(
      dir_ / "tmp" / "leftover",
      fs::file_time_type::clock::now() - Spool::kLooseTmpMaxAge - std::chrono::minutes(1));
  auto spool = Spool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  EXPECT_FALSE(fs::exists(dir_ / "tmp" / "leftover"));
  EXPECT_TRUE(fs::exists(dir_ / "tmp" / "being-written"));
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

// The writer thread: every message of a group comes back in order, byte for byte
// with its hash, after the group's sync; a message aborted half-way leaves nothing.
TEST_F(SpoolTest, AsyncWriterReturnsEachGroupInOrderByteExact) {
  auto spool = Spool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  // A small queue, so that the caller also waits for the writer on the way.
  AsyncSpoolWriter writer(**spool, AsyncSpoolWriter::kChunk);
  std::vector<std::string> bodies;
  for (int i = 0; i < 12; ++i) {
    // Sizes around the hand-over chunk: empty, small, several chunks.
    const std::size_t size = i == 0 ? 0 : (i % 3 == 0 ? 3 * AsyncSpoolWriter::kChunk + 7 : 100 * i);
    std::string body(size, static_cast<char>('a' + i));
    if (!body.empty()) body[0] = '\0';
    bodies.push_back(body);
    ASSERT_TRUE(writer.Begin().ok());
    for (std::size_t at = 0; at < body.size(); at += 5000) {
      ASSERT_TRUE(writer.Append(std::string_view(body).substr(at, 5000)).ok());
    }
    writer.End(static_cast<std::size_t>(i));
    if (i == 5) {
      ASSERT_TRUE(writer.Begin().ok());
      ASSERT_TRUE(writer.Append(std::string(AsyncSpoolWriter::kChunk * 2, 'x')).ok());
      writer.Abort();  // cut off: never a file in new/
      writer.Flush();
    }
  }
  writer.Flush();
  auto groups = writer.WaitFlushed();
  ASSERT_EQ(groups.size(), 2u);
  std::vector<AsyncSpoolWriter::Result> all;
  for (auto& g : groups) {
    EXPECT_TRUE(g.synced.ok()) << g.synced.ToString();
    for (auto& r : g.results) all.push_back(r);
  }
  EXPECT_EQ(groups[0].results.size(), 6u);
  ASSERT_EQ(all.size(), bodies.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    ASSERT_TRUE(all[i].status.ok()) << all[i].status.ToString();
    EXPECT_EQ(all[i].ticket, i);
    EXPECT_EQ(all[i].file.size, bodies[i].size());
    EXPECT_EQ(all[i].file.sha256, Sha256Hex(bodies[i]));
    EXPECT_EQ(Read(all[i].file.path), bodies[i]);
  }
  EXPECT_EQ((*spool)->List()->size(), bodies.size());
  EXPECT_TRUE(writer.TakeFlushed().empty());
  EXPECT_TRUE(writer.error().ok());
}

// A file that cannot be created fails its own message, and every message after it
// is refused at Begin(): the caller stops taking mail instead of losing it.
TEST_F(SpoolTest, AsyncWriterFailureFailsTheMessageAndRefusesTheNext) {
  auto spool = Spool::Open(dir_);
  ASSERT_TRUE(spool.ok());
  // Something in the way of the temporary folder (root ignores permissions).
  const std::string tmp = (*spool)->tmp_dir();
  std::filesystem::remove_all(tmp);
  std::ofstream(tmp) << "in the way";
  AsyncSpoolWriter writer(**spool);
  ASSERT_TRUE(writer.Begin().ok());
  ASSERT_TRUE(writer.Append("Subject: lost\r\n\r\nbody").ok());
  writer.End(7);
  writer.Flush();
  auto groups = writer.WaitFlushed();
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].results.size(), 1u);
  EXPECT_EQ(groups[0].results[0].ticket, 7u);
  EXPECT_EQ(groups[0].results[0].status.kind(), Status::Kind::kIo);
  EXPECT_NE(groups[0].results[0].status.message().find("spool"), std::string::npos);
  EXPECT_TRUE(groups[0].synced.ok());
  EXPECT_FALSE(writer.error().ok());
  EXPECT_EQ(writer.Begin().kind(), Status::Kind::kIo);
  std::filesystem::remove(tmp);
  std::filesystem::create_directory(tmp);
}

}  // namespace
}  // namespace mailgate::pipeline
