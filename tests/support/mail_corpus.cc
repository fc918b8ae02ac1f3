#include "support/mail_corpus.h"

#include <iconv.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "base/sha256.h"

namespace mailgate::testing {
namespace {

constexpr char kDate[] = "Date: Tue, 03 Nov 2026 10:00:00 +0000\r\n";

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "mail corpus: %s\n", why.c_str());
  std::abort();
}

// UTF-8 -> `charset` with the C library's iconv, independent of GMime (which
// converts the other way in the code under test).
std::string Encode(std::string_view utf8, const char* charset) {
  iconv_t cd = ::iconv_open(charset, "UTF-8");
  if (cd == reinterpret_cast<iconv_t>(-1)) Die(std::string("no iconv converter for ") + charset);
  std::string in(utf8);
  std::string out(in.size() * 4 + 16, '\0');
  char* inp = in.data();
  std::size_t inleft = in.size();
  char* outp = out.data();
  std::size_t outleft = out.size();
  const std::size_t rc = ::iconv(cd, &inp, &inleft, &outp, &outleft);
  ::iconv_close(cd);
  if (rc == static_cast<std::size_t>(-1) || inleft != 0) {
    Die(std::string("text not representable in ") + charset);
  }
  out.resize(out.size() - outleft);
  return out;
}

std::string Hex2(unsigned char c) {
  static const char* kHex = "0123456789ABCDEF";
  std::string s = "=";
  s += kHex[c >> 4];
  s += kHex[c & 15];
  return s;
}

// Quoted-printable (RFC 2045 6.7): CRLF in the input stays a hard line break;
// soft breaks keep lines under 76 characters.
std::string QuotedPrintable(std::string_view bytes) {
  std::string out;
  std::size_t line = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n') {
      out += "\r\n";
      line = 0;
      ++i;
      continue;
    }
    const bool at_line_end = i + 1 == bytes.size() ||
                             (bytes[i + 1] == '\r' && i + 2 < bytes.size() && bytes[i + 2] == '\n');
    std::string enc;
    if ((c >= 33 && c <= 126 && c != '=') || (c == ' ' && !at_line_end)) {
      enc = std::string(1, static_cast<char>(c));
    } else {
      enc = Hex2(c);
    }
    if (line + enc.size() > 73) {
      out += "=\r\n";
      line = 0;
    }
    out += enc;
    line += enc.size();
  }
  return out;
}

// RFC 2047 encoded words.
std::string EncodedWordB(std::string_view charset, std::string_view bytes) {
  std::string b64 = Base64Lines(bytes);
  std::string flat;
  for (char c : b64) {
    if (c != '\r' && c != '\n') flat += c;
  }
  std::string out = "=?";
  out += charset;
  out += "?B?";
  out += flat;
  out += "?=";
  return out;
}

std::string EncodedWordQ(std::string_view charset, std::string_view bytes) {
  std::string out = "=?";
  out += charset;
  out += "?Q?";
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == ' ') {
      out += '_';
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      out += static_cast<char>(c);
    } else {
      out += Hex2(c);
    }
  }
  out += "?=";
  return out;
}

class Builder {
 public:
  explicit Builder(std::uint32_t seed) : rng_(seed), seed_(std::to_string(seed)) {}

  std::string Id(std::string_view name) {
    std::string id(name);
    id += ".s";
    id += seed_;
    id += "@corpus.example";
    return id;
  }

  std::string RandomBytes(std::size_t n) {
    std::string s(n, '\0');
    std::uniform_int_distribution<int> byte(0, 255);
    for (char& c : s) c = static_cast<char>(byte(rng_));
    return s;
  }

  std::string Boundary(std::string_view hint) {
    std::string b = "=_";
    b += hint;
    b += "_";
    b += std::to_string(rng_() % 1000000);
    return b;
  }

 private:
  std::mt19937 rng_;
  std::string seed_;
};

// A part: its headers, a blank line, the content, and the CRLF that belongs
// to the next boundary line (RFC 2046 5.1.1), so the decoded content is
// exactly `content`.
std::string Part(const std::string& boundary, const std::string& headers,
                 const std::string& content) {
  std::string s = "--";
  s += boundary;
  s += "\r\n";
  s += headers;
  s += "\r\n";
  s += content;
  s += "\r\n";
  return s;
}

std::string Close(const std::string& boundary) {
  std::string s = "--";
  s += boundary;
  s += "--\r\n";
  return s;
}

ExpectedAttachment Expect(std::string filename, std::string type, std::string data,
                          std::string cid = "", bool is_inline = false) {
  ExpectedAttachment a;
  a.filename = std::move(filename);
  a.content_type = std::move(type);
  a.content_id = std::move(cid);
  a.is_inline = is_inline;
  a.sha256 = Sha256Hex(data);
  a.size = data.size();
  a.data = std::move(data);
  return a;
}

struct CharsetCase {
  const char* charset;  // as declared in the message
  const char* iconv;    // the C library's name for it
  const char* cte;      // 8bit | quoted-printable | base64
  const char* subject_words;
  const char* text;
};

const CharsetCase kCharsets[] = {
    {"utf-8", "UTF-8", "8bit", "Grüße ✓", "Grüße aus Köln ✓ — alles gut 😀\r\nZweite Zeile.\r\n"},
    {"iso-8859-1", "ISO-8859-1", "quoted-printable", "Grüße",
     "Grüße, Frühstück im Büro an der Straße. Ça va? Café.\r\n"
     "Eine sehr lange Zeile, die länger ist als sechsundsiebzig Zeichen, damit weiche "
     "Umbrüche nötig werden.\r\n"},
    {"iso-8859-2", "ISO-8859-2", "quoted-printable", "Zażółć",
     "Zażółć gęślą jaźń.\r\nPříliš žluťoučký kůň úpěl ďábelské ódy.\r\n"},
    {"iso-8859-15", "ISO-8859-15", "quoted-printable", "Prix 15 €",
     "Le prix est de 15 € pour l'œuvre complète.\r\n"},
    {"windows-1251", "CP1251", "8bit", "Отчёт",
     "Съешь же ещё этих мягких французских булок, да выпей чаю.\r\n"},
    {"windows-1252", "CP1252", "quoted-printable", "Café “naïve”",
     "Café “quoted” – naïve € … fin.\r\n"},
    {"gb18030", "GB18030", "base64", "会议 发票", "会议纪要：发票已附上，谢谢团队。明天见。\r\n"},
    {"shift_jis", "SHIFT_JIS", "base64", "会議 請求書",
     "会議の請求書を添付します。よろしくお願いします。\r\n"},
    {"koi8-r", "KOI8-R", "8bit", "Привет",
     "Привет, это отчёт за квартал. Спасибо!\r\nВторая строка.\r\n"},
};

}  // namespace

std::string Base64Lines(std::string_view in) {
  static const char* kTable = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(in.size() / 3 * 4 + in.size() / 57 * 2 + 8);
  auto byte = [&in](std::size_t k) {
    return static_cast<unsigned>(static_cast<unsigned char>(in[k]));
  };
  std::size_t col = 0;
  std::size_t i = 0;
  auto emit = [&](char c) {
    if (col == 76) {
      out += "\r\n";
      col = 0;
    }
    out += c;
    ++col;
  };
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    emit(kTable[v >> 18]);
    emit(kTable[(v >> 12) & 63]);
    emit(kTable[(v >> 6) & 63]);
    emit(kTable[v & 63]);
  }
  if (i < in.size()) {
    const unsigned v = byte(i) << 16 | (i + 1 < in.size() ? byte(i + 1) << 8 : 0);
    emit(kTable[v >> 18]);
    emit(kTable[(v >> 12) & 63]);
    emit(i + 1 < in.size() ? kTable[(v >> 6) & 63] : '=');
    emit('=');
  }
  return out;
}

std::vector<MailCase> MailCorpus(std::uint32_t seed, std::size_t big_attachment_bytes) {
  Builder b(seed);
  std::vector<MailCase> corpus;

  // --- plain --------------------------------------------------------------
  {
    MailCase c;
    c.name = "plain";
    c.message_id = b.Id("plain");
    c.subject = "Printer on fire";
    c.text_body =
        "Hello support,\r\n\r\nthe printer on the third floor is on fire again.\r\n"
        "Please send someone.\r\n\r\nAlice\r\n";
    c.from_email = "alice@example.com";
    c.shown_sender = "alice@example.com";
    c.raw =
        "Return-Path: <alice@example.com>\r\n"
        "From: Alice Example <alice@example.com>\r\n"
        "To: support@example.test\r\n"
        "Subject: Printer on fire\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\n";
    c.raw +=
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
        "Content-Transfer-Encoding: 7bit\r\n\r\n";
    c.raw += c.text_body;
    corpus.push_back(std::move(c));
  }

  // --- alternative (and a Reply-To that wins over From) -------------------
  {
    MailCase c;
    c.name = "alternative";
    c.message_id = b.Id("alternative");
    c.subject = "Invoice 2026-114";
    c.text_body = "Hello,\r\nthe invoice for October is attached — thanks.\r\nBob";
    c.html_body =
        "<html><body><p>Hello,</p>\r\n<p>the invoice for <b>October</b> is attached "
        "&mdash; thanks.</p><p>Bob</p></body></html>";
    c.from_email = "bob@example.org";
    c.shown_sender = "billing-replies@example.org";
    const std::string bd = b.Boundary("alt");
    c.raw =
        "From: Bob <bob@example.org>\r\nReply-To: Billing <billing-replies@example.org>\r\n"
        "To: support@example.test\r\nSubject: Invoice 2026-114\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\nMIME-Version: 1.0\r\n";
    c.raw += "Content-Type: multipart/alternative; boundary=\"" + bd + "\"\r\n\r\n";
    c.raw += "This is a multi-part message in MIME format.\r\n";
    c.raw += Part(bd,
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n",
                  QuotedPrintable(c.text_body));
    c.raw += Part(bd,
                  "Content-Type: text/html; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n",
                  QuotedPrintable(c.html_body));
    c.raw += Close(bd);
    corpus.push_back(std::move(c));
  }

  // --- attachments: a large random one, RFC 2231 names ---------------------
  {
    MailCase c;
    c.name = "attachments";
    c.message_id = b.Id("attachments");
    c.subject = "Documents for the contract";
    c.text_body = "Please find the documents attached.";
    c.from_email = "carol@example.net";
    c.shown_sender = "carol@example.net";
    const std::string bd = b.Boundary("mixed");
    const std::string pdf = "%PDF-1.7\n" + b.RandomBytes(big_attachment_bytes);
    const std::string xlsx = "PK\x03\x04" + b.RandomBytes(20000);
    const std::string csv = "name,amount\r\nwidget,12\r\ngadget,7";
    c.raw =
        "From: carol@example.net\r\nTo: support@example.test\r\n"
        "Subject: Documents for the contract\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\nMIME-Version: 1.0\r\n";
    c.raw += "Content-Type: multipart/mixed; boundary=\"" + bd + "\"\r\n\r\n";
    c.raw += Part(bd, "Content-Type: text/plain; charset=us-ascii\r\n", c.text_body);
    c.raw += Part(bd,
                  "Content-Type: application/pdf\r\n"
                  "Content-Disposition: attachment;\r\n"
                  " filename*=UTF-8''R%C3%A9sum%C3%A9%202026.pdf\r\n"
                  "Content-Transfer-Encoding: base64\r\n",
                  Base64Lines(pdf));
    c.raw += Part(bd,
                  "Content-Type: application/vnd.ms-excel\r\n"
                  "Content-Disposition: attachment;\r\n"
                  " filename*0*=UTF-8''%C3%9Cberweisung%20;\r\n"
                  " filename*1*=M%C3%A4rz.xlsx\r\n"
                  "Content-Transfer-Encoding: base64\r\n",
                  Base64Lines(xlsx));
    c.raw += Part(bd,
                  "Content-Type: text/csv; charset=us-ascii\r\n"
                  "Content-Disposition: attachment; filename=\"data.csv\"\r\n",
                  csv);
    c.raw += Close(bd);
    c.attachments.push_back(Expect("R\xC3\xA9sum\xC3\xA9 2026.pdf", "application/pdf", pdf));
    c.attachments.push_back(
        Expect("\xC3\x9C"
               "berweisung M\xC3\xA4rz.xlsx",
               "application/vnd.ms-excel", xlsx));
    c.attachments.push_back(Expect("data.csv", "text/csv", csv));
    corpus.push_back(std::move(c));
  }

  // --- inline image referenced by cid: ------------------------------------
  {
    MailCase c;
    c.name = "inline-image";
    c.message_id = b.Id("inline-image");
    c.subject = "Our new logo";
    c.text_body = "Our new logo is below.";
    const std::string cid = b.Id("logo");
    c.html_body = "<p>Our new logo:</p><img src=\"cid:" + cid + "\" alt=\"logo\">";
    c.from_email = "dave@example.com";
    c.shown_sender = "dave@example.com";
    const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + b.RandomBytes(40000);
    const std::string rel = b.Boundary("rel");
    const std::string alt = b.Boundary("alt");
    c.raw =
        "From: Dave <dave@example.com>\r\nTo: support@example.test\r\nSubject: Our new logo\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\nMIME-Version: 1.0\r\n";
    c.raw += "Content-Type: multipart/related; type=\"multipart/alternative\"; boundary=\"" + rel +
             "\"\r\n\r\n";
    std::string alternative;
    alternative += Part(alt, "Content-Type: text/plain; charset=utf-8\r\n", c.text_body);
    alternative += Part(alt, "Content-Type: text/html; charset=utf-8\r\n", c.html_body);
    alternative += Close(alt);
    alternative.resize(alternative.size() - 2);  // the CRLF before --rel is the boundary's
    c.raw +=
        Part(rel, "Content-Type: multipart/alternative; boundary=\"" + alt + "\"\r\n", alternative);
    c.raw += Part(rel,
                  "Content-Type: image/png; name=\"logo.png\"\r\n"
                  "Content-Disposition: inline; filename=\"logo.png\"\r\n"
                  "Content-ID: <" +
                      cid +
                      ">\r\n"
                      "Content-Transfer-Encoding: base64\r\n",
                  Base64Lines(png));
    c.raw += Close(rel);
    c.attachments.push_back(Expect("logo.png", "image/png", png, cid, true));
    corpus.push_back(std::move(c));
  }

  // --- a forwarded message (message/rfc822) -------------------------------
  {
    MailCase c;
    c.name = "forward";
    c.message_id = b.Id("forward");
    c.subject = "Fwd: Original question";
    c.text_body = "See the message below.";
    c.from_email = "erin@example.com";
    c.shown_sender = "erin@example.com";
    const std::string bd = b.Boundary("fwd");
    const std::string inner =
        "From: frank@example.com\r\nTo: erin@example.com\r\nSubject: Original question\r\n"
        "Message-ID: <" +
        b.Id("forwarded-original") + ">\r\n" + kDate +
        "Content-Type: text/plain; charset=us-ascii\r\n\r\nWhere is my order?\r\n";
    c.raw =
        "From: erin@example.com\r\nTo: support@example.test\r\nSubject: Fwd: Original "
        "question\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\nMIME-Version: 1.0\r\n";
    c.raw += "Content-Type: multipart/mixed; boundary=\"" + bd + "\"\r\n\r\n";
    c.raw += Part(bd, "Content-Type: text/plain\r\n", c.text_body);
    c.raw += Part(bd, "Content-Type: message/rfc822\r\n", inner);
    c.raw += Close(bd);
    // ParseMessage re-serialises an embedded message through GMime, which
    // writes LF line ends: the .eml holds the same message, not the same bytes.
    std::string inner_lf;
    for (char ch : inner) {
      if (ch != '\r') inner_lf += ch;
    }
    c.attachments.push_back(Expect("Original question.eml", "message/rfc822", inner_lf));
    corpus.push_back(std::move(c));
  }

  // --- legacy charsets ----------------------------------------------------
  for (const CharsetCase& cs : kCharsets) {
    MailCase c;
    c.name = std::string("charset-") + cs.charset;
    c.message_id = b.Id(c.name);
    c.subject = std::string("Charset ") + cs.charset + ": " + cs.subject_words;
    c.text_body = cs.text;
    c.from_email = "intl@example.com";
    c.shown_sender = "intl@example.com";
    const std::string encoded = Encode(cs.text, cs.iconv);
    std::string body;
    if (std::string_view(cs.cte) == "base64") {
      body = Base64Lines(encoded) + "\r\n";
    } else if (std::string_view(cs.cte) == "quoted-printable") {
      body = QuotedPrintable(encoded);
    } else {
      body = encoded;
    }
    c.raw = "From: intl@example.com\r\nTo: support@example.test\r\n";
    c.raw += "Subject: Charset " + std::string(cs.charset) + ": " +
             EncodedWordB(cs.charset, Encode(cs.subject_words, cs.iconv)) + "\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\nMIME-Version: 1.0\r\n";
    c.raw += "Content-Type: text/plain; charset=" + std::string(cs.charset) + "\r\n";
    c.raw += "Content-Transfer-Encoding: " + std::string(cs.cte) + "\r\n\r\n";
    c.raw += body;
    corpus.push_back(std::move(c));
  }

  // --- RFC 2047 encoded words (Q and B, adjacent, in a display name) -------
  {
    MailCase c;
    c.name = "encoded-words";
    c.message_id = b.Id("encoded-words");
    c.subject = "Caf\xC3\xA9 cr\xC3\xA8me \xE2\x80\x94 \xE2\x9C\x93 done and plain tail";
    c.text_body = "Encoded words in the header.\r\n";
    c.from_email = "juergen@example.de";
    c.shown_sender = "juergen@example.de";
    c.raw = "From: " + EncodedWordQ("UTF-8", "J\xC3\xBCrgen M\xC3\xBCller") +
            " <juergen@example.de>\r\nTo: support@example.test\r\n";
    // Whitespace between adjacent encoded words is not part of the text (RFC 2047 6.2).
    c.raw += "Subject: " + EncodedWordQ("ISO-8859-1", "Caf\xE9 cr\xE8me") + "\r\n " +
             EncodedWordB("UTF-8", " \xE2\x80\x94 \xE2\x9C\x93 done") + " and plain tail\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\nMIME-Version: 1.0\r\n";
    c.raw += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
    c.raw += c.text_body;
    corpus.push_back(std::move(c));
  }

  const std::string plain_id = b.Id("plain");
  const std::string alternative_id = b.Id("alternative");

  // --- a reply by In-Reply-To ---------------------------------------------
  {
    MailCase c;
    c.name = "reply";
    c.message_id = b.Id("reply");
    c.subject = "Re: Printer on fire";
    c.text_body = "It is out now. Thanks!\r\n\r\n> the printer on the third floor is on fire\r\n";
    c.from_email = "alice@example.com";
    c.shown_sender = "alice@example.com";
    c.thread = Thread::kInReplyTo;
    c.parent = "plain";
    c.raw =
        "From: Alice Example <alice@example.com>\r\nTo: support@example.test\r\n"
        "Subject: Re: Printer on fire\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\n";
    c.raw += "In-Reply-To: <" + plain_id + ">\r\nReferences: <" + plain_id + ">\r\n";
    c.raw += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
    c.raw += c.text_body;
    corpus.push_back(std::move(c));
  }

  // --- a reply found only by References, newest first ----------------------
  {
    MailCase c;
    c.name = "reply-references";
    c.message_id = b.Id("reply-references");
    c.subject = "Re: Re: Printer on fire";
    c.text_body = "One more thing.\r\n";
    c.from_email = "alice@example.com";
    c.shown_sender = "alice@example.com";
    // In-Reply-To names a message we never saw; References names another
    // conversation first and "reply" last: the newest wins.
    c.thread = Thread::kReferences;
    c.parent = "reply";
    c.raw =
        "From: alice@example.com\r\nTo: support@example.test\r\n"
        "Subject: Re: Re: Printer on fire\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\n";
    c.raw += "In-Reply-To: <never-seen.s" + std::to_string(seed) + "@elsewhere.example>\r\n";
    c.raw += "References: <" + alternative_id + ">\r\n <" + b.Id("reply") + ">\r\n";
    c.raw += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
    c.raw += c.text_body;
    corpus.push_back(std::move(c));
  }

  // --- a reply found only by the mask in its subject -----------------------
  {
    MailCase c;
    c.name = "reply-mask";
    c.message_id = b.Id("reply-mask");
    c.subject = "Re: [#" + std::string(kMaskPlaceholder) + "] Printer on fire";
    c.text_body = "Replying from my phone, headers lost.\r\n";
    c.from_email = "alice@example.com";
    c.shown_sender = "alice@example.com";
    c.thread = Thread::kMask;
    c.parent = "plain";
    c.raw = "From: alice@example.com\r\nTo: support@example.test\r\n";
    c.raw += "Subject: " + c.subject + "\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\n";
    c.raw += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
    c.raw += c.text_body;
    corpus.push_back(std::move(c));
  }

  // --- a DSN bounce (RFC 3464) of "alternative" -----------------------------
  {
    MailCase c;
    c.name = "bounce";
    c.message_id = b.Id("bounce");
    c.subject = "Undelivered Mail Returned to Sender";
    c.text_body =
        "This is the mail system at host mx.example.net.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.";
    c.from_email = "MAILER-DAEMON@mx.example.net";
    c.shown_sender = "MAILER-DAEMON@mx.example.net";
    c.thread = Thread::kBounce;
    c.parent = "alternative";
    c.auto_submitted = true;
    c.is_bounce = true;
    c.undeliverable = "gone@example.net";
    c.undeliverable_status = "5.1.1";
    const std::string bd = b.Boundary("report");
    const std::string status =
        "Reporting-MTA: dns; mx.example.net\r\nArrival-Date: Tue,  3 Nov 2026 10:00:01 +0000\r\n"
        "\r\nFinal-Recipient: rfc822; Gone@example.net\r\n"
        "Original-Recipient: rfc822;Gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Remote-MTA: dns; mx.example.net\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <Gone@example.net>: Recipient address\r\n"
        "    rejected: User unknown in virtual mailbox table\r\n";
    const std::string headers =
        "From: Bob <bob@example.org>\r\nTo: Gone@example.net\r\n"
        "Subject: Invoice 2026-114\r\nMessage-ID: <" +
        alternative_id + ">\r\n";
    c.raw =
        "Return-Path: <>\r\n"
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        "To: bob@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Auto-Submitted: auto-replied\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\nMIME-Version: 1.0\r\n";
    c.raw += "Content-Type: multipart/report; report-type=delivery-status;\r\n boundary=\"" + bd +
             "\"\r\n\r\n";
    c.raw +=
        Part(bd, "Content-Description: Notification\r\nContent-Type: text/plain\r\n", c.text_body);
    c.raw += Part(bd,
                  "Content-Description: Delivery report\r\nContent-Type: "
                  "message/delivery-status\r\n",
                  status);
    c.raw += Part(bd,
                  "Content-Description: Undelivered Message Headers\r\n"
                  "Content-Type: text/rfc822-headers\r\n",
                  headers);
    c.raw += Close(bd);
    c.attachments.push_back(Expect("", "text/rfc822-headers", headers));
    corpus.push_back(std::move(c));
  }

  // --- an auto-reply ------------------------------------------------------
  {
    MailCase c;
    c.name = "auto-reply";
    c.message_id = b.Id("auto-reply");
    c.subject = "Automatic reply: Printer on fire";
    c.text_body = "I am out of the office until Monday.\r\n";
    c.from_email = "alice@example.com";
    c.shown_sender = "alice@example.com";
    c.thread = Thread::kInReplyTo;
    c.parent = "plain";
    c.auto_submitted = true;
    c.raw =
        "From: alice@example.com\r\nTo: support@example.test\r\n"
        "Subject: Automatic reply: Printer on fire\r\n"
        "Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\n";
    c.raw += "In-Reply-To: <" + plain_id + ">\r\n";
    c.raw += "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
    c.raw += c.text_body;
    corpus.push_back(std::move(c));
  }

  // --- no Message-ID, no Date, no From: only the envelope sender -----------
  {
    MailCase c;
    c.name = "no-id-no-date";
    c.has_date = false;
    c.subject = "No identity " + std::to_string(seed);
    c.text_body = "Sent by a script that writes no headers.\r\n";
    c.shown_sender = "noreply@example.com";
    c.raw = "Return-Path: <noreply@example.com>\r\nTo: support@example.test\r\n";
    c.raw += "Subject: " + c.subject + "\r\n\r\n";
    c.raw += c.text_body;
    corpus.push_back(std::move(c));
  }

  // --- malformed MIME that must still parse --------------------------------
  {
    MailCase c;
    c.name = "malformed";
    c.message_id = b.Id("malformed");
    c.subject = "Broken MIME";
    c.text_body = "Valid start \xEF\xBF\xBD end";  // the invalid byte replaced
    c.from_email = "broken@example.com";
    c.shown_sender = "broken@example.com";
    c.has_warnings = true;
    const std::string bd = b.Boundary("broken");
    c.raw = "From: broken@example.com\r\nTo: support@example.test\r\nSubject: Broken MIME\r\n";
    c.raw += kDate;
    c.raw += "Message-ID: <" + c.message_id + ">\r\nMIME-Version: 1.0\r\n";
    c.raw += "Content-Type: multipart/mixed; boundary=\"" + bd + "\"\r\n\r\n";
    c.raw += Part(bd, "Content-Type: text/plain; charset=utf-8\r\n", "Valid start \xFF end");
    // Bad base64 and no closing boundary: the part runs to the end.
    c.raw += "--" + bd +
             "\r\nContent-Type: application/octet-stream\r\n"
             "Content-Disposition: attachment; filename=\"broken.bin\"\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\nQUJD!!@@#\r\nRE*VG=x=\r\n";
    ExpectedAttachment a;
    a.filename = "broken.bin";
    a.content_type = "application/octet-stream";
    c.attachments.push_back(std::move(a));
    corpus.push_back(std::move(c));
  }

  // --- input that is not a message at all -----------------------------------
  {
    MailCase c;
    c.name = "not-a-message";
    c.is_message = false;
    c.raw = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n" + b.RandomBytes(2000);
    corpus.push_back(std::move(c));
  }
  {
    MailCase c;
    c.name = "empty";
    c.is_message = false;
    corpus.push_back(std::move(c));
  }
  return corpus;
}

const MailCase& FindCase(const std::vector<MailCase>& corpus, std::string_view name) {
  for (const MailCase& c : corpus) {
    if (c.name == name) return c;
  }
  Die("no case named '" + std::string(name) + "'");
}

MailCase WithMask(const MailCase& c, std::string_view mask) {
  MailCase out = c;
  auto replace = [mask](std::string& s) {
    const auto pos = s.find(kMaskPlaceholder);
    if (pos != std::string::npos) s.replace(pos, kMaskPlaceholder.size(), mask);
  };
  replace(out.raw);
  replace(out.subject);
  return out;
}

}  // namespace mailgate::testing
