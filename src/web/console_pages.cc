#include "web/console_pages.h"

#include "web/html.h"

namespace mailgate::web {
namespace {

std::string Layout(const std::string& title, const std::string& body) {
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>" +
         EscapeHtml(title) +
         " - Mailgate</title>"
         "<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;"
         "padding:0 1rem;color:#222}h1{font-size:1.4rem}code{background:#f3f3f3;"
         "padding:0 .3em}</style></head><body><header><strong>Mailgate</strong></header>"
         "<main>" +
         body + "</main></body></html>\n";
}

}  // namespace

std::string RenderHomePage(const std::vector<store::Mailbox>& mailboxes) {
  std::string body = "<h1>Email Mailboxes</h1>";
  if (mailboxes.empty()) {
    body += "<p id=\"no-mailboxes\">No mailboxes are configured.</p>";
  } else {
    body += "<ul id=\"mailboxes\">";
    for (const auto& m : mailboxes) {
      body += "<li>" + EscapeHtml(m.name) + (m.enabled ? "" : " (disabled)") + "</li>";
    }
    body += "</ul>";
  }
  return Layout("Email Mailboxes", body);
}

}  // namespace mailgate::web
