// Email Transports and Email Mailboxes: list, create/edit with the seed's
// fields, Save Changes, Test (with the unsaved form's values) and remove.
// Passwords are write-only: never rendered back; a blank field keeps the
// saved one.
#include <spdlog/spdlog.h>

#include "pipeline/config.h"
#include "web/console_internal.h"
#include "web/html.h"
#include "web/pages.h"

namespace mailgate::web {
namespace {

using Choices = std::vector<std::pair<std::string, std::string>>;

Choices AccountChoices(const std::vector<std::string>& names) {
  Choices out = {{"", "(none: password)"}};
  for (const auto& n : names) out.emplace_back(n, n);
  return out;
}

std::string PasswordField(bool saved) {
  return TextField(
             "password", "Password", "",
             saved ? "a password is saved; leave blank to keep it" : "leave blank with XOAuth2",
             "password") +
         (saved ? Checkbox("clear_password", "Remove the saved password", false) : "");
}

std::string PortText(int port) {
  return port > 0 ? std::to_string(port) : std::string();
}

std::string Buttons(std::string_view prefix) {
  std::string p(prefix);
  return "<div class=\"actions\"><button type=\"submit\" name=\"action\" value=\"save\" id=\"" + p +
         "-save\">Save Changes</button><button type=\"submit\" name=\"action\" value=\"test\" "
         "class=\"secondary\" id=\"" +
         p + "-test\">Test</button></div>";
}

std::string TestSection(const std::vector<store::RunLogLine>* log) {
  if (!log) return {};
  return "<h2>Test</h2>" + RenderLog(*log, "test-log");
}

}  // namespace

std::string RenderLog(const std::vector<store::RunLogLine>& lines, std::string_view id) {
  std::string out = "<pre class=\"log\" id=\"";
  out += id;
  out += "\">";
  for (const auto& l : lines) {
    out += "<span class=\"";
    out += l.level == "error" ? "error" : l.level == "warning" ? "warning" : "info";
    out += "\">";
    if (l.level == "error") out += "error: ";
    if (l.level == "warning") out += "warning: ";
    out += EscapeHtml(l.text);
    out += "</span>\n";
  }
  out += "</pre>";
  return out;
}

// --- Transports -----------------------------------------------------------------

std::string RenderTransportsPage(const PageFrame& frame,
                                 const std::vector<store::Transport>& transports,
                                 const std::string& notice_html) {
  std::string body = "<h1>Email Transports</h1>" + notice_html;
  body += "<p><a id=\"transport-new\" href=\"/transports/new\">Add a transport</a></p>";
  if (transports.empty()) {
    body += "<p id=\"no-transports\">No email transports yet.</p>";
    return RenderPage(frame, body);
  }
  body +=
      "<table id=\"transports\"><tr><th>Name</th><th>Host</th><th>Port</th><th>Encryption</th>"
      "<th>Authentication</th><th>Username</th><th>XOAuth2</th></tr>";
  for (const auto& t : transports) {
    body += "<tr><td><a href=\"/transports/" + UrlEncode(t.name) + "\">" + EscapeHtml(t.name) +
            "</a></td><td>" + EscapeHtml(t.host) + "</td><td>" +
            std::to_string(pipeline::EffectivePort(t)) + "</td><td>" + EscapeHtml(t.encryption) +
            "</td><td>" + EscapeHtml(t.auth) + "</td><td>" + EscapeHtml(t.username) + "</td><td>" +
            EscapeHtml(t.account) + "</td></tr>";
  }
  body += "</table>";
  return RenderPage(frame, body);
}

std::string RenderTransportForm(const PageFrame& frame, const store::Transport& t, bool is_new,
                                const std::vector<std::string>& account_names,
                                const std::string& notice_html, const std::string& send_to,
                                const std::vector<store::RunLogLine>* test_log) {
  std::string body = "<h1>" + std::string(is_new ? "New email transport" : "Email Transport: ") +
                     (is_new ? "" : EscapeHtml(t.name)) + "</h1>" + notice_html;
  const std::string action = is_new ? "/transports" : "/transports/" + UrlEncode(t.name);
  body += "<form class=\"stacked\" method=\"post\" action=\"" + EscapeHtml(action) +
          "\" id=\"transport-form\">" + CsrfField(frame.csrf);
  if (is_new) body += TextField("name", "Name", t.name);
  body += Select("type", "Type", {{"smtp", "SMTP"}}, "smtp");
  body += TextField("host", "Host", t.host, "e.g. smtp.office365.com");
  body += TextField("port", "Port", PortText(t.port),
                    "blank: 587 for TLS, 465 for SSL, 25 for none", "number");
  body += Select("encryption", "Encryption",
                 {{"starttls", "TLS (STARTTLS)"}, {"tls", "SSL (implicit TLS)"}, {"none", "None"}},
                 t.encryption.empty() ? "starttls" : t.encryption);
  body += "<label>Authentication</label>" +
          Checkbox("auth_enabled", "Enabled", is_new || t.auth != "none");
  body += TextField("username", "Username", t.username, "your email address");
  body += PasswordField(!t.password.empty());
  body += Select("account", "XOAuth2", AccountChoices(account_names), t.account);
  body +=
      TextField("timeout", "Timeout (seconds)", std::to_string(t.timeout_seconds), "", "number");
  body += TextField("send_to", "Send test message to", send_to,
                    "optional; Test sends a short message to this address");
  body += Buttons("transport");
  body += "</form>";
  body += TestSection(test_log);
  if (!is_new) {
    body +=
        "<h2>Remove</h2>" + PostButton("/transports/" + UrlEncode(t.name) + "/delete", frame.csrf,
                                       "Remove this transport", "transport-delete", "danger");
  }
  return RenderPage(frame, body);
}

// --- Mailboxes ------------------------------------------------------------------

namespace {

std::string ProtocolChoice(const store::Mailbox& m) {
  return (m.protocol.empty() ? "imap" : m.protocol) + "/" +
         (m.encryption.empty() ? "tls" : m.encryption);
}

std::string AfterDownloadKind(const std::string& a) {
  return a.starts_with("move:") ? "move" : a.empty() ? "delete" : a;
}

std::string ProtocolLabel(const store::Mailbox& m) {
  std::string out = m.protocol == "pop3" ? "POP3" : "IMAP";
  if (m.encryption == "tls") out += " (TLS/SSL)";
  if (m.encryption == "starttls") out += " (STARTTLS)";
  return out;
}

}  // namespace

std::string RenderMailboxesPage(const PageFrame& frame,
                                const std::vector<store::Mailbox>& mailboxes,
                                const std::string& notice_html) {
  std::string body = "<h1>Email Mailboxes</h1>" + notice_html;
  body += "<p><a id=\"mailbox-new\" href=\"/mailboxes/new\">Add a mailbox</a></p>";
  if (mailboxes.empty()) {
    body += "<p id=\"no-mailboxes\">No mailboxes are configured.</p>";
    return RenderPage(frame, body);
  }
  body +=
      "<table id=\"mailboxes\"><tr><th>Name</th><th>Enabled</th><th>Protocol</th><th>Host</th>"
      "<th>User</th><th>Checked at</th><th>Failures</th><th>Last error</th></tr>";
  for (const auto& m : mailboxes) {
    body += "<tr><td><a href=\"/mailboxes/" + UrlEncode(m.name) + "\">" + EscapeHtml(m.name) +
            "</a></td><td>" + (m.enabled ? "yes" : "no (disabled)") + "</td><td>" +
            ProtocolLabel(m) + "</td><td>" + EscapeHtml(m.host) + ":" +
            std::to_string(pipeline::EffectivePort(m)) + "</td><td>" + EscapeHtml(m.username) +
            "</td><td>" + FormatTime(m.checked_at) + "</td><td>" +
            std::to_string(m.consecutive_failures) + "</td><td>" +
            (m.last_error.empty() ? "" : "<span class=\"status-bad\">failing</span> ") +
            EscapeHtml(m.last_error) + "</td></tr>";
  }
  body += "</table>";
  return RenderPage(frame, body);
}

std::string RenderMailboxForm(const PageFrame& frame, const store::Mailbox& m, bool is_new,
                              const std::vector<std::string>& account_names,
                              const std::string& notice_html,
                              const std::vector<store::RunLogLine>* test_log) {
  std::string body = "<h1>" + std::string(is_new ? "New email mailbox" : "Email Mailbox: ") +
                     (is_new ? "" : EscapeHtml(m.name)) + "</h1>" + notice_html;
  if (!is_new) {
    body += "<table id=\"mailbox-state\"><tr><th>Checked at</th><td>" + FormatTime(m.checked_at) +
            "</td></tr><tr><th>Last success</th><td>" + FormatTime(m.last_success_at) +
            "</td></tr><tr><th>Consecutive failures</th><td>" +
            std::to_string(m.consecutive_failures) + "</td></tr>";
    if (m.delayed_until > 0) {
      body += "<tr><th>Next check not before</th><td>" + FormatTime(m.delayed_until) + "</td></tr>";
    }
    body += "<tr><th>Last error</th><td id=\"mailbox-last-error\">" +
            (m.last_error.empty()
                 ? std::string("none")
                 : "<span class=\"status-bad\">" + EscapeHtml(m.last_error) + "</span>") +
            "</td></tr></table>";
  }
  const std::string action = is_new ? "/mailboxes" : "/mailboxes/" + UrlEncode(m.name);
  body += "<form class=\"stacked\" method=\"post\" action=\"" + EscapeHtml(action) +
          "\" id=\"mailbox-form\">" + CsrfField(frame.csrf);
  if (is_new) body += TextField("name", "Name", m.name);
  body += Checkbox("enabled", "Enabled", m.enabled);
  body += Select("protocol", "Protocol",
                 {{"imap/tls", "IMAP (TLS/SSL)"},
                  {"imap/starttls", "IMAP (STARTTLS)"},
                  {"imap/none", "IMAP (no encryption)"},
                  {"pop3/tls", "POP3 (TLS/SSL)"},
                  {"pop3/starttls", "POP3 (STARTTLS)"},
                  {"pop3/none", "POP3 (no encryption)"}},
                 ProtocolChoice(m));
  body += TextField("host", "Host", m.host, "e.g. outlook.office365.com");
  body += TextField("port", "Port", PortText(m.port),
                    "blank: 993 IMAP, 995 POP3 with TLS/SSL; 143 / 110 otherwise", "number");
  body += TextField("username", "User", m.username, "the mailbox address");
  body += PasswordField(!m.password.empty());
  body += Select("account", "XOAuth2", AccountChoices(account_names), m.account);
  body += TextField("folder", "Folder", m.folder, "IMAP only");
  body += Select("after_download", "After download",
                 {{"delete", "Delete from the server"},
                  {"mark-seen", "Mark as seen (IMAP)"},
                  {"move", "Move to folder (IMAP)"},
                  {"keep", "Keep on the server"}},
                 AfterDownloadKind(m.after_download));
  body +=
      TextField("move_to", "Move to folder",
                m.after_download.starts_with("move:") ? m.after_download.substr(5) : std::string(),
                "with \"Move to folder\"");
  body += TextField("max_size_kb", "Max size (KB)", std::to_string(m.max_size_kb),
                    "larger messages stay on the server", "number");
  body += Checkbox("download_oversized", "Download larger messages anyway", m.download_oversized);
  body += Checkbox("push", "Push (IDLE)", m.push);
  body +=
      TextField("timeout", "Timeout (seconds)", std::to_string(m.timeout_seconds), "", "number");
  body += Buttons("mailbox");
  body += "</form>";
  body += TestSection(test_log);
  if (!is_new) {
    body +=
        "<h2>Remove</h2>" + PostButton("/mailboxes/" + UrlEncode(m.name) + "/delete", frame.csrf,
                                       "Remove this mailbox", "mailbox-delete", "danger");
  }
  return RenderPage(frame, body);
}

namespace {

StatusOr<std::vector<std::string>> AccountNames(store::Store& store) {
  auto accounts = store.ListAccounts();
  if (!accounts.ok()) return accounts.status();
  std::vector<std::string> out;
  for (const auto& a : *accounts) out.push_back(a.name);
  return out;
}

StatusOr<int> ParseNumber(const Params& form, std::string_view field, std::string_view label,
                          int fallback) {
  const std::string v = Param(form, field);
  if (v.empty()) return fallback;
  try {
    size_t used = 0;
    const long long n = std::stoll(v, &used);
    if (used == v.size() && n >= 0 && n <= 1'000'000'000) return static_cast<int>(n);
  } catch (const std::exception&) {
  }
  return Status::InvalidArgument(std::string(label) + " must be a whole number, not '" + v + "'");
}

void ApplyPassword(const Params& form, store::Secret& password) {
  const std::string given = Param(form, "password");
  if (!given.empty()) {
    password = store::Secret(given);
  } else if (HasParam(form, "clear_password")) {
    password = store::Secret();
  }
}

// The transport the form describes, over `t` (the saved one when editing).
Status TransportFromForm(const Params& form, store::Transport& t) {
  if (HasParam(form, "name")) t.name = Param(form, "name");
  t.host = Param(form, "host");
  auto port = ParseNumber(form, "port", "Port", 0);
  if (!port.ok()) return port.status();
  t.port = *port;
  t.encryption = Param(form, "encryption");
  t.username = Param(form, "username");
  ApplyPassword(form, t.password);
  t.account = Param(form, "account");
  auto timeout = ParseNumber(form, "timeout", "Timeout", 30);
  if (!timeout.ok()) return timeout.status();
  t.timeout_seconds = *timeout;
  if (!HasParam(form, "auth_enabled")) {
    t.auth = "none";
  } else {
    t.auth = t.account.empty() ? "password" : "xoauth2";
  }
  if (t.auth != "password") t.password = store::Secret();
  if (t.auth == "password") t.account.clear();
  if (t.name.empty()) return Status::InvalidArgument("the transport needs a name");
  return pipeline::NormalizeTransport(t);
}

Status MailboxFromForm(const Params& form, store::Mailbox& m) {
  if (HasParam(form, "name")) m.name = Param(form, "name");
  m.enabled = HasParam(form, "enabled");
  const std::string protocol = Param(form, "protocol");
  const size_t slash = protocol.find('/');
  m.protocol = protocol.substr(0, slash);
  m.encryption = slash == std::string::npos ? "" : protocol.substr(slash + 1);
  m.host = Param(form, "host");
  auto port = ParseNumber(form, "port", "Port", 0);
  if (!port.ok()) return port.status();
  m.port = *port;
  m.username = Param(form, "username");
  ApplyPassword(form, m.password);
  m.account = Param(form, "account");
  m.auth = m.account.empty() ? "password" : "xoauth2";
  if (m.auth != "password") m.password = store::Secret();
  m.folder = Param(form, "folder");
  if (m.folder.empty()) m.folder = "INBOX";
  m.after_download = Param(form, "after_download");
  if (m.after_download.empty()) m.after_download = "delete";
  if (m.after_download == "move") m.after_download = "move:" + Param(form, "move_to");
  auto max_size = ParseNumber(form, "max_size_kb", "Max size", 25600);
  if (!max_size.ok()) return max_size.status();
  m.max_size_kb = *max_size;
  m.download_oversized = HasParam(form, "download_oversized");
  m.push = HasParam(form, "push");
  auto timeout = ParseNumber(form, "timeout", "Timeout", 30);
  if (!timeout.ok()) return timeout.status();
  m.timeout_seconds = *timeout;
  if (m.name.empty()) return Status::InvalidArgument("the mailbox needs a name");
  return pipeline::NormalizeMailbox(m);
}

Status CheckAccount(store::Store& store, const std::string& account) {
  if (account.empty()) return Status::Ok();
  auto a = store.GetAccount(account);
  if (a.ok()) return Status::Ok();
  if (a.status().kind() == Status::Kind::kNotFound) {
    return Status::InvalidArgument(a.status().message());
  }
  return a.status();
}

std::string TestNotice(const TestOutcome& outcome) {
  if (outcome.status.ok()) {
    return Notice("ok", "Test succeeded. Press Save Changes to keep this configuration.",
                  "test-result");
  }
  return Notice("error", "Test failed: " + outcome.status.message(), "test-result");
}

// --- Transport handlers ---

HttpResponse TransportForm(Console::State& s, RequestContext& ctx, const store::Transport& t,
                           bool is_new, const std::string& notice, int status) {
  auto names = AccountNames(s.store());
  if (!names.ok()) return ErrorPage(ctx, names.status(), "transports");
  return HttpResponse::Html(
      RenderTransportForm(Frame(ctx, is_new ? "New email transport" : t.name, "transports"), t,
                          is_new, *names, notice, Param(ctx.form, "send_to"), nullptr),
      status);
}

HttpResponse SaveOrTestTransport(Console::State& s, RequestContext& ctx, bool is_new) {
  store::Transport t;
  if (!is_new) {
    auto saved = s.store().GetTransport(ctx.PathParam("name"));
    if (!saved.ok()) return ErrorPage(ctx, saved.status(), "transports");
    t = std::move(*saved);
  }
  Status st = TransportFromForm(ctx.form, t);
  if (st.ok()) st = CheckAccount(s.store(), t.account);
  if (!st.ok()) {
    if (HttpStatusFor(st) >= 500) return ErrorPage(ctx, st, "transports");
    return TransportForm(s, ctx, t, is_new, Notice("error", st.message()), 400);
  }
  if (Param(ctx.form, "action") == "test") {
    if (!s.deps.tester) {
      return TransportForm(s, ctx, t, is_new,
                           Notice("error", "Test is not available in this server"), 409);
    }
    auto names = AccountNames(s.store());
    if (!names.ok()) return ErrorPage(ctx, names.status(), "transports");
    const PageFrame frame = Frame(ctx, is_new ? "New email transport" : t.name, "transports");
    const std::string send_to = Param(ctx.form, "send_to");
    ConnectionTester* tester = s.deps.tester;
    return HttpResponse::Later([tester, t, is_new, names = *names, frame,
                                send_to](std::function<void(HttpResponse)> done) {
      tester->TestTransport(t, send_to, [=](TestOutcome outcome) {
        done(HttpResponse::Html(RenderTransportForm(frame, t, is_new, names, TestNotice(outcome),
                                                    send_to, &outcome.lines)));
      });
    });
  }
  st = is_new ? s.store().CreateTransport(t, s.now()) : s.store().UpdateTransport(t);
  if (!st.ok()) {
    if (HttpStatusFor(st) >= 500) return ErrorPage(ctx, st, "transports");
    return TransportForm(s, ctx, t, is_new, Notice("error", st.message()), HttpStatusFor(st));
  }
  return HttpResponse::Redirect("/transports/" + UrlEncode(t.name) + "?saved=1");
}

// --- Mailbox handlers ---

HttpResponse MailboxForm(Console::State& s, RequestContext& ctx, const store::Mailbox& m,
                         bool is_new, const std::string& notice, int status) {
  auto names = AccountNames(s.store());
  if (!names.ok()) return ErrorPage(ctx, names.status(), "mailboxes");
  return HttpResponse::Html(
      RenderMailboxForm(Frame(ctx, is_new ? "New email mailbox" : m.name, "mailboxes"), m, is_new,
                        *names, notice, nullptr),
      status);
}

HttpResponse SaveOrTestMailbox(Console::State& s, RequestContext& ctx, bool is_new) {
  store::Mailbox m;
  if (!is_new) {
    auto saved = s.store().GetMailbox(ctx.PathParam("name"));
    if (!saved.ok()) return ErrorPage(ctx, saved.status(), "mailboxes");
    m = std::move(*saved);
  }
  Status st = MailboxFromForm(ctx.form, m);
  if (st.ok()) st = CheckAccount(s.store(), m.account);
  if (!st.ok()) {
    if (HttpStatusFor(st) >= 500) return ErrorPage(ctx, st, "mailboxes");
    return MailboxForm(s, ctx, m, is_new, Notice("error", st.message()), 400);
  }
  if (Param(ctx.form, "action") == "test") {
    if (!s.deps.tester) {
      return MailboxForm(s, ctx, m, is_new, Notice("error", "Test is not available in this server"),
                         409);
    }
    auto names = AccountNames(s.store());
    if (!names.ok()) return ErrorPage(ctx, names.status(), "mailboxes");
    const PageFrame frame = Frame(ctx, is_new ? "New email mailbox" : m.name, "mailboxes");
    ConnectionTester* tester = s.deps.tester;
    return HttpResponse::Later(
        [tester, m, is_new, names = *names, frame](std::function<void(HttpResponse)> done) {
          tester->TestMailbox(m, [=](TestOutcome outcome) {
            done(HttpResponse::Html(
                RenderMailboxForm(frame, m, is_new, names, TestNotice(outcome), &outcome.lines)));
          });
        });
  }
  st = is_new ? s.store().CreateMailbox(m, s.now()) : s.store().UpdateMailbox(m);
  if (!st.ok()) {
    if (HttpStatusFor(st) >= 500) return ErrorPage(ctx, st, "mailboxes");
    return MailboxForm(s, ctx, m, is_new, Notice("error", st.message()), HttpStatusFor(st));
  }
  return HttpResponse::Redirect("/mailboxes/" + UrlEncode(m.name) + "?saved=1");
}

}  // namespace

void AddTransportPages(Console::State& s) {
  s.router.Add("GET", "/transports", [&s](RequestContext& ctx) {
    auto all = s.store().ListTransports();
    if (!all.ok()) return ErrorPage(ctx, all.status(), "transports");
    std::string notice;
    const std::string removed = Param(ctx.query, "removed");
    if (!removed.empty()) notice = Notice("ok", "Removed transport '" + removed + "'.");
    return HttpResponse::Html(
        RenderTransportsPage(Frame(ctx, "Email Transports", "transports"), *all, notice));
  });
  s.router.Add("GET", "/transports/new", [&s](RequestContext& ctx) {
    store::Transport t;
    t.encryption = "starttls";
    t.auth = "password";
    return TransportForm(s, ctx, t, true, "", 200);
  });
  s.router.Add("POST", "/transports",
               [&s](RequestContext& ctx) { return SaveOrTestTransport(s, ctx, true); });
  s.router.Add("GET", "/transports/{name}", [&s](RequestContext& ctx) {
    auto t = s.store().GetTransport(ctx.PathParam("name"));
    if (!t.ok()) return ErrorPage(ctx, t.status(), "transports");
    const std::string notice =
        HasParam(ctx.query, "saved") ? Notice("ok", "Saved.", "saved") : std::string();
    return TransportForm(s, ctx, *t, false, notice, 200);
  });
  s.router.Add("POST", "/transports/{name}",
               [&s](RequestContext& ctx) { return SaveOrTestTransport(s, ctx, false); });
  s.router.Add("POST", "/transports/{name}/delete", [&s](RequestContext& ctx) {
    const std::string& name = ctx.PathParam("name");
    Status st = s.store().DeleteTransport(name);
    if (!st.ok()) return ErrorPage(ctx, st, "transports");
    return HttpResponse::Redirect("/transports?removed=" + UrlEncode(name));
  });
}

void AddMailboxPages(Console::State& s) {
  s.router.Add("GET", "/mailboxes", [&s](RequestContext& ctx) {
    auto all = s.store().ListMailboxes();
    if (!all.ok()) return ErrorPage(ctx, all.status(), "mailboxes");
    std::string notice;
    const std::string removed = Param(ctx.query, "removed");
    if (!removed.empty()) notice = Notice("ok", "Removed mailbox '" + removed + "'.");
    return HttpResponse::Html(
        RenderMailboxesPage(Frame(ctx, "Email Mailboxes", "mailboxes"), *all, notice));
  });
  s.router.Add("GET", "/mailboxes/new", [&s](RequestContext& ctx) {
    store::Mailbox m;
    m.protocol = "imap";
    m.encryption = "tls";
    return MailboxForm(s, ctx, m, true, "", 200);
  });
  s.router.Add("POST", "/mailboxes",
               [&s](RequestContext& ctx) { return SaveOrTestMailbox(s, ctx, true); });
  s.router.Add("GET", "/mailboxes/{name}", [&s](RequestContext& ctx) {
    auto m = s.store().GetMailbox(ctx.PathParam("name"));
    if (!m.ok()) return ErrorPage(ctx, m.status(), "mailboxes");
    const std::string notice =
        HasParam(ctx.query, "saved") ? Notice("ok", "Saved.", "saved") : std::string();
    return MailboxForm(s, ctx, *m, false, notice, 200);
  });
  s.router.Add("POST", "/mailboxes/{name}",
               [&s](RequestContext& ctx) { return SaveOrTestMailbox(s, ctx, false); });
  s.router.Add("POST", "/mailboxes/{name}/delete", [&s](RequestContext& ctx) {
    const std::string& name = ctx.PathParam("name");
    Status st = s.store().DeleteMailbox(name);
    if (!st.ok()) return ErrorPage(ctx, st, "mailboxes");
    return HttpResponse::Redirect("/mailboxes?removed=" + UrlEncode(name));
  });
}

}  // namespace mailgate::web
