// Shared by the web tests: a SQLite store in a temporary directory, a fake
// clock and random source, and a ConnectionTester that answers at once.
#ifndef MAILGATE_WEB_WEB_TEST_SUPPORT_H_
#define MAILGATE_WEB_WEB_TEST_SUPPORT_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "oauth/fakes_for_test.h"
#include "store/store.h"
#include "web/connection_tester.h"

namespace mailgate::web::test {

class TempStore {
 public:
  TempStore() {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("mailgate-web-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
    auto s = store::OpenSqliteStore(dir_ / "mailgate.db",
                                    std::make_shared<store::Vault>(store::GenerateMasterKey()));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) store_ = std::move(*s);
  }
  ~TempStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  store::Store& operator*() { return *store_; }
  store::Store* operator->() { return store_.get(); }
  store::Store* get() { return store_.get(); }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
};

// Answers every Test with a log that reports the configuration it was given
// (without secrets) and succeeds.
class InstantTester : public ConnectionTester {
 public:
  void TestMailbox(store::Mailbox m, Done done) override {
    ++mailbox_tests;
    last_mailbox = m;
    done({Status::Ok(),
          {{1, "info", "Connected to mailbox '" + m.name + "' at " + m.host},
           {2, "info", "Connected to your mailbox successfully!"}}});
  }
  void TestTransport(store::Transport t, std::string send_to, Done done) override {
    ++transport_tests;
    last_transport = t;
    last_send_to = send_to;
    done({Status::Auth("535 5.7.3 Authentication unsuccessful"),
          {{1, "info", "Connected to " + t.host}, {2, "error", "535 5.7.3 <b>refused</b>"}}});
  }
  int mailbox_tests = 0;
  int transport_tests = 0;
  store::Mailbox last_mailbox;
  store::Transport last_transport;
  std::string last_send_to;
};

}  // namespace mailgate::web::test

#endif  // MAILGATE_WEB_WEB_TEST_SUPPORT_H_
