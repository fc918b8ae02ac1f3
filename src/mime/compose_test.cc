#include "mime/compose.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "mime/message.h"

namespace mailgate::mime {
namespace {

std::string Binary(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += static_cast<char>((i * 7 + i / 256) & 0xff);
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Draft Sample() {
  Draft d;
  d.from = {"Zoë Support", "support@example.test"};
  d.to = {{"Jürgen Müller", "juergen@example.com"}, {"", "plain@example.com"}};
  d.cc = {{"", "boss@example.com"}};
  d.subject = "Ihre Bestellung \xE2\x80\x94 déjà vu";
  d.text_body = "Grüße,\nline two\n.\nend";
  d.date = 1795000000;
  return d;
}

TEST(ComposeTest, HeadersAreEncodedAndRoundTrip) {
  auto c = Compose(Sample());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  // Nothing but ASCII on the wire: headers use encoded words, the body QP.
  for (char ch : c->raw) ASSERT_LT(static_cast<unsigned char>(ch), 0x80) << c->raw;
  EXPECT_NE(c->raw.find("=?"), std::string::npos);
  EXPECT_NE(c->raw.find("Content-Transfer-Encoding: quoted-printable"), std::string::npos);
  EXPECT_EQ(c->raw.find("\n\n"), std::string::npos) << "CRLF line ends only";
  EXPECT_NE(Lower(c->raw).find("message-id: <" + c->message_id + ">"), std::string::npos) << c->raw;
  EXPECT_TRUE(c->message_id.ends_with("@example.test"));

  auto p = ParseMessage(c->raw);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->subject, Sample().subject);
  EXPECT_EQ(p->message_id, c->message_id);
  EXPECT_FALSE(p->message_id_generated);
  EXPECT_EQ(p->date, 1795000000);
  ASSERT_EQ(p->from.size(), 1u);
  EXPECT_EQ(p->from[0].name, "Zoë Support");
  ASSERT_EQ(p->to.size(), 2u);
  EXPECT_EQ(p->to[0].name, "Jürgen Müller");
  EXPECT_EQ(p->to[0].email, "juergen@example.com");
  ASSERT_EQ(p->cc.size(), 1u);
  EXPECT_EQ(p->text_body.find("Grüße"), 0u);
  EXPECT_NE(p->text_body.find("line two"), std::string::npos);
  EXPECT_TRUE(p->in_reply_to.empty());
}

TEST(ComposeTest, AttachmentsRoundTripByteExactWithUnicodeNames) {
  Draft d = Sample();
  d.attachments.push_back({"Rechnung März.pdf", "application/pdf", Binary(70000)});
  d.attachments.push_back({"nul.bin", "", std::string("\0\r\n\0\xff", 5)});
  auto c = Compose(d);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  // RFC 2231; GMime picks the smallest charset that holds the name.
  EXPECT_NE(c->raw.find("filename*="), std::string::npos) << c->raw.substr(0, 1500);
  auto p = ParseMessage(c->raw);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->attachments.size(), 2u);
  EXPECT_EQ(p->attachments[0].filename, "Rechnung März.pdf");
  EXPECT_EQ(p->attachments[0].content_type, "application/pdf");
  EXPECT_EQ(p->attachments[0].data, Binary(70000));
  EXPECT_EQ(p->attachments[1].filename, "nul.bin");
  EXPECT_EQ(p->attachments[1].content_type, "application/octet-stream");
  EXPECT_EQ(p->attachments[1].data, std::string("\0\r\n\0\xff", 5));
  EXPECT_NE(p->text_body.find("line two"), std::string::npos);
}

TEST(ComposeTest, ReplyCarriesInReplyToAndReferences) {
  Draft d = Sample();
  d.subject = ReplySubject("Printer on fire");
  d.in_reply_to = "parent@x.example";
  d.references = {"root@x.example", "middle@x.example"};
  auto c = Compose(d);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->raw.find("In-Reply-To: <parent@x.example>"), std::string::npos) << c->raw;
  auto p = ParseMessage(c->raw);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->subject, "Re: Printer on fire");
  EXPECT_EQ(p->in_reply_to, std::vector<std::string>{"parent@x.example"});
  EXPECT_EQ(p->references,
            (std::vector<std::string>{"root@x.example", "middle@x.example", "parent@x.example"}));
  EXPECT_EQ(ReplySubject("RE: again"), "RE: again");
}

TEST(ComposeTest, RefusesBadAddresses) {
  Draft d = Sample();
  d.to = {{"", "not an address"}};
  EXPECT_EQ(Compose(d).status().kind(), Status::Kind::kInvalidArgument);
  d.to.clear();
  d.cc.clear();
  EXPECT_EQ(Compose(d).status().kind(), Status::Kind::kInvalidArgument);
  d = Sample();
  d.from.email = "x@y\r\nBcc: evil@z";
  EXPECT_EQ(Compose(d).status().kind(), Status::Kind::kInvalidArgument);
}

TEST(ComposeTest, ParsesAddressesAsUsersTypeThem) {
  auto a = ParseAddress("Ann Example <ann@example.com>");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->name, "Ann Example");
  EXPECT_EQ(a->email, "ann@example.com");
  a = ParseAddress("bob@example.com");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->email, "bob@example.com");
  EXPECT_FALSE(ParseAddress("a@example.com, b@example.com").ok());
  EXPECT_FALSE(ParseAddress("nobody").ok());
}

TEST(ComposeTest, MessageIdsAreRandomPerMessage) {
  EXPECT_NE(NewMessageId("a.example"), NewMessageId("a.example"));
  EXPECT_EQ(NewMessageId("a.example", [] { return 0xdeadbeefu; }),
            "deadbeefdeadbeefdeadbeefdeadbeef@a.example");
}

}  // namespace
}  // namespace mailgate::mime
