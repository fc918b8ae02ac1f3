// The IMAP client against the real Dovecot of tests/servers/testenv, with OAuth2 tokens
// from the test identity provider. Every test uses its own user, so tests run in parallel.
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "imap/client.h"
#include "support/run_co.h"
#include "support/test_env.h"

namespace mailgate::imap {
namespace {

namespace asio = boost::asio;
using testing::Env;
using testing::RunCo;

constexpr std::string_view kImapScope = "https://outlook.office.com/IMAP.AccessAsUser.All";

struct Combo {
  sasl::Mechanism mech;
  net::TlsMode tls;
};

std::string Name(const ::testing::TestParamInfo<Combo>& info) {
  return std::string(sasl::MechanismName(info.param.mech)) +
         (info.param.tls == net::TlsMode::kImplicit ? "_ImplicitTls" : "_StartTls");
}

// Options for the test server, collecting the trace; `secrets` are what the provider
// hands out, one per call (the last one repeats).
struct Session {
  std::vector<std::string> secrets;
  std::vector<bool> calls;
  std::string trace;

  ClientOptions Options(const std::string& user, bool token, net::TlsMode tls) {
    const auto& env = Env();
    ClientOptions o;
    o.connect.host = env.tls_name;
    o.connect.port = tls == net::TlsMode::kImplicit ? env.imaps_port : env.imap_port;
    o.connect.tls = tls;
    o.connect.ca_file = env.ca;
    o.connect.io_timeout = std::chrono::seconds(20);
    o.auth.user = user;
    o.auth.secret_is_token = token;
    o.auth.secret = [this](bool force) -> StatusOr<std::string> {
      calls.push_back(force);
      return secrets[std::min(calls.size(), secrets.size()) - 1];
    };
    o.trace = [this](net::TraceDirection d, std::string_view s) {
      trace.append(d == net::TraceDirection::kRecv ? "S: " : "C: ").append(s).append("\n");
    };
    return o;
  }

  // No secret may appear in the trace or in an error message.
  void ExpectNoSecret(const Status& s) const {
    for (const auto& secret : secrets) {
      EXPECT_EQ(trace.find(secret), std::string::npos) << "secret in the trace";
      EXPECT_EQ(s.message().find(secret), std::string::npos) << "secret in " << s.ToString();
      EXPECT_EQ(trace.find(sasl::Base64Encode(secret).substr(0, 16)), std::string::npos);
    }
  }
};

std::string Mint(const std::string& user, std::string_view scope = kImapScope) {
  auto t = testing::MintToken(user, std::string(scope), 600);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : std::string("mint-failed");
}

using Body = std::function<asio::awaitable<Status>(Client&)>;

Status Connected(ClientOptions o, Body body) {
  return RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    auto c = co_await Client::Connect(ex, o);
    if (!c.ok()) co_return c.status();
    Status s = co_await (*c)->Authenticate();
    if (!s.ok()) co_return s;
    s = co_await body(**c);
    if (!s.ok()) co_return s;
    co_return co_await (*c)->Logout();
  });
}

class ImapMechanismTest : public ::testing::TestWithParam<Combo> {};

TEST_P(ImapMechanismTest, AuthenticatesAndSelectsInbox) {
  const Combo combo = GetParam();
  const bool oauth = sasl::IsOAuth(combo.mech);
  const std::string user = testing::UniqueUser("imap-mech");
  Session session;
  if (oauth) {
    session.secrets = {Mint(user)};
  } else {
    session.secrets = {"pw \"with\" \\specials\\ " + user};
    ASSERT_TRUE(testing::AddPasswordUser(user, session.secrets[0]).ok());
  }
  ASSERT_TRUE(testing::DeliverByLmtp(user, "Subject: one\r\n\r\nfirst\r\n").ok());
  ClientOptions o = session.Options(user, oauth, combo.tls);
  o.auth.mechanism = combo.mech;
  MailboxInfo info;
  Status s = Connected(o, [&](Client& c) -> asio::awaitable<Status> {
    auto r = co_await c.Select("INBOX");
    if (!r.ok()) co_return r.status();
    info = *r;
    co_return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << session.trace;
  EXPECT_EQ(info.exists, 1u);
  EXPECT_NE(info.uidvalidity, 0u);
  EXPECT_EQ(session.calls, std::vector<bool>{false});
  EXPECT_NE(session.trace.find("AUTHENTICATE " + std::string(sasl::MechanismName(combo.mech))),
            std::string::npos);
  session.ExpectNoSecret(s);
}

INSTANTIATE_TEST_SUITE_P(
    Dovecot, ImapMechanismTest,
    ::testing::Values(Combo{sasl::Mechanism::kXoauth2, net::TlsMode::kImplicit},
                      Combo{sasl::Mechanism::kXoauth2, net::TlsMode::kStartTls},
                      Combo{sasl::Mechanism::kOauthBearer, net::TlsMode::kImplicit},
                      Combo{sasl::Mechanism::kOauthBearer, net::TlsMode::kStartTls},
                      Combo{sasl::Mechanism::kPlain, net::TlsMode::kImplicit},
                      Combo{sasl::Mechanism::kPlain, net::TlsMode::kStartTls},
                      Combo{sasl::Mechanism::kLogin, net::TlsMode::kImplicit},
                      Combo{sasl::Mechanism::kLogin, net::TlsMode::kStartTls}),
    Name);

// A token the identity provider no longer accepts: refused with Status::Auth, the cause
// the server gave, what to do, and no token anywhere.
Status RefusedToken(const std::string& control_path, bool wrong_scope, Session& session) {
  const std::string user = testing::UniqueUser("imap-refused");
  session.secrets = {wrong_scope ? Mint(user, "https://outlook.office.com/SMTP.Send") : Mint(user)};
  if (!control_path.empty()) {
    auto r = testing::IdpControl(control_path, "{\"user\":\"" + user + "\"}");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }
  return Connected(session.Options(user, true, net::TlsMode::kImplicit),
                   [](Client&) -> asio::awaitable<Status> { co_return Status::Ok(); });
}

void ExpectRefusal(const Status& s, const Session& session) {
  ASSERT_EQ(s.kind(), Status::Kind::kAuth) << s.ToString();
  EXPECT_NE(s.message().find("refused the OAuth2 access token"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("status 401"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("re-authorize"), std::string::npos) << s.message();
  // One retry with a refreshed token, no more.
  EXPECT_EQ(session.calls, (std::vector<bool>{false, true}));
  session.ExpectNoSecret(s);
}

TEST(ImapDovecotTest, ExpiredTokenIsRefused) {
  Session session;
  ExpectRefusal(RefusedToken("expire", false, session), session);
}

TEST(ImapDovecotTest, RevokedTokenIsRefused) {
  Session session;
  ExpectRefusal(RefusedToken("revoke", false, session), session);
}

TEST(ImapDovecotTest, WrongScopeTokenIsRefused) {
  Session session;
  ExpectRefusal(RefusedToken("", true, session), session);
}

TEST(ImapDovecotTest, WrongPasswordIsRefusedWithoutRetry) {
  const std::string user = testing::UniqueUser("imap-badpw");
  ASSERT_TRUE(testing::AddPasswordUser(user, "right-password").ok());
  Session session;
  session.secrets = {"wrong-password"};
  Status s = Connected(session.Options(user, false, net::TlsMode::kStartTls),
                       [](Client&) -> asio::awaitable<Status> { co_return Status::Ok(); });
  ASSERT_EQ(s.kind(), Status::Kind::kAuth) << s.ToString();
  EXPECT_NE(s.message().find("check the user name and password"), std::string::npos);
  EXPECT_EQ(session.calls, std::vector<bool>{false});
  session.ExpectNoSecret(s);
}

// The cached token was revoked; the provider's refreshed one works.
TEST(ImapDovecotTest, ForceRefreshRetrySucceeds) {
  const std::string user = testing::UniqueUser("imap-refresh");
  const std::string old_token = Mint(user);
  ASSERT_TRUE(testing::IdpControl("revoke", "{\"user\":\"" + user + "\"}").ok());
  Session session;
  session.secrets = {old_token, Mint(user)};
  Status s = Connected(session.Options(user, true, net::TlsMode::kImplicit),
                       [](Client& c) -> asio::awaitable<Status> {
                         auto r = co_await c.Select("INBOX");
                         co_return r.status();
                       });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(session.calls, (std::vector<bool>{false, true}));
  session.ExpectNoSecret(s);
}

class CollectingSink : public MessageSink {
 public:
  Status BeginMessage(uint32_t, uint64_t) override {
    current_.clear();
    return Status::Ok();
  }
  Status MessageChunk(std::string_view c) override {
    current_.append(c);
    ++chunks;
    return Status::Ok();
  }
  Status EndMessage(const FetchedMessage& m) override {
    bodies[m.uid] = current_;
    meta[m.uid] = m;
    return Status::Ok();
  }
  std::map<uint32_t, std::string> bodies;
  std::map<uint32_t, FetchedMessage> meta;
  std::size_t chunks = 0;

 private:
  std::string current_;
};

std::string TestMessage(int i) {
  std::string m =
      "From: sender@example.test\r\nTo: someone@example.test\r\nSubject: message " +
      std::to_string(i) + "\r\nMIME-Version: 1.0\r\n" +
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  m += "Gr\xc3\xbc\xc3\x9f"
       "e " +
       std::to_string(i) + "\r\n.leading dot\r\n..two dots\r\n";
  if (i % 7 == 3) {
    for (int k = 0; k < 20000; ++k) m += "line " + std::to_string(k) + " of a large message\r\n";
  }
  return m;
}

// Delivered by LMTP, fetched back with pipelined UID FETCH: each body ends with the
// message byte for byte (Dovecot's LMTP puts Return-Path/Delivered-To/Received first),
// and RFC822.SIZE matches what arrived.
TEST(ImapDovecotTest, FetchesManyMessagesPipelinedByteExact) {
  const std::string user = testing::UniqueUser("imap-fetch");
  constexpr int kMessages = 40;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(i)).ok()) << i;
  }
  Session session;
  session.secrets = {Mint(user)};
  ClientOptions o = session.Options(user, true, net::TlsMode::kImplicit);
  o.pipeline_depth = 4;
  o.fetch_batch = 3;
  CollectingSink sink;
  FetchReport report;
  std::vector<uint32_t> uids;
  Status s = Connected(o, [&](Client& c) -> asio::awaitable<Status> {
    auto sel = co_await c.Select("INBOX");
    if (!sel.ok()) co_return sel.status();
    auto found = co_await c.UidSearch("ALL");
    if (!found.ok()) co_return found.status();
    uids = *found;
    auto r = co_await c.UidFetchMessages(uids, sink);
    if (!r.ok()) co_return r.status();
    report = *r;
    co_return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(uids.size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ(report.fetched, static_cast<std::size_t>(kMessages));
  EXPECT_TRUE(report.missing.empty());
  EXPECT_TRUE(report.failed.empty());
  for (int i = 0; i < kMessages; ++i) {
    const std::string& body = sink.bodies[uids[i]];
    const std::string want = TestMessage(i);
    ASSERT_GE(body.size(), want.size()) << i;
    EXPECT_EQ(body.substr(body.size() - want.size()), want) << i;
    EXPECT_EQ(sink.meta[uids[i]].rfc822_size, body.size());
    EXPECT_FALSE(sink.meta[uids[i]].internal_date.empty());
  }
  // Pipelined: the trace shows later commands sent before earlier ones completed.
  const auto second_fetch = session.trace.find("UID FETCH", session.trace.find("UID FETCH") + 1);
  const auto first_done = session.trace.find("OK Fetch completed");
  EXPECT_LT(second_fetch, first_done);
  EXPECT_EQ(session.trace.find("line 19999 of a large message"), std::string::npos);
  session.ExpectNoSecret(s);
}

TEST(ImapDovecotTest, StoreExpungeAndMove) {
  const std::string user = testing::UniqueUser("imap-store");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(i)).ok());
  Session session;
  session.secrets = {Mint(user)};
  std::vector<uint32_t> flagged, remaining, archived;
  Status s = Connected(session.Options(user, true, net::TlsMode::kStartTls),
                       [&](Client& c) -> asio::awaitable<Status> {
                         auto sel = co_await c.Select("INBOX");
                         if (!sel.ok()) co_return sel.status();
                         auto all = co_await c.UidSearch("ALL");
                         if (!all.ok()) co_return all.status();
                         const std::vector<uint32_t> u = *all;
                         const std::vector<std::string> flag{"\\Flagged"};
                         const std::vector<uint32_t> first_two{u[0], u[1]};
                         Status st = co_await c.UidStore(first_two, "+FLAGS", flag);
                         if (!st.ok()) co_return st;
                         auto f = co_await c.UidSearch("FLAGGED");
                         if (!f.ok()) co_return f.status();
                         flagged = *f;
                         const std::vector<uint32_t> third{u[2]};
                         st = co_await c.UidExpunge(third);
                         if (!st.ok()) co_return st;
                         st = co_await c.Create("Gel\xc3\xb6schte Elemente");
                         if (!st.ok()) co_return st;
                         const std::vector<uint32_t> last{u[4]};
                         st = co_await c.UidMove(last, "Gel\xc3\xb6schte Elemente");
                         if (!st.ok()) co_return st;
                         auto rest = co_await c.UidSearch("ALL");
                         if (!rest.ok()) co_return rest.status();
                         remaining = *rest;
                         auto status = co_await c.StatusOf("Gel\xc3\xb6schte Elemente");
                         if (!status.ok()) co_return status.status();
                         if (status->messages.value_or(0) != 1) {
                           co_return Status::Internal("the folder should hold one message");
                         }
                         auto sel2 = co_await c.Select("Gel\xc3\xb6schte Elemente");
                         if (!sel2.ok()) co_return sel2.status();
                         auto moved = co_await c.UidSearch("ALL");
                         if (!moved.ok()) co_return moved.status();
                         archived = *moved;
                         co_return Status::Ok();
                       });
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << session.trace;
  EXPECT_EQ(flagged.size(), 2u);
  EXPECT_EQ(remaining.size(), 3u);
  EXPECT_EQ(archived.size(), 1u);
  // The name went out in modified UTF-7.
  EXPECT_NE(session.trace.find("Gel&APY-schte Elemente"), std::string::npos) << session.trace;
}

TEST(ImapDovecotTest, IdleSeesANewMessage) {
  const std::string user = testing::UniqueUser("imap-idle");
  ASSERT_TRUE(testing::DeliverByLmtp(user, TestMessage(0)).ok());
  Session session;
  session.secrets = {Mint(user)};
  IdleResult result;
  std::thread deliver;
  Status s = Connected(session.Options(user, true, net::TlsMode::kImplicit),
                       [&](Client& c) -> asio::awaitable<Status> {
                         auto sel = co_await c.Select("INBOX");
                         if (!sel.ok()) co_return sel.status();
                         deliver = std::thread([&] {
                           std::this_thread::sleep_for(std::chrono::milliseconds(500));
                           EXPECT_TRUE(testing::DeliverByLmtp(user, TestMessage(1)).ok());
                         });
                         auto r = co_await c.Idle(std::chrono::seconds(15));
                         if (!r.ok()) co_return r.status();
                         result = *r;
                         co_return co_await c.Noop();
                       });
  if (deliver.joinable()) deliver.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(result.changed);
  EXPECT_EQ(result.exists, 2u);
}

// No mail arrives: each IDLE slice is ended by DONE from the timer while the read is
// pending (over TLS), is re-issued, and the connection stays in step afterwards.
TEST(ImapDovecotTest, IdleWithoutNewsIsReissuedAndTheSessionContinues) {
  const std::string user = testing::UniqueUser("imap-idle-quiet");
  Session session;
  session.secrets = {Mint(user)};
  ClientOptions o = session.Options(user, true, net::TlsMode::kImplicit);
  o.connect.io_timeout = std::chrono::seconds(3);
  IdleResult result;
  result.changed = true;
  Status s = Connected(o, [&](Client& c) -> asio::awaitable<Status> {
    auto sel = co_await c.Select("INBOX");
    if (!sel.ok()) co_return sel.status();
    auto r = co_await c.Idle(std::chrono::seconds(5));
    if (!r.ok()) co_return r.status();
    result = *r;
    co_return co_await c.Noop();
  });
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << session.trace;
  EXPECT_FALSE(result.changed);
  std::size_t idles = 0;
  for (std::size_t p = session.trace.find(" IDLE\n"); p != std::string::npos;
       p = session.trace.find(" IDLE\n", p + 1)) {
    ++idles;
  }
  EXPECT_GE(idles, 2u) << session.trace;
}

}  // namespace
}  // namespace mailgate::imap
