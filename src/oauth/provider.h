// Identity providers: where an account's authorize, token and device
// endpoints are, and which scopes it asks for by default.
#ifndef MAILGATE_OAUTH_PROVIDER_H_
#define MAILGATE_OAUTH_PROVIDER_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace mailgate::oauth {

inline constexpr std::string_view kMicrosoftAuthority = "https://login.microsoftonline.com";
inline constexpr std::string_view kMicrosoftAppOnlyScope = "https://outlook.office365.com/.default";
inline constexpr std::string_view kGoogleMailScope = "https://mail.google.com/";

// The flows Mailgate can run to obtain a grant.
enum class Flow { kBrowser, kDevice, kClientCredentials };
std::string_view FlowName(Flow flow);  // "browser", "device", "client-credentials"
StatusOr<Flow> ParseFlow(std::string_view name);

struct Endpoints {
  std::string authorize;  // empty when the provider has none
  std::string token;
  std::string device;  // empty when the provider has none
  // Extra authorization request parameters the provider needs (Google:
  // access_type=offline, or it issues no refresh token).
  std::vector<std::pair<std::string, std::string>> authorize_extras;
};

// Fills in defaults (Microsoft authority and tenant "common") and checks the
// account's configuration: known provider, endpoints https (or loopback
// http), tenant syntax. Errors say which option to fix.
Status NormalizeAccount(store::Account& account);

// The endpoints of a normalized account. Microsoft:
// {authority}/{tenant}/oauth2/v2.0/{authorize,token,devicecode}.
StatusOr<Endpoints> ResolveEndpoints(const store::Account& account);

// The scopes a flow asks for: the account's own when it has some, else the
// provider's defaults (Microsoft delegated: offline_access + IMAP, POP, SMTP;
// app-only: https://outlook.office365.com/.default; Google: mail.google.com).
StatusOr<std::vector<std::string>> ScopesFor(const store::Account& account, Flow flow);

std::string JoinScopes(const std::vector<std::string>& scopes);

}  // namespace mailgate::oauth

#endif  // MAILGATE_OAUTH_PROVIDER_H_
