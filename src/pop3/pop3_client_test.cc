// POP3 client against scripted transcripts: what Dovecot will not produce
// (Exchange Online's replies) and edge cases (a close mid-message).
#include "pop3/pop3_client.h"

#include <gtest/gtest.h>

#include <map>

#include "support/client_test_util.h"
#include "support/fake_server.h"
#include "support/run_co.h"

namespace mailgate::pop3 {
namespace {

namespace asio = boost::asio;
using testing::FakeServer;
using testing::RunCo;
using testing::Script;
using testing::Xoauth2;

constexpr char kToken1[] = "tok-first-AAAAAAAAAAAAAAAAAAAAAAAAAAAA";
constexpr char kToken2[] = "tok-fresh-BBBBBBBBBBBBBBBBBBBBBBBBBBBB";

net::ConnectOptions Options(uint16_t port) {
  return testing::LoopbackOptions(port);
}

// Exchange Online's greeting and CAPA (MailKit #178).
Script ExchangeGreeting() {
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

struct TokenSource {
  std::vector<bool> calls;
  sasl::AuthOptions Auth(const std::string& user) {
    sasl::AuthOptions a;
    a.user = user;
    a.secret_is_token = true;
    a.secret = [this](bool force) -> StatusOr<std::string> {
      calls.push_back(force);
      return std::string(force ? kToken2 : kToken1);
    };
    return a;
  }
};

struct Outcome {
  Status auth;
  StatusOr<MailboxStat> stat = Status::Internal("not run");
  std::vector<std::string> trace;
};

Outcome AuthAndStat(uint16_t port, const sasl::AuthOptions& auth) {
  Outcome out;
  RunCo<bool>([&](asio::any_io_executor ex) -> asio::awaitable<bool> {
    const net::TraceFn trace = [&](net::TraceDirection d, std::string_view t) {
      out.trace.push_back((d == net::TraceDirection::kSend   ? "C: "
                           : d == net::TraceDirection::kRecv ? "S: "
                                                             : "* ") +
                          std::string(t));
    };
    auto client = co_await Client::Connect(ex, Options(port), trace);
    if (!client.ok()) {
      out.auth = client.status();
      co_return false;
    }
    out.auth = co_await (*client)->Authenticate(auth);
    if (!out.auth.ok()) co_return false;
    out.stat = co_await (*client)->Stat();
    (void)co_await (*client)->Quit();
    co_return true;
  });
  if (!out.auth.ok()) {
    for (const std::string& t : out.trace) std::fprintf(stderr, "  trace: %s\n", t.c_str());
  }
  return out;
}

void ExpectNoSecrets(const Outcome& o) {
  for (const std::string& secret : {std::string(kToken1), std::string(kToken2),
                                    Xoauth2("user@example.test", kToken1).substr(0, 40)}) {
    EXPECT_EQ(o.auth.message().find(secret), std::string::npos);
    for (const std::string& t : o.trace) EXPECT_EQ(t.find(secret), std::string::npos) << t;
  }
}

TEST(Pop3ClientTest, Xoauth2WaitsForExchangesPlusPromptBeforeTheToken) {
  FakeServer server(ExchangeGreeting()
                        .Expect("AUTH XOAUTH2")  // exactly: no token on the AUTH line
                        .Send("+ ")
                        .Expect(Xoauth2("user@example.test", kToken1))
                        .Send("+OK User successfully authenticated.")
                        .Expect("STAT")
                        .Send("+OK 2 4096")
                        .Expect("QUIT")
                        .Send("+OK Microsoft Exchange Server POP3 server signing off."));
  TokenSource tokens;
  Outcome o = AuthAndStat(server.port(), tokens.Auth("user@example.test"));
  ASSERT_TRUE(o.auth.ok()) << o.auth.ToString();
  ASSERT_TRUE(o.stat.ok()) << o.stat.status().ToString();
  EXPECT_EQ(o.stat->count, 2u);
  EXPECT_EQ(o.stat->octets, 4096u);
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(tokens.calls, std::vector<bool>{false});
  EXPECT_NE(std::find(o.trace.begin(), o.trace.end(), "C: <redacted>"), o.trace.end());
  ExpectNoSecrets(o);
}

TEST(Pop3ClientTest, ExchangeProtocolErrorIsExplainedAndRetriedOnAFreshConnection) {
  FakeServer server({ExchangeGreeting()
                         .Expect("AUTH XOAUTH2")
                         .Send("+ ")
                         .Expect("*")
                         .Send("-ERR Protocol error. Connection is closed. 10")
                         .Close(),
                     ExchangeGreeting()
                         .Expect("AUTH XOAUTH2")
                         .Send("+ ")
                         .Expect("*")
                         .Send("-ERR Protocol error. Connection is closed. 10")
                         .Close()},
                    {});
  TokenSource tokens;
  Outcome o = AuthAndStat(server.port(), tokens.Auth("user@example.test"));
  EXPECT_EQ(o.auth.kind(), Status::Kind::kAuth) << o.auth.ToString();
  EXPECT_NE(o.auth.message().find("token comes on the AUTH line"), std::string::npos)
      << o.auth.message();
  EXPECT_EQ(tokens.calls, (std::vector<bool>{false, true}));
  EXPECT_EQ(server.Finish(), "");
  std::vector<std::string> rx = server.received();
  EXPECT_NE(std::find(rx.begin(), rx.end(), Xoauth2("user@example.test", kToken2)), rx.end());
  ExpectNoSecrets(o);
}

TEST(Pop3ClientTest, OAuthErrorChallengeGetsEmptyResponseAndFreshTokenSucceeds) {
  const std::string json =
      R"({"status":"401","schemes":"bearer","scope":"https://outlook.office.com/POP.AccessAsUser.All"})";
  FakeServer server(Script()
                        .Send("+OK Dovecot ready.")
                        .Expect("CAPA")
                        .Send("+OK")
                        .Send("SASL PLAIN XOAUTH2 OAUTHBEARER")
                        .Send(".")
                        .Expect("AUTH XOAUTH2")
                        .Send("+ ")
                        .Expect(Xoauth2("a@example.test", kToken1))
                        .Send("+ " + sasl::Base64Encode(json))
                        .Expect("")  // the dummy response after an error challenge
                        .Send("-ERR [AUTH] Authentication failed.")
                        .Expect("AUTH XOAUTH2")
                        .Send("+ ")
                        .Expect(Xoauth2("a@example.test", kToken2))
                        .Send("+OK Logged in.")
                        .Expect("STAT")
                        .Send("+OK 0 0")
                        .Expect("QUIT")
                        .Send("+OK Logging out."));
  TokenSource tokens;
  Outcome o = AuthAndStat(server.port(), tokens.Auth("a@example.test"));
  ASSERT_TRUE(o.auth.ok()) << o.auth.ToString();
  EXPECT_EQ(tokens.calls, (std::vector<bool>{false, true}));
  EXPECT_EQ(server.Finish(), "");
  ExpectNoSecrets(o);
}

TEST(Pop3ClientTest, RefusedTokenNamesTheDecodedOAuthError) {
  const std::string json = R"({"status":"invalid_token","schemes":"bearer","scope":"x"})";
  Script attempt = Script();
  auto one = [&](Script s) {
    return std::move(s.Expect("AUTH XOAUTH2")
                         .Send("+ ")
                         .Expect("*")
                         .Send("+ " + sasl::Base64Encode(json))
                         .Expect("")
                         .Send("-ERR [AUTH] Authentication failed."));
  };
  FakeServer server(one(
      one(Script().Send("+OK ready").Expect("CAPA").Send("+OK").Send("SASL XOAUTH2").Send("."))));
  TokenSource tokens;
  Outcome o = AuthAndStat(server.port(), tokens.Auth("a@example.test"));
  EXPECT_EQ(o.auth.kind(), Status::Kind::kAuth);
  EXPECT_NE(o.auth.message().find("invalid_token"), std::string::npos) << o.auth.message();
  EXPECT_NE(o.auth.message().find("expired, revoked"), std::string::npos);
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3ClientTest, AuthenticatedButNotConnectedIsExplained) {
  FakeServer server(ExchangeGreeting()
                        .Expect("AUTH XOAUTH2")
                        .Send("+ ")
                        .Expect("*")
                        .Send("-ERR User is authenticated but not connected.")
                        .Expect("AUTH XOAUTH2")
                        .Send("+ ")
                        .Expect("*")
                        .Send("-ERR User is authenticated but not connected."));
  TokenSource tokens;
  Outcome o = AuthAndStat(server.port(), tokens.Auth("shared@example.test"));
  EXPECT_EQ(o.auth.kind(), Status::Kind::kAuth);
  EXPECT_NE(o.auth.message().find("has no access to that mailbox"), std::string::npos)
      << o.auth.message();
  EXPECT_NE(o.auth.message().find("FullAccess"), std::string::npos);
}

TEST(Pop3ClientTest, StlsRequiredButNotOfferedIsRefused) {
  FakeServer server(Script()
                        .Send("+OK ready")
                        .Expect("CAPA")
                        .Send("+OK")
                        .Send("USER")
                        .Send("SASL PLAIN")
                        .Send("."));
  net::ConnectOptions o = Options(server.port());
  o.tls = net::TlsMode::kStartTls;
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const net::TraceFn no_trace;
    auto c = co_await Client::Connect(ex, o, no_trace);
    co_return c.ok() ? Status::Ok() : c.status();
  });
  EXPECT_EQ(st.kind(), Status::Kind::kTls);
  EXPECT_NE(st.message().find("does not offer STLS"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("never falls back to plaintext"), std::string::npos);
}

TEST(Pop3ClientTest, UserPassWhenNoSaslAndPasswordRedacted) {
  FakeServer server(Script()
                        .Send("+OK ready")
                        .Expect("CAPA")
                        .Send("+OK")
                        .Send("USER")
                        .Send(".")
                        .Expect("USER bob@example.test")
                        .Send("+OK")
                        .Expect("PASS hunter2-secret")
                        .Send("+OK Logged in.")
                        .Expect("STAT")
                        .Send("+OK 1 10")
                        .Expect("QUIT")
                        .Send("+OK"));
  sasl::AuthOptions auth;
  auth.user = "bob@example.test";
  auth.secret = [](bool) -> StatusOr<std::string> { return std::string("hunter2-secret"); };
  Outcome o = AuthAndStat(server.port(), auth);
  ASSERT_TRUE(o.auth.ok()) << o.auth.ToString();
  EXPECT_EQ(server.Finish(), "");
  for (const std::string& t : o.trace) EXPECT_EQ(t.find("hunter2"), std::string::npos) << t;
  EXPECT_NE(std::find(o.trace.begin(), o.trace.end(), "C: PASS <redacted>"), o.trace.end());
}

TEST(Pop3ClientTest, PipelinedRetrUnstuffsDotsAndStreamsEachMessage) {
  FakeServer server(Script()
                        .Send("+OK ready")
                        .Expect("CAPA")
                        .Send("+OK")
                        .Send("PIPELINING")
                        .Send("UIDL")
                        .Send(".")
                        .Expect("RETR 1")
                        .Expect("RETR 2")  // sent before the first answer: pipelined
                        .Send("+OK 30 octets")
                        .Send("Subject: one")
                        .Send("")
                        .Send("..leading dot")
                        .Send("...")
                        .Send(".")
                        .Send("+OK")
                        .Send("Subject: two")
                        .Send("")
                        .Send("body")
                        .Send(".")
                        .Expect("DELE 1")
                        .Expect("DELE 2")
                        .Send("+OK")
                        .Send("+OK")
                        .Expect("QUIT")
                        .Send("+OK"));
  std::map<std::uint64_t, std::string> got;
  std::vector<std::string> trace;
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const net::TraceFn trace_fn = [&](net::TraceDirection, std::string_view t) {
      trace.emplace_back(t);
    };
    auto c = co_await Client::Connect(ex, Options(server.port()), trace_fn);
    if (!c.ok()) co_return c.status();
    const std::vector<std::uint64_t> numbers{1, 2};
    std::function<MessageSink(std::uint64_t)> sink_for = [&got](std::uint64_t n) -> MessageSink {
      return [&got, n](std::string_view chunk) {
        got[n] += chunk;
        return Status::Ok();
      };
    };
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*c)->RetrMany(numbers, sink_for));
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*c)->DeleMany(numbers));
    co_return co_await (*c)->Quit();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(got[1], "Subject: one\r\n\r\n.leading dot\r\n..\r\n");
  EXPECT_EQ(got[2], "Subject: two\r\n\r\nbody\r\n");
  EXPECT_EQ(server.Finish(), "");
  // Bodies are summarised in the trace, never shown.
  for (const std::string& t : trace) EXPECT_EQ(t.find("leading dot"), std::string::npos) << t;
  EXPECT_NE(std::find(trace.begin(), trace.end(), "(34 bytes)"), trace.end());
}

TEST(Pop3ClientTest, ConnectionClosedMidMessageIsAnErrorNotATruncatedMessage) {
  FakeServer server(Script()
                        .Send("+OK ready")
                        .Expect("CAPA")
                        .Send("-ERR unknown command")
                        .Expect("RETR 1")
                        .Send("+OK")
                        .Send("Subject: cut")
                        .SendRaw("half a li")
                        .Close());
  bool sink_done = false;
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const net::TraceFn no_trace;
    auto c = co_await Client::Connect(ex, Options(server.port()), no_trace);
    if (!c.ok()) co_return c.status();
    Status s = co_await (*c)->Retr(1, [&](std::string_view) { return Status::Ok(); });
    sink_done = s.ok();
    co_return s;
  });
  EXPECT_FALSE(sink_done);
  EXPECT_EQ(st.kind(), Status::Kind::kConnect) << st.ToString();
  EXPECT_NE(st.message().find("closed the connection"), std::string::npos);
}

TEST(Pop3ClientTest, SysTempIsTransient) {
  Status s = AuthFailure("[SYS/TEMP] try later", "u@x", true, "");
  EXPECT_EQ(s.kind(), Status::Kind::kTransient);
}

}  // namespace
}  // namespace mailgate::pop3
