// A received message, parsed: what the inbound processor needs to thread it
// into a conversation and show it. Produced by ParseMessage (GMime inside;
// this header stays free of glib so it is cheap to include).
#ifndef MAILGATE_MIME_MESSAGE_H_
#define MAILGATE_MIME_MESSAGE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailgate::mime {

struct Address {
  std::string name;   // display name, decoded to UTF-8; may be empty
  std::string email;  // addr-spec as written (case kept)
};

struct Attachment {
  std::string filename;      // decoded (RFC 2231 / RFC 2047) UTF-8; may be empty
  std::string content_type;  // lowercase "type/subtype"
  std::string content_id;    // without angle brackets; set for parts referenced by cid:
  bool is_inline = false;    // Content-Disposition: inline (or an inline cid: image)
  std::string data;          // decoded bytes, exactly as sent
  std::string sha256;        // hex SHA-256 of data: attachments are stored once by it
};

// One recipient block of a delivery status notification (RFC 3464).
struct DsnRecipient {
  std::string address;     // Final-Recipient (or Original-Recipient) address
  std::string action;      // failed, delayed, delivered, relayed, expanded
  std::string status;      // "5.1.1"
  std::string diagnostic;  // Diagnostic-Code text
};

struct ParsedMessage {
  std::string message_id;                // without angle brackets
  bool message_id_generated = false;     // absent in the message: derived from its SHA-256
  std::vector<std::string> in_reply_to;  // message ids, without angle brackets
  std::vector<std::string> references;   // oldest first, as in the header
  std::string subject;                   // decoded UTF-8
  std::vector<Address> from, sender, reply_to, to, cc;
  std::string return_path;      // envelope sender from Return-Path, without <>
  std::int64_t date = 0;        // seconds since the epoch
  bool date_generated = false;  // absent or unparseable: ParseOptions::fallback_date

  std::string text_body;        // UTF-8
  std::string html_body;        // UTF-8, NOT sanitised: render only after sanitising
  bool text_from_html = false;  // text_body was derived from html_body
  std::vector<Attachment> attachments;

  // Auto-Submitted (other than "no"), X-Autoreply, X-Autorespond, Precedence
  // bulk/junk/auto_reply/list: never answer these automatically.
  bool auto_submitted = false;
  std::string auto_submitted_reason;  // the header that said so

  // multipart/report; report-type=delivery-status.
  bool is_dsn = false;
  std::vector<DsnRecipient> dsn_recipients;
  std::string dsn_original_message_id;  // of the bounced message, when included

  // Things that were wrong but did not stop parsing (an unknown charset,
  // invalid bytes replaced), for the processing log.
  std::vector<std::string> warnings;
};

struct ParseOptions {
  // Used when the message has no usable Date header (e.g. the server's
  // INTERNALDATE or the download time).
  std::int64_t fallback_date = 0;
  // Hex SHA-256 of the whole message when the caller knows it already (the
  // spool computed it while downloading). Empty: computed here, and only if
  // the message has no Message-ID (the generated one derives from it).
  std::string raw_sha256;
};

// Parses a whole RFC 5322 message. Fails (Status::InvalidArgument, with the
// reason) only when the input is not a message at all; the caller quarantines
// such input. Everything else is repaired and reported in `warnings`.
StatusOr<ParsedMessage> ParseMessage(std::string_view raw, const ParseOptions& options = {});

// Same, reading the file at `path` (a spool file).
StatusOr<ParsedMessage> ParseMessageFile(const std::string& path, const ParseOptions& options = {});

}  // namespace mailgate::mime

#endif  // MAILGATE_MIME_MESSAGE_H_
