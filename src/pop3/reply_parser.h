// The pure half of the POP3 client: what the server's lines mean, with no I/O
// (RFC 1939, CAPA RFC 2449). The client reads lines from the line engine and
// hands them here; the fuzz target (fuzz/pop3_reply_fuzz.cc) does the same
// with arbitrary bytes.
#ifndef MAILGATE_POP3_REPLY_PARSER_H_
#define MAILGATE_POP3_REPLY_PARSER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailgate::pop3 {

// What CAPA announced (RFC 2449 §6). capa_ok is false when the server does not
// know CAPA; the other fields are then unknown, not "absent".
struct Capabilities {
  bool capa_ok = false;
  bool stls = false;
  bool pipelining = false;
  bool user = false;
  bool uidl = false;
  bool top = false;
  std::vector<std::string> sasl;  // SASL mechanism names
  std::string implementation;
};

struct MailboxStat {
  std::uint64_t count = 0;
  std::uint64_t octets = 0;
};

struct ListEntry {
  std::uint64_t number = 0;
  std::uint64_t octets = 0;
};

struct UidlEntry {
  std::uint64_t number = 0;
  std::string uid;
};

// A status line: "+OK text" or "-ERR text" (RFC 1939 §3).
struct StatusLine {
  bool ok = false;
  std::string text;  // after "+OK" / "-ERR", one leading space removed
};

// `line` is one line without its CRLF. Status::Protocol when it is neither
// +OK nor -ERR (the message quotes at most 80 bytes of it).
StatusOr<StatusLine> ParseStatusLine(std::string_view line);

// One line of a multi-line answer (RFC 1939 §3): nullopt for the terminating
// ".", otherwise the line with its byte-stuffing removed. The result points
// into `line`.
std::optional<std::string_view> UnstuffLine(std::string_view line);

// Adds what one line of a CAPA answer announces to `caps`.
void ParseCapaLine(std::string_view line, Capabilities& caps);

// The text of "+OK count octets" (RFC 1939 §5 STAT). Status::Protocol when malformed.
StatusOr<MailboxStat> ParseStat(std::string_view text);
// One line of a LIST / UIDL answer ("number octets", "number uid").
StatusOr<ListEntry> ParseListLine(std::string_view line);
StatusOr<UidlEntry> ParseUidlLine(std::string_view line);

}  // namespace mailgate::pop3

#endif  // MAILGATE_POP3_REPLY_PARSER_H_
