#include "web/auth.h"

#include <gtest/gtest.h>

#include "base/sha256.h"
#include "web/web_test_support.h"

namespace mailgate::web {
namespace {

TEST(PasswordTest, Argon2idHashesVerifyOnlyTheirPassword) {
  auto hash = HashPassword("correct horse");
  ASSERT_TRUE(hash.ok()) << hash.status().ToString();
  EXPECT_TRUE(hash->starts_with("$argon2id$")) << *hash;
  EXPECT_TRUE(VerifyPassword(*hash, "correct horse"));
  EXPECT_FALSE(VerifyPassword(*hash, "correct horse "));
  EXPECT_FALSE(VerifyPassword(*hash, ""));
  EXPECT_FALSE(VerifyPassword("", "correct horse"));
  EXPECT_FALSE(VerifyPassword("garbage", "correct horse"));
  EXPECT_NE(*HashPassword("correct horse"), *hash);  // salted
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        store_->SetConsolePassword("admin", *HashPassword("s3cret"), clock_.NowSeconds()).ok());
  }
  test::TempStore store_;
  oauth::FakeClock clock_;
  oauth::FakeRandom random_;
  Authenticator auth_{*store_, clock_, random_};

  std::string SessionId(const std::string& set_cookie) {
    const size_t eq = set_cookie.find('=');
    return set_cookie.substr(eq + 1, set_cookie.find(';') - eq - 1);
  }
};

TEST_F(AuthTest, FirstStartCreatesAnAdministratorOnce) {
  test::TempStore fresh;
  Authenticator auth(*fresh, clock_, random_);
  std::string user, password;
  ASSERT_TRUE(auth.EnsureAdministrator([&](const std::string& u, const std::string& p) {
                    user = u;
                    password = p;
                  })
                  .ok());
  EXPECT_EQ(user, "admin");
  EXPECT_GE(password.size(), 16u);
  EXPECT_TRUE(VerifyPassword(fresh->GetConsoleUser("admin")->password_hash, password));
  int calls = 0;
  ASSERT_TRUE(auth.EnsureAdministrator([&](auto&, auto&) { ++calls; }).ok());
  EXPECT_EQ(calls, 0);
}

TEST_F(AuthTest, LoginSetsAStrictHttpOnlyCookieAndStoresOnlyItsHash) {
  auto r = auth_.Login("admin", "s3cret", "192.0.2.1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->set_cookie.starts_with("mailgate_session="));
  EXPECT_NE(r->set_cookie.find("; HttpOnly"), std::string::npos);
  EXPECT_NE(r->set_cookie.find("; SameSite=Strict"), std::string::npos);
  EXPECT_NE(r->set_cookie.find("; Path=/"), std::string::npos);
  EXPECT_EQ(r->set_cookie.find("Secure"), std::string::npos);  // plain HTTP here
  const std::string id = SessionId(r->set_cookie);
  EXPECT_GE(id.size(), 32u);  // FakeRandom: 32 characters and a counter
  EXPECT_EQ(store_->GetConsoleSession(id, clock_.NowSeconds()).status().kind(),
            Status::Kind::kNotFound);
  EXPECT_TRUE(store_->GetConsoleSession(Sha256Hex(id), clock_.NowSeconds()).ok());

  auto p = auth_.FromSessionCookie(id);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->user, "admin");
  EXPECT_EQ(p->csrf, Authenticator::CsrfTokenFor(id));
  EXPECT_NE(p->csrf, p->session_hash);
}

TEST_F(AuthTest, SecureCookieOverTls) {
  Authenticator tls(*store_, clock_, random_, AuthOptions{.secure_cookie = true});
  auto r = tls.Login("admin", "s3cret", "192.0.2.1");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->set_cookie.find("; Secure"), std::string::npos);
}

TEST_F(AuthTest, SessionsExpireAfterTwelveIdleHoursAndActivityExtendsThem) {
  const std::string id = SessionId(auth_.Login("admin", "s3cret", "ip")->set_cookie);
  clock_.Advance(11 * 3600);
  ASSERT_TRUE(auth_.FromSessionCookie(id).ok());  // activity: 12 more hours
  clock_.Advance(11 * 3600);
  ASSERT_TRUE(auth_.FromSessionCookie(id).ok());
  clock_.Advance(12 * 3600 + 1);
  EXPECT_EQ(auth_.FromSessionCookie(id).status().kind(), Status::Kind::kNotFound);
}

TEST_F(AuthTest, LogoutEndsTheSession) {
  const std::string id = SessionId(auth_.Login("admin", "s3cret", "ip")->set_cookie);
  auto p = auth_.FromSessionCookie(id);
  ASSERT_TRUE(p.ok());
  const std::string cleared = auth_.Logout(*p);
  EXPECT_NE(cleared.find("Max-Age=0"), std::string::npos);
  EXPECT_FALSE(auth_.FromSessionCookie(id).ok());
}

TEST_F(AuthTest, WrongPasswordAndUnknownUserGetTheSameAnswer) {
  auto wrong = auth_.Login("admin", "nope", "ip");
  auto unknown = auth_.Login("root", "s3cret", "ip");
  EXPECT_EQ(wrong.status().kind(), Status::Kind::kAuth);
  EXPECT_EQ(unknown.status().kind(), Status::Kind::kAuth);
  EXPECT_EQ(wrong.status().message(), unknown.status().message());
}

TEST_F(AuthTest, CsrfTokenIsComparedExactly) {
  const std::string id = SessionId(auth_.Login("admin", "s3cret", "ip")->set_cookie);
  auto p = auth_.FromSessionCookie(id);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(Authenticator::CheckCsrf(*p, p->csrf));
  EXPECT_FALSE(Authenticator::CheckCsrf(*p, ""));
  EXPECT_FALSE(Authenticator::CheckCsrf(*p, p->csrf.substr(1)));
  std::string flipped = p->csrf;
  flipped.back() = flipped.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(Authenticator::CheckCsrf(*p, flipped));
  // Another session's token does not fit.
  const std::string other = SessionId(auth_.Login("admin", "s3cret", "ip")->set_cookie);
  EXPECT_FALSE(Authenticator::CheckCsrf(*p, Authenticator::CsrfTokenFor(other)));
  // API tokens carry no CSRF token at all.
  Principal api;
  api.via = Principal::Via::kApiToken;
  EXPECT_FALSE(Authenticator::CheckCsrf(api, ""));
}

TEST_F(AuthTest, FiveFailuresForAUserLockItForAGrowingDelay) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(auth_.Login("admin", "wrong", "10.0.0." + std::to_string(i)).status().kind(),
              Status::Kind::kAuth);
  }
  // Even the right password is refused now, without being checked.
  auto locked = auth_.Login("admin", "s3cret", "10.0.0.99");
  EXPECT_EQ(locked.status().kind(), Status::Kind::kTransient);
  EXPECT_NE(locked.status().message().find("try again in 30 seconds"), std::string::npos)
      << locked.status().message();
  clock_.Advance(31);
  EXPECT_EQ(auth_.Login("admin", "wrong", "10.0.0.6").status().kind(), Status::Kind::kAuth);
  auto longer = auth_.Login("admin", "s3cret", "10.0.0.99");
  EXPECT_NE(longer.status().message().find("try again in 60 seconds"), std::string::npos)
      << longer.status().message();
  clock_.Advance(61);
  ASSERT_TRUE(auth_.Login("admin", "s3cret", "10.0.0.99").ok());
  // Success clears the count.
  EXPECT_EQ(*auth_.ThrottledFor("user:admin"), 0);
}

TEST_F(AuthTest, FiveFailuresFromAnAddressLockItForEveryUser) {
  for (int i = 0; i < 5; ++i) (void)auth_.Login("user" + std::to_string(i), "x", "203.0.113.7");
  EXPECT_EQ(auth_.Login("admin", "s3cret", "203.0.113.7").status().kind(),
            Status::Kind::kTransient);
  EXPECT_TRUE(auth_.Login("admin", "s3cret", "203.0.113.8").ok());
}

TEST_F(AuthTest, FailuresOlderThanFifteenMinutesAreForgotten) {
  for (int i = 0; i < 4; ++i) (void)auth_.Login("admin", "wrong", "ip");
  clock_.Advance(15 * 60 + 1);
  (void)auth_.Login("admin", "wrong", "ip");
  EXPECT_TRUE(auth_.Login("admin", "s3cret", "ip").ok());
}

TEST_F(AuthTest, ApiTokensWorkUntilRevokedAndOnlyTheirHashIsStored) {
  auto token = auth_.CreateApiToken("ci");
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_TRUE(token->starts_with("mg_"));
  auto listed = store_->ListApiTokens();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].token_hash, Sha256Hex(*token));
  EXPECT_TRUE(token->starts_with((*listed)[0].prefix));
  EXPECT_LT((*listed)[0].prefix.size(), 12u);

  auto p = auth_.FromApiToken(*token);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->via, Principal::Via::kApiToken);
  EXPECT_EQ(p->user, "api-token:ci");
  EXPECT_FALSE(auth_.FromApiToken(*token + "x").ok());
  EXPECT_FALSE(auth_.FromApiToken("mg_").ok());
  ASSERT_TRUE(store_->RevokeApiToken("ci").ok());
  EXPECT_FALSE(auth_.FromApiToken(*token).ok());
  EXPECT_EQ(auth_.CreateApiToken("").status().kind(), Status::Kind::kInvalidArgument);
}

}  // namespace
}  // namespace mailgate::web
