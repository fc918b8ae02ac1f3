// TLS verification against the test environment's certificates: a server
// certificate from an unknown CA or for another host name is refused, with a
// message that says what to do; the real servers verify by name and by IP.
#include <gtest/gtest.h>

#include "net/connection.h"
#include "support/fake_server.h"
#include "support/run_co.h"
#include "support/test_env.h"

namespace mailgate::net {
namespace {

namespace asio = boost::asio;
using testing::Env;
using testing::FakeServer;
using testing::RunCo;
using testing::Script;

Status Connect(ConnectOptions o) {
  return RunCo<Status>([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    auto c = co_await Connection::Open(ex, o);
    if (!c.ok()) co_return c.status();
    auto line = co_await (*c)->ReadLine();
    co_return line.ok() ? Status::Ok() : line.status();
  });
}

ConnectOptions Tls(uint16_t port, const std::string& host) {
  ConnectOptions o;
  o.host = host;
  o.port = port;
  o.tls = TlsMode::kImplicit;
  o.ca_file = Env().ca;
  o.connect_timeout = std::chrono::seconds(10);
  o.io_timeout = std::chrono::seconds(10);
  return o;
}

TEST(TlsRefusalTest, CertificateFromAnUnknownCaIsRefused) {
  FakeServer server(Script().Send("+OK hello"), {true, Env().rogue_cert, Env().rogue_key});
  Status st = Connect(Tls(server.port(), "localhost"));
  EXPECT_EQ(st.kind(), Status::Kind::kTls) << st.ToString();
  EXPECT_NE(st.message().find("not signed by a trusted CA; pass --ca-file"), std::string::npos)
      << st.message();
}

TEST(TlsRefusalTest, CertificateForAnotherHostNameIsRefused) {
  FakeServer server(Script().Send("+OK hello"),
                    {true, Env().wrong_host_cert, Env().wrong_host_key});
  Status st = Connect(Tls(server.port(), "localhost"));
  EXPECT_EQ(st.kind(), Status::Kind::kTls) << st.ToString();
  EXPECT_NE(st.message().find("for another host name (wrong.example), not localhost"),
            std::string::npos)
      << st.message();
}

TEST(TlsRefusalTest, RealServerWithoutItsCaIsRefused) {
  ConnectOptions o = Tls(Env().pop3s_port, Env().tls_name);
  o.ca_file.clear();  // the system store only: the test CA is not in it
  Status st = Connect(o);
  EXPECT_EQ(st.kind(), Status::Kind::kTls) << st.ToString();
  EXPECT_NE(st.message().find("not signed by a trusted CA"), std::string::npos);
}

TEST(TlsRefusalTest, RealServerVerifiesByNameAndByIpAddress) {
  EXPECT_TRUE(Connect(Tls(Env().pop3s_port, Env().tls_name)).ok());
  EXPECT_TRUE(Connect(Tls(Env().imaps_port, "127.0.0.1")).ok());  // IP SAN
}

TEST(TlsRefusalTest, SkipVerifyAcceptsTheRogueCertificate) {
  FakeServer server(Script().Send("+OK hello"), {true, Env().rogue_cert, Env().rogue_key});
  ConnectOptions o = Tls(server.port(), "localhost");
  o.verify_peer = false;
  EXPECT_TRUE(Connect(o).ok());
}

}  // namespace
}  // namespace mailgate::net
