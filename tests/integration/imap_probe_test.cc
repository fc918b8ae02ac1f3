// `mailgate probe imap` as the user runs it: output, exit status and error line, against
// Dovecot and against scripted Exchange Online transcripts.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/fake_server.h"
#include "support/run_command.h"
#include "support/test_env.h"

namespace mailgate {
namespace {

using testing::Env;
using testing::FakeServer;
using testing::Script;

using ProbeRun = testing::CommandResult;
using Dir = testing::TempDir;

// `mailgate probe imap` with these arguments.
ProbeRun Probe(std::vector<std::string> args) {
  args.insert(args.begin(), {MAILGATE_BINARY, "probe", "imap"});
  return testing::RunCommand(std::move(args));
}

std::string Mint(const std::string& user) {
  auto t = testing::MintToken(user, testing::kImapScope);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : "";
}

TEST(ImapProbeTest, PrintsCountAndUidvalidityAndTracesWithoutTheToken) {
  const std::string user = testing::UniqueUser("imap-probe");
  ASSERT_TRUE(testing::DeliverByLmtp(user, "Subject: 1\r\n\r\none\r\n").ok());
  ASSERT_TRUE(testing::DeliverByLmtp(user, "Subject: 2\r\n\r\ntwo\r\n").ok());
  const std::string token = Mint(user);
  Dir dir;
  // A trailing newline in the token file is ignored.
  const std::string file = dir.Write("token", token + "\n");
  ProbeRun r =
      Probe({"--host", Env().tls_name, "--port", std::to_string(Env().imaps_port), "--tls", "tls",
             "--user", user, "--token-file", file, "--ca-file", Env().ca, "--trace"});
  EXPECT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("INBOX: 2 messages, UIDVALIDITY "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("AUTHENTICATE XOAUTH2 (redacted)"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(token), std::string::npos);
  EXPECT_EQ(r.out.find(token), std::string::npos);
}

TEST(ImapProbeTest, StartTlsWithPasswordNeverShowsThePassword) {
  const std::string user = testing::UniqueUser("imap-probe-pw");
  const std::string password = "s3cret-\"pass\"-" + user;
  ASSERT_TRUE(testing::AddPasswordUser(user, password).ok());
  Dir dir;
  const std::string file = dir.Write("pw", password);
  for (const char* mech : {"auto", "plain", "login"}) {
    ProbeRun r = Probe({"--host", Env().tls_name, "--port", std::to_string(Env().imap_port),
                        "--tls", "starttls", "--user", user, "--password-file", file, "--ca-file",
                        Env().ca, "--mech", mech, "--trace"});
    EXPECT_EQ(r.exit, 0) << mech << ": " << r.err;
    EXPECT_NE(r.out.find("INBOX: 0 messages"), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find(password), std::string::npos) << mech;
  }
}

TEST(ImapProbeTest, RevokedTokenExitsWith4AndSaysReauthorize) {
  const std::string user = testing::UniqueUser("imap-probe-revoked");
  const std::string token = Mint(user);
  ASSERT_TRUE(testing::IdpControl("revoke", "{\"user\":\"" + user + "\"}").ok());
  Dir dir;
  const std::string file = dir.Write("token", token);
  ProbeRun r = Probe({"--host", Env().tls_name, "--port", std::to_string(Env().imaps_port), "--tls",
                      "tls", "--user", user, "--token-file", file, "--ca-file", Env().ca});
  EXPECT_EQ(r.exit, 4) << r.err;
  EXPECT_NE(r.err.find("refused the OAuth2 access token"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("re-authorize"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(token), std::string::npos);
}

TEST(ImapProbeTest, UnknownCaExitsWith3) {
  const std::string user = testing::UniqueUser("imap-probe-ca");
  Dir dir;
  const std::string file = dir.Write("token", Mint(user));
  ProbeRun r = Probe({"--host", Env().tls_name, "--port", std::to_string(Env().imaps_port), "--tls",
                      "tls", "--user", user, "--token-file", file});
  EXPECT_EQ(r.exit, 3) << r.err;
  EXPECT_NE(r.err.find("--ca-file"), std::string::npos) << r.err;
}

TEST(ImapProbeTest, ExchangeNoAuthenticateFailedExitsWith4WithAnExplanation) {
  FakeServer server(
      Script()
          .Send("* OK The Microsoft Exchange IMAP4 service is ready.")
          .Expect("A1 CAPABILITY")
          .Send("* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS "
                "ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+")
          .Send("A1 OK CAPABILITY completed.")
          .Expect("A2 AUTHENTICATE XOAUTH2 *")
          // A token file has no fresher token: no second attempt.
          .Send("A2 NO AUTHENTICATE failed."));
  Dir dir;
  const std::string file = dir.Write("token", "eyJ0eXAiOiJKV1QiLCJub25jZSI6Ik1pY3Jvc29mdCJ9.x.y");
  ProbeRun r = Probe({"--host", "127.0.0.1", "--port", std::to_string(server.port()), "--tls",
                      "none", "--user", "someone@contoso.example", "--token-file", file});
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(r.exit, 4) << r.err;
  EXPECT_NE(r.err.find("IMAP.AccessAsUser.All"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("eyJ0eXAi"), std::string::npos);
}

TEST(ImapProbeTest, ExchangeAuthenticatedButNotConnectedExitsWith4) {
  FakeServer server(Script()
                        .Send("* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] ready.")
                        .Expect("A1 AUTHENTICATE XOAUTH2 *")
                        .Send("A1 OK AUTHENTICATE completed.")
                        .Expect("A2 CAPABILITY")
                        .Send("* CAPABILITY IMAP4rev1 IDLE")
                        .Send("A2 OK CAPABILITY completed.")
                        .Expect("A3 EXAMINE INBOX")
                        .Send("A3 BAD User is authenticated but not connected."));
  Dir dir;
  const std::string file = dir.Write("token", "token-for-another-mailbox");
  ProbeRun r = Probe({"--host", "127.0.0.1", "--port", std::to_string(server.port()), "--tls",
                      "none", "--user", "shared@contoso.example", "--token-file", file});
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(r.exit, 4) << r.err;
  EXPECT_NE(r.err.find("FullAccess"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mailgate
