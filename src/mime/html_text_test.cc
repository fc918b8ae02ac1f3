#include "mime/html_text.h"

#include <gtest/gtest.h>

namespace mailgate::mime {
namespace {

TEST(HtmlToTextTest, BlocksBecomeLinesAndEntitiesDecode) {
  EXPECT_EQ(HtmlToText("<p>Hello&nbsp;<b>world</b></p><p>a &amp; b &lt;c&gt; &#233;&#x20AC;</p>"),
            "Hello world\n\na & b <c> \xC3\xA9\xE2\x82\xAC");
}

TEST(HtmlToTextTest, ScriptStyleAndCommentsAreNotText) {
  EXPECT_EQ(HtmlToText("<html><head><title>t</title><style>p{}</style></head><body>"
                       "<script>alert('x<y')</script><!-- hidden -->Visible</body></html>"),
            "Visible");
}

TEST(HtmlToTextTest, QuotedGreaterThanInAttributesDoesNotEndTag) {
  EXPECT_EQ(HtmlToText(R"(<a title="a>b" href='x'>link</a> text)"), "link text");
}

TEST(HtmlToTextTest, BrokenMarkupDoesNotThrowOrLoop) {
  EXPECT_EQ(HtmlToText("<div"), "");
  EXPECT_EQ(HtmlToText("a &bogus; &#xZZ; &#99999999999; b"), "a &bogus; &#xZZ; \xEF\xBF\xBD b");
  EXPECT_EQ(HtmlToText("<script>never closed"), "");
}

TEST(HtmlToTextTest, BlankLinesCollapse) {
  EXPECT_EQ(HtmlToText("one<br><br><br><br>two  \t three"), "one\n\ntwo three");
}

}  // namespace
}  // namespace mailgate::mime
