// End-to-end tests of connected accounts: the real `mailgate` binary (and
// the token manager in-process where many threads are needed) against the
// test identity provider and PostgreSQL of tests/servers/testenv.
//
// The IdP is shared with other suites: every test registers its own client
// and uses its own users and tenants, and counts only its own users' stats.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "oauth/clock.h"
#include "oauth/token_manager.h"
#include "store/store.h"
#include "store/vault.h"
#include "tests/accounts/harness.h"

namespace mailgate::testing {
namespace {

namespace json = boost::json;

class AccountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = RequireEnv("MAILGATE_TEST_IDP_URL");
    ASSERT_FALSE(url.empty());
    idp_ = std::make_unique<Idp>(url);
    id_ = Unique();
    dir_ = (std::filesystem::temp_directory_path() / ("mailgate-accounts-" + id_)).string();
    env_ = {{"MAILGATE_DATA_DIR", dir_}};
    client_ = "client-" + id_;
    idp_->RegisterClient(client_);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  // Runs mailgate; everything it prints is kept for the plaintext checks,
  // except what --print is asked to print.
  RunResult Run(std::vector<std::string> args) {
    if (!db_.empty()) {
      args.push_back("--db");
      args.push_back(db_);
    }
    RunResult r = RunMailgate(args, env_);
    const bool print = std::find(args.begin(), args.end(), "--print") != args.end();
    logs_ += (print ? "" : r.out) + r.err;
    return r;
  }

  std::string User(const std::string& tag) { return tag + "-" + id_ + "@example.test"; }

  void AddMicrosoft(const std::string& name, const std::string& tenant,
                    const std::string& authority = "", std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"account",
                                     "add",
                                     name,
                                     "--provider",
                                     "microsoft",
                                     "--client-id",
                                     client_,
                                     "--tenant",
                                     tenant,
                                     "--authority",
                                     authority.empty() ? idp_->url() : authority};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A Microsoft account of `app` with `secret`, given through a file that is
  // removed again.
  void AddWithSecret(const std::string& name, const std::string& app, const std::string& secret,
                     const std::string& tenant) {
    std::filesystem::create_directories(dir_);
    { std::ofstream(dir_ + "/secret.txt") << secret << "\n"; }
    RunResult r =
        Run({"account", "add", name, "--provider", "microsoft", "--client-id", app, "--tenant",
             tenant, "--authority", idp_->url(), "--client-secret-file", dir_ + "/secret.txt"});
    std::filesystem::remove(dir_ + "/secret.txt");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // The browser flow, with the test acting as the browser: read the URL the
  // CLI prints on its own line, follow the IdP's redirect to the loopback
  // listener.
  void BrowserAuthorize(const std::string& name, const std::string& user) {
    std::vector<std::string> args = {"account",   "authorize",    name, "--flow",    "browser",
                                     "--no-open", "--login-hint", user, "--timeout", "60"};
    if (!db_.empty()) {
      args.push_back("--db");
      args.push_back(db_);
    }
    Child child(args, env_);
    std::string url;
    for (int i = 0; i < 5 && url.empty(); ++i) {
      std::string line = child.ReadLine(10000);
      if (line.starts_with("http://") || line.starts_with("https://")) url = line;
    }
    ASSERT_FALSE(url.empty()) << "no URL line; stderr: " << child.Wait().err;
    EXPECT_NE(url.find("code_challenge_method=S256"), std::string::npos);
    http::Request req;
    req.url = url;
    auto redirect = idp_->http().Send(req);
    ASSERT_TRUE(redirect.ok()) << redirect.status().ToString();
    ASSERT_EQ(redirect->status, 302) << redirect->body;
    const std::string location(redirect->Header("location"));
    ASSERT_TRUE(location.starts_with("http://127.0.0.1:")) << location;
    req.url = location;
    auto landed = idp_->http().Send(req);
    ASSERT_TRUE(landed.ok()) << landed.status().ToString();
    EXPECT_EQ(landed->status, 200);
    RunResult r = child.Wait();
    logs_ += r.out + r.err;
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("is authorized (browser flow)"), std::string::npos);
  }

  json::object Show(const std::string& name) {
    RunResult r = Run({"account", "show", name, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto v = json::parse(r.out);
    return v.is_object() ? v.as_object() : json::object();
  }

  std::string Token(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"account", "token", name, "--print"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string t = r.out;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t;
  }

  // The store as the CLI sees it, opened in this process.
  std::unique_ptr<store::Store> OpenStore() {
    auto vault = store::OpenVault(store::KeySource{dir_, ""});
    EXPECT_TRUE(vault.ok()) << vault.status().ToString();
    auto s = store::OpenStoreUrl(db_, dir_ + "/mailgate.db",
                                 std::shared_ptr<const store::Vault>(std::move(*vault)));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // A fresh PostgreSQL schema for this test; sets db_ so every run uses it.
  void UsePostgres() {
    const std::string url = RequireEnv("MAILGATE_TEST_PG_URL");
    ASSERT_FALSE(url.empty());
    const std::string schema = "acct_" + id_;
    PGconn* c = PQconnectdb(url.c_str());
    PGresult* r = PQexec(c, ("CREATE SCHEMA " + schema).c_str());
    ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    db_ = url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
          schema;
  }

  std::unique_ptr<Idp> idp_;
  std::string id_, dir_, client_, db_, logs_;
  std::map<std::string, std::string> env_;
};

std::string Str(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

TEST_F(AccountTest, BrowserFlowWithATenantDomainEndToEnd) {
  const std::string tenant = "contoso-" + id_ + ".test", user = User("browser");
  AddMicrosoft("work", tenant);
  BrowserAuthorize("work", user);
  auto shown = Show("work");
  EXPECT_EQ(Str(shown, "status"), "ok");
  EXPECT_EQ(Str(shown, "flow"), "loopback");  // the CLI's browser flow: a public client
  EXPECT_EQ(Str(shown, "token_endpoint"), idp_->url() + "/" + tenant + "/oauth2/v2.0/token");
  EXPECT_EQ(Str(shown, "refresh_token"), "stored");
  const std::string token = Token("work");
  auto info = idp_->Introspect(token);
  EXPECT_TRUE(info.as_object().at("active").as_bool());
  EXPECT_EQ(info.as_object().at("username").as_string(), user);
  EXPECT_EQ(info.as_object().at("tid").as_string(), tenant);
  // The cached token is served without asking the provider again.
  const int64_t issued = idp_->UserStat(user, "tokens_issued");
  EXPECT_EQ(Token("work"), token);
  EXPECT_EQ(idp_->UserStat(user, "tokens_issued"), issued);
  // A forced refresh goes to the same tenant and authority.
  const std::string refreshed = Token("work", {"--force"});
  EXPECT_NE(refreshed, token);
  EXPECT_EQ(idp_->Introspect(refreshed).as_object().at("tid").as_string(), tenant);
  EXPECT_EQ(idp_->UserStat(user, "refreshes"), 1);
}

TEST_F(AccountTest, DeviceFlowWithACustomAuthorityAndATenantGuid) {
  char tail[16];
  std::snprintf(tail, sizeof tail, "%012llx",
                static_cast<unsigned long long>(std::hash<std::string>{}(id_)&0xffffffffffffULL));
  const std::string tenant_guid = std::string("6f1c2a3b-0000-4000-8000-") + tail;
  const std::string authority = idp_->url() + "/sovereign/prefix-" + id_;
  const std::string user = User("device");
  AddMicrosoft("dev", tenant_guid, authority);
  Child child({"account", "authorize", "dev", "--flow", "device"}, env_);
  std::string line = child.ReadLine(15000);
  ASSERT_NE(line.find("enter the code "), std::string::npos) << line << child.Wait().err;
  const size_t at = line.find("enter the code ") + 15;
  const std::string user_code = line.substr(at, line.find(' ', at) - at);
  EXPECT_NE(line.find(idp_->url() + "/devicelogin"), std::string::npos);
  idp_->Control("device/approve", json::object{{"user_code", user_code}, {"user", user}});
  RunResult r = child.Wait();
  logs_ += r.out + r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto shown = Show("dev");
  EXPECT_EQ(Str(shown, "status"), "ok");
  EXPECT_EQ(Str(shown, "token_endpoint"), authority + "/" + tenant_guid + "/oauth2/v2.0/token");
  const std::string token = Token("dev", {"--force"});
  auto info = idp_->Introspect(token).as_object();
  EXPECT_TRUE(info.at("active").as_bool());
  EXPECT_EQ(info.at("username").as_string(), user);
  EXPECT_EQ(info.at("tid").as_string(), tenant_guid);
}

TEST_F(AccountTest, ClientCredentialsForAppOnlyAccess) {
  const std::string app = "app-" + id_, mailbox = User("shared");
  const std::string secret = "app-secret-" + id_ + "-VALUE";
  idp_->RegisterClient(app, secret, mailbox);
  AddWithSecret("app", app, secret, "fabrikam-" + id_ + ".test");
  RunResult r = Run({"account", "authorize", "app", "--flow", "client-credentials"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto shown = Show("app");
  EXPECT_EQ(Str(shown, "client_secret"), "set");
  EXPECT_EQ(Str(shown, "refresh_token"), "none");
  EXPECT_EQ(shown.at("scopes").as_array().at(0).as_string(),
            "https://outlook.office365.com/.default");
  const std::string token = Token("app");
  auto info = idp_->Introspect(token).as_object();
  EXPECT_TRUE(info.at("active").as_bool());
  EXPECT_TRUE(info.at("app_only").as_bool());
  EXPECT_EQ(info.at("username").as_string(), mailbox);
  // Near expiry (a margin longer than the lifetime) a new app token is requested.
  const std::string again = Token("app", {"--refresh-margin", "100000"});
  EXPECT_NE(again, token);
  EXPECT_EQ(logs_.find(secret), std::string::npos);
}

TEST_F(AccountTest, GenericAndGoogleProvidersUseTheEndpointsGiven) {
  const std::string base = idp_->url() + "/generic-" + id_ + "/oauth2/v2.0/";
  RunResult r =
      Run({"account", "add", "gen", "--provider", "generic", "--client-id", client_, "--auth-url",
           base + "authorize", "--token-url", base + "token", "--scope", "offline_access",
           "--scope", "https://outlook.office.com/IMAP.AccessAsUser.All"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  BrowserAuthorize("gen", User("generic"));
  EXPECT_EQ(Str(Show("gen"), "token_endpoint"), base + "token");
  const std::string token = Token("gen", {"--force"});
  auto info = idp_->Introspect(token).as_object();
  EXPECT_TRUE(info.at("active").as_bool());
  EXPECT_EQ(info.at("scope").as_string(),
            "offline_access https://outlook.office.com/IMAP.AccessAsUser.All");
  EXPECT_EQ(idp_->UserStat(User("generic"), "refreshes"), 1);

  // Google-compatible endpoints (the IdP stands in for Google here).
  const std::string g = idp_->url() + "/google-" + id_ + "/oauth2/v2.0/";
  r = Run({"account", "add", "gmail", "--provider", "google", "--client-id", client_, "--auth-url",
           g + "authorize", "--token-url", g + "token", "--scope", "offline_access", "--scope",
           "https://mail.google.com/"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  BrowserAuthorize("gmail", User("google"));
  EXPECT_FALSE(Token("gmail", {"--force"}).empty());
  EXPECT_EQ(idp_->UserStat(User("google"), "refreshes"), 1);
  // Plain http to a remote host is refused for every provider.
  r = Run({"account", "add", "bad", "--provider", "generic", "--client-id", "x", "--token-url",
           "http://idp.example.com/token", "--scope", "s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("loopback"), std::string::npos) << r.err;
}

TEST_F(AccountTest, RotatedRefreshTokenIsAlwaysUsedAndNeverReused) {
  const std::string user = User("rotation");
  AddMicrosoft("work", "rot-" + id_);
  BrowserAuthorize("work", user);
  idp_->Control("settings", json::object{{"reuse_policy", "reject"}});
  std::set<std::string> tokens;
  for (int i = 0; i < 4; ++i) tokens.insert(Token("work", {"--force"}));
  idp_->Control("settings", json::object{{"reuse_policy", "allow"}});
  EXPECT_EQ(tokens.size(), 4u);
  EXPECT_EQ(idp_->UserStat(user, "refreshes"), 4);
  EXPECT_EQ(idp_->UserStat(user, "failed_reuse_attempts"), 0);
  EXPECT_EQ(Str(Show("work"), "status"), "ok");
}

TEST_F(AccountTest, RevokedGrantRequiresReauthorizationAndStopsRequests) {
  const std::string user = User("revoked");
  AddMicrosoft("work", "rev-" + id_);
  BrowserAuthorize("work", user);
  idp_->Control("revoke", json::object{{"user", user}});
  const int64_t requests_before = idp_->Stat("token_requests", "refresh_token");
  RunResult r = Run({"account", "token", "work", "--force"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("needs re-authorization"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("AADSTS70043"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("run `mailgate account authorize work`"), std::string::npos) << r.err;
  auto shown = Show("work");
  EXPECT_EQ(Str(shown, "status"), "reauthorization_required");
  EXPECT_EQ(Str(shown, "last_error_code"), "AADSTS70043");
  ASSERT_EQ(shown.at("alerts").as_array().size(), 1u);
  RunResult human = Run({"account", "show", "work"});
  EXPECT_NE(human.out.find("AADSTS70043"), std::string::npos);
  EXPECT_NE(human.out.find("mailgate account authorize work"), std::string::npos);
  // No further requests reach the provider, however often we ask.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Run({"account", "token", "work", "--force"}).exit_code, 1);
  EXPECT_EQ(idp_->Stat("token_requests", "refresh_token"), requests_before + 1);
  // Authorizing again heals the account and resolves the alert.
  BrowserAuthorize("work", user);
  shown = Show("work");
  EXPECT_EQ(Str(shown, "status"), "ok");
  EXPECT_TRUE(shown.at("alerts").as_array().empty());
}

TEST_F(AccountTest, ExpiredRefreshTokenShowsAadsts700082) {
  const std::string user = User("expired");
  AddMicrosoft("work", "exp-" + id_);
  BrowserAuthorize("work", user);
  idp_->Control("expire", json::object{{"user", user}, {"refresh_tokens", true}});
  RunResult r = Run({"account", "token", "work", "--force"});
  EXPECT_EQ(r.exit_code, 1);
  auto shown = Show("work");
  EXPECT_EQ(Str(shown, "status"), "reauthorization_required");
  EXPECT_EQ(Str(shown, "last_error_code"), "AADSTS700082");
  RunResult list = Run({"account", "list"});
  EXPECT_NE(list.out.find("reauthorization_required"), std::string::npos);
}

// 4 processes x 25 threads ask for the token of one account whose access
// token has just expired: exactly one refresh reaches the provider.
void HundredRequestsFromFourProcesses(const std::string& dir, const std::string& db, Idp& idp,
                                      const std::string& user) {
  auto vault = store::OpenVault(store::KeySource{dir, ""});
  ASSERT_TRUE(vault.ok());
  std::shared_ptr<const store::Vault> shared(std::move(*vault));
  {
    auto s = store::OpenStoreUrl(db, dir + "/mailgate.db", shared);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store::AccountUpdate u;
    u.access_expires_at = oauth::SystemClock().NowSeconds() - 1;
    ASSERT_TRUE((*s)->UpdateAccount("work", u).ok());
  }
  const int64_t before = idp.UserStat(user, "refreshes");
  // The children get ready (store open), then all start when the parent
  // closes the start pipe, so their requests really overlap.
  int start[2];
  ASSERT_EQ(::pipe(start), 0);
  std::vector<pid_t> children;
  for (int p = 0; p < 4; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(start[1]);
      auto s = store::OpenStoreUrl(db, dir + "/mailgate.db", shared);
      if (!s.ok()) ::_exit(2);
      auto http = http::NewCurlHttpClient({});
      oauth::TokenManager manager(**s, *http, oauth::SystemClock(), oauth::SystemRandom());
      std::vector<std::string> got(25);
      std::vector<std::thread> threads;
      std::mutex mu;
      std::condition_variable cv;
      bool go = false;
      for (int i = 0; i < 25; ++i) {
        threads.emplace_back([&, i] {
          {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return go; });
          }
          auto tok = manager.GetAccessToken("work");
          got[i] = tok.ok() ? *tok : "ERROR " + tok.status().ToString();
        });
      }
      char byte;
      (void)!::read(start[0], &byte, 1);  // returns at EOF: the parent said go
      {
        std::lock_guard lock(mu);
        go = true;
      }
      cv.notify_all();
      for (auto& th : threads) th.join();
      std::ofstream out(dir + "/tokens-" + std::to_string(p));
      for (const auto& g : got) out << g << "\n";
      ::_exit(0);
    }
    children.push_back(pid);
  }
  ::close(start[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::close(start[1]);
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(idp.UserStat(user, "refreshes"), before + 1);
  std::set<std::string> distinct;
  for (int p = 0; p < 4; ++p) {
    std::ifstream in(dir + "/tokens-" + std::to_string(p));
    int lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
      EXPECT_FALSE(line.starts_with("ERROR")) << line;
      distinct.insert(line);
    }
    EXPECT_EQ(lines, 25);
    std::filesystem::remove(dir + "/tokens-" + std::to_string(p));
  }
  ASSERT_EQ(distinct.size(), 1u) << "the processes got different tokens";
  EXPECT_TRUE(idp.Introspect(*distinct.begin()).as_object().at("active").as_bool());
}

TEST_F(AccountTest, HundredRequestsFromFourProcessesRefreshOnceOnSqlite) {
  const std::string user = User("herd");
  AddMicrosoft("work", "herd-" + id_);
  BrowserAuthorize("work", user);
  HundredRequestsFromFourProcesses(dir_, db_, *idp_, user);
}

TEST_F(AccountTest, HundredRequestsFromFourProcessesRefreshOnceOnPostgres) {
  UsePostgres();
  const std::string user = User("herdpg");
  AddMicrosoft("work", "herdpg-" + id_);
  BrowserAuthorize("work", user);
  HundredRequestsFromFourProcesses(dir_, db_, *idp_, user);
}

TEST_F(AccountTest, ServiceUnavailableBacksOffThenRecovers) {
  const std::string user = User("outage");
  AddMicrosoft("work", "out-" + id_);
  BrowserAuthorize("work", user);
  // More failures than one call's attempts: the call fails, the account is
  // degraded, the next call (after the backoff) recovers.
  idp_->Control(
      "fail",
      json::object{{"mode", "503"}, {"count", 5}, {"endpoint", "token"}, {"client_id", client_}});
  const auto start = std::chrono::steady_clock::now();
  RunResult r = Run({"account", "token", "work", "--force"});
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("503"), std::string::npos) << r.err;
  // Three pauses of 0.5-1, 1-2 and 2-4 s, rounded up to whole seconds.
  EXPECT_GE(took, std::chrono::seconds(3));
  auto shown = Show("work");
  EXPECT_EQ(Str(shown, "status"), "degraded");
  EXPECT_NE(Str(shown, "last_error").find("503"), std::string::npos);
  EXPECT_EQ(shown.at("failure_count").as_int64(), 4);
  const std::string token = Token("work", {"--force"});
  EXPECT_TRUE(idp_->Introspect(token).as_object().at("active").as_bool());
  shown = Show("work");
  EXPECT_EQ(Str(shown, "status"), "ok");
  EXPECT_EQ(Str(shown, "last_error"), "");
  EXPECT_EQ(idp_->UserStat(user, "refreshes"), 1);
}

TEST_F(AccountTest, HangingProviderTimesOutThenRecovers) {
  const std::string user = User("hang");
  AddMicrosoft("work", "hang-" + id_);
  BrowserAuthorize("work", user);
  // The provider holds the request for 60 s: only the 1 s timeout (and a
  // retry) gets the token back well before that. The bound is far from any
  // speed measure: the run takes ~1-5 s, ASan and a loaded machine included.
  idp_->Control("fail", json::object{{"mode", "hang"},
                                     {"count", 1},
                                     {"hang_seconds", 60},
                                     {"endpoint", "token"},
                                     {"client_id", client_}});
  const auto start = std::chrono::steady_clock::now();
  const std::string token = Token("work", {"--force", "--timeout", "1"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(45));
  EXPECT_TRUE(idp_->Introspect(token).as_object().at("active").as_bool());
  EXPECT_EQ(Str(Show("work"), "status"), "ok");
}

TEST_F(AccountTest, KillDuringRefreshLeavesARefreshTokenTheProviderAccepts) {
  const std::string user = User("crash");
  AddMicrosoft("work", "crash-" + id_);
  BrowserAuthorize("work", user);
  // Like Microsoft's, the provider keeps the previous refresh token valid.
  idp_->Control("settings", json::object{{"reuse_policy", "allow"}});
  std::mt19937 rng(std::random_device{}());
  for (int i = 0; i < 12; ++i) {
    if (i % 3 == 2) {
      // Kill while the request is in flight.
      idp_->Control("fail", json::object{{"mode", "hang"},
                                         {"count", 1},
                                         {"hang_seconds", 0.5},
                                         {"endpoint", "token"},
                                         {"client_id", client_}});
    }
    Child child({"account", "token", "work", "--force"}, env_);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 80));
    child.Kill(SIGKILL);
    child.Wait();
    // The next run goes on without a new authorization.
    RunResult r = Run({"account", "token", "work", "--force"});
    ASSERT_EQ(r.exit_code, 0) << "after kill " << i << ": " << r.err;
  }
  idp_->Control("fail", json::object{{"mode", "503"}, {"count", 0}, {"client_id", client_}});
  EXPECT_EQ(Str(Show("work"), "status"), "ok");
  EXPECT_GE(idp_->UserStat(user, "refreshes"), 12);
}

TEST_F(AccountTest, NoTokenOrSecretIsStoredOrLoggedInPlaintext) {
  const std::string user = User("plain");
  const std::string secret = "plaintext-check-secret-" + id_;
  const std::string app = "plainapp-" + id_;
  idp_->RegisterClient(app, secret, User("plainbox"));
  AddMicrosoft("work", "plain-" + id_);
  BrowserAuthorize("work", user);
  std::filesystem::create_directories(dir_ + "/in");
  { std::ofstream(dir_ + "/in/s") << secret; }
  ASSERT_EQ(Run({"--log-level", "debug", "account", "add", "app", "--provider", "microsoft",
                 "--client-id", app, "--tenant", "plain-" + id_, "--authority", idp_->url(),
                 "--client-secret-file", dir_ + "/in/s"})
                .exit_code,
            0);
  std::filesystem::remove_all(dir_ + "/in");
  ASSERT_EQ(
      Run({"--log-level", "debug", "account", "authorize", "app", "--flow", "client-credentials"})
          .exit_code,
      0);
  std::vector<std::string> secrets = {secret};
  for (int i = 0; i < 3; ++i) {
    secrets.push_back(Token("work", {"--force", "--log-level", "debug"}));
    Run({"--log-level", "debug", "account", "show", "work"});
    Run({"account", "show", "app", "--json"});
    Run({"account", "list", "--json"});
  }
  secrets.push_back(Token("app"));
  auto s = OpenStore();
  ASSERT_TRUE(s);
  auto work = s->GetAccount("work");
  ASSERT_TRUE(work.ok());
  secrets.push_back(work->refresh_token.reveal());
  secrets.push_back(work->access_token.reveal());
  s.reset();
  const std::string files = ReadTree(dir_);
  ASSERT_NE(files.find("plain-" + id_), std::string::npos) << "the scan sees the database";
  for (const auto& sec : secrets) {
    ASSERT_GT(sec.size(), 20u);
    EXPECT_EQ(files.find(sec), std::string::npos) << "a secret is in the data directory";
    EXPECT_EQ(logs_.find(sec), std::string::npos) << "a secret is in the output";
    // Microsoft-sized tokens: no long fragment either.
    EXPECT_EQ(files.find(sec.substr(0, 24)), std::string::npos);
  }
}

TEST_F(AccountTest, KeyRotationReencryptsEverythingAndTokensStillWork) {
  const std::string user = User("rotatekey");
  AddMicrosoft("work", "key-" + id_);
  BrowserAuthorize("work", user);
  std::ifstream old_in(store::MasterKeyPath(dir_));
  std::string old_key;
  std::getline(old_in, old_key);
  RunResult r = Run({"key", "rotate"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(store::NextMasterKeyPath(dir_)));
  // The old key opens nothing any more.
  auto old_vault = std::make_shared<const store::Vault>(*store::ParseMasterKey(old_key));
  auto s = store::OpenSqliteStore(dir_ + "/mailgate.db", old_vault);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE((*s)->GetAccount("work").ok());
  s->reset();
  EXPECT_FALSE(Token("work", {"--force"}).empty());
  EXPECT_EQ(Str(Show("work"), "status"), "ok");
}

TEST_F(AccountTest, KeyRotationWithAnEnvironmentKey) {
  auto generate = [&] {
    RunResult g = Run({"key", "generate"});
    EXPECT_EQ(g.exit_code, 0);
    std::string k = g.out;
    while (!k.empty() && k.back() == '\n') k.pop_back();
    return k;
  };
  const std::string old_key = generate(), new_key = generate();
  ASSERT_NE(old_key, new_key);
  env_["MAILGATE_MASTER_KEY"] = old_key;
  AddMicrosoft("work", "envkey-" + id_);
  BrowserAuthorize("work", User("envkey"));
  EXPECT_FALSE(std::filesystem::exists(store::MasterKeyPath(dir_)));
  RunResult r = Run({"key", "rotate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("MAILGATE_NEW_MASTER_KEY"), std::string::npos) << r.err;
  env_["MAILGATE_NEW_MASTER_KEY"] = new_key;
  r = Run({"key", "rotate"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  env_.erase("MAILGATE_NEW_MASTER_KEY");
  // Still on the old key: the secrets do not open, and the error says why.
  r = Run({"account", "token", "work"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("MAILGATE_MASTER_KEY"), std::string::npos) << r.err;
  env_["MAILGATE_MASTER_KEY"] = new_key;
  EXPECT_FALSE(Token("work", {"--force"}).empty());
}

TEST_F(AccountTest, ErrorsSayWhatToDoNext) {
  RunResult r = Run({"account", "token", "nobody"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("mailgate account list"), std::string::npos) << r.err;
  AddMicrosoft("fresh", "err-" + id_);
  r = Run({"account", "token", "fresh"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("run `mailgate account authorize fresh`"), std::string::npos) << r.err;
  r = Run({"account", "add", "bad", "--provider", "microsoft", "--client-id", "x", "--tenant",
           "contoso.com", "--authority", "http://login.example.com"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("https://"), std::string::npos) << r.err;
  r = Run({"account", "add", "fresh", "--provider", "microsoft", "--client-id", "x", "--tenant",
           "contoso.com"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("mailgate account remove fresh"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"account", "remove", "fresh"}).exit_code, 0);
  EXPECT_EQ(Run({"account", "show", "fresh"}).exit_code, 1);
}

// A regression test: `common`, the old default, fails single-tenant apps
// (AADSTS50194), the app registration's default. The CLI asks instead.
TEST_F(AccountTest, MicrosoftAccountsNeedATenant) {
  RunResult r = Run({"account", "add", "t", "--provider", "microsoft", "--client-id", client_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tenant is required"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Directory (tenant) ID"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"account", "show", "t"}).exit_code, 1);
}

// A regression test: the scopes were those of the global cloud whatever
// the authority.
TEST_F(AccountTest, SovereignCloudGetsItsExchangeScopesAndMailHosts) {
  RunResult r =
      Run({"account", "add", "gov", "--provider", "microsoft", "--client-id", client_, "--tenant",
           "contoso.onmicrosoft.us", "--authority", "https://login.microsoftonline.us"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("IMAP outlook.office365.us:993"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SMTP smtp.office365.us:587"), std::string::npos) << r.out;
  auto shown = Show("gov");
  std::string scopes;
  for (const auto& v : shown.at("scopes").as_array()) scopes += std::string(v.as_string()) + " ";
  EXPECT_EQ(scopes,
            "offline_access https://outlook.office365.us/IMAP.AccessAsUser.All "
            "https://outlook.office365.us/POP.AccessAsUser.All "
            "https://outlook.office365.us/SMTP.Send ");
  r = Run({"account", "add", "cn", "--provider", "microsoft", "--client-id", client_, "--tenant",
           "contoso.partner.onmschina.cn", "--authority", "https://login.chinacloudapi.cn"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("IMAP partner.outlook.cn:993"), std::string::npos) << r.out;
  EXPECT_EQ(Show("cn").at("scopes").as_array().at(1).as_string(),
            "https://partner.outlook.cn/IMAP.AccessAsUser.All");
}

// A regression test: a wrong or expired secret said "re-authorize", which
// fails the same way. Now the error names `account edit`, and the new
// secret lifts the refusal and clears the alert.
TEST_F(AccountTest, WrongClientSecretIsReplacedWithAccountEdit) {
  const std::string app = "app-" + id_, mailbox = User("edit");
  const std::string secret = "first-secret-" + id_, next = "second-secret-" + id_;
  idp_->RegisterClient(app, secret, mailbox);
  AddWithSecret("app", app, secret, "edit-" + id_ + ".test");
  ASSERT_EQ(Run({"account", "authorize", "app", "--flow", "client-credentials"}).exit_code, 0);
  // The secret is replaced in Entra ID: the old one is now wrong.
  idp_->RegisterClient(app, next, mailbox);
  RunResult r = Run({"account", "token", "app", "--force"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("AADSTS7000215"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mailgate account edit app --client-secret-file FILE"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("account authorize"), std::string::npos) << r.err;
  auto shown = Show("app");
  EXPECT_EQ(Str(shown, "status"), "reauthorization_required");
  EXPECT_EQ(Str(shown, "last_error_code"), "AADSTS7000215");
  ASSERT_EQ(shown.at("alerts").as_array().size(), 1u);
  r = Run({"account", "show", "app"});
  EXPECT_NE(r.out.find("Next step:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the client secret is wrong"), std::string::npos) << r.out;

  { std::ofstream(dir_ + "/secret.txt") << next << "\n"; }
  r = Run({"account", "edit", "app", "--client-secret-file", dir_ + "/secret.txt"});
  std::filesystem::remove(dir_ + "/secret.txt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("changed client secret"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Account 'app' works"), std::string::npos) << r.out;
  shown = Show("app");
  EXPECT_EQ(Str(shown, "status"), "ok");
  EXPECT_EQ(Str(shown, "last_error_code"), "");
  EXPECT_TRUE(shown.at("alerts").as_array().empty());
  auto info = idp_->Introspect(Token("app")).as_object();
  EXPECT_TRUE(info.at("active").as_bool());
  EXPECT_EQ(logs_.find(secret), std::string::npos);
  EXPECT_EQ(logs_.find(next), std::string::npos);
}

TEST_F(AccountTest, ExpiredClientSecretSaysCreateANewOne) {
  const std::string app = "exp-" + id_;
  idp_->Control(
      "clients",
      json::object{{"client_id", app}, {"client_secret", "s-" + id_}, {"secret_expired", true}});
  AddWithSecret("app", app, "s-" + id_, "exp-" + id_ + ".test");
  RunResult r = Run({"account", "authorize", "app", "--flow", "client-credentials"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("AADSTS7000222"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the client secret expired: create a new one"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("`mailgate account edit app --client-secret-file FILE`"), std::string::npos)
      << r.err;
}

// A regression test: the secret went with the device and loopback flows and
// their refreshes, which Entra ID refuses from a public client (AADSTS700025).
TEST_F(AccountTest, PublicFlowsOfAnAppWithASecretSendNoSecret) {
  const std::string app = "pp-" + id_, secret = "pp-secret-" + id_;
  idp_->Control(
      "clients",
      json::object{{"client_id", app}, {"client_secret", secret}, {"public_platform", true}});
  AddWithSecret("pp", app, secret, "pp-" + id_ + ".test");
  BrowserAuthorize("pp", User("loop"));
  EXPECT_EQ(Str(Show("pp"), "flow"), "loopback");
  EXPECT_FALSE(Token("pp", {"--force"}).empty());
  EXPECT_EQ(Str(Show("pp"), "status"), "ok");

  Child child({"account", "authorize", "pp", "--flow", "device"}, env_);
  std::string line = child.ReadLine(15000);
  ASSERT_NE(line.find("enter the code "), std::string::npos) << line << child.Wait().err;
  const size_t at = line.find("enter the code ") + 15;
  idp_->Control(
      "device/approve",
      json::object{{"user_code", line.substr(at, line.find(' ', at) - at)}, {"user", User("dev")}});
  RunResult r = child.Wait();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(Token("pp", {"--force"}).empty());
  // App-only access with the same app still sends it.
  ASSERT_EQ(Run({"account", "authorize", "pp", "--flow", "client-credentials"}).exit_code, 0);
}

// A new tenant or client ID belongs to another directory or app: the grant
// goes, and the account asks to be authorized again.
TEST_F(AccountTest, EditingTheTenantDropsTheGrant) {
  AddMicrosoft("work", "before-" + id_);
  BrowserAuthorize("work", User("edit"));
  RunResult r = Run({"account", "edit", "work", "--tenant", "after-" + id_ + ".test"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Next: mailgate account authorize work"), std::string::npos) << r.out;
  auto shown = Show("work");
  EXPECT_EQ(Str(shown, "tenant"), "after-" + id_ + ".test");
  EXPECT_EQ(Str(shown, "status"), "not_authorized");
  EXPECT_EQ(Str(shown, "refresh_token"), "none");
  EXPECT_EQ(Str(shown, "token_endpoint"),
            idp_->url() + "/after-" + id_ + ".test/oauth2/v2.0/token");
  r = Run({"account", "edit", "work", "--tenant", "bad/tenant"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tenant"), std::string::npos) << r.err;
  r = Run({"account", "edit", "work", "--no-client-secret", "--client-secret-file", "x"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace mailgate::testing

namespace mailgate::testing {
namespace {

// --ca-file: the extra CA is trusted in addition to the system's. Dovecot's
// IMAPS port (certificate from the test CA) stands in for an HTTPS server:
// once TLS succeeds, the non-HTTP greeting fails the request in another way.
TEST(HttpsTest, ExtraCaFileIsTrusted) {
  const std::string ca = RequireEnv("MAILGATE_TEST_CA");
  const std::string port = RequireEnv("MAILGATE_TEST_IMAPS_PORT");
  const std::string name = RequireEnv("MAILGATE_TEST_TLS_NAME");
  ASSERT_FALSE(ca.empty() || port.empty() || name.empty());
  http::Request req;
  req.url = "https://" + name + ":" + port + "/";
  req.total_timeout = std::chrono::seconds(10);
  auto untrusted = http::NewCurlHttpClient({})->Send(req);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.status().kind(), Status::Kind::kTls) << untrusted.status().ToString();
  EXPECT_NE(untrusted.status().message().find("--ca-file"), std::string::npos);
  auto trusted = http::NewCurlHttpClient({.ca_file = ca, .user_agent = "mailgate-test"})->Send(req);
  ASSERT_FALSE(trusted.ok());
  EXPECT_NE(trusted.status().kind(), Status::Kind::kTls) << trusted.status().ToString();
  EXPECT_NE(trusted.status().kind(), Status::Kind::kConnect) << trusted.status().ToString();
}

// HTTPS_PROXY and NO_PROXY from the environment are honoured (libcurl reads
// them on every request).
TEST(HttpsTest, ProxyFromTheEnvironmentIsUsedUnlessNoProxyMatches) {
  const std::string ca = RequireEnv("MAILGATE_TEST_CA");
  const std::string port = RequireEnv("MAILGATE_TEST_IMAPS_PORT");
  const std::string name = RequireEnv("MAILGATE_TEST_TLS_NAME");
  ASSERT_FALSE(ca.empty() || port.empty() || name.empty());
  http::Request req;
  req.url = "https://" + name + ":" + port + "/";
  req.total_timeout = std::chrono::seconds(10);
  auto client = http::NewCurlHttpClient({.ca_file = ca, .user_agent = "mailgate-test"});
  ::setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
  ::unsetenv("NO_PROXY");
  ::unsetenv("no_proxy");
  auto via_proxy = client->Send(req);
  ::setenv("NO_PROXY", name.c_str(), 1);
  auto direct = client->Send(req);
  ::unsetenv("HTTPS_PROXY");
  ::unsetenv("NO_PROXY");
  ASSERT_FALSE(via_proxy.ok());
  EXPECT_EQ(via_proxy.status().kind(), Status::Kind::kConnect) << via_proxy.status().ToString();
  EXPECT_NE(via_proxy.status().message().find("HTTPS_PROXY"), std::string::npos);
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.status().kind(), Status::Kind::kTransient) << direct.status().ToString();
}

}  // namespace
}  // namespace mailgate::testing
