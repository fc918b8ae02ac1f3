// Modified UTF-7 for IMAP mailbox names (RFC 3501 §5.1.3; RFC 9051 §5.1.3 keeps it for
// servers without UTF8=ACCEPT). Mailgate holds names as UTF-8 and converts at the wire.
#ifndef MAILGATE_IMAP_MUTF7_H_
#define MAILGATE_IMAP_MUTF7_H_

#include <string>
#include <string_view>

#include "base/status.h"

namespace mailgate::imap {

// UTF-8 -> modified UTF-7. Status::InvalidArgument for invalid UTF-8.
StatusOr<std::string> EncodeMailboxName(std::string_view utf8);

// Modified UTF-7 -> UTF-8. Status::Protocol for a name the server should not have sent
// (unterminated "&", bad base64, an unpaired surrogate, non-zero padding bits, or
// encoded printable ASCII).
StatusOr<std::string> DecodeMailboxName(std::string_view mutf7);

}  // namespace mailgate::imap

#endif  // MAILGATE_IMAP_MUTF7_H_
