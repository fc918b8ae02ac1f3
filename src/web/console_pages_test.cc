#include "web/console_pages.h"

#include <gtest/gtest.h>

#include "web/html.h"

namespace mailgate::web {
namespace {

TEST(HtmlTest, EscapesEverythingThatCanOpenMarkup) {
  EXPECT_EQ(EscapeHtml(R"x(<img src=x onerror="a('&')">)x"),
            "&lt;img src=x onerror=&quot;a(&#39;&amp;&#39;)&quot;&gt;");
}

TEST(ConsolePagesTest, EmptyStoreSaysNoMailboxesAreConfigured) {
  std::string page = RenderHomePage({});
  EXPECT_NE(page.find("No mailboxes are configured."), std::string::npos);
}

TEST(ConsolePagesTest, MailboxNamesAreEscaped) {
  store::Mailbox mailbox;
  mailbox.name = "<script>alert(1)</script>";
  mailbox.enabled = false;
  std::string page = RenderHomePage({mailbox});
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt; (disabled)"), std::string::npos);
}

}  // namespace
}  // namespace mailgate::web
