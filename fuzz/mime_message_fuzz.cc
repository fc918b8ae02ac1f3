// Any bytes: ParseMessage returns a message or an error, never crashes, and
// what it returns is valid UTF-8 where it promises UTF-8.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mime/html_text.h"
#include "mime/message.h"

namespace {

bool ValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  auto parsed = mailgate::mime::ParseMessage(raw);
  if (!parsed.ok()) return 0;
  if (!ValidUtf8(parsed->subject) || !ValidUtf8(parsed->text_body) ||
      !ValidUtf8(parsed->html_body)) {
    std::abort();
  }
  for (const auto& a : parsed->attachments) {
    if (!ValidUtf8(a.filename)) std::abort();
  }
  (void)mailgate::mime::HtmlToText(raw);
  return 0;
}
