// The frame every console page shares (header, navigation, notices) and the
// small HTML helpers the pages use. Everything that comes from mail,
// configuration or the user is escaped with EscapeHtml on the way in.
#ifndef MAILGATE_WEB_LAYOUT_H_
#define MAILGATE_WEB_LAYOUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailgate::web {

// Where the Microsoft 365 guide lives, named by its path in the repository.
inline constexpr std::string_view kGuidePath = "docs/microsoft-365.md";

struct PageFrame {
  std::string title;
  std::string nav;          // which navigation entry is current: "accounts", "mailboxes", ...
  std::string user;         // signed-in user; "" on the login page
  std::string csrf;         // for the sign-out form
  int refresh_seconds = 0;  // > 0: <meta http-equiv=refresh> (live run logs)
  std::string refresh_url;  // where the refresh goes; "": this page
};

std::string RenderPage(const PageFrame& frame, std::string_view body);

// <input type=hidden name=csrf ...>
std::string CsrfField(std::string_view csrf);
// A notice box: kind "ok", "error" or "warning"; `text` is escaped.
std::string Notice(std::string_view kind, std::string_view text, std::string_view id = "notice");
// "2026-11-28 13:46:11 UTC", or "never" for 0.
std::string FormatTime(int64_t unix_seconds);
// A one-button form that POSTs to `action` (the button's id and label given).
std::string PostButton(std::string_view action, std::string_view csrf, std::string_view label,
                       std::string_view id, std::string_view css_class = "");
// <option value=... [selected]>label</option> for each (value, label).
std::string Options(const std::vector<std::pair<std::string, std::string>>& choices,
                    std::string_view selected);

// Labelled form controls; the control's id and name are `id`. Values are
// escaped; `hint` is HTML.
std::string TextField(std::string_view id, std::string_view label, std::string_view value,
                      std::string_view hint = "", std::string_view type = "text");
std::string Checkbox(std::string_view id, std::string_view label, bool checked);
std::string Select(std::string_view id, std::string_view label,
                   const std::vector<std::pair<std::string, std::string>>& choices,
                   std::string_view selected);

// The console's stylesheet (/static/console.css).
std::string_view ConsoleCss();

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_LAYOUT_H_
