// API Tokens: create (the token is shown once), list, revoke.
#include "web/console_internal.h"
#include "web/html.h"
#include "web/pages.h"

namespace mailgate::web {

std::string RenderTokensPage(const PageFrame& frame, const std::vector<store::ApiToken>& tokens,
                             const std::string& new_token, const std::string& notice_html) {
  std::string body = "<h1>API Tokens</h1>" + notice_html;
  if (!new_token.empty()) {
    body +=
        "<div class=\"notice ok\">Copy the new token now; it is not shown again:<br><code "
        "id=\"new-token\">" +
        EscapeHtml(new_token) + "</code></div>";
  }
  body +=
      "<p>Clients of the REST API (<code>/api/v1/</code>, described in "
      "<code>docs/openapi.yaml</code>) send <code>Authorization: Bearer mg_...</code>. The "
      "command line does the same: <code>mailgate api-token create|list|revoke</code>.</p>";
  if (tokens.empty()) {
    body += "<p id=\"no-tokens\">No API tokens.</p>";
  } else {
    body +=
        "<table id=\"tokens\"><tr><th>Name</th><th>Starts with</th><th>Created</th>"
        "<th>Last used</th><th></th></tr>";
    for (const auto& t : tokens) {
      body += "<tr><td>" + EscapeHtml(t.name) + "</td><td><code>" + EscapeHtml(t.prefix) +
              "...</code></td><td>" + FormatTime(t.created_at) + "</td><td>" +
              FormatTime(t.last_used_at) + "</td><td>" +
              PostButton("/tokens/" + UrlEncode(t.name) + "/revoke", frame.csrf, "Revoke",
                         "token-revoke-" + t.name, "danger") +
              "</td></tr>";
    }
    body += "</table>";
  }
  body +=
      "<h2>Create a token</h2><form class=\"stacked\" method=\"post\" action=\"/tokens\" "
      "id=\"token-form\">" +
      CsrfField(frame.csrf) + TextField("name", "Name", "", "e.g. the client that uses it") +
      "<div class=\"actions\"><button type=\"submit\" id=\"token-create\">Create</button>"
      "</div></form>";
  return RenderPage(frame, body);
}

void AddTokenPages(Console::State& s) {
  auto page = [&s](RequestContext& ctx, const std::string& token, const std::string& notice,
                   int status) {
    auto tokens = s.store().ListApiTokens();
    if (!tokens.ok()) return ErrorPage(ctx, tokens.status(), "tokens");
    return HttpResponse::Html(
        RenderTokensPage(Frame(ctx, "API Tokens", "tokens"), *tokens, token, notice), status);
  };
  s.router.Add("GET", "/tokens", [page](RequestContext& ctx) {
    const std::string revoked = Param(ctx.query, "revoked");
    return page(ctx, "",
                revoked.empty() ? std::string() : Notice("ok", "Revoked '" + revoked + "'."), 200);
  });
  // The new token is rendered in the POST's response (not after a
  // redirect), so it never sits in a URL or a later page.
  s.router.Add("POST", "/tokens", [&s, page](RequestContext& ctx) {
    auto token = s.auth.CreateApiToken(Param(ctx.form, "name"));
    if (!token.ok()) {
      return page(ctx, "", Notice("error", token.status().message()),
                  HttpStatusFor(token.status()));
    }
    return page(ctx, *token, "", 201);
  });
  s.router.Add("POST", "/tokens/{name}/revoke", [&s](RequestContext& ctx) {
    const std::string& name = ctx.PathParam("name");
    Status st = s.store().RevokeApiToken(name);
    if (!st.ok()) return ErrorPage(ctx, st, "tokens");
    return HttpResponse::Redirect("/tokens?revoked=" + UrlEncode(name));
  });
}

}  // namespace mailgate::web
