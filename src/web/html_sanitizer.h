// Makes the HTML body of a received message safe to show in the console.
//
// Allow-list based: only known-harmless elements and attributes survive;
// everything else is dropped (dangerous containers such as <script> with
// their content) or unwrapped (unknown elements keep their text). Text and
// attribute values are re-escaped on output, so the result is well-formed
// even when the input is not. The console additionally shows the result in
// a sandboxed iframe under a Content-Security-Policy without scripts: this
// is the first of two walls, not the only one.
#ifndef MAILGATE_WEB_HTML_SANITIZER_H_
#define MAILGATE_WEB_HTML_SANITIZER_H_

#include <functional>
#include <string>
#include <string_view>

namespace mailgate::web {

struct SanitizeOptions {
  // Remote images (http/https) are blocked unless the reader asked for them;
  // a blocked image keeps its alt text.
  bool allow_remote_images = false;
  // Maps "cid:" references (inline images) to a URL the console serves; an
  // empty result drops the image.
  std::function<std::string(std::string_view content_id)> resolve_cid;
};

struct SanitizeResult {
  std::string html;
  int blocked_remote_images = 0;  // so the page can offer "show images"
};

SanitizeResult SanitizeHtml(std::string_view html, const SanitizeOptions& options = {});

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_HTML_SANITIZER_H_
