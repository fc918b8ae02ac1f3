// Any bytes: every tag in the sanitizer's output has the strict shape it
// emits (<name attr="value"...>, values escaped), no attribute is an event
// handler, no URL runs script, no script-capable element survives, and
// sanitising the output again changes nothing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "web/html_sanitizer.h"

namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == ':';
}

void CheckTags(std::string_view out) {
  for (std::size_t p = out.find('<'); p != std::string_view::npos; p = out.find('<', p + 1)) {
    std::size_t i = p + 1;
    if (i < out.size() && out[i] == '/') ++i;
    const std::size_t n0 = i;
    while (i < out.size() && IsNameChar(out[i])) ++i;
    const std::string_view name = out.substr(n0, i - n0);
    if (name.empty()) std::abort();  // a raw '<' in text would have been escaped
    if (name == "script" || name == "iframe" || name == "object" || name == "style" ||
        name == "svg" || name == "math" || name == "form" || name == "base" || name == "meta") {
      std::abort();
    }
    while (i < out.size() && out[i] == ' ') {
      ++i;
      const std::size_t a0 = i;
      while (i < out.size() && IsNameChar(out[i])) ++i;
      const std::string_view attr = out.substr(a0, i - a0);
      if (attr.empty() || attr.starts_with("on")) std::abort();
      if (i + 1 >= out.size() || out[i] != '=' || out[i + 1] != '"') std::abort();
      i += 2;
      const std::size_t v0 = i;
      while (i < out.size() && out[i] != '"') {
        if (out[i] == '<' || out[i] == '>') std::abort();  // must be escaped
        ++i;
      }
      const std::string_view value = out.substr(v0, i - v0);
      if ((attr == "href" || attr == "src") &&
          !(value.starts_with("http://") || value.starts_with("https://") ||
            value.starts_with("mailto:") || value.starts_with("data:image/") ||
            value.starts_with("HTTP") || value.starts_with("Http") || value.starts_with("MAILTO") ||
            value.starts_with("Mailto"))) {
        // Scheme letters may be in any case; anything else is suspect.
        std::string lower(value.substr(0, 8));
        for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        if (!(lower.starts_with("http://") || lower.starts_with("https://") ||
              lower.starts_with("mailto:") || lower.starts_with("data:ima"))) {
          std::abort();
        }
      }
      ++i;  // closing quote
    }
    if (i >= out.size() || out[i] != '>') std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view html(reinterpret_cast<const char*>(data), size);
  const std::string once = mailgate::web::SanitizeHtml(html).html;
  CheckTags(once);
  if (mailgate::web::SanitizeHtml(once).html != once) std::abort();
  return 0;
}
