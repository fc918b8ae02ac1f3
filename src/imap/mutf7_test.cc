#include "imap/mutf7.h"

#include <gtest/gtest.h>

namespace mailgate::imap {
namespace {

// Examples from RFC 3501 §5.1.3 and common folder names.
TEST(MailboxNameTest, RoundTrips) {
  const std::pair<const char*, const char*> cases[] = {
      {"INBOX", "INBOX"},
      {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
       "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
      {"Entw\xc3\xbc"
       "rfe",
       "Entw&APw-rfe"},
      {"Gel\xc3\xb6schte Elemente", "Gel&APY-schte Elemente"},
      {"Tom & Jerry", "Tom &- Jerry"},
      {"&", "&-"},
      {"\xf0\x9f\x93\xa7 mail", "&2D3c5w- mail"},  // U+1F4E7, a surrogate pair
      {"", ""},
  };
  for (const auto& [utf8, wire] : cases) {
    auto e = EncodeMailboxName(utf8);
    ASSERT_TRUE(e.ok()) << utf8;
    EXPECT_EQ(*e, wire);
    auto d = DecodeMailboxName(wire);
    ASSERT_TRUE(d.ok()) << wire << ": " << d.status().message();
    EXPECT_EQ(*d, utf8);
  }
}

TEST(MailboxNameTest, InvalidUtf8IsRefused) {
  for (const char* bad : {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    auto e = EncodeMailboxName(bad);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().kind(), Status::Kind::kInvalidArgument);
  }
}

TEST(MailboxNameTest, InvalidModifiedUtf7IsRefused) {
  for (const char* bad :
       {"&U,BTFw", "&U/BTFw-", "&2D3-", "&3-w-", "&AGE-", "&APx-", "caf\xc3\xa9"}) {
    auto d = DecodeMailboxName(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) {
      EXPECT_EQ(d.status().kind(), Status::Kind::kProtocol);
    }
  }
}

}  // namespace
}  // namespace mailgate::imap
