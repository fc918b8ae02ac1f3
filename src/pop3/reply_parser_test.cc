// The POP3 reply parser on the lines servers really send (Dovecot, Exchange
// Online) and on the edge cases of RFC 1939 §3.
#include "pop3/reply_parser.h"

#include <gtest/gtest.h>

namespace mailgate::pop3 {
namespace {

TEST(Pop3ReplyParserTest, StatusLineKeepsTheTextAfterOneSpace) {
  auto ok = ParseStatusLine("+OK Dovecot ready.");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok);
  EXPECT_EQ(ok->text, "Dovecot ready.");
  auto err = ParseStatusLine("-ERR [SYS/TEMP] try later");
  ASSERT_TRUE(err.ok());
  EXPECT_FALSE(err->ok);
  EXPECT_EQ(err->text, "[SYS/TEMP] try later");
  auto bare = ParseStatusLine("+OK");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->text, "");
  auto two = ParseStatusLine("+OK  two");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->text, " two");
}

TEST(Pop3ReplyParserTest, AnythingElseIsAProtocolErrorNamingThePort) {
  auto r = ParseStatusLine("* OK [CAPABILITY IMAP4rev1] Dovecot ready.");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), Status::Kind::kProtocol);
  EXPECT_NE(r.status().message().find("POP3 port"), std::string::npos);
  EXPECT_FALSE(ParseStatusLine("").ok());
  EXPECT_FALSE(ParseStatusLine("+O").ok());
  // The quote is bounded: a megabyte of garbage does not become the message.
  auto long_line = ParseStatusLine(std::string(100000, 'x'));
  ASSERT_FALSE(long_line.ok());
  EXPECT_LT(long_line.status().message().size(), 200u);
}

TEST(Pop3ReplyParserTest, UnstuffLineRemovesOneDotAndStopsAtTheTerminator) {
  EXPECT_EQ(UnstuffLine("."), std::nullopt);
  EXPECT_EQ(UnstuffLine(".."), std::optional<std::string_view>("."));
  EXPECT_EQ(UnstuffLine("..."), std::optional<std::string_view>(".."));
  EXPECT_EQ(UnstuffLine(".x"), std::optional<std::string_view>("x"));
  EXPECT_EQ(UnstuffLine(""), std::optional<std::string_view>(""));
  EXPECT_EQ(UnstuffLine("a.b"), std::optional<std::string_view>("a.b"));
  EXPECT_EQ(UnstuffLine(". "), std::optional<std::string_view>(" "));
}

TEST(Pop3ReplyParserTest, CapaLinesOfDovecotAndExchange) {
  Capabilities caps;
  for (std::string_view l :
       {"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER",
        "SASL PLAIN XOAUTH2 OAUTHBEARER", "stls", "IMPLEMENTATION Dovecot (Debian)", ""}) {
    ParseCapaLine(l, caps);
  }
  EXPECT_TRUE(caps.top);
  EXPECT_TRUE(caps.uidl);
  EXPECT_TRUE(caps.pipelining);
  EXPECT_TRUE(caps.user);
  EXPECT_TRUE(caps.stls);
  EXPECT_EQ(caps.sasl, (std::vector<std::string>{"PLAIN", "XOAUTH2", "OAUTHBEARER"}));
  EXPECT_EQ(caps.implementation, "Dovecot (Debian)");
  Capabilities spaced;
  ParseCapaLine("  IMPLEMENTATION   Exchange", spaced);
  EXPECT_EQ(spaced.implementation, "Exchange");
}

TEST(Pop3ReplyParserTest, StatListAndUidl) {
  auto st = ParseStat("2 320");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->count, 2u);
  EXPECT_EQ(st->octets, 320u);
  EXPECT_FALSE(ParseStat("2").ok());
  EXPECT_FALSE(ParseStat("two 320").ok());
  EXPECT_FALSE(ParseStat("-1 320").ok());
  EXPECT_FALSE(ParseStat("18446744073709551616 1").ok());  // 2^64: overflow is an error
  auto l = ParseListLine("1 1205");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->number, 1u);
  EXPECT_EQ(l->octets, 1205u);
  EXPECT_FALSE(ParseListLine("1").ok());
  auto u = ParseUidlLine("3 000000f95e7e5c5f");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->number, 3u);
  EXPECT_EQ(u->uid, "000000f95e7e5c5f");
  EXPECT_FALSE(ParseUidlLine("3").ok());
}

}  // namespace
}  // namespace mailgate::pop3
