#include "pop3/reply_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "net/words.h"

namespace mailgate::pop3 {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

using net::AsciiUpper;
using net::SplitWords;

bool ParseNumber(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

StatusOr<StatusLine> ParseStatusLine(std::string_view line) {
  StatusLine r;
  if (StartsWith(line, "+OK")) {
    r.ok = true;
    r.text = line.substr(3);
  } else if (StartsWith(line, "-ERR")) {
    r.text = line.substr(4);
  } else {
    return Status::Protocol("the POP3 server sent \"" + std::string(line.substr(0, 80)) +
                            "\" where +OK or -ERR was due; check that the port is a POP3 port");
  }
  if (!r.text.empty() && r.text[0] == ' ') r.text.erase(0, 1);
  return r;
}

std::optional<std::string_view> UnstuffLine(std::string_view line) {
  if (line == ".") return std::nullopt;
  if (!line.empty() && line[0] == '.') line.remove_prefix(1);  // RFC 1939 §3 byte-stuffing
  return line;
}

void ParseCapaLine(std::string_view line, Capabilities& caps) {
  std::vector<std::string_view> w = SplitWords(line);
  if (w.empty()) return;
  const std::string tag = AsciiUpper(w[0]);
  if (tag == "STLS") {
    caps.stls = true;
  } else if (tag == "PIPELINING") {
    caps.pipelining = true;
  } else if (tag == "USER") {
    caps.user = true;
  } else if (tag == "UIDL") {
    caps.uidl = true;
  } else if (tag == "TOP") {
    caps.top = true;
  } else if (tag == "SASL") {
    for (std::size_t i = 1; i < w.size(); ++i) caps.sasl.emplace_back(w[i]);
  } else if (tag == "IMPLEMENTATION") {
    // The words after the tag, as the server wrote them (w[0] may follow spaces).
    const std::size_t after = static_cast<std::size_t>(w[0].data() - line.data()) + w[0].size();
    std::string_view rest = line.substr(after);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    caps.implementation = std::string(rest);
  }
}

StatusOr<MailboxStat> ParseStat(std::string_view text) {
  std::vector<std::string_view> w = SplitWords(text);
  MailboxStat st;
  if (w.size() < 2 || !ParseNumber(w[0], st.count) || !ParseNumber(w[1], st.octets)) {
    return Status::Protocol("the POP3 server sent a malformed STAT answer \"" +
                            std::string(text.substr(0, 300)) + "\"; the server is broken");
  }
  return st;
}

StatusOr<ListEntry> ParseListLine(std::string_view line) {
  std::vector<std::string_view> w = SplitWords(line);
  ListEntry e;
  if (w.size() < 2 || !ParseNumber(w[0], e.number) || !ParseNumber(w[1], e.octets))
    return Status::Protocol("malformed LIST line from the POP3 server");
  return e;
}

StatusOr<UidlEntry> ParseUidlLine(std::string_view line) {
  std::vector<std::string_view> w = SplitWords(line);
  UidlEntry e;
  if (w.size() < 2 || !ParseNumber(w[0], e.number))
    return Status::Protocol("malformed UIDL line from the POP3 server");
  e.uid = std::string(w[1]);
  return e;
}

}  // namespace mailgate::pop3
