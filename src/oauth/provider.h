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
inline constexpr std::string_view kGoogleMailScope = "https://mail.google.com/";

// The flows Mailgate can run to obtain a grant.
//   kBrowser  - authorization code through a redirect the provider may treat
//               as a confidential client's (the web console's callback,
//               registered as "Web" in Entra ID);
//   kLoopback - authorization code through the CLI's loopback redirect
//               (RFC 8252), a public client ("Mobile and desktop
//               applications"); the CLI's `--flow browser`;
//   kDevice   - device authorization grant (RFC 8628), a public client;
//   kClientCredentials - app-only, always with the client secret.
// The stored grant keeps the flow, so refreshes know which kind of client
// obtained it.
enum class Flow { kBrowser, kLoopback, kDevice, kClientCredentials };
// "browser", "loopback", "device", "client-credentials"
std::string_view FlowName(Flow flow);
StatusOr<Flow> ParseFlow(std::string_view name);

// Whether the client secret goes with the token requests of a grant
// obtained by `flow`. Entra ID refuses a secret from a public client
// (AADSTS700025 "Client is public so neither 'client_assertion' nor
// 'client_secret' should be presented"), so for Microsoft the loopback and
// device flows never send it. Google's installed-app clients need theirs
// (it is not secret there), and generic providers get it when configured.
bool SendsClientSecret(const store::Account& account, Flow flow);

// The Exchange Online resource and mail hosts of one Microsoft cloud.
struct MicrosoftCloud {
  std::string_view name;       // "global", "us-government", "china"
  std::string_view delegated;  // resource of the delegated scopes
  std::string_view app_only;   // resource of the app-only /.default scope
  std::string_view mail_host;  // IMAP (993) and POP3 (995)
  std::string_view smtp_host;  // SMTP (587, STARTTLS)
};
// The cloud whose sign-in host `authority` is; the global cloud for
// https://login.microsoftonline.com and for hosts Mailgate does not know
// (a test identity provider, a proxy), whose scopes the user gives with
// --scope when they differ.
const MicrosoftCloud& MicrosoftCloudFor(std::string_view authority);

struct Endpoints {
  std::string authorize;  // empty when the provider has none
  std::string token;
  std::string device;  // empty when the provider has none
  // Extra authorization request parameters the provider needs (Google:
  // access_type=offline, or it issues no refresh token).
  std::vector<std::pair<std::string, std::string>> authorize_extras;
};

// Fills in defaults (Microsoft authority and tenant "common"; the CLI asks
// for --tenant itself, see docs/microsoft-365.md) and checks the
// account's configuration: known provider, endpoints https (or loopback
// http), tenant syntax. Errors say which option to fix.
Status NormalizeAccount(store::Account& account);

// The endpoints of a normalized account. Microsoft:
// {authority}/{tenant}/oauth2/v2.0/{authorize,token,devicecode}.
StatusOr<Endpoints> ResolveEndpoints(const store::Account& account);

// The scopes a flow asks for: the account's own when it has some, else the
// provider's defaults (Microsoft delegated: offline_access + IMAP, POP, SMTP
// on the cloud's Exchange resource, https://outlook.office.com/... on the
// global cloud; app-only: https://outlook.office365.com/.default there;
// Google: mail.google.com).
StatusOr<std::vector<std::string>> ScopesFor(const store::Account& account, Flow flow);

std::string JoinScopes(const std::vector<std::string>& scopes);

}  // namespace mailgate::oauth

#endif  // MAILGATE_OAUTH_PROVIDER_H_
