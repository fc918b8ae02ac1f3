#include "oauth/account_edit.h"

#include <optional>
#include <utility>

#include "oauth/provider.h"

namespace mailgate::oauth {

StatusOr<AccountEdit> EditAccount(store::Store& store, std::string_view name,
                                  const store::AccountUpdate& edit) {
  auto old = store.GetAccount(name);
  if (!old.ok()) return old.status();
  AccountEdit out;
  store::Account& a = out.account;
  a = *old;
  if (edit.client_id) a.client_id = *edit.client_id;
  if (edit.client_secret) a.client_secret = *edit.client_secret;
  if (edit.tenant) a.tenant = *edit.tenant;
  if (edit.authority) a.authority = *edit.authority;
  if (edit.scopes) a.scopes = *edit.scopes;
  if ((edit.auth_url || edit.token_url || edit.device_url) && a.provider != "generic") {
    // Microsoft's endpoints follow from the authority and tenant, Google's
    // are fixed: only a generic provider's are the user's to give.
    return Status::InvalidArgument(
        "the authorization, token and device authorization URLs can be changed only for a "
        "generic provider's account; account '" +
        a.name + "' is a " + a.provider + " account" +
        (a.provider == "microsoft" ? " (change its --authority and --tenant instead)" : ""));
  }
  if (edit.auth_url) a.auth_url = *edit.auth_url;
  if (edit.token_url) a.token_url = *edit.token_url;
  if (edit.device_url) a.device_url = *edit.device_url;
  // The same checks as `account add`: https, or http only to a loopback host.
  MAILGATE_RETURN_IF_ERROR(NormalizeAccount(a));

  store::AccountUpdate u;
  auto text_change = [&](const char* what, const std::string& now, const std::string& before,
                         std::optional<std::string>& field) {
    if (now == before) return;
    out.changed.push_back(what);
    field = now;
  };
  text_change("client ID", a.client_id, old->client_id, u.client_id);
  text_change("tenant", a.tenant, old->tenant, u.tenant);
  text_change("authority", a.authority, old->authority, u.authority);
  out.app_changed = u.client_id || u.tenant || u.authority;
  text_change("authorization URL", a.auth_url, old->auth_url, u.auth_url);
  text_change("token URL", a.token_url, old->token_url, u.token_url);
  text_change("device authorization URL", a.device_url, old->device_url, u.device_url);
  // A grant is refreshed only where it was issued: another token endpoint is
  // another authorization server, as another app or tenant is.
  const bool new_app = out.app_changed || u.token_url.has_value();
  const bool new_secret = a.client_secret.reveal() != old->client_secret.reveal();
  if (new_secret) {
    out.changed.push_back(a.client_secret.empty() ? "client secret (removed)" : "client secret");
    u.client_secret = a.client_secret;
  }
  const bool new_scopes = a.scopes != old->scopes;
  if (new_scopes) {
    out.changed.push_back("scopes");
    u.scopes = a.scopes;
  }
  const bool has_grant = !old->flow.empty() && old->status != store::AccountStatus::kNotAuthorized;
  out.needs_authorization = !has_grant;
  if (out.changed.empty()) return out;
  if (new_app && has_grant) {
    u.grant_token_url = "";
    u.refresh_token = store::Secret();
    u.access_token = store::Secret();
    u.access_expires_at = 0;
    u.status = store::AccountStatus::kNotAuthorized;
    u.failure_count = 0;
    u.retry_at = 0;
    out.grant_removed = true;
    out.needs_authorization = true;
  } else if ((new_secret || new_scopes) && has_grant) {
    u.access_token = store::Secret();
    u.access_expires_at = 0;
    u.failure_count = 0;
    u.retry_at = 0;
    // Let the token manager try again. It resolves the alert when the new
    // token comes, because the status is not ok yet.
    if (old->status == store::AccountStatus::kReauthorizationRequired) {
      u.status = store::AccountStatus::kDegraded;
    }
    out.token_cleared = true;
  }
  MAILGATE_RETURN_IF_ERROR(store.UpdateAccount(a.name, u));
  return out;
}

}  // namespace mailgate::oauth
