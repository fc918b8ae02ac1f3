// The IMAP response parser on any bytes (scripts/fuzz imap_parser). Checks,
// beyond "no crash under ASan": feeding the input in two pieces gives the
// same responses and the same error as feeding it whole.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "imap/parser.h"

namespace {

class DiscardSink : public mailgate::imap::LiteralSink {
 public:
  mailgate::Status BeginLiteral(uint64_t, std::string_view, uint64_t) override { return {}; }
  mailgate::Status LiteralChunk(std::string_view) override { return {}; }
  mailgate::Status EndLiteral() override { return {}; }
};

struct Outcome {
  std::vector<std::string> traces;
  mailgate::imap::Parser::ErrorCode error = mailgate::imap::Parser::ErrorCode::kNone;
};

Outcome Run(std::string_view in, std::size_t split) {
  mailgate::imap::ParserLimits limits;
  limits.max_line = 4096;
  limits.max_depth = 16;
  limits.max_inline_literal = 4096;
  limits.max_message_literal = 1 << 20;
  limits.max_response = 1 << 16;
  mailgate::imap::Parser p(limits);
  DiscardSink sink;
  p.set_literal_sink(&sink);
  Outcome out;
  for (std::string_view piece : {in.substr(0, split), in.substr(split)}) {
    while (!piece.empty()) {
      std::size_t used = 0;
      const auto r = p.Feed(piece, &used);
      if (r == mailgate::imap::Parser::Result::kError) {
        out.error = p.error_code();
        return out;
      }
      if (r == mailgate::imap::Parser::Result::kResponse)
        out.traces.push_back(p.TakeResponse().trace);
      piece.remove_prefix(used);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Outcome whole = Run(in, size);
  const Outcome split = Run(in, size / 2);
  if (whole.traces != split.traces || whole.error != split.error) std::abort();
  return 0;
}
