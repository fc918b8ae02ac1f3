#include "mime/message.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "base/sha256.h"

namespace mailgate::mime {
namespace {

// Base64 with CRLF line breaks, produced by hand to keep the tests
// self-contained.
std::string Base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  auto byte = [&in](std::size_t k) {
    return static_cast<unsigned>(static_cast<unsigned char>(in[k]));
  };
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += t[(v >> 6) & 63];
    out += t[v & 63];
    if (out.size() % 77 == 76) out += "\r\n";
  }
  if (i < in.size()) {
    unsigned v = byte(i) << 16 | (i + 1 < in.size() ? byte(i + 1) << 8 : 0);
    out += t[v >> 18];
    out += t[(v >> 12) & 63];
    out += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Quoted-printable with a soft line break every 70 characters or so.
std::string QuotedPrintable(const std::string& in) {
  std::string out;
  std::size_t line = 0;
  for (char c : in) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 33 && u <= 126 && c != '=') {
      out += c;
      ++line;
    } else {
      static const char* hex = "0123456789ABCDEF";
      out += '=';
      out += hex[u >> 4];
      out += hex[u & 15];
      line += 3;
    }
    if (line >= 70) {
      out += "=\r\n";
      line = 0;
    }
  }
  return out;
}

ParsedMessage MustParse(const std::string& raw, ParseOptions options = {}) {
  auto parsed = ParseMessage(raw, options);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return parsed.ok() ? *parsed : ParsedMessage{};
}

TEST(ParseMessageTest, PlainMessageHeadersAndBody) {
  auto m = MustParse(
      "From: \"Ann Example\" <ann@example.com>\r\n"
      "To: support@example.test, Bob <bob@example.org>\r\n"
      "Cc: undisclosed:;\r\n"
      "Reply-To: replies@example.com\r\n"
      "Return-Path: <bounces@example.com>\r\n"
      "Subject: Printer on fire\r\n"
      "Date: Tue, 03 Nov 2026 10:00:00 +0000\r\n"
      "Message-ID: <abc123@example.com>\r\n"
      "In-Reply-To: <parent@example.com>\r\n"
      "References: <root@example.com> <parent@example.com>\r\n"
      "\r\n"
      "It is on fire.\r\n");
  EXPECT_EQ(m.message_id, "abc123@example.com");
  EXPECT_FALSE(m.message_id_generated);
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].name, "Ann Example");
  EXPECT_EQ(m.from[0].email, "ann@example.com");
  ASSERT_EQ(m.to.size(), 2u);
  EXPECT_EQ(m.to[1].email, "bob@example.org");
  EXPECT_TRUE(m.cc.empty());
  ASSERT_EQ(m.reply_to.size(), 1u);
  EXPECT_EQ(m.return_path, "bounces@example.com");
  EXPECT_EQ(m.subject, "Printer on fire");
  EXPECT_EQ(m.date, 1793700000);
  EXPECT_EQ(m.in_reply_to, std::vector<std::string>{"parent@example.com"});
  EXPECT_EQ(m.references, (std::vector<std::string>{"root@example.com", "parent@example.com"}));
  EXPECT_EQ(m.text_body, "It is on fire.\r\n");
  EXPECT_TRUE(m.html_body.empty());
  EXPECT_FALSE(m.auto_submitted);
  EXPECT_TRUE(m.warnings.empty());
}

TEST(ParseMessageTest, MissingMessageIdAndDateAreGeneratedStably) {
  const std::string raw = "From: a@example.com\r\nSubject: no id\r\n\r\nbody\r\n";
  ParseOptions options;
  options.fallback_date = 1700000000;
  auto m1 = MustParse(raw, options);
  auto m2 = MustParse(raw, options);
  EXPECT_TRUE(m1.message_id_generated);
  EXPECT_EQ(m1.message_id, m2.message_id);
  EXPECT_NE(m1.message_id.find('@'), std::string::npos);
  EXPECT_TRUE(m1.date_generated);
  EXPECT_EQ(m1.date, 1700000000);
  auto other = MustParse("From: a@example.com\r\nSubject: other\r\n\r\nbody\r\n");
  EXPECT_NE(other.message_id, m1.message_id);
}

// A spool file without a Message-ID: its id derives from the file's digest, computed
// from the bytes read or, when the caller knows it (the download's), taken from it.
TEST(ParseMessageTest, FileWithoutMessageIdTakesItsIdFromTheDigest) {
  const std::string raw = "From: a@example.com\r\nSubject: no id\r\n\r\nbody\r\n";
  const std::string path =
      (std::filesystem::temp_directory_path() / ("mailgate-parse-" + std::to_string(::getpid())))
          .string();
  std::ofstream(path, std::ios::binary) << raw;
  auto computed = ParseMessageFile(path);
  ParseOptions known;
  known.raw_sha256 = std::string(64, 'a');
  auto given = ParseMessageFile(path, known);
  std::filesystem::remove(path);
  ASSERT_TRUE(computed.ok()) << computed.status().ToString();
  ASSERT_TRUE(given.ok()) << given.status().ToString();
  EXPECT_EQ(computed->message_id, Sha256Hex(raw).substr(0, 32) + "@generated.mailgate.invalid");
  EXPECT_EQ(given->message_id, std::string(32, 'a') + "@generated.mailgate.invalid");
  EXPECT_EQ(computed->text_body, "body\r\n");
  EXPECT_EQ(ParseMessageFile(path).status().kind(), Status::Kind::kIo);
}

TEST(ParseMessageTest, EncodedWordsInSubjectAndNames) {
  auto m = MustParse(
      "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <jm@example.de>\r\n"
      "Subject: =?UTF-8?B?UsOpc3Vtw6kg4oCTIGZpbmFs?= =?KOI8-R?B?8NLJ18XU?=\r\n"
      "Message-ID: <x@y>\r\n\r\nhi\r\n");
  EXPECT_EQ(m.from[0].name, "J\xC3\xB6rg M\xC3\xBCller");
  EXPECT_EQ(
      m.subject,
      "R\xC3\xA9sum\xC3\xA9 \xE2\x80\x93 final\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");
}

struct CharsetCase {
  const char* charset;
  std::string encoded;
  std::string utf8;
};

class CharsetTest : public ::testing::TestWithParam<CharsetCase> {};

TEST_P(CharsetTest, TextIsConvertedToUtf8) {
  const auto& c = GetParam();
  auto m = MustParse(std::string("From: a@example.com\r\nMessage-ID: <c@x>\r\n"
                                 "Content-Type: text/plain; charset=") +
                     c.charset + "\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + c.encoded);
  EXPECT_EQ(m.text_body, c.utf8) << c.charset;
  EXPECT_TRUE(m.warnings.empty()) << m.warnings.front();
}

INSTANTIATE_TEST_SUITE_P(
    Common, CharsetTest,
    ::testing::Values(CharsetCase{"utf-8",
                                  "Gr\xC3\xBC\xC3\x9F"
                                  "e",
                                  "Gr\xC3\xBC\xC3\x9F"
                                  "e"},
                      CharsetCase{"iso-8859-1",
                                  "Gr\xFC\xDF"
                                  "e",
                                  "Gr\xC3\xBC\xC3\x9F"
                                  "e"},
                      CharsetCase{"ISO-8859-2", "Za\xBF\xF3\xB3\xE6",
                                  "Za\xC5\xBC\xC3\xB3\xC5\x82\xC4\x87"},
                      CharsetCase{"windows-1252",
                                  "\x93quoted\x94 \x80"
                                  "5",
                                  "\xE2\x80\x9Cquoted\xE2\x80\x9D \xE2\x82\xAC"
                                  "5"},
                      CharsetCase{"windows-1251", "\xCF\xF0\xE8\xE2\xE5\xF2",
                                  "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"},
                      CharsetCase{"koi8-r", "\xF0\xD2\xC9\xD7\xC5\xD4",
                                  "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"},
                      CharsetCase{"shift_jis", "\x82\xB1\x82\xF1\x82\xC9\x82\xBF\x82\xCD",
                                  "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF"},
                      // Stateful: escape sequences switch the character set.
                      CharsetCase{"iso-2022-jp", "\x1B$B$3$s$K$A$O\x1B(B!",
                                  "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF!"},
                      CharsetCase{"gb18030", "\xC4\xE3\xBA\xC3\xCA\xC0\xBD\xE7",
                                  "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C"}));

TEST(ParseMessageTest, InvalidBytesAreReplacedNotFatal) {
  auto m = MustParse(
      "From: a@example.com\r\nMessage-ID: <bad@x>\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\nok \xFF\xFE end");
  EXPECT_EQ(m.text_body, "ok \xEF\xBF\xBD\xEF\xBF\xBD end");
  EXPECT_FALSE(m.warnings.empty());
}

TEST(ParseMessageTest, UnknownCharsetIsNotFatal) {
  auto m = MustParse(
      "From: a@example.com\r\nMessage-ID: <u@x>\r\n"
      "Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nplain ascii");
  EXPECT_EQ(m.text_body, "plain ascii");
}

TEST(ParseMessageTest, UndeclaredEightBitIsReadAsWindows1252) {
  auto m = MustParse("From: a@example.com\r\nMessage-ID: <w@x>\r\n\r\ncaf\xE9");
  EXPECT_EQ(m.text_body, "caf\xC3\xA9");
}

TEST(ParseMessageTest, AlternativeWithAttachmentsAndInlineImage) {
  const std::string pdf = std::string("%PDF-1.4\x00\x01\x02\xFF", 12) + std::string(3000, 'x');
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, '\x01');
  auto m = MustParse(
      "From: a@example.com\r\nMessage-ID: <alt@x>\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
      "--outer\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n"
      "--rel\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
      "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain text\r\n"
      "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML <img "
      "src=\"cid:logo@x\"></p>\r\n"
      "--alt--\r\n"
      "--rel\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      Base64(png) +
      "\r\n--rel--\r\n"
      "--outer\r\nContent-Type: application/pdf\r\n"
      "Content-Disposition: attachment; "
      "filename*=UTF-8''R%C3%A9sum%C3%A9%20%E2%80%93%20final.pdf\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      Base64(pdf) + "\r\n--outer--\r\n");
  EXPECT_EQ(m.text_body, "Plain text");
  EXPECT_EQ(m.html_body, "<p>HTML <img src=\"cid:logo@x\"></p>");
  EXPECT_FALSE(m.text_from_html);
  ASSERT_EQ(m.attachments.size(), 2u);
  const Attachment& img = m.attachments[0];
  EXPECT_EQ(img.content_type, "image/png");
  EXPECT_EQ(img.content_id, "logo@x");
  EXPECT_TRUE(img.is_inline);
  EXPECT_EQ(img.data, png);
  const Attachment& doc = m.attachments[1];
  EXPECT_EQ(doc.filename, "R\xC3\xA9sum\xC3\xA9 \xE2\x80\x93 final.pdf");
  EXPECT_EQ(doc.content_type, "application/pdf");
  EXPECT_FALSE(doc.is_inline);
  EXPECT_EQ(doc.data, pdf);
  EXPECT_EQ(doc.sha256, Sha256Hex(pdf));
}

// Parts far larger than the decoder's blocks (32 KB), so that base64 quads
// and quoted-printable escapes fall across block boundaries; then a small
// file after a large one, read into the same buffer.
TEST(ParseMessageTest, LargePartsDecodeWholeAndFilesDoNotShareBytes) {
  std::string binary(200'003, '\0');
  for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>((i * 7 + 13) % 256);
  std::string text;
  while (text.size() < 100'000)
    text +=
        "Gr\xC3\xBC\xC3\x9F"
        "e aus K\xC3\xB6ln = 100% ";
  const std::string big =
      "From: a@example.com\r\nMessage-ID: <big@x>\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
      "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
      QuotedPrintable(text) +
      "\r\n--b\r\nContent-Type: application/octet-stream\r\n"
      "Content-Disposition: attachment; filename=data.bin\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      Base64(binary) + "\r\n--b--\r\n";
  const std::string small = "From: a@example.com\r\nMessage-ID: <small@x>\r\n\r\nshort\r\n";
  const auto dir = std::filesystem::temp_directory_path();
  const std::string big_path = (dir / ("mailgate-big-" + std::to_string(::getpid()))).string();
  const std::string small_path = (dir / ("mailgate-small-" + std::to_string(::getpid()))).string();
  std::ofstream(big_path, std::ios::binary) << big;
  std::ofstream(small_path, std::ios::binary) << small;
  auto from_file = ParseMessageFile(big_path);
  auto small_after = ParseMessageFile(small_path);
  std::filesystem::remove(big_path);
  std::filesystem::remove(small_path);
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  ASSERT_TRUE(small_after.ok()) << small_after.status().ToString();
  const ParsedMessage& from_disk = *from_file;
  const ParsedMessage from_memory = MustParse(big);
  for (const ParsedMessage* m : {&from_disk, &from_memory}) {
    EXPECT_EQ(m->text_body, text);
    ASSERT_EQ(m->attachments.size(), 1u);
    EXPECT_EQ(m->attachments[0].data.size(), binary.size());
    EXPECT_TRUE(m->attachments[0].data == binary);
    EXPECT_EQ(m->attachments[0].sha256, Sha256Hex(binary));
  }
  EXPECT_EQ(small_after->message_id, "small@x");
  EXPECT_EQ(small_after->text_body, "short\r\n");
}

TEST(ParseMessageTest, HtmlOnlyGetsDerivedText) {
  auto m = MustParse(
      "From: a@example.com\r\nMessage-ID: <h@x>\r\n"
      "Content-Type: text/html; charset=iso-8859-1\r\n\r\n<p>Gr\xFC\xDF"
      "e</p><p>Zweite</p>");
  EXPECT_EQ(m.html_body,
            "<p>Gr\xC3\xBC\xC3\x9F"
            "e</p><p>Zweite</p>");
  EXPECT_EQ(m.text_body,
            "Gr\xC3\xBC\xC3\x9F"
            "e\n\nZweite");
  EXPECT_TRUE(m.text_from_html);
}

TEST(ParseMessageTest, EmbeddedMessageIsAnAttachment) {
  auto m = MustParse(
      "From: a@example.com\r\nMessage-ID: <fwd@x>\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nSee below\r\n"
      "--b\r\nContent-Type: message/rfc822\r\n\r\n"
      "From: c@example.com\r\nSubject: Original\r\nMessage-ID: <orig@x>\r\n\r\nOriginal body\r\n"
      "--b--\r\n");
  EXPECT_EQ(m.text_body, "See below");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].content_type, "message/rfc822");
  EXPECT_EQ(m.attachments[0].filename, "Original.eml");
  EXPECT_NE(m.attachments[0].data.find("Original body"), std::string::npos);
}

TEST(ParseMessageTest, DeliveryStatusNotification) {
  auto m = MustParse(
      "From: MAILER-DAEMON@example.org\r\nTo: support@example.test\r\n"
      "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn@example.org>\r\n"
      "Auto-Submitted: auto-replied\r\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n"
      "--r\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
      "--r\r\nContent-Type: message/delivery-status\r\n\r\n"
      "Reporting-MTA: dns; mx.example.org\r\n\r\n"
      "Final-Recipient: rfc822; gone@example.org\r\nOriginal-Recipient: rfc822;gone@example.org\r\n"
      "Action: failed\r\nStatus: 5.1.1\r\n"
      "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected\r\n"
      "--r\r\nContent-Type: text/rfc822-headers\r\n\r\n"
      "From: support@example.test\r\nTo: gone@example.org\r\nMessage-ID: <reply-1@example.test>\r\n"
      "Subject: Re: help\r\n"
      "--r--\r\n");
  EXPECT_TRUE(m.is_dsn);
  ASSERT_EQ(m.dsn_recipients.size(), 1u);
  EXPECT_EQ(m.dsn_recipients[0].address, "gone@example.org");
  EXPECT_EQ(m.dsn_recipients[0].action, "failed");
  EXPECT_EQ(m.dsn_recipients[0].status, "5.1.1");
  EXPECT_NE(m.dsn_recipients[0].diagnostic.find("550 5.1.1"), std::string::npos);
  EXPECT_EQ(m.dsn_original_message_id, "reply-1@example.test");
  EXPECT_TRUE(m.auto_submitted);
}

TEST(ParseMessageTest, AutoRepliesAreFlagged) {
  for (const char* header : {"Auto-Submitted: auto-replied", "X-Autoreply: yes", "Precedence: bulk",
                             "Precedence: auto_reply"}) {
    auto m = MustParse(std::string("From: a@example.com\r\nMessage-ID: <ar@x>\r\n") + header +
                       "\r\n\r\nOut of office\r\n");
    EXPECT_TRUE(m.auto_submitted) << header;
  }
  auto human = MustParse("From: a@example.com\r\nAuto-Submitted: no\r\n\r\nhi\r\n");
  EXPECT_FALSE(human.auto_submitted);
}

TEST(ParseMessageTest, MalformedMimeIsRepairedNotRejected) {
  // Boundary never closed, a part without headers, junk before the first boundary.
  auto m = MustParse(
      "From: a@example.com\r\nMessage-ID: <mal@x>\r\n"
      "Content-Type: multipart/mixed; boundary=zzz\r\n\r\n"
      "junk preamble\r\n--zzz\r\n\r\nheaderless part\r\n--zzz\r\nContent-Type: text/html\r\n\r\n"
      "<b>unterminated");
  EXPECT_EQ(m.text_body, "headerless part");
  EXPECT_EQ(m.html_body, "<b>unterminated");
}

TEST(ParseMessageTest, NotAMessageIsAnErrorThatSaysSo) {
  auto empty = ParseMessage("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().kind(), Status::Kind::kInvalidArgument);
}

}  // namespace
}  // namespace mailgate::mime
