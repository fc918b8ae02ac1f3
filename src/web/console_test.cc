// The console as a whole: authentication in front of every route, CSRF,
// API tokens, secrets that never leave, and the same over real HTTP
// (web::Server on 127.0.0.1:0, talked to with the project's libcurl client).
#include "web/console.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>

#include "http/http_client.h"
#include "oauth/fakes_for_test.h"
#include "oauth/token_manager.h"
#include "support/test_certs.h"
#include "web/http_server.h"
#include "web/web_test_support.h"

namespace mailgate::web {
namespace {

constexpr std::string_view kMarker = "SECRET-MARKER-7f3a";

// A request as the server hands it to the console; a later response is
// waited for (the callback runs inline without a BlockingRunner).
HttpResponse SendTo(Console& console, std::string method, std::string target, std::string body = "",
                    Params headers = {}) {
  HttpRequest r;
  r.method = std::move(method);
  const size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  r.body = std::move(body);
  r.headers = std::move(headers);
  r.headers.emplace_back("host", "127.0.0.1:8025");
  if (!r.body.empty() && r.body.front() != '{') {
    r.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
  }
  r.remote_ip = "127.0.0.1";
  HttpResponse res = console.Handle(r);
  if (res.later) {
    HttpResponse out;
    res.later([&](HttpResponse x) { out = std::move(x); });
    return out;
  }
  return res;
}

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_->SetConsolePassword("admin", *HashPassword("pw"), 1).ok());
    console_ = std::make_unique<Console>(Deps(), ConsoleOptions{});
  }

  ConsoleDeps Deps() {
    ConsoleDeps deps;
    deps.store = store_.get();
    deps.actions = &actions_;
    deps.tester = &tester_;
    deps.clock = &clock_;
    deps.random = &random_;
    return deps;
  }

  HttpResponse Send(std::string method, std::string target, std::string body = "",
                    Params headers = {}) {
    return SendTo(*console_, std::move(method), std::move(target), std::move(body),
                  std::move(headers));
  }

  std::string Header(const HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return {};
  }

  // Signs in; returns the cookie header value and the CSRF token.
  std::pair<std::string, std::string> Login() {
    HttpResponse r = Send("POST", "/login", "user=admin&password=pw&next=%2Fmailboxes");
    EXPECT_EQ(r.status, 303);
    EXPECT_EQ(Header(r, "Location"), "/mailboxes");
    std::string set_cookie = Header(r, "Set-Cookie");
    std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
    HttpResponse page = Send("GET", "/mailboxes", "", {{"cookie", cookie}});
    std::smatch m;
    std::regex re("name=\"csrf\" value=\"([0-9a-f]+)\"");
    EXPECT_TRUE(std::regex_search(page.body, m, re)) << page.body;
    return {cookie, m.size() > 1 ? m[1].str() : std::string()};
  }

  test::TempStore store_;
  NullConsoleActions actions_;
  test::InstantTester tester_;
  oauth::FakeClock clock_;
  oauth::FakeRandom random_;
  std::unique_ptr<Console> console_;
};

std::string Concrete(const std::string& pattern) {
  return std::regex_replace(pattern, std::regex("\\{[a-z0-9_]+\\}"), "x");
}

TEST_F(ConsoleTest, EveryRouteRefusesAnUnauthenticatedRequest) {
  const auto routes = console_->Routes();
  ASSERT_GT(routes.size(), 40u);
  for (const auto& [method, pattern] : routes) {
    const std::string path = Concrete(pattern);
    for (const Params& headers : {Params{}, Params{{"cookie", "mailgate_session=forged"}},
                                  Params{{"authorization", "Bearer mg_forged"}}}) {
      HttpResponse r = Send(method, path, "", headers);
      if (path.starts_with("/api/") || path == "/metrics") {
        EXPECT_EQ(r.status, 401) << method << ' ' << path;
        EXPECT_EQ(r.content_type, "application/json");
        EXPECT_NE(r.body.find("\"error\""), std::string::npos);
      } else {
        EXPECT_EQ(r.status, 303) << method << ' ' << path;
        EXPECT_TRUE(Header(r, "Location").starts_with("/login")) << method << ' ' << path;
      }
    }
  }
}

TEST_F(ConsoleTest, PublicPathsAreHealthLoginAndTheStylesheet) {
  EXPECT_EQ(Send("GET", "/healthz").status, 200);
  EXPECT_EQ(Send("GET", "/static/console.css").content_type, "text/css; charset=utf-8");
  HttpResponse login = Send("GET", "/login?next=/conversations");
  EXPECT_EQ(login.status, 200);
  EXPECT_NE(login.body.find("value=\"/conversations\""), std::string::npos);
  // Only local paths are followed after signing in.
  EXPECT_NE(Send("GET", "/login?next=//evil.example").body.find("name=\"next\" value=\"/\""),
            std::string::npos);
}

TEST_F(ConsoleTest, EveryResponseCarriesTheSecurityHeaders) {
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/login"}, {"GET", "/mailboxes"}, {"GET", "/api/v1/mailboxes"}}) {
    HttpResponse r = Send(method, path);
    EXPECT_EQ(Header(r, "Content-Security-Policy"), kContentSecurityPolicy) << path;
    EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(Header(r, "X-Frame-Options"), "DENY");
  }
}

TEST_F(ConsoleTest, LoginWorksAndWrongPasswordsAreRefused) {
  HttpResponse bad = Send("POST", "/login", "user=admin&password=nope");
  EXPECT_EQ(bad.status, 401);
  EXPECT_NE(bad.body.find("wrong user name or password"), std::string::npos);
  auto [cookie, csrf] = Login();
  HttpResponse page = Send("GET", "/mailboxes", "", {{"cookie", cookie}});
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("No mailboxes are configured."), std::string::npos);
  // Signing out ends the session.
  EXPECT_EQ(Send("POST", "/logout", "csrf=" + csrf, {{"cookie", cookie}}).status, 303);
  EXPECT_EQ(Send("GET", "/mailboxes", "", {{"cookie", cookie}}).status, 303);
}

TEST_F(ConsoleTest, ChangesWithoutTheCsrfTokenAreRefused) {
  auto [cookie, csrf] = Login();
  const std::string form =
      "name=Support&enabled=1&protocol=imap%2Ftls&host=imap.example.com&username=u&password=p"
      "&action=save";
  EXPECT_EQ(Send("POST", "/mailboxes", form, {{"cookie", cookie}}).status, 403);
  EXPECT_EQ(Send("POST", "/mailboxes", form + "&csrf=" + csrf + "0", {{"cookie", cookie}}).status,
            403);
  EXPECT_EQ(Send("DELETE", "/api/v1/mailboxes/x", "", {{"cookie", cookie}}).status, 403);
  EXPECT_FALSE(store_->GetMailbox("Support").ok());
  // A foreign Origin is refused even with the token.
  EXPECT_EQ(Send("POST", "/mailboxes", form + "&csrf=" + csrf,
                 {{"cookie", cookie}, {"origin", "https://evil.example"}})
                .status,
            403);
  HttpResponse ok = Send("POST", "/mailboxes", form + "&csrf=" + csrf, {{"cookie", cookie}});
  EXPECT_EQ(ok.status, 303);
  EXPECT_EQ(Header(ok, "Location"), "/mailboxes/Support?saved=1");
  EXPECT_TRUE(store_->GetMailbox("Support").ok());
  // The header works too (API calls from the console's session).
  EXPECT_EQ(
      Send("DELETE", "/api/v1/mailboxes/Support", "", {{"cookie", cookie}, {"x-csrf-token", csrf}})
          .status,
      204);
}

TEST_F(ConsoleTest, MailboxTestUsesTheUnsavedFormAndShowsTheLog) {
  auto [cookie, csrf] = Login();
  HttpResponse r = Send("POST", "/mailboxes",
                        "csrf=" + csrf +
                            "&name=Office365&enabled=1&protocol=imap%2Ftls&host=outlook."
                            "office365.com&username=you%40example.com&password=pw&action=test",
                        {{"cookie", cookie}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(tester_.mailbox_tests, 1);
  EXPECT_EQ(tester_.last_mailbox.host, "outlook.office365.com");
  EXPECT_NE(r.body.find("id=\"test-log\""), std::string::npos);
  EXPECT_NE(r.body.find("Connected to your mailbox successfully!"), std::string::npos);
  EXPECT_FALSE(store_->GetMailbox("Office365").ok());  // Test does not save
}

TEST_F(ConsoleTest, InvalidFormsSayWhatToFix) {
  auto [cookie, csrf] = Login();
  HttpResponse r =
      Send("POST", "/transports", "csrf=" + csrf + "&name=T&host=&encryption=starttls&action=save",
           {{"cookie", cookie}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("class=\"notice error\""), std::string::npos);
}

TEST_F(ConsoleTest, ApiTokensAuthenticateUntilRevoked) {
  auto token = console_->auth().CreateApiToken("ci");
  ASSERT_TRUE(token.ok());
  const Params bearer = {{"authorization", "Bearer " + *token}};
  EXPECT_EQ(Send("GET", "/api/v1/mailboxes", "", bearer).status, 200);
  // No CSRF token needed with a bearer token.
  HttpResponse created = Send(
      "POST", "/api/v1/mailboxes",
      R"({"name":"Support","protocol":"imap","encryption":"tls","host":"h","username":"u","password":"p"})",
      bearer);
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_NE(created.body.find("\"password_set\":true"), std::string::npos);
  EXPECT_EQ(
      Send(
          "POST", "/api/v1/mailboxes",
          R"({"name":"Support","protocol":"imap","encryption":"tls","host":"h","username":"u","password":"p"})",
          bearer)
          .status,
      409);
  HttpResponse invalid =
      Send("POST", "/api/v1/mailboxes", R"({"name":"X","protocol":"smtp"})", bearer);
  EXPECT_EQ(invalid.status, 400);
  EXPECT_NE(invalid.body.find("\"error\""), std::string::npos);
  EXPECT_EQ(Send("GET", "/api/v1/mailboxes/Nope", "", bearer).status, 404);
  // A bearer token does not open console pages.
  EXPECT_EQ(Send("GET", "/mailboxes", "", bearer).status, 303);
  ASSERT_TRUE(store_->RevokeApiToken("ci").ok());
  EXPECT_EQ(Send("GET", "/api/v1/mailboxes", "", bearer).status, 401);
}

// Records blocking work instead of running it, so a test sees what the
// server's thread would have had to wait for.
class ManualRunner : public BlockingRunner {
 public:
  void Run(std::function<void()> work, std::function<void()> done) override {
    jobs.emplace_back(std::move(work), std::move(done));
  }
  std::vector<std::pair<std::function<void()>, std::function<void()>>> jobs;
};

// Regression: Argon2id ran on the server's io thread at every sign-in and
// stalled every other request meanwhile.
TEST_F(ConsoleTest, PasswordVerificationRunsOffTheServersThread) {
  ManualRunner runner;
  ConsoleDeps deps = Deps();
  deps.blocking = &runner;
  Console console(deps, ConsoleOptions{});
  for (const auto& [password, want] :
       std::vector<std::pair<std::string, int>>{{"nope", 401}, {"pw", 303}}) {
    HttpRequest req;
    req.method = "POST";
    req.path = "/login";
    req.body = "user=admin&password=" + password + "&next=%2Falerts";
    req.headers = {{"host", "127.0.0.1:8025"},
                   {"content-type", "application/x-www-form-urlencoded"}};
    req.remote_ip = "127.0.0.1";
    HttpResponse r = console.Handle(req);
    ASSERT_TRUE(r.later) << "answered inline with " << r.status;
    std::optional<HttpResponse> out;
    r.later([&](HttpResponse x) { out = std::move(x); });
    ASSERT_EQ(runner.jobs.size(), 1u);
    EXPECT_FALSE(out.has_value());  // waits for the verification
    auto [work, done] = std::move(runner.jobs.front());
    runner.jobs.clear();
    std::thread worker(work);  // another thread, as the pool's
    worker.join();
    done();
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(out->status, want) << password;
    EXPECT_EQ(Header(*out, "Content-Security-Policy"), kContentSecurityPolicy);
    if (want == 303) {
      EXPECT_EQ(Header(*out, "Location"), "/alerts");
      EXPECT_TRUE(Header(*out, "Set-Cookie").starts_with("mailgate_session="));
    }
  }
}

TEST_F(ConsoleTest, ActionsNotInThisBuildSaySo) {
  auto token = console_->auth().CreateApiToken("ci");
  const Params bearer = {{"authorization", "Bearer " + *token}};
  HttpResponse r = Send("POST", "/api/v1/jobs/check/run", "", bearer);
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("not available in this build"), std::string::npos);
}

// Two workers behind a balancer: each its own Console, one database.
class AccountsConsoleTest : public ConsoleTest {
 protected:
  void SetUp() override {
    ConsoleTest::SetUp();
    ConsoleDeps deps = Deps();
    deps.http = &http_;
    deps.tokens = &tokens_;
    first_ = std::make_unique<Console>(deps, ConsoleOptions{});
    second_ = std::make_unique<Console>(deps, ConsoleOptions{});
  }
  static HttpResponse Send(Console& c, std::string method, std::string target,
                           std::string body = "", Params headers = {}) {
    return SendTo(c, std::move(method), std::move(target), std::move(body), std::move(headers));
  }
  // Signs in on `c`; returns the session cookie and the CSRF token.
  std::pair<std::string, std::string> SignIn(Console& c) {
    HttpResponse login = Send(c, "POST", "/login", "user=admin&password=pw");
    std::string cookie;
    for (const auto& [k, v] : login.headers) {
      if (k == "Set-Cookie") cookie = v.substr(0, v.find(';'));
    }
    std::smatch m;
    const std::string page = Send(c, "GET", "/accounts", "", {{"cookie", cookie}}).body;
    EXPECT_TRUE(std::regex_search(page, m, std::regex("name=\"csrf\" value=\"([0-9a-f]+)\"")));
    return {cookie, m.size() > 1 ? m[1].str() : std::string()};
  }
  // Signs in on `c`, adds a generic account and presses Connect; returns
  // the session cookie and the authorization's state.
  std::pair<std::string, std::string> StartConnect(Console& c) {
    auto [cookie, csrf] = SignIn(c);
    EXPECT_EQ(Send(c, "POST", "/accounts",
                   "csrf=" + csrf +
                       "&name=idp&provider=generic&client_id=app&scopes=mail"
                       "&auth_url=https%3A%2F%2Fidp.example%2Fauthorize"
                       "&token_url=https%3A%2F%2Fidp.example%2Ftoken",
                   {{"cookie", cookie}})
                  .status,
              303);
    std::smatch m;
    const std::string connecting =
        Send(c, "POST", "/accounts/idp/connect", "csrf=" + csrf, {{"cookie", cookie}}).body;
    EXPECT_TRUE(std::regex_search(connecting, m, std::regex("[?&;]state=([A-Za-z0-9_-]+)")))
        << connecting;
    return {cookie, m.size() > 1 ? m[1].str() : std::string()};
  }

  oauth::ScriptedHttp http_;
  oauth::TokenManager tokens_{*store_, http_, clock_, random_};
  std::unique_ptr<Console> first_, second_;
};

// Regression: the pending authorization lived in the memory of the worker
// that pressed Connect, so a callback that reached another worker failed.
TEST_F(AccountsConsoleTest, TheConnectCallbackMayReachAnotherWorkerOnce) {
  auto [cookie, state] = StartConnect(*first_);
  ASSERT_FALSE(state.empty());
  http_.ThenJson(200, R"({"access_token":"at-1","refresh_token":"rt-1","expires_in":3600,)"
                      R"("token_type":"Bearer"})");
  HttpResponse done = Send(*second_, "GET", "/accounts/callback?code=c0de&state=" + state, "",
                           {{"cookie", cookie}});
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_NE(done.body.find("id=\"connected\""), std::string::npos) << done.body;
  ASSERT_EQ(http_.requests.size(), 1u);
  // The PKCE verifier made the round trip through the store.
  EXPECT_NE(http_.requests[0].body.find("code_verifier="), std::string::npos);
  EXPECT_NE(http_.requests[0].body.find("code=c0de"), std::string::npos);
  EXPECT_EQ(store_->GetAccount("idp")->status, store::AccountStatus::kOk);
  // Single use: the same redirect again, on either worker, is refused
  // without asking the provider.
  for (Console* c : {first_.get(), second_.get()}) {
    HttpResponse again =
        Send(*c, "GET", "/accounts/callback?code=c0de&state=" + state, "", {{"cookie", cookie}});
    EXPECT_EQ(again.status, 400);
    EXPECT_NE(again.body.find("unknown or has expired"), std::string::npos);
  }
  EXPECT_EQ(http_.requests.size(), 1u);
}

TEST_F(AccountsConsoleTest, AnExpiredConnectIsRefused) {
  auto [cookie, state] = StartConnect(*first_);
  clock_.Advance(16 * 60);
  HttpResponse late = Send(*second_, "GET", "/accounts/callback?code=c0de&state=" + state, "",
                           {{"cookie", cookie}});
  EXPECT_EQ(late.status, 400);
  EXPECT_NE(late.body.find("unknown or has expired"), std::string::npos);
  EXPECT_TRUE(http_.requests.empty());
}

// A Microsoft app-only account with a client secret, added on `first_`.
constexpr std::string_view kAppOnlyForm =
    "&name=o365&provider=microsoft&client_id=11111111-2222-3333-4444-555555555555"
    "&tenant=contoso.onmicrosoft.com&client_secret=SECRET-MARKER-7f3a";

TEST_F(AccountsConsoleTest, EditingAnAccountKeepsOrReplacesTheSecretAndNeverShowsIt) {
  auto [cookie, csrf] = SignIn(*first_);
  const Params c = {{"cookie", cookie}};
  ASSERT_EQ(
      Send(*first_, "POST", "/accounts", "csrf=" + csrf + std::string(kAppOnlyForm), c).status,
      303);
  HttpResponse form = Send(*first_, "GET", "/accounts/o365", "", c);
  ASSERT_EQ(form.status, 200);
  EXPECT_NE(form.body.find("id=\"account-edit-form\""), std::string::npos);
  EXPECT_NE(form.body.find("contoso.onmicrosoft.com"), std::string::npos);
  EXPECT_EQ(form.body.find(kMarker), std::string::npos);
  EXPECT_NE(form.body.find("leave blank to keep it"), std::string::npos);

  // A blank secret keeps the stored one; the tenant and scopes change.
  HttpResponse saved = Send(*first_, "POST", "/accounts/o365",
                            "csrf=" + csrf +
                                "&client_id=11111111-2222-3333-4444-555555555555"
                                "&client_secret=&tenant=fabrikam.onmicrosoft.com"
                                "&authority=&scopes=https%3A%2F%2Foutlook.office365.com%2F.default",
                            c);
  EXPECT_EQ(saved.status, 303) << saved.body;
  auto a = store_->GetAccount("o365");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->tenant, "fabrikam.onmicrosoft.com");
  EXPECT_EQ(a->scopes, std::vector<std::string>{"https://outlook.office365.com/.default"});
  EXPECT_EQ(a->client_secret.reveal(), kMarker);
  // A new secret replaces it (an expired client secret).
  ASSERT_EQ(Send(*first_, "POST", "/accounts/o365",
                 "csrf=" + csrf +
                     "&client_id=11111111-2222-3333-4444-555555555555&client_secret=NEW-SECRET"
                     "&tenant=fabrikam.onmicrosoft.com&scopes=",
                 c)
                .status,
            303);
  EXPECT_EQ(store_->GetAccount("o365")->client_secret.reveal(), "NEW-SECRET");
  EXPECT_EQ(Send(*first_, "GET", "/accounts/o365?saved=1", "", c).body.find("NEW-SECRET"),
            std::string::npos);
  // Invalid: said on the form, nothing saved.
  HttpResponse bad = Send(*first_, "POST", "/accounts/o365",
                          "csrf=" + csrf + "&client_id=&tenant=fabrikam.onmicrosoft.com", c);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("class=\"notice error\""), std::string::npos);
  EXPECT_EQ(store_->GetAccount("o365")->client_id, "11111111-2222-3333-4444-555555555555");
  // Removing the secret.
  ASSERT_EQ(Send(*first_, "POST", "/accounts/o365",
                 "csrf=" + csrf +
                     "&client_id=11111111-2222-3333-4444-555555555555&clear_client_secret=1"
                     "&tenant=fabrikam.onmicrosoft.com",
                 c)
                .status,
            303);
  EXPECT_TRUE(store_->GetAccount("o365")->client_secret.empty());
  // Without the CSRF token: refused.
  EXPECT_EQ(Send(*first_, "POST", "/accounts/o365", "client_id=x", c).status, 403);
}

TEST_F(AccountsConsoleTest, ConnectAppOnlyFetchesTheTokenOrShowsTheProvidersError) {
  auto [cookie, csrf] = SignIn(*first_);
  const Params c = {{"cookie", cookie}};
  ASSERT_EQ(
      Send(*first_, "POST", "/accounts", "csrf=" + csrf + std::string(kAppOnlyForm), c).status,
      303);
  EXPECT_NE(Send(*first_, "GET", "/accounts", "", c).body.find("id=\"account-connect-app-o365\""),
            std::string::npos);
  // The provider refuses (an expired client secret): its message is shown.
  http_.ThenJson(401,
                 R"({"error":"invalid_client","error_description":"AADSTS7000222: The provided )"
                 R"(client secret keys for app '1111' are expired.\r\nTrace ID: 42",)"
                 R"("error_codes":[7000222]})");
  HttpResponse refused =
      Send(*first_, "POST", "/accounts/o365/client-credentials", "csrf=" + csrf, c);
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("AADSTS7000222"), std::string::npos) << refused.body;
  EXPECT_EQ(refused.body.find(kMarker), std::string::npos);
  ASSERT_EQ(http_.requests.size(), 1u);
  EXPECT_NE(http_.requests[0].url.find("contoso.onmicrosoft.com/oauth2/v2.0/token"),
            std::string::npos)
      << http_.requests[0].url;
  EXPECT_NE(http_.requests[0].body.find("grant_type=client_credentials"), std::string::npos);

  http_.ThenJson(200, R"({"access_token":"app-at","expires_in":3599,"token_type":"Bearer"})");
  HttpResponse ok = Send(*first_, "POST", "/accounts/o365/client-credentials", "csrf=" + csrf, c);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.body.find("id=\"connected\""), std::string::npos);
  auto a = store_->GetAccount("o365");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->flow, "client-credentials");
  EXPECT_EQ(a->status, store::AccountStatus::kOk);
  EXPECT_EQ(a->access_token.reveal(), "app-at");
}

TEST_F(AccountsConsoleTest, TheApiEditsAnAccountAndConnectsItAppOnly) {
  auto token = first_->auth().CreateApiToken("ci");
  ASSERT_TRUE(token.ok());
  const Params bearer = {{"authorization", "Bearer " + *token}};
  auto json = [&](std::string method, std::string path, std::string body) {
    HttpRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.body = std::move(body);
    r.headers = bearer;
    r.headers.emplace_back("host", "127.0.0.1:8025");
    r.headers.emplace_back("content-type", "application/json");
    r.remote_ip = "127.0.0.1";
    return first_->Handle(r);
  };
  ASSERT_EQ(json("POST", "/api/v1/accounts",
                 R"({"name":"o365","provider":"microsoft","client_id":"11111111-2222-3333-4444-)"
                 R"(555555555555","tenant":"contoso.onmicrosoft.com"})")
                .status,
            201);
  HttpResponse edited =
      json("PATCH", "/api/v1/accounts/o365", R"({"client_secret":"SECRET-MARKER-7f3a"})");
  EXPECT_EQ(edited.status, 200) << edited.body;
  EXPECT_NE(edited.body.find("\"client_secret_set\":true"), std::string::npos);
  EXPECT_EQ(edited.body.find(kMarker), std::string::npos);
  EXPECT_EQ(store_->GetAccount("o365")->tenant, "contoso.onmicrosoft.com");  // unchanged
  EXPECT_EQ(json("PATCH", "/api/v1/accounts/o365", R"({"provider":"google"})").status, 400);
  EXPECT_EQ(json("PATCH", "/api/v1/accounts/nope", R"({"tenant":"x.example"})").status, 404);
  // Endpoint URLs: a Microsoft account has none to change.
  HttpResponse no_urls =
      json("PATCH", "/api/v1/accounts/o365", R"({"token_url":"https://idp.example/token"})");
  EXPECT_EQ(no_urls.status, 400);
  EXPECT_NE(no_urls.body.find("generic provider"), std::string::npos) << no_urls.body;

  http_.ThenJson(400, R"({"error":"invalid_request","error_description":"AADSTS90002: Tenant )"
                      R"('contoso.onmicrosoft.com' not found."})");
  HttpResponse refused = json("POST", "/api/v1/accounts/o365/client-credentials", "");
  EXPECT_EQ(refused.status, 409);
  EXPECT_NE(refused.body.find("AADSTS90002"), std::string::npos) << refused.body;
  http_.ThenJson(200, R"({"access_token":"app-at","expires_in":3599,"token_type":"Bearer"})");
  HttpResponse ok = json("POST", "/api/v1/accounts/o365/client-credentials", "");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.body.find("\"flow\":\"client-credentials\""), std::string::npos) << ok.body;
  EXPECT_NE(ok.body.find("\"status\":\"ok\""), std::string::npos);
  EXPECT_EQ(ok.body.find("app-at"), std::string::npos);
}

// The generic account "idp" holding a grant from its
// token URL.
void GrantIdp(oauth::TokenManager& tokens) {
  oauth::TokenResponse t;
  t.access_token = store::Secret("idp-at");
  t.refresh_token = store::Secret("idp-rt");
  t.expires_in = 3600;
  ASSERT_TRUE(tokens.SaveGrant("idp", oauth::Flow::kBrowser, "https://idp.example/token", t).ok());
}

TEST_F(AccountsConsoleTest, EditingAGenericAccountsUrlsAndANewTokenUrlRemovesTheGrant) {
  auto [cookie, csrf] = SignIn(*first_);
  const Params c = {{"cookie", cookie}};
  ASSERT_EQ(Send(*first_, "POST", "/accounts",
                 "csrf=" + csrf +
                     "&name=idp&provider=generic&client_id=app&scopes=mail"
                     "&auth_url=https%3A%2F%2Fidp.example%2Fauthorize"
                     "&token_url=https%3A%2F%2Fidp.example%2Ftoken",
                 c)
                .status,
            303);
  const std::string page = Send(*first_, "GET", "/accounts/idp", "", c).body;
  EXPECT_NE(page.find("name=\"token_url\""), std::string::npos) << page;
  EXPECT_NE(page.find("https://idp.example/token"), std::string::npos);
  EXPECT_NE(page.find("name=\"device_url\""), std::string::npos);
  GrantIdp(tokens_);
  const std::string fields = "csrf=" + csrf + "&client_id=app&scopes=mail";

  // A new authorization URL: saved, the grant kept.
  HttpResponse saved = Send(*first_, "POST", "/accounts/idp",
                            fields +
                                "&auth_url=https%3A%2F%2Flogin.idp.example%2Fauthorize"
                                "&token_url=https%3A%2F%2Fidp.example%2Ftoken&device_url=",
                            c);
  EXPECT_EQ(saved.status, 303) << saved.body;
  EXPECT_EQ(Header(saved, "Location"), "/accounts/idp?saved=saved");
  EXPECT_EQ(store_->GetAccount("idp")->auth_url, "https://login.idp.example/authorize");
  EXPECT_EQ(store_->GetAccount("idp")->refresh_token.reveal(), "idp-rt");

  // Plain http to another host: refused on the form, nothing saved.
  HttpResponse bad = Send(*first_, "POST", "/accounts/idp",
                          fields + "&token_url=http%3A%2F%2Fidp.example%2Ftoken", c);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("must use https://"), std::string::npos) << bad.body;
  EXPECT_EQ(store_->GetAccount("idp")->token_url, "https://idp.example/token");

  // A new token URL: the grant is removed, and the page says to Connect again.
  HttpResponse moved = Send(*first_, "POST", "/accounts/idp",
                            fields + "&token_url=https%3A%2F%2Flogin.idp.example%2Ftoken", c);
  EXPECT_EQ(moved.status, 303) << moved.body;
  EXPECT_EQ(Header(moved, "Location"), "/accounts/idp?saved=grant-removed");
  auto a = store_->GetAccount("idp");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->token_url, "https://login.idp.example/token");
  EXPECT_EQ(a->status, store::AccountStatus::kNotAuthorized);
  EXPECT_TRUE(a->refresh_token.empty());
  EXPECT_NE(Send(*first_, "GET", "/accounts/idp?saved=grant-removed", "", c)
                .body.find("press Connect to sign in again"),
            std::string::npos);

  // A Microsoft account's form has no endpoint fields, and refuses them.
  ASSERT_EQ(
      Send(*first_, "POST", "/accounts", "csrf=" + csrf + std::string(kAppOnlyForm), c).status,
      303);
  EXPECT_EQ(Send(*first_, "GET", "/accounts/o365", "", c).body.find("name=\"token_url\""),
            std::string::npos);
  HttpResponse refused = Send(*first_, "POST", "/accounts/o365",
                              "csrf=" + csrf +
                                  "&client_id=11111111-2222-3333-4444-555555555555"
                                  "&tenant=contoso.onmicrosoft.com"
                                  "&token_url=https%3A%2F%2Flogin.idp.example%2Ftoken",
                              c);
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("generic provider"), std::string::npos) << refused.body;
}

// --- Over real HTTP -------------------------------------------------------------

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServeOptions o;
    o.listen = "127.0.0.1:0";
    o.on_admin_created = [this](const std::string&, const std::string& p) { password_ = p; };
    server_ = std::make_unique<Server>(o, *store_, actions_);
    auto url = server_->Start();
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    base_ = url->substr(0, url->size() - 1);
    ASSERT_FALSE(password_.empty());
  }
  void TearDown() override { server_->Stop(); }

  http::Response Send(const std::string& method, const std::string& path,
                      const std::string& body = "", http::Headers headers = {}) {
    http::Request r;
    r.method = method;
    r.url = base_ + path;
    r.body = body;
    r.headers = std::move(headers);
    if (!body.empty() && body.front() != '{') {
      r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    } else if (!body.empty()) {
      r.headers.emplace_back("Content-Type", "application/json");
    }
    auto res = client_->Send(r);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? *res : http::Response{};
  }

  test::TempStore store_;
  NullConsoleActions actions_;
  std::string password_;
  std::unique_ptr<Server> server_;
  std::string base_;
  std::unique_ptr<http::HttpClient> client_ = http::NewCurlHttpClient({});
};

TEST_F(ServerTest, SecretsNeverLeaveAndAuthenticationHoldsOverHttp) {
  // Unauthenticated: refused.
  EXPECT_EQ(Send("GET", "/mailboxes").status, 303);
  EXPECT_EQ(Send("GET", "/api/v1/accounts").status, 401);
  EXPECT_EQ(Send("GET", "/healthz").status, 200);

  // Sign in with the password printed on first start.
  http::Response login = Send("POST", "/login", "user=admin&password=" + password_);
  ASSERT_EQ(login.status, 303);
  const std::string set_cookie(login.Header("set-cookie"));
  ASSERT_TRUE(set_cookie.starts_with("mailgate_session="));
  const http::Headers cookie = {{"Cookie", set_cookie.substr(0, set_cookie.find(';'))}};
  http::Response page = Send("GET", "/accounts", "", cookie);
  ASSERT_EQ(page.status, 200);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(page.body, m, std::regex("name=\"csrf\" value=\"([0-9a-f]+)\"")));
  const std::string csrf = m[1].str();

  // Without the CSRF token: refused.
  EXPECT_EQ(Send("POST", "/tokens", "name=ci", cookie).status, 403);

  // Secrets go in through the console and the API...
  const std::string marker(kMarker);
  ASSERT_EQ(
      Send("POST", "/accounts",
           "csrf=" + csrf + "&name=o365&provider=microsoft&client_id=abc&client_secret=" + marker,
           cookie)
          .status,
      303);
  ASSERT_EQ(Send("POST", "/transports",
                 "csrf=" + csrf +
                     "&name=smtp&host=smtp.example.com&encryption=starttls&auth_enabled=1"
                     "&username=u&password=" +
                     marker + "&action=save",
                 cookie)
                .status,
            303);
  http::Response token_page = Send("POST", "/tokens", "csrf=" + csrf + "&name=ci", cookie);
  ASSERT_EQ(token_page.status, 201);
  ASSERT_TRUE(std::regex_search(token_page.body, m, std::regex("(mg_[A-Za-z0-9_-]{40,})")));
  const std::string token = m[1].str();
  const http::Headers bearer = {{"Authorization", "Bearer " + token}};
  ASSERT_EQ(
      Send(
          "POST", "/api/v1/mailboxes",
          R"({"name":"mb","protocol":"imap","encryption":"tls","host":"h","username":"u","password":")" +
              marker + "\"}",
          bearer)
          .status,
      201);

  // ...and never come back out, on any page or API call.
  for (const std::string path :
       {"/accounts", "/transports", "/transports/smtp", "/mailboxes", "/mailboxes/mb", "/alerts",
        "/scheduler", "/tokens", "/conversations"}) {
    http::Response r = Send("GET", path, "", cookie);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body.find(marker), std::string::npos) << path;
    EXPECT_EQ(r.body.find(token), std::string::npos) << path;
  }
  for (const std::string path :
       {"/api/v1/accounts", "/api/v1/accounts/o365", "/api/v1/transports",
        "/api/v1/transports/smtp", "/api/v1/mailboxes", "/api/v1/mailboxes/mb", "/api/v1/runs",
        "/api/v1/alerts", "/api/v1/quarantine", "/api/v1/conversations", "/api/v1/jobs"}) {
    http::Response r = Send("GET", path, "", bearer);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body.find(marker), std::string::npos) << path;
    EXPECT_TRUE(r.body.starts_with("[") || r.body.starts_with("{")) << path << r.body;
  }
  EXPECT_NE(Send("GET", "/api/v1/mailboxes/mb", "", bearer).body.find("\"password_set\":true"),
            std::string::npos);
  EXPECT_NE(
      Send("GET", "/api/v1/accounts/o365", "", bearer).body.find("\"client_secret_set\":true"),
      std::string::npos);

  // Revoked from the console: the token stops working.
  EXPECT_EQ(Send("POST", "/tokens/ci/revoke", "csrf=" + csrf, cookie).status, 303);
  EXPECT_EQ(Send("GET", "/api/v1/mailboxes", "", bearer).status, 401);
}

// A token endpoint that answers only when the test releases it.
class HeldTokenEndpoint : public http::HttpClient {
 public:
  StatusOr<http::Response> Send(const http::Request& request) override {
    std::unique_lock l(mu_);
    requests_.push_back(request);
    cv_.notify_all();
    cv_.wait(l, [this] { return released_; });
    http::Response r;
    r.status = 200;
    r.body = R"({"access_token":"at-1","refresh_token":"rt-1","expires_in":3600,)"
             R"("token_type":"Bearer"})";
    return r;
  }
  void WaitForRequest() {
    std::unique_lock l(mu_);
    cv_.wait(l, [this] { return !requests_.empty(); });
  }
  void Release() {
    std::lock_guard l(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<http::Request> requests_;
  bool released_ = false;
};

// Regression: the Connect callback redeemed its code on the server's io
// thread, so a slow token endpoint stalled every request (even /healthz).
TEST(ServerBlockingTest, ASlowTokenEndpointDoesNotStallOtherRequests) {
  test::TempStore store;
  NullConsoleActions actions;
  HeldTokenEndpoint endpoint;
  oauth::FakeClock clock;
  oauth::FakeRandom random;
  oauth::TokenManager tokens(*store, endpoint, clock, random);
  ServeOptions o;
  o.listen = "127.0.0.1:0";
  std::string password;
  o.on_admin_created = [&](const std::string&, const std::string& p) { password = p; };
  o.http = &endpoint;
  o.token_manager = &tokens;
  Server server(o, *store, actions);
  auto url = server.Start();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  const std::string base = url->substr(0, url->size() - 1);
  auto client = http::NewCurlHttpClient({});
  auto send = [&](const std::string& method, const std::string& path, const std::string& body,
                  http::Headers headers) {
    http::Request r;
    r.method = method;
    r.url = base + path;
    r.body = body;
    r.headers = std::move(headers);
    if (!body.empty()) r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    auto res = client->Send(r);
    EXPECT_TRUE(res.ok()) << path << ": " << res.status().ToString();
    return res.ok() ? *res : http::Response{};
  };
  http::Response login = send("POST", "/login", "user=admin&password=" + password, {});
  ASSERT_EQ(login.status, 303);
  const std::string set_cookie(login.Header("set-cookie"));
  const http::Headers cookie = {{"Cookie", set_cookie.substr(0, set_cookie.find(';'))}};
  std::smatch m;
  const std::string page = send("GET", "/accounts", "", cookie).body;
  ASSERT_TRUE(std::regex_search(page, m, std::regex("name=\"csrf\" value=\"([0-9a-f]+)\"")));
  const std::string csrf = m[1].str();
  ASSERT_EQ(send("POST", "/accounts",
                 "csrf=" + csrf +
                     "&name=idp&provider=generic&client_id=app&scopes=mail"
                     "&auth_url=http%3A%2F%2F127.0.0.1%3A9%2Fauthorize"
                     "&token_url=http%3A%2F%2F127.0.0.1%3A9%2Ftoken",
                 cookie)
                .status,
            303);
  const std::string connecting = send("POST", "/accounts/idp/connect", "csrf=" + csrf, cookie).body;
  ASSERT_TRUE(std::regex_search(connecting, m, std::regex("[?&;]state=([A-Za-z0-9_-]+)")))
      << connecting;
  const std::string state = m[1].str();

  http::Response callback;
  std::thread browser(
      [&] { callback = send("GET", "/accounts/callback?code=c0de&state=" + state, "", cookie); });
  endpoint.WaitForRequest();
  // The code is being redeemed and the endpoint holds on: the server still
  // answers everyone else.
  EXPECT_EQ(send("GET", "/healthz", "", {}).status, 200);
  EXPECT_EQ(send("GET", "/accounts", "", cookie).status, 200);
  endpoint.Release();
  browser.join();
  EXPECT_EQ(callback.status, 200) << callback.body;
  EXPECT_NE(callback.body.find("id=\"connected\""), std::string::npos) << callback.body;
  auto account = store->GetAccount("idp");
  ASSERT_TRUE(account.ok());
  EXPECT_EQ(account->status, store::AccountStatus::kOk);
  server.Stop();
}

}  // namespace
}  // namespace mailgate::web

namespace mailgate::web {
namespace {

// With a certificate and key the console speaks HTTPS (verified by a client
// that trusts the issuing CA), says so in its URL, and marks cookies Secure.
TEST(HttpsServerTest, ServesTheConsoleOverVerifiedTls) {
  mailgate::testing::TestCerts certs;
  const mailgate::testing::CertFiles ca = certs.MakeCa("Console Test CA");
  const mailgate::testing::CertFiles leaf = certs.MakeLeaf(ca, {"127.0.0.1"});
  test::TempStore store;
  NullConsoleActions actions;
  ServeOptions o;
  o.listen = "127.0.0.1:0";
  o.tls_cert_file = leaf.cert;
  o.tls_key_file = leaf.key;
  std::string password;
  o.on_admin_created = [&](const std::string&, const std::string& p) { password = p; };
  Server server(o, *store, actions);
  auto url = server.Start();
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_TRUE(url->starts_with("https://127.0.0.1:")) << *url;

  auto client = http::NewCurlHttpClient({.ca_file = ca.cert});
  http::Request r;
  r.method = "POST";
  r.url = *url + "login";
  r.body = "user=admin&password=" + password;
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  auto res = client->Send(r);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 303);
  EXPECT_NE(std::string(res->Header("set-cookie")).find("Secure"), std::string::npos);

  // A client that does not trust the CA is refused by its own verification.
  auto untrusting = http::NewCurlHttpClient({});
  http::Request plain;
  plain.url = *url + "healthz";
  EXPECT_FALSE(untrusting->Send(plain).ok());
  server.Stop();

  ServeOptions half = o;
  half.tls_key_file.clear();
  Server bad(half, *store, actions);
  EXPECT_EQ(bad.Start().status().kind(), Status::Kind::kInvalidArgument);
}

}  // namespace
}  // namespace mailgate::web
