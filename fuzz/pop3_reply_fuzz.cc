// POP3 replies on any bytes (scripts/fuzz pop3_reply): the bytes are cut into
// lines as the line engine cuts them (LF ends a line, a CR before it goes, a
// NUL ends the connection), the first line is a status line and the rest a
// multi-line answer. Checks, beyond "no crash under ASan":
//  - a status line that parses starts with +OK or -ERR and its text is the rest;
//  - CAPA, STAT, LIST and UIDL lines that parse print back to what parses the same;
//  - the body lines, dot-stuffed by the SMTP client's DataEncoder (what we send)
//    and unstuffed again by the POP3 parser (what we read), come back unchanged:
//    RFC 5321 §4.5.2 and RFC 1939 §3 transparency end to end.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "line_input.h"
#include "pop3/reply_parser.h"
#include "smtp/smtp_client.h"

namespace {

using namespace mailgate::pop3;

using mailgate::fuzz::Check;
using mailgate::fuzz::Lines;

void CheckNumbers(std::string_view line) {
  if (auto st = ParseStat(line); st.ok()) {
    auto again = ParseStat(std::to_string(st->count) + " " + std::to_string(st->octets));
    Check(again.ok() && again->count == st->count && again->octets == st->octets);
  }
  if (auto l = ParseListLine(line); l.ok()) {
    auto again = ParseListLine(std::to_string(l->number) + " " + std::to_string(l->octets));
    Check(again.ok() && again->number == l->number && again->octets == l->octets);
  }
  if (auto u = ParseUidlLine(line); u.ok()) {
    Check(!u->uid.empty() && u->uid.find(' ') == std::string::npos);
    auto again = ParseUidlLine(std::to_string(u->number) + " " + u->uid);
    Check(again.ok() && again->number == u->number && again->uid == u->uid);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> lines = Lines(in);
  if (lines.empty()) return 0;

  auto status = ParseStatusLine(lines[0]);
  if (status.ok()) {
    const std::string_view l = lines[0];
    const std::string_view tag = status->ok ? "+OK" : "-ERR";
    Check(l.substr(0, tag.size()) == tag);
    std::string_view rest = l.substr(tag.size());
    if (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
    Check(status->text == rest);
  } else {
    Check(status.status().message().size() < 250);
  }

  // The multi-line answer up to its terminator (or the end of the input).
  std::vector<std::string> body;
  Capabilities caps;
  bool terminated = false;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto l = UnstuffLine(lines[i]);
    if (!l) {
      terminated = true;
      break;
    }
    body.emplace_back(*l);
    ParseCapaLine(*l, caps);
    CheckNumbers(*l);
  }
  for (const std::string& mech : caps.sasl) {
    Check(!mech.empty() && mech.find(' ') == std::string::npos);
  }
  Check(caps.implementation.empty() || caps.implementation.front() != ' ');
  (void)terminated;

  // Round trip through the SMTP encoder. A bare CR inside a line is a line
  // break to the encoder, so only lines without one can come back as they were.
  for (const std::string& l : body) {
    if (l.find('\r') != std::string::npos) return 0;
  }
  std::string joined;
  for (const std::string& l : body) joined += l + "\r\n";
  mailgate::smtp::DataEncoder encoder;
  std::string wire;
  // In two chunks, split anywhere: the encoder carries its state across calls.
  const std::size_t cut = joined.empty() ? 0 : data[0] % (joined.size() + 1);
  encoder.Encode(std::string_view(joined).substr(0, cut), wire);
  encoder.Encode(std::string_view(joined).substr(cut), wire);
  encoder.Finish(wire);
  std::vector<std::string> back;
  bool ended = false;
  for (std::string_view l : Lines(wire)) {
    Check(!ended);  // nothing after the terminator
    const auto u = UnstuffLine(l);
    if (!u) {
      ended = true;
      continue;
    }
    back.emplace_back(*u);
  }
  Check(ended);
  Check(back == body);
  return 0;
}
