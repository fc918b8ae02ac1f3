#include "pipeline/config.h"

#include <gtest/gtest.h>

namespace mailgate::pipeline {
namespace {

store::Mailbox ValidImap() {
  store::Mailbox m;
  m.name = "Support";
  m.protocol = "IMAP";
  m.host = " outlook.office365.com ";
  m.encryption = "TLS";
  m.username = "support@example.com";
  m.auth = "XOAUTH2";
  m.account = "work";
  return m;
}

TEST(ConfigTest, NormalisesAMailbox) {
  store::Mailbox m = ValidImap();
  ASSERT_TRUE(NormalizeMailbox(m).ok());
  EXPECT_EQ(m.protocol, "imap");
  EXPECT_EQ(m.encryption, "tls");
  EXPECT_EQ(m.auth, "xoauth2");
  EXPECT_EQ(m.host, "outlook.office365.com");
  EXPECT_EQ(EffectivePort(m), 993);
}

TEST(ConfigTest, DefaultPortsFollowProtocolAndEncryption) {
  store::Mailbox m = ValidImap();
  m.protocol = "imap";
  m.encryption = "starttls";
  EXPECT_EQ(EffectivePort(m), 143);
  m.protocol = "pop3";
  EXPECT_EQ(EffectivePort(m), 110);
  m.encryption = "tls";
  EXPECT_EQ(EffectivePort(m), 995);
  m.port = 2995;
  EXPECT_EQ(EffectivePort(m), 2995);

  store::Transport t;
  t.encryption = "starttls";
  EXPECT_EQ(EffectivePort(t), 587);
  t.encryption = "tls";
  EXPECT_EQ(EffectivePort(t), 465);
  t.encryption = "none";
  EXPECT_EQ(EffectivePort(t), 25);
}

TEST(ConfigTest, RefusesWhatCannotWorkAndSaysWhatToFix) {
  struct Case {
    void (*mutate)(store::Mailbox&);
    const char* expect;
  };
  const Case cases[] = {
      {[](store::Mailbox& m) { m.protocol = "smtp"; }, "--protocol must be imap or pop3"},
      {[](store::Mailbox& m) { m.encryption = "ssl"; }, "--encryption must be tls"},
      {[](store::Mailbox& m) { m.account.clear(); }, "needs a connected account (--account)"},
      {[](store::Mailbox& m) { m.auth = "password"; }, "needs a password (--password-file)"},
      {[](store::Mailbox& m) { m.host = "a b"; }, "--host must be"},
      {[](store::Mailbox& m) { m.port = 70000; }, "--port must be 1 to 65535"},
      {[](store::Mailbox& m) { m.username.clear(); }, "--user is required"},
      {[](store::Mailbox& m) { m.after_download = "archive"; }, "--after-download must be"},
      {[](store::Mailbox& m) { m.after_download = "move:INBOX"; }, "names the folder"},
      {[](store::Mailbox& m) {
         m.protocol = "pop3";
         m.after_download = "mark-seen";
       },
       "can only 'delete' or 'keep'"},
      {[](store::Mailbox& m) {
         m.protocol = "pop3";
         m.push = true;
       },
       "--push needs IMAP"},
      {[](store::Mailbox& m) { m.name = "a/b"; }, "names are 1 to 100 characters"},
  };
  for (const Case& c : cases) {
    store::Mailbox m = ValidImap();
    c.mutate(m);
    Status s = NormalizeMailbox(m);
    EXPECT_EQ(s.kind(), Status::Kind::kInvalidArgument) << c.expect;
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << s.message();
  }
}

TEST(ConfigTest, ParsesAfterDownloadActions) {
  EXPECT_EQ(ParseAfterDownload("delete", "imap")->kind, AfterDownload::Kind::kDelete);
  EXPECT_EQ(ParseAfterDownload("keep", "pop3")->kind, AfterDownload::Kind::kKeep);
  EXPECT_EQ(ParseAfterDownload("mark-seen", "imap")->kind, AfterDownload::Kind::kMarkSeen);
  auto move = ParseAfterDownload("move:Archive/2026", "imap");
  ASSERT_TRUE(move.ok());
  EXPECT_EQ(move->kind, AfterDownload::Kind::kMove);
  EXPECT_EQ(move->folder, "Archive/2026");
  EXPECT_FALSE(ParseAfterDownload("move:", "imap").ok());
}

TEST(ConfigTest, TransportRules) {
  store::Transport t;
  t.name = "Office 365";
  t.host = "smtp.office365.com";
  t.encryption = "STARTTLS";
  t.auth = "none";
  EXPECT_TRUE(NormalizeTransport(t).ok());
  EXPECT_EQ(t.encryption, "starttls");
  t.auth = "xoauth2";
  EXPECT_NE(NormalizeTransport(t).message().find("--user is required"), std::string::npos);
  t.username = "support@example.com";
  EXPECT_NE(NormalizeTransport(t).message().find("--account"), std::string::npos);
  t.account = "work";
  EXPECT_TRUE(NormalizeTransport(t).ok());
}

TEST(ConfigTest, AuthOptionsUseTheAccountOrThePassword) {
  store::Mailbox m = ValidImap();
  ASSERT_TRUE(NormalizeMailbox(m).ok());
  std::string asked;
  ConnectEnv env;
  env.ca_file = "/tmp/ca.pem";
  env.tokens = [&](const std::string& account) -> sasl::SecretProvider {
    asked = account;
    return [](bool refresh) -> StatusOr<std::string> {
      return std::string(refresh ? "fresh" : "cached");
    };
  };
  auto auth = AuthOptionsFor(m, env);
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(asked, "work");
  EXPECT_EQ(auth->user, "support@example.com");
  EXPECT_TRUE(auth->secret_is_token);
  EXPECT_EQ(auth->mechanism, sasl::Mechanism::kXoauth2);
  EXPECT_EQ(*auth->secret(true), "fresh");

  m.auth = "password";
  m.password = store::Secret("hunter2");
  auth = AuthOptionsFor(m, env);
  ASSERT_TRUE(auth.ok());
  EXPECT_FALSE(auth->secret_is_token);
  EXPECT_FALSE(auth->mechanism.has_value());
  EXPECT_EQ(*auth->secret(false), "hunter2");

  const net::ConnectOptions o = ConnectOptionsFor(m, env);
  EXPECT_EQ(o.port, 993);
  EXPECT_EQ(o.tls, net::TlsMode::kImplicit);
  EXPECT_EQ(o.ca_file, "/tmp/ca.pem");
  EXPECT_EQ(o.connect_timeout, std::chrono::seconds(30));
}

}  // namespace
}  // namespace mailgate::pipeline
