// The pure half of the SMTP client: replies (RFC 5321 §4.2, multi-line
// "NNN-text" ... "NNN text"), enhanced status codes (RFC 3463) and what EHLO
// announces, with no I/O. The client reads lines from the line engine and
// feeds them here; the fuzz target (fuzz/smtp_reply_fuzz.cc) does the same
// with arbitrary bytes.
#ifndef MAILGATE_SMTP_REPLY_PARSER_H_
#define MAILGATE_SMTP_REPLY_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailgate::smtp {

// One (possibly multi-line) reply.
struct Reply {
  int code = 0;
  std::string enhanced;            // "5.7.139" when the reply carries one, else ""
  std::vector<std::string> lines;  // text of each line, after "NNN-" / "NNN "
  // The text of all lines joined by a space, for messages.
  std::string Text() const;
  bool positive() const { return code >= 200 && code < 400; }
};

// What EHLO announced.
struct Extensions {
  bool esmtp = false;  // EHLO was accepted (false: HELO fallback)
  bool pipelining = false;
  bool starttls = false;
  bool eightbitmime = false;
  bool smtputf8 = false;
  bool enhanced_status_codes = false;
  bool chunking = false;
  std::optional<std::uint64_t> size;  // SIZE limit; 0 means "no fixed limit"
  std::vector<std::string> auth;      // SASL mechanism names, upper case, each once
};

// Assembles one reply from its lines. Feed() each line (without CRLF) until
// it returns true; then take() the reply and, for the next one, start a new
// ReplyReader (or call Reset()).
class ReplyReader {
 public:
  // At most this many lines per reply; more is Status::Protocol.
  static constexpr std::size_t kMaxLines = 1000;

  // true when `line` ended the reply. Errors (Status::Protocol, the message
  // quoting at most 80 bytes): not a reply line ("NNN", "NNN text",
  // "NNN-text", NNN from 200 to 599), a code that changes within a
  // multi-line reply, more than kMaxLines lines.
  StatusOr<bool> Feed(std::string_view line);
  Reply& reply() { return reply_; }
  void Reset() { reply_ = Reply(); }

 private:
  Reply reply_;
};

// The enhanced status code at the start of `text` ("5.7.139" of
// "5.7.139 Authentication unsuccessful"): class "." subject "." detail, class
// 2, 4 or 5, subject and detail of 1 to 3 digits, followed by a space or the
// end. "" when there is none.
std::string EnhancedCode(std::string_view text);

// What a positive EHLO reply announces (esmtp is set; lines after the first).
Extensions ParseEhlo(const Reply& reply);

}  // namespace mailgate::smtp

#endif  // MAILGATE_SMTP_REPLY_PARSER_H_
