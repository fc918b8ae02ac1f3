// Plain text from HTML, for messages that have no text part and for search.
#ifndef MAILGATE_MIME_HTML_TEXT_H_
#define MAILGATE_MIME_HTML_TEXT_H_

#include <string>
#include <string_view>

namespace mailgate::mime {

// Drops tags, comments and the contents of <script>, <style> and <head>;
// turns block elements and <br> into line breaks; decodes character
// references to UTF-8; collapses runs of white space. Not a sanitiser: the
// result is plain text and must still be escaped when put in HTML.
std::string HtmlToText(std::string_view html);

// Decodes character references (&amp; &#233; &#xE9; and the common named
// ones) to UTF-8; unknown references are kept as written.
std::string DecodeHtmlEntities(std::string_view text);

}  // namespace mailgate::mime

#endif  // MAILGATE_MIME_HTML_TEXT_H_
