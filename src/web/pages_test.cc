// The HTML of the console's pages: what users see, and that nothing from
// mail or configuration reaches the page unescaped.
#include "web/pages.h"

#include <gtest/gtest.h>

#include "web/html.h"

namespace mailgate::web {
namespace {

PageFrame TestFrame() {
  return PageFrame{"T", "mailboxes", "admin", "csrf-token-123", 0, ""};
}

bool Has(const std::string& page, std::string_view text) {
  return page.find(text) != std::string::npos;
}

TEST(HtmlTest, EscapesEverythingThatCanOpenMarkup) {
  EXPECT_EQ(EscapeHtml(R"x(<img src=x onerror="a('&')">)x"),
            "&lt;img src=x onerror=&quot;a(&#39;&amp;&#39;)&quot;&gt;");
}

TEST(PagesTest, EmptyMailboxListSaysSo) {
  const std::string page = RenderMailboxesPage(TestFrame(), {}, "");
  EXPECT_TRUE(Has(page, "No mailboxes are configured."));
  EXPECT_TRUE(Has(page, "<h1>Email Mailboxes</h1>"));
}

TEST(PagesTest, AMailboxNamedScriptIsEscapedEverywhere) {
  store::Mailbox m;
  m.name = "<script>alert(1)</script>";
  m.protocol = "imap";
  m.encryption = "tls";
  m.host = "\"><img src=x onerror=alert(2)>";
  m.last_error = "<b>boom</b>";
  m.enabled = false;
  for (const std::string& page :
       {RenderMailboxesPage(TestFrame(), {m}, ""),
        RenderMailboxForm(TestFrame(), m, false, {"<acct>"}, "", nullptr)}) {
    EXPECT_FALSE(Has(page, "<script>")) << page;
    EXPECT_FALSE(Has(page, "<img")) << page;
    EXPECT_FALSE(Has(page, "<b>boom")) << page;
    EXPECT_TRUE(Has(page, "&lt;script&gt;alert(1)&lt;/script&gt;")) << page;
  }
  EXPECT_TRUE(Has(RenderMailboxesPage(TestFrame(), {m}, ""), "no (disabled)"));
}

TEST(PagesTest, MailboxFormHasTheSeedsFieldsAndNeverThePassword) {
  store::Mailbox m;
  m.name = "Office365";
  m.protocol = "imap";
  m.encryption = "tls";
  m.host = "outlook.office365.com";
  m.port = 993;
  m.username = "you@example.com";
  m.password = store::Secret("hunter2-SECRET");
  m.auth = "password";
  m.consecutive_failures = 3;
  m.last_error = "authentication failed";
  const std::string page = RenderMailboxForm(TestFrame(), m, false, {"o365"}, "", nullptr);
  for (std::string_view label :
       {">Enabled<", ">Protocol<", "IMAP (TLS/SSL)", ">Host", ">Port", ">User", ">Password",
        ">XOAuth2<", ">Folder", ">After download<", ">Max size (KB)", "Push (IDLE)", "Save Changes",
        ">Test<", "id=\"mailbox-test\"", "id=\"mailbox-save\"",
        "name=\"csrf\" value=\"csrf-token-123\"", "authentication failed", "a password is saved"}) {
    EXPECT_TRUE(Has(page, label)) << label;
  }
  EXPECT_FALSE(Has(page, "hunter2")) << page;
  EXPECT_FALSE(Has(page, "<script"));
}

TEST(PagesTest, TestLogLinesAreEscapedAndMarkedByLevel) {
  store::Transport t;
  t.name = "Office365 SMTP";
  t.host = "smtp.office365.com";
  t.encryption = "starttls";
  t.auth = "xoauth2";
  t.account = "o365";
  t.password = store::Secret("never-shown");
  const std::vector<store::RunLogLine> log = {{1, "info", "Connected"},
                                              {2, "error", "535 <script>x</script>"}};
  const std::string page =
      RenderTransportForm(TestFrame(), t, false, {"o365"}, "", "me@example.com", &log);
  EXPECT_TRUE(Has(page, "id=\"test-log\""));
  EXPECT_TRUE(Has(page, "error: 535 &lt;script&gt;"));
  EXPECT_FALSE(Has(page, "<script>"));
  EXPECT_FALSE(Has(page, "never-shown"));
  for (std::string_view label :
       {">Type<", "SMTP", ">Encryption<", ">Authentication<", ">Username", "Send test message to",
        "me@example.com", "id=\"transport-test\"", "Save Changes"}) {
    EXPECT_TRUE(Has(page, label)) << label;
  }
}

store::MessageRecord HostileMessage() {
  store::MessageRecord m;
  m.id = 7;
  m.direction = "in";
  m.subject = "<script>alert('subject')</script>";
  m.from = {{"Eve <evil>", "eve@example.com"}};
  m.html_body =
      "<p>Hello</p><script>alert(1)</script><img src=x onerror=alert(2)>"
      "<img src=\"http://tracker.example/pixel.gif\" alt=\"pixel\"><a href=\"javascript:x\">l</a>";
  return m;
}

TEST(PagesTest, MessageBodiesLoseScriptsHandlersAndRemoteImages) {
  store::Conversation c;
  c.id = 3;
  c.subject = "<script>alert('subject')</script>";
  const std::string page = RenderConversationPage(TestFrame(), c, {HostileMessage()}, 0, "");
  // The sanitised body sits, escaped, in a sandboxed frame.
  EXPECT_TRUE(Has(page, "<iframe class=\"body\" sandbox title=\"Message body\" srcdoc=\""));
  EXPECT_FALSE(Has(page, "<script"));
  EXPECT_FALSE(Has(page, "script&gt;alert(1)"));
  EXPECT_FALSE(Has(page, "onerror"));
  EXPECT_FALSE(Has(page, "tracker.example"));
  EXPECT_FALSE(Has(page, "javascript:"));
  EXPECT_TRUE(Has(page, "&lt;p&gt;Hello&lt;/p&gt;"));  // kept, escaped for srcdoc
  EXPECT_TRUE(Has(page, "show remote images"));
  EXPECT_TRUE(Has(page, "id=\"reply-form\""));
  EXPECT_TRUE(Has(page, "value=\"eve@example.com\""));

  // Asked for: this message's remote images come back, still without script.
  const std::string shown = RenderConversationPage(TestFrame(), c, {HostileMessage()}, 7, "");
  EXPECT_TRUE(Has(shown, "tracker.example/pixel.gif"));
  EXPECT_FALSE(Has(shown, "onerror"));
  EXPECT_FALSE(Has(shown, "<script"));
}

TEST(PagesTest, TextBodiesAreEscaped) {
  store::Conversation c;
  c.id = 1;
  store::MessageRecord m;
  m.id = 1;
  m.text_body = "<script>alert(1)</script> & more";
  const std::string page = RenderConversationPage(TestFrame(), c, {m}, 0, "");
  EXPECT_TRUE(Has(page, "<pre class=\"body\">&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
}

TEST(PagesTest, ReauthorizationRequiredIsShownLoudlyWithTheProvidersMessage) {
  store::Account a;
  a.name = "work";
  a.provider = "microsoft";
  a.status = store::AccountStatus::kReauthorizationRequired;
  a.last_error_code = "AADSTS700082";
  a.last_error = "The refresh token has expired due to inactivity.";
  a.client_secret = store::Secret("client-SECRET");
  const std::string page = RenderAccountsPage(
      TestFrame(), {a}, "https://mail.example.com/accounts/callback", "", store::Account{});
  EXPECT_TRUE(Has(page, "<strong class=\"status-bad\">reauthorization required</strong>"));
  EXPECT_TRUE(Has(page, "AADSTS700082: The refresh token has expired due to inactivity."));
  EXPECT_TRUE(Has(page, "https://mail.example.com/accounts/callback"));
  EXPECT_TRUE(Has(page, "docs/microsoft-365.md"));
  EXPECT_TRUE(Has(page, "id=\"account-connect-work\""));
  EXPECT_FALSE(Has(page, "client-SECRET"));
}

TEST(PagesTest, RunningRunsRefreshEveryTwoSecondsAndFinishedOnesDoNot) {
  store::Run run;
  run.id = 5;
  run.job = "check";
  run.status = "running";
  const std::vector<store::RunLogLine> lines = {{1, "info", "Connected to mailbox 'Support'"}};
  EXPECT_TRUE(Has(RenderRunPage(TestFrame(), run, lines), "http-equiv=\"refresh\" content=\"2\""));
  run.status = "ok";
  const std::string done = RenderRunPage(TestFrame(), run, lines);
  EXPECT_FALSE(Has(done, "http-equiv=\"refresh\""));
  EXPECT_TRUE(Has(done, "Connected to mailbox &#39;Support&#39;"));
}

TEST(PagesTest, SchedulerHasRunNowForEveryJob) {
  const std::string page = RenderSchedulerPage(TestFrame(), DefaultJobs(), {}, "");
  EXPECT_TRUE(Has(page, "Mailbox Checker and Email Downloader"));
  EXPECT_TRUE(Has(page, "Inbound Email Message Processor"));
  EXPECT_TRUE(Has(page, "id=\"run-now-check\""));
  EXPECT_TRUE(Has(page, ">run now<"));
}

TEST(PagesTest, NoInlineScriptOnAnyPage) {
  const std::string page = RenderTokensPage(TestFrame(), {}, "", "");
  EXPECT_FALSE(Has(page, "<script"));
  EXPECT_FALSE(Has(page, " style=\""));
  EXPECT_TRUE(Has(page, "href=\"/static/console.css\""));
}

}  // namespace
}  // namespace mailgate::web
