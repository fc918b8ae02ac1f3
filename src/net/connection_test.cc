#include "net/connection.h"

#include <gtest/gtest.h>

#include <boost/asio/use_awaitable.hpp>
#include <string>
#include <vector>

#include "support/fake_server.h"
#include "support/run_co.h"
#include "support/test_certs.h"

namespace mailgate::net {
namespace {

namespace asio = boost::asio;
using testing::FakeServer;
using testing::RunCo;
using testing::Script;

ConnectOptions Plain(uint16_t port) {
  ConnectOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.tls = TlsMode::kNone;
  o.connect_timeout = std::chrono::seconds(5);
  o.io_timeout = std::chrono::seconds(5);
  return o;
}

// Reads lines until an error; returns the lines and the final status.
struct Lines {
  std::vector<std::string> lines;
  Status end;
};

Lines ReadAll(ConnectOptions options, std::string greeting_reply = "") {
  return RunCo<Lines>([&](asio::any_io_executor ex) -> asio::awaitable<Lines> {
    Lines out;
    auto conn = co_await Connection::Open(ex, options);
    if (!conn.ok()) {
      out.end = conn.status();
      co_return out;
    }
    if (!greeting_reply.empty()) {
      Status w = co_await (*conn)->Write(greeting_reply);
      if (!w.ok()) {
        out.end = w;
        co_return out;
      }
    }
    for (;;) {
      auto line = co_await (*conn)->ReadLine();
      if (!line.ok()) {
        out.end = line.status();
        co_return out;
      }
      out.lines.push_back(*line);
    }
  });
}

TEST(ConnectionTest, SplitsCrlfAndBareLfLinesAcrossPartialReads) {
  FakeServer server(
      Script().SendRaw("+OK one\r\n+OK t").SendRaw("wo\n\r\nlast\r").SendRaw("\n").Close());
  Lines got = ReadAll(Plain(server.port()));
  EXPECT_EQ(got.lines, (std::vector<std::string>{"+OK one", "+OK two", "", "last"}));
  EXPECT_EQ(got.end.kind(), Status::Kind::kConnect) << got.end.ToString();
  EXPECT_NE(got.end.message().find("closed the connection"), std::string::npos);
  EXPECT_EQ(server.Finish(), "");
}

TEST(ConnectionTest, LineSplitAcrossReadsAfterAConsumedLineIsNotLost) {
  // Regression: compacting the buffer before a read lost the scan position,
  // and the rest of the line (and the next lines) went missing.
  FakeServer server(
      Script().SendRaw("+OK first\r\nTO").Expect("go").SendRaw("P\r\nnext\r\n").Close());
  std::vector<std::string> lines;
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    auto conn = co_await Connection::Open(ex, Plain(server.port()));
    if (!conn.ok()) co_return conn.status();
    MAILGATE_CO_ASSIGN_OR_RETURN(std::string first, co_await (*conn)->ReadLine());
    lines.push_back(first);
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*conn)->Write("go\r\n"));
    MAILGATE_CO_ASSIGN_OR_RETURN(std::string second, co_await (*conn)->ReadLine());
    lines.push_back(second);
    MAILGATE_CO_ASSIGN_OR_RETURN(std::string third, co_await (*conn)->ReadLine());
    lines.push_back(third);
    co_return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(lines, (std::vector<std::string>{"+OK first", "TOP", "next"}));
}

TEST(ConnectionTest, InputArrivingOneByteAtATimeGivesTheSameLines) {
  const std::string input = "+OK one\r\ntwo\n\r\n* 3 EXISTS\r\n";
  Script script;
  for (char c : input) script.SendRaw(std::string(1, c));
  FakeServer server(std::move(script.Close()));
  Lines got = ReadAll(Plain(server.port()));
  EXPECT_EQ(got.lines, (std::vector<std::string>{"+OK one", "two", "", "* 3 EXISTS"}));
  EXPECT_EQ(got.end.kind(), Status::Kind::kConnect);
}

TEST(ConnectionTest, RejectsNulByte) {
  FakeServer server(Script().SendRaw(std::string("+OK a\0b\r\n", 9)).Close());
  Lines got = ReadAll(Plain(server.port()));
  EXPECT_TRUE(got.lines.empty());
  EXPECT_EQ(got.end.kind(), Status::Kind::kProtocol);
  EXPECT_NE(got.end.message().find("NUL"), std::string::npos);
}

TEST(ConnectionTest, LineOfExactlyMaxLineIsAcceptedOneMoreIsRefused) {
  ConnectOptions o;
  FakeServer server(Script().Send(std::string(100, 'a')).Send(std::string(101, 'b')).Close());
  o = Plain(server.port());
  o.max_line = 100;
  Lines got = ReadAll(o);
  ASSERT_EQ(got.lines.size(), 1u);
  EXPECT_EQ(got.lines[0].size(), 100u);
  EXPECT_EQ(got.end.kind(), Status::Kind::kProtocol);
  EXPECT_NE(got.end.message().find("longer than 100"), std::string::npos);
}

TEST(ConnectionTest, EndlessLineWithoutNewlineIsRefusedWithoutBufferingItAll) {
  // 10 MB without a line end: the engine must stop at max_line, not buffer it.
  FakeServer server(Script().SendRaw(std::string(10 * 1024 * 1024, 'x')).Close());
  ConnectOptions o = Plain(server.port());
  o.max_line = 64 * 1024;
  Lines got = ReadAll(o);
  EXPECT_EQ(got.end.kind(), Status::Kind::kProtocol);
  EXPECT_NE(got.end.message().find("longer than"), std::string::npos);
}

TEST(ConnectionTest, SilentServerTimesOutAsTransient) {
  FakeServer server(Script().Expect("never sent"));
  ConnectOptions o = Plain(server.port());
  o.io_timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  Lines got = ReadAll(o);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(got.end.kind(), Status::Kind::kTransient);
  EXPECT_NE(got.end.message().find("within 300 ms"), std::string::npos) << got.end.message();
}

TEST(ConnectionTest, RefusedPortIsConnectError) {
  uint16_t port;
  {
    FakeServer server(Script().Close());
    port = server.port();
  }  // listening socket closed: nothing listens on this port now
  Lines got = ReadAll(Plain(port));
  EXPECT_EQ(got.end.kind(), Status::Kind::kConnect);
  EXPECT_NE(got.end.message().find("cannot connect to 127.0.0.1:"), std::string::npos);
}

TEST(ConnectionTest, WritesLargeDataCompletelyAndTracesRedactedText) {
  const std::string big(3 * 1024 * 1024, 'z');
  FakeServer server(Script().Expect("AUTH PLAIN *").Expect("zzz*").Send("+OK").Close());
  std::vector<std::string> trace;
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    auto conn = co_await Connection::Open(ex, Plain(server.port()));
    if (!conn.ok()) co_return conn.status();
    (*conn)->SetTrace([&](TraceDirection d, std::string_view t) {
      trace.push_back((d == TraceDirection::kSend ? "C: " : "S: ") + std::string(t));
    });
    MAILGATE_CO_RETURN_IF_ERROR(
        co_await (*conn)->Write("AUTH PLAIN c2VjcmV0\r\n", "AUTH PLAIN <redacted>"));
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*conn)->Write(big + "\r\n", "(3145728 bytes)"));
    auto line = co_await (*conn)->ReadLine();
    if (!line.ok()) co_return line.status();
    co_return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(server.Finish(), "");
  std::vector<std::string> rx = server.received();
  ASSERT_GE(rx.size(), 2u);
  EXPECT_EQ(rx[1].size(), big.size());
  for (const std::string& t : trace) EXPECT_EQ(t.find("c2VjcmV0"), std::string::npos) << t;
  EXPECT_NE(std::find(trace.begin(), trace.end(), "C: AUTH PLAIN <redacted>"), trace.end());
}

TEST(ConnectionTest, ReadExactlyStreamsBufferedAndSocketBytesAndKeepsTheRest) {
  const std::string body(200000, 'q');
  FakeServer server(Script().SendRaw("* 1 FETCH {200000}\r\n" + body + ")\r\nA1 OK\r\n").Close());
  std::string line1, after;
  std::size_t got = 0, chunks = 0;
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    auto conn = co_await Connection::Open(ex, Plain(server.port()));
    if (!conn.ok()) co_return conn.status();
    auto l = co_await (*conn)->ReadLine();
    if (!l.ok()) co_return l.status();
    line1 = *l;
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*conn)->ReadExactly(200000, [&](std::string_view c) {
      got += c.size();
      ++chunks;
      return c.find_first_not_of('q') == std::string_view::npos
                 ? Status::Ok()
                 : Status::Internal("literal corrupted");
    }));
    auto l2 = co_await (*conn)->ReadLine();
    if (!l2.ok()) co_return l2.status();
    after = *l2;
    co_return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(line1, "* 1 FETCH {200000}");
  EXPECT_EQ(got, 200000u);
  EXPECT_GT(chunks, 1u);
  EXPECT_EQ(after, ")");
}

TEST(ConnectionTest, ReadSomeAndConsumeGiveRawBytes) {
  FakeServer server(Script().SendRaw("abc\r\ndef").Close());
  std::string seen;
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    auto conn = co_await Connection::Open(ex, Plain(server.port()));
    if (!conn.ok()) co_return conn.status();
    while (seen.size() < 8) {
      auto v = co_await (*conn)->ReadSome();
      if (!v.ok()) co_return v.status();
      seen.append(v->substr(0, 1));  // one byte at a time, as an incremental parser may
      (*conn)->Consume(1);
    }
    co_return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(seen, "abc\r\ndef");
}

// --- TLS ---

class ConnectionTlsTest : public ::testing::Test {
 protected:
  testing::TestCerts certs_;
  testing::CertFiles ca_ = certs_.MakeCa("Mailgate Test CA");
};

ConnectOptions Tls(uint16_t port, const std::string& ca, std::string host = "localhost") {
  ConnectOptions o = Plain(port);
  o.host = std::move(host);
  o.tls = TlsMode::kImplicit;
  o.ca_file = ca;
  return o;
}

TEST_F(ConnectionTlsTest, VerifiedImplicitTls) {
  testing::CertFiles leaf = certs_.MakeLeaf(ca_, {"localhost"});
  FakeServer server(Script().Send("+OK hello").Close(), {true, leaf.cert, leaf.key});
  Lines got = ReadAll(Tls(server.port(), ca_.cert));
  EXPECT_EQ(got.lines, std::vector<std::string>{"+OK hello"}) << got.end.ToString();
}

TEST_F(ConnectionTlsTest, IpAddressIsVerifiedAsIp) {
  testing::CertFiles leaf = certs_.MakeLeaf(ca_, {"127.0.0.1"});
  FakeServer server(Script().Send("+OK ip").Close(), {true, leaf.cert, leaf.key});
  Lines got = ReadAll(Tls(server.port(), ca_.cert, "127.0.0.1"));
  EXPECT_EQ(got.lines, std::vector<std::string>{"+OK ip"}) << got.end.ToString();
}

TEST_F(ConnectionTlsTest, UnknownCaIsRefusedWithAdvice) {
  testing::CertFiles rogue_ca = certs_.MakeCa("Rogue CA");
  testing::CertFiles leaf = certs_.MakeLeaf(rogue_ca, {"localhost"});
  FakeServer server(Script().Send("+OK hello").Close(), {true, leaf.cert, leaf.key});
  Lines got = ReadAll(Tls(server.port(), ca_.cert));
  EXPECT_TRUE(got.lines.empty());
  EXPECT_EQ(got.end.kind(), Status::Kind::kTls);
  EXPECT_NE(got.end.message().find("not signed by a trusted CA; pass --ca-file"), std::string::npos)
      << got.end.message();
}

TEST_F(ConnectionTlsTest, HostNameMismatchIsRefusedNamingTheCertificatesName) {
  testing::CertFiles leaf = certs_.MakeLeaf(ca_, {"mail.other.test"});
  FakeServer server(Script().Send("+OK hello").Close(), {true, leaf.cert, leaf.key});
  Lines got = ReadAll(Tls(server.port(), ca_.cert));
  EXPECT_EQ(got.end.kind(), Status::Kind::kTls);
  EXPECT_NE(got.end.message().find("for another host name (mail.other.test), not localhost"),
            std::string::npos)
      << got.end.message();
}

TEST_F(ConnectionTlsTest, ExpiredCertificateIsRefused) {
  testing::CertFiles leaf = certs_.MakeLeaf(ca_, {"localhost"}, -10, -1);
  FakeServer server(Script().Send("+OK hello").Close(), {true, leaf.cert, leaf.key});
  Lines got = ReadAll(Tls(server.port(), ca_.cert));
  EXPECT_EQ(got.end.kind(), Status::Kind::kTls);
  EXPECT_NE(got.end.message().find("expired on"), std::string::npos) << got.end.message();
}

TEST_F(ConnectionTlsTest, SkipVerifyConnectsToUntrustedServer) {
  testing::CertFiles rogue_ca = certs_.MakeCa("Rogue CA");
  testing::CertFiles leaf = certs_.MakeLeaf(rogue_ca, {"elsewhere.test"});
  FakeServer server(Script().Send("+OK hello").Close(), {true, leaf.cert, leaf.key});
  ConnectOptions o = Tls(server.port(), "");
  o.verify_peer = false;
  Lines got = ReadAll(o);
  EXPECT_EQ(got.lines, std::vector<std::string>{"+OK hello"}) << got.end.ToString();
}

TEST_F(ConnectionTlsTest, TlsToPlaintextPortSaysToUseStartTls) {
  FakeServer server(Script().Send("+OK plaintext greeting").Close());
  Lines got = ReadAll(Tls(server.port(), ca_.cert));
  EXPECT_EQ(got.end.kind(), Status::Kind::kTls) << got.end.ToString();
}

TEST_F(ConnectionTlsTest, StartTlsUpgradesInPlace) {
  testing::CertFiles leaf = certs_.MakeLeaf(ca_, {"localhost"});
  FakeServer server(Script()
                        .Send("220 ready")
                        .Expect("STARTTLS")
                        .Send("220 go ahead")
                        .StartTls()
                        .Expect("EHLO again")
                        .Send("250 secret ok")
                        .Close(),
                    {false, leaf.cert, leaf.key});
  std::vector<std::string> lines;
  bool tls_after = false;
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    ConnectOptions o = Tls(server.port(), ca_.cert);
    o.tls = TlsMode::kStartTls;
    auto conn = co_await Connection::Open(ex, o);
    if (!conn.ok()) co_return conn.status();
    Connection& c = **conn;
    MAILGATE_CO_ASSIGN_OR_RETURN(std::string greeting, co_await c.ReadLine());
    lines.push_back(greeting);
    MAILGATE_CO_RETURN_IF_ERROR(co_await c.Write("STARTTLS\r\n"));
    MAILGATE_CO_ASSIGN_OR_RETURN(std::string go, co_await c.ReadLine());
    MAILGATE_CO_RETURN_IF_ERROR(co_await c.StartTls());
    MAILGATE_CO_RETURN_IF_ERROR(co_await c.Write("EHLO again\r\n"));
    tls_after = c.tls_active();
    auto l = co_await c.ReadLine();
    if (!l.ok()) co_return l.status();
    lines.push_back(*l);
    co_return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(tls_after);
  EXPECT_EQ(lines, (std::vector<std::string>{"220 ready", "250 secret ok"}));
  EXPECT_EQ(server.Finish(), "");
}

TEST_F(ConnectionTlsTest, StartTlsRefusesBytesInjectedBeforeTheHandshake) {
  testing::CertFiles leaf = certs_.MakeLeaf(ca_, {"localhost"});
  FakeServer server(Script().Expect("STARTTLS").SendRaw("220 go\r\n250 injected\r\n").Close(),
                    {false, leaf.cert, leaf.key});
  Status st = RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    ConnectOptions o = Tls(server.port(), ca_.cert);
    o.tls = TlsMode::kStartTls;
    auto conn = co_await Connection::Open(ex, o);
    if (!conn.ok()) co_return conn.status();
    MAILGATE_CO_RETURN_IF_ERROR(co_await (*conn)->Write("STARTTLS\r\n"));
    // Both lines come in one segment on loopback: the second is buffered
    // when the first is taken.
    auto l = co_await (*conn)->ReadLine();
    if (!l.ok()) co_return l.status();
    co_return co_await (*conn)->StartTls();
  });
  EXPECT_EQ(st.kind(), Status::Kind::kProtocol) << st.ToString();
}

}  // namespace
}  // namespace mailgate::net
