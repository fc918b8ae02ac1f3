// Transcript tests of the IMAP client against the scripted fake server (curl's model):
// what the server answers, what the client must send. Covers what Dovecot will not
// produce: Exchange Online's replies, a BYE mid-fetch, a close mid-literal.
#include "imap/client.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "support/fake_server.h"
#include "support/run_co.h"

namespace mailgate::imap {
namespace {

namespace asio = boost::asio;
using testing::FakeServer;
using testing::RunCo;
using testing::Script;

constexpr std::string_view kToken1 = "ya29.first-token-AAAA";
constexpr std::string_view kToken2 = "ya29.second-token-BBBB";

struct Harness {
  std::vector<bool> provider_calls;
  std::vector<std::string> trace;
  std::vector<std::string> tokens{std::string(kToken1), std::string(kToken2)};

  ClientOptions Options(uint16_t port, bool token = true) {
    ClientOptions o;
    o.connect.host = "127.0.0.1";
    o.connect.port = port;
    o.connect.tls = net::TlsMode::kNone;
    o.connect.connect_timeout = std::chrono::seconds(5);
    o.connect.io_timeout = std::chrono::seconds(5);
    o.auth.user = "user@example.test";
    o.auth.secret_is_token = token;
    o.auth.secret = [this](bool force) -> StatusOr<std::string> {
      provider_calls.push_back(force);
      const std::size_t i = std::min(provider_calls.size() - 1, tokens.size() - 1);
      return tokens[i];
    };
    o.send_id = false;
    o.trace = [this](net::TraceDirection d, std::string_view s) {
      trace.push_back((d == net::TraceDirection::kRecv ? "S: " : "C: ") + std::string(s));
    };
    return o;
  }
  std::string AllTrace() const {
    std::string all;
    for (const auto& t : trace) all += t + "\n";
    return all;
  }
};

std::string Xoauth2(std::string_view user, std::string_view token) {
  return sasl::Base64Encode("user=" + std::string(user) + "\x01" + "auth=Bearer " +
                            std::string(token) + "\x01\x01");
}

// Connects, authenticates and runs `then` on the client.
Status ConnectAuth(
    ClientOptions opts,
    std::function<asio::awaitable<Status>(Client&)> then = [](Client&) -> asio::awaitable<Status> {
      co_return Status::Ok();
    }) {
  return RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    auto client = co_await Client::Connect(ex, opts);
    if (!client.ok()) co_return client.status();
    Status s = co_await (*client)->Authenticate();
    if (!s.ok()) co_return s;
    co_return co_await then(**client);
  });
}

const char* kGreeting =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER AUTH=PLAIN IDLE UIDPLUS "
    "LITERAL+ MOVE] ready";
const char* kAuthOk = "OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS LITERAL+ MOVE] Logged in";

TEST(ImapClientTest, Xoauth2WithSaslIrThenSelect) {
  FakeServer server(Script()
                        .Send(kGreeting)
                        .Expect("A1 AUTHENTICATE XOAUTH2 " + Xoauth2("user@example.test", kToken1))
                        .Send(std::string("A1 ") + kAuthOk)
                        .Expect("A2 SELECT INBOX")
                        .Send("* FLAGS (\\Answered \\Seen)")
                        .Send("* 17 EXISTS")
                        .Send("* OK [UIDVALIDITY 1700000001] UIDs valid")
                        .Send("* OK [UIDNEXT 42] Predicted next UID")
                        .Send("A2 OK [READ-WRITE] Select completed"));
  Harness h;
  MailboxInfo info;
  Status s = ConnectAuth(h.Options(server.port()), [&](Client& c) -> asio::awaitable<Status> {
    auto r = co_await c.Select("INBOX");
    if (!r.ok()) co_return r.status();
    info = *r;
    co_return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(info.exists, 17u);
  EXPECT_EQ(info.uidvalidity, 1700000001u);
  EXPECT_EQ(info.uidnext, 42u);
  EXPECT_FALSE(info.read_only);
  EXPECT_EQ(h.provider_calls, std::vector<bool>{false});
  const std::string trace = h.AllTrace();
  EXPECT_NE(trace.find("C: A1 AUTHENTICATE XOAUTH2 (redacted)"), std::string::npos) << trace;
  EXPECT_EQ(trace.find(kToken1), std::string::npos);
  EXPECT_EQ(trace.find(Xoauth2("user@example.test", kToken1)), std::string::npos);
}

TEST(ImapClientTest, WithoutSaslIrWaitsForTheContinuation) {
  FakeServer server(Script()
                        .Send("* OK [CAPABILITY IMAP4rev1 AUTH=OAUTHBEARER] ready")
                        .Expect("A1 AUTHENTICATE OAUTHBEARER")
                        .Send("+ ")
                        .Expect("*")  // checked below: the port in it is the fake server's
                        .Send("A1 OK done")
                        .Expect("A2 CAPABILITY")
                        .Send("* CAPABILITY IMAP4rev1 IDLE")
                        .Send("A2 OK done"));
  Harness h;
  Status s = ConnectAuth(h.Options(server.port()));
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(server.Finish(), "");
  ASSERT_GE(server.received().size(), 2u);
  auto decoded = sasl::Base64Decode(server.received()[1]);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded,
            "n,a=user@example.test,\x01host=127.0.0.1\x01port=" + std::to_string(server.port()) +
                "\x01" + "auth=Bearer " + std::string(kToken1) + "\x01\x01");
}

TEST(ImapClientTest, ErrorChallengeThenForceRefreshSucceeds) {
  const std::string json =
      R"({"status":"401","schemes":"bearer","scope":"https://outlook.office.com/IMAP.AccessAsUser.All"})";
  FakeServer server(Script()
                        .Send(kGreeting)
                        .Expect("A1 AUTHENTICATE XOAUTH2 " + Xoauth2("user@example.test", kToken1))
                        .Send("+ " + sasl::Base64Encode(json))
                        .Expect("")
                        .Send("A1 NO [AUTHENTICATIONFAILED] Authentication failed.")
                        .Expect("A2 AUTHENTICATE XOAUTH2 " + Xoauth2("user@example.test", kToken2))
                        .Send(std::string("A2 ") + kAuthOk));
  Harness h;
  Status s = ConnectAuth(h.Options(server.port()));
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(h.provider_calls, (std::vector<bool>{false, true}));
}

TEST(ImapClientTest, RefusedTwiceNamesTheCauseFromTheErrorChallenge) {
  const std::string json = R"({"status":"401","schemes":"bearer","scope":"imap"})";
  FakeServer server(Script()
                        .Send(kGreeting)
                        .Expect("A1 AUTHENTICATE XOAUTH2 *")
                        .Send("+ " + sasl::Base64Encode(json))
                        .Expect("")
                        .Send("A1 NO [AUTHENTICATIONFAILED] Authentication failed.")
                        .Expect("A2 AUTHENTICATE XOAUTH2 *")
                        .Send("+ " + sasl::Base64Encode(json))
                        .Expect("")
                        .Send("A2 NO [AUTHENTICATIONFAILED] Authentication failed."));
  Harness h;
  Status s = ConnectAuth(h.Options(server.port()));
  EXPECT_EQ(server.Finish(), "");
  ASSERT_EQ(s.kind(), Status::Kind::kAuth) << s.ToString();
  EXPECT_NE(s.message().find("status 401, schemes bearer, scope imap"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("re-authorize"), std::string::npos);
  EXPECT_NE(s.message().find("freshly refreshed token was refused as well"), std::string::npos);
  EXPECT_EQ(s.message().find(kToken1), std::string::npos);
  EXPECT_EQ(s.message().find(kToken2), std::string::npos);
}

// Exchange Online fails at once, without an error challenge.
TEST(ImapClientTest, ExchangeNoAuthenticateFailedIsExplained) {
  FakeServer server(
      Script()
          .Send("* OK The Microsoft Exchange IMAP4 service is ready.")
          .Expect("A1 CAPABILITY")
          .Send("* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS "
                "ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+")
          .Send("A1 OK CAPABILITY completed.")
          .Expect("A2 AUTHENTICATE XOAUTH2 *")
          .Send("A2 NO AUTHENTICATE failed.")
          .Expect("A3 AUTHENTICATE XOAUTH2 *")
          .Send("A3 NO AUTHENTICATE failed."));
  Harness h;
  Status s = ConnectAuth(h.Options(server.port()));
  EXPECT_EQ(server.Finish(), "");
  ASSERT_EQ(s.kind(), Status::Kind::kAuth);
  EXPECT_NE(s.message().find("NO AUTHENTICATE failed."), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("IMAP.AccessAsUser.All"), std::string::npos);
  EXPECT_NE(s.message().find("user@example.test"), std::string::npos);
  EXPECT_EQ(h.provider_calls, (std::vector<bool>{false, true}));
  EXPECT_EQ(h.AllTrace().find(kToken2), std::string::npos);
}

// Microsoft's tokens can exceed 4 KiB; 16 KiB must go through whole on the SASL-IR line.
TEST(ImapClientTest, SixteenKibTokenOnTheSaslIrLine) {
  std::string big(16 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = "AZaz09-._~"[i % 10];
  FakeServer server(Script()
                        .Send(kGreeting)
                        .Expect("A1 AUTHENTICATE XOAUTH2 " + Xoauth2("user@example.test", big))
                        .Send(std::string("A1 ") + kAuthOk));
  Harness h;
  h.tokens = {big};
  Status s = ConnectAuth(h.Options(server.port()));
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(h.AllTrace().find(big.substr(0, 64)), std::string::npos);
}

// Exchange may hang up after a refusal; the refusal, not the closed connection, is the news.
TEST(ImapClientTest, ServerClosingAfterRefusalStillReportsAuth) {
  FakeServer server(Script()
                        .Send(kGreeting)
                        .Expect("A1 AUTHENTICATE XOAUTH2 *")
                        .Send("A1 NO AUTHENTICATE failed.")
                        .Close());
  Harness h;
  Status s = ConnectAuth(h.Options(server.port()));
  server.Finish();
  ASSERT_EQ(s.kind(), Status::Kind::kAuth) << s.ToString();
  EXPECT_NE(s.message().find("AUTHENTICATE failed"), std::string::npos);
}

TEST(ImapClientTest, AuthenticatedButNotConnectedIsExplained) {
  FakeServer server(Script()
                        .Send(kGreeting)
                        .Expect("A1 AUTHENTICATE XOAUTH2 *")
                        .Send(std::string("A1 ") + kAuthOk)
                        .Expect("A2 SELECT INBOX")
                        .Send("A2 BAD User is authenticated but not connected."));
  Harness h;
  Status s = ConnectAuth(h.Options(server.port()), [](Client& c) -> asio::awaitable<Status> {
    auto r = co_await c.Select("INBOX");
    co_return r.status();
  });
  EXPECT_EQ(server.Finish(), "");
  ASSERT_EQ(s.kind(), Status::Kind::kAuth) << s.ToString();
  EXPECT_NE(s.message().find("user name"), std::string::npos);
  EXPECT_NE(s.message().find("FullAccess"), std::string::npos);
}

TEST(ImapClientTest, LoginQuotesAndUsesLiterals) {
  FakeServer server(Script()
                        .Send("* OK [CAPABILITY IMAP4rev1] ready")
                        .Expect("A1 LOGIN user@example.test \"pa\\\"ss\\\\word\"")
                        .Send("A1 NO [AUTHENTICATIONFAILED] Authentication failed.")
                        .Close());
  Harness h;
  h.tokens = {"pa\"ss\\word"};
  Status s = ConnectAuth(h.Options(server.port(), false));
  EXPECT_EQ(server.Finish(), "");
  ASSERT_EQ(s.kind(), Status::Kind::kAuth) << s.ToString();
  EXPECT_NE(s.message().find("check the user name and password"), std::string::npos);
  EXPECT_EQ(h.provider_calls, std::vector<bool>{false});  // no refresh for passwords
  EXPECT_EQ(h.AllTrace().find("pa\"ss"), std::string::npos);
  EXPECT_NE(h.AllTrace().find("C: A1 LOGIN (redacted)"), std::string::npos);
}

TEST(ImapClientTest, LoginWithEightBitPasswordWaitsForTheLiteralContinuation) {
  const std::string pw = "p\xc3\xa4ss w\xc3\xb6rd";
  FakeServer server(Script()
                        .Send("* OK [CAPABILITY IMAP4rev1] ready")
                        .Expect("A1 LOGIN user@example.test {" + std::to_string(pw.size()) + "}")
                        .Send("+ go ahead")
                        .Expect(pw)
                        .Send("A1 OK [CAPABILITY IMAP4rev1] Logged in"));
  Harness h;
  h.tokens = {pw};
  Status s = ConnectAuth(h.Options(server.port(), false));
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(h.AllTrace().find("p\xc3\xa4ss"), std::string::npos) << h.AllTrace();
}

TEST(ImapClientTest, LoginWithLiteralPlusDoesNotWait) {
  const std::string pw = "line\xff";
  FakeServer server(Script()
                        .Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready")
                        .Expect("A1 LOGIN user@example.test {5+}")
                        .Expect(pw)
                        .Send("A1 OK [CAPABILITY IMAP4rev1] Logged in"));
  Harness h;
  h.tokens = {pw};
  Status s = ConnectAuth(h.Options(server.port(), false));
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClientTest, StartTlsNotOfferedIsRefused) {
  FakeServer server(Script().Send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready"));
  Harness h;
  ClientOptions o = h.Options(server.port());
  o.connect.tls = net::TlsMode::kStartTls;
  Status s = ConnectAuth(o);
  server.Finish();
  ASSERT_EQ(s.kind(), Status::Kind::kTls) << s.ToString();
  EXPECT_NE(s.message().find("does not offer STARTTLS"), std::string::npos);
}

TEST(ImapClientTest, ByeGreetingIsARefusedConnection) {
  FakeServer server(Script().Send("* BYE Too many connections from your IP").Close());
  Harness h;
  Status s = ConnectAuth(h.Options(server.port()));
  server.Finish();
  ASSERT_EQ(s.kind(), Status::Kind::kConnect) << s.ToString();
  EXPECT_NE(s.message().find("Too many connections"), std::string::npos);
  EXPECT_NE(s.message().find("try again later"), std::string::npos);
}

// Collects fetched messages in memory (a test may; the client never does).
class MemorySink : public MessageSink {
 public:
  Status BeginMessage(uint32_t, uint64_t) override {
    current.clear();
    return Status::Ok();
  }
  Status MessageChunk(std::string_view c) override {
    current.append(c);
    return Status::Ok();
  }
  Status EndMessage(const FetchedMessage& m) override {
    bodies[m.uid] = current;
    meta[m.uid] = m;
    return Status::Ok();
  }
  void AbortMessage() override { ++aborted; }
  std::string current;
  std::map<uint32_t, std::string> bodies;
  std::map<uint32_t, FetchedMessage> meta;
  int aborted = 0;
};

std::string FetchLine(uint32_t seq, uint32_t uid, const std::string& body) {
  return "* " + std::to_string(seq) + " FETCH (UID " + std::to_string(uid) + " RFC822.SIZE " +
         std::to_string(body.size()) +
         " INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" FLAGS (\\Seen) " + "BODY[] {" +
         std::to_string(body.size()) + "}\r\n" + body + ")\r\n";
}

Script Authed() {
  return Script()
      .Send(kGreeting)
      .Expect("A1 AUTHENTICATE XOAUTH2 *")
      .Send(std::string("A1 ") + kAuthOk);
}

TEST(ImapClientTest, FetchIsPipelinedToTheConfiguredDepth) {
  const char* kItems = " (UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])";
  Script s = Authed();
  // Three commands arrive before the server answers any: the client did not wait.
  s.Expect(std::string("A2 UID FETCH 10") + kItems)
      .Expect(std::string("A3 UID FETCH 11") + kItems)
      .Expect(std::string("A4 UID FETCH 12") + kItems)
      .SendRaw(FetchLine(1, 10, "Subject: a\r\n\r\nbody a\r\n"))
      .Send("A2 OK Fetch completed.")
      .Expect(std::string("A5 UID FETCH 13") + kItems)
      .SendRaw(FetchLine(2, 11, std::string("Subject: b\r\n\r\n") + std::string(100000, 'b')))
      .Send("A3 OK Fetch completed.")
      .Send("A4 OK Fetch completed.")  // 12 was expunged meanwhile
      .SendRaw(FetchLine(4, 13, "x"))
      .Send("* 4 FETCH (FLAGS (\\Seen \\Flagged))")  // unsolicited flag change
      .Send("A5 OK Fetch completed.");
  FakeServer server(s);
  Harness h;
  ClientOptions o = h.Options(server.port());
  o.pipeline_depth = 3;
  o.fetch_batch = 1;
  MemorySink sink;
  FetchReport report;
  Status st = ConnectAuth(o, [&](Client& c) -> asio::awaitable<Status> {
    const std::vector<uint32_t> uids1{10, 11, 12, 13};
    auto r = co_await c.UidFetchMessages(uids1, sink);
    if (!r.ok()) co_return r.status();
    report = *r;
    co_return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(report.fetched, 3u);
  EXPECT_EQ(report.missing, std::vector<uint32_t>{12});
  EXPECT_EQ(sink.bodies[10], "Subject: a\r\n\r\nbody a\r\n");
  EXPECT_EQ(sink.bodies[11], std::string("Subject: b\r\n\r\n") + std::string(100000, 'b'));
  EXPECT_EQ(sink.bodies[13], "x");
  EXPECT_EQ(sink.meta[11].rfc822_size, 100014u);
  EXPECT_EQ(sink.meta[10].internal_date, "17-Jul-1996 02:44:25 -0700");
  EXPECT_EQ(sink.meta[10].flags, std::vector<std::string>{"\\Seen"});
  // The trace summarises literals instead of showing them.
  EXPECT_EQ(h.AllTrace().find("bbbbbbbbbb"), std::string::npos);
  EXPECT_NE(h.AllTrace().find("(100014 bytes)"), std::string::npos);
}

// A sink that cannot keep more (a full disk): the commands in flight complete, nothing
// more is asked for, and what was never asked for is reported as such, not as missing.
TEST(ImapClientTest, FetchStopsRequestingWhenTheSinkWantsNoMore) {
  const char* kItems = " (UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])";
  Script s = Authed();
  s.Expect(std::string("A2 UID FETCH 1") + kItems)
      .Expect(std::string("A3 UID FETCH 2") + kItems)
      .SendRaw(FetchLine(1, 1, "one"))
      .Send("A2 OK Fetch completed.")
      .SendRaw(FetchLine(2, 2, "two"))
      .Send("A3 OK Fetch completed.")
      .Expect("A4 NOOP")
      .Send("A4 OK NOOP completed.");
  FakeServer server(s);
  Harness h;
  ClientOptions o = h.Options(server.port());
  o.pipeline_depth = 2;
  o.fetch_batch = 1;
  class FullAfterOne : public MemorySink {
   public:
    bool WantMore() override { return bodies.empty(); }
  } sink;
  FetchReport report;
  Status st = ConnectAuth(o, [&](Client& c) -> asio::awaitable<Status> {
    const std::vector<uint32_t> uids{1, 2, 3, 4};
    auto r = co_await c.UidFetchMessages(uids, sink);
    if (!r.ok()) co_return r.status();
    report = *r;
    co_return co_await c.Noop();  // the connection is still in step
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(report.fetched, 2u);
  EXPECT_TRUE(report.missing.empty());
  EXPECT_EQ(report.unrequested, (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(sink.bodies[2], "two");
}

TEST(ImapClientTest, ByeAccessTokenExpiredMidFetch) {
  FakeServer server(Authed()
                        .Expect("A2 UID FETCH 1:3 *")
                        .SendRaw(FetchLine(1, 1, "first"))
                        .Send("* BYE Session invalidated - AccessTokenExpired")
                        .Close());
  Harness h;
  MemorySink sink;
  Status st = ConnectAuth(h.Options(server.port()), [&](Client& c) -> asio::awaitable<Status> {
    const std::vector<uint32_t> uids2{1, 2, 3};
    auto r = co_await c.UidFetchMessages(uids2, sink);
    co_return r.status();
  });
  server.Finish();
  ASSERT_EQ(st.kind(), Status::Kind::kTransient) << st.ToString();
  EXPECT_NE(st.message().find("access token expired"), std::string::npos);
  EXPECT_NE(st.message().find("re-authenticate"), std::string::npos);
  EXPECT_EQ(sink.bodies.size(), 1u);
}

TEST(ImapClientTest, ServerClosingMidLiteralAbortsThatMessage) {
  FakeServer server(Authed()
                        .Expect("A2 UID FETCH 5 *")
                        .SendRaw("* 1 FETCH (UID 5 BODY[] {100}\r\n0123456789")
                        .Close());
  Harness h;
  MemorySink sink;
  Status st = ConnectAuth(h.Options(server.port()), [&](Client& c) -> asio::awaitable<Status> {
    const std::vector<uint32_t> uids3{5};
    auto r = co_await c.UidFetchMessages(uids3, sink);
    co_return r.status();
  });
  server.Finish();
  ASSERT_EQ(st.kind(), Status::Kind::kConnect) << st.ToString();
  EXPECT_NE(st.message().find("middle of a message (10 of 100 bytes received)"), std::string::npos)
      << st.message();
  EXPECT_EQ(sink.aborted, 1);
  EXPECT_TRUE(sink.bodies.empty());
}

TEST(ImapClientTest, IdleEndsWhenAMessageArrives) {
  FakeServer server(Authed()
                        .Expect("A2 IDLE")
                        .Send("+ idling")
                        .Send("* OK Still here")
                        .Send("* 3 EXISTS")
                        .Expect("DONE")
                        .Send("A2 OK Idle completed."));
  Harness h;
  IdleResult result;
  Status st = ConnectAuth(h.Options(server.port()), [&](Client& c) -> asio::awaitable<Status> {
    auto r = co_await c.Idle(std::chrono::seconds(30));
    if (!r.ok()) co_return r.status();
    result = *r;
    co_return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_TRUE(result.changed);
  EXPECT_EQ(result.exists, 3u);
}

TEST(ImapClientTest, IdleIsReissuedBeforeTheReadDeadline) {
  // io_timeout 2 s: each IDLE ends (DONE) before a silent server would trip it.
  FakeServer server(Authed()
                        .Expect("A2 IDLE")
                        .Send("+ idling")
                        .Expect("DONE")
                        .Send("A2 OK Idle completed.")
                        .Expect("A3 IDLE")
                        .Send("+ idling")
                        .Expect("DONE")
                        .Send("A3 OK Idle completed.")
                        .Expect("A4 NOOP")
                        .Send("A4 OK NOOP completed."));
  Harness h;
  ClientOptions o = h.Options(server.port());
  o.connect.io_timeout = std::chrono::seconds(2);
  IdleResult result;
  result.changed = true;
  Status st = ConnectAuth(o, [&](Client& c) -> asio::awaitable<Status> {
    auto r = co_await c.Idle(std::chrono::milliseconds(2500));
    if (!r.ok()) co_return r.status();
    result = *r;
    co_return co_await c.Noop();  // the connection is still in step
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_FALSE(result.changed);
}

TEST(ImapClientTest, ExpungeWithoutUidplusRefusesToRemoveOtherDeletedMessages) {
  FakeServer server(Script()
                        .Send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready")
                        .Expect("A1 AUTHENTICATE XOAUTH2 *")
                        .Send("A1 OK [CAPABILITY IMAP4rev1] Logged in")
                        .Expect("A2 UID STORE 7 +FLAGS.SILENT (\\Deleted)")
                        .Send("A2 OK Store completed.")
                        .Expect("A3 UID SEARCH DELETED")
                        .Send("* SEARCH 7 9")
                        .Send("A3 OK Search completed.")
                        .Expect("A4 UID COPY 7 Archive")
                        .Send("A4 OK Copy completed.")
                        .Expect("A5 UID STORE 7 +FLAGS.SILENT (\\Deleted)")
                        .Send("A5 OK Store completed.")
                        .Expect("A6 UID SEARCH DELETED")
                        .Send("* SEARCH 7")
                        .Send("A6 OK Search completed.")
                        .Expect("A7 EXPUNGE")
                        .Send("* 1 EXPUNGE")
                        .Send("A7 OK Expunge completed."));
  Harness h;
  Status first, second;
  Status st = ConnectAuth(h.Options(server.port()), [&](Client& c) -> asio::awaitable<Status> {
    const std::vector<uint32_t> uids4{7};
    first = co_await c.UidExpunge(uids4);
    const std::vector<uint32_t> uids5{7};
    second = co_await c.UidMove(uids5, "Archive");
    co_return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(first.kind(), Status::Kind::kPermanent);
  EXPECT_NE(first.message().find("UIDPLUS"), std::string::npos);
  EXPECT_TRUE(second.ok()) << second.ToString();
}

TEST(ImapClientTest, MailboxNamesGoOutInModifiedUtf7) {
  FakeServer server(
      Authed()
          .Expect("A2 UID MOVE 1:3,5 \"Gel&APY-schte Elemente\"")
          .Send("A2 NO [TRYCREATE] Mailbox doesn't exist")
          .Expect("A3 LIST \"\" *")
          .Send("* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\"")
          .Send("* LIST (\\HasNoChildren \\Trash) \"/\" {22}\r\nGel&APY-schte Elemente")
          .Send("A3 OK List completed."));
  Harness h;
  Status moved;
  std::vector<ListEntry> list;
  Status st = ConnectAuth(h.Options(server.port()), [&](Client& c) -> asio::awaitable<Status> {
    const std::vector<uint32_t> uids6{1, 2, 3, 5};
    moved = co_await c.UidMove(uids6, "Gel\xc3\xb6schte Elemente");
    auto l = co_await c.List("", "*");
    if (!l.ok()) co_return l.status();
    list = *l;
    co_return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(moved.kind(), Status::Kind::kNotFound);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "Entw\xc3\xbcrfe");
  EXPECT_EQ(list[1].name, "Gel\xc3\xb6schte Elemente");
  EXPECT_EQ(list[1].attributes.back(), "\\Trash");
}

TEST(UidSetTest, CompressesRanges) {
  EXPECT_EQ(UidSet({5, 1, 2, 3, 9, 10, 3}), "1:3,5,9:10");
  EXPECT_EQ(UidSet({}), "");
  EXPECT_EQ(UidSet({4294967295u}), "4294967295");
}

TEST(QuoteAstringTest, AtomQuotedOrLiteral) {
  EXPECT_EQ(QuoteAstring("INBOX"), "INBOX");
  EXPECT_EQ(QuoteAstring(""), "\"\"");
  EXPECT_EQ(QuoteAstring("a b"), "\"a b\"");
  EXPECT_EQ(QuoteAstring("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(QuoteAstring("a]b"), "\"a]b\"");
  EXPECT_FALSE(QuoteAstring("a\r\nb").has_value());
  EXPECT_FALSE(QuoteAstring("caf\xc3\xa9").has_value());
}

}  // namespace
}  // namespace mailgate::imap
