// Building outgoing messages (RFC 5322 + MIME) with GMime: Message-ID, Date,
// RFC 2047 encoded words for non-ASCII subjects and display names,
// In-Reply-To/References for replies, a UTF-8 text body (quoted-printable
// when it is not plain ASCII) and attachments (base64, RFC 2231 file names).
// GMime stays inside compose.cc; this header is cheap to include.
#ifndef MAILGATE_MIME_COMPOSE_H_
#define MAILGATE_MIME_COMPOSE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "mime/message.h"

namespace mailgate::mime {

struct DraftAttachment {
  std::string filename;      // UTF-8; written with RFC 2231 when not ASCII
  std::string content_type;  // "type/subtype"; empty: application/octet-stream
  std::string data;          // the bytes, exactly
};

struct Draft {
  Address from;
  std::vector<Address> to, cc;
  std::string subject;    // UTF-8
  std::string text_body;  // UTF-8; LF or CRLF line ends
  std::vector<DraftAttachment> attachments;
  // A reply: the parent's Message-ID and its References (oldest first), all
  // without angle brackets. References becomes parent's refs + parent.
  std::string in_reply_to;
  std::vector<std::string> references;
  int64_t date = 0;        // Unix seconds; 0: now
  std::string message_id;  // without <>; empty: NewMessageId for the From domain
};

struct Composed {
  std::string raw;         // CRLF line ends, ready for SMTP DATA
  std::string message_id;  // without <>
};

// kInvalidArgument when From or every recipient is missing, or an address
// is not an addr-spec.
StatusOr<Composed> Compose(const Draft& draft);

// "<32 hex digits>@<domain>" without brackets; `random`: uniform 32-bit
// values (empty: libsodium's CSPRNG).
std::string NewMessageId(std::string_view domain,
                         const std::function<std::uint32_t()>& random = {});

// One address as users type it: "a@b.example" or "Name <a@b.example>"
// (RFC 2047 words decoded). kInvalidArgument otherwise.
StatusOr<Address> ParseAddress(std::string_view text);

// "Re: <subject>" unless it already starts with "Re:" (any case).
std::string ReplySubject(std::string_view subject);

}  // namespace mailgate::mime

#endif  // MAILGATE_MIME_COMPOSE_H_
