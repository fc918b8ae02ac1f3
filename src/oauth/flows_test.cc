#include "oauth/flows.h"

#include <gtest/gtest.h>

#include "oauth/fakes_for_test.h"

namespace mailgate::oauth {
namespace {

Endpoints TestEndpoints() {
  Endpoints e;
  e.authorize = "https://idp.test/t/oauth2/v2.0/authorize";
  e.token = "https://idp.test/t/oauth2/v2.0/token";
  e.device = "https://idp.test/t/oauth2/v2.0/devicecode";
  return e;
}

TEST(PkceTest, S256MatchesRfc7636AppendixB) {
  EXPECT_EQ(CodeChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(AuthorizationCodeTest, UrlCarriesStateChallengeAndScopes) {
  FakeRandom random;
  auto r = BuildAuthorizationRequest(TestEndpoints(), "cid", {"offline_access", "a/b"},
                                     "http://127.0.0.1:5555/", random, "u@x.test");
  EXPECT_TRUE(r.url.starts_with("https://idp.test/t/oauth2/v2.0/authorize?client_id=cid&"));
  EXPECT_NE(r.url.find("state=" + r.state), std::string::npos);
  EXPECT_NE(r.url.find("code_challenge=" + CodeChallengeS256(r.code_verifier.reveal())),
            std::string::npos);
  EXPECT_NE(r.url.find("code_challenge_method=S256"), std::string::npos);
  EXPECT_NE(r.url.find("redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2F"), std::string::npos);
  EXPECT_NE(r.url.find("login_hint=u%40x.test"), std::string::npos);
  EXPECT_EQ(r.url.find(r.code_verifier.reveal()), std::string::npos) << "verifier stays secret";
}

TEST(AuthorizationCodeTest, WrongStateNeverReachesTheProvider) {
  FakeRandom random;
  ScriptedHttp http;
  auto r = BuildAuthorizationRequest(TestEndpoints(), "cid", {"s"}, "http://127.0.0.1:1/", random);
  AuthorizationResponse resp{"the-code", "forged-state", "", ""};
  auto t = CompleteAuthorization(http, r, {"cid", {}}, resp, {}, nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("state mismatch"), std::string::npos);
  EXPECT_TRUE(http.requests.empty());
}

TEST(AuthorizationCodeTest, RedeemsTheCodeWithTheVerifier) {
  FakeRandom random;
  ScriptedHttp http;
  http.ThenJson(200, R"({"access_token":"AT","refresh_token":"RT","expires_in":3599})");
  auto r = BuildAuthorizationRequest(TestEndpoints(), "cid", {"s"}, "http://127.0.0.1:1/", random);
  auto t = CompleteAuthorization(http, r, {"cid", {}}, {"the-code", r.state, "", ""}, {}, nullptr);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->access_token.reveal(), "AT");
  EXPECT_EQ(t->refresh_token.reveal(), "RT");
  EXPECT_EQ(t->expires_in, 3599);
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(http.requests[0].url, TestEndpoints().token);
  const auto& body = http.requests[0].body;
  EXPECT_NE(body.find("grant_type=authorization_code"), std::string::npos);
  EXPECT_NE(body.find("code=the-code"), std::string::npos);
  EXPECT_NE(body.find("code_verifier=" + r.code_verifier.reveal()), std::string::npos);
}

TEST(AuthorizationCodeTest, ProviderRefusalCarriesTheAadstsCode) {
  FakeRandom random;
  ScriptedHttp http;
  auto r = BuildAuthorizationRequest(TestEndpoints(), "cid", {"s"}, "http://127.0.0.1:1/", random);
  OAuthError e;
  auto t = CompleteAuthorization(
      http, r, {"cid", {}},
      {"", r.state, "access_denied", "AADSTS65004: User declined to consent.\r\nTrace ID: x"}, {},
      &e);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().kind(), Status::Kind::kAuth);
  EXPECT_EQ(e.code, "AADSTS65004");
  EXPECT_EQ(t.status().message().find("Trace ID"), std::string::npos);
}

TEST(TokenEndpointTest, MicrosoftErrorIsParsedWithoutTraceLines) {
  ScriptedHttp http;
  http.ThenJson(
      400,
      R"({"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity.\r\nTrace ID: abc\r\nCorrelation ID: def","error_codes":[700082]})");
  OAuthError e;
  auto t =
      RefreshGrant(http, "https://idp.test/token", {"cid", {}}, store::Secret("RT"), {}, {}, &e);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().kind(), Status::Kind::kAuth);
  EXPECT_EQ(e.error, "invalid_grant");
  EXPECT_EQ(e.code, "AADSTS700082");
  EXPECT_EQ(e.description, "The refresh token has expired due to inactivity.");
  EXPECT_EQ(t.status().message(),
            "invalid_grant: AADSTS700082: The refresh token has expired due to inactivity.");
}

TEST(TokenEndpointTest, ServiceUnavailableIsTransientWithRetryAfter) {
  ScriptedHttp http;
  http.Then([](const http::Request&) -> StatusOr<http::Response> {
    http::Response r;
    r.status = 503;
    r.headers = {{"retry-after", "12"}};
    r.body = R"({"error":"temporarily_unavailable","error_description":"AADSTS90033: busy"})";
    return r;
  });
  OAuthError e;
  auto t =
      RefreshGrant(http, "https://idp.test/token", {"cid", {}}, store::Secret("RT"), {}, {}, &e);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().kind(), Status::Kind::kTransient);
  EXPECT_EQ(e.retry_after, 12);
}

TEST(TokenEndpointTest, HtmlFromAWrongUrlSaysToCheckIt) {
  ScriptedHttp http;
  http.ThenJson(404, "<html>not found</html>");
  auto t = RefreshGrant(http, "https://idp.test/token", {"cid", {}}, store::Secret("RT"), {}, {},
                        nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().kind(), Status::Kind::kProtocol);
  EXPECT_NE(t.status().message().find("check the token URL"), std::string::npos);
}

TEST(TokenEndpointTest, ClientSecretIsSentButNeverInErrors) {
  ScriptedHttp http;
  http.ThenJson(
      401,
      R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."})");
  auto t = ClientCredentialsGrant(http, "https://idp.test/token", {"cid", store::Secret("s3cr3t")},
                                  {"https://outlook.office365.com/.default"}, {}, nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().kind(), Status::Kind::kAuth);
  EXPECT_NE(http.requests[0].body.find("client_secret=s3cr3t"), std::string::npos);
  EXPECT_EQ(t.status().message().find("s3cr3t"), std::string::npos);
}

TEST(DeviceCodeTest, PollsAtTheIntervalAndSlowsDown) {
  ScriptedHttp http;
  FakeClock clock;
  http.ThenJson(
      200,
      R"({"device_code":"DC","user_code":"ABC","verification_uri":"https://idp.test/devicelogin","expires_in":900,"interval":5})");
  http.ThenJson(400,
                R"({"error":"authorization_pending","error_description":"AADSTS70016: pending"})");
  http.ThenJson(400, R"({"error":"slow_down","error_description":"slow down"})");
  http.ThenJson(400,
                R"({"error":"authorization_pending","error_description":"AADSTS70016: pending"})");
  http.ThenJson(200, R"({"access_token":"AT","refresh_token":"RT","expires_in":3600})");
  auto d = StartDeviceAuthorization(http, TestEndpoints(), {"cid", {}}, {"s"}, {});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->user_code, "ABC");
  auto t = PollDeviceAuthorization(http, clock, TestEndpoints(), {"cid", {}}, *d, {}, nullptr);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  using std::chrono::seconds;
  ASSERT_EQ(clock.sleeps.size(), 4u);
  EXPECT_EQ(clock.sleeps[0], seconds(5));
  EXPECT_EQ(clock.sleeps[1], seconds(5));
  EXPECT_EQ(clock.sleeps[2], seconds(10)) << "slow_down adds 5 s";
  EXPECT_EQ(clock.sleeps[3], seconds(10));
}

TEST(DeviceCodeTest, StopsAtExpiry) {
  ScriptedHttp http;
  FakeClock clock;
  for (int i = 0; i < 10; ++i) {
    http.ThenJson(400, R"({"error":"authorization_pending","error_description":"pending"})");
  }
  DeviceAuthorization d;
  d.device_code = store::Secret("DC");
  d.expires_in = 30;
  d.interval = 10;
  auto t = PollDeviceAuthorization(http, clock, TestEndpoints(), {"cid", {}}, d, {}, nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("expired"), std::string::npos);
  EXPECT_EQ(http.requests.size(), 2u);
}

}  // namespace
}  // namespace mailgate::oauth
