// A corpus of realistic mail, generated in code (no binary fixtures), for the
// processor's unit tests and the integration tests: every shape a helpdesk
// mailbox receives, each with the facts a correct parser must find in it.
//
// The bytes are deterministic for a given seed (std::mt19937, iconv for the
// legacy charsets), with CRLF line ends as IMAP and POP3 deliver them.
// Expected text is what a reader sees, in UTF-8, so a test compares what
// Mailgate stored byte for byte.
#ifndef MAILGATE_TESTS_SUPPORT_MAIL_CORPUS_H_
#define MAILGATE_TESTS_SUPPORT_MAIL_CORPUS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailgate::testing {

struct ExpectedAttachment {
  std::string filename;      // decoded UTF-8
  std::string content_type;  // lowercase type/subtype
  std::string content_id;    // without <>; "" when none
  bool is_inline = false;
  // Of the decoded bytes; "" when the bytes are not predictable (bad base64
  // in the malformed case): then only name and type are checked.
  std::string sha256;
  std::uint64_t size = 0;
  std::string data;  // the decoded bytes (when sha256 is set)
};

// How a case is expected to thread when the corpus is processed in order.
enum class Thread {
  kNew,         // starts a conversation
  kInReplyTo,   // joins `parent` by In-Reply-To
  kReferences,  // joins `parent` by References (newest first)
  kMask,        // joins `parent` by the [#MASK] in its subject (see WithMask)
  kBounce,      // a DSN: joins `parent`, the message it reports on
};

struct MailCase {
  std::string name;  // "plain", "charset-koi8-r", ...
  std::string raw;   // the message as a server delivers it

  // False: not a message at all; ParseMessage refuses it, the processor
  // quarantines it.
  bool is_message = true;

  std::string message_id;  // without <>; "" when the message has none (generated)
  bool has_date = true;
  std::string subject;    // decoded
  std::string text_body;  // exactly, decoded to UTF-8
  std::string html_body;  // exactly; "" when none
  std::string from_email;
  // The sender the processing log shows: Reply-To, else From, else Return-Path.
  std::string shown_sender;
  std::vector<ExpectedAttachment> attachments;  // in message order

  Thread thread = Thread::kNew;
  std::string parent;  // name of the case this one threads to

  bool auto_submitted = false;
  bool is_bounce = false;
  std::string undeliverable;         // lower-case address a 5xx DSN reports
  std::string undeliverable_status;  // "5.1.1"
  bool has_warnings = false;         // ParseMessage reports repairs
};

// The placeholder for a conversation mask in the subject of kMask cases: the
// mask is only known once the parent's conversation exists.
inline constexpr std::string_view kMaskPlaceholder = "@MASK@";

// The named cases, parents before the cases that thread to them:
//   plain, alternative, attachments (a 3 MB attachment and RFC 2231 names),
//   inline-image (cid:), forward (message/rfc822), charset-utf-8,
//   charset-iso-8859-1, charset-iso-8859-2, charset-iso-8859-15,
//   charset-windows-1251, charset-windows-1252, charset-gb18030,
//   charset-shift_jis, charset-koi8-r, encoded-words, reply (In-Reply-To),
//   reply-references (References only; the newest wins), reply-mask,
//   bounce (multipart/report 5.1.1 of "alternative"), auto-reply,
//   no-id-no-date, malformed (unterminated multipart, bad base64, invalid
//   UTF-8), not-a-message (binary), empty.
// `big_attachment_bytes` sizes the large attachment (3 MB by default).
std::vector<MailCase> MailCorpus(std::uint32_t seed = 1,
                                 std::size_t big_attachment_bytes = 3 * 1024 * 1024);

// The case named `name`; aborts the test binary if there is none (a typo in a test).
const MailCase& FindCase(const std::vector<MailCase>& corpus, std::string_view name);

// A copy of a kMask case with `mask` ("ABC-12345-678") in place of the placeholder.
MailCase WithMask(const MailCase& c, std::string_view mask);

// Standard base64 with CRLF every 76 characters (RFC 2045 6.8).
std::string Base64Lines(std::string_view bytes);

}  // namespace mailgate::testing

#endif  // MAILGATE_TESTS_SUPPORT_MAIL_CORPUS_H_
