#include "oauth/token_endpoint.h"

#include <cctype>
#include <charconv>

#include "http/json.h"

namespace mailgate::oauth {

bool IsPermanentOAuthError(std::string_view error) {
  static constexpr std::string_view kPermanent[] = {
      "invalid_grant", "invalid_client",         "unauthorized_client",
      "invalid_scope", "unsupported_grant_type", "invalid_request",
      "access_denied", "consent_required",       "interaction_required",
      "expired_token", "authorization_declined", "bad_verification_code",
      "invalid_target"};
  for (auto p : kPermanent) {
    if (error == p) return true;
  }
  return false;
}

namespace {

// The provider's words go into error messages, logs and terminals: no control
// characters (a line break or an escape sequence would forge a log line or
// repaint a terminal), and a bounded length.
std::string Printable(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > max) out += "...";
  return out;
}

// "AADSTS700082: The refresh token ..." -> "AADSTS700082", and `desc` keeps the
// rest. By hand rather than std::regex: libstdc++'s regex recurses once per
// character, and a description of some 50,000 digits overflowed the stack
// (fuzz/corpus/oauth_response/regression-aadsts-digits).
std::string TakeAadstsCode(std::string& desc) {
  constexpr std::string_view kPrefix = "AADSTS";
  if (desc.compare(0, kPrefix.size(), kPrefix) != 0) return "";
  std::size_t i = kPrefix.size();
  while (i < desc.size() && std::isdigit(static_cast<unsigned char>(desc[i]))) ++i;
  if (i == kPrefix.size() || i >= desc.size() || desc[i] != ':') return "";
  std::string code = desc.substr(0, i);
  ++i;
  while (i < desc.size() && std::isspace(static_cast<unsigned char>(desc[i]))) ++i;
  desc.erase(0, i);
  return code;
}

}  // namespace

bool ParseOAuthError(std::string_view body, OAuthError& e) {
  auto o = http::ParseJsonObject(body, "error");
  if (!o.ok()) return false;
  auto err = http::GetString(*o, "error");
  if (!err || err->empty()) return false;
  e.error = Printable(*err, 100);
  std::string desc = http::GetString(*o, "error_description").value_or("");
  // Microsoft appends "\r\nTrace ID: ...\r\nCorrelation ID: ..." lines.
  desc = desc.substr(0, desc.find_first_of("\r\n"));
  if (std::string code = TakeAadstsCode(desc); !code.empty()) {
    e.code = Printable(code, 20);
  } else if (auto it = o->find("error_codes"); it != o->end() && it->value().is_array() &&
                                               !it->value().as_array().empty() &&
                                               it->value().as_array()[0].is_int64()) {
    e.code = "AADSTS" + std::to_string(it->value().as_array()[0].as_int64());
  }
  e.description = Printable(desc, 500);
  return true;
}

std::string DescribeOAuthError(const OAuthError& e) {
  std::string out = e.error;
  if (!e.code.empty()) out += ": " + e.code;
  if (!e.description.empty()) out += ": " + e.description;
  return out;
}

StatusOr<TokenResponse> RequestToken(http::HttpClient& http, const std::string& url,
                                     const Client& client, Form form, const Timeouts& timeouts,
                                     OAuthError* error) {
  OAuthError local;
  OAuthError& e = error ? *error : local;
  e = OAuthError();
  form.emplace_back("client_id", client.client_id);
  if (!client.client_secret.empty())
    form.emplace_back("client_secret", client.client_secret.reveal());
  http::Request req;
  req.method = "POST";
  req.url = url;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"}};
  req.body = http::FormEncode(form);
  req.connect_timeout = timeouts.connect;
  req.total_timeout = timeouts.total;
  auto resp = http.Send(req);
  // The body held the secret and the grant; wipe our copy.
  std::fill(req.body.begin(), req.body.end(), '\0');
  if (!resp.ok()) return resp.status();

  if (resp->status != 200) {
    e.http_status = resp->status;
    if (auto ra = resp->Header("retry-after"); !ra.empty()) {
      std::from_chars(ra.data(), ra.data() + ra.size(), e.retry_after);
    }
    const bool oauth = ParseOAuthError(resp->body, e);
    const std::string what =
        "the token endpoint " + url + " answered HTTP " + std::to_string(resp->status);
    if (resp->status >= 500 || resp->status == 429 || e.error == "temporarily_unavailable" ||
        e.error == "server_error") {
      return Status::Transient(what + (oauth ? " (" + DescribeOAuthError(e) + ")" : "") +
                               "; retrying later");
    }
    if (!oauth) {
      return Status::Protocol(what +
                              " without an OAuth error; check the token URL (--token-url "
                              "or --authority/--tenant)");
    }
    if (IsPermanentOAuthError(e.error)) return Status::Auth(DescribeOAuthError(e));
    // authorization_pending, slow_down and unknown errors: the caller decides.
    return Status::Protocol(DescribeOAuthError(e));
  }
  auto o = http::ParseJsonObject(resp->body, "the token endpoint's answer");
  if (!o.ok()) return o.status();
  TokenResponse t;
  auto at = http::GetString(*o, "access_token");
  if (!at || at->empty()) {
    return Status::Protocol("the token endpoint " + url + " answered without an access_token");
  }
  t.access_token = store::Secret(std::move(*at));
  if (auto rt = http::GetString(*o, "refresh_token"))
    t.refresh_token = store::Secret(std::move(*rt));
  t.expires_in = http::GetInt(*o, "expires_in").value_or(3600);
  if (t.expires_in <= 0) t.expires_in = 60;
  t.scope = http::GetString(*o, "scope").value_or("");
  // Best effort: do not leave the tokens in the response buffer.
  std::fill(resp->body.begin(), resp->body.end(), '\0');
  return t;
}

}  // namespace mailgate::oauth
