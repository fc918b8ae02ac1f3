#include "web/router.h"

#include <gtest/gtest.h>

namespace mailgate::web {
namespace {

Handler Named(std::string name) {
  return [name](RequestContext&) { return HttpResponse::Text(name, 200); };
}

std::string Call(const Router::Match& m) {
  Principal p;
  HttpRequest req;
  RequestContext ctx{req, m.params, p, {}, {}};
  return (*m.handler)(ctx).body;
}

TEST(RouterTest, MatchesLiteralsBeforeCapturesInOrderAdded) {
  Router r;
  r.Add("GET", "/mailboxes", Named("list"));
  r.Add("GET", "/mailboxes/new", Named("new"));
  r.Add("GET", "/mailboxes/{name}", Named("show"));
  r.Add("POST", "/mailboxes/{name}/test", Named("test"));
  EXPECT_EQ(Call(r.Find("GET", "/mailboxes")), "list");
  EXPECT_EQ(Call(r.Find("GET", "/mailboxes/new")), "new");
  auto m = r.Find("GET", "/mailboxes/Support%20Desk");
  ASSERT_EQ(m.outcome, Router::Outcome::kMatched);
  EXPECT_EQ(Call(m), "show");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].first, "name");
  EXPECT_EQ(m.params[0].second, "Support Desk");  // percent-decoded, '+' kept
  EXPECT_EQ(r.Find("POST", "/mailboxes/a+b/test").params[0].second, "a+b");
}

TEST(RouterTest, HeadUsesGetRoutes) {
  Router r;
  r.Add("GET", "/x", Named("x"));
  EXPECT_EQ(r.Find("HEAD", "/x").outcome, Router::Outcome::kMatched);
}

TEST(RouterTest, UnknownPathIsNotFoundAndWrongMethodListsAllowedOnes) {
  Router r;
  r.Add("GET", "/transports/{name}", Named("show"));
  r.Add("POST", "/transports/{name}", Named("save"));
  EXPECT_EQ(r.Find("GET", "/nope").outcome, Router::Outcome::kNotFound);
  EXPECT_EQ(r.Find("GET", "/transports/").outcome, Router::Outcome::kNotFound);  // empty capture
  EXPECT_EQ(r.Find("GET", "/transports/a/b").outcome, Router::Outcome::kNotFound);
  auto m = r.Find("DELETE", "/transports/a");
  EXPECT_EQ(m.outcome, Router::Outcome::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, POST");
}

TEST(HttpTypesTest, FormsQueriesAndCookiesAreParsed) {
  Params p = ParseUrlEncoded("a=1&b=x+y%26z&empty=&flag&a=2");
  EXPECT_EQ(Param(p, "a"), "1");
  EXPECT_EQ(Param(p, "b"), "x y&z");
  EXPECT_TRUE(HasParam(p, "empty"));
  EXPECT_TRUE(HasParam(p, "flag"));
  EXPECT_FALSE(HasParam(p, "missing"));
  EXPECT_EQ(UrlDecode("%zz%4", false), "%zz%4");  // malformed escapes stay as they are
  EXPECT_EQ(UrlEncode("a b/é"), "a%20b%2F%C3%A9");

  HttpRequest req;
  req.headers = {{"cookie", "theme=dark; mailgate_session=abc=; other=1"}};
  EXPECT_EQ(req.Cookie("mailgate_session"), "abc=");
  EXPECT_EQ(req.Cookie("missing"), "");
}

}  // namespace
}  // namespace mailgate::web
