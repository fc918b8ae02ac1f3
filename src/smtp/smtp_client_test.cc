// SMTP client against scripted transcripts (Exchange Online's and Dovecot's
// replies that the test Postfix will not produce).
#include "smtp/smtp_client.h"

#include <gtest/gtest.h>

#include "support/client_test_util.h"
#include "support/fake_server.h"
#include "support/run_co.h"
#include "support/test_certs.h"

namespace mailgate::smtp {
namespace {

namespace asio = boost::asio;
using testing::FakeServer;
using testing::RunCo;
using testing::Script;
using testing::Xoauth2;

net::ConnectOptions Options(uint16_t port) {
  return testing::LoopbackOptions(port);
}

Script Greeting(const std::string& auth = "AUTH LOGIN XOAUTH2", bool pipelining = true) {
  Script s;
  s.Send("220 mail.example.test Microsoft ESMTP MAIL Service ready")
      .Expect("EHLO test.client")
      .Send("250-mail.example.test Hello")
      .Send("250-SIZE 157286400");
  if (pipelining) s.Send("250-PIPELINING");
  s.Send("250-ENHANCEDSTATUSCODES").Send("250-8BITMIME").Send("250-" + auth).Send("250 SMTPUTF8");
  return s;
}

struct Tokens {
  std::vector<bool> calls;
  std::string first, fresh;
  sasl::AuthOptions Auth(const std::string& user) {
    sasl::AuthOptions a;
    a.user = user;
    a.secret_is_token = true;
    a.secret = [this](bool force) -> StatusOr<std::string> {
      calls.push_back(force);
      return force ? fresh : first;
    };
    return a;
  }
};

struct Outcome {
  Status status;
  std::vector<std::string> trace;
  StatusOr<SendResult> sent = Status::Internal("not sent");
  std::vector<RecipientResult> refused;  // refused_recipients() after Send
};

Outcome AuthAndMaybeSend(uint16_t port, const sasl::AuthOptions& auth,
                         const Envelope* env = nullptr, std::string_view message = {}) {
  Outcome out;
  RunCo<bool>([&](asio::any_io_executor ex) -> asio::awaitable<bool> {
    ClientOptions client_options{"test.client"};
    net::TraceFn trace = [&](net::TraceDirection d, std::string_view t) {
      out.trace.push_back((d == net::TraceDirection::kSend ? "C: " : "S: ") + std::string(t));
    };
    auto c = co_await Client::Connect(ex, Options(port), client_options, trace);
    if (!c.ok()) {
      out.status = c.status();
      co_return false;
    }
    out.status = co_await (*c)->Authenticate(auth);
    if (out.status.ok() && env != nullptr) {
      out.sent = co_await (*c)->Send(*env, message);
      out.refused = (*c)->refused_recipients();
    }
    (void)co_await (*c)->Quit();
    co_return true;
  });
  return out;
}

TEST(SmtpClientTest, ShortTokenGoesOnTheAuthLine) {
  Tokens t{{}, "short-token", "x"};
  FakeServer server(Greeting()
                        .Expect("AUTH XOAUTH2 " + Xoauth2("u@example.test", "short-token"))
                        .Send("235 2.7.0 Authentication successful")
                        .Expect("QUIT")
                        .Send("221 2.0.0 Bye"));
  Outcome r = AuthAndMaybeSend(server.port(), t.Auth("u@example.test"));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_NE(std::find(r.trace.begin(), r.trace.end(), "C: AUTH XOAUTH2 <redacted>"), r.trace.end());
  for (const std::string& l : r.trace) EXPECT_EQ(l.find("short-token"), std::string::npos);
}

TEST(SmtpClientTest, AuthLineOver512OctetsSendsTheResponseAfter334) {
  // Dovecot's submission service answers "500 5.5.2 Line too long" to longer
  // AUTH lines; RFC 4954 limits them to 512 octets.
  const std::string token(16 * 1024, 'T');
  Tokens t{{}, token, "x"};
  FakeServer server(Greeting()
                        .Expect("AUTH XOAUTH2")
                        .Send("334 ")
                        .Expect(Xoauth2("u@example.test", token))
                        .Send("235 2.7.0 Authentication successful")
                        .Expect("QUIT")
                        .Send("221 2.0.0 Bye"));
  Outcome r = AuthAndMaybeSend(server.port(), t.Auth("u@example.test"));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(server.Finish(), "");
  for (const std::string& l : r.trace) EXPECT_EQ(l.find("TTTTTTTT"), std::string::npos);
}

TEST(SmtpClientTest, SmtpAuthDisabled57139IsExplainedAndNotRetried) {
  Tokens t{{}, "tok-a", "tok-b"};
  FakeServer server(Greeting()
                        .Expect("AUTH XOAUTH2 *")
                        .Send("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
                              "is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled "
                              "for more information.")
                        .Expect("QUIT")
                        .Send("221 2.0.0 Bye"));
  Outcome r = AuthAndMaybeSend(server.port(), t.Auth("u@example.test"));
  EXPECT_EQ(r.status.kind(), Status::Kind::kAuth);
  EXPECT_NE(r.status.message().find("Set-CASMailbox"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("-SmtpClientAuthenticationDisabled $false"), std::string::npos);
  EXPECT_EQ(t.calls, std::vector<bool>{false});
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClientTest, TokenWillExpireSoonGetsAFreshTokenAndSucceeds) {
  Tokens t{{}, "tok-old", "tok-new"};
  FakeServer server(Greeting()
                        .Expect("AUTH XOAUTH2 " + Xoauth2("u@example.test", "tok-old"))
                        .Send("501 5.5.127 Token will expire soon, please refresh and retry")
                        .Expect("AUTH XOAUTH2 " + Xoauth2("u@example.test", "tok-new"))
                        .Send("235 2.7.0 Authentication successful")
                        .Expect("QUIT")
                        .Send("221 2.0.0 Bye"));
  Outcome r = AuthAndMaybeSend(server.port(), t.Auth("u@example.test"));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(t.calls, (std::vector<bool>{false, true}));
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClientTest, OAuthErrorChallengeIsAnsweredEmptyAndNamedInTheError) {
  const std::string json = R"({"status":"401","schemes":"bearer","scope":"smtp"})";
  Tokens t{{}, "tok-a", "tok-b"};
  auto attempt = [&](Script s) {
    return std::move(s.Expect("AUTH XOAUTH2 *")
                         .Send("334 " + sasl::Base64Encode(json))
                         .Expect("")
                         .Send("535 5.7.8 Authentication failed"));
  };
  FakeServer server(
      attempt(attempt(Greeting("AUTH PLAIN XOAUTH2"))).Expect("QUIT").Send("221 Bye"));
  Outcome r = AuthAndMaybeSend(server.port(), t.Auth("u@example.test"));
  EXPECT_EQ(r.status.kind(), Status::Kind::kAuth);
  EXPECT_NE(r.status.message().find("status 401"), std::string::npos) << r.status.message();
  EXPECT_EQ(t.calls, (std::vector<bool>{false, true}));
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(r.status.message().find("tok-"), std::string::npos);
}

TEST(SmtpClientTest, LoginInTwoStepsWithRedactedTrace) {
  FakeServer server(Greeting("AUTH LOGIN")
                        .Expect("AUTH LOGIN")
                        .Send("334 VXNlcm5hbWU6")
                        .Expect(sasl::Base64Encode("bob"))
                        .Send("334 UGFzc3dvcmQ6")
                        .Expect(sasl::Base64Encode("pa55-word"))
                        .Send("235 2.7.0 Authentication successful")
                        .Expect("QUIT")
                        .Send("221 Bye"));
  sasl::AuthOptions a;
  a.user = "bob";
  a.secret = [](bool) -> StatusOr<std::string> { return std::string("pa55-word"); };
  Outcome r = AuthAndMaybeSend(server.port(), a);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(server.Finish(), "");
  for (const std::string& l : r.trace) {
    EXPECT_EQ(l.find(sasl::Base64Encode("pa55-word")), std::string::npos) << l;
  }
}

TEST(SmtpClientTest, PipelinedSendReportsEachRecipientAndStuffsDots) {
  Tokens t{{}, "tok", "tok"};
  FakeServer server(Greeting()
                        .Expect("AUTH XOAUTH2 *")
                        .Send("235 2.7.0 ok")
                        .Expect("MAIL FROM:<a@example.test> SIZE=* BODY=8BITMIME")
                        .Expect("RCPT TO:<b@example.test>")
                        .Expect("RCPT TO:<nobody@example.test>")
                        .Expect("DATA")
                        .Send("250 2.1.0 Sender OK")
                        .Send("250 2.1.5 Recipient OK")
                        .Send("550 5.1.1 User unknown")
                        .Send("354 Start mail input")
                        .Expect("Subject: t")
                        .Expect("")
                        .Expect("..dot line")
                        .Expect("h\xc3\xa9")
                        .Expect(".")
                        .Send("250 2.0.0 Queued")
                        .Expect("QUIT")
                        .Send("221 Bye"));
  Envelope env{"a@example.test", {"b@example.test", "nobody@example.test"}};
  Outcome r = AuthAndMaybeSend(server.port(), t.Auth("a@example.test"), &env,
                               "Subject: t\n\n.dot line\nh\xc3\xa9");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_TRUE(r.sent.ok()) << r.sent.status().ToString();
  ASSERT_EQ(r.sent->recipients.size(), 2u);
  EXPECT_TRUE(r.sent->recipients[0].accepted());
  EXPECT_FALSE(r.sent->recipients[1].accepted());
  EXPECT_EQ(r.sent->recipients[1].reply.enhanced, "5.1.1");
  EXPECT_TRUE(r.refused.empty()) << "one recipient was accepted";
  EXPECT_EQ(server.Finish(), "");
  for (const std::string& l : r.trace) EXPECT_EQ(l.find("dot line"), std::string::npos);
}

TEST(SmtpClientTest, AllRecipientsRefusedIsPermanentWithoutPipelining) {
  Tokens t{{}, "tok", "tok"};
  FakeServer server(Greeting("AUTH XOAUTH2", false)
                        .Expect("AUTH XOAUTH2 *")
                        .Send("235 ok")
                        .Expect("MAIL FROM:<a@example.test> SIZE=4")
                        .Send("250 ok")
                        .Expect("RCPT TO:<x@example.test>")
                        .Send("550 5.1.1 no such user")
                        .Expect("RSET")
                        .Send("250 ok")
                        .Expect("QUIT")
                        .Send("221 Bye"));
  Envelope env{"a@example.test", {"x@example.test"}};
  Outcome r = AuthAndMaybeSend(server.port(), t.Auth("a@example.test"), &env, "hi\r\n");
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.sent.status().kind(), Status::Kind::kPermanent) << r.sent.status().ToString();
  ASSERT_EQ(r.refused.size(), 1u);
  EXPECT_EQ(r.refused[0].address, "x@example.test");
  EXPECT_EQ(r.refused[0].reply.code, 550);
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClientTest, AllRecipientsRefusedPipelinedReportsEachReplyAndIsTransientIfOneWas4xx) {
  Tokens t{{}, "tok", "tok"};
  FakeServer server(Greeting()
                        .Expect("AUTH XOAUTH2 *")
                        .Send("235 ok")
                        .Expect("MAIL FROM:<a@example.test> SIZE=4")
                        .Expect("RCPT TO:<x@example.test>")
                        .Expect("RCPT TO:<y@example.test>")
                        .Expect("DATA")
                        .Send("250 ok")
                        .Send("550 5.1.1 no such user")
                        .Send("452 4.2.2 mailbox full")
                        .Send("554 5.5.1 no valid recipients")
                        .Expect("RSET")
                        .Send("250 ok")
                        .Expect("QUIT")
                        .Send("221 Bye"));
  Envelope env{"a@example.test", {"x@example.test", "y@example.test"}};
  Outcome r = AuthAndMaybeSend(server.port(), t.Auth("a@example.test"), &env, "hi\r\n");
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.sent.status().kind(), Status::Kind::kTransient) << r.sent.status().ToString();
  ASSERT_EQ(r.refused.size(), 2u);
  EXPECT_EQ(r.refused[0].address, "x@example.test");
  EXPECT_EQ(r.refused[0].reply.enhanced, "5.1.1");
  EXPECT_EQ(r.refused[1].address, "y@example.test");
  EXPECT_EQ(r.refused[1].reply.code, 452);
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClientTest, StartTlsRequiredButNotOfferedIsRefused) {
  FakeServer server(Script()
                        .Send("220 ready")
                        .Expect("EHLO *")
                        .Send("250-ready")
                        .Send("250 AUTH PLAIN")
                        .Expect("QUIT"));
  net::ConnectOptions o = Options(server.port());
  o.tls = net::TlsMode::kStartTls;
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const ClientOptions copts;
    const net::TraceFn no_trace;
    auto c = co_await Client::Connect(ex, o, copts, no_trace);
    co_return c.ok() ? Status::Ok() : c.status();
  });
  EXPECT_EQ(st.kind(), Status::Kind::kTls);
  EXPECT_NE(st.message().find("does not offer STARTTLS"), std::string::npos);
}

TEST(SmtpClientTest, StartTlsThenEhloAgain) {
  testing::TestCerts certs;
  testing::CertFiles ca = certs.MakeCa("CA");
  testing::CertFiles leaf = certs.MakeLeaf(ca, {"127.0.0.1"});
  FakeServer server(Script()
                        .Send("220 ready")
                        .Expect("EHLO *")
                        .Send("250-ready")
                        .Send("250 STARTTLS")
                        .Expect("STARTTLS")
                        .Send("220 2.0.0 go ahead")
                        .StartTls()
                        .Expect("EHLO *")
                        .Send("250-ready")
                        .Send("250 AUTH PLAIN LOGIN"),
                    {false, leaf.cert, leaf.key});
  net::ConnectOptions o = Options(server.port());
  o.tls = net::TlsMode::kStartTls;
  o.ca_file = ca.cert;
  std::vector<std::string> auth;
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const ClientOptions copts;
    const net::TraceFn no_trace;
    auto c = co_await Client::Connect(ex, o, copts, no_trace);
    if (!c.ok()) co_return c.status();
    auth = (*c)->extensions().auth;
    co_return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(auth, (std::vector<std::string>{"PLAIN", "LOGIN"}));
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClientTest, HeloFallbackAndMultiLineReplyParsing) {
  FakeServer server(Script()
                        .Send("220-first line")
                        .Send("220 second line")
                        .Expect("EHLO *")
                        .Send("502 5.5.1 command not implemented")
                        .Expect("HELO *")
                        .Send("250 hello")
                        .Expect("NOOP")
                        .Send("250 ok"));
  Reply greeting;
  bool esmtp = true;
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const ClientOptions copts;
    const net::TraceFn no_trace;
    auto c = co_await Client::Connect(ex, Options(server.port()), copts, no_trace);
    if (!c.ok()) co_return c.status();
    greeting = (*c)->greeting();
    esmtp = (*c)->extensions().esmtp;
    co_return co_await (*c)->Noop();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(greeting.lines, (std::vector<std::string>{"first line", "second line"}));
  EXPECT_FALSE(esmtp);
}

TEST(SmtpClientTest, ClosedMidReplyIsAConnectError) {
  FakeServer server(Script().Send("220 ready").Expect("EHLO *").SendRaw("250-first\r\n").Close());
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const ClientOptions copts;
    const net::TraceFn no_trace;
    auto c = co_await Client::Connect(ex, Options(server.port()), copts, no_trace);
    co_return c.ok() ? Status::Ok() : c.status();
  });
  EXPECT_EQ(st.kind(), Status::Kind::kConnect) << st.ToString();
}

TEST(DataEncoderTest, NormalisesLineEndsAndStuffsDotsAcrossChunks) {
  DataEncoder e;
  std::string out;
  // A CR at the end of one chunk and its LF at the start of the next.
  e.Encode("a\r", out);
  e.Encode("\n.b\n", out);
  e.Encode(".", out);
  e.Encode("c\r\n..d", out);
  e.Finish(out);
  EXPECT_EQ(out, "a\r\n..b\r\n..c\r\n...d\r\n.\r\n");
}

TEST(DataEncoderTest, EmptyMessageAndMessageEndingInCrlf) {
  DataEncoder e1;
  std::string out;
  e1.Finish(out);
  EXPECT_EQ(out, ".\r\n");
  DataEncoder e2;
  out.clear();
  e2.Encode("x\r\n", out);
  e2.Finish(out);
  EXPECT_EQ(out, "x\r\n.\r\n");
}

TEST(ReplyErrorTest, ClassifiesByCode) {
  EXPECT_EQ(ReplyError("MAIL", {451, "4.3.0", {"4.3.0 try later"}}).kind(),
            Status::Kind::kTransient);
  EXPECT_EQ(ReplyError("MAIL", {550, "5.7.1", {"5.7.1 denied"}}).kind(), Status::Kind::kPermanent);
  EXPECT_EQ(ReplyError("AUTH", {535, "5.7.3", {"5.7.3 Authentication unsuccessful"}}).kind(),
            Status::Kind::kAuth);
}

}  // namespace
}  // namespace mailgate::smtp
