#include "oauth/flows.h"

#include <sodium.h>

#include "http/json.h"

namespace mailgate::oauth {

Client ClientFor(const store::Account& account, Flow flow) {
  Client c{account.client_id, {}};
  if (SendsClientSecret(account, flow)) c.client_secret = account.client_secret;
  return c;
}

std::string CodeChallengeS256(const std::string& verifier) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(verifier.data()),
                     verifier.size());
  std::string out(
      sodium_base64_encoded_len(sizeof digest, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), digest, sizeof digest,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.find('\0'));
  return out;
}

AuthorizationRequest BuildAuthorizationRequest(const Endpoints& endpoints,
                                               const std::string& client_id,
                                               const std::vector<std::string>& scopes,
                                               const std::string& redirect_uri, Random& random,
                                               const std::string& login_hint) {
  AuthorizationRequest r;
  r.state = random.Token(24);
  // 32 random bytes -> 43 characters, the RFC 7636 §4.1 minimum length.
  r.code_verifier = store::Secret(random.Token(32));
  r.redirect_uri = redirect_uri;
  r.token_url = endpoints.token;
  r.scopes = scopes;
  Form q = {{"client_id", client_id},
            {"response_type", "code"},
            {"redirect_uri", redirect_uri},
            {"response_mode", "query"},
            {"scope", JoinScopes(scopes)},
            {"state", r.state},
            {"code_challenge", CodeChallengeS256(r.code_verifier.reveal())},
            {"code_challenge_method", "S256"}};
  if (!login_hint.empty()) q.emplace_back("login_hint", login_hint);
  for (const auto& kv : endpoints.authorize_extras) q.push_back(kv);
  r.url = endpoints.authorize + (endpoints.authorize.find('?') == std::string::npos ? "?" : "&") +
          http::FormEncode(q);
  return r;
}

StatusOr<TokenResponse> CompleteAuthorization(http::HttpClient& http,
                                              const AuthorizationRequest& request,
                                              const Client& client,
                                              const AuthorizationResponse& response,
                                              const Timeouts& timeouts, OAuthError* error) {
  // State first: an answer to someone else's request must not reach the
  // provider at all (RFC 6749 §10.12).
  if (response.state.size() != request.state.size() ||
      sodium_memcmp(response.state.data(), request.state.data(), request.state.size()) != 0) {
    return Status::Auth(
        "the authorization response does not belong to this request (state mismatch); start "
        "the authorization again");
  }
  if (!response.error.empty()) {
    OAuthError e;
    e.error = response.error;
    std::string desc =
        response.error_description.substr(0, response.error_description.find_first_of("\r\n"));
    if (desc.starts_with("AADSTS")) {
      const size_t colon = desc.find(':');
      e.code = desc.substr(0, colon);
      desc = colon == std::string::npos ? "" : desc.substr(colon + 1);
      while (!desc.empty() && desc.front() == ' ') desc.erase(0, 1);
    }
    e.description = desc;
    if (error) *error = e;
    return Status::Auth("the sign-in was refused: " + DescribeOAuthError(e));
  }
  if (response.code.empty()) {
    return Status::Protocol("the provider redirected back without a code; start again");
  }
  Form form = {{"grant_type", "authorization_code"},
               {"code", response.code},
               {"redirect_uri", request.redirect_uri},
               {"code_verifier", request.code_verifier.reveal()},
               {"scope", JoinScopes(request.scopes)}};
  return RequestToken(http, request.token_url, client, std::move(form), timeouts, error);
}

StatusOr<DeviceAuthorization> StartDeviceAuthorization(
    http::HttpClient& http, const Endpoints& endpoints, const Client& client,
    const std::vector<std::string>& scopes, const Timeouts& timeouts, OAuthError* error) {
  if (endpoints.device.empty()) {
    return Status::InvalidArgument(
        "this account has no device authorization endpoint; add it again with --device-url, or "
        "use --flow browser");
  }
  Form form = {{"client_id", client.client_id}, {"scope", JoinScopes(scopes)}};
  http::Request req;
  req.method = "POST";
  req.url = endpoints.device;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"}};
  req.body = http::FormEncode(form);
  req.connect_timeout = timeouts.connect;
  req.total_timeout = timeouts.total;
  auto resp = http.Send(req);
  if (!resp.ok()) return resp.status();
  if (resp->status != 200) {
    OAuthError e;
    if (ParseOAuthError(resp->body, e)) {
      e.http_status = resp->status;
      if (error) *error = e;
      return Status::Auth("the device authorization was refused: " + DescribeOAuthError(e));
    }
    return Status::Protocol("the device endpoint " + endpoints.device + " answered HTTP " +
                            std::to_string(resp->status) + "; check --device-url");
  }
  auto o = http::ParseJsonObject(resp->body, "the device endpoint's answer");
  if (!o.ok()) return o.status();
  DeviceAuthorization d;
  auto dc = http::GetString(*o, "device_code");
  auto uc = http::GetString(*o, "user_code");
  // RFC 8628 says verification_uri; Google says verification_url.
  auto uri = http::GetString(*o, "verification_uri");
  if (!uri) uri = http::GetString(*o, "verification_url");
  if (!dc || !uc || !uri) {
    return Status::Protocol(
        "the device endpoint's answer lacks device_code, user_code or "
        "verification_uri");
  }
  d.device_code = store::Secret(*dc);
  d.user_code = *uc;
  d.verification_uri = *uri;
  d.message = http::GetString(*o, "message").value_or("");
  d.expires_in = http::GetInt(*o, "expires_in").value_or(900);
  d.interval = http::GetInt(*o, "interval").value_or(5);
  if (d.interval < 1) d.interval = 1;
  return d;
}

StatusOr<TokenResponse> PollDeviceAuthorization(http::HttpClient& http, Clock& clock,
                                                const Endpoints& endpoints, const Client& client,
                                                const DeviceAuthorization& device,
                                                const Timeouts& timeouts, OAuthError* error) {
  const int64_t deadline = clock.NowSeconds() + device.expires_in;
  int64_t interval = device.interval;
  for (;;) {
    clock.SleepFor(std::chrono::seconds(interval));
    if (clock.NowSeconds() >= deadline) {
      return Status::Auth(
          "the device code expired before the sign-in was completed; run the "
          "command again and enter the new code within " +
          std::to_string(device.expires_in / 60) + " minutes");
    }
    OAuthError e;
    Form form = {{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                 {"device_code", device.device_code.reveal()}};
    auto t = RequestToken(http, endpoints.token, client, std::move(form), timeouts, &e);
    if (t.ok()) return t;
    if (e.error == "authorization_pending") continue;
    if (e.error == "slow_down") {
      interval += 5;
      continue;
    }
    if (t.status().retryable()) continue;  // a network blip must not end the sign-in
    if (error) *error = e;
    return t.status();
  }
}

StatusOr<TokenResponse> RefreshGrant(http::HttpClient& http, const std::string& token_url,
                                     const Client& client, const store::Secret& refresh_token,
                                     const std::vector<std::string>& scopes,
                                     const Timeouts& timeouts, OAuthError* error) {
  Form form = {{"grant_type", "refresh_token"}, {"refresh_token", refresh_token.reveal()}};
  if (!scopes.empty()) form.emplace_back("scope", JoinScopes(scopes));
  return RequestToken(http, token_url, client, std::move(form), timeouts, error);
}

StatusOr<TokenResponse> ClientCredentialsGrant(http::HttpClient& http, const std::string& token_url,
                                               const Client& client,
                                               const std::vector<std::string>& scopes,
                                               const Timeouts& timeouts, OAuthError* error) {
  if (client.client_secret.empty()) {
    return Status::InvalidArgument(
        "the client-credentials flow needs a client secret; give it with `mailgate account "
        "edit NAME --client-secret-file FILE`");
  }
  Form form = {{"grant_type", "client_credentials"}, {"scope", JoinScopes(scopes)}};
  return RequestToken(http, token_url, client, std::move(form), timeouts, error);
}

}  // namespace mailgate::oauth
