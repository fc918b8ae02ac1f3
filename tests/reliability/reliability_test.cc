// The reliability suite (issue 7): the mailgate binary, as users run it,
// against Dovecot and the test IdP with faults put in its way:
//  - FaultInjection: mailgate-faultproxy between `mailgate check` and Dovecot
//    resets, truncates and stalls connections at random bytes, run after run;
//  - FullDisk: the data directory on a small tmpfs that fills up;
//  - IdpFaults: the identity provider answers 503, hangs, or revokes the grant;
//  - Secrets: after all that at --log-level trace, no token, client secret or
//    password anywhere in what mailgate wrote or said.
// Afterwards every delivered message is stored exactly once, nothing was
// deleted from the server that was not stored, and nothing is quarantined.
//
// MAILGATE_RELIABILITY_RUNS sets the number of faulty runs (default 30, the
// CI form; scripts/reliability runs hundreds), MAILGATE_RELIABILITY_SEED the
// proxy's seed (default: from the clock, printed).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "sasl/sasl.h"
#include "support/test_env.h"
#include "tests/accounts/harness.h"

namespace mailgate::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A message with a unique Message-ID; every third one carries `attachment`
// bytes of random data (base64), so faults land mid-literal too.
struct Sent {
  std::string message_id;
  std::string raw;
};

Sent MakeMessage(const std::string& tag, int i, std::size_t attachment) {
  Sent m;
  m.message_id = tag + "." + std::to_string(i) + "@sender.example";
  std::string r = "From: Alice <alice@sender.example>\r\nTo: support@example.test\r\n";
  r += "Subject: Reliability " + std::to_string(i) + "\r\n";
  r += "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" + m.message_id + ">\r\n";
  r += "MIME-Version: 1.0\r\n";
  if (attachment == 0) {
    r += "Content-Type: text/plain; charset=utf-8\r\n\r\nBody of message " + std::to_string(i) +
         ".\r\n.leading dot line\r\n";
  } else {
    std::mt19937 gen(static_cast<uint32_t>(i * 7919 + attachment));
    std::string bytes(attachment, '\0');
    for (char& c : bytes) c = static_cast<char>(gen() & 0xff);
    const std::string b64 = sasl::Base64Encode(bytes);
    r += "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n";
    r += "Content-Type: text/plain\r\n\r\nSee the attachment.\r\n--b\r\n";
    r += "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; "
         "filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    for (std::size_t k = 0; k < b64.size(); k += 76) r += b64.substr(k, 76) + "\r\n";
    r += "--b--\r\n";
  }
  m.raw = std::move(r);
  return m;
}

// mailgate-faultproxy in front of `target`, for the life of the object.
class FaultProxy {
 public:
  // A fault lands at a random byte of the first `window` bytes the server
  // sends on a connection: about one session's worth, so that most land.
  FaultProxy(const std::string& target, const std::string& dir, double rate, uint64_t seed,
             int window = 40000, const std::string& faults = "reset,truncate,stall") {
    const std::string port_file = dir + "/proxy.port";
    log_file_ = dir + "/proxy.log";
    fs::remove(port_file);
    std::vector<std::string> args = {MAILGATE_FAULTPROXY,
                                     "--target",
                                     target,
                                     "--fault-rate",
                                     std::to_string(rate),
                                     "--faults",
                                     faults,
                                     "--seed",
                                     std::to_string(seed),
                                     "--fault-window",
                                     std::to_string(window),
                                     "--port-file",
                                     port_file,
                                     "--log-file",
                                     log_file_};
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::ifstream in(port_file);
      int p = 0;
      if (in >> p && p > 0) port_ = p;
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  ~FaultProxy() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  int port() const { return port_; }
  // How many connections got each fault, from the proxy's log.
  std::map<std::string, int> FaultCounts() const {
    std::map<std::string, int> out;
    std::ifstream in(log_file_);
    std::string line;
    while (std::getline(in, line)) {
      for (const char* f : {"reset", "truncate", "stall"}) {
        if (line.find(std::string(": ") + f + " after") != std::string::npos) ++out[f];
      }
    }
    return out;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_file_;
};

class ReliabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = RequireEnv("MAILGATE_TEST_IDP_URL");
    ASSERT_FALSE(url.empty());
    idp_ = std::make_unique<Idp>(url);
    id_ = Unique();
    dir_ = (fs::temp_directory_path() / ("mailgate-rel-" + id_)).string();
    data_ = dir_ + "/data";
    fs::create_directories(data_);
    env_ = {{"MAILGATE_DATA_DIR", data_}, {"MAILGATE_CA_FILE", Env().ca}};
    user_ = UniqueUser("rel");
  }
  void TearDown() override {
    if (!mounted_.empty()) {
      if (::umount(mounted_.c_str()) != 0) {
        ADD_FAILURE() << "could not unmount " << mounted_ << ": " << std::strerror(errno);
      }
    }
    if (!HasFailure()) fs::remove_all(dir_);
  }

  RunResult Run(std::vector<std::string> args) {
    if (!log_level_.empty()) {
      args.insert(args.begin(), log_level_);
      args.insert(args.begin(), "--log-level");
    }
    RunResult r = RunMailgate(args, env_);
    logs_ += r.out + r.err;
    return r;
  }

  json::value Json(std::vector<std::string> args) {
    args.push_back("--json");
    return JsonOutput(Run(args));
  }

  // A confidential client with app-only access to the mailbox.
  void AddAppAccount() {
    const std::string app = "app-" + id_;
    secret_ = "app-secret-" + id_ + "-VALUE";
    idp_->RegisterClient(app, secret_, user_);
    { std::ofstream(dir_ + "/secret.txt") << secret_ << "\n"; }
    RunResult r = Run({"account", "add", "app", "--provider", "microsoft", "--client-id", app,
                       "--tenant", "contoso-" + id_ + ".test", "--authority", idp_->url(),
                       "--client-secret-file", dir_ + "/secret.txt"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    fs::remove(dir_ + "/secret.txt");
    r = Run({"account", "authorize", "app", "--flow", "client-credentials"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A public client authorized by the device flow for user_: a delegated
  // grant with a refresh token, which the IdP can expire or revoke.
  // The public client of AddDeviceAccount's accounts.
  std::string DeviceClient() const { return "public-" + id_; }

  void AddDeviceAccount(const std::string& name) {
    const std::string client = DeviceClient();
    idp_->RegisterClient(client);
    RunResult r = Run({"account", "add", name, "--provider", "microsoft", "--client-id", client,
                       "--tenant", "organizations", "--authority", idp_->url()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Authorize(name);
  }

  void Authorize(const std::string& name) {
    std::vector<std::string> args = {"account", "authorize", name, "--flow", "device"};
    if (!log_level_.empty()) args.insert(args.begin(), {"--log-level", log_level_});
    Child child(args, env_);
    std::string line;
    for (int i = 0; i < 20 && line.find("enter the code ") == std::string::npos; ++i) {
      line = child.ReadLine(15000);
      logs_ += line + "\n";
    }
    const std::size_t at = line.find("enter the code ");
    ASSERT_NE(at, std::string::npos) << line << child.Wait().err;
    const std::string code = line.substr(at + 15, line.find(' ', at + 15) - at - 15);
    idp_->Control("device/approve", json::object{{"user_code", code}, {"user", user_}});
    RunResult done = child.Wait();
    logs_ += done.out + done.err;
    ASSERT_EQ(done.exit_code, 0) << done.err;
  }

  // The mailbox "Support" on Dovecot (IMAPS or POP3S), at `port` when given
  // (a proxy), with a short timeout so that a stalled connection costs seconds.
  void AddMailbox(const std::string& protocol, int port, const std::string& account,
                  std::vector<std::string> extra = {}) {
    const bool imap = protocol == "imap";
    direct_port_ = imap ? Env().imaps_port : Env().pop3s_port;
    std::vector<std::string> args = {
        "mailbox",      "add",       "Support",
        "--protocol",   protocol,    "--host",
        Env().tls_name, "--port",    std::to_string(port ? port : direct_port_),
        "--encryption", "tls",       "--user",
        user_,          "--account", account,
        "--timeout",    "4"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  void SetMailboxPort(int port) {
    RunResult r = Run({"mailbox", "edit", "Support", "--port", std::to_string(port)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  void Deliver(int n, std::size_t attachment_every_third = 30000) {
    for (int i = 0; i < n; ++i) {
      const int k = static_cast<int>(sent_.size());
      sent_.push_back(MakeMessage("rel-" + id_, k, k % 3 == 0 ? attachment_every_third : 0));
      Status s = DeliverByLmtp(user_, sent_.back().raw);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }

  // Message-ID -> how many times it is stored, over every conversation.
  std::map<std::string, int> StoredCounts() {
    std::map<std::string, int> out;
    json::value list = Json({"conversation", "list", "--limit", "1000000"});
    if (!list.is_array()) return out;
    for (const auto& c : list.as_array()) {
      json::value shown = Json({"conversation", "show", std::to_string(c.at("id").as_int64())});
      if (!shown.is_object()) continue;
      for (const auto& m : shown.at("messages").as_array()) {
        ++out[std::string(m.at("message_id").as_string())];
      }
    }
    return out;
  }

  // Messages left in the folder on the server, asked by an observer: a data
  // directory of its own (on the ordinary disk) with an app-only account and
  // the mailbox straight on Dovecot, never checked, only tested.
  int ServerCount() { return ServerCount(user_); }
  int ServerCount(const std::string& user) {
    const std::string obs = dir_ + "/observer-" + user.substr(0, user.find('@'));
    const std::map<std::string, std::string> env = {{"MAILGATE_DATA_DIR", obs},
                                                    {"MAILGATE_CA_FILE", Env().ca}};
    if (!fs::exists(obs)) {
      fs::create_directories(obs);
      const std::string app = "obs-" + std::to_string(observers_++) + "-" + id_;
      const std::string secret = "obs-secret-" + id_;
      idp_->RegisterClient(app, secret, user);
      { std::ofstream(obs + "/secret.txt") << secret << "\n"; }
      for (std::vector<std::string> args :
           {std::vector<std::string>{"account", "add", "obs", "--provider", "microsoft",
                                     "--client-id", app, "--tenant", "obs-" + id_ + ".test",
                                     "--authority", idp_->url(), "--client-secret-file",
                                     obs + "/secret.txt"},
            std::vector<std::string>{"account", "authorize", "obs", "--flow", "client-credentials"},
            std::vector<std::string>{"mailbox", "add", "Observed", "--protocol", "imap", "--host",
                                     Env().tls_name, "--port", std::to_string(Env().imaps_port),
                                     "--encryption", "tls", "--user", user, "--account", "obs"}}) {
        RunResult r = RunMailgate(args, env);
        EXPECT_EQ(r.exit_code, 0) << r.err;
      }
    }
    RunResult r = RunMailgate({"mailbox", "test", "Observed"}, env);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string key = "Folder INBOX: ";
    const std::size_t at = r.out.find(key);
    if (at != std::string::npos) return std::stoi(r.out.substr(at + key.size()));
    ADD_FAILURE() << "no message count in: " << r.out;
    return -1;
  }

  // Every delivered message stored exactly once, nothing else stored, and
  // nothing in quarantine.
  void ExpectEachStoredOnce() {
    const auto stored = StoredCounts();
    int missing = 0, doubled = 0;
    for (const Sent& m : sent_) {
      auto it = stored.find(m.message_id);
      const int n = it == stored.end() ? 0 : it->second;
      if (n == 0) ++missing;
      if (n > 1) ++doubled;
      EXPECT_EQ(n, 1) << m.message_id;
    }
    EXPECT_EQ(missing, 0);
    EXPECT_EQ(doubled, 0);
    EXPECT_EQ(stored.size(), sent_.size());
    json::value q = Json({"quarantine", "list"});
    ASSERT_TRUE(q.is_array());
    EXPECT_TRUE(q.as_array().empty()) << json::serialize(q);
  }

  // `check --process` until one succeeds (a clean run; another test's
  // injected IdP failure may cost one).
  void CleanRun() {
    RunResult r;
    for (int i = 0; i < 3; ++i) {
      r = Run({"check", "--process"});
      if (r.exit_code == 0) return;
    }
    FAIL() << "no clean run: " << r.out << r.err;
  }

  // `check --process` `runs` times (through the proxy), delivering `per_run`
  // new messages before each; counts the exit codes.
  void FaultyRuns(int runs, int per_run, std::map<std::string, int>& exits) {
    for (int i = 0; i < runs; ++i) {
      Deliver(per_run);
      RunResult r = Run({"check", "--process"});
      ++exits[std::to_string(r.exit_code)];
      // A crash is never an acceptable answer to a network fault.
      ASSERT_LT(r.exit_code, 128) << "run " << i << " died: " << r.out << r.err;
    }
  }

  uint64_t Seed() {
    const int fixed = EnvInt("MAILGATE_RELIABILITY_SEED", 0);
    const uint64_t seed =
        fixed ? static_cast<uint64_t>(fixed)
              : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count() %
                                      1000000007);
    RecordProperty("seed", std::to_string(seed));
    std::printf("proxy seed %llu (MAILGATE_RELIABILITY_SEED=%llu repeats it)\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
    return seed;
  }

  std::unique_ptr<Idp> idp_;
  std::string id_, dir_, data_, user_, secret_, logs_, log_level_;
  std::string mounted_;
  std::map<std::string, std::string> env_;
  std::vector<Sent> sent_;
  int direct_port_ = 0;
  int observers_ = 0;
};

// --- Fault injection --------------------------------------------------------

using FaultInjectionTest = ReliabilityTest;

TEST_F(FaultInjectionTest, ImapThroughResetsTruncationsAndStallsStoresEveryMessageOnce) {
  AddAppAccount();
  FaultProxy proxy("127.0.0.1:" + std::to_string(Env().imaps_port), dir_, 0.6, Seed());
  ASSERT_GT(proxy.port(), 0) << "mailgate-faultproxy did not start";
  AddMailbox("imap", proxy.port(), "app");
  Deliver(6);
  const int runs = EnvInt("MAILGATE_RELIABILITY_RUNS", 30);
  std::map<std::string, int> exits;
  FaultyRuns(runs, 2, exits);
  // Then clean: straight to Dovecot.
  SetMailboxPort(direct_port_);
  CleanRun();
  ExpectEachStoredOnce();
  EXPECT_EQ(ServerCount(), 0);
  const auto faults = proxy.FaultCounts();
  for (const auto& [k, v] : faults) RecordProperty("fault_" + k, v);
  for (const auto& [k, v] : exits) RecordProperty("exit_" + k, v);
  std::printf("%d runs, %zu messages; faults:", runs, sent_.size());
  for (const auto& [k, v] : faults) std::printf(" %s %d", k.c_str(), v);
  std::printf("; exit codes:");
  for (const auto& [k, v] : exits) std::printf(" %s x%d", k.c_str(), v);
  std::printf("\n");
  // The proxy really got in the way.
  EXPECT_GT(faults.size(), 0u);
}

TEST_F(FaultInjectionTest, Pop3ThroughResetsTruncationsAndStallsStoresEveryMessageOnce) {
  AddAppAccount();
  FaultProxy proxy("127.0.0.1:" + std::to_string(Env().pop3s_port), dir_, 0.6, Seed());
  ASSERT_GT(proxy.port(), 0) << "mailgate-faultproxy did not start";
  AddMailbox("pop3", proxy.port(), "app");
  Deliver(6);
  const int runs = std::max(5, EnvInt("MAILGATE_RELIABILITY_RUNS", 30) / 2);
  std::map<std::string, int> exits;
  FaultyRuns(runs, 2, exits);
  SetMailboxPort(direct_port_);
  CleanRun();
  ExpectEachStoredOnce();
  EXPECT_EQ(ServerCount(), 0);
  const auto faults = proxy.FaultCounts();
  std::printf("%d runs, %zu messages; faults:", runs, sent_.size());
  for (const auto& [k, v] : faults) std::printf(" %s %d", k.c_str(), v);
  std::printf("\n");
  EXPECT_GT(faults.size(), 0u);
}

// Outgoing mail: `mailgate send` through the proxy to Postfix. Afterwards
// (failed ones retried cleanly) every message is sent and delivered; a
// duplicate is only possible for a message whose connection died after the
// final "." and before the server's answer (RFC 5321 §6.1 leaves that
// ambiguous), so there are at most as many as messages that needed a retry.
TEST_F(FaultInjectionTest, SendThroughFaultsDeliversEveryMessageOrSaysItFailed) {
  ASSERT_TRUE(Env().postfix) << "Postfix is not running (testenv runs it as root)";
  const std::string password = "sender-password-" + id_;
  ASSERT_TRUE(AddPasswordUser(user_, password).ok());
  const std::string rcpt = UniqueUser("rcpt");
  ASSERT_EQ(ServerCount(rcpt), 0);
  FaultProxy proxy("127.0.0.1:" + std::to_string(Env().submission_port), dir_, 0.6, Seed(), 2500);
  ASSERT_GT(proxy.port(), 0) << "mailgate-faultproxy did not start";
  { std::ofstream(dir_ + "/pw.txt") << password << "\n"; }
  RunResult r = Run({"transport", "add", "Out", "--host", Env().tls_name, "--port",
                     std::to_string(proxy.port()), "--encryption", "starttls", "--user", user_,
                     "--password-file", dir_ + "/pw.txt", "--timeout", "4"});
  fs::remove(dir_ + "/pw.txt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const int n = std::max(5, EnvInt("MAILGATE_RELIABILITY_RUNS", 30) / 2);
  std::map<std::string, int> exits;
  for (int i = 0; i < n; ++i) {
    r = Run({"send", "--from", user_, "--to", rcpt, "--subject", "Fault " + std::to_string(i),
             "--body", "Message " + std::to_string(i) + " of the send test.\n.dot line\n"});
    ++exits[std::to_string(r.exit_code)];
    ASSERT_LT(r.exit_code, 128) << r.out << r.err;
    // Exit 0 means sent or queued for another attempt; 1 means failed, said so.
    if (r.exit_code != 0) {
      EXPECT_NE(r.err.find("failed"), std::string::npos) << r.err;
    }
  }
  // The rest, cleanly: straight to Postfix, every unsent message retried.
  r = Run({"transport", "edit", "Out", "--port", std::to_string(Env().submission_port)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::value list = Json({"outgoing", "list"});
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.as_array().size(), static_cast<std::size_t>(n));
  int retried = 0;
  for (const auto& m : list.as_array()) {
    if (m.at("state").as_string() == "sent") continue;
    ++retried;
    r = Run({"outgoing", "retry", std::to_string(m.at("id").as_int64())});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  r = Run({"send", "--from", user_, "--to", rcpt, "--subject", "Last", "--body", "clean"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  list = Json({"outgoing", "list"});
  ASSERT_TRUE(list.is_array());
  int needed_retry = 0;
  for (const auto& m : list.as_array()) {
    EXPECT_EQ(m.at("state").as_string(), "sent") << json::serialize(m);
    if (m.at("attempts").as_int64() > 1) ++needed_retry;
  }
  // Postfix delivers in the background: wait for all of them.
  const int want = n + 1;
  int got = 0;
  for (int i = 0; i < 120 && got < want; ++i) {
    got = ServerCount(rcpt);
    if (got < want) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // and nothing more comes
  got = ServerCount(rcpt);
  EXPECT_GE(got, want) << "messages reported sent were not delivered";
  EXPECT_LE(got - want, needed_retry) << "duplicates beyond the ambiguous retries";
  const auto faults = proxy.FaultCounts();
  std::printf(
      "%d sends, %d retried cleanly, %d needed more than one attempt, %d delivered for %d;"
      " faults:",
      n, retried, needed_retry, got, want);
  for (const auto& [k, v] : faults) std::printf(" %s %d", k.c_str(), v);
  std::printf("; exit codes:");
  for (const auto& [k, v] : exits) std::printf(" %s x%d", k.c_str(), v);
  std::printf("\n");
  EXPECT_GT(faults.size(), 0u);
}

// --- Full disk ----------------------------------------------------------------

using FullDiskTest = ReliabilityTest;

TEST_F(FullDiskTest, CheckStopsWithAClearErrorDeletesNothingUnstoredAndResumesWithSpace) {
  ASSERT_EQ(::geteuid(), 0u)
      << "the full-disk test mounts a tmpfs and must run as root (as CI does); run it as root";
  ASSERT_EQ(::mount("tmpfs", data_.c_str(), "tmpfs", 0, "size=8m"), 0)
      << "mount tmpfs on " << data_ << ": " << std::strerror(errno);
  mounted_ = data_;
  AddAppAccount();
  AddMailbox("imap", 0, "app");
  // About 13 MB of mail for 8 MB of disk.
  for (int i = 0; i < 12; ++i) {
    const int k = static_cast<int>(sent_.size());
    sent_.push_back(MakeMessage("disk-" + id_, k, 800 * 1024));
    Status s = DeliverByLmtp(user_, sent_.back().raw);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  RunResult r = Run({"check", "--process"});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_LT(r.exit_code, 128) << r.out << r.err;
  const std::string said = Lower(r.out + r.err);
  EXPECT_TRUE(said.find("no space left") != std::string::npos ||
              said.find("disk is full") != std::string::npos)
      << r.out << r.err;
  for (std::size_t at = said.find("full"); at != std::string::npos;) {
    const std::size_t begin =
        said.rfind('\n', at) == std::string::npos ? 0 : said.rfind('\n', at) + 1;
    std::printf("full disk said: %s\n",
                (r.out + r.err).substr(begin, said.find('\n', at) - begin).c_str());
    break;
  }
  // The disk filled up before the mail was all in. (That nothing left the
  // server unstored shows at the end: every message stored once.)
  const int on_server = ServerCount();
  EXPECT_GT(on_server, 0) << "the disk never filled up";

  // Space returns: the next run resumes and finishes.
  ASSERT_EQ(::mount("tmpfs", data_.c_str(), "tmpfs", MS_REMOUNT, "size=96m"), 0)
      << std::strerror(errno);
  CleanRun();
  ExpectEachStoredOnce();
  EXPECT_EQ(ServerCount(), 0);
}

// --- Identity provider faults ---------------------------------------------------

using IdpFaultsTest = ReliabilityTest;

// The failures are scoped to this test's client, so other suites sharing the
// IdP run meanwhile.
TEST_F(IdpFaultsTest, TransientFailuresBackOffAndLoseNothingARevokedGrantSaysSo) {
  AddDeviceAccount("work");
  AddMailbox("imap", 0, "work");
  Deliver(3);
  CleanRun();
  const int rounds = std::max(3, EnvInt("MAILGATE_RELIABILITY_RUNS", 30) / 6);
  for (int round = 0; round < rounds; ++round) {
    Deliver(2);
    // The access token dies at the IdP; the refresh that follows meets the fault.
    idp_->Control("expire", json::object{{"user", user_}});
    const bool hang = round % 2 == 1;
    idp_->Control("fail", hang ? json::object{{"count", 2},
                                              {"mode", "hang"},
                                              {"endpoint", "token"},
                                              {"hang_seconds", 2},
                                              {"client_id", DeviceClient()}}
                               : json::object{{"count", 1000},
                                              {"mode", "503"},
                                              {"endpoint", "token"},
                                              {"retry_after", 1},
                                              {"client_id", DeviceClient()}});
    RunResult r = Run({"check"});
    idp_->Control("fail", json::object{{"count", 0}, {"client_id", DeviceClient()}});
    std::printf("round %d (%s): check exit %d\n", round, hang ? "hang" : "503", r.exit_code);
    ASSERT_LT(r.exit_code, 128) << r.out << r.err;
    if (r.exit_code != 0) {
      // Recorded on the mailbox, with a delay before the next due check.
      json::value m = Json({"mailbox", "show", "Support"});
      ASSERT_TRUE(m.is_object());
      const json::value& state = m.at("state");
      EXPECT_GE(state.at("consecutive_failures").as_int64(), 1) << json::serialize(m);
      EXPECT_FALSE(state.at("last_error").as_string().empty());
      EXPECT_GT(state.at("delayed_until").as_int64(), 0) << json::serialize(m);
      json::value a = Json({"account", "show", "work"});
      ASSERT_TRUE(a.is_object());
      EXPECT_NE(a.at("status").as_string(), "reauthorization_required")
          << "a transient failure must not ask the user to sign in again: " << json::serialize(a);
    } else if (!hang) {
      ADD_FAILURE() << "check succeeded while every token request failed: " << r.out;
    }
    CleanRun();
    json::value m = Json({"mailbox", "show", "Support"});
    ASSERT_TRUE(m.is_object());
    EXPECT_EQ(m.at("state").at("consecutive_failures").as_int64(), 0);
  }
  ExpectEachStoredOnce();
  EXPECT_EQ(ServerCount(), 0);

  // A revoked grant: the account and the mailbox say so; mail waits on the server.
  Deliver(2);
  idp_->Control("revoke", json::object{{"user", user_}, {"reason", "password_change"}});
  RunResult r = Run({"check", "--process"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  json::value a = Json({"account", "show", "work"});
  ASSERT_TRUE(a.is_object());
  EXPECT_EQ(a.at("status").as_string(), "reauthorization_required");
  json::value m = Json({"mailbox", "show", "Support"});
  ASSERT_TRUE(m.is_object());
  EXPECT_NE(std::string(m.at("state").at("last_error").as_string()).find("needs re-authorization"),
            std::string::npos)
      << json::serialize(m);
  EXPECT_EQ(ServerCount(), 2);
  Authorize("work");
  CleanRun();
  ExpectEachStoredOnce();
}

// --- Secrets --------------------------------------------------------------------

using SecretsTest = ReliabilityTest;

// Long runs of URL-safe characters with at least one '-' or '_': the shape of
// every token the IdP issues (token_urlsafe: access tokens 1,500 characters,
// refresh tokens 900, each with a '-' or '_' all but certainly). Nothing
// Mailgate stores legitimately looks like that: hashes are 64 hex characters,
// base64 bodies come in 76-character lines, and sealed secrets are standard
// base64, which has no '-' or '_' (its runs without '+' and '/' do pass 200
// characters now and then, so length alone is not the shape).
std::vector<std::string> TokenShapedRuns(const std::string& text, std::size_t min = 200) {
  std::vector<std::string> out;
  std::size_t run = 0;
  bool url_safe_mark = false;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const char c = i < text.size() ? text[i] : '\0';
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
      ++run;
      url_safe_mark = url_safe_mark || c == '-' || c == '_';
      continue;
    }
    if (run >= min && url_safe_mark) {
      out.push_back(text.substr(i - run, 24) + "... (" + std::to_string(run) + ")");
    }
    run = 0;
    url_safe_mark = false;
  }
  return out;
}

// The whole suite's paths once more at --log-level trace, then a search of
// everything mailgate said or wrote.
TEST_F(SecretsTest, NoTokenSecretOrPasswordInAnyOutputLogTraceSpoolOrColumn) {
  log_level_ = "trace";
  AddAppAccount();
  AddDeviceAccount("work");
  const std::string password = "mailbox-password-" + id_ + "-VALUE";
  ASSERT_TRUE(AddPasswordUser(user_, password).ok());

  // IMAP with the app's token, through faults.
  FaultProxy proxy("127.0.0.1:" + std::to_string(Env().imaps_port), dir_, 0.7, Seed());
  ASSERT_GT(proxy.port(), 0);
  AddMailbox("imap", proxy.port(), "app");
  for (int i = 0; i < 6; ++i) {
    Deliver(2);
    Run({"check", "--process"});
  }
  SetMailboxPort(direct_port_);
  CleanRun();
  // POP3 with the delegated grant, and a refresh after the IdP expired it.
  { RunResult r = Run({"mailbox", "remove", "Support"}); }
  AddMailbox("pop3", 0, "work");
  Deliver(2);
  idp_->Control("expire", json::object{{"user", user_}});
  CleanRun();
  // A password mailbox, refused once (wrong password), then right.
  { std::ofstream(dir_ + "/pw.txt") << "wrong-" << password << "\n"; }
  RunResult r = Run({"mailbox", "add", "Pw", "--protocol", "imap", "--host", Env().tls_name,
                     "--port", std::to_string(Env().imaps_port), "--encryption", "tls", "--user",
                     user_, "--password-file", dir_ + "/pw.txt", "--timeout", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Run({"mailbox", "test", "Pw"});
  { std::ofstream(dir_ + "/pw.txt") << password << "\n"; }
  r = Run({"mailbox", "edit", "Pw", "--password-file", dir_ + "/pw.txt"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  fs::remove(dir_ + "/pw.txt");
  Deliver(1);
  CleanRun();
  // SMTP with the password, and a refused one.
  if (Env().postfix) {
    { std::ofstream(dir_ + "/pw.txt") << password << "\n"; }
    r = Run({"transport", "add", "Out", "--host", Env().tls_name, "--port",
             std::to_string(Env().submission_port), "--encryption", "starttls", "--user", user_,
             "--password-file", dir_ + "/pw.txt"});
    fs::remove(dir_ + "/pw.txt");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    Run({"transport", "test", "Out", "--to", user_});
  }
  // The token endpoint failing: its errors go to the logs too.
  idp_->Control("expire", json::object{{"user", user_}});
  idp_->Control(
      "fail",
      json::object{
          {"count", 3}, {"mode", "503"}, {"endpoint", "token"}, {"client_id", DeviceClient()}});
  Run({"check"});
  idp_->Control("fail", json::object{{"count", 0}, {"client_id", DeviceClient()}});
  // A revoked grant.
  idp_->Control("revoke", json::object{{"user", user_}, {"reason", "password_change"}});
  Run({"check"});
  // Every run's log (the run_log table as the CLI shows it).
  json::value runs = Json({"run", "list", "--limit", "1000"});
  ASSERT_TRUE(runs.is_array());
  for (const auto& run : runs.as_array()) {
    Run({"run", "show", std::to_string(run.at("id").as_int64())});
  }
  Run({"account", "list"});
  Run({"account", "show", "work"});
  Run({"mailbox", "list"});

  // The tokens it holds now, from the one command whose job is to print one
  // (its output is not searched).
  std::vector<std::string> tokens;
  for (const char* account : {"app"}) {
    RunResult t = RunMailgate({"account", "token", account, "--print"}, env_);
    ASSERT_EQ(t.exit_code, 0) << t.err;
    std::string tok = t.out.substr(0, t.out.find_first_of("\r\n"));
    ASSERT_GT(tok.size(), 100u);
    // The search below would see it: it is token-shaped.
    ASSERT_FALSE(TokenShapedRuns(t.out).empty()) << "the token-shape search misses a real token";
    tokens.push_back(tok);
  }

  const std::string data = ReadTree(data_);
  const std::map<std::string, const std::string*> places = {{"output and logs", &logs_},
                                                            {"data directory", &data}};
  for (const auto& [where, text] : places) {
    EXPECT_EQ(text->find(secret_), std::string::npos) << "client secret in the " << where;
    EXPECT_EQ(text->find(password), std::string::npos) << "password in the " << where;
    for (const std::string& tok : tokens) {
      EXPECT_EQ(text->find(tok), std::string::npos) << "access token in the " << where;
    }
    // Any token ever issued (refresh tokens are "0.A" + 897 characters).
    for (const std::string& run : TokenShapedRuns(*text)) {
      ADD_FAILURE() << "token-shaped text in the " << where << ": " << run;
    }
  }
  // The trace really was on: protocol lines are in the output.
  EXPECT_NE(logs_.find("AUTHENTICATE"), std::string::npos) << "no IMAP trace in the output";
}

}  // namespace
}  // namespace mailgate::testing
