// Connected Accounts: list with status, add, remove, and Connect (the
// authorization-code flow with PKCE through the console's own callback).
#include <spdlog/spdlog.h>

#include "oauth/account_edit.h"
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
      body += "<a href=\"" + EscapeHtml(base) + "\" id=\"account-edit-" + EscapeHtml(a.name) +
              "\">Edit</a> ";
      body += PostButton(base + "/connect", frame.csrf, "Connect", "account-connect-" + a.name);
      body += ' ';
      // App-only: no user signs in; the client secret buys the token.
      if (!a.client_secret.empty()) {
        body += PostButton(base + "/client-credentials", frame.csrf, "Connect app-only",
                           "account-connect-app-" + a.name);
        body += ' ';
      }
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

std::string RenderAccountForm(const PageFrame& frame, const store::Account& a,
                              const std::string& notice_html) {
  const std::string base = "/accounts/" + UrlEncode(a.name);
  std::string body = "<h1>Edit connected account '" + EscapeHtml(a.name) + "'</h1>";
  body += notice_html;
  body += "<p>Provider: " + EscapeHtml(ProviderLabel(a.provider)) + ". Status: " + StatusCell(a) +
          "</p>";
  body += "<form class=\"stacked\" method=\"post\" action=\"" + EscapeHtml(base) +
          "\" id=\"account-edit-form\">";
  body += CsrfField(frame.csrf);
  body += TextField("client_id", "Client ID", a.client_id, "Application (client) ID");
  // Write-only: the stored secret never goes back into the page.
  body += TextField("client_secret", "Client secret", "",
                    a.client_secret.empty()
                        ? "none set; for confidential clients and app-only (client credentials)"
                        : "one is set; leave blank to keep it, or enter the new one (e.g. when "
                          "it expired)",
                    "password");
  body += Checkbox("clear_client_secret", "Remove the client secret (public client)", false);
  if (a.provider == "microsoft") {
    body += TextField("tenant", "Tenant", a.tenant,
                      "common, organizations, a tenant ID or domain; app-only needs a tenant ID "
                      "or domain");
    body += TextField("authority", "Authority", a.authority,
                      "blank: https://login.microsoftonline.com (sovereign clouds differ)");
  }
  body += TextField("scopes", "Scopes", Join(a.scopes),
                    "space-separated; blank: the provider's defaults");
  if (a.provider == "generic") {
    body +=
        TextField("auth_url", "Authorization URL", a.auth_url, "https; blank: no browser sign-in");
    body += TextField("token_url", "Token URL", a.token_url,
                      "https; a new one removes the grant (press Connect again)");
    body += TextField("device_url", "Device authorization URL", a.device_url,
                      "https; blank: no device sign-in");
  }
  body +=
      "<div class=\"actions\"><button type=\"submit\" id=\"account-edit-save\">Save "
      "Changes</button> <a href=\"/accounts\">Cancel</a></div></form>";
  body +=
      "<p class=\"meta\">After changing the client ID, tenant, token URL or scopes, press Connect "
      "again so that the grant matches them.</p>";
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

  auto request = oauth::BuildAuthorizationRequest(*endpoints, a->client_id, *scopes,
                                                  s.RedirectUri(), *s.deps.random);
  // In the store, not in this process: the redirect may reach another
  // worker behind the balancer.
  store::PendingAuthorization p;
  p.state = request.state;
  p.account = a->name;
  p.session_hash = ctx.principal.session_hash;
  p.code_verifier = request.code_verifier;
  p.redirect_uri = request.redirect_uri;
  p.token_url = request.token_url;
  p.scopes = request.scopes;
  const int64_t now = s.now();
  p.expires_at = now + kPendingLifetime;
  Status stored = s.store().CreatePendingAuthorization(p, now);
  if (!stored.ok()) return ErrorPage(ctx, stored, "accounts");
  const std::string& url = request.url;
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

HttpResponse FinishConnect(Console::State& s, const std::string& name, const std::string& token_url,
                           const StatusOr<oauth::TokenResponse>& tokens) {
  if (!tokens.ok()) {
    spdlog::warn("console: connecting account '{}': {}", name, tokens.status().message());
    return CallbackPage(
        "Connection failed",
        Notice("error", "account '" + name + "' was not connected: " + tokens.status().message()),
        false);
  }
  Status saved = s.deps.tokens->SaveGrant(name, oauth::Flow::kBrowser, token_url, *tokens);
  if (!saved.ok()) {
    return CallbackPage("Connection failed", Notice("error", saved.message()), false);
  }
  std::string body = Notice("ok", "Account '" + name + "' is connected.", "connected");
  if (tokens->refresh_token.empty()) {
    body += Notice("warning",
                   "The provider issued no refresh token (is offline_access among the scopes?); "
                   "mail will stop when the access token expires.",
                   "no-refresh-token");
  }
  return CallbackPage("Account connected", body, true);
}

HttpResponse AccountFormPage(Console::State& s, RequestContext& ctx, const std::string& notice,
                             int status = 200) {
  auto a = s.store().GetAccount(ctx.PathParam("name"));
  if (!a.ok()) return ErrorPage(ctx, a.status(), "accounts");
  return HttpResponse::Html(
      RenderAccountForm(Frame(ctx, "Edit " + a->name, "accounts"), *a, notice), status);
}

}  // namespace

StatusOr<oauth::AccountEdit> EditAccount(Console::State& s, const std::string& name,
                                         const store::AccountUpdate& edit) {
  return oauth::EditAccount(s.store(), name, edit);
}

HttpResponse ConnectClientCredentials(Console::State& s, const std::string& name,
                                      std::function<HttpResponse(const Status&)> render) {
  if (!s.deps.http || !s.deps.tokens) {
    return render(
        Status::FailedPrecondition("connecting accounts is not available in this server"));
  }
  auto a = s.store().GetAccount(name);
  if (!a.ok()) return render(a.status());
  auto endpoints = oauth::ResolveEndpoints(*a);
  if (!endpoints.ok()) return render(endpoints.status());
  auto scopes = oauth::ScopesFor(*a, oauth::Flow::kClientCredentials);
  if (!scopes.ok()) return render(scopes.status());
  if (a->client_secret.empty()) {
    return render(Status::InvalidArgument(
        "account '" + name +
        "' has no client secret; app-only (client credentials) needs one: Edit the account and "
        "enter it"));
  }
  struct Fetched {
    StatusOr<oauth::TokenResponse> tokens;
  };
  // The token request is an HTTP call: off the server's thread.
  std::function<Fetched()> fetch = [http = s.deps.http, token_url = endpoints->token,
                                    client = oauth::Client{a->client_id, a->client_secret},
                                    scopes = *scopes] {
    oauth::OAuthError error;
    return Fetched{
        oauth::ClientCredentialsGrant(*http, token_url, client, scopes, oauth::Timeouts{}, &error)};
  };
  std::function<HttpResponse(Fetched)> finish = [&s, name, token_url = endpoints->token,
                                                 render = std::move(render)](Fetched f) {
    if (!f.tokens.ok()) {
      spdlog::warn("console: app-only token for account '{}': {}", name,
                   f.tokens.status().message());
      return render(f.tokens.status());
    }
    return render(
        s.deps.tokens->SaveGrant(name, oauth::Flow::kClientCredentials, token_url, *f.tokens));
  };
  return s.OffThread(std::move(fetch), std::move(finish));
}

HttpResponse HandleAccountCallback(Console::State& s, const HttpRequest& req) {
  const Params q = ParseUrlEncoded(req.query);
  const std::string state = Param(q, "state");
  auto taken = state.empty() ? StatusOr<store::PendingAuthorization>(Status::NotFound("no state"))
                             : s.store().TakePendingAuthorization(state, s.now());
  if (!taken.ok()) {
    if (taken.status().kind() != Status::Kind::kNotFound) {
      spdlog::error("console: Connect callback: {}", taken.status().ToString());
    }
    return CallbackPage("Connection failed",
                        Notice("error",
                               "this sign-in is unknown or has expired; press Connect on the "
                               "Connected Accounts page again"),
                        false);
  }
  const store::PendingAuthorization& p = *taken;
  if (!s.deps.http || !s.deps.tokens) {
    return CallbackPage("Connection failed",
                        Notice("error", "connecting accounts is not available in this server"),
                        false);
  }
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
  // Redeeming the code is an HTTP call to the token endpoint (up to its
  // timeout): off the server's thread. Saving the grant uses the store: back
  // on it.
  struct Redeemed {
    StatusOr<oauth::TokenResponse> tokens;
  };
  oauth::AuthorizationRequest request;
  request.state = p.state;
  request.code_verifier = p.code_verifier;
  request.redirect_uri = p.redirect_uri;
  request.token_url = p.token_url;
  request.scopes = p.scopes;
  std::function<Redeemed()> redeem = [http = s.deps.http, request = std::move(request),
                                      client = oauth::Client{a->client_id, a->client_secret},
                                      response] {
    oauth::OAuthError error;
    return Redeemed{
        oauth::CompleteAuthorization(*http, request, client, response, oauth::Timeouts{}, &error)};
  };
  std::function<HttpResponse(Redeemed)> finish = [&s, name = a->name,
                                                  token_url = p.token_url](Redeemed r) {
    return FinishConnect(s, name, token_url, r.tokens);
  };
  return s.OffThread(std::move(redeem), std::move(finish));
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
  s.router.Add("GET", "/accounts/{name}", [&s](RequestContext& ctx) {
    std::string notice;
    const std::string saved = Param(ctx.query, "saved");
    if (saved == "unchanged") {
      notice = Notice("ok", "Nothing to change.", "saved");
    } else if (saved == "grant-removed") {
      notice = Notice("warning",
                      "Saved. The old grant belongs to the previous app, tenant or token URL "
                      "and was removed: press Connect to sign in again.",
                      "saved");
    } else if (saved == "token-cleared") {
      notice = Notice("ok",
                      "Saved. The next token is requested with the new configuration; the "
                      "account's alert clears when it comes.",
                      "saved");
    } else if (!saved.empty()) {
      notice = Notice("ok", "Saved.", "saved");
    }
    return AccountFormPage(s, ctx, notice);
  });
  s.router.Add("POST", "/accounts/{name}", [&s](RequestContext& ctx) {
    const std::string& name = ctx.PathParam("name");
    store::AccountUpdate edit;
    edit.client_id = Param(ctx.form, "client_id");
    const std::string secret = Param(ctx.form, "client_secret");
    if (HasParam(ctx.form, "clear_client_secret")) {
      edit.client_secret = store::Secret();
    } else if (!secret.empty()) {
      edit.client_secret = store::Secret(secret);
    }
    if (HasParam(ctx.form, "tenant")) edit.tenant = Param(ctx.form, "tenant");
    if (HasParam(ctx.form, "authority")) edit.authority = Param(ctx.form, "authority");
    // Shown for generic accounts only; EditAccount refuses them for the others.
    if (HasParam(ctx.form, "auth_url")) edit.auth_url = Param(ctx.form, "auth_url");
    if (HasParam(ctx.form, "token_url")) edit.token_url = Param(ctx.form, "token_url");
    if (HasParam(ctx.form, "device_url")) edit.device_url = Param(ctx.form, "device_url");
    edit.scopes = SplitWords(Param(ctx.form, "scopes"));
    auto result = EditAccount(s, name, edit);
    if (!result.ok()) {
      const Status& st = result.status();
      const int code = HttpStatusFor(st);
      if (code >= 500 || code == 404) return ErrorPage(ctx, st, "accounts");
      return AccountFormPage(s, ctx, Notice("error", st.message()), code);
    }
    // What the user must do next, as `mailgate account edit` says it.
    std::string next = "saved";
    if (result->changed.empty()) {
      next = "unchanged";
    } else if (result->grant_removed) {
      next = "grant-removed";
    } else if (result->token_cleared) {
      next = "token-cleared";
    }
    return HttpResponse::Redirect("/accounts/" + UrlEncode(name) + "?saved=" + next);
  });
  s.router.Add("POST", "/accounts/{name}/client-credentials", [&s](RequestContext& ctx) {
    const std::string name = ctx.PathParam("name");
    return ConnectClientCredentials(s, name, [name](const Status& st) {
      if (st.ok()) {
        return CallbackPage(
            "Account connected",
            Notice("ok", "Account '" + name + "' is connected (app-only: client credentials).",
                   "connected"),
            true);
      }
      return CallbackPage(
          "Connection failed",
          Notice("error", "account '" + name + "' was not connected: " + st.message()), false);
    });
  });
  s.router.Add("POST", "/accounts/{name}/delete", [&s](RequestContext& ctx) {
    const std::string& name = ctx.PathParam("name");
    Status st = s.store().DeleteAccount(name);
    if (!st.ok()) return ErrorPage(ctx, st, "accounts");
    (void)s.store().ResolveAlerts("account/" + name, s.now());
    return HttpResponse::Redirect("/accounts?deleted=" + UrlEncode(name));
  });
}

}  // namespace mailgate::web
