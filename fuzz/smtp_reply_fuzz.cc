// SMTP replies on any bytes (scripts/fuzz smtp_reply): the bytes are cut into
// lines as the line engine cuts them and fed to the reply reader, reply after
// reply, until one is malformed. Checks, beyond "no crash under ASan":
//  - every reply has a code from 200 to 599 and 1 to 1000 lines, and its
//    enhanced code is the one at the start of its first line, or none;
//  - a reply printed back as "NNN-text" ... "NNN text" reads back identical;
//  - what EHLO announces has each SASL mechanism once, upper case, non-empty.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "line_input.h"
#include "smtp/reply_parser.h"

namespace {

using namespace mailgate::smtp;

using mailgate::fuzz::Check;
using mailgate::fuzz::Lines;

void CheckReply(const Reply& r) {
  Check(r.code >= 200 && r.code <= 599);
  Check(!r.lines.empty() && r.lines.size() <= ReplyReader::kMaxLines);
  Check(r.enhanced == EnhancedCode(r.lines[0]));
  if (!r.enhanced.empty()) {
    Check(r.lines[0].compare(0, r.enhanced.size(), r.enhanced) == 0);
    Check(r.enhanced.size() >= 5 && r.enhanced.size() <= 9);
  }

  ReplyReader again;
  for (std::size_t i = 0; i < r.lines.size(); ++i) {
    const bool last = i + 1 == r.lines.size();
    const std::string line = std::to_string(r.code) + (last ? " " : "-") + r.lines[i];
    auto done = again.Feed(line);
    Check(done.ok() && *done == last);
  }
  Check(again.reply().code == r.code && again.reply().lines == r.lines &&
        again.reply().enhanced == r.enhanced);

  const Extensions ext = ParseEhlo(r);
  for (std::size_t i = 0; i < ext.auth.size(); ++i) {
    Check(!ext.auth[i].empty());
    for (char c : ext.auth[i]) {
      const auto u = static_cast<unsigned char>(c);
      Check(u != ' ' && std::toupper(u) == u);
    }
    for (std::size_t j = i + 1; j < ext.auth.size(); ++j) Check(ext.auth[i] != ext.auth[j]);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  ReplyReader reader;
  for (std::string_view line : Lines(in)) {
    auto done = reader.Feed(line);
    if (!done.ok()) {
      Check(done.status().message().size() < 250);
      return 0;
    }
    if (*done) {
      CheckReply(reader.reply());
      reader.Reset();
    }
  }
  return 0;
}
