#include "oauth/token_manager.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "oauth/account_edit.h"
#include "oauth/fakes_for_test.h"

namespace mailgate::oauth {
namespace {

constexpr char kTokenUrl[] = "https://idp.test/contoso/oauth2/v2.0/token";

std::string TokenJson(const std::string& at, const std::string& rt, int expires_in = 3600) {
  std::string s = R"({"token_type":"Bearer","expires_in":)" + std::to_string(expires_in) +
                  R"(,"access_token":")" + at + "\"";
  if (!rt.empty()) s += R"(,"refresh_token":")" + rt + "\"";
  return s + "}";
}

class TokenManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mailgate-tm-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    vault_ = std::make_shared<store::Vault>(store::GenerateMasterKey());
    auto s = store::OpenSqliteStore(dir_ / "db", vault_);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    store::Account a;
    a.name = "work";
    a.provider = "microsoft";
    a.tenant = "contoso";
    a.client_id = "cid";
    ASSERT_TRUE(NormalizeAccount(a).ok());
    ASSERT_TRUE(store_->CreateAccount(a, clock_.NowSeconds()).ok());
    manager_ = std::make_unique<TokenManager>(*store_, http_, clock_, random_, options_);
  }
  void TearDown() override {
    manager_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Authorize(const std::string& at, const std::string& rt, int expires_in) {
    TokenResponse t;
    t.access_token = store::Secret(at);
    t.refresh_token = store::Secret(rt);
    t.expires_in = expires_in;
    ASSERT_TRUE(manager_->SaveGrant("work", Flow::kBrowser, kTokenUrl, t).ok());
  }
  store::Account Get() { return *store_->GetAccount("work"); }
  // An app-only account "app" with `secret`, holding a token valid an hour.
  void AddAppAccount(const std::string& secret) {
    store::Account a;
    a.name = "app";
    a.provider = "microsoft";
    a.tenant = "contoso";
    a.client_id = "cid";
    a.client_secret = store::Secret(secret);
    ASSERT_TRUE(NormalizeAccount(a).ok());
    ASSERT_TRUE(store_->CreateAccount(a, 0).ok());
    TokenResponse t;
    t.access_token = store::Secret("APP1");
    t.expires_in = 3600;
    ASSERT_TRUE(manager_->SaveGrant("app", Flow::kClientCredentials, kTokenUrl, t).ok());
  }

  std::filesystem::path dir_;
  std::shared_ptr<const store::Vault> vault_;
  FakeClock clock_;
  FakeRandom random_;
  ScriptedHttp http_;
  TokenManagerOptions options_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TokenManager> manager_;
};

TEST_F(TokenManagerTest, FreshTokenIsServedFromTheStore) {
  Authorize("AT1", "RT1", 3600);
  auto t = manager_->GetAccessToken("work");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, "AT1");
  EXPECT_TRUE(http_.requests.empty());
}

TEST_F(TokenManagerTest, RefreshesTenMinutesEarlyAndAdoptsTheRotatedToken) {
  Authorize("AT1", "RT1", 3600);
  clock_.Advance(3600 - 599);
  http_.ThenJson(200, TokenJson("AT2", "RT2"));
  http_.ThenJson(200, TokenJson("AT3", "RT3"));
  EXPECT_EQ(*manager_->GetAccessToken("work"), "AT2");
  EXPECT_EQ(Get().refresh_token.reveal(), "RT2");
  ASSERT_EQ(http_.requests.size(), 1u);
  EXPECT_EQ(http_.requests[0].url, kTokenUrl) << "the refresh goes to the tenant of the grant";
  EXPECT_NE(http_.requests[0].body.find("refresh_token=RT1"), std::string::npos);
  clock_.Advance(3600);
  EXPECT_EQ(*manager_->GetAccessToken("work"), "AT3");
  EXPECT_NE(http_.requests[1].body.find("refresh_token=RT2"), std::string::npos);
}

TEST_F(TokenManagerTest, OldRefreshTokenIsKeptWhenNoneComesBack) {
  Authorize("AT1", "RT1", 100);
  http_.ThenJson(200, TokenJson("AT2", ""));
  EXPECT_EQ(*manager_->GetAccessToken("work"), "AT2");
  EXPECT_EQ(Get().refresh_token.reveal(), "RT1");
}

TEST_F(TokenManagerTest, ForcedRefreshGetsANewTokenEvenIfFresh) {
  Authorize("AT1", "RT1", 3600);
  http_.ThenJson(200, TokenJson("AT2", "RT2"));
  EXPECT_EQ(*manager_->GetAccessToken("work", true), "AT2");
  EXPECT_EQ(http_.requests.size(), 1u);
}

TEST_F(TokenManagerTest, InvalidGrantRequiresReauthorizationAndStopsRequests) {
  Authorize("AT1", "RT1", 100);
  http_.ThenJson(
      400,
      R"({"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity.\r\nTrace ID: x"})");
  auto t = manager_->GetAccessToken("work");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().kind(), Status::Kind::kAuth);
  EXPECT_NE(t.status().message().find("AADSTS700082"), std::string::npos);
  EXPECT_NE(t.status().message().find("mailgate account authorize work"), std::string::npos);
  auto a = Get();
  EXPECT_EQ(a.status, store::AccountStatus::kReauthorizationRequired);
  EXPECT_EQ(a.last_error_code, "AADSTS700082");
  auto alerts = store_->ListAlerts(true);
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].kind, "reauthorization_required");
  EXPECT_EQ((*alerts)[0].subject, "account/work");
  // No further requests, however often it is asked.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(manager_->GetAccessToken("work", true).ok());
  EXPECT_EQ(http_.requests.size(), 1u);
  // A new authorization clears it all.
  Authorize("AT9", "RT9", 3600);
  EXPECT_EQ(Get().status, store::AccountStatus::kOk);
  EXPECT_TRUE(store_->ListAlerts(true)->empty());
}

TEST_F(TokenManagerTest, TransientFailuresBackOffExponentiallyThenRecover) {
  Authorize("AT1", "RT1", 10);
  clock_.Advance(20);  // the access token is dead
  http_.ThenJson(503, R"({"error":"temporarily_unavailable"})");
  http_.Then([](const http::Request&) -> StatusOr<http::Response> {
    return Status::Transient("no answer within 30 s");
  });
  http_.ThenJson(503, "");
  http_.ThenJson(200, TokenJson("AT2", "RT2"));
  const int64_t start = clock_.NowSeconds();
  auto t = manager_->GetAccessToken("work");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, "AT2");
  EXPECT_EQ(http_.requests.size(), 4u);
  // Equal jitter with Uniform() = 0.5: 0.75, 1.5, 3 s (rounded up to whole seconds).
  EXPECT_EQ(clock_.NowSeconds() - start, 1 + 2 + 3);
  auto a = Get();
  EXPECT_EQ(a.status, store::AccountStatus::kOk);
  EXPECT_EQ(a.failure_count, 0);
  EXPECT_EQ(a.refresh_token.reveal(), "RT2");
}

TEST_F(TokenManagerTest, PersistentOutageLeavesTheAccountDegraded) {
  Authorize("AT1", "RT1", 10);
  clock_.Advance(20);
  for (int i = 0; i < options_.max_attempts; ++i) http_.ThenJson(503, "");
  auto t = manager_->GetAccessToken("work");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().kind(), Status::Kind::kTransient);
  EXPECT_EQ(http_.requests.size(), static_cast<size_t>(options_.max_attempts));
  auto a = Get();
  EXPECT_EQ(a.status, store::AccountStatus::kDegraded);
  EXPECT_EQ(a.failure_count, options_.max_attempts);
  EXPECT_GT(a.retry_at, clock_.NowSeconds());
  EXPECT_EQ(a.refresh_token.reveal(), "RT1");
}

TEST_F(TokenManagerTest, DegradedButStillValidTokenIsServed) {
  Authorize("AT1", "RT1", 500);  // inside the 10-minute margin, still valid
  http_.ThenJson(503, "");
  auto t = manager_->GetAccessToken("work");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "AT1");
  EXPECT_EQ(Get().status, store::AccountStatus::kDegraded);
}

TEST_F(TokenManagerTest, ManyThreadsCauseOneRefresh) {
  Authorize("AT1", "RT1", 10);
  clock_.Advance(20);
  http_.Then([](const http::Request&) -> StatusOr<http::Response> {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    http::Response r;
    r.status = 200;
    r.body = TokenJson("AT2", "RT2");
    return r;
  });
  std::vector<std::thread> threads;
  threads.reserve(16);
  std::atomic<int> good{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto t = manager_->GetAccessToken("work");
      if (t.ok() && *t == "AT2") good++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good, 16);
  EXPECT_EQ(http_.requests.size(), 1u);
}

TEST_F(TokenManagerTest, LeaseOfAProcessThatDiedIsTakenOverAtOnce) {
  Authorize("AT1", "RT1", 10);
  clock_.Advance(20);
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  const std::string holder = std::string(host) + ":" + std::to_string(dead) + ":xyz";
  ASSERT_TRUE(*store_->TryAcquireRefreshLease("work", holder, clock_.NowSeconds(), 90));
  http_.ThenJson(200, TokenJson("AT2", "RT2"));
  const int64_t start = clock_.NowSeconds();
  auto t = manager_->GetAccessToken("work");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, "AT2");
  EXPECT_LE(clock_.NowSeconds() - start, 1);
  EXPECT_EQ(*store_->RefreshLeaseHolder("work", clock_.NowSeconds()), "") << "released";
}

TEST_F(TokenManagerTest, LiveHolderIsWaitedForAndItsResultUsed) {
  // Real time here: the waiter polls while another thread (standing in for
  // a live process: our parent's pid) finishes its refresh.
  Clock& clock = SystemClock();
  TokenManager manager(*store_, http_, clock, random_, options_);
  store::AccountUpdate expired;
  expired.access_expires_at = clock.NowSeconds() - 1;
  expired.flow = "browser";
  expired.status = store::AccountStatus::kOk;
  expired.access_token = store::Secret("AT1");
  expired.refresh_token = store::Secret("RT1");
  ASSERT_TRUE(store_->UpdateAccount("work", expired).ok());
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  const std::string holder = std::string(host) + ":" + std::to_string(::getppid()) + ":other";
  ASSERT_TRUE(*store_->TryAcquireRefreshLease("work", holder, clock.NowSeconds(), 90));
  Status other_status;
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto s = store::OpenSqliteStore(dir_ / "db", vault_);
    if (!s.ok()) {
      other_status = s.status();
      return;
    }
    store::AccountUpdate u;
    u.access_token = store::Secret("AT-OTHER");
    u.access_expires_at = clock.NowSeconds() + 3600;
    other_status = (*s)->UpdateAccount("work", u);
    if (other_status.ok()) other_status = (*s)->ReleaseRefreshLease("work", holder);
  });
  auto t = manager.GetAccessToken("work");
  other.join();
  ASSERT_TRUE(other_status.ok()) << other_status.ToString();
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, "AT-OTHER");
  EXPECT_TRUE(http_.requests.empty());
}

TEST_F(TokenManagerTest, ClientCredentialsGetANewTokenNearExpiry) {
  AddAppAccount("sec");
  clock_.Advance(3500);
  http_.ThenJson(200, TokenJson("APP2", ""));
  EXPECT_EQ(*manager_->GetAccessToken("app"), "APP2");
  EXPECT_NE(http_.requests[0].body.find("grant_type=client_credentials"), std::string::npos);
  EXPECT_NE(http_.requests[0].body.find("scope=https%3A%2F%2Foutlook.office365.com%2F.default"),
            std::string::npos);
}

// A regression test: an expired secret (AADSTS7000222) used to say "run
// `mailgate account authorize`", which fails the same way.
TEST_F(TokenManagerTest, ExpiredClientSecretSaysToReplaceItAndTheNewOneClearsTheAlert) {
  AddAppAccount("old-secret");
  clock_.Advance(3500);
  http_.ThenJson(
      401,
      R"({"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app 'cid' are expired.\r\nTrace ID: x"})");
  auto got = manager_->GetAccessToken("app");
  ASSERT_FALSE(got.ok());
  const std::string& msg = got.status().message();
  EXPECT_NE(msg.find("AADSTS7000222"), std::string::npos) << msg;
  EXPECT_NE(msg.find("`mailgate account edit app --client-secret-file FILE`"), std::string::npos)
      << msg;
  EXPECT_EQ(msg.find("account authorize"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("old-secret"), std::string::npos);
  auto alerts = store_->ListAlerts(true);
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].message, msg);
  auto shown = *store_->GetAccount("app");
  EXPECT_EQ(shown.status, store::AccountStatus::kReauthorizationRequired);
  EXPECT_NE(RemedyFor(shown).find("create a new one"), std::string::npos);

  // What `mailgate account edit app --client-secret-file F` stores.
  store::AccountUpdate u;
  u.client_secret = store::Secret("new-secret");
  u.status = store::AccountStatus::kDegraded;
  u.access_token = store::Secret();
  u.access_expires_at = 0;
  ASSERT_TRUE(store_->UpdateAccount("app", u).ok());
  http_.ThenJson(200, TokenJson("APP2", ""));
  auto again = manager_->GetAccessToken("app", true);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, "APP2");
  ASSERT_EQ(http_.requests.size(), 2u);
  EXPECT_NE(http_.requests[1].body.find("client_secret=new-secret"), std::string::npos);
  EXPECT_EQ(store_->GetAccount("app")->status, store::AccountStatus::kOk);
  EXPECT_TRUE(store_->ListAlerts(true)->empty());
}

// A regression test: a secret sent with a public client's refresh gets
// AADSTS700025 from Entra ID.
TEST_F(TokenManagerTest, PublicClientGrantsRefreshWithoutTheSecret) {
  store::AccountUpdate u;
  u.client_secret = store::Secret("app-only-secret");
  ASSERT_TRUE(store_->UpdateAccount("work", u).ok());
  for (Flow flow : {Flow::kLoopback, Flow::kDevice, Flow::kBrowser}) {
    TokenResponse t;
    t.access_token = store::Secret("AT1");
    t.refresh_token = store::Secret("RT1");
    ASSERT_TRUE(manager_->SaveGrant("work", flow, kTokenUrl, t).ok());
    http_.ThenJson(200, TokenJson("AT2", "RT2"));
    ASSERT_TRUE(manager_->GetAccessToken("work", true).ok());
    const std::string& body = http_.requests.back().body;
    EXPECT_NE(body.find("grant_type=refresh_token"), std::string::npos);
    // Only the console's Web redirect (kBrowser) is a confidential client's.
    EXPECT_EQ(body.find("client_secret") != std::string::npos, flow == Flow::kBrowser)
        << FlowName(flow);
  }
}

TEST_F(TokenManagerTest, RemediesNameTheEditThatFixesTheConfiguration) {
  store::Account a = Get();
  a.last_error = "invalid_request: AADSTS50194: Application is not configured as multi-tenant";
  a.last_error_code = "AADSTS50194";
  EXPECT_NE(RemedyFor(a).find("`mailgate account edit work --tenant <your tenant ID or domain>`"),
            std::string::npos);
  a.last_error = "invalid_client: AADSTS7000215: Invalid client secret provided.";
  a.last_error_code = "AADSTS7000215";
  EXPECT_NE(ReauthorizationMessage(a).find("cannot get tokens"), std::string::npos);
  EXPECT_NE(RemedyFor(a).find("Value"), std::string::npos);
  a.last_error = "invalid_client: AADSTS700025: Client is public";
  a.last_error_code = "AADSTS700025";
  EXPECT_NE(RemedyFor(a).find("--no-client-secret"), std::string::npos);
  a.last_error = "invalid_grant: AADSTS700082: The refresh token has expired";
  a.last_error_code = "AADSTS700082";
  EXPECT_EQ(RemedyFor(a), "run `mailgate account authorize work`");
  EXPECT_NE(ReauthorizationMessage(a).find("needs re-authorization"), std::string::npos);
}

TEST_F(TokenManagerTest, CallbackForTheMailClients) {
  Authorize("AT1", "RT1", 3600);
  http_.ThenJson(200, TokenJson("AT2", "RT2"));
  AccessTokenCallback cb = MakeAccessTokenCallback(*manager_, "work");
  EXPECT_EQ(*cb(false), "AT1");
  EXPECT_EQ(*cb(true), "AT2");
}

TEST_F(TokenManagerTest, UnauthorizedAccountSaysHowToAuthorize) {
  auto t = manager_->GetAccessToken("work");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("mailgate account authorize work"), std::string::npos);
}

// --- Editing an account (oauth/account_edit.h) -------------------------------

TEST_F(TokenManagerTest, EditingTheTenantRemovesTheGrant) {
  Authorize("AT1", "RT1", 3600);
  store::AccountUpdate edit;
  edit.tenant = "fabrikam.onmicrosoft.com";
  auto r = EditAccount(*store_, "work", edit);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->changed, std::vector<std::string>{"tenant"});
  EXPECT_TRUE(r->app_changed);
  EXPECT_TRUE(r->grant_removed);
  EXPECT_TRUE(r->needs_authorization);
  const store::Account a = Get();
  EXPECT_EQ(a.tenant, "fabrikam.onmicrosoft.com");
  EXPECT_EQ(a.status, store::AccountStatus::kNotAuthorized);
  EXPECT_TRUE(a.refresh_token.empty());
  EXPECT_TRUE(a.access_token.empty());
}

TEST_F(TokenManagerTest, EditingTheSecretKeepsTheGrantAndLetsTheNextRefreshTry) {
  Authorize("AT1", "RT1", 3600);
  store::AccountUpdate blocked;
  blocked.status = store::AccountStatus::kReauthorizationRequired;
  ASSERT_TRUE(store_->UpdateAccount("work", blocked).ok());
  store::AccountUpdate edit;
  edit.client_secret = store::Secret("new-secret");
  auto r = EditAccount(*store_, "work", edit);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->changed, std::vector<std::string>{"client secret"});
  EXPECT_FALSE(r->grant_removed);
  EXPECT_FALSE(r->needs_authorization);
  EXPECT_TRUE(r->token_cleared);
  const store::Account a = Get();
  EXPECT_EQ(a.client_secret.reveal(), "new-secret");
  EXPECT_EQ(a.refresh_token.reveal(), "RT1");
  EXPECT_TRUE(a.access_token.empty());
  EXPECT_EQ(a.status, store::AccountStatus::kDegraded);
}

TEST_F(TokenManagerTest, EditingNothingWritesNothingAndABadTenantIsRefused) {
  Authorize("AT1", "RT1", 3600);
  store::AccountUpdate same;
  same.tenant = "contoso";
  auto r = EditAccount(*store_, "work", same);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->changed.empty());
  EXPECT_EQ(Get().access_token.reveal(), "AT1");
  store::AccountUpdate bad;
  bad.tenant = "not a tenant!";
  r = EditAccount(*store_, "work", bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), Status::Kind::kInvalidArgument);
  EXPECT_EQ(Get().tenant, "contoso");
  EXPECT_EQ(EditAccount(*store_, "nobody", same).status().kind(), Status::Kind::kNotFound);
}

// A generic provider's account "idp" with all three endpoints, holding a
// grant from its token URL.
class GenericAccountEditTest : public TokenManagerTest {
 protected:
  static constexpr char kIdpToken[] = "https://idp.example/oauth/token";
  void SetUp() override {
    TokenManagerTest::SetUp();
    store::Account a;
    a.name = "idp";
    a.provider = "generic";
    a.client_id = "cid";
    a.scopes = {"mail"};
    a.auth_url = "https://idp.example/oauth/authorize";
    a.token_url = kIdpToken;
    a.device_url = "https://idp.example/oauth/device";
    ASSERT_TRUE(NormalizeAccount(a).ok());
    ASSERT_TRUE(store_->CreateAccount(a, 0).ok());
    TokenResponse t;
    t.access_token = store::Secret("AT1");
    t.refresh_token = store::Secret("RT1");
    t.expires_in = 3600;
    ASSERT_TRUE(manager_->SaveGrant("idp", Flow::kBrowser, kIdpToken, t).ok());
  }
  store::Account Idp() { return *store_->GetAccount("idp"); }
};

TEST_F(GenericAccountEditTest, NewAuthorizationAndDeviceUrlsKeepTheGrant) {
  store::AccountUpdate edit;
  edit.auth_url = "https://login.idp.example/authorize";
  edit.device_url = "";
  auto r = EditAccount(*store_, "idp", edit);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->changed,
            (std::vector<std::string>{"authorization URL", "device authorization URL"}));
  EXPECT_FALSE(r->grant_removed);
  EXPECT_FALSE(r->needs_authorization);
  const store::Account a = Idp();
  EXPECT_EQ(a.auth_url, "https://login.idp.example/authorize");
  EXPECT_EQ(a.device_url, "") << "removed: no device sign-in";
  EXPECT_EQ(a.token_url, kIdpToken);
  EXPECT_EQ(a.refresh_token.reveal(), "RT1");
  EXPECT_EQ(a.access_token.reveal(), "AT1");
  EXPECT_EQ(a.status, store::AccountStatus::kOk);
}

TEST_F(GenericAccountEditTest, NewTokenUrlRemovesTheGrant) {
  store::AccountUpdate edit;
  edit.token_url = "https://login.idp.example/token";
  auto r = EditAccount(*store_, "idp", edit);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->changed, std::vector<std::string>{"token URL"});
  EXPECT_TRUE(r->grant_removed);
  EXPECT_TRUE(r->needs_authorization);
  EXPECT_FALSE(r->app_changed) << "the same app: its mail hosts are not in question";
  const store::Account a = Idp();
  EXPECT_EQ(a.token_url, "https://login.idp.example/token");
  EXPECT_EQ(a.status, store::AccountStatus::kNotAuthorized);
  EXPECT_TRUE(a.refresh_token.empty());
  EXPECT_TRUE(a.access_token.empty());
  EXPECT_EQ(a.grant_token_url, "");
  auto t = manager_->GetAccessToken("idp");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("mailgate account authorize idp"), std::string::npos);
}

TEST_F(GenericAccountEditTest, EndpointsAreCheckedAsAccountAddChecksThem) {
  store::AccountUpdate plain;
  plain.token_url = "http://idp.example/token";
  auto r = EditAccount(*store_, "idp", plain);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), Status::Kind::kInvalidArgument);
  EXPECT_NE(r.status().message().find("--token-url"), std::string::npos) << r.status().message();
  store::AccountUpdate none;
  none.token_url = "";
  EXPECT_EQ(EditAccount(*store_, "idp", none).status().kind(), Status::Kind::kInvalidArgument)
      << "a generic account needs a token URL";
  store::AccountUpdate bad_auth;
  bad_auth.auth_url = "ftp://idp.example/authorize";
  r = EditAccount(*store_, "idp", bad_auth);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--auth-url"), std::string::npos) << r.status().message();
  const store::Account a = Idp();
  EXPECT_EQ(a.token_url, kIdpToken) << "nothing was saved";
  EXPECT_EQ(a.auth_url, "https://idp.example/oauth/authorize");
  EXPECT_EQ(a.refresh_token.reveal(), "RT1");

  // Plain http to a loopback host is allowed (a local identity provider).
  store::AccountUpdate loopback;
  loopback.token_url = "http://127.0.0.1:8080/token";
  r = EditAccount(*store_, "idp", loopback);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Idp().token_url, "http://127.0.0.1:8080/token");
}

TEST_F(GenericAccountEditTest, MicrosoftAndGoogleAccountsRefuseEndpointUrls) {
  store::AccountUpdate edit;
  edit.token_url = "https://login.idp.example/token";
  auto r = EditAccount(*store_, "work", edit);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), Status::Kind::kInvalidArgument);
  EXPECT_NE(r.status().message().find("generic"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("--authority"), std::string::npos) << r.status().message();

  store::Account g;
  g.name = "gmail";
  g.provider = "google";
  g.client_id = "cid";
  ASSERT_TRUE(NormalizeAccount(g).ok());
  ASSERT_TRUE(store_->CreateAccount(g, 0).ok());
  store::AccountUpdate device;
  device.device_url = "https://idp.example/device";
  r = EditAccount(*store_, "gmail", device);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), Status::Kind::kInvalidArgument);
  EXPECT_NE(r.status().message().find("google account"), std::string::npos) << r.status().message();
  EXPECT_EQ(store_->GetAccount("gmail")->device_url, "");
}

}  // namespace
}  // namespace mailgate::oauth
