#include "imap/mutf7.h"

#include <cstdint>
#include <vector>

namespace mailgate::imap {
namespace {

// RFC 3501 §5.1.3: base64 with "," in place of "/", no padding.
constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int B64Value(char c) {
  const auto pos = kB64.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

bool IsDirect(char32_t c) {
  return c >= 0x20 && c <= 0x7e;
}

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Decodes one UTF-8 code point at s[i], advancing i; false on invalid UTF-8 (overlong
// forms, surrogates and values over U+10FFFF included).
bool NextCodePoint(std::string_view s, std::size_t& i, char32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  int len = 0;
  char32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  } else if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    cp = b0 & 0x1f;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    cp = b0 & 0x0f;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    return false;
  }
  if (i + len > s.size()) return false;
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  i += len;
  return true;
}

void FlushBase64(std::string& out, const std::vector<uint16_t>& units) {
  uint32_t bits = 0;
  int nbits = 0;
  out += '&';
  for (uint16_t u : units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out += kB64[(bits >> nbits) & 0x3f];
    }
  }
  if (nbits > 0) out += kB64[(bits << (6 - nbits)) & 0x3f];
  out += '-';
}

}  // namespace

StatusOr<std::string> EncodeMailboxName(std::string_view utf8) {
  std::string out;
  std::vector<uint16_t> pending;
  std::size_t i = 0;
  while (i < utf8.size()) {
    char32_t cp = 0;
    if (!NextCodePoint(utf8, i, cp)) {
      return Status::InvalidArgument(
          "the mailbox name is not valid UTF-8; write the folder name in UTF-8");
    }
    if (IsDirect(cp)) {
      if (!pending.empty()) {
        FlushBase64(out, pending);
        pending.clear();
      }
      out += static_cast<char>(cp);
      if (cp == '&') out += '-';
      continue;
    }
    if (cp >= 0x10000) {
      const char32_t v = cp - 0x10000;
      pending.push_back(static_cast<uint16_t>(0xd800 + (v >> 10)));
      pending.push_back(static_cast<uint16_t>(0xdc00 + (v & 0x3ff)));
    } else {
      pending.push_back(static_cast<uint16_t>(cp));
    }
  }
  if (!pending.empty()) FlushBase64(out, pending);
  return out;
}

StatusOr<std::string> DecodeMailboxName(std::string_view in) {
  auto bad = [&](std::string_view why) {
    return Status::Protocol("the server sent a mailbox name that is not valid modified UTF-7 (" +
                            std::string(why) + "); rename the folder on the server");
  };
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    if (c != '&') {
      if (!IsDirect(static_cast<unsigned char>(c))) return bad("a raw 8-bit or control character");
      out += c;
      ++i;
      continue;
    }
    const auto end = in.find('-', i + 1);
    if (end == std::string_view::npos) return bad("an unterminated '&'");
    if (end == i + 1) {  // "&-" is "&"
      out += '&';
      i = end + 1;
      continue;
    }
    uint32_t bits = 0;
    int nbits = 0;
    char16_t high = 0;
    for (std::size_t k = i + 1; k < end; ++k) {
      const int v = B64Value(in[k]);
      if (v < 0) return bad("a character outside the base64 alphabet");
      bits = (bits << 6) | static_cast<uint32_t>(v);
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        const auto u = static_cast<char16_t>((bits >> nbits) & 0xffff);
        bits &= (1u << nbits) - 1;
        if (high != 0) {
          if (u < 0xdc00 || u > 0xdfff) return bad("an unpaired surrogate");
          AppendUtf8(out, 0x10000 + ((static_cast<char32_t>(high) - 0xd800) << 10) + (u - 0xdc00));
          high = 0;
        } else if (u >= 0xd800 && u <= 0xdbff) {
          high = u;
        } else if (u >= 0xdc00 && u <= 0xdfff) {
          return bad("an unpaired surrogate");
        } else if (IsDirect(u)) {
          return bad("printable ASCII encoded in base64");
        } else {
          AppendUtf8(out, u);
        }
      }
    }
    if (high != 0) return bad("an unpaired surrogate");
    if (nbits >= 6 || bits != 0) return bad("leftover base64 bits");
    i = end + 1;
  }
  return out;
}

}  // namespace mailgate::imap
