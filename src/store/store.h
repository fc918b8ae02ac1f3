// The Store: everything Mailgate keeps (configuration, state, messages) goes
// through this interface, so the layers above never see SQL or a backend.
//
// Two backends implement it with the same behaviour (one shared test suite):
// SQLite (a file in the data directory, WAL journal) and PostgreSQL.
//
// Thread safety: a Store may be used from one thread at a time; open one per
// thread, or guard it with a mutex. Several Stores, in one process or many,
// may share one database: every multi-row change is one transaction, and the
// refresh lease below serialises token refreshes across all of them.
//
// Secrets: the Store seals every secret field with its Vault before it is
// written and opens it on read; no secret is ever stored, logged or put in an
// error message in plaintext.
#ifndef MAILGATE_STORE_STORE_H_
#define MAILGATE_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/vault.h"

namespace mailgate::store {

struct MailboxSummary {
  std::string name;
  bool enabled = true;
};

// A connected account's token health, as shown to users.
enum class AccountStatus {
  kNotAuthorized,            // added, never authorized
  kOk,                       // last token request succeeded
  kDegraded,                 // transient failures; retrying with backoff
  kReauthorizationRequired,  // the provider refused the grant for good
};
std::string_view AccountStatusName(AccountStatus status);  // "ok", "degraded", ...
std::optional<AccountStatus> ParseAccountStatus(std::string_view name);

// A connected account (OAuth2 client registration plus the grant it holds).
// Times are Unix seconds; 0 means "never".
struct Account {
  std::string name;       // unique, immutable
  std::string provider;   // microsoft | google | generic
  std::string authority;  // microsoft: https://login.microsoftonline.com or a sovereign cloud
  std::string tenant;     // microsoft: common, organizations, consumers, GUID or domain
  std::string client_id;
  Secret client_secret;  // empty for public clients
  std::vector<std::string> scopes;
  std::string auth_url;    // generic: the endpoints given by the user
  std::string token_url;   //
  std::string device_url;  //

  // The grant. `grant_token_url` is the exact token endpoint that issued it:
  // refreshes always go there (same authority and tenant), whatever the
  // account's configuration says later.
  std::string flow;  // browser | device | client-credentials
  std::string grant_token_url;
  Secret refresh_token;
  Secret access_token;
  int64_t access_expires_at = 0;

  AccountStatus status = AccountStatus::kNotAuthorized;
  std::string last_error;       // the provider's message, without secrets
  std::string last_error_code;  // e.g. "AADSTS700082"; empty when none
  int64_t last_refresh_at = 0;  // last successful token request
  int failure_count = 0;        // consecutive transient failures
  int64_t retry_at = 0;         // no token request before this (backoff)
  int64_t created_at = 0;
};

// A partial update of an account's token state; unset fields are unchanged.
struct AccountUpdate {
  std::optional<std::string> flow;
  std::optional<std::string> grant_token_url;
  std::optional<Secret> refresh_token;  // an empty Secret clears it
  std::optional<Secret> access_token;
  std::optional<int64_t> access_expires_at;
  std::optional<AccountStatus> status;
  std::optional<std::string> last_error;
  std::optional<std::string> last_error_code;
  std::optional<int64_t> last_refresh_at;
  std::optional<int> failure_count;
  std::optional<int64_t> retry_at;
};

struct Alert {
  int64_t id = 0;
  std::string kind;     // e.g. "reauthorization_required"
  std::string subject;  // e.g. "account/work"
  std::string message;  // for people; never holds a secret
  int64_t created_at = 0;
  int64_t resolved_at = 0;  // 0 while open
};

class Store {
 public:
  virtual ~Store() = default;

  // "sqlite" or "postgresql".
  virtual std::string_view backend() const = 0;

  // The schema version after migrations (the highest applied).
  virtual StatusOr<int> SchemaVersion() = 0;

  virtual StatusOr<std::vector<MailboxSummary>> ListMailboxes() = 0;

  // --- Accounts -----------------------------------------------------------

  // Fails with kAlreadyExists when the name is taken. Token fields of
  // `account` other than the configuration are ignored.
  virtual Status CreateAccount(const Account& account, int64_t now) = 0;
  // Fails with kNotFound when there is no such account.
  virtual StatusOr<Account> GetAccount(std::string_view name) = 0;
  virtual StatusOr<std::vector<Account>> ListAccounts() = 0;
  // Removes the account (and its secrets). kNotFound when absent.
  virtual Status DeleteAccount(std::string_view name) = 0;
  // Applies `update` atomically. kNotFound when absent.
  virtual Status UpdateAccount(std::string_view name, const AccountUpdate& update) = 0;

  // The cross-process refresh lease: at most one holder per account at a
  // time. Returns true when `holder` now holds the lease until `now + ttl`
  // (also when it already held it), false when another holder's lease has
  // not expired. A holder that crashed loses the lease when it expires, or
  // at once when `steal_from` names it (the caller proved it dead).
  virtual StatusOr<bool> TryAcquireRefreshLease(std::string_view name, std::string_view holder,
                                                int64_t now, int64_t ttl,
                                                std::string_view steal_from = {}) = 0;
  // The current holder ("" when free or expired at `now`).
  virtual StatusOr<std::string> RefreshLeaseHolder(std::string_view name, int64_t now) = 0;
  // Releases the lease if `holder` holds it; a no-op otherwise.
  virtual Status ReleaseRefreshLease(std::string_view name, std::string_view holder) = 0;

  // --- Alerts -------------------------------------------------------------

  // Raises an alert unless an open one with the same kind and subject exists
  // (then its message is updated). Returns the alert's id.
  virtual StatusOr<int64_t> RaiseAlert(std::string_view kind, std::string_view subject,
                                       std::string_view message, int64_t now) = 0;
  // Resolves the open alerts about `subject`.
  virtual Status ResolveAlerts(std::string_view subject, int64_t now) = 0;
  virtual StatusOr<std::vector<Alert>> ListAlerts(bool open_only) = 0;

  // --- Secrets ------------------------------------------------------------

  // Re-seals every secret in the database with `next` in one transaction,
  // then uses `next` from now on. On failure nothing changed.
  // REQUIRES: `next` outlives this Store.
  virtual Status ResealSecrets(std::shared_ptr<const Vault> next) = 0;
};

// Opens (creating if needed) the SQLite store at `path` and applies pending
// schema migrations. The parent directory must exist.
StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                                 std::shared_ptr<const Vault> vault);

// Connects to PostgreSQL (a libpq URL: postgresql://user:pass@host:port/db,
// options such as `?options=-csearch_path%3Dschema` pass through) and applies
// pending schema migrations.
StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                   std::shared_ptr<const Vault> vault);

// Opens the store a `--db` URL names: "postgresql://..." or "postgres://...",
// "sqlite:PATH", or empty for SQLite at `default_sqlite_path`.
StatusOr<std::unique_ptr<Store>> OpenStoreUrl(const std::string& url,
                                              const std::string& default_sqlite_path,
                                              std::shared_ptr<const Vault> vault);

}  // namespace mailgate::store

#endif  // MAILGATE_STORE_STORE_H_
