// The flows that obtain a grant. Each is split so that the part that talks
// to the user (print a URL, wait for a browser, show a code) stays with the
// caller: the CLI uses a loopback listener, the web console its own callback.
#ifndef MAILGATE_OAUTH_FLOWS_H_
#define MAILGATE_OAUTH_FLOWS_H_

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "oauth/clock.h"
#include "oauth/provider.h"
#include "oauth/token_endpoint.h"

namespace mailgate::oauth {

// The client identity for token requests of a grant obtained by `flow`: the
// account's client ID, and its secret only where SendsClientSecret says so.
Client ClientFor(const store::Account& account, Flow flow);

// --- Authorization code with PKCE (RFC 6749 §4.1, RFC 7636 S256) ---------

// Everything needed to finish an authorization started with the URL below.
// Keep it server-side until the redirect comes back: `code_verifier` is a
// secret, and `state` ties the redirect to this request.
struct AuthorizationRequest {
  std::string url;  // to open in the user's browser
  std::string state;
  store::Secret code_verifier;
  std::string redirect_uri;
  std::string token_url;  // where the code is redeemed
  std::vector<std::string> scopes;
};

// Builds the authorization URL with a fresh state and PKCE verifier.
// REQUIRES: !endpoints.authorize.empty().
AuthorizationRequest BuildAuthorizationRequest(const Endpoints& endpoints,
                                               const std::string& client_id,
                                               const std::vector<std::string>& scopes,
                                               const std::string& redirect_uri, Random& random,
                                               const std::string& login_hint = "");

// The S256 code challenge of a verifier (base64url(SHA-256(verifier))).
std::string CodeChallengeS256(const std::string& verifier);

// What came back to the redirect URI (query parameters).
struct AuthorizationResponse {
  std::string code;
  std::string state;
  std::string error;              // set when the provider refused
  std::string error_description;  //
};

// Checks `state` (constant time) and the provider's error, then redeems the
// code with the verifier. kAuth when the user or provider refused.
StatusOr<TokenResponse> CompleteAuthorization(http::HttpClient& http,
                                              const AuthorizationRequest& request,
                                              const Client& client,
                                              const AuthorizationResponse& response,
                                              const Timeouts& timeouts, OAuthError* error);

// --- Device authorization grant (RFC 8628) --------------------------------

struct DeviceAuthorization {
  store::Secret device_code;
  std::string user_code;
  std::string verification_uri;
  std::string message;  // the provider's own instructions, when given
  int64_t expires_in = 900;
  int64_t interval = 5;
};

// Fills `*error` (when given) with the provider's refusal.
StatusOr<DeviceAuthorization> StartDeviceAuthorization(
    http::HttpClient& http, const Endpoints& endpoints, const Client& client,
    const std::vector<std::string>& scopes, const Timeouts& timeouts, OAuthError* error = nullptr);

// Polls the token endpoint every `interval` seconds (plus 5 more after each
// slow_down, RFC 8628 §3.5) until the user approves, refuses, or the code
// expires. Sleeps through `clock`.
StatusOr<TokenResponse> PollDeviceAuthorization(http::HttpClient& http, Clock& clock,
                                                const Endpoints& endpoints, const Client& client,
                                                const DeviceAuthorization& device,
                                                const Timeouts& timeouts, OAuthError* error);

// --- Refresh and client credentials ----------------------------------------

StatusOr<TokenResponse> RefreshGrant(http::HttpClient& http, const std::string& token_url,
                                     const Client& client, const store::Secret& refresh_token,
                                     const std::vector<std::string>& scopes,
                                     const Timeouts& timeouts, OAuthError* error);

// App-only token (RFC 6749 §4.4); needs a client secret.
StatusOr<TokenResponse> ClientCredentialsGrant(http::HttpClient& http, const std::string& token_url,
                                               const Client& client,
                                               const std::vector<std::string>& scopes,
                                               const Timeouts& timeouts, OAuthError* error);

}  // namespace mailgate::oauth

#endif  // MAILGATE_OAUTH_FLOWS_H_
