// Connected Accounts: list with status, add, remove, and Connect (the
// authorization-code flow with PKCE through the console's own callback).
#include <spdlog/spdlog.h>

#include "oauth/flows.h"
#include "oauth/provider.h"
#include "web/console_internal.h"
#include "web/html.h"
#include "web/pages.h"

namespace mailgate::web {
namespace {

constexpr int64_t kPendingLifetime = 15 * 60;

std::string StatusCell(const store::Account& a) {
  switch (a.status) {
    case store::AccountStatus::kOk:
      return "<span class=\"status-ok\">connected</span>";
    case store::AccountStatus::kNotAuthorized:
      return "<span class=\"status-warn\">not connected</span>";
    case store::AccountStatus::kDegraded:
      return "<span class=\"status-warn\">degraded: retrying</span>" +
             (a.last_error.empty()
                  ? std::string()
                  : "<br><span class=\"meta\">" + EscapeHtml(a.last_error) + "</span>");
    case store::AccountStatus::kReauthorizationRequired: {
      std::string out = "<strong class=\"status-bad\">reauthorization required</strong>";
      std::string why = a.last_error_code;
      if (!why.empty() && !a.last_error.empty()) why += ": ";
      why += a.last_error;
      if (!why.empty()) out += "<br>" + EscapeHtml(why);
      out += "<br><span class=\"meta\">Press Connect to sign in again.</span>";
      return out;
    }
  }
  return {};
}

std::string ProviderLabel(std::string_view p) {
  if (p == "microsoft") return "Microsoft 365";
  if (p == "google") return "Google";
  return "Generic OAuth2";
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == ',') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace

std::string RenderAccountsPage(const PageFrame& frame, const std::vector<store::Account>& accounts,
                               const std::string& redirect_uri, const std::string& notice_html,
                               const store::Account& f) {
  std::string body = "<h1>Connected Accounts</h1>";
  body += notice_html;
  body +=
      "<p>A connected account holds the OAuth2 grant that Email Transports and Email Mailboxes "
      "use to sign in (XOAuth2). Register this redirect URI with the provider (Microsoft Entra "
      "ID: platform \"Web\"):</p><p><code id=\"redirect-uri\">" +
      EscapeHtml(redirect_uri) +
      "</code></p><p class=\"meta\">Step-by-step for Microsoft 365: <code id=\"guide\">" +
      std::string(kGuidePath) + "</code> in the Mailgate repository.</p>";
  if (accounts.empty()) {
    body += "<p id=\"no-accounts\">No connected accounts yet. Add one below.</p>";
  } else {
    body +=
        "<table id=\"accounts\"><tr><th>Name</th><th>Provider</th><th>Status</th><th>Last "
        "refresh</th><th></th></tr>";
    for (const auto& a : accounts) {
      const std::string base = "/accounts/" + UrlEncode(a.name);
      body += "<tr id=\"account-" + EscapeHtml(a.name) + "\"><td>" + EscapeHtml(a.name) +
              "</td><td>" + EscapeHtml(ProviderLabel(a.provider)) + "</td><td>" + StatusCell(a) +
              "</td><td>" + FormatTime(a.last_refresh_at) + "</td><td>";
      body += PostButton(base + "/connect", frame.csrf, "Connect", "account-connect-" + a.name);
      body += ' ';
      body +=
          PostButton(base + "/delete", frame.csrf, "Remove", "account-delete-" + a.name, "danger");
      body += "</td></tr>";
    }
    body += "</table>";
  }
  body += "<h2>Add a connected account</h2>";
  body += "<form class=\"stacked\" method=\"post\" action=\"/accounts\" id=\"account-form\">";
  body += CsrfField(frame.csrf);
  body += TextField("name", "Name", f.name);
  body += Select("provider", "Provider",
                 {{"microsoft", "Microsoft 365"}, {"google", "Google"}, {"generic", "Generic"}},
                 f.provider);
  body += TextField("client_id", "Client ID", f.client_id, "Application (client) ID");
  body += TextField("client_secret", "Client secret", "",
                    "optional; for confidential clients; never shown again", "password");
  body += TextField("tenant", "Tenant", f.tenant,
                    "Microsoft: common, organizations, a tenant ID or domain");
  body += TextField("authority", "Authority", f.authority,
                    "Microsoft only; blank: https://login.microsoftonline.com (sovereign clouds "
                    "differ)");
  body += TextField("scopes", "Scopes", Join(f.scopes),
                    "space-separated; blank: the provider's defaults");
  body += TextField("auth_url", "Authorization URL", f.auth_url, "generic only");
  body += TextField("token_url", "Token URL", f.token_url, "generic only");
  body +=
      "<div class=\"actions\"><button type=\"submit\" id=\"account-save\">Save "
      "Changes</button></div></form>";
  return RenderPage(frame, body);
}

namespace {

HttpResponse AccountsPage(Console::State& s, RequestContext& ctx, const std::string& notice_html,
                          const store::Account& form, int status = 200) {
  auto accounts = s.store().ListAccounts();
  if (!accounts.ok()) return ErrorPage(ctx, accounts.status(), "accounts");
  return HttpResponse::Html(RenderAccountsPage(Frame(ctx, "Connected Accounts", "accounts"),
                                               *accounts, s.RedirectUri(), notice_html, form),
                            status);
}

HttpResponse Connect(Console::State& s, RequestContext& ctx) {
  const std::string& name = ctx.PathParam("name");
  auto a = s.store().GetAccount(name);
  if (!a.ok()) return ErrorPage(ctx, a.status(), "accounts");
  if (!s.deps.http || !s.deps.tokens) {
    return AccountsPage(
        s, ctx, Notice("error", "connecting accounts is not available in this server"), {}, 409);
  }
  auto endpoints = oauth::ResolveEndpoints(*a);
  auto scopes = oauth::ScopesFor(*a, oauth::Flow::kBrowser);
  Status bad = !endpoints.ok() ? endpoints.status() : !scopes.ok() ? scopes.status() : Status();
  if (bad.ok() && endpoints->authorize.empty()) {
    bad = Status::InvalidArgument("account '" + a->name +
                                  "' has no authorization URL; remove it and add it again with "
                                  "one");
  }
  if (!bad.ok()) return AccountsPage(s, ctx, Notice("error", bad.message()), {}, 400);

  // Forget abandoned attempts.
  const int64_t now = s.now();
  std::erase_if(s.pending, [now](const auto& kv) { return kv.second.expires_at <= now; });
  PendingAuthorization p;
  p.account = a->name;
  p.session_hash = ctx.principal.session_hash;
  p.request = oauth::BuildAuthorizationRequest(*endpoints, a->client_id, *scopes, s.RedirectUri(),
                                               *s.deps.random);
  p.expires_at = now + kPendingLifetime;
  const std::string url = p.request.url;
  s.pending[p.request.state] = std::move(p);
  // A page that moves on to the provider, not a 303: the console's CSP
  // (form-action 'self') forbids a form submission from ending up on
  // another origin, while a navigation the page starts itself is allowed.
  std::string body = "<h1>Connecting account '" + EscapeHtml(name) + "'</h1>";
  body +=
      "<p>Continuing to the identity provider to sign in&hellip; "
      "<a id=\"continue-sign-in\" href=\"";
  body += EscapeHtml(url);
  body += "\">Continue</a></p>";
  PageFrame frame{"Connecting " + name, "", "", "", 1, url};
  return HttpResponse::Html(RenderPage(frame, body), 200);
}

HttpResponse CallbackPage(std::string_view title, const std::string& body_html, bool ok) {
  std::string body = "<h1>" + EscapeHtml(title) + "</h1>" + body_html;
  body += "<p><a id=\"back-to-accounts\" href=\"/accounts\">Back to Connected Accounts</a></p>";
  // A page of our own, not a redirect: the navigation it starts is
  // same-site, so the SameSite=Strict session cookie goes with it.
  PageFrame frame{std::string(title), "", "", "", ok ? 1 : 0, ok ? "/accounts" : ""};
  std::string html = RenderPage(frame, body);
  return HttpResponse::Html(std::move(html), ok ? 200 : 400);
}

}  // namespace

HttpResponse HandleAccountCallback(Console::State& s, const HttpRequest& req) {
  const Params q = ParseUrlEncoded(req.query);
  const std::string state = Param(q, "state");
  auto it = s.pending.find(state);
  if (state.empty() || it == s.pending.end() || it->second.expires_at <= s.now()) {
    if (it != s.pending.end()) s.pending.erase(it);
    return CallbackPage("Connection failed",
                        Notice("error",
                               "this sign-in is unknown or has expired; press Connect on the "
                               "Connected Accounts page again"),
                        false);
  }
  PendingAuthorization p = std::move(it->second);
  s.pending.erase(it);
  // When the browser did send the session cookie, it must be the session
  // that pressed Connect.
  const std::string cookie = req.Cookie(kSessionCookie);
  if (!cookie.empty()) {
    auto principal = s.auth.FromSessionCookie(cookie);
    if (principal.ok() && principal->session_hash != p.session_hash) {
      return CallbackPage("Connection failed",
                          Notice("error", "this sign-in was started by another console session"),
                          false);
    }
  }
  auto a = s.store().GetAccount(p.account);
  if (!a.ok())
    return CallbackPage("Connection failed", Notice("error", a.status().message()), false);
  oauth::AuthorizationResponse response{Param(q, "code"), state, Param(q, "error"),
                                        Param(q, "error_description")};
  oauth::OAuthError error;
  auto tokens = oauth::CompleteAuthorization(*s.deps.http, p.request,
                                             oauth::Client{a->client_id, a->client_secret},
                                             response, oauth::Timeouts{}, &error);
  if (!tokens.ok()) {
    spdlog::warn("console: connecting account '{}': {}", a->name, tokens.status().message());
    return CallbackPage("Connection failed",
                        Notice("error", "account '" + a->name +
                                            "' was not connected: " + tokens.status().message()),
                        false);
  }
  Status saved =
      s.deps.tokens->SaveGrant(a->name, oauth::Flow::kBrowser, p.request.token_url, *tokens);
  if (!saved.ok()) {
    return CallbackPage("Connection failed", Notice("error", saved.message()), false);
  }
  std::string body = Notice("ok", "Account '" + a->name + "' is connected.", "connected");
  if (tokens->refresh_token.empty()) {
    body += Notice("warning",
                   "The provider issued no refresh token (is offline_access among the scopes?); "
                   "mail will stop when the access token expires.",
                   "no-refresh-token");
  }
  return CallbackPage("Account connected", body, true);
}

void AddAccountPages(Console::State& s) {
  s.router.Add("GET", "/accounts", [&s](RequestContext& ctx) {
    std::string notice;
    const std::string deleted = Param(ctx.query, "deleted");
    if (!deleted.empty()) notice = Notice("ok", "Removed account '" + deleted + "'.");
    const std::string saved = Param(ctx.query, "saved");
    if (!saved.empty()) {
      notice = Notice("ok", "Saved account '" + saved + "'. Press Connect to sign in.");
    }
    store::Account blank;
    blank.provider = "microsoft";
    return AccountsPage(s, ctx, notice, blank);
  });
  s.router.Add("POST", "/accounts", [&s](RequestContext& ctx) {
    store::Account a;
    a.name = Param(ctx.form, "name");
    a.provider = Param(ctx.form, "provider");
    a.client_id = Param(ctx.form, "client_id");
    a.client_secret = store::Secret(Param(ctx.form, "client_secret"));
    a.tenant = Param(ctx.form, "tenant");
    a.authority = Param(ctx.form, "authority");
    a.scopes = SplitWords(Param(ctx.form, "scopes"));
    a.auth_url = Param(ctx.form, "auth_url");
    a.token_url = Param(ctx.form, "token_url");
    Status st = a.name.empty() ? Status::InvalidArgument("the account needs a name")
                               : oauth::NormalizeAccount(a);
    if (st.ok()) st = s.store().CreateAccount(a, s.now());
    if (!st.ok()) {
      const int code = HttpStatusFor(st);
      if (code >= 500) return ErrorPage(ctx, st, "accounts");
      return AccountsPage(s, ctx, Notice("error", st.message()), a, code);
    }
    return HttpResponse::Redirect("/accounts?saved=" + UrlEncode(a.name));
  });
  s.router.Add("POST", "/accounts/{name}/connect",
               [&s](RequestContext& ctx) { return Connect(s, ctx); });
  s.router.Add("POST", "/accounts/{name}/delete", [&s](RequestContext& ctx) {
    const std::string& name = ctx.PathParam("name");
    Status st = s.store().DeleteAccount(name);
    if (!st.ok()) return ErrorPage(ctx, st, "accounts");
    (void)s.store().ResolveAlerts("account/" + name, s.now());
    return HttpResponse::Redirect("/accounts?deleted=" + UrlEncode(name));
  });
}

}  // namespace mailgate::web
