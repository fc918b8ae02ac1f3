#include "web/html_sanitizer.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "mime/html_text.h"
#include "web/html.h"

namespace mailgate::web {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

template <std::size_t N>
bool In(const std::array<std::string_view, N>& set, std::string_view v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

// Elements kept (with allowed attributes).
constexpr std::array<std::string_view, 48> kAllowedElements = {
    "a",    "abbr",    "address", "b",    "bdi",  "bdo",   "big",      "blockquote",
    "br",   "caption", "center",  "cite", "code", "col",   "colgroup", "dd",
    "del",  "div",     "dl",      "dt",   "em",   "font",  "h1",       "h2",
    "h3",   "h4",      "h5",      "h6",   "hr",   "i",     "img",      "ins",
    "kbd",  "li",      "ol",      "p",    "pre",  "q",     "s",        "small",
    "span", "strike",  "strong",  "sub",  "sup",  "table", "tbody",    "td"};
constexpr std::array<std::string_view, 7> kMoreAllowedElements = {"tfoot", "th", "thead", "tr",
                                                                  "tt",    "u",  "ul"};

// Elements dropped together with everything inside them.
// (Void elements such as <embed> or <input> are simply not allowed: they
// have no content to drop.)
constexpr std::array<std::string_view, 17> kDropWithContent = {
    "script", "style", "iframe",   "object", "applet", "noscript", "template", "title", "head",
    "svg",    "math",  "textarea", "select", "button", "frameset", "noembed",  "xmp"};

// Elements whose content is raw text to a browser (no tags inside): skipped
// up to their end tag without tokenising, as a browser would.
constexpr std::array<std::string_view, 9> kRawText = {
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript"};

constexpr std::array<std::string_view, 5> kVoidElements = {"br", "hr", "img", "col", "wbr"};

constexpr std::array<std::string_view, 22> kAllowedAttributes = {
    "align",       "valign",  "width",   "height", "colspan", "rowspan", "border", "cellpadding",
    "cellspacing", "bgcolor", "color",   "dir",    "lang",    "title",   "alt",    "face",
    "size",        "start",   "summary", "nowrap", "span",    "abbr"};

bool IsAllowedElement(std::string_view name) {
  return In(kAllowedElements, name) || In(kMoreAllowedElements, name);
}

// Removes characters a browser ignores inside a URL scheme (controls and
// white space), so "java\tscript:" is judged as what the browser would see.
std::string NormalisedUrl(std::string_view decoded) {
  std::string out;
  for (char c : decoded) {
    if (static_cast<unsigned char>(c) <= 0x20) continue;
    out += c;
  }
  return out;
}

bool StartsWithI(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && Lower(s.substr(0, prefix.size())) == prefix;
}

// Inline CSS is kept only when it cannot load anything or run anything.
bool SafeStyle(std::string_view css) {
  const std::string l = Lower(css);
  for (std::string_view bad : {"url(", "expression", "@import", "javascript", "vbscript",
                               "behavior", "-moz-binding", "\\", "<", "image-set", "src("}) {
    if (l.find(bad) != std::string::npos) return false;
  }
  return true;
}

struct Attribute {
  std::string name;   // lowercase
  std::string value;  // entities decoded
};

class Sanitizer {
 public:
  Sanitizer(std::string_view in, const SanitizeOptions& opts) : in_(in), opts_(opts) {}

  SanitizeResult Run() {
    while (pos_ < in_.size()) {
      if (in_[pos_] == '<' && TryMarkup()) continue;
      // Text up to the next '<'.
      std::size_t next = in_.find('<', pos_ + 1);
      if (next == std::string_view::npos) next = in_.size();
      if (drop_depth_ == 0)
        out_.html += EscapeHtml(mime::DecodeHtmlEntities(in_.substr(pos_, next - pos_)));
      pos_ = next;
    }
    while (!open_.empty()) {
      out_.html += "</" + open_.back() + ">";
      open_.pop_back();
    }
    return std::move(out_);
  }

 private:
  // Consumes markup at pos_ ('<'); returns false when it is not markup (then
  // the '<' is text).
  bool TryMarkup() {
    std::string_view rest = in_.substr(pos_);
    if (rest.starts_with("<!--")) {
      std::size_t end = in_.find("-->", pos_ + 4);
      pos_ = end == std::string_view::npos ? in_.size() : end + 3;
      return true;
    }
    if (rest.starts_with("<!") || rest.starts_with("<?")) {  // doctype, CDATA, PI
      std::size_t end = in_.find('>', pos_);
      pos_ = end == std::string_view::npos ? in_.size() : end + 1;
      return true;
    }
    std::size_t p = pos_ + 1;
    const bool closing = p < in_.size() && in_[p] == '/';
    if (closing) ++p;
    if (p >= in_.size() || !std::isalpha(static_cast<unsigned char>(in_[p]))) return false;
    std::size_t name_start = p;
    while (p < in_.size() &&
           (std::isalnum(static_cast<unsigned char>(in_[p])) || in_[p] == ':' || in_[p] == '-'))
      ++p;
    const std::string name = Lower(in_.substr(name_start, p - name_start));
    std::vector<Attribute> attrs;
    p = ParseAttributes(p, attrs);
    pos_ = p;
    if (closing) {
      CloseTag(name);
    } else {
      OpenTag(name, attrs);
    }
    return true;
  }

  // Parses attributes up to and including '>'; returns the position after.
  std::size_t ParseAttributes(std::size_t p, std::vector<Attribute>& attrs) {
    for (;;) {
      while (p < in_.size() && (std::isspace(static_cast<unsigned char>(in_[p])) || in_[p] == '/'))
        ++p;
      if (p >= in_.size()) return p;
      if (in_[p] == '>') return p + 1;
      std::size_t n0 = p;
      while (p < in_.size() && !std::isspace(static_cast<unsigned char>(in_[p])) && in_[p] != '>' &&
             in_[p] != '=' && in_[p] != '/') {
        ++p;
      }
      if (p == n0) ++p;  // a lone '=': skip it
      Attribute a{Lower(in_.substr(n0, p - n0)), {}};
      while (p < in_.size() && std::isspace(static_cast<unsigned char>(in_[p]))) ++p;
      if (p < in_.size() && in_[p] == '=') {
        ++p;
        while (p < in_.size() && std::isspace(static_cast<unsigned char>(in_[p]))) ++p;
        std::size_t v0, v1;
        if (p < in_.size() && (in_[p] == '"' || in_[p] == '\'')) {
          const char q = in_[p++];
          v0 = p;
          while (p < in_.size() && in_[p] != q) ++p;
          v1 = p;
          if (p < in_.size()) ++p;
        } else {
          v0 = p;
          while (p < in_.size() && !std::isspace(static_cast<unsigned char>(in_[p])) &&
                 in_[p] != '>')
            ++p;
          v1 = p;
        }
        a.value = mime::DecodeHtmlEntities(in_.substr(v0, v1 - v0));
      }
      if (!a.name.empty()) attrs.push_back(std::move(a));
    }
  }

  void SkipRawText(const std::string& name) {
    const std::string end = "</" + name;
    std::size_t p = pos_;
    while (p + end.size() <= in_.size() && Lower(in_.substr(p, end.size())) != end) ++p;
    const std::size_t gt = in_.find('>', p);
    pos_ = p + end.size() > in_.size() || gt == std::string_view::npos ? in_.size() : gt + 1;
  }

  void OpenTag(const std::string& name, const std::vector<Attribute>& attrs) {
    if (In(kRawText, name)) {
      SkipRawText(name);
      return;
    }
    if (In(kDropWithContent, name)) {
      if (!In(kVoidElements, name)) drop_stack_.push_back(name), ++drop_depth_;
      return;
    }
    if (drop_depth_ > 0 || !IsAllowedElement(name)) return;  // unknown: unwrap (keep text)
    std::string tag = "<" + name;
    bool keep = true;
    for (const auto& a : attrs) {
      if (In(kAllowedAttributes, a.name)) {
        tag += " " + a.name + "=\"" + EscapeHtml(a.value) + "\"";
      } else if (a.name == "style" && SafeStyle(a.value)) {
        tag += " style=\"" + EscapeHtml(a.value) + "\"";
      } else if (name == "a" && a.name == "href") {
        const std::string url = NormalisedUrl(a.value);
        if (StartsWithI(url, "http://") || StartsWithI(url, "https://") ||
            StartsWithI(url, "mailto:")) {
          tag += " href=\"" + EscapeHtml(url) + "\"";
        }
      } else if (name == "img" && a.name == "src") {
        keep = AddImageSource(a.value, tag);
      }
    }
    if (name == "a") tag += " rel=\"noopener noreferrer\" target=\"_blank\"";
    if (name == "img" && tag.find(" src=") == std::string::npos) keep = false;
    if (!keep) {
      // A blocked image shows its alt text instead.
      for (const auto& a : attrs) {
        if (a.name == "alt" && !a.value.empty()) out_.html += "[" + EscapeHtml(a.value) + "]";
      }
      return;
    }
    out_.html += tag + ">";
    if (!In(kVoidElements, name)) open_.push_back(name);
  }

  bool AddImageSource(const std::string& value, std::string& tag) {
    const std::string url = NormalisedUrl(value);
    if (StartsWithI(url, "cid:")) {
      std::string resolved;
      if (opts_.resolve_cid) resolved = opts_.resolve_cid(std::string_view{url}.substr(4));
      if (resolved.empty()) return false;
      tag += " src=\"" + EscapeHtml(resolved) + "\"";
      return true;
    }
    if (StartsWithI(url, "http://") || StartsWithI(url, "https://")) {
      if (!opts_.allow_remote_images) {
        ++out_.blocked_remote_images;
        return false;
      }
      tag += " src=\"" + EscapeHtml(url) + "\"";
      return true;
    }
    for (std::string_view ok :
         {"data:image/png;", "data:image/gif;", "data:image/jpeg;", "data:image/webp;"}) {
      if (StartsWithI(url, ok)) {
        tag += " src=\"" + EscapeHtml(url) + "\"";
        return true;
      }
    }
    return false;
  }

  void CloseTag(const std::string& name) {
    if (drop_depth_ > 0) {
      if (!drop_stack_.empty() && drop_stack_.back() == name) {
        drop_stack_.pop_back();
        --drop_depth_;
      }
      return;
    }
    auto it = std::find(open_.rbegin(), open_.rend(), name);
    if (it == open_.rend()) return;  // never opened (or not allowed): ignore
    // Close everything opened after it, then it.
    const std::size_t keep = static_cast<std::size_t>(open_.rend() - it) - 1;
    while (open_.size() > keep) {
      out_.html += "</" + open_.back() + ">";
      open_.pop_back();
    }
  }

  std::string_view in_;
  const SanitizeOptions& opts_;
  std::size_t pos_ = 0;
  SanitizeResult out_;
  std::vector<std::string> open_;
  std::vector<std::string> drop_stack_;
  int drop_depth_ = 0;
};

}  // namespace

SanitizeResult SanitizeHtml(std::string_view html, const SanitizeOptions& options) {
  return Sanitizer(html, options).Run();
}

}  // namespace mailgate::web
