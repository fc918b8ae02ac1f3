#include "smtp/reply_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "net/words.h"

namespace mailgate::smtp {
namespace {

using net::AsciiUpper;
using net::SplitWords;

}  // namespace

std::string Reply::Text() const {
  std::string out;
  for (const std::string& l : lines) {
    if (!out.empty()) out += ' ';
    out += l;
  }
  return out;
}

StatusOr<bool> ReplyReader::Feed(std::string_view l) {
  if (reply_.lines.size() >= kMaxLines) {
    return Status::Protocol("the SMTP server sent a reply of more than 1000 lines");
  }
  int code = 0;
  const bool digits = l.size() >= 3 && std::all_of(l.begin(), l.begin() + 3,
                                                   [](char c) { return c >= '0' && c <= '9'; });
  if (digits) code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
  if (!digits || code < 200 || code > 599 || (l.size() > 3 && l[3] != ' ' && l[3] != '-')) {
    return Status::Protocol("the SMTP server sent \"" + std::string(l.substr(0, 80)) +
                            "\", which is not an SMTP reply; check that the port is an SMTP port");
  }
  if (!reply_.lines.empty() && code != reply_.code) {
    return Status::Protocol(
        "the SMTP server changed the reply code within a multi-line reply; the server is "
        "broken");
  }
  reply_.code = code;
  reply_.lines.emplace_back(l.size() > 4 ? l.substr(4) : std::string_view());
  if (reply_.lines.size() == 1) reply_.enhanced = EnhancedCode(reply_.lines.back());
  return l.size() <= 3 || l[3] == ' ';
}

std::string EnhancedCode(std::string_view text) {
  std::size_t i = 0;
  if (text.empty() || (text[0] != '2' && text[0] != '4' && text[0] != '5')) return "";
  i = 1;
  for (int part = 0; part < 2; ++part) {
    if (i >= text.size() || text[i] != '.') return "";
    ++i;
    const std::size_t start = i;
    while (i < text.size() && i - start < 3 && std::isdigit(static_cast<unsigned char>(text[i])))
      ++i;
    if (i == start) return "";
  }
  if (i < text.size() && text[i] != ' ') return "";
  return std::string(text.substr(0, i));
}

Extensions ParseEhlo(const Reply& reply) {
  Extensions ext;
  ext.esmtp = true;
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    std::vector<std::string_view> w = SplitWords(reply.lines[i]);
    if (w.empty()) continue;
    std::string key = AsciiUpper(w[0]);
    std::vector<std::string_view> args(w.begin() + 1, w.end());
    if (key.rfind("AUTH=", 0) == 0) {  // pre-RFC 4954 form, still sent by some servers
      args.insert(args.begin(), w[0].substr(5));
      key = "AUTH";
    }
    if (key == "PIPELINING") {
      ext.pipelining = true;
    } else if (key == "STARTTLS") {
      ext.starttls = true;
    } else if (key == "8BITMIME") {
      ext.eightbitmime = true;
    } else if (key == "SMTPUTF8") {
      ext.smtputf8 = true;
    } else if (key == "ENHANCEDSTATUSCODES") {
      ext.enhanced_status_codes = true;
    } else if (key == "CHUNKING") {
      ext.chunking = true;
    } else if (key == "SIZE") {
      std::uint64_t n = 0;
      if (!args.empty()) std::from_chars(args[0].data(), args[0].data() + args[0].size(), n);
      ext.size = n;
    } else if (key == "AUTH") {
      for (std::string_view a : args) {
        if (a.empty()) continue;  // "AUTH=" with nothing after it
        const std::string name = AsciiUpper(a);
        if (std::find(ext.auth.begin(), ext.auth.end(), name) == ext.auth.end())
          ext.auth.push_back(name);
      }
    }
  }
  return ext;
}

}  // namespace mailgate::smtp
