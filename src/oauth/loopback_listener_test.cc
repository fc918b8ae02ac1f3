#include "oauth/loopback_listener.h"

#include <gtest/gtest.h>

#include <future>

#include "http/http_client.h"

namespace mailgate::oauth {
namespace {

StatusOr<http::Response> Get(const std::string& url) {
  http::Request req;
  req.url = url;
  req.total_timeout = std::chrono::seconds(5);
  return http::NewCurlHttpClient({})->Send(req);
}

TEST(LoopbackListenerTest, ReturnsCodeAndStateAndIgnoresOtherPaths) {
  auto listener = LoopbackListener::Start();
  ASSERT_TRUE(listener.ok()) << listener.status().ToString();
  const std::string base = (*listener)->redirect_uri();
  EXPECT_TRUE(base.starts_with("http://127.0.0.1:"));
  EXPECT_TRUE(base.ends_with("/"));
  auto waited =
      std::async(std::launch::async, [&] { return (*listener)->Wait(std::chrono::seconds(10)); });
  auto favicon = Get(base + "favicon.ico");
  ASSERT_TRUE(favicon.ok());
  EXPECT_EQ(favicon->status, 404);
  auto landed = Get(base + "?code=abc%2Bdef&state=xyz&session_state=1");
  ASSERT_TRUE(landed.ok());
  EXPECT_EQ(landed->status, 200);
  EXPECT_NE(landed->body.find("close this window"), std::string::npos);
  auto r = waited.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->code, "abc+def");
  EXPECT_EQ(r->state, "xyz");
  EXPECT_TRUE(r->error.empty());
}

TEST(LoopbackListenerTest, ProviderErrorIsReturned) {
  auto listener = LoopbackListener::Start();
  ASSERT_TRUE(listener.ok());
  auto waited =
      std::async(std::launch::async, [&] { return (*listener)->Wait(std::chrono::seconds(10)); });
  auto landed = Get((*listener)->redirect_uri() +
                    "?error=access_denied&error_description=AADSTS65004%3A+declined&state=s");
  ASSERT_TRUE(landed.ok());
  auto r = waited.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->error, "access_denied");
  EXPECT_EQ(r->error_description, "AADSTS65004: declined");
}

TEST(LoopbackListenerTest, TimesOutWithAHint) {
  auto listener = LoopbackListener::Start();
  ASSERT_TRUE(listener.ok());
  auto r = (*listener)->Wait(std::chrono::milliseconds(200));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--flow device"), std::string::npos);
}

}  // namespace
}  // namespace mailgate::oauth
