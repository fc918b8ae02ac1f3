// Changing a connected account's configuration (client ID, secret, tenant,
// authority, scopes, a generic provider's endpoints), the same way from the
// CLI (`mailgate account edit`), the console's Edit form and the REST API
// (PATCH /api/v1/accounts/{name}).
#ifndef MAILGATE_OAUTH_ACCOUNT_EDIT_H_
#define MAILGATE_OAUTH_ACCOUNT_EDIT_H_

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace mailgate::oauth {

struct AccountEdit {
  std::vector<std::string> changed;  // what changed, for people: "client ID", "tenant", ...
  // A new client ID, tenant or authority: another app or directory (its mail
  // hosts may differ too).
  bool app_changed = false;
  // A new client ID, tenant, authority or token URL: the old grant, if any,
  // cannot be refreshed there and was removed.
  bool grant_removed = false;
  // The account has no grant (now): it must be authorized (Connect).
  bool needs_authorization = false;
  // A new secret or new scopes kept the grant; the access token was cleared,
  // so the next token request goes out at once with the new configuration
  // (and lifts a refusal the old secret caused; the alert clears with it).
  bool token_cleared = false;
  store::Account account;  // as saved
};

// Applies the configuration fields set in `edit` (client_id, client_secret,
// tenant, authority, scopes; an empty scopes vector means the provider's
// defaults, an empty Secret removes the secret; auth_url, token_url and
// device_url for a generic account only, an empty one removes it except the
// token URL) to account `name`, validated as NormalizeAccount does (endpoints
// https, or http to loopback). Token-state fields of `edit` are ignored.
// Nothing changed: `changed` is empty and nothing is written. kNotFound, or
// kInvalidArgument saying what to fix.
StatusOr<AccountEdit> EditAccount(store::Store& store, std::string_view name,
                                  const store::AccountUpdate& edit);

}  // namespace mailgate::oauth

#endif  // MAILGATE_OAUTH_ACCOUNT_EDIT_H_
