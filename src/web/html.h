// HTML building helpers. Everything that comes from mail, configuration or
// the user passes through EscapeHtml before it reaches a page.
#ifndef MAILGATE_WEB_HTML_H_
#define MAILGATE_WEB_HTML_H_

#include <string>
#include <string_view>

namespace mailgate::web {

// Escapes & < > " ' so the text is inert in element content and in quoted
// attribute values.
std::string EscapeHtml(std::string_view text);

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_HTML_H_
