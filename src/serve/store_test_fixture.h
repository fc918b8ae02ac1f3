// A gtest fixture with a fresh SQLite store in its own temporary directory,
// for the serve module's unit tests.
#ifndef MAILGATE_SERVE_STORE_TEST_FIXTURE_H_
#define MAILGATE_SERVE_STORE_TEST_FIXTURE_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "store/store.h"

namespace mailgate::serve {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mailgate-serve-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    auto s = store::OpenSqliteStore(dir_ / "db",
                                    std::make_shared<store::Vault>(store::GenerateMasterKey()));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
};

}  // namespace mailgate::serve

#endif  // MAILGATE_SERVE_STORE_TEST_FIXTURE_H_
