#include "mime/html_text.h"

#include <array>
#include <cctype>
#include <cstdint>

namespace mailgate::mime {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

void AppendUtf8(std::string& out, std::uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

struct NamedEntity {
  std::string_view name;
  std::uint32_t cp;
};
constexpr std::array<NamedEntity, 16> kEntities = {{
    {"amp", '&'},
    {"lt", '<'},
    {"gt", '>'},
    {"quot", '"'},
    {"apos", '\''},
    {"nbsp", 0xA0},
    {"copy", 0xA9},
    {"reg", 0xAE},
    {"hellip", 0x2026},
    {"mdash", 0x2014},
    {"ndash", 0x2013},
    {"lsquo", 0x2018},
    {"rsquo", 0x2019},
    {"ldquo", 0x201C},
    {"rdquo", 0x201D},
    {"euro", 0x20AC},
}};

// Decodes the character reference starting at html[i] == '&'. Returns the
// number of bytes consumed, or 0 when it is not a reference we know.
std::size_t DecodeEntity(std::string_view html, std::size_t i, std::string& out) {
  const std::size_t semi = html.find(';', i + 1);
  if (semi == std::string_view::npos || semi - i > 32) return 0;
  std::string_view body = html.substr(i + 1, semi - i - 1);
  if (body.size() >= 2 && body[0] == '#') {
    std::uint32_t cp = 0;
    const bool hex = body[1] == 'x' || body[1] == 'X';
    std::string_view digits = body.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    for (char c : digits) {
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (hex && std::isxdigit(static_cast<unsigned char>(c))) {
        d = std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
      } else {
        return 0;
      }
      cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
      if (cp > 0x10FFFF) cp = 0x110000;  // stays invalid, no overflow
    }
    AppendUtf8(out, cp);
    return semi - i + 1;
  }
  for (const auto& e : kEntities) {
    if (body == e.name) {
      AppendUtf8(out, e.cp);
      return semi - i + 1;
    }
  }
  return 0;
}

bool IsBlockTag(std::string_view name) {
  static constexpr std::array<std::string_view, 17> kBlock = {
      "br", "p",  "div",   "tr", "li", "h1",         "h2", "h3", "h4",
      "h5", "h6", "table", "ul", "ol", "blockquote", "hr", "pre"};
  for (auto b : kBlock) {
    if (IEquals(name, b)) return true;
  }
  return false;
}

}  // namespace

std::string HtmlToText(std::string_view html) {
  std::string raw;  // text with entities decoded, before white space is collapsed
  raw.reserve(html.size());
  std::size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '<') {
      if (html.substr(i, 4) == "<!--") {
        const std::size_t end = html.find("-->", i + 4);
        i = end == std::string_view::npos ? html.size() : end + 3;
        continue;
      }
      std::size_t j = i + 1;
      const bool closing = j < html.size() && html[j] == '/';
      if (closing) ++j;
      std::size_t name_start = j;
      while (j < html.size() && std::isalnum(static_cast<unsigned char>(html[j]))) ++j;
      std::string_view name = html.substr(name_start, j - name_start);
      // Find the end of the tag, skipping quoted attribute values.
      char quote = 0;
      while (j < html.size()) {
        if (quote) {
          if (html[j] == quote) quote = 0;
        } else if (html[j] == '"' || html[j] == '\'') {
          quote = html[j];
        } else if (html[j] == '>') {
          break;
        }
        ++j;
      }
      i = j < html.size() ? j + 1 : html.size();
      if (!closing && (IEquals(name, "script") || IEquals(name, "style") || IEquals(name, "head") ||
                       IEquals(name, "title"))) {
        // Skip to the matching close tag; its content is not text.
        std::string close = "</";
        close += name;
        std::size_t k = i;
        for (; k + close.size() <= html.size(); ++k) {
          if (IEquals(html.substr(k, close.size()), close)) break;
        }
        const std::size_t gt = html.find('>', k);
        i = gt == std::string_view::npos ? html.size() : gt + 1;
        continue;
      }
      if (IsBlockTag(name)) raw += '\n';
      if (IEquals(name, "td") || IEquals(name, "th")) raw += ' ';
      continue;
    }
    if (c == '&') {
      if (std::size_t n = DecodeEntity(html, i, raw); n > 0) {
        i += n;
        continue;
      }
    }
    raw += c;
    ++i;
  }

  // Collapse white space: runs of blanks become one space, runs of line
  // breaks at most one empty line; trim each line.
  std::string out;
  out.reserve(raw.size());
  int newlines = 0;
  bool pending_space = false;
  for (std::size_t k = 0; k < raw.size(); ++k) {
    unsigned char ch = static_cast<unsigned char>(raw[k]);
    // U+00A0 (no-break space) counts as a blank.
    if (ch == 0xC2 && k + 1 < raw.size() && static_cast<unsigned char>(raw[k + 1]) == 0xA0) {
      pending_space = true;
      ++k;
      continue;
    }
    if (ch == '\n') {
      ++newlines;
      pending_space = false;
      continue;
    }
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v') {
      pending_space = true;
      continue;
    }
    if (!out.empty()) {
      if (newlines > 0) {
        out += newlines > 1 ? "\n\n" : "\n";
      } else if (pending_space) {
        out += ' ';
      }
    }
    newlines = 0;
    pending_space = false;
    out += static_cast<char>(ch);
  }
  return out;
}

std::string DecodeHtmlEntities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '&') {
      if (std::size_t n = DecodeEntity(text, i, out); n > 0) {
        i += n;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

}  // namespace mailgate::mime
