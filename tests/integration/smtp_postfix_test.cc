// The SMTP client against the real Postfix (submission with STARTTLS,
// submissions with implicit TLS) and Dovecot's submission service: every
// mechanism; delivery checked by fetching the message back over POP3.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "pop3/pop3_client.h"
#include "smtp/smtp_client.h"
#include "support/run_co.h"
#include "support/test_env.h"

namespace mailgate::smtp {
namespace {

namespace asio = boost::asio;
using testing::Env;
using testing::RunCo;

enum class Server { kPostfixSubmission, kPostfixSubmissions, kDovecotSubmission };

struct Combo {
  sasl::Mechanism mech;
  Server server;
};

std::string ComboName(const ::testing::TestParamInfo<Combo>& info) {
  const char* server = info.param.server == Server::kPostfixSubmission    ? "postfix_starttls"
                       : info.param.server == Server::kPostfixSubmissions ? "postfix_implicit"
                                                                          : "dovecot_starttls";
  return std::string(sasl::MechanismName(info.param.mech)) + "_" + server;
}

net::ConnectOptions Options(Server server) {
  const auto& env = Env();
  net::ConnectOptions o;
  o.host = env.tls_name;
  o.ca_file = env.ca;
  o.connect_timeout = std::chrono::seconds(20);
  o.io_timeout = std::chrono::seconds(30);
  switch (server) {
    case Server::kPostfixSubmission:
      o.port = env.submission_port;
      o.tls = net::TlsMode::kStartTls;
      break;
    case Server::kPostfixSubmissions:
      o.port = env.submissions_port;
      o.tls = net::TlsMode::kImplicit;
      break;
    case Server::kDovecotSubmission:
      o.port = env.dovecot_submission_port;
      o.tls = net::TlsMode::kStartTls;
      break;
  }
  return o;
}

// Waits until `user`'s mailbox holds `count` messages (delivery through
// Postfix's queue is asynchronous).
Status WaitForMessages(const std::string& user, const std::string& token, std::uint64_t count) {
  sasl::AuthOptions auth;
  auth.user = user;
  auth.secret_is_token = true;
  auth.secret = [&token](bool) -> StatusOr<std::string> { return token; };
  net::ConnectOptions o;
  o.host = Env().tls_name;
  o.port = Env().pop3s_port;
  o.ca_file = Env().ca;
  Status last;
  for (int i = 0; i < 60; ++i) {
    std::uint64_t have = 0;
    last = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
      const net::TraceFn none;
      auto c = co_await pop3::Client::Connect(ex, o, none);
      if (!c.ok()) co_return c.status();
      MAILGATE_CO_RETURN_IF_ERROR(co_await (*c)->Authenticate(auth));
      MAILGATE_CO_ASSIGN_OR_RETURN(pop3::MailboxStat st, co_await (*c)->Stat());
      have = st.count;
      co_return co_await (*c)->Quit();
    });
    if (last.ok() && have >= count) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return last.ok() ? Status::Internal("message not delivered within 15 s") : last;
}

class SmtpServersTest : public ::testing::TestWithParam<Combo> {};

TEST_P(SmtpServersTest, AuthenticatesAndDeliversWithPerRecipientResults) {
  const Combo combo = GetParam();
  if (combo.server != Server::kDovecotSubmission) {
    ASSERT_TRUE(Env().postfix) << "Postfix is not running (testenv needs root for it)";
  }
  const std::string user = testing::UniqueUser("smtp-mech");
  auto token =
      testing::MintToken(user, std::string(testing::kSmtpScope) + " " + testing::kPopScope, 600);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  std::string secret = *token;
  const bool oauth = sasl::IsOAuth(combo.mech);
  if (!oauth) {
    secret = "pw-" + user.substr(0, 10);
    ASSERT_TRUE(testing::AddPasswordUser(user, secret).ok());
  }
  sasl::AuthOptions auth;
  auth.user = user;
  auth.mechanism = combo.mech;
  auth.secret_is_token = oauth;
  auth.secret = [&secret](bool) -> StatusOr<std::string> { return secret; };

  std::vector<std::string> trace;
  StatusOr<SendResult> sent = Status::Internal("not sent");
  // Bare LF, a leading dot, 8-bit text: normalised, stuffed, BODY=8BITMIME.
  const std::string message = "From: <" + user + ">\nTo: <" + user +
                              ">\nSubject: smtp test\n\n.leading dot\nh\xc3\xa9llo\n";
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const net::TraceFn trace_fn = [&](net::TraceDirection, std::string_view t) {
      trace.emplace_back(t);
    };
    const ClientOptions client_options{"mailgate.test"};
    auto c = co_await Client::Connect(ex, Options(combo.server), client_options, trace_fn);
    if (!c.ok()) co_return c.status();
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*c)->Authenticate(auth));
    const Envelope envelope{user, {user, "nobody@elsewhere.invalid"}};
    sent = co_await (*c)->Send(envelope, message);
    co_return co_await (*c)->Quit();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_EQ(sent->recipients.size(), 2u);
  EXPECT_TRUE(sent->recipients[0].accepted());
  EXPECT_FALSE(sent->recipients[1].accepted()) << "other domains are refused at RCPT time";
  EXPECT_EQ(sent->recipients[1].reply.code / 100, 5);
  for (const std::string& t : trace) {
    EXPECT_EQ(t.find(secret), std::string::npos) << "secret in trace";
    EXPECT_EQ(t.find("leading dot"), std::string::npos) << "body in trace";
  }
  EXPECT_TRUE(WaitForMessages(user, *token, 1).ok());
}

INSTANTIATE_TEST_SUITE_P(
    AllMechanismsAndServers, SmtpServersTest,
    ::testing::Values(Combo{sasl::Mechanism::kXoauth2, Server::kPostfixSubmission},
                      Combo{sasl::Mechanism::kXoauth2, Server::kPostfixSubmissions},
                      Combo{sasl::Mechanism::kXoauth2, Server::kDovecotSubmission},
                      Combo{sasl::Mechanism::kOauthBearer, Server::kPostfixSubmission},
                      Combo{sasl::Mechanism::kOauthBearer, Server::kPostfixSubmissions},
                      Combo{sasl::Mechanism::kOauthBearer, Server::kDovecotSubmission},
                      Combo{sasl::Mechanism::kPlain, Server::kPostfixSubmission},
                      Combo{sasl::Mechanism::kPlain, Server::kPostfixSubmissions},
                      Combo{sasl::Mechanism::kPlain, Server::kDovecotSubmission},
                      Combo{sasl::Mechanism::kLogin, Server::kPostfixSubmission},
                      Combo{sasl::Mechanism::kLogin, Server::kPostfixSubmissions},
                      Combo{sasl::Mechanism::kLogin, Server::kDovecotSubmission}),
    ComboName);

TEST(SmtpPostfixTest, SubmissionWithoutTlsOffersNoAuthAndSaysToUseStartTls) {
  // Postfix's submission port offers AUTH only after STARTTLS.
  ASSERT_TRUE(Env().postfix);
  net::ConnectOptions o = Options(Server::kPostfixSubmission);
  o.tls = net::TlsMode::kNone;
  sasl::AuthOptions auth;
  auth.user = "x@example.test";
  auth.secret_is_token = true;
  auth.secret = [](bool) -> StatusOr<std::string> { return std::string("t"); };
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const ClientOptions client_options;
    const net::TraceFn none;
    auto c = co_await Client::Connect(ex, o, client_options, none);
    if (!c.ok()) co_return c.status();
    co_return co_await (*c)->Authenticate(auth);
  });
  EXPECT_EQ(st.kind(), Status::Kind::kAuth) << st.ToString();
  EXPECT_NE(st.message().find("--encryption starttls"), std::string::npos) << st.message();
}

TEST(SmtpPostfixTest, LongTokenGoesAfter334AndIsAccepted) {
  // The IdP's tokens are 1,500 characters (Microsoft's size): too long for a
  // 512-octet AUTH line, so they must go after the 334. Dovecot's submission
  // would answer "500 5.5.2 Line too long" otherwise.
  const std::string user = testing::UniqueUser("smtp-long");
  auto token = testing::MintToken(user, testing::kSmtpScope, 600);
  ASSERT_TRUE(token.ok());
  ASSERT_GT(token->size(), 400u);
  std::vector<std::string> trace;
  sasl::AuthOptions auth;
  auth.user = user;
  auth.mechanism = sasl::Mechanism::kXoauth2;
  auth.secret_is_token = true;
  auth.secret = [&](bool) -> StatusOr<std::string> { return *token; };
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const ClientOptions client_options;
    const net::TraceFn trace_fn = [&](net::TraceDirection, std::string_view t) {
      trace.emplace_back(t);
    };
    auto c =
        co_await Client::Connect(ex, Options(Server::kDovecotSubmission), client_options, trace_fn);
    if (!c.ok()) co_return c.status();
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*c)->Authenticate(auth));
    co_return co_await (*c)->Quit();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(std::find(trace.begin(), trace.end(), "AUTH XOAUTH2"), trace.end());
}

}  // namespace
}  // namespace mailgate::smtp
