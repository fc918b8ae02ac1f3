#include "sasl/sasl.h"

#include <gtest/gtest.h>

#include <string>

namespace mailgate::sasl {
namespace {

using namespace std::string_literals;

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    auto d = Base64Decode(encoded);
    ASSERT_TRUE(d.ok()) << encoded;
    EXPECT_EQ(*d, plain);
  }
}

TEST(Base64Test, AllByteValuesRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    const std::string part = all.substr(0, n);
    auto d = Base64Decode(Base64Encode(part));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, part);
  }
}

TEST(Base64Test, StrictDecodingRejectsNonCanonicalInput) {
  for (const char* bad : {"Zg", "Zg=", "Zg===", "Z===", "====", "Zm9v\r\n", "Zm 9", "Zm=v",
                          "Zh==",  // non-zero padding bits
                          "Zm9=",  // non-zero padding bits
                          "Zm9v-_==", "Zm9\x80"}) {
    auto d = Base64Decode(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) {
      EXPECT_EQ(d.status().kind(), Status::Kind::kProtocol);
    }
  }
}

TEST(MechanismTest, NamesRoundTrip) {
  for (Mechanism m :
       {Mechanism::kXoauth2, Mechanism::kOauthBearer, Mechanism::kPlain, Mechanism::kLogin}) {
    EXPECT_EQ(ParseMechanism(MechanismName(m)), m);
  }
  EXPECT_EQ(ParseMechanism("xoauth2"), Mechanism::kXoauth2);
  EXPECT_EQ(ParseMechanism("oAuthBearer"), Mechanism::kOauthBearer);
  EXPECT_FALSE(ParseMechanism("CRAM-MD5").has_value());
  EXPECT_TRUE(IsOAuth(Mechanism::kXoauth2));
  EXPECT_TRUE(IsOAuth(Mechanism::kOauthBearer));
  EXPECT_FALSE(IsOAuth(Mechanism::kPlain));
  EXPECT_FALSE(IsOAuth(Mechanism::kLogin));
}

TEST(ChooseTest, TokenPrefersXoauth2ThenOauthBearer) {
  EXPECT_EQ(*Choose(std::nullopt, {"PLAIN", "XOAUTH2", "OAUTHBEARER"}, true), Mechanism::kXoauth2);
  EXPECT_EQ(*Choose(std::nullopt, {"plain", "oauthbearer"}, true), Mechanism::kOauthBearer);
}

TEST(ChooseTest, PasswordPrefersPlainThenLogin) {
  EXPECT_EQ(*Choose(std::nullopt, {"LOGIN", "PLAIN", "XOAUTH2"}, false), Mechanism::kPlain);
  EXPECT_EQ(*Choose(std::nullopt, {"LOGIN", "XOAUTH2"}, false), Mechanism::kLogin);
}

TEST(ChooseTest, NothingUsableSaysWhatTheServerOffers) {
  auto r = Choose(std::nullopt, {"PLAIN", "LOGIN"}, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), Status::Kind::kAuth);
  EXPECT_NE(r.status().message().find("PLAIN LOGIN"), std::string::npos);
  EXPECT_NE(r.status().message().find("XOAUTH2"), std::string::npos);
}

TEST(ChooseTest, ConfiguredMechanismMustBeOfferedWhenTheServerListsAny) {
  EXPECT_EQ(*Choose(Mechanism::kOauthBearer, {"XOAUTH2", "OAUTHBEARER"}, true),
            Mechanism::kOauthBearer);
  EXPECT_EQ(*Choose(Mechanism::kLogin, {}, false), Mechanism::kLogin);
  auto r = Choose(Mechanism::kOauthBearer, {"XOAUTH2", "PLAIN"}, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), Status::Kind::kAuth);
  EXPECT_NE(r.status().message().find("does not offer SASL OAUTHBEARER"), std::string::npos);
}

TEST(ChooseTest, ConfiguredMechanismMustMatchTheSecret) {
  auto r = Choose(Mechanism::kPlain, {"PLAIN"}, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), Status::Kind::kInvalidArgument);
  EXPECT_FALSE(Choose(Mechanism::kXoauth2, {"XOAUTH2"}, false).ok());
}

// Google's documented example (developers.google.com/gmail/imap/xoauth2-protocol).
TEST(XOAuth2Test, GoogleExample) {
  Exchange x(Mechanism::kXoauth2,
             {"someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", "", 0});
  ASSERT_TRUE(x.Validate().ok());
  auto ir = x.InitialResponse();
  ASSERT_TRUE(ir.has_value());
  EXPECT_EQ(*ir,
            "user=someuser@example.com\x01"
            "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01");
  EXPECT_EQ(Base64Encode(*ir),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNr"
            "QmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
}

// Dovecot and Google answer a bad token with a continuation carrying JSON; the client
// answers with an empty response and reads the final NO.
TEST(XOAuth2Test, ErrorChallengeGetsEmptyResponseAndIsRecorded) {
  Exchange x(Mechanism::kXoauth2, {"u@example.test", "tok", "", 0});
  auto r = x.Respond(
      R"({"status":"401","schemes":"bearer","scope":"https://outlook.office.com/IMAP.AccessAsUser.All"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "");
  EXPECT_EQ(x.oauth_error(),
            "status 401, schemes bearer, scope https://outlook.office.com/IMAP.AccessAsUser.All");
  // A second challenge has no answer.
  auto again = x.Respond("{}");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().kind(), Status::Kind::kProtocol);
}

TEST(XOAuth2Test, EmptyFirstChallengeYieldsTheInitialResponse) {
  Exchange x(Mechanism::kXoauth2, {"u@example.test", "tok", "", 0});
  auto r = x.Respond("");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, *x.InitialResponse());
  auto e = x.Respond(R"({"status":"400"})");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, "");
  EXPECT_EQ(x.oauth_error(), "status 400");
}

TEST(XOAuth2Test, SixteenKibTokenIsCarriedWhole) {
  std::string token(16 * 1024, 'A');
  for (std::size_t i = 0; i < token.size(); ++i) token[i] = "abcXYZ019-._~+/"[i % 15];
  Exchange x(Mechanism::kXoauth2, {"big@example.test", token, "", 0});
  ASSERT_TRUE(x.Validate().ok());
  const std::string ir = *x.InitialResponse();
  EXPECT_EQ(ir.size(), token.size() + std::string("user=big@example.test\x01"
                                                  "auth=Bearer \x01\x01")
                                          .size());
  auto back = Base64Decode(Base64Encode(ir));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, ir);
}

TEST(XOAuth2Test, ValidateRejectsTokensThatBreakFraming) {
  EXPECT_EQ(Exchange(Mechanism::kXoauth2, {"u",
                                           "a\x01"
                                           "b",
                                           "", 0})
                .Validate()
                .kind(),
            Status::Kind::kInvalidArgument);
  EXPECT_FALSE(Exchange(Mechanism::kXoauth2, {"u", "tok\n", "", 0}).Validate().ok());
  EXPECT_FALSE(Exchange(Mechanism::kXoauth2, {"u", "", "", 0}).Validate().ok());
  EXPECT_FALSE(Exchange(Mechanism::kXoauth2, {"u\x01", "tok", "", 0}).Validate().ok());
  // The message never repeats the secret.
  Status s = Exchange(Mechanism::kXoauth2, {"u", "secret-tok en", "", 0}).Validate();
  EXPECT_EQ(s.message().find("secret-tok"), std::string::npos);
}

// RFC 7628 §4.1 example.
TEST(OAuthBearerTest, Rfc7628Example) {
  Exchange x(Mechanism::kOauthBearer,
             {"user@example.com",
              "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com", 143});
  ASSERT_TRUE(x.Validate().ok());
  EXPECT_EQ(*x.InitialResponse(),
            "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
            "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01");
}

// curl's test 843: the same exchange as base64 on the wire.
TEST(OAuthBearerTest, CurlTranscript) {
  Exchange x(Mechanism::kOauthBearer, {"user", "mF_9.B5f-4.1JqM", "127.0.0.1", 9003});
  EXPECT_EQ(
      Base64Encode(*x.InitialResponse()),
      "bixhPXVzZXIsAWhvc3Q9MTI3LjAuMC4xAXBvcnQ9OTAwMwFhdXRoPUJlYXJlciBtRl85LkI1Zi00LjFKcU0BAQ==");
}

TEST(OAuthBearerTest, AuthzidEscapesCommaAndEquals) {
  Exchange x(Mechanism::kOauthBearer, {"a,b=c@example.test", "tok", "", 0});
  EXPECT_EQ(*x.InitialResponse(),
            "n,a=a=2Cb=3Dc@example.test,\x01"
            "auth=Bearer tok\x01\x01");
}

TEST(OAuthBearerTest, ErrorChallengeGetsCtrlAResponse) {
  Exchange x(Mechanism::kOauthBearer, {"u@example.test", "tok", "mail.example.test", 993});
  auto r =
      x.Respond(R"({"status":"invalid_token","scope":"mail","openid-configuration":"https://x"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "\x01");
  EXPECT_EQ(x.oauth_error(), "status invalid_token, scope mail");
}

TEST(OAuthErrorTest, UnreadableDetailsAreDescribedWithoutControlCharacters) {
  const std::string d = DescribeOAuthError("not json\r\n\x01");
  EXPECT_NE(d.find("unreadable"), std::string::npos);
  EXPECT_EQ(d.find('\r'), std::string::npos);
  EXPECT_EQ(d.find('\x01'), std::string::npos);
  EXPECT_EQ(DescribeOAuthError("{}"), "the server refused the token (no details)");
}

// RFC 4616 §4 example.
TEST(PlainTest, Rfc4616Example) {
  Exchange x(Mechanism::kPlain, {"tim", "tanstaaftanstaaf", "", 0});
  ASSERT_TRUE(x.Validate().ok());
  EXPECT_EQ(*x.InitialResponse(), "\0tim\0tanstaaftanstaaf"s);
  EXPECT_EQ(Base64Encode(*x.InitialResponse()), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
}

TEST(PlainTest, EmptyChallengeWithoutInitialResponse) {
  Exchange x(Mechanism::kPlain, {"tim", "pw", "", 0});
  auto r = x.Respond("");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "\0tim\0pw"s);
  EXPECT_FALSE(x.Respond("").ok());
}

TEST(PlainTest, NulInPasswordIsRejected) {
  Status s = Exchange(Mechanism::kPlain, {"tim", "p\0w"s, "", 0}).Validate();
  EXPECT_EQ(s.kind(), Status::Kind::kInvalidArgument);
}

TEST(LoginTest, UserThenPasswordWhateverThePrompts) {
  Exchange x(Mechanism::kLogin, {"tim", "tanstaaf", "", 0});
  EXPECT_FALSE(x.InitialResponse().has_value());
  EXPECT_EQ(*x.Respond("Username:"), "tim");
  EXPECT_EQ(*x.Respond("Password:"), "tanstaaf");
  auto third = x.Respond("What?");
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().kind(), Status::Kind::kProtocol);
  EXPECT_EQ(third.status().message().find("tanstaaf"), std::string::npos);
}

}  // namespace
}  // namespace mailgate::sasl
