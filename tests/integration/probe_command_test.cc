// `mailgate probe` as the user runs it: the binary, its output and exit status,
// against the real servers and against scripted Exchange Online transcripts.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sasl/sasl.h"
#include "support/fake_server.h"
#include "support/run_command.h"
#include "support/test_env.h"

namespace mailgate {
namespace {

using testing::Env;
using testing::FakeServer;
using testing::Script;

using Result = testing::CommandResult;
using TempDir = testing::TempDir;

// The mailgate binary with these arguments.
Result RunMailgate(std::vector<std::string> args) {
  args.insert(args.begin(), MAILGATE_BINARY);
  return testing::RunCommand(std::move(args));
}

// --encryption, as transports and mailboxes spell it (the --tls alias is
// exercised by UnknownCaOnTheRealServerExitsWith3AndSaysPassCaFile).
std::vector<std::string> Probe(const std::string& protocol, uint16_t port, const std::string& tls,
                               const std::string& user, const std::string& secret_flag,
                               const std::string& secret_file,
                               std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"--ca-file",    Env().ca,
                             "probe",        protocol,
                             "--host",       Env().tls_name,
                             "--port",       std::to_string(port),
                             "--encryption", tls,
                             "--user",       user,
                             secret_flag,    secret_file,
                             "--timeout",    "20"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

void ExpectNoSecret(const Result& r, const std::string& secret) {
  EXPECT_EQ(r.out.find(secret), std::string::npos) << "secret on stdout";
  EXPECT_EQ(r.err.find(secret), std::string::npos) << "secret on stderr";
  // Nor its base64 forms (the SASL payloads).
  const std::string b64 = sasl::Base64Encode(secret).substr(0, 24);
  EXPECT_EQ(r.err.find(b64), std::string::npos) << "secret's base64 on stderr";
}

// --- real servers ---

TEST(ProbeCommandTest, Pop3PrintsTheMessageCountAndTracesWithoutTheToken) {
  TempDir dir;
  const std::string user = testing::UniqueUser("probe-pop3");
  auto token = testing::MintToken(user, testing::kPopScope, 600);
  ASSERT_TRUE(token.ok());
  ASSERT_TRUE(testing::DeliverByLmtp(user, "Subject: a\r\n\r\nx\r\n").ok());
  ASSERT_TRUE(testing::DeliverByLmtp(user, "Subject: b\r\n\r\ny\r\n").ok());
  for (const std::string tls : {"tls", "starttls"}) {
    const uint16_t port = tls == "tls" ? Env().pop3s_port : Env().pop3_port;
    Result r = RunMailgate(Probe("pop3", port, tls, user, "--token-file",
                                 dir.Write("token", *token + "\n"), {"--trace"}));
    EXPECT_EQ(r.exit, 0) << r.err;
    EXPECT_NE(r.out.find("2 messages"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("C: AUTH XOAUTH2"), std::string::npos) << r.err;
    ExpectNoSecret(r, *token);
  }
}

TEST(ProbeCommandTest, PasswordMechanismsWorkAndNeverShowThePassword) {
  TempDir dir;
  const std::string user = testing::UniqueUser("probe-pw");
  const std::string password = "s3cret pass:word";
  ASSERT_TRUE(testing::AddPasswordUser(user, password).ok());
  const std::string file = dir.Write("pw", password + "\n");
  for (const std::string mech : {"plain", "login"}) {
    Result r = RunMailgate(Probe("pop3", Env().pop3s_port, "tls", user, "--password-file", file,
                                 {"--mech", mech, "--trace"}));
    EXPECT_EQ(r.exit, 0) << mech << ": " << r.err;
    ExpectNoSecret(r, password);
    if (Env().postfix) {
      Result s = RunMailgate(Probe("smtp", Env().submission_port, "starttls", user,
                                   "--password-file", file, {"--mech", mech, "--trace"}));
      EXPECT_EQ(s.exit, 0) << mech << ": " << s.err;
      ExpectNoSecret(s, password);
    }
  }
  // A wrong password: exit 4, and neither password in the output.
  const std::string wrong = dir.Write("wrong", "not-the-password\n");
  Result r = RunMailgate(
      Probe("pop3", Env().pop3s_port, "tls", user, "--password-file", wrong, {"--trace"}));
  EXPECT_EQ(r.exit, 4) << r.err;
  ExpectNoSecret(r, "not-the-password");
  EXPECT_NE(r.err.find("refused the user name or password"), std::string::npos) << r.err;
}

TEST(ProbeCommandTest, SmtpAuthenticatesAndSendsATestMessage) {
  ASSERT_TRUE(Env().postfix);
  TempDir dir;
  const std::string user = testing::UniqueUser("probe-smtp");
  auto token = testing::MintToken(user, testing::kSmtpScope, 600);
  ASSERT_TRUE(token.ok());
  const std::string file = dir.Write("token", *token);
  for (const std::string mech : {"xoauth2", "oauthbearer"}) {
    Result r = RunMailgate(Probe("smtp", Env().submission_port, "starttls", user, "--token-file",
                                 file, {"--mech", mech, "--send-to", user, "--trace"}));
    EXPECT_EQ(r.exit, 0) << r.err;
    EXPECT_NE(r.out.find("authenticated as " + user), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("accepted: 250"), std::string::npos) << r.out;
    ExpectNoSecret(r, *token);
  }
}

// Expired, revoked and wrong-scope tokens: exit status 4, a message naming the
// possible causes, and no token anywhere.
TEST(ProbeCommandTest, RefusedTokensExitWith4AndNameTheCause) {
  struct Case {
    const char* name;
    const char* control;  // IdP control endpoint applied after minting, or ""
    const char* scope;
    const char* cause;  // a word the message must contain
  };
  const std::vector<Case> cases = {
      {"expired", "expire", testing::kPopScope, "expired"},
      {"revoked", "revoke", testing::kPopScope, "revoked"},
      {"scope", "", testing::kImapScope, "lacks the POP scope"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const std::string user = testing::UniqueUser(std::string("probe-") + c.name);
    auto token = testing::MintToken(user, c.scope, 600);
    ASSERT_TRUE(token.ok());
    if (*c.control) {
      ASSERT_TRUE(testing::IdpControl(c.control, "{\"user\":\"" + user + "\"}").ok());
    }
    const std::string file = dir.Write("token", *token + "\n");
    Result r = RunMailgate(
        Probe("pop3", Env().pop3s_port, "tls", user, "--token-file", file, {"--trace"}));
    EXPECT_EQ(r.exit, 4) << r.err;
    EXPECT_NE(r.err.find(c.cause), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("re-authorize"), std::string::npos) << r.err;
    ExpectNoSecret(r, *token);
    if (Env().postfix) {
      Result s = RunMailgate(
          Probe("smtp", Env().submissions_port, "tls", user, "--token-file", file, {"--trace"}));
      EXPECT_EQ(s.exit, 4) << s.err;
      ExpectNoSecret(s, *token);
    }
  }
}

// Also the regression test of the --tls alias (probe's first spelling).
TEST(ProbeCommandTest, UnknownCaOnTheRealServerExitsWith3AndSaysPassCaFile) {
  TempDir dir;
  Result r = RunMailgate({"probe", "pop3", "--host", Env().tls_name, "--port",
                          std::to_string(Env().pop3s_port), "--tls", "tls", "--user",
                          "x@example.test", "--token-file", dir.Write("t", "tok")});
  EXPECT_EQ(r.exit, 3) << r.err;
  EXPECT_NE(r.err.find("pass --ca-file"), std::string::npos) << r.err;
}

// --- scripted servers ---

TEST(ProbeCommandTest, WrongHostCertificateExitsWith3) {
  TempDir dir;
  FakeServer server(Script().Send("+OK"), {true, Env().wrong_host_cert, Env().wrong_host_key});
  Result r = RunMailgate({"probe", "pop3", "--host", "localhost", "--port",
                          std::to_string(server.port()), "--ca-file", Env().ca, "--user",
                          "x@example.test", "--token-file", dir.Write("t", "tok")});
  EXPECT_EQ(r.exit, 3) << r.err;
  EXPECT_NE(r.err.find("another host name (wrong.example)"), std::string::npos) << r.err;
}

TEST(ProbeCommandTest, StartTlsRequiredButNotOfferedExitsWith3) {
  TempDir dir;
  FakeServer pop3(Script().Send("+OK ready").Expect("CAPA").Send("+OK").Send("USER").Send("."));
  Result r = RunMailgate({"probe", "pop3", "--host", "127.0.0.1", "--port",
                          std::to_string(pop3.port()), "--tls", "starttls", "--user",
                          "x@example.test", "--password-file", dir.Write("p", "pw")});
  EXPECT_EQ(r.exit, 3) << r.err;
  EXPECT_NE(r.err.find("does not offer STLS"), std::string::npos) << r.err;
  FakeServer smtp(Script().Send("220 hi").Expect("EHLO *").Send("250-hi").Send("250 AUTH PLAIN"));
  r = RunMailgate({"probe", "smtp", "--host", "127.0.0.1", "--port", std::to_string(smtp.port()),
                   "--tls", "starttls", "--user", "x@example.test", "--password-file",
                   dir.Write("p", "pw")});
  EXPECT_EQ(r.exit, 3) << r.err;
  EXPECT_NE(r.err.find("does not offer STARTTLS"), std::string::npos) << r.err;
}

std::string Xoauth2(const std::string& user, const std::string& token) {
  return sasl::Base64Encode("user=" + user + "\x01" + "auth=Bearer " + token + "\x01\x01");
}

Script ExchangePop3() {
  return std::move(Script()
                       .Send("+OK The Microsoft Exchange POP3 service is ready.")
                       .Expect("CAPA")
                       .Send("+OK")
                       .Send("TOP")
                       .Send("UIDL")
                       .Send("SASL PLAIN XOAUTH2")
                       .Send("USER")
                       .Send("."));
}

TEST(ProbeCommandTest, ExchangePop3SixteenKibTokenAfterThePlusPrompt) {
  TempDir dir;
  const std::string token(16 * 1024, 'A');
  const std::string user = "user@contoso.example";
  FakeServer server(ExchangePop3()
                        .Expect("AUTH XOAUTH2")
                        .Send("+ ")
                        .Expect(Xoauth2(user, token))
                        .Send("+OK User successfully authenticated.")
                        .Expect("STAT")
                        .Send("+OK 7 12345")
                        .Expect("QUIT")
                        .Send("+OK Microsoft Exchange Server POP3 server signing off."));
  Result r = RunMailgate({"probe", "pop3", "--host", "127.0.0.1", "--port",
                          std::to_string(server.port()), "--tls", "none", "--user", user,
                          "--token-file", dir.Write("t", token + "\n"), "--trace"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("7 messages"), std::string::npos);
  EXPECT_EQ(server.Finish(), "");
  ExpectNoSecret(r, token.substr(0, 64));
}

TEST(ProbeCommandTest, ExchangePop3ProtocolErrorIsExplainedWithExit4) {
  TempDir dir;
  auto attempt = [] {
    return std::move(ExchangePop3()
                         .Expect("AUTH XOAUTH2")
                         .Send("+ ")
                         .Expect("*")
                         .Send("-ERR Protocol error. Connection is closed. 10")
                         .Close());
  };
  FakeServer server({attempt(), attempt()}, {});
  Result r = RunMailgate({"probe", "pop3", "--host", "127.0.0.1", "--port",
                          std::to_string(server.port()), "--tls", "none", "--user",
                          "u@contoso.example", "--token-file", dir.Write("t", "tok-123456")});
  EXPECT_EQ(r.exit, 4) << r.err;
  EXPECT_NE(r.err.find("Protocol error"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("after its '+' prompt"), std::string::npos) << r.err;
  ExpectNoSecret(r, "tok-123456");
}

TEST(ProbeCommandTest, ExchangeSmtpAuthDisabledExplainsSetCasMailbox) {
  TempDir dir;
  FakeServer server(Script()
                        .Send("220 SN4PR0501CA0001.outlook.office365.com Microsoft ESMTP MAIL "
                              "Service ready")
                        .Expect("EHLO *")
                        .Send("250-SN4PR0501CA0001.outlook.office365.com Hello")
                        .Send("250-SIZE 157286400")
                        .Send("250-PIPELINING")
                        .Send("250-AUTH LOGIN XOAUTH2")
                        .Send("250 SMTPUTF8")
                        .Expect("AUTH XOAUTH2 *")
                        .Send("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
                              "is disabled for the Tenant.")
                        .Expect("QUIT")
                        .Send("221 2.0.0 Service closing transmission channel"));
  Result r = RunMailgate({"probe", "smtp", "--host", "127.0.0.1", "--port",
                          std::to_string(server.port()), "--tls", "none", "--user",
                          "u@contoso.example", "--token-file", dir.Write("t", "tok-xyz")});
  EXPECT_EQ(r.exit, 4) << r.err;
  EXPECT_NE(r.err.find("Set-CASMailbox -Identity <mailbox> -SmtpClientAuthenticationDisabled "
                       "$false"),
            std::string::npos)
      << r.err;
  ExpectNoSecret(r, "tok-xyz");
}

TEST(ProbeCommandTest, ExchangeSmtpSixteenKibTokenGoesAfter334) {
  TempDir dir;
  const std::string token(16 * 1024, 'B');
  const std::string user = "u@contoso.example";
  FakeServer server(Script()
                        .Send("220 ready")
                        .Expect("EHLO *")
                        .Send("250-hello")
                        .Send("250 AUTH LOGIN XOAUTH2")
                        .Expect("AUTH XOAUTH2")
                        .Send("334 ")
                        .Expect(Xoauth2(user, token))
                        .Send("235 2.7.0 Authentication successful")
                        .Expect("QUIT")
                        .Send("221 bye"));
  Result r =
      RunMailgate({"probe", "smtp", "--host", "127.0.0.1", "--port", std::to_string(server.port()),
                   "--tls", "none", "--user", user, "--token-file", dir.Write("t", token)});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(server.Finish(), "");
}

TEST(ProbeCommandTest, ConnectionClosedMidResponseExitsWith3) {
  TempDir dir;
  FakeServer server(
      Script().Send("+OK ready").Expect("CAPA").Send("+OK").SendRaw("SASL XOAU").Close());
  Result r = RunMailgate({"probe", "pop3", "--host", "127.0.0.1", "--port",
                          std::to_string(server.port()), "--tls", "none", "--user",
                          "u@example.test", "--token-file", dir.Write("t", "tok")});
  EXPECT_EQ(r.exit, 3) << r.err;
  EXPECT_NE(r.err.find("closed the connection"), std::string::npos) << r.err;
}

TEST(ProbeCommandTest, BadUsageExitsWith2) {
  TempDir dir;
  const std::string f = dir.Write("t", "tok");
  Result both = RunMailgate(
      {"probe", "pop3", "--host", "h", "--user", "u", "--token-file", f, "--password-file", f});
  EXPECT_EQ(both.exit, 2) << both.err;
  Result none = RunMailgate({"probe", "pop3", "--host", "h", "--user", "u"});
  EXPECT_EQ(none.exit, 2) << none.err;
  EXPECT_NE(none.err.find("exactly one of --password-file and --token-file"), std::string::npos);
  Result empty = RunMailgate(
      {"probe", "smtp", "--host", "h", "--user", "u", "--token-file", dir.Write("e", "\n")});
  EXPECT_EQ(empty.exit, 2) << empty.err;
  Result mech = RunMailgate(
      {"probe", "smtp", "--host", "h", "--user", "u", "--token-file", f, "--mech", "plain"});
  EXPECT_EQ(mech.exit, 2) << mech.err;
  Result proto = RunMailgate({"probe", "nntp", "--host", "h", "--user", "u", "--token-file", f});
  EXPECT_EQ(proto.exit, 2) << proto.err;
}

}  // namespace
}  // namespace mailgate
