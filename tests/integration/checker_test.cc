// The mailbox checker against the real Dovecot of tests/servers/testenv (XOAUTH2 tokens
// from the test IdP), with a SQLite store and a spool in a temporary directory; the
// scripted fake server cuts a connection in the middle of a message. Every test uses its
// own users, so tests run in parallel.
#include "pipeline/checker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "imap/client.h"
#include "pipeline/spool.h"
#include "pipeline/watch.h"
#include "store/forwarding_store.h"
#include "store/store.h"
#include "store/vault.h"
#include "support/fake_server.h"
#include "support/run_co.h"
#include "support/run_command.h"
#include "support/test_env.h"

// --- A store that fails on demand ------------------------------------------------------

namespace mailgate::store {
namespace {

// Forwards to a real Store and fails RecordDownloads on demand: a fault injected through
// the interface (LevelDB's ErrorEnv), not a global hook.
class FaultyStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  bool fail_record_downloads = false;

  StatusOr<std::vector<RecordOutcome>> RecordDownloads(int64_t mailbox_id,
                                                       const std::vector<NewDownload>& downloads,
                                                       int64_t now) override {
    if (fail_record_downloads) return Status::Io("the database is unavailable (injected)");
    return ForwardingStore::RecordDownloads(mailbox_id, downloads, now);
  }
};

}  // namespace
}  // namespace mailgate::store

namespace mailgate::pipeline {
namespace {

namespace asio = boost::asio;
using testing::Env;
using testing::RunCo;

std::string TestMessage(int i, std::size_t large_lines = 0) {
  std::string m = "From: Sender " + std::to_string(i) +
                  " <sender@example.test>\r\nTo: someone@example.test\r\nSubject: message " +
                  std::to_string(i) +
                  "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
  m += "Gr\xc3\xbc\xc3\x9f"
       "e " +
       std::to_string(i) + "\r\n.leading dot\r\n..two dots\r\n";
  for (std::size_t k = 0; k < large_lines; ++k) {
    m += "line " + std::to_string(k) + " of a large message\r\n";
  }
  return m;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t FilesIn(const std::string& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    (void)e;
    ++n;
  }
  return n;
}

// A TCP port on 127.0.0.1 where nothing listens.
uint16_t ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// --- The server as a mail program would see it --------------------------------

class CollectingSink : public imap::MessageSink {
 public:
  Status BeginMessage(uint32_t, uint64_t) override {
    current_.clear();
    return Status::Ok();
  }
  Status MessageChunk(std::string_view c) override {
    current_.append(c);
    return Status::Ok();
  }
  Status EndMessage(const imap::FetchedMessage& m) override {
    bodies[m.uid] = current_;
    return Status::Ok();
  }
  std::map<uint32_t, std::string> bodies;

 private:
  std::string current_;
};

imap::ClientOptions ImapOptions(const std::string& user) {
  const auto& env = Env();
  imap::ClientOptions o;
  o.connect.host = env.tls_name;
  o.connect.port = env.imaps_port;
  o.connect.tls = net::TlsMode::kImplicit;
  o.connect.ca_file = env.ca;
  o.connect.io_timeout = std::chrono::seconds(20);
  o.auth.user = user;
  o.auth.secret_is_token = true;
  o.auth.secret = [user](bool) { return testing::MintToken(user, testing::kImapScope, 600); };
  return o;
}

using ImapBody = std::function<asio::awaitable<Status>(imap::Client&)>;

Status WithImap(const std::string& user, ImapBody body) {
  return RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const imap::ClientOptions options = ImapOptions(user);
    auto c = co_await imap::Client::Connect(ex, options);
    if (!c.ok()) co_return c.status();
    Status s = co_await (*c)->Authenticate();
    if (!s.ok()) co_return s;
    s = co_await body(**c);
    if (!s.ok()) co_return s;
    co_return co_await (*c)->Logout();
  });
}

struct Folder {
  uint32_t uidvalidity = 0;
  std::vector<uint32_t> all, seen;
  std::map<uint32_t, std::string> bodies;
};

Folder Inspect(const std::string& user, const std::string& folder = "INBOX") {
  Folder f;
  Status s = WithImap(user, [&](imap::Client& c) -> asio::awaitable<Status> {
    auto sel = co_await c.Select(folder, true);
    if (!sel.ok()) co_return sel.status();
    f.uidvalidity = sel->uidvalidity;
    auto all = co_await c.UidSearch("ALL");
    if (!all.ok()) co_return all.status();
    f.all = *all;
    auto seen = co_await c.UidSearch("SEEN");
    if (!seen.ok()) co_return seen.status();
    f.seen = *seen;
    CollectingSink sink;
    auto r = co_await c.UidFetchMessages(f.all, sink);
    if (!r.ok()) co_return r.status();
    f.bodies = std::move(sink.bodies);
    co_return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << "inspecting " << folder << ": " << s.ToString();
  return f;
}

// --- A store, a spool and connected-account tokens in a temporary directory ----

struct Harness {
  testing::TempDir dir{"mailgate-checker"};
  std::shared_ptr<const store::Vault> vault =
      std::make_shared<store::Vault>(store::GenerateMasterKey());
  std::unique_ptr<store::FaultyStore> db;
  std::unique_ptr<Spool> spool;
  CheckEnv env;
  int64_t clock = 0;  // 0: the system clock
  std::vector<store::RunLogLine> lines;
  // account -> (user, scope) its tokens are minted for
  std::map<std::string, std::pair<std::string, std::string>> accounts;
  // accounts whose token source fails with this error
  std::map<std::string, Status> refusing;

  Harness() {
    auto s = store::OpenSqliteStore(dir.path() + "/mailgate.db", vault);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (s.ok()) db = std::make_unique<store::FaultyStore>(std::move(*s));
    auto sp = Spool::Open(dir.path() + "/spool");
    EXPECT_TRUE(sp.ok()) << sp.status().ToString();
    if (sp.ok()) spool = std::move(*sp);
    env.store = db.get();
    env.spool = spool.get();
    env.connect.ca_file = Env().ca;
    env.connect.tokens = [this](const std::string& account) -> sasl::SecretProvider {
      return [this, account](bool) -> StatusOr<std::string> {
        if (auto it = refusing.find(account); it != refusing.end()) return it->second;
        const auto& [user, scope] = accounts.at(account);
        return testing::MintToken(user, scope, 600);
      };
    };
    env.now = [this]() -> int64_t {
      if (clock != 0) return clock;
      return std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
    env.echo = [this](const store::RunLogLine& l) { lines.push_back(l); };
  }

  store::Mailbox Create(store::Mailbox m) {
    Status s = db->CreateMailbox(m, env.now());
    EXPECT_TRUE(s.ok()) << s.ToString();
    return Get(m.name);
  }
  store::Mailbox Get(const std::string& name) {
    auto m = db->GetMailbox(name);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : store::Mailbox();
  }

  store::Mailbox Imap(const std::string& user, const std::string& action) {
    store::Mailbox m;
    m.name = "imap " + user;
    m.protocol = "imap";
    m.host = Env().tls_name;
    m.port = Env().imaps_port;
    m.encryption = "tls";
    m.username = user;
    m.auth = "xoauth2";
    m.account = "imap-" + user;
    m.after_download = action;
    m.timeout_seconds = 20;
    accounts[m.account] = {user, testing::kImapScope};
    return Create(m);
  }

  store::Mailbox Pop3(const std::string& user, const std::string& action) {
    store::Mailbox m;
    m.name = "pop3 " + user;
    m.protocol = "pop3";
    m.host = Env().tls_name;
    m.port = Env().pop3s_port;
    m.encryption = "tls";
    m.username = user;
    m.auth = "xoauth2";
    m.account = "pop-" + user;
    m.after_download = action;
    m.timeout_seconds = 20;
    accounts[m.account] = {user, testing::kPopScope};
    return Create(m);
  }

  // A mailbox on the scripted server at 127.0.0.1:`port` (support/fake_server.h),
  // in plaintext with a password.
  store::Mailbox Scripted(const std::string& name, const std::string& protocol, uint16_t port,
                          const std::string& action, bool push) {
    store::Mailbox m;
    m.name = name;
    m.protocol = protocol;
    m.host = "127.0.0.1";
    m.port = port;
    m.encryption = "none";
    m.username = "user@example.test";
    m.auth = "password";
    m.password = store::Secret("pw");
    m.after_download = action;
    m.push = push;
    m.timeout_seconds = 10;
    return Create(m);
  }

  // Watches `m` until the first new mail (or for 20 s at most); returns how
  // often new mail was announced.
  int WatchUntilNewMail(const store::Mailbox& m, std::chrono::seconds poll_interval) {
    asio::io_context io;
    int calls = 0;
    std::function<void()> on_new_mail = [&] {
      ++calls;
      io.stop();
    };
    asio::co_spawn(io, WatchMailbox(io.get_executor(), m, env, on_new_mail, poll_interval),
                   [&](std::exception_ptr, Status) { io.stop(); });
    asio::steady_timer deadline(io, std::chrono::seconds(20));
    deadline.async_wait([&](boost::system::error_code) { io.stop(); });
    io.run();
    return calls;
  }

  CheckResult Check(const store::Mailbox& m) {
    return RunCo<CheckResult>([&](asio::any_io_executor ex) -> asio::awaitable<CheckResult> {
      co_return co_await CheckMailbox(ex, m, env);
    });
  }

  std::vector<store::Download> Downloads() {
    auto d = db->PendingDownloads(10000);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? *d : std::vector<store::Download>();
  }

  std::vector<store::Alert> OpenAlerts(const std::string& kind, const std::string& subject) {
    auto all = db->ListAlerts(true);
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    std::vector<store::Alert> out;
    if (!all.ok()) return out;
    for (const auto& a : *all) {
      if (a.kind == kind && a.subject == subject) out.push_back(a);
    }
    return out;
  }

  bool Logged(std::string_view text) const {
    for (const auto& l : lines) {
      if (l.text.find(text) != std::string::npos) return true;
    }
    return false;
  }
  std::string AllLines() const {
    std::string out;
    for (const auto& l : lines) out += l.level + ": " + l.text + "\n";
    return out;
  }
  std::string spool_new() const { return spool->dir() + "/new"; }
};

// --- IMAP -------------------------------------------------------------------------

TEST(CheckerImapTest, DownloadsEveryMessageOnceByteForByte) {
  const std::string user = testing::UniqueUser("chk-imap");
  constexpr int kMessages = 12;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(i, i == 3 ? 20000 : 0)).ok());
  }
  Harness h;
  const store::Mailbox m = h.Imap(user, "keep");
  const Folder server = Inspect(user);
  ASSERT_EQ(server.all.size(), static_cast<std::size_t>(kMessages));

  const CheckResult r = h.Check(m);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString() << "\n" << h.AllLines();
  EXPECT_EQ(r.downloaded, static_cast<std::size_t>(kMessages));
  EXPECT_EQ(r.duplicates, 0u);
  EXPECT_NE(r.run_id, 0);
  uint64_t server_bytes = 0;
  for (const auto& [uid, body] : server.bodies) server_bytes += body.size();
  EXPECT_EQ(r.bytes, server_bytes);

  // One pending download per message; its spool file holds exactly the server's bytes.
  const auto downloads = h.Downloads();
  ASSERT_EQ(downloads.size(), static_cast<std::size_t>(kMessages));
  std::set<std::string> uids;
  for (const auto& d : downloads) {
    EXPECT_EQ(d.uidvalidity, static_cast<int64_t>(server.uidvalidity));
    EXPECT_EQ(d.state, store::DownloadState::kPending);
    EXPECT_TRUE(d.action_done);
    const uint32_t uid = static_cast<uint32_t>(std::stoul(d.uid));
    ASSERT_TRUE(server.bodies.count(uid)) << d.uid;
    EXPECT_EQ(ReadFile(d.spool_path), server.bodies.at(uid)) << d.uid;
    EXPECT_EQ(d.size, server.bodies.at(uid).size());
    EXPECT_GT(d.internal_date, 1'600'000'000);
    uids.insert(d.uid);
  }
  EXPECT_EQ(uids.size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ(FilesIn(h.spool_new()), static_cast<std::size_t>(kMessages));

  // The run log, in the seed's words.
  EXPECT_TRUE(h.Logged("Connected to mailbox '" + m.name + "' (")) << h.AllLines();
  EXPECT_TRUE(h.Logged("Authenticated as " + user + " with XOAUTH2 (")) << h.AllLines();
  EXPECT_TRUE(
      h.Logged("Selected INBOX: 12 messages, UIDVALIDITY " + std::to_string(server.uidvalidity)))
      << h.AllLines();
  EXPECT_TRUE(h.Logged("Downloaded message " + std::to_string(server.all[0]) + " ("))
      << h.AllLines();
  EXPECT_TRUE(h.Logged("Closed mailbox (")) << h.AllLines();
  auto log = h.db->RunLog(r.run_id);
  ASSERT_TRUE(log.ok());
  EXPECT_GE(log->size(), static_cast<std::size_t>(kMessages + 4));

  // Keep: the server still has everything, unread.
  const Folder after = Inspect(user);
  EXPECT_EQ(after.all.size(), static_cast<std::size_t>(kMessages));
  EXPECT_TRUE(after.seen.empty());

  const store::Mailbox state = h.Get(m.name);
  EXPECT_EQ(state.consecutive_failures, 0);
  EXPECT_EQ(state.last_error, "");
  EXPECT_GT(state.last_success_at, 0);

  // The second run finds nothing new.
  const CheckResult again = h.Check(m);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(again.downloaded, 0u);
  EXPECT_EQ(again.duplicates, 0u);
  EXPECT_EQ(h.Downloads().size(), static_cast<std::size_t>(kMessages));
  auto runs = h.db->ListRuns("check", 10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].status, "ok");
  EXPECT_EQ((*runs)[1].summary.rfind("12 downloaded, 0 duplicates", 0), 0u) << (*runs)[1].summary;
}

// At most max_messages_per_run per run, oldest first; the rest waits for the next run.
TEST(CheckerImapTest, TakesAtMostTheRunLimitOldestFirst) {
  const std::string user = testing::UniqueUser("chk-limit");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(i)).ok());
  Harness h;
  store::Mailbox m = h.Imap(user, "keep");
  m.max_messages_per_run = 2;
  ASSERT_TRUE(h.db->UpdateMailbox(m).ok());
  const std::vector<uint32_t> uids = Inspect(user).all;
  ASSERT_EQ(uids.size(), 5u);
  std::vector<std::size_t> per_run;
  for (int run = 0; run < 4; ++run) {
    const CheckResult r = h.Check(m);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    per_run.push_back(r.downloaded);
    if (run == 0) {
      std::set<std::string> first;
      for (const auto& d : h.Downloads()) first.insert(d.uid);
      EXPECT_EQ(first, (std::set<std::string>{std::to_string(uids[0]), std::to_string(uids[1])}));
    }
  }
  EXPECT_EQ(per_run, (std::vector<std::size_t>{2, 2, 1, 0}));
  EXPECT_TRUE(h.Logged("3 more wait for the next run (at most 2 per run)")) << h.AllLines();
}

struct ActionCase {
  std::string action;
  std::size_t left_in_inbox;
  std::size_t seen;
  std::size_t in_archive;
};

std::string ActionName(const ::testing::TestParamInfo<ActionCase>& p) {
  std::string n = p.param.action.substr(0, p.param.action.find(':'));
  std::erase(n, '-');
  return n;
}

class CheckerActionTest : public ::testing::TestWithParam<ActionCase> {};

TEST_P(CheckerActionTest, AppliesTheAfterDownloadActionToWhatWasRecorded) {
  const ActionCase c = GetParam();
  const std::string user = testing::UniqueUser("chk-action");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(i)).ok());
  Harness h;
  const store::Mailbox m = h.Imap(user, c.action);
  const CheckResult r = h.Check(m);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString() << "\n" << h.AllLines();
  EXPECT_EQ(r.downloaded, 3u);
  EXPECT_EQ(r.actions_applied, 3u);
  const Folder inbox = Inspect(user);
  EXPECT_EQ(inbox.all.size(), c.left_in_inbox);
  EXPECT_EQ(inbox.seen.size(), c.seen);
  if (c.in_archive > 0) {
    EXPECT_EQ(Inspect(user, "Archive").all.size(), c.in_archive);
  }
  auto recorded = h.db->ListDownloadedUids(m.id, inbox.uidvalidity);
  ASSERT_TRUE(recorded.ok());
  ASSERT_EQ(recorded->size(), 3u);
  for (const auto& d : *recorded) EXPECT_TRUE(d.action_done) << d.uid;

  const CheckResult again = h.Check(m);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(again.downloaded, 0u);
  EXPECT_EQ(again.actions_applied, 0u);
  EXPECT_EQ(h.Downloads().size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Dovecot, CheckerActionTest,
                         ::testing::Values(ActionCase{"delete", 0, 0, 0},
                                           ActionCase{"mark-seen", 3, 3, 0},
                                           ActionCase{"move:Archive", 0, 0, 3},
                                           ActionCase{"keep", 3, 0, 0}),
                         ActionName);

// The spool cannot take the messages: nothing is recorded, so nothing is deleted.
TEST(CheckerImapTest, NothingIsDeletedWhenTheSpoolFails) {
  const std::string user = testing::UniqueUser("chk-spoolfail");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(i)).ok());
  Harness h;
  const store::Mailbox m = h.Imap(user, "delete");
  // A file where the spool's temporary folder should be (root ignores permissions).
  const std::string tmp = h.spool->tmp_dir();
  std::filesystem::remove_all(tmp);
  std::ofstream(tmp) << "in the way";

  const CheckResult r = h.Check(m);
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.kind(), Status::Kind::kIo) << r.status.ToString();
  EXPECT_EQ(r.downloaded, 0u);
  EXPECT_EQ(Inspect(user).all.size(), 3u);
  EXPECT_TRUE(h.Downloads().empty());
  const store::Mailbox state = h.Get(m.name);
  EXPECT_EQ(state.consecutive_failures, 1);
  EXPECT_NE(state.last_error.find("spool"), std::string::npos) << state.last_error;

  // Fixed: the next run takes everything, exactly once.
  std::filesystem::remove(tmp);
  std::filesystem::create_directory(tmp);
  const CheckResult fixed = h.Check(m);
  ASSERT_TRUE(fixed.status.ok()) << fixed.status.ToString();
  EXPECT_EQ(fixed.downloaded, 3u);
  EXPECT_TRUE(Inspect(user).all.empty());
  EXPECT_EQ(h.Downloads().size(), 3u);
  EXPECT_EQ(h.Get(m.name).consecutive_failures, 0);
}

// The store cannot record the batch: its spool files go again, and nothing is deleted.
TEST(CheckerImapTest, NothingIsDeletedWhenTheStoreCannotRecord) {
  const std::string user = testing::UniqueUser("chk-storefail");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(i)).ok());
  Harness h;
  const store::Mailbox m = h.Imap(user, "delete");
  h.db->fail_record_downloads = true;
  const CheckResult r = h.Check(m);
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.kind(), Status::Kind::kIo) << r.status.ToString();
  EXPECT_EQ(r.downloaded, 0u);
  EXPECT_EQ(Inspect(user).all.size(), 3u);
  EXPECT_TRUE(h.Downloads().empty());
  EXPECT_EQ(FilesIn(h.spool_new()), 0u);
  EXPECT_EQ(FilesIn(h.spool->tmp_dir()), 0u);
  EXPECT_EQ(h.Get(m.name).consecutive_failures, 1);

  h.db->fail_record_downloads = false;
  const CheckResult fixed = h.Check(m);
  ASSERT_TRUE(fixed.status.ok()) << fixed.status.ToString();
  EXPECT_EQ(fixed.downloaded, 3u);
  EXPECT_TRUE(Inspect(user).all.empty());
  EXPECT_EQ(FilesIn(h.spool_new()), 3u);
}

// The folder is deleted and recreated with the same messages: a new UIDVALIDITY, so
// every message is downloaded again, and recognised by its bytes.
TEST(CheckerImapTest, UidValidityChangeDownloadsAgainAsDuplicates) {
  const std::string user = testing::UniqueUser("chk-uidvalidity");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(i)).ok());
  auto move_all = [](imap::Client& c, std::string from, std::string to) -> asio::awaitable<Status> {
    auto sel = co_await c.Select(from);
    if (!sel.ok()) co_return sel.status();
    auto all = co_await c.UidSearch("ALL");
    if (!all.ok()) co_return all.status();
    co_return co_await c.UidMove(*all, to);
  };
  const std::string inbox = "INBOX", work = "Work", old = "Old";
  ASSERT_TRUE(WithImap(user, [&](imap::Client& c) -> asio::awaitable<Status> {
                Status s = co_await c.Create(work);
                if (!s.ok()) co_return s;
                co_return co_await move_all(c, inbox, work);
              }).ok());
  Harness h;
  store::Mailbox m = h.Imap(user, "keep");
  m.folder = "Work";
  ASSERT_TRUE(h.db->UpdateMailbox(m).ok());
  const uint32_t before = Inspect(user, "Work").uidvalidity;

  const CheckResult first = h.Check(m);
  ASSERT_TRUE(first.status.ok()) << first.status.ToString();
  EXPECT_EQ(first.downloaded, 3u);

  ASSERT_TRUE(WithImap(user, [&](imap::Client& c) -> asio::awaitable<Status> {
                Status s = co_await c.Create(old);
                if (!s.ok()) co_return s;
                s = co_await move_all(c, work, old);
                if (!s.ok()) co_return s;
                auto unselect = co_await c.Select(inbox);
                if (!unselect.ok()) co_return unselect.status();
                s = co_await c.Delete(work);
                if (!s.ok()) co_return s;
                s = co_await c.Create(work);
                if (!s.ok()) co_return s;
                co_return co_await move_all(c, old, work);
              }).ok());
  const Folder recreated = Inspect(user, "Work");
  ASSERT_NE(recreated.uidvalidity, before);
  ASSERT_EQ(recreated.all.size(), 3u);

  const CheckResult again = h.Check(m);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString() << "\n" << h.AllLines();
  EXPECT_EQ(again.downloaded, 0u);
  EXPECT_EQ(again.duplicates, 3u);
  EXPECT_EQ(h.Downloads().size(), 3u);    // no new pending rows
  EXPECT_EQ(FilesIn(h.spool_new()), 3u);  // the duplicates' files are gone
  auto recorded = h.db->ListDownloadedUids(m.id, recreated.uidvalidity);
  ASSERT_TRUE(recorded.ok());
  EXPECT_EQ(recorded->size(), 3u);
  const CheckResult third = h.Check(m);
  ASSERT_TRUE(third.status.ok());
  EXPECT_EQ(third.downloaded + third.duplicates, 0u);
}

std::string BigMessage(std::size_t bytes) {
  std::string m =
      "From: Big Sender <big@example.test>\r\nTo: someone@example.test\r\n"
      "Subject: =?utf-8?q?Quarterly_r=C3=A9port?=\r\n\r\n";
  while (m.size() < bytes) m += "a line of a message that is far too large to download\r\n";
  return m;
}

TEST(CheckerImapTest, OversizedMessageStaysOnTheServerWithAnAlert) {
  const std::string user = testing::UniqueUser("chk-oversized");
  ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(0)).ok());
  ASSERT_TRUE(testing::DeliverByLmtp(user, BigMessage(200 * 1024)).ok());
  ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(2)).ok());
  Harness h;
  store::Mailbox m = h.Imap(user, "delete");
  m.max_size_kb = 64;
  ASSERT_TRUE(h.db->UpdateMailbox(m).ok());
  const std::string subject = "mailbox/" + m.name;

  const CheckResult r = h.Check(m);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString() << "\n" << h.AllLines();
  EXPECT_EQ(r.downloaded, 2u);
  EXPECT_EQ(r.oversized_skipped, 1u);
  const Folder left = Inspect(user);
  ASSERT_EQ(left.all.size(), 1u);
  EXPECT_GT(left.bodies.begin()->second.size(), 200u * 1024);
  auto alerts = h.OpenAlerts("oversized_message", subject);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_NE(alerts[0].message.find("Quarterly r\xc3\xa9port"), std::string::npos)
      << alerts[0].message;
  EXPECT_NE(alerts[0].message.find("big@example.test"), std::string::npos) << alerts[0].message;
  bool warned = false;
  for (const auto& l : h.lines) {
    warned = warned || (l.level == "warning" && l.text.find("size limit") != std::string::npos);
  }
  EXPECT_TRUE(warned) << h.AllLines();

  // Still there on the next run; still one alert.
  const CheckResult again = h.Check(m);
  ASSERT_TRUE(again.status.ok());
  EXPECT_EQ(again.downloaded, 0u);
  EXPECT_EQ(again.oversized_skipped, 1u);
  EXPECT_EQ(Inspect(user).all.size(), 1u);
  EXPECT_EQ(h.OpenAlerts("oversized_message", subject).size(), 1u);

  // Allowed now: downloaded, deleted, and the alert is resolved.
  m.download_oversized = true;
  ASSERT_TRUE(h.db->UpdateMailbox(m).ok());
  const CheckResult allowed = h.Check(m);
  ASSERT_TRUE(allowed.status.ok()) << allowed.status.ToString();
  EXPECT_EQ(allowed.downloaded, 1u);
  EXPECT_TRUE(Inspect(user).all.empty());
  EXPECT_TRUE(h.OpenAlerts("oversized_message", subject).empty());
}

TEST(CheckerImapTest, ReauthorizationRequiredIsTheMailboxError) {
  const std::string user = testing::UniqueUser("chk-reauth");
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(i)).ok());
  Harness h;
  const store::Mailbox m = h.Imap(user, "delete");
  h.refusing[m.account] = Status::Auth(
      "account 'work' needs re-authorization (the provider refused the refresh token: "
      "invalid_grant AADSTS700082); run `mailgate account authorize work`");
  const CheckResult r = h.Check(m);
  ASSERT_EQ(r.status.kind(), Status::Kind::kAuth) << r.status.ToString();
  const store::Mailbox state = h.Get(m.name);
  EXPECT_NE(state.last_error.find("needs re-authorization"), std::string::npos) << state.last_error;
  EXPECT_NE(state.last_error.find("mailgate account authorize work"), std::string::npos);
  EXPECT_EQ(state.consecutive_failures, 1);
  EXPECT_EQ(Inspect(user).all.size(), 2u);
  EXPECT_TRUE(h.Downloads().empty());
}

// Nothing listens: each failure delays the next check longer; an alert at the second.
TEST(CheckerImapTest, ServerDownBacksOffAndAlerts) {
  const std::string user = testing::UniqueUser("chk-down");
  ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(0)).ok());
  Harness h;
  store::Mailbox m = h.Imap(user, "delete");
  const int real_port = m.port;
  m.port = ClosedPort();
  m.timeout_seconds = 5;
  ASSERT_TRUE(h.db->UpdateMailbox(m).ok());
  const std::string subject = "mailbox/" + m.name;
  h.clock = 1'700'000'000;

  for (int failures = 1; failures <= 3; ++failures) {
    const CheckResult r = h.Check(m);
    ASSERT_FALSE(r.status.ok());
    EXPECT_EQ(r.status.kind(), Status::Kind::kConnect) << r.status.ToString();
    const store::Mailbox state = h.Get(m.name);
    EXPECT_EQ(state.consecutive_failures, failures);
    EXPECT_EQ(state.delayed_until, h.clock + 120 * failures);
    EXPECT_FALSE(state.last_error.empty());
    EXPECT_EQ(h.OpenAlerts("mailbox_failing", subject).size(), failures >= 2 ? 1u : 0u);
    h.clock += 1000;
  }

  // Delayed: a due-only pass skips it and says so.
  h.clock = h.Get(m.name).delayed_until - 10;
  h.lines.clear();
  auto skipped = RunCo<std::vector<CheckResult>>(
      [&](asio::any_io_executor ex) -> asio::awaitable<std::vector<CheckResult>> {
        std::vector<store::Mailbox> all{h.Get(m.name)};
        co_return co_await CheckMailboxes(ex, all, h.env, true);
      });
  EXPECT_TRUE(skipped.empty());
  EXPECT_TRUE(h.Logged("is delayed")) << h.AllLines();

  // The server is back: success clears the failures and resolves the alert.
  m.port = real_port;
  ASSERT_TRUE(h.db->UpdateMailbox(m).ok());
  const CheckResult ok = h.Check(m);
  ASSERT_TRUE(ok.status.ok()) << ok.status.ToString();
  const store::Mailbox state = h.Get(m.name);
  EXPECT_EQ(state.consecutive_failures, 0);
  EXPECT_EQ(state.delayed_until, 0);
  EXPECT_EQ(state.last_error, "");
  EXPECT_TRUE(h.OpenAlerts("mailbox_failing", subject).empty());
}

// Several mailboxes at once, each on its own connection; disabled ones are skipped.
TEST(CheckerImapTest, ChecksSeveralMailboxesConcurrently) {
  const std::string a = testing::UniqueUser("chk-many-a");
  const std::string b = testing::UniqueUser("chk-many-b");
  const std::string c = testing::UniqueUser("chk-many-c");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(testing::DeliverByLmtp(a, TestMessage(i)).ok());
    ASSERT_TRUE(testing::DeliverByLmtp(b, TestMessage(10 + i)).ok());
    ASSERT_TRUE(testing::DeliverByLmtp(c, TestMessage(20 + i)).ok());
  }
  Harness h;
  std::vector<store::Mailbox> all{h.Imap(a, "delete"), h.Pop3(b, "delete"), h.Imap(c, "delete")};
  ASSERT_TRUE(h.db->SetMailboxEnabled(all[2].name, false).ok());
  all[2] = h.Get(all[2].name);
  auto results = RunCo<std::vector<CheckResult>>(
      [&](asio::any_io_executor ex) -> asio::awaitable<std::vector<CheckResult>> {
        co_return co_await CheckMailboxes(ex, all, h.env, true);
      });
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    EXPECT_TRUE(r.status.ok()) << r.mailbox << ": " << r.status.ToString();
    EXPECT_EQ(r.downloaded, 3u) << r.mailbox;
  }
  EXPECT_EQ(results[0].mailbox, all[0].name);
  EXPECT_EQ(results[1].mailbox, all[1].name);
  EXPECT_TRUE(Inspect(a).all.empty());
  EXPECT_TRUE(Inspect(b).all.empty());
  EXPECT_EQ(Inspect(c).all.size(), 3u);
  EXPECT_TRUE(h.Logged("is disabled")) << h.AllLines();
}

// --- A connection cut in the middle of a message (scripted server) -------------------

constexpr char kGreeting[] = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN UIDPLUS] ready";
constexpr char kMessage1[] = "Subject: one\r\n\r\nfirst message\r\n";
constexpr char kMessage2[] = "Subject: two\r\n\r\nthe second message, cut short\r\n";

testing::Script& Login(testing::Script& s) {
  return s.Send(kGreeting)
      .Expect("A1 AUTHENTICATE PLAIN *")
      .Send("A1 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in")
      .Expect("A2 SELECT INBOX")
      .Send("* 2 EXISTS")
      .Send("* OK [UIDVALIDITY 777] UIDs valid")
      .Send("A2 OK [READ-WRITE] Select completed")
      .Expect("A3 UID SEARCH ALL")
      .Send("* SEARCH 1 2")
      .Send("A3 OK Search completed");
}

std::string FetchedBody(int seq, int uid, std::string_view body, std::size_t send = 0) {
  std::string out = "* " + std::to_string(seq) + " FETCH (UID " + std::to_string(uid) +
                    " RFC822.SIZE " + std::to_string(body.size()) +
                    " INTERNALDATE \"01-Jan-2024 10:00:00 +0000\" FLAGS () BODY[] {" +
                    std::to_string(body.size()) + "}\r\n";
  if (send == 0) return out + std::string(body) + ")\r\n";
  return out + std::string(body.substr(0, send));
}

TEST(CheckerImapTest, DroppedConnectionMidMessageRecordsNothingPartial) {
  const std::string one = kMessage1, two = kMessage2;
  testing::Script first;
  Login(first)
      .Expect("A4 UID FETCH 1:2 (UID RFC822.SIZE)")
      .Send("* 1 FETCH (UID 1 RFC822.SIZE " + std::to_string(one.size()) + ")")
      .Send("* 2 FETCH (UID 2 RFC822.SIZE " + std::to_string(two.size()) + ")")
      .Send("A4 OK Fetch completed")
      .Expect("A5 UID FETCH 1:2 (UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])")
      .SendRaw(FetchedBody(1, 1, one) + FetchedBody(2, 2, two, 10))
      .Close();
  // The next run: message 1 was recorded, so it gets its action first; then message 2.
  testing::Script second;
  Login(second)
      .Expect("A4 UID STORE 1 +FLAGS.SILENT (\\Deleted)")
      .Send("A4 OK Store completed")
      .Expect("A5 UID EXPUNGE 1")
      .Send("* 1 EXPUNGE")
      .Send("A5 OK Expunge completed")
      .Expect("A6 UID FETCH 2 (UID RFC822.SIZE)")
      .Send("* 1 FETCH (UID 2 RFC822.SIZE " + std::to_string(two.size()) + ")")
      .Send("A6 OK Fetch completed")
      .Expect("A7 UID FETCH 2 (UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])")
      .SendRaw(FetchedBody(1, 2, two))
      .Send("A7 OK Fetch completed")
      .Expect("A8 UID STORE 2 +FLAGS.SILENT (\\Deleted)")
      .Send("A8 OK Store completed")
      .Expect("A9 UID EXPUNGE 2")
      .Send("* 1 EXPUNGE")
      .Send("A9 OK Expunge completed")
      .Expect("A10 LOGOUT")
      .Send("* BYE Logging out")
      .Send("A10 OK Logout completed");
  testing::FakeServer server(std::vector<testing::Script>{first, second},
                             testing::FakeServer::Options());

  Harness h;
  const store::Mailbox m = h.Scripted("scripted", "imap", server.port(), "delete", false);

  const CheckResult r = h.Check(m);
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.kind(), Status::Kind::kConnect) << r.status.ToString();
  EXPECT_NE(r.status.message().find("in the middle of a message"), std::string::npos)
      << r.status.message();
  // Message 1 arrived whole and is kept; nothing of message 2.
  auto downloads = h.Downloads();
  ASSERT_EQ(downloads.size(), 1u);
  EXPECT_EQ(downloads[0].uid, "1");
  EXPECT_FALSE(downloads[0].action_done);
  EXPECT_EQ(ReadFile(downloads[0].spool_path), one);
  EXPECT_EQ(FilesIn(h.spool->tmp_dir()), 0u);
  EXPECT_EQ(FilesIn(h.spool_new()), 1u);

  const CheckResult next = h.Check(m);
  ASSERT_TRUE(next.status.ok()) << next.status.ToString() << "\n" << h.AllLines();
  EXPECT_EQ(next.downloaded, 1u);
  EXPECT_EQ(next.actions_applied, 2u);
  EXPECT_EQ(server.Finish(), "");
  downloads = h.Downloads();
  ASSERT_EQ(downloads.size(), 2u);
  std::map<std::string, std::string> bodies;
  for (const auto& d : downloads) {
    EXPECT_TRUE(d.action_done);
    bodies[d.uid] = ReadFile(d.spool_path);
  }
  EXPECT_EQ(bodies["1"], one);
  EXPECT_EQ(bodies["2"], two);
  EXPECT_EQ(FilesIn(h.spool_new()), 2u);
}

// --- POP3 -----------------------------------------------------------------------------

TEST(CheckerPop3Test, DownloadsThenDeletesAtQuit) {
  const std::string user = testing::UniqueUser("chk-pop3");
  constexpr int kMessages = 5;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(i, i == 2 ? 20000 : 0)).ok());
  }
  const Folder server = Inspect(user);
  std::multiset<std::string> want;
  for (const auto& [uid, body] : server.bodies) want.insert(body);
  Harness h;
  const store::Mailbox m = h.Pop3(user, "delete");
  const CheckResult r = h.Check(m);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString() << "\n" << h.AllLines();
  EXPECT_EQ(r.downloaded, static_cast<std::size_t>(kMessages));
  EXPECT_EQ(r.actions_applied, static_cast<std::size_t>(kMessages));
  std::multiset<std::string> got;
  for (const auto& d : h.Downloads()) {
    EXPECT_EQ(d.uidvalidity, 0);
    EXPECT_TRUE(d.action_done);
    got.insert(ReadFile(d.spool_path));
  }
  EXPECT_TRUE(got == want) << "the spool does not hold the server's bytes";
  EXPECT_TRUE(Inspect(user).all.empty());
  EXPECT_TRUE(h.Logged("Authenticated as " + user + " with XOAUTH2")) << h.AllLines();
  EXPECT_TRUE(h.Logged("Deleted 5 messages from the server")) << h.AllLines();
  EXPECT_TRUE(h.Logged("Downloaded message 1 (")) << h.AllLines();

  ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(99)).ok());
  const CheckResult again = h.Check(m);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(again.downloaded, 1u);
  EXPECT_EQ(h.Downloads().size(), static_cast<std::size_t>(kMessages + 1));
}

TEST(CheckerPop3Test, KeepDownloadsOnceAndLeavesTheMessages) {
  const std::string user = testing::UniqueUser("chk-pop3-keep");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(i)).ok());
  Harness h;
  const store::Mailbox m = h.Pop3(user, "keep");
  const CheckResult r = h.Check(m);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.downloaded, 3u);
  const CheckResult again = h.Check(m);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(again.downloaded, 0u);
  EXPECT_EQ(Inspect(user).all.size(), 3u);
  auto recorded = h.db->ListDownloadedUids(m.id, 0);
  ASSERT_TRUE(recorded.ok());
  ASSERT_EQ(recorded->size(), 3u);
  for (const auto& d : *recorded) EXPECT_TRUE(d.action_done);
}

TEST(CheckerPop3Test, OversizedMessageStaysWithItsSenderInTheAlert) {
  const std::string user = testing::UniqueUser("chk-pop3-big");
  ASSERT_TRUE(testing::DeliverByLmtp(user, BigMessage(150 * 1024)).ok());
  ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(1)).ok());
  Harness h;
  store::Mailbox m = h.Pop3(user, "delete");
  m.max_size_kb = 100;
  ASSERT_TRUE(h.db->UpdateMailbox(m).ok());
  const CheckResult r = h.Check(m);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString() << "\n" << h.AllLines();
  EXPECT_EQ(r.downloaded, 1u);
  EXPECT_EQ(r.oversized_skipped, 1u);
  EXPECT_EQ(Inspect(user).all.size(), 1u);
  auto alerts = h.OpenAlerts("oversized_message", "mailbox/" + m.name);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_NE(alerts[0].message.find("Quarterly r\xc3\xa9port"), std::string::npos)
      << alerts[0].message;
  EXPECT_NE(alerts[0].message.find("Big Sender"), std::string::npos) << alerts[0].message;
}

// The same over POP3: RETR cut short. The next session deletes message 1 (recorded
// before) and takes message 2; both deletions are noted only after QUIT.
TEST(CheckerPop3Test, DroppedConnectionMidMessageRecordsNothingPartial) {
  auto greet = [](testing::Script& s) -> testing::Script& {
    return s.Send("+OK ready")
        .Expect("CAPA")
        .Send("+OK")
        .Send("USER")
        .Send("UIDL")
        .Send("TOP")
        .Send(".")
        .Expect("USER user@example.test")
        .Send("+OK")
        .Expect("PASS pw")
        .Send("+OK Logged in.")
        .Expect("UIDL")
        .Send("+OK")
        .Send("1 uid-one")
        .Send("2 uid-two")
        .Send(".")
        .Expect("LIST")
        .Send("+OK")
        .Send("1 " + std::to_string(std::string(kMessage1).size()))
        .Send("2 " + std::to_string(std::string(kMessage2).size()))
        .Send(".");
  };
  testing::Script first;
  greet(first)
      .Expect("RETR 1")
      .Send("+OK")
      .Send("Subject: one")
      .Send("")
      .Send("first message")
      .Send(".")
      .Expect("RETR 2")
      .Send("+OK")
      .Send("Subject: two")
      .Close();
  testing::Script second;
  greet(second)
      .Expect("DELE 1")
      .Send("+OK")
      .Expect("RETR 2")
      .Send("+OK")
      .Send("Subject: two")
      .Send("")
      .Send("the second message, cut short")
      .Send(".")
      .Expect("DELE 2")
      .Send("+OK")
      .Expect("QUIT")
      .Send("+OK Bye");
  testing::FakeServer server(std::vector<testing::Script>{first, second},
                             testing::FakeServer::Options());
  Harness h;
  const store::Mailbox m = h.Scripted("scripted pop3", "pop3", server.port(), "delete", false);

  const CheckResult r = h.Check(m);
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.kind(), Status::Kind::kConnect) << r.status.ToString();
  auto downloads = h.Downloads();
  ASSERT_EQ(downloads.size(), 1u);
  EXPECT_EQ(downloads[0].uid, "uid-one");
  EXPECT_FALSE(downloads[0].action_done);
  EXPECT_EQ(ReadFile(downloads[0].spool_path), kMessage1);
  EXPECT_EQ(FilesIn(h.spool->tmp_dir()), 0u);

  const CheckResult next = h.Check(m);
  ASSERT_TRUE(next.status.ok()) << next.status.ToString() << "\n" << h.AllLines();
  EXPECT_EQ(next.downloaded, 1u);
  EXPECT_EQ(next.actions_applied, 2u);
  EXPECT_EQ(server.Finish(), "");
  downloads = h.Downloads();
  ASSERT_EQ(downloads.size(), 2u);
  std::map<std::string, std::string> bodies;
  for (const auto& d : downloads) {
    EXPECT_TRUE(d.action_done);
    bodies[d.uid] = ReadFile(d.spool_path);
  }
  EXPECT_EQ(bodies["uid-one"], kMessage1);
  EXPECT_EQ(bodies["uid-two"], kMessage2);
}

// --- IMAP IDLE --------------------------------------------------------------------------

TEST(CheckerWatchTest, IdleDownloadsNewMailWithinSeconds) {
  const std::string user = testing::UniqueUser("chk-idle");
  ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(0)).ok());
  Harness h;
  store::Mailbox m = h.Imap(user, "delete");
  m.push = true;
  ASSERT_TRUE(h.db->UpdateMailbox(m).ok());

  asio::io_context io;
  int calls = 0;
  std::thread deliver;
  std::optional<Status> ended;
  std::function<void()> on_new_mail = [&] {
    ++calls;
    if (calls == 1) {
      // The first check took the first message; the second arrives while IDLE waits.
      deliver = std::thread([user] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        EXPECT_TRUE(testing::DeliverByLmtp(user, TestMessage(1)).ok());
      });
    } else {
      io.stop();
    }
  };
  asio::co_spawn(io,
                 WatchMailbox(io.get_executor(), m, h.env, on_new_mail, std::chrono::seconds(60)),
                 [&](std::exception_ptr, Status s) {
                   ended = s;
                   io.stop();
                 });
  asio::steady_timer deadline(io, std::chrono::seconds(20));
  deadline.async_wait([&](boost::system::error_code) { io.stop(); });
  io.run();
  if (deliver.joinable()) deliver.join();
  EXPECT_FALSE(ended.has_value()) << ended->ToString();
  EXPECT_EQ(calls, 2) << h.AllLines();
  EXPECT_EQ(h.Downloads().size(), 2u);
  EXPECT_TRUE(Inspect(user).all.empty());
}

// A server without IDLE: the watch falls back to polling, each poll a check of its own.
TEST(CheckerWatchTest, WithoutIdleItPolls) {
  constexpr char kNoIdle[] = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN UIDPLUS] ready";
  const std::string body = kMessage1;
  testing::Script empty;
  empty.Send(kNoIdle)
      .Expect("A1 AUTHENTICATE PLAIN *")
      .Send("A1 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in")
      .Expect("A2 SELECT INBOX")
      .Send("* 0 EXISTS")
      .Send("* OK [UIDVALIDITY 5] UIDs valid")
      .Send("A2 OK [READ-WRITE] Select completed")
      .Expect("A3 LOGOUT")
      .Send("* BYE Logging out")
      .Send("A3 OK Logout completed");
  testing::Script one;
  one.Send(kNoIdle)
      .Expect("A1 AUTHENTICATE PLAIN *")
      .Send("A1 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in")
      .Expect("A2 SELECT INBOX")
      .Send("* 1 EXISTS")
      .Send("* OK [UIDVALIDITY 5] UIDs valid")
      .Send("A2 OK [READ-WRITE] Select completed")
      .Expect("A3 UID SEARCH ALL")
      .Send("* SEARCH 7")
      .Send("A3 OK Search completed")
      .Expect("A4 UID FETCH 7 (UID RFC822.SIZE)")
      .Send("* 1 FETCH (UID 7 RFC822.SIZE " + std::to_string(body.size()) + ")")
      .Send("A4 OK Fetch completed")
      .Expect("A5 UID FETCH 7 (UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])")
      .SendRaw(FetchedBody(1, 7, body))
      .Send("A5 OK Fetch completed")
      .Expect("A6 LOGOUT")
      .Send("* BYE Logging out")
      .Send("A6 OK Logout completed");
  testing::FakeServer server(std::vector<testing::Script>{empty, one},
                             testing::FakeServer::Options());
  Harness h;
  const store::Mailbox m = h.Scripted("polled", "imap", server.port(), "keep", true);

  EXPECT_EQ(h.WatchUntilNewMail(m, std::chrono::seconds(1)), 1) << h.AllLines();
  EXPECT_EQ(server.Finish(), "");
  const auto downloads = h.Downloads();
  ASSERT_EQ(downloads.size(), 1u);
  EXPECT_EQ(ReadFile(downloads[0].spool_path), body);
  auto runs = h.db->ListRuns("check", 10);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 2u);
}

// Exchange ends an IDLE session when the access token expires: the watch reconnects at
// once (with a fresh token) and goes on.
TEST(CheckerWatchTest, ReconnectsWhenTheServerSaysBye) {
  constexpr char kIdle[] = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN UIDPLUS IDLE] ready";
  const std::string body = kMessage1;
  testing::Script ended;
  ended.Send(kIdle)
      .Expect("A1 AUTHENTICATE PLAIN *")
      .Send("A1 OK [CAPABILITY IMAP4rev1 UIDPLUS IDLE] Logged in")
      .Expect("A2 SELECT INBOX")
      .Send("* 0 EXISTS")
      .Send("* OK [UIDVALIDITY 5] UIDs valid")
      .Send("A2 OK [READ-WRITE] Select completed")
      .Expect("A3 IDLE")
      .Send("+ idling")
      .Send("* BYE Session invalidated - AccessTokenExpired")
      .Close();
  testing::Script next;
  next.Send(kIdle)
      .Expect("A1 AUTHENTICATE PLAIN *")
      .Send("A1 OK [CAPABILITY IMAP4rev1 UIDPLUS IDLE] Logged in")
      .Expect("A2 SELECT INBOX")
      .Send("* 1 EXISTS")
      .Send("* OK [UIDVALIDITY 5] UIDs valid")
      .Send("A2 OK [READ-WRITE] Select completed")
      .Expect("A3 UID SEARCH ALL")
      .Send("* SEARCH 7")
      .Send("A3 OK Search completed")
      .Expect("A4 UID FETCH 7 (UID RFC822.SIZE)")
      .Send("* 1 FETCH (UID 7 RFC822.SIZE " + std::to_string(body.size()) + ")")
      .Send("A4 OK Fetch completed")
      .Expect("A5 UID FETCH 7 (UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])")
      .SendRaw(FetchedBody(1, 7, body))
      .Send("A5 OK Fetch completed");
  testing::FakeServer server(std::vector<testing::Script>{ended, next},
                             testing::FakeServer::Options());
  Harness h;
  const store::Mailbox m = h.Scripted("watched", "imap", server.port(), "keep", true);

  EXPECT_EQ(h.WatchUntilNewMail(m, std::chrono::seconds(60)), 1) << h.AllLines();
  EXPECT_EQ(server.Finish(), "");
  ASSERT_EQ(h.Downloads().size(), 1u);
  // The BYE is not a failed check: the mailbox shows no error.
  EXPECT_EQ(h.Get(m.name).consecutive_failures, 0);
}

}  // namespace
}  // namespace mailgate::pipeline
