// Talking to an OAuth 2.0 token endpoint (RFC 6749 §4-6, RFC 8628 §3.4):
// one form POST, a token or an error, and the error graded so the caller's
// policy is mechanical.
#ifndef MAILGATE_OAUTH_TOKEN_ENDPOINT_H_
#define MAILGATE_OAUTH_TOKEN_ENDPOINT_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "http/http_client.h"
#include "store/vault.h"

namespace mailgate::oauth {

using Form = std::vector<std::pair<std::string, std::string>>;

struct TokenResponse {
  store::Secret access_token;
  store::Secret refresh_token;  // empty when the provider sent none
  int64_t expires_in = 3600;    // seconds
  std::string scope;            // as granted, when the provider says
};

// An error answer from the provider, without secrets.
struct OAuthError {
  std::string error;        // the OAuth `error` field: invalid_grant, ...
  std::string description;  // first line of error_description (no trace IDs)
  std::string code;         // "AADSTS700082" when the provider gave one
  int http_status = 0;
  int64_t retry_after = 0;  // seconds, from Retry-After on 429/503
};

// The client's identity at the token endpoint.
struct Client {
  std::string client_id;
  store::Secret client_secret;  // sent as client_secret (client_secret_post) when set
};

struct Timeouts {
  std::chrono::milliseconds connect{10000};
  std::chrono::milliseconds total{30000};
};

// POSTs `form` (plus client_id/client_secret) to `url`. On failure returns:
//   kAuth      - the provider refused the grant or the client for good
//                (invalid_grant, invalid_client, unauthorized_client, ...);
//   kTransient - 5xx, 429, temporarily_unavailable, timeouts;
//   kConnect   - network; kTls - certificates;
//   kProtocol  - an answer that is not OAuth (wrong URL?);
// and fills `*error` (when given) with what the provider said.
StatusOr<TokenResponse> RequestToken(http::HttpClient& http, const std::string& url,
                                     const Client& client, Form form, const Timeouts& timeouts,
                                     OAuthError* error);

// True for OAuth errors that no retry will fix.
bool IsPermanentOAuthError(std::string_view error);

// Builds the user-facing message for a provider error:
// "invalid_grant: AADSTS700082: The refresh token has expired ...".
std::string DescribeOAuthError(const OAuthError& e);

// Parses an OAuth error body (JSON) into `e`; false when it is not one.
bool ParseOAuthError(std::string_view body, OAuthError& e);

}  // namespace mailgate::oauth

#endif  // MAILGATE_OAUTH_TOKEN_ENDPOINT_H_
