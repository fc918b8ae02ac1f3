#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/migrations.h"
#include "store/store.h"

namespace mailgate::store {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mailgate-store-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(SqliteStoreTest, NewStoreIsMigratedToLatestVersion) {
  auto store = OpenSqliteStore(dir_ / "mailgate.db");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto version = (*store)->SchemaVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, Migrations().back().version);
  auto mailboxes = (*store)->ListMailboxes();
  ASSERT_TRUE(mailboxes.ok());
  EXPECT_TRUE(mailboxes->empty());
}

TEST_F(SqliteStoreTest, ReopeningDoesNotReapplyMigrations) {
  { ASSERT_TRUE(OpenSqliteStore(dir_ / "mailgate.db").ok()); }
  auto store = OpenSqliteStore(dir_ / "mailgate.db");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(*(*store)->SchemaVersion(), Migrations().back().version);
}

TEST_F(SqliteStoreTest, MissingDirectorySaysWhatToDo) {
  auto store = OpenSqliteStore(dir_ / "no-such-dir" / "mailgate.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().kind(), Status::Kind::kIo);
  EXPECT_NE(store.status().message().find("data directory"), std::string::npos);
}

}  // namespace
}  // namespace mailgate::store
