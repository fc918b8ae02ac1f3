// The token manager: hands out an account's access token, refreshing it
// early and exactly once.
//
// - A cached access token is returned while more than `refresh_margin`
//   remains (Microsoft's high-volume endpoints refuse tokens that expire
//   soon: "501 5.5.127 Token will expire soon").
// - Single flight: threads of one process wait on a per-account mutex;
//   processes sharing the store wait on the store's refresh lease. Exactly
//   one token request goes out; the others read its result from the store.
// - The rotated refresh token is committed to the store before the new
//   access token is returned; when the provider sends none, the old one is
//   kept.
// - Permanent refusals (invalid_grant, invalid_client, ...) set the account
//   to reauthorization_required, raise an alert, and stop all requests until
//   `mailgate account authorize` runs again. Transient failures set it to
//   degraded and retry with exponential backoff and jitter; the backoff is
//   kept in the store so every process honours it.
#ifndef MAILGATE_OAUTH_TOKEN_MANAGER_H_
#define MAILGATE_OAUTH_TOKEN_MANAGER_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"
#include "http/http_client.h"
#include "oauth/clock.h"
#include "oauth/provider.h"
#include "oauth/token_endpoint.h"
#include "store/store.h"

namespace mailgate::oauth {

struct TokenManagerOptions {
  std::chrono::seconds refresh_margin{600};
  // Token requests one GetAccessToken call may make while failures are
  // transient, before it returns the error (the account stays degraded).
  int max_attempts = 4;
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_max{60000};
  // How long a refresh lease lasts; longer than any one token request.
  int64_t lease_ttl_seconds = 90;
  // How often a process waiting for another's refresh looks again.
  std::chrono::milliseconds poll_interval{50};
  Timeouts timeouts;
};

class TokenManager {
 public:
  // REQUIRES: `store`, `http`, `clock` and `random` outlive the manager, and
  // nothing else uses `store` meanwhile (the manager serialises its calls).
  TokenManager(store::Store& store, http::HttpClient& http, Clock& clock, Random& random,
               TokenManagerOptions options = {});

  // A valid access token for `account`. With `force_refresh` (the server
  // refused the token it had), a new one unless another caller already
  // replaced it. Thread-safe. Errors say what to do: kAuth means the user
  // must run `mailgate account authorize`; kTransient, try again later.
  StatusOr<std::string> GetAccessToken(std::string_view account, bool force_refresh = false);

  // Stores the grant a flow just obtained (refresh token, access token,
  // flow, the token endpoint that issued it), marks the account ok and
  // resolves its alerts. Thread-safe.
  Status SaveGrant(std::string_view account, Flow flow, const std::string& token_url,
                   const TokenResponse& tokens);

  // This manager's lease holder id: "<host>:<pid>:<random>".
  const std::string& holder_id() const { return holder_; }

 private:
  std::mutex& AccountMutex(std::string_view account);
  bool HolderIsDead(const std::string& holder) const;
  StatusOr<TokenResponse> Request(const store::Account& a, OAuthError* error);
  std::chrono::milliseconds Backoff(int failures);

  store::Store& store_;
  http::HttpClient& http_;
  Clock& clock_;
  Random& random_;
  const TokenManagerOptions options_;
  std::string host_;
  std::string holder_;

  std::mutex store_mu_;  // guards every call into store_
  std::mutex map_mu_;    // guards account_mu_
  std::map<std::string, std::unique_ptr<std::mutex>, std::less<>> account_mu_;
};

// What the mail clients take: a source of access tokens for one account.
using AccessTokenCallback = std::function<StatusOr<std::string>(bool force_refresh)>;

// A callback that asks `manager` for `account`'s token.
// REQUIRES: `manager` outlives the callback.
AccessTokenCallback MakeAccessTokenCallback(TokenManager& manager, std::string account);

// What the user must do about a refusal the provider gave for good, from
// the account's `last_error` ("invalid_client: AADSTS7000222: ...") and
// `last_error_code`: usually "run `mailgate account authorize x`"; for a
// wrong or expired client secret (AADSTS7000215, AADSTS7000222), a secret a
// public client may not send (AADSTS700025), a single-tenant app asked
// through "common" (AADSTS50194) or an unknown client ID (AADSTS700016),
// the `mailgate account edit` command that fixes the configuration, since
// authorizing again would fail the same way.
std::string RemedyFor(const store::Account& account);

// The message for an account the provider refused for good, e.g.
// "account 'x' needs re-authorization: invalid_grant: AADSTS700082: The
// refresh token has expired ...; run `mailgate account authorize x`", or
// "account 'x' cannot get tokens: invalid_client: AADSTS7000222: ...;
// create a new client secret ... `mailgate account edit x
// --client-secret-file FILE`" when the fix is in the configuration.
std::string ReauthorizationMessage(const store::Account& account);

}  // namespace mailgate::oauth

#endif  // MAILGATE_OAUTH_TOKEN_MANAGER_H_
