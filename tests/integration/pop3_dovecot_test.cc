// The POP3 client against the real Dovecot of tests/servers/testenv: every
// mechanism × TLS mode, with tokens from the test IdP or passwords from add-user.
// Every test uses its own mailbox, so tests run in parallel.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "pop3/pop3_client.h"
#include "support/run_co.h"
#include "support/test_env.h"

namespace mailgate::pop3 {
namespace {

namespace asio = boost::asio;
using testing::Env;
using testing::RunCo;

struct Combo {
  sasl::Mechanism mech;
  net::TlsMode tls;
};

std::string ComboName(const ::testing::TestParamInfo<Combo>& info) {
  return std::string(sasl::MechanismName(info.param.mech)) + "_" +
         (info.param.tls == net::TlsMode::kImplicit ? "implicit" : "starttls");
}

net::ConnectOptions Options(net::TlsMode tls) {
  const auto& env = Env();
  net::ConnectOptions o;
  o.host = env.tls_name;
  o.port = tls == net::TlsMode::kImplicit ? env.pop3s_port : env.pop3_port;
  o.tls = tls;
  o.ca_file = env.ca;
  o.connect_timeout = std::chrono::seconds(20);
  o.io_timeout = std::chrono::seconds(20);
  return o;
}

// A secret provider that records its calls and never shows its value.
struct Secret {
  std::string value;
  std::vector<bool> calls;
  sasl::AuthOptions Auth(const std::string& user, sasl::Mechanism mech) {
    sasl::AuthOptions a;
    a.user = user;
    a.mechanism = mech;
    a.secret_is_token = sasl::IsOAuth(mech);
    a.secret = [this](bool force) -> StatusOr<std::string> {
      calls.push_back(force);
      return value;
    };
    return a;
  }
};

Secret SecretFor(const std::string& user, sasl::Mechanism mech) {
  Secret s;
  if (sasl::IsOAuth(mech)) {
    auto t = testing::MintToken(user, testing::kPopScope, 600);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (t.ok()) s.value = *t;
  } else {
    s.value = "pw " + user.substr(0, 8) + ":!";
    EXPECT_TRUE(testing::AddPasswordUser(user, s.value).ok());
  }
  return s;
}

class Pop3DovecotTest : public ::testing::TestWithParam<Combo> {};

TEST_P(Pop3DovecotTest, AuthenticatesListsRetrievesAndDeletes) {
  const Combo combo = GetParam();
  const std::string user = testing::UniqueUser("pop3-mech");
  Secret secret = SecretFor(user, combo.mech);
  ASSERT_TRUE(testing::DeliverByLmtp(user, "Subject: one\r\n\r\nfirst\r\n.dot line\r\n").ok());
  ASSERT_TRUE(testing::DeliverByLmtp(user, "Subject: two\r\n\r\nsecond\r\n").ok());

  std::vector<std::string> trace;
  std::map<std::uint64_t, std::string> bodies;
  MailboxStat before, after;
  std::vector<UidlEntry> uids;
  const sasl::AuthOptions auth = secret.Auth(user, combo.mech);
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const net::TraceFn trace_fn = [&](net::TraceDirection, std::string_view t) {
      trace.emplace_back(t);
    };
    {
      auto c = co_await Client::Connect(ex, Options(combo.tls), trace_fn);
      if (!c.ok()) co_return c.status();
      MAILGATE_CO_RETURN_IF_ERROR(co_await (*c)->Authenticate(auth));
      MAILGATE_CO_ASSIGN_OR_RETURN(before, co_await (*c)->Stat());
      MAILGATE_CO_ASSIGN_OR_RETURN(uids, co_await (*c)->Uidl());
      const std::vector<std::uint64_t> numbers{1, 2};
      std::function<MessageSink(std::uint64_t)> sink_for = [&](std::uint64_t n) -> MessageSink {
        return [&bodies, n](std::string_view chunk) {
          bodies[n] += chunk;
          return Status::Ok();
        };
      };
      MAILGATE_CO_RETURN_IF_ERROR(co_await (*c)->RetrMany(numbers, sink_for));
      MAILGATE_CO_RETURN_IF_ERROR(co_await (*c)->Dele(1));
      MAILGATE_CO_RETURN_IF_ERROR(co_await (*c)->Quit());
    }
    auto c = co_await Client::Connect(ex, Options(combo.tls), trace_fn);
    if (!c.ok()) co_return c.status();
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*c)->Authenticate(auth));
    MAILGATE_CO_ASSIGN_OR_RETURN(after, co_await (*c)->Stat());
    co_return co_await (*c)->Quit();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(before.count, 2u);
  EXPECT_EQ(uids.size(), 2u);
  // Dovecot's LMTP adds Return-Path/Delivered-To/Received in front.
  EXPECT_NE(bodies[1].find("Subject: one\r\n\r\nfirst\r\n.dot line\r\n"), std::string::npos)
      << bodies[1];
  EXPECT_NE(bodies[2].find("\r\n\r\nsecond\r\n"), std::string::npos);
  EXPECT_EQ(after.count, 1u);
  EXPECT_EQ(secret.calls, (std::vector<bool>{false, false}));
  for (const std::string& t : trace) {
    EXPECT_EQ(t.find(secret.value), std::string::npos) << "secret in trace: " << t.substr(0, 40);
    EXPECT_EQ(t.find("first"), std::string::npos) << "body in trace";
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllMechanismsAndTlsModes, Pop3DovecotTest,
    ::testing::Values(Combo{sasl::Mechanism::kXoauth2, net::TlsMode::kImplicit},
                      Combo{sasl::Mechanism::kXoauth2, net::TlsMode::kStartTls},
                      Combo{sasl::Mechanism::kOauthBearer, net::TlsMode::kImplicit},
                      Combo{sasl::Mechanism::kOauthBearer, net::TlsMode::kStartTls},
                      Combo{sasl::Mechanism::kPlain, net::TlsMode::kImplicit},
                      Combo{sasl::Mechanism::kPlain, net::TlsMode::kStartTls},
                      Combo{sasl::Mechanism::kLogin, net::TlsMode::kImplicit},
                      Combo{sasl::Mechanism::kLogin, net::TlsMode::kStartTls}),
    ComboName);

TEST(Pop3DovecotRetryTest, RevokedTokenIsReplacedByAFreshOneOnce) {
  const std::string user = testing::UniqueUser("pop3-refresh");
  auto stale = testing::MintToken(user, testing::kPopScope, 600);
  ASSERT_TRUE(stale.ok());
  ASSERT_TRUE(testing::IdpControl("revoke", "{\"user\":\"" + user + "\"}").ok());
  auto fresh = testing::MintToken(user, testing::kPopScope, 600);
  ASSERT_TRUE(fresh.ok());
  std::vector<bool> calls;
  sasl::AuthOptions auth;
  auth.user = user;
  auth.secret_is_token = true;
  auth.secret = [&](bool force) -> StatusOr<std::string> {
    calls.push_back(force);
    return force ? *fresh : *stale;
  };
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const net::TraceFn none;
    auto c = co_await Client::Connect(ex, Options(net::TlsMode::kImplicit), none);
    if (!c.ok()) co_return c.status();
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*c)->Authenticate(auth));
    co_return co_await (*c)->Quit();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(calls, (std::vector<bool>{false, true}));
}

TEST(Pop3DovecotRetryTest, WrongPasswordIsAuthErrorWithoutTheSecret) {
  const std::string user = testing::UniqueUser("pop3-badpw");
  ASSERT_TRUE(testing::AddPasswordUser(user, "right-password").ok());
  sasl::AuthOptions auth;
  auth.user = user;
  auth.secret = [](bool) -> StatusOr<std::string> { return std::string("wrong-password"); };
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    const net::TraceFn none;
    auto c = co_await Client::Connect(ex, Options(net::TlsMode::kStartTls), none);
    if (!c.ok()) co_return c.status();
    co_return co_await (*c)->Authenticate(auth);
  });
  EXPECT_EQ(st.kind(), Status::Kind::kAuth) << st.ToString();
  EXPECT_EQ(st.message().find("wrong-password"), std::string::npos);
}

}  // namespace
}  // namespace mailgate::pop3
