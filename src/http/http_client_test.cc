#include "http/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "http/json.h"

namespace mailgate::http {
namespace {

TEST(UrlPolicyTest, HttpOnlyOnLoopback) {
  EXPECT_TRUE(CheckUrlAllowed("https://login.microsoftonline.com/common/oauth2/v2.0/token").ok());
  EXPECT_TRUE(CheckUrlAllowed("http://127.0.0.1:8080/x").ok());
  EXPECT_TRUE(CheckUrlAllowed("http://127.1.2.3/x").ok());
  EXPECT_TRUE(CheckUrlAllowed("http://[::1]:99/x").ok());
  EXPECT_TRUE(CheckUrlAllowed("http://localhost/x").ok());
  Status s = CheckUrlAllowed("http://idp.example.com/token");
  EXPECT_EQ(s.kind(), Status::Kind::kInvalidArgument);
  EXPECT_NE(s.message().find("https://"), std::string::npos);
  // Regression: Boost.URL 1.81 parses this host as 127.0.0.1.
  EXPECT_FALSE(CheckUrlAllowed("http://127.0.0.1.evil.com/").ok());
  EXPECT_FALSE(CheckUrlAllowed("http://localhost.evil.com/").ok());
  EXPECT_FALSE(CheckUrlAllowed("http://127.0.0.1@evil.com/").ok());
  EXPECT_FALSE(CheckUrlAllowed("ftp://127.0.0.1/").ok());
  EXPECT_FALSE(CheckUrlAllowed("not a url").ok());
}

TEST(FormTest, EncodesReservedCharacters) {
  EXPECT_EQ(FormEncode({{"scope", "offline_access https://x/A.B"}, {"k", "a&b=c+d"}}),
            "scope=offline_access%20https%3A%2F%2Fx%2FA.B&k=a%26b%3Dc%2Bd");
}

TEST(JsonTest, ParsesObjectsAndTypedFields) {
  auto o = ParseJsonObject(R"({"a":"x","n":3600,"s":"42","bad":[1]})", "answer");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(GetString(*o, "a"), "x");
  EXPECT_EQ(GetInt(*o, "n"), 3600);
  EXPECT_EQ(GetInt(*o, "s"), 42);
  EXPECT_FALSE(GetString(*o, "bad"));
  EXPECT_FALSE(GetInt(*o, "missing"));
  auto bad = ParseJsonObject("<html>", "the token endpoint's answer");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().kind(), Status::Kind::kProtocol);
  EXPECT_FALSE(ParseJsonObject("[1]", "x").ok());
}

// A one-connection server on 127.0.0.1 that reads a request and answers
// `reply` (or nothing, to test timeouts).
class OneShotServer {
 public:
  explicit OneShotServer(std::string reply, bool hang = false) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 1), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, reply = std::move(reply), hang] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[65536];
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n > 0) request_.assign(buf, n);
      if (hang) {
        ::recv(c, buf, sizeof buf, 0);  // until the client gives up
      } else {
        (void)!::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/token"; }
  const std::string& request() const { return request_; }

 private:
  int fd_;
  int port_;
  std::string request_;
  std::thread thread_;
};

TEST(CurlHttpClientTest, PostsAFormAndReadsStatusHeadersAndBody) {
  std::string reply =
      "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 2\r\n"
      "Connection: close\r\n\r\n{}";
  std::string req_text;
  {
    OneShotServer server(reply);
    auto client = NewCurlHttpClient({});
    Request req;
    req.method = "POST";
    req.url = server.url();
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    req.body = "a=b";
    auto r = client->Send(req);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->Header("retry-after"), "7");
    EXPECT_EQ(r->body, "{}");
    req_text = server.request();
  }
  EXPECT_NE(req_text.find("POST /token"), std::string::npos);
  EXPECT_NE(req_text.find("a=b"), std::string::npos);
}

TEST(CurlHttpClientTest, HungServerIsATransientTimeout) {
  OneShotServer server("", /*hang=*/true);
  auto client = NewCurlHttpClient({});
  Request req;
  req.url = server.url();
  req.total_timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  auto r = client->Send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), Status::Kind::kTransient);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(CurlHttpClientTest, RefusedConnectionIsAConnectError) {
  int port;
  {
    OneShotServer s("x");
    port = std::stoi(s.url().substr(s.url().rfind(':') + 1));
    // Connect once so the server thread finishes.
    auto client = NewCurlHttpClient({});
    Request req;
    req.url = s.url();
    (void)client->Send(req);
  }
  auto client = NewCurlHttpClient({});
  Request req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/token?code=SECRETCODE";
  auto r = client->Send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), Status::Kind::kConnect);
  EXPECT_EQ(r.status().message().find("SECRETCODE"), std::string::npos);
}

TEST(CurlHttpClientTest, PlainHttpToARemoteHostIsRefusedBeforeConnecting) {
  auto client = NewCurlHttpClient({});
  Request req;
  req.url = "http://192.0.2.1/token";
  auto r = client->Send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), Status::Kind::kInvalidArgument);
}

}  // namespace
}  // namespace mailgate::http
