#include "web/html_sanitizer.h"

#include <gtest/gtest.h>

namespace mailgate::web {
namespace {

std::string Clean(std::string_view html) {
  return SanitizeHtml(html).html;
}

TEST(HtmlSanitizerTest, KeepsHarmlessFormatting) {
  EXPECT_EQ(Clean("<p align=center>Hi <b>there</b><br>&amp; bye</p>"),
            "<p align=\"center\">Hi <b>there</b><br>&amp; bye</p>");
}

TEST(HtmlSanitizerTest, ScriptsAndEventHandlersAreGone) {
  const std::string out = Clean(
      "<div onclick=\"alert(1)\">a</div><script>alert(2)</script>"
      "<img src=x onerror=alert(3)><svg onload=alert(4)><script>x</script></svg>"
      "<iframe src=\"https://evil\"></iframe><body onload=alert(5)>b");
  EXPECT_EQ(out, "<div>a</div>b");
}

TEST(HtmlSanitizerTest, ScriptContentIsRawTextUntilItsEndTag) {
  EXPECT_EQ(Clean("<script>if (a<b) x='</b>'</script><i>after</i>"), "<i>after</i>");
  EXPECT_EQ(Clean("<style>p{}</STYLE >ok"), "ok");
  EXPECT_EQ(Clean("<script>never closed <b>bold</b>"), "");
}

TEST(HtmlSanitizerTest, DangerousUrlsAreDroppedEvenWhenObfuscated) {
  for (const char* href :
       {"javascript:alert(1)", "JaVaScRiPt:alert(1)", "java&#x09;script:alert(1)",
        "&#106;avascript:alert(1)", " javascript:alert(1)", "vbscript:x",
        "data:text/html,<script>alert(1)</script>"}) {
    const std::string out = Clean(std::string("<a href=\"") + href + "\">x</a>");
    EXPECT_EQ(out, "<a rel=\"noopener noreferrer\" target=\"_blank\">x</a>") << href;
  }
  EXPECT_EQ(Clean("<a href='https://example.com/?a=1&amp;b=2'>x</a>"),
            "<a href=\"https://example.com/?a=1&amp;b=2\" rel=\"noopener noreferrer\" "
            "target=\"_blank\">x</a>");
}

TEST(HtmlSanitizerTest, RemoteImagesAreBlockedUnlessAllowed) {
  auto blocked = SanitizeHtml("<img src=\"https://tracker.example/p.gif\" alt=\"logo\">");
  EXPECT_EQ(blocked.html, "[logo]");
  EXPECT_EQ(blocked.blocked_remote_images, 1);
  SanitizeOptions opts;
  opts.allow_remote_images = true;
  auto allowed = SanitizeHtml("<img src=\"https://cdn.example/p.gif\">", opts);
  EXPECT_EQ(allowed.html, "<img src=\"https://cdn.example/p.gif\">");
}

TEST(HtmlSanitizerTest, CidImagesPointAtTheConsole) {
  SanitizeOptions opts;
  opts.resolve_cid = [](std::string_view cid) {
    return cid == "logo@x" ? std::string("/attachments/42") : std::string();
  };
  EXPECT_EQ(SanitizeHtml("<img src=\"cid:logo@x\"><img src=\"cid:other\">", opts).html,
            "<img src=\"/attachments/42\">");
}

TEST(HtmlSanitizerTest, StylesThatLoadOrRunAreDropped) {
  EXPECT_EQ(Clean("<p style=\"color:red\">a</p>"), "<p style=\"color:red\">a</p>");
  EXPECT_EQ(Clean("<p style=\"background:url(https://t.example/x)\">a</p>"), "<p>a</p>");
  EXPECT_EQ(Clean("<p style=\"width:expression(alert(1))\">a</p>"), "<p>a</p>");
  EXPECT_EQ(Clean("<p style=\"background:u\\72l(x)\">a</p>"), "<p>a</p>");
}

TEST(HtmlSanitizerTest, OutputIsWellFormedWhateverTheInput) {
  EXPECT_EQ(Clean("<b><i>x</b>y"), "<b><i>x</i></b>y");
  EXPECT_EQ(Clean("</div>text<p>open"), "text<p>open</p>");
  EXPECT_EQ(Clean("a < b > c"), "a &lt; b &gt; c");
  EXPECT_EQ(Clean("<p title='\"><script>alert(1)</script>'>t</p>"),
            "<p title=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\">t</p>");
  EXPECT_EQ(Clean("<unknown-tag>kept text</unknown-tag><!-- c --><!doctype html>"), "kept text");
  EXPECT_EQ(Clean("<img"), "");
  EXPECT_EQ(Clean("<embed src=x.swf><input value=1>after"), "after");
}

TEST(HtmlSanitizerTest, FormsAndTheirControlsAreInert) {
  EXPECT_EQ(Clean("<form action=\"https://evil\"><input name=p><button>Go</button>Text</form>"),
            "Text");
}

}  // namespace
}  // namespace mailgate::web
