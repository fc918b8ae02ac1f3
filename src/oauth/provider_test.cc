#include "oauth/provider.h"

#include <gtest/gtest.h>

namespace mailgate::oauth {
namespace {

store::Account Ms(std::string tenant = "", std::string authority = "") {
  store::Account a;
  a.name = "work";
  a.provider = "microsoft";
  a.client_id = "cid";
  a.tenant = std::move(tenant);
  a.authority = std::move(authority);
  return a;
}

TEST(ProviderTest, MicrosoftDefaultsToCommonOnThePublicCloud) {
  auto a = Ms();
  ASSERT_TRUE(NormalizeAccount(a).ok());
  auto e = ResolveEndpoints(a);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->authorize, "https://login.microsoftonline.com/common/oauth2/v2.0/authorize");
  EXPECT_EQ(e->token, "https://login.microsoftonline.com/common/oauth2/v2.0/token");
  EXPECT_EQ(e->device, "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode");
  auto scopes = ScopesFor(a, Flow::kBrowser);
  ASSERT_TRUE(scopes.ok());
  EXPECT_EQ(JoinScopes(*scopes),
            "offline_access https://outlook.office.com/IMAP.AccessAsUser.All "
            "https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send");
  EXPECT_EQ(JoinScopes(*ScopesFor(a, Flow::kClientCredentials)),
            "https://outlook.office365.com/.default");
}

TEST(ProviderTest, SovereignAuthorityAndTenantDomain) {
  auto a = Ms("contoso.onmicrosoft.us", "https://login.microsoftonline.us/");
  ASSERT_TRUE(NormalizeAccount(a).ok());
  EXPECT_EQ(ResolveEndpoints(a)->token,
            "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token");
}

TEST(ProviderTest, BadTenantAndPlainHttpAuthorityAreRefused) {
  auto a = Ms("con/toso");
  EXPECT_NE(NormalizeAccount(a).message().find("--tenant"), std::string::npos);
  auto b = Ms("common", "http://login.example.com");
  Status s = NormalizeAccount(b);
  EXPECT_EQ(s.kind(), Status::Kind::kInvalidArgument);
  EXPECT_NE(s.message().find("--authority"), std::string::npos);
  auto c = Ms("common", "http://127.0.0.1:9999/prefix");
  EXPECT_TRUE(NormalizeAccount(c).ok());
}

TEST(ProviderTest, GoogleAsksForOfflineAccess) {
  store::Account a;
  a.name = "g";
  a.provider = "google";
  a.client_id = "cid";
  ASSERT_TRUE(NormalizeAccount(a).ok());
  auto e = ResolveEndpoints(a);
  EXPECT_EQ(e->token, "https://oauth2.googleapis.com/token");
  ASSERT_EQ(e->authorize_extras.size(), 2u);
  EXPECT_EQ(e->authorize_extras[0].second, "offline");
  EXPECT_EQ(JoinScopes(*ScopesFor(a, Flow::kBrowser)), "https://mail.google.com/");
}

TEST(ProviderTest, GenericNeedsATokenUrlAndScopes) {
  store::Account a;
  a.name = "x";
  a.provider = "generic";
  a.client_id = "cid";
  EXPECT_NE(NormalizeAccount(a).message().find("--token-url"), std::string::npos);
  a.token_url = "https://idp.example/token";
  ASSERT_TRUE(NormalizeAccount(a).ok());
  EXPECT_NE(ScopesFor(a, Flow::kBrowser).status().message().find("--scope"), std::string::npos);
}

TEST(ProviderTest, UnknownProviderAndFlow) {
  auto a = Ms();
  a.provider = "yahoo";
  EXPECT_NE(NormalizeAccount(a).message().find("microsoft, google or generic"), std::string::npos);
  EXPECT_FALSE(ParseFlow("magic").ok());
  EXPECT_EQ(*ParseFlow("client-credentials"), Flow::kClientCredentials);
}

TEST(ProviderTest, SovereignCloudsAskForTheirOwnExchangeResource) {
  auto gov = Ms("contoso.onmicrosoft.us", "https://login.microsoftonline.us");
  ASSERT_TRUE(NormalizeAccount(gov).ok());
  EXPECT_EQ(JoinScopes(*ScopesFor(gov, Flow::kLoopback)),
            "offline_access https://outlook.office365.us/IMAP.AccessAsUser.All "
            "https://outlook.office365.us/POP.AccessAsUser.All "
            "https://outlook.office365.us/SMTP.Send");
  EXPECT_EQ(JoinScopes(*ScopesFor(gov, Flow::kClientCredentials)),
            "https://outlook.office365.us/.default");
  EXPECT_EQ(MicrosoftCloudFor(gov.authority).smtp_host, "smtp.office365.us");

  for (const char* authority :
       {"https://login.chinacloudapi.cn", "https://LOGIN.partner.microsoftonline.cn:443/"}) {
    auto cn = Ms("contoso.partner.onmschina.cn", authority);
    ASSERT_TRUE(NormalizeAccount(cn).ok());
    EXPECT_EQ(JoinScopes(*ScopesFor(cn, Flow::kDevice)),
              "offline_access https://partner.outlook.cn/IMAP.AccessAsUser.All "
              "https://partner.outlook.cn/POP.AccessAsUser.All "
              "https://partner.outlook.cn/SMTP.Send")
        << authority;
    EXPECT_EQ(JoinScopes(*ScopesFor(cn, Flow::kClientCredentials)),
              "https://partner.outlook.cn/.default");
    EXPECT_EQ(MicrosoftCloudFor(cn.authority).mail_host, "partner.outlook.cn");
  }
  // A host Mailgate does not know (a test IdP, a proxy) keeps the global
  // scopes; the account's own scopes always win.
  auto other = Ms("t", "http://127.0.0.1:9999/prefix");
  ASSERT_TRUE(NormalizeAccount(other).ok());
  EXPECT_EQ(MicrosoftCloudFor(other.authority).name, "global");
  other.scopes = {"offline_access", "https://outlook.office365.us/IMAP.AccessAsUser.All"};
  EXPECT_EQ(*ScopesFor(other, Flow::kLoopback), other.scopes);
}

TEST(ProviderTest, MicrosoftPublicFlowsSendNoClientSecret) {
  auto a = Ms("contoso.com");
  a.client_secret = store::Secret("s3cret");
  EXPECT_FALSE(SendsClientSecret(a, Flow::kLoopback));
  EXPECT_FALSE(SendsClientSecret(a, Flow::kDevice));
  EXPECT_TRUE(SendsClientSecret(a, Flow::kBrowser));  // the console's Web redirect
  EXPECT_TRUE(SendsClientSecret(a, Flow::kClientCredentials));
  // Google's installed-app clients need their secret on the loopback flow.
  a.provider = "google";
  EXPECT_TRUE(SendsClientSecret(a, Flow::kLoopback));
  EXPECT_EQ(*ParseFlow("loopback"), Flow::kLoopback);
  EXPECT_EQ(FlowName(Flow::kLoopback), "loopback");
}

}  // namespace
}  // namespace mailgate::oauth
