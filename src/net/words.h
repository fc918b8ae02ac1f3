// Splitting a protocol line into its words: what the POP3 and SMTP reply
// parsers share (CAPA lines, EHLO keywords, STAT/LIST/UIDL answers).
#ifndef MAILGATE_NET_WORDS_H_
#define MAILGATE_NET_WORDS_H_

#include <string>
#include <string_view>
#include <vector>

namespace mailgate::net {

// The words of `line`, separated by runs of spaces; no empty words. The
// results point into `line`, which must outlive them.
std::vector<std::string_view> SplitWords(std::string_view line);

// `s` with ASCII letters in upper case (keywords are case-insensitive,
// RFC 5321 §2.4, RFC 2449 §6); other bytes unchanged, whatever the locale.
std::string AsciiUpper(std::string_view s);

}  // namespace mailgate::net

#endif  // MAILGATE_NET_WORDS_H_
