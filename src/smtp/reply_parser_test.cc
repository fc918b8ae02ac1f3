// The SMTP reply parser on replies Postfix, Dovecot and Exchange Online send.
#include "smtp/reply_parser.h"

#include <gtest/gtest.h>

namespace mailgate::smtp {
namespace {

// Feeds `lines`; the reply when the last one ended it, else the error.
StatusOr<Reply> Read(std::vector<std::string_view> lines) {
  ReplyReader r;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto done = r.Feed(lines[i]);
    if (!done.ok()) return done.status();
    if (*done != (i + 1 == lines.size())) return Status::Internal("ended at the wrong line");
  }
  return r.reply();
}

TEST(SmtpReplyParserTest, MultiLineEhloReply) {
  auto r = Read({"250-mail.example.test", "250-PIPELINING", "250-SIZE 10240000",
                 "250-AUTH PLAIN LOGIN xoauth2", "250-AUTH=PLAIN OAUTHBEARER",
                 "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-starttls", "250 SMTPUTF8"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->code, 250);
  EXPECT_EQ(r->lines.size(), 9u);
  EXPECT_EQ(r->lines[0], "mail.example.test");
  EXPECT_EQ(r->enhanced, "");
  Extensions e = ParseEhlo(*r);
  EXPECT_TRUE(e.esmtp);
  EXPECT_TRUE(e.pipelining);
  EXPECT_TRUE(e.starttls);
  EXPECT_TRUE(e.eightbitmime);
  EXPECT_TRUE(e.smtputf8);
  EXPECT_TRUE(e.enhanced_status_codes);
  EXPECT_FALSE(e.chunking);
  EXPECT_EQ(e.size, 10240000u);
  EXPECT_EQ(e.auth, (std::vector<std::string>{"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"}));
}

// Found by fuzz/smtp_reply: "250-AUTH=" gave a mechanism with an empty name.
TEST(SmtpReplyParserTest, AnEmptyAuthEqualsAnnouncesNoMechanism) {
  auto r = Read({"250-mail.example.test", "250-AUTH=", "250 AUTH"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(ParseEhlo(*r).auth.empty());
}

TEST(SmtpReplyParserTest, EnhancedCodeOfExchangeOnline) {
  auto r =
      Read({"535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
            "disabled for the Tenant."});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, 535);
  EXPECT_EQ(r->enhanced, "5.7.139");
  EXPECT_EQ(EnhancedCode("4.4.2"), "4.4.2");
  EXPECT_EQ(EnhancedCode("2.0.0 Ok"), "2.0.0");
  EXPECT_EQ(EnhancedCode("5.7.1234 x"), "");  // detail of at most 3 digits
  EXPECT_EQ(EnhancedCode("3.0.0 x"), "");     // class 2, 4 or 5
  EXPECT_EQ(EnhancedCode("5.7 x"), "");
  EXPECT_EQ(EnhancedCode("5..1 x"), "");
  EXPECT_EQ(EnhancedCode("5.7.1x"), "");
  EXPECT_EQ(EnhancedCode(""), "");
}

TEST(SmtpReplyParserTest, BareCodeAndEmptyTextEndTheReply) {
  auto r = Read({"354"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, 354);
  EXPECT_EQ(r->lines, (std::vector<std::string>{""}));
  r = Read({"220-", "220 "});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->lines, (std::vector<std::string>{"", ""}));
}

TEST(SmtpReplyParserTest, WhatIsNotAReplyIsAProtocolError) {
  for (std::string_view bad :
       {"", "25", "abc ok", "199 low", "600 high", "250xok", "* OK IMAP here", "+OK POP3 here"}) {
    auto r = Read({bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().kind(), Status::Kind::kProtocol) << bad;
  }
  auto changed = Read({"250-one", "251 two"});
  ASSERT_FALSE(changed.ok());
  EXPECT_NE(changed.status().message().find("changed the reply code"), std::string::npos);
}

TEST(SmtpReplyParserTest, AReplyOfMoreThanAThousandLinesIsRefused) {
  ReplyReader r;
  for (std::size_t i = 0; i < ReplyReader::kMaxLines; ++i) {
    auto done = r.Feed("250-x");
    ASSERT_TRUE(done.ok());
    ASSERT_FALSE(*done);
  }
  auto over = r.Feed("250 last");
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("more than 1000 lines"), std::string::npos);
}

TEST(SmtpReplyParserTest, TextJoinsTheLines) {
  auto r = Read({"550-5.1.1 no such user", "550 5.1.1 really"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Text(), "5.1.1 no such user 5.1.1 really");
  EXPECT_EQ(r->enhanced, "5.1.1");
  EXPECT_FALSE(r->positive());
}

}  // namespace
}  // namespace mailgate::smtp
