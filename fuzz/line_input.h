// What the protocol reply fuzz targets share: the fuzz input cut into lines
// as the line engine (net/connection.h) cuts them, and the check that aborts
// (so libFuzzer and the corpus replay report the input).
#ifndef MAILGATE_FUZZ_LINE_INPUT_H_
#define MAILGATE_FUZZ_LINE_INPUT_H_

#include <cstddef>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace mailgate::fuzz {

inline void Check(bool ok) {
  if (!ok) std::abort();
}

// LF ends a line and a CR before it goes; a NUL ends the connection, and so
// does the end of the input: a last line without LF was never finished.
inline std::vector<std::string_view> Lines(std::string_view in) {
  std::vector<std::string_view> out;
  while (!in.empty()) {
    const std::size_t nul = in.find('\0');
    const std::size_t nl = in.find('\n');
    if (nul != std::string_view::npos && (nl == std::string_view::npos || nul < nl)) break;
    if (nl == std::string_view::npos) break;
    std::string_view line = in.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    in.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace mailgate::fuzz

#endif  // MAILGATE_FUZZ_LINE_INPUT_H_
