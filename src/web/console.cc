#include "web/console.h"

#include <spdlog/spdlog.h>

#include "web/console_internal.h"
#include "web/html.h"

namespace mailgate::web {
namespace {

bool IsUnsafe(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// The API and /metrics: JSON errors, bearer tokens accepted.
bool IsApi(std::string_view path) {
  return path == "/api" || path.starts_with("/api/") || path == "/metrics";
}

// Only local paths: "/x" but not "//host" or "/\host" (open redirects).
std::string SafeNext(std::string_view next) {
  if (next.size() < 1 || next[0] != '/' || next.starts_with("//") || next.starts_with("/\\")) {
    return "/";
  }
  for (char c : next) {
    if (static_cast<unsigned char>(c) < 0x20) return "/";
  }
  return std::string(next);
}

void AddSecurityHeaders(HttpResponse& r) {
  bool has_csp = false;
  for (const auto& [k, v] : r.headers) has_csp |= k == "Content-Security-Policy";
  if (!has_csp) r.headers.emplace_back("Content-Security-Policy", kContentSecurityPolicy);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cache-Control", "no-store");
}

// The host[:port] of an Origin header ("https://h:1" -> "h:1").
std::string_view OriginHost(std::string_view origin) {
  const size_t scheme = origin.find("://");
  return scheme == std::string_view::npos ? origin : origin.substr(scheme + 3);
}

std::string LoginPage(std::string_view error, std::string_view next, int status_hint = 0) {
  (void)status_hint;
  std::string body = "<h1>Sign in</h1>";
  if (!error.empty()) body += Notice("error", error, "login-error");
  body += "<form class=\"stacked\" method=\"post\" action=\"/login\" id=\"login-form\">";
  body += "<input type=\"hidden\" name=\"next\" value=\"" + EscapeHtml(next) + "\">";
  body +=
      "<label for=\"user\">User</label><input type=\"text\" id=\"user\" name=\"user\" "
      "value=\"admin\" autocomplete=\"username\" required>"
      "<label for=\"password\">Password</label><input type=\"password\" id=\"password\" "
      "name=\"password\" autocomplete=\"current-password\" required autofocus>"
      "<div class=\"actions\"><button type=\"submit\" id=\"login\">Sign in</button></div></form>"
      "<p class=\"meta\">The administrator's password was printed when <code>mailgate "
      "serve</code> first started; set a new one with <code>mailgate admin set-password</code>."
      "</p>";
  return RenderPage({"Sign in", "", "", "", 0, ""}, body);
}

HttpResponse LoginRefused(const Status& status, const std::string& next) {
  const int code = status.kind() == Status::Kind::kTransient ? 429
                   : status.kind() == Status::Kind::kAuth    ? 401
                                                             : 500;
  if (code == 500) spdlog::error("console: sign-in: {}", status.ToString());
  return HttpResponse::Html(LoginPage(status.message(), next), code);
}

}  // namespace

std::string LogUnexpected(const std::exception& e) {
  spdlog::error("console: unexpected error: {}", e.what());
  return "internal error; see the server log\n";
}

PageFrame Frame(const RequestContext& ctx, std::string title, std::string nav) {
  return PageFrame{std::move(title), std::move(nav), ctx.principal.user, ctx.principal.csrf, 0, ""};
}

int HttpStatusFor(const Status& s) {
  switch (s.kind()) {
    case Status::Kind::kInvalidArgument:
      return 400;
    case Status::Kind::kNotFound:
      return 404;
    case Status::Kind::kAlreadyExists:
    case Status::Kind::kFailedPrecondition:
      return 409;
    case Status::Kind::kAuth:
      return 401;
    case Status::Kind::kTransient:
      return 503;
    default:
      return 500;
  }
}

HttpResponse ErrorPage(const RequestContext& ctx, const Status& status, std::string_view nav) {
  const int code = HttpStatusFor(status);
  if (code >= 500)
    spdlog::error("console: {} {}: {}", ctx.request.method, ctx.request.path, status.ToString());
  std::string body = "<h1>Something went wrong</h1>";
  body += Notice("error", status.message(), "error");
  return HttpResponse::Html(RenderPage(Frame(ctx, "Error", std::string(nav)), body), code);
}

Console::Console(ConsoleDeps deps, ConsoleOptions options)
    : state_(std::make_unique<State>(deps, std::move(options))) {
  State& s = *state_;
  s.router.Add("GET", "/", [](RequestContext&) { return HttpResponse::Redirect("/mailboxes"); });
  AddAccountPages(s);
  AddTransportPages(s);
  AddMailboxPages(s);
  AddConversationPages(s);
  AddSchedulerPages(s);
  AddAlertPages(s);
  AddTokenPages(s);
  AddApi(s);
  s.router.Add("GET", "/metrics", [&s](RequestContext&) {
    if (!s.options.metrics) return JsonError(404, "no metrics in this build");
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = s.options.metrics();
    return r;
  });
}

Console::~Console() = default;

Authenticator& Console::auth() {
  return state_->auth;
}

std::vector<std::pair<std::string, std::string>> Console::Routes() const {
  auto routes = state_->router.Routes();
  routes.emplace_back("POST", "/logout");
  return routes;
}

namespace {

HttpResponse Dispatch(Console::State& s, const HttpRequest& req) {
  const std::string_view path = req.path;
  const bool api = IsApi(path);
  if (req.body.size() > s.options.max_body_bytes) {
    return api ? JsonError(413, "the request body is too large")
               : HttpResponse::Text("request body too large\n", 413);
  }

  // Public: health, the stylesheet, signing in.
  if (path == "/healthz") return HttpResponse::Text("ok\n", 200);
  if (path == "/static/console.css") {
    HttpResponse r;
    r.content_type = "text/css; charset=utf-8";
    r.body = std::string(ConsoleCss());
    return r;
  }

  // A cross-site POST with a foreign Origin is refused before anything
  // else (defence in depth; SameSite=Strict and the CSRF token are the
  // walls).
  if (IsUnsafe(req.method)) {
    const std::string_view origin = req.Header("origin");
    if (!origin.empty() && origin != "null" && OriginHost(origin) != req.Header("host")) {
      return api ? JsonError(403, "cross-origin request refused")
                 : HttpResponse::Text("cross-origin request refused\n", 403);
    }
  }

  if (path == "/login") {
    const Params query = ParseUrlEncoded(req.query);
    if (req.method == "GET" || req.method == "HEAD") {
      return HttpResponse::Html(LoginPage("", SafeNext(Param(query, "next"))));
    }
    if (req.method != "POST") return HttpResponse::Text("method not allowed\n", 405);
    const Params form = ParseUrlEncoded(req.body);
    const std::string next = SafeNext(Param(form, "next"));
    auto attempt = s.auth.BeginLogin(Param(form, "user"), req.remote_ip);
    if (!attempt.ok()) return LoginRefused(attempt.status(), next);
    // Argon2id off the server's thread; the store again back on it.
    std::function<bool()> verify = [a = *attempt, password = Param(form, "password")] {
      return Authenticator::CheckPassword(a, password);
    };
    std::function<HttpResponse(bool)> finish = [&s, a = *attempt, next](bool password_ok) {
      auto result = s.auth.FinishLogin(a, password_ok);
      if (!result.ok()) return LoginRefused(result.status(), next);
      HttpResponse r = HttpResponse::Redirect(next);
      r.headers.emplace_back("Set-Cookie", result->set_cookie);
      return r;
    };
    return s.OffThread(std::move(verify), std::move(finish));
  }

  // The identity provider's redirect after Connect. Public because the
  // session cookie is SameSite=Strict and a redirect from another site does
  // not carry it; the unguessable `state` ties it to the Connect that
  // started it (see pages_accounts.cc).
  if (path == "/accounts/callback" && req.method == "GET") {
    return HandleAccountCallback(s, req);
  }

  // Everything else needs a principal: an API token (API only) or a session.
  StatusOr<Principal> principal = Status::NotFound("no credentials");
  const std::string_view authorization = req.Header("authorization");
  if (api && !authorization.empty()) {
    if (authorization.size() > 7 &&
        (authorization.starts_with("Bearer ") || authorization.starts_with("bearer "))) {
      principal = s.auth.FromApiToken(authorization.substr(7));
    }
  } else {
    principal = s.auth.FromSessionCookie(req.Cookie(kSessionCookie));
  }
  if (!principal.ok()) {
    if (principal.status().kind() != Status::Kind::kNotFound) {
      spdlog::error("console: authenticating: {}", principal.status().ToString());
      return api ? JsonError(500, "the store could not be read; see the server log")
                 : HttpResponse::Text("the store could not be read; see the server log\n", 500);
    }
    if (api) {
      HttpResponse r = JsonError(
          401,
          "authentication required: send `Authorization: Bearer mg_...` (create a token with "
          "`mailgate api-token create NAME`) or sign in to the console");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"mailgate\"");
      return r;
    }
    std::string target = "/login";
    if (req.method == "GET") {
      std::string here = req.path;
      if (!req.query.empty()) here += "?" + req.query;
      target += "?next=" + UrlEncode(here);
    }
    HttpResponse r = HttpResponse::Redirect(target);
    if (!req.Cookie(kSessionCookie).empty()) {
      r.headers.emplace_back("Set-Cookie", s.auth.ClearCookie());
    }
    return r;
  }

  const std::string_view content_type = req.Header("content-type");
  Params form;
  if (content_type.starts_with("application/x-www-form-urlencoded")) {
    form = ParseUrlEncoded(req.body);
  }
  if (IsUnsafe(req.method) && principal->via == Principal::Via::kSession) {
    std::string given(req.Header("x-csrf-token"));
    if (given.empty()) given = Param(form, "csrf");
    if (!Authenticator::CheckCsrf(*principal, given)) {
      const char* msg = "the request carries no valid CSRF token; reload the page and try again";
      return api ? JsonError(403, msg) : HttpResponse::Text(std::string(msg) + "\n", 403);
    }
  }

  if (path == "/logout" && req.method == "POST") {
    HttpResponse r = HttpResponse::Redirect("/login");
    r.headers.emplace_back("Set-Cookie", s.auth.Logout(*principal));
    return r;
  }

  auto match = s.router.Find(req.method, path);
  if (match.outcome == Router::Outcome::kNotFound) {
    return api ? JsonError(404, "no such endpoint; see docs/openapi.yaml")
               : HttpResponse::Text("not found\n", 404);
  }
  if (match.outcome == Router::Outcome::kMethodNotAllowed) {
    HttpResponse r = api ? JsonError(405, "method not allowed")
                         : HttpResponse::Text("method not allowed\n", 405);
    r.headers.emplace_back("Allow", match.allow);
    return r;
  }
  RequestContext ctx{req, std::move(match.params), *principal, ParseUrlEncoded(req.query),
                     std::move(form)};
  return (*match.handler)(ctx);
}

}  // namespace

HttpResponse Console::Handle(const HttpRequest& request) {
  HttpResponse r;
  try {
    r = Dispatch(*state_, request);
  } catch (const std::exception& e) {
    spdlog::error("console: {} {}: unexpected error: {}", request.method, request.path, e.what());
    r = HttpResponse::Text("internal error; see the server log\n", 500);
  }
  if (r.later) {
    auto start = std::move(r.later);
    r.later = [start = std::move(start)](std::function<void(HttpResponse)> done) {
      start([done = std::move(done)](HttpResponse inner) {
        AddSecurityHeaders(inner);
        done(std::move(inner));
      });
    };
    return r;
  }
  AddSecurityHeaders(r);
  return r;
}

}  // namespace mailgate::web
