#include "web/layout.h"

#include <ctime>

#include "web/html.h"

namespace mailgate::web {
namespace {

constexpr std::pair<std::string_view, std::string_view> kNav[] = {
    {"accounts", "Connected Accounts"}, {"transports", "Email Transports"},
    {"mailboxes", "Email Mailboxes"},   {"conversations", "Conversations"},
    {"scheduler", "Scheduler"},         {"alerts", "Alerts"},
    {"tokens", "API Tokens"},
};

constexpr std::string_view kCss = R"css(
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2329;background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header a{color:#dfe9f5;text-decoration:none}header a.current{color:#fff;font-weight:600;text-decoration:underline}
header .brand{font-weight:700;color:#fff;margin-right:1rem}header form{margin-left:auto}
main{max-width:72rem;margin:1.5rem auto;padding:0 1rem}
h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e2e5e9;vertical-align:top}
th{background:#eef1f4;font-weight:600}
form.stacked{background:#fff;padding:1rem;border:1px solid #e2e5e9;max-width:40rem}
form.stacked label{display:block;margin:.5rem 0 .15rem;font-weight:600}
form.stacked .hint{font-weight:400;color:#5b6570;font-size:.85rem}
input[type=text],input[type=password],input[type=number],input[type=search],select,textarea{width:100%;box-sizing:border-box;padding:.35rem;border:1px solid #b8c0c8;border-radius:3px;font:inherit}
input[type=checkbox]{margin-right:.4rem}
textarea{min-height:8rem}
button{font:inherit;padding:.35rem .9rem;border:1px solid #1f3a5f;background:#1f3a5f;color:#fff;border-radius:3px;cursor:pointer}
button.secondary{background:#fff;color:#1f3a5f}button.danger{background:#a12b2b;border-color:#a12b2b}
form.inline{display:inline}
.actions{margin-top:1rem;display:flex;gap:.6rem}
.notice{padding:.6rem .9rem;border-radius:3px;margin:1rem 0;border:1px solid}
.notice.ok{background:#e8f5ec;border-color:#8cc69d}.notice.error{background:#fbeaea;border-color:#d98c8c}
.notice.warning{background:#fff6e0;border-color:#e3c16f}
.status-ok{color:#1c7a3a;font-weight:600}.status-bad{color:#a12b2b;font-weight:700;text-transform:uppercase}
.status-warn{color:#8a5a00;font-weight:600}
pre.log{background:#11161c;color:#d7dde3;padding:.8rem;overflow:auto;font-size:.85rem;max-height:40rem}
pre.log .error{color:#ff8f8f}pre.log .warning{color:#ffd27a}
iframe.body{width:100%;min-height:20rem;border:1px solid #e2e5e9;background:#fff}
pre.body{white-space:pre-wrap;background:#fff;border:1px solid #e2e5e9;padding:.8rem}
.message{background:#fff;border:1px solid #e2e5e9;padding:.8rem;margin:1rem 0}
.meta{color:#5b6570;font-size:.9rem}
code{background:#eef1f4;padding:0 .3em}
)css";

}  // namespace

std::string_view ConsoleCss() {
  return kCss;
}

std::string RenderPage(const PageFrame& frame, std::string_view body) {
  std::string out =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  if (frame.refresh_seconds > 0) {
    out += "<meta http-equiv=\"refresh\" content=\"";
    out += std::to_string(frame.refresh_seconds);
    if (!frame.refresh_url.empty()) {
      out += "; url=";
      out += EscapeHtml(frame.refresh_url);
    }
    out += "\">";
  }
  out += "<title>";
  out += EscapeHtml(frame.title);
  out += " - Mailgate</title><link rel=\"stylesheet\" href=\"/static/console.css\"></head><body>";
  out += "<header><a class=\"brand\" href=\"/\">Mailgate</a>";
  if (!frame.user.empty()) {
    out += "<nav>";
    for (const auto& [key, label] : kNav) {
      out += "<a id=\"nav-";
      out += key;
      out += "\" href=\"/";
      out += key;
      out += '"';
      if (frame.nav == key) out += " class=\"current\"";
      out += '>';
      out += label;
      out += "</a> ";
    }
    out += "</nav><form method=\"post\" action=\"/logout\">";
    out += CsrfField(frame.csrf);
    out += "<span>";
    out += EscapeHtml(frame.user);
    out += "</span> <button class=\"secondary\" id=\"logout\" type=\"submit\">Sign out</button>";
    out += "</form>";
  }
  out += "</header><main>";
  out += body;
  out += "</main></body></html>\n";
  return out;
}

std::string CsrfField(std::string_view csrf) {
  std::string out = "<input type=\"hidden\" name=\"csrf\" value=\"";
  out += EscapeHtml(csrf);
  out += "\">";
  return out;
}

std::string Notice(std::string_view kind, std::string_view text, std::string_view id) {
  std::string out = "<p class=\"notice ";
  out += kind;
  out += "\" id=\"";
  out += id;
  out += "\">";
  out += EscapeHtml(text);
  out += "</p>";
  return out;
}

std::string FormatTime(int64_t t) {
  if (t <= 0) return "never";
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string PostButton(std::string_view action, std::string_view csrf, std::string_view label,
                       std::string_view id, std::string_view css_class) {
  std::string out = "<form class=\"inline\" method=\"post\" action=\"";
  out += EscapeHtml(action);
  out += "\">";
  out += CsrfField(csrf);
  out += "<button type=\"submit\" id=\"";
  out += EscapeHtml(id);
  out += '"';
  if (!css_class.empty()) {
    out += " class=\"";
    out += css_class;
    out += '"';
  }
  out += '>';
  out += EscapeHtml(label);
  out += "</button></form>";
  return out;
}

std::string Options(const std::vector<std::pair<std::string, std::string>>& choices,
                    std::string_view selected) {
  std::string out;
  for (const auto& [value, label] : choices) {
    out += "<option value=\"";
    out += EscapeHtml(value);
    out += '"';
    if (value == selected) out += " selected";
    out += '>';
    out += EscapeHtml(label);
    out += "</option>";
  }
  return out;
}

std::string TextField(std::string_view id, std::string_view label, std::string_view value,
                      std::string_view hint, std::string_view type) {
  std::string out = "<label for=\"";
  out += id;
  out += "\">";
  out += label;
  if (!hint.empty()) {
    out += " <span class=\"hint\">";
    out += hint;
    out += "</span>";
  }
  out += "</label><input type=\"";
  out += type;
  out += "\" id=\"";
  out += id;
  out += "\" name=\"";
  out += id;
  out += "\" value=\"";
  out += EscapeHtml(value);
  out += "\">";
  return out;
}

std::string Checkbox(std::string_view id, std::string_view label, bool checked) {
  std::string out = "<label><input type=\"checkbox\" id=\"";
  out += id;
  out += "\" name=\"";
  out += id;
  out += "\" value=\"1\"";
  if (checked) out += " checked";
  out += '>';
  out += label;
  out += "</label>";
  return out;
}

std::string Select(std::string_view id, std::string_view label,
                   const std::vector<std::pair<std::string, std::string>>& choices,
                   std::string_view selected) {
  std::string out = "<label for=\"";
  out += id;
  out += "\">";
  out += label;
  out += "</label><select id=\"";
  out += id;
  out += "\" name=\"";
  out += id;
  out += "\">";
  out += Options(choices, selected);
  out += "</select>";
  return out;
}

}  // namespace mailgate::web
