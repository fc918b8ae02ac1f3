// SqlStore: migrations, connected accounts, refresh leases, alerts and
// secret re-sealing (see sql_store.h for where the rest lives).
#include "store/sql_store.h"

#include <ctime>
#include <string>
#include <utility>

#include "store/db.h"
#include "store/migrations.h"

namespace mailgate::store {
namespace {

constexpr std::string_view kAccountColumns =
    "name, provider, authority, tenant, client_id, client_secret_sealed, scopes, auth_url, "
    "token_url, device_url, flow, grant_token_url, refresh_token_sealed, access_token_sealed, "
    "access_expires_at, status, last_error, last_error_code, last_refresh_at, failure_count, "
    "retry_at, created_at";

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

std::vector<std::string> SplitScopes(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find(' ', i);
    if (j == std::string_view::npos) j = text.size();
    if (j > i) out.emplace_back(text.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

Status NoSuchAccount(std::string_view name) {
  return Status::NotFound("no account named '" + std::string(name) +
                          "'; see `mailgate account list`, or add it with `mailgate account "
                          "add`");
}

}  // namespace

int64_t ToInt(const std::optional<std::string>& v) {
  if (!v || v->empty()) return 0;
  return std::stoll(*v);
}

std::string ToText(const std::optional<std::string>& v) {
  return v ? *v : std::string();
}

std::string SecretAd(std::string_view kind, std::string_view name, std::string_view column) {
  std::string ad(kind);
  ad += '/';
  ad += name;
  ad += '/';
  ad += column;
  return ad;
}

Status SqlStore::Migrate() {
  Status table = InTransaction([&]() -> Status {
    MAILGATE_RETURN_IF_ERROR(db_->LockForMigration());
    return db_->ExecScript(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)");
  });
  if (!table.ok()) return table.WithContext("creating the schema_migrations table");
  for (const Migration& m : Migrations()) {
    Status s = InTransaction([&]() -> Status {
      MAILGATE_RETURN_IF_ERROR(db_->LockForMigration());
      // Each version by itself (not "above the highest"): a database made on a
      // branch that numbered a later migration first still gets the earlier one.
      const SqlValue version[] = {int64_t{m.version}};
      auto applied = db_->Query("SELECT 1 FROM schema_migrations WHERE version = ?", version);
      if (!applied.ok()) return applied.status();
      if (!applied->rows.empty()) return Status::Ok();  // done before, or by another process
      MAILGATE_RETURN_IF_ERROR(db_->ExecScript(m.SqlFor(db_->backend())));
      const SqlValue params[] = {int64_t{m.version}, std::string(m.description),
                                 std::to_string(::time(nullptr))};
      return db_
          ->Query(
              "INSERT INTO schema_migrations(version, description, applied_at) "
              "VALUES (?, ?, ?)",
              params)
          .status();
    });
    if (!s.ok()) {
      return s.WithContext("schema migration " + std::to_string(m.version) + " (" +
                           std::string(m.description) + ")");
    }
  }
  return Status::Ok();
}

Status SqlStore::Batch(const std::function<Status()>& body) {
  if (in_batch_) return Status::Internal("Store::Batch does not nest; please report this bug");
  MAILGATE_RETURN_IF_ERROR(db_->Begin());
  in_batch_ = true;
  Status s = body();
  in_batch_ = false;
  if (s.ok()) s = SyncAttachmentFiles().WithContext("writing attachment files");
  if (!s.ok()) {
    db_->Rollback();
    return s;
  }
  return db_->Commit().WithContext("committing a batch");
}

StatusOr<int> SqlStore::SchemaVersion() {
  auto r = db_->Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
  if (!r.ok()) return r.status().WithContext("reading the schema version");
  return static_cast<int>(ToInt(r->rows.at(0).at(0)));
}

// --- Accounts ----------------------------------------------------------------

Status SqlStore::CreateAccount(const Account& a, int64_t now) {
  const SqlValue params[] = {
      a.name,
      a.provider,
      a.authority,
      a.tenant,
      a.client_id,
      SealOrNull(SecretAd("account", a.name, "client_secret"), a.client_secret),
      JoinScopes(a.scopes),
      a.auth_url,
      a.token_url,
      a.device_url,
      now};
  auto r = db_->Query(
      "INSERT INTO accounts (name, provider, authority, tenant, client_id, "
      "client_secret_sealed, scopes, auth_url, token_url, device_url, created_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      params);
  if (r.status().kind() == Status::Kind::kAlreadyExists) {
    return Status::AlreadyExists("an account named '" + a.name +
                                 "' exists already; choose another name or remove it first "
                                 "with `mailgate account remove " +
                                 a.name + "`");
  }
  return r.status().WithContext("saving account '" + a.name + "'");
}

StatusOr<Account> SqlStore::GetAccount(std::string_view name) {
  const SqlValue params[] = {std::string(name)};
  auto r = db_->Query("SELECT " + std::string(kAccountColumns) + " FROM accounts WHERE name = ?",
                      params);
  if (!r.ok()) return r.status().WithContext("reading account '" + std::string(name) + "'");
  if (r->rows.empty()) return NoSuchAccount(name);
  return AccountFromRow(r->rows[0]);
}

StatusOr<std::vector<Account>> SqlStore::ListAccounts() {
  auto r =
      db_->Query("SELECT " + std::string(kAccountColumns) + " FROM accounts ORDER BY name", {});
  if (!r.ok()) return r.status().WithContext("listing accounts");
  std::vector<Account> out;
  for (const auto& row : r->rows) {
    auto a = AccountFromRow(row);
    if (!a.ok()) return a.status();
    out.push_back(std::move(*a));
  }
  return out;
}

Status SqlStore::DeleteAccount(std::string_view name) {
  const SqlValue params[] = {std::string(name)};
  auto r = db_->Query("DELETE FROM accounts WHERE name = ?", params);
  if (!r.ok()) return r.status().WithContext("removing account '" + std::string(name) + "'");
  if (r->affected == 0) return NoSuchAccount(name);
  return Status::Ok();
}

Status SqlStore::UpdateAccount(std::string_view name, const AccountUpdate& u) {
  std::string sql = "UPDATE accounts SET ";
  std::vector<SqlValue> params;
  auto set = [&](std::string_view column, SqlValue v) {
    if (!params.empty()) sql += ", ";
    sql += column;
    sql += " = ?";
    params.push_back(std::move(v));
  };
  const std::string n(name);
  if (u.client_id) set("client_id", *u.client_id);
  if (u.client_secret) {
    set("client_secret_sealed",
        SealOrNull(SecretAd("account", n, "client_secret"), *u.client_secret));
  }
  if (u.tenant) set("tenant", *u.tenant);
  if (u.authority) set("authority", *u.authority);
  if (u.scopes) set("scopes", JoinScopes(*u.scopes));
  if (u.auth_url) set("auth_url", *u.auth_url);
  if (u.token_url) set("token_url", *u.token_url);
  if (u.device_url) set("device_url", *u.device_url);
  if (u.flow) set("flow", *u.flow);
  if (u.grant_token_url) set("grant_token_url", *u.grant_token_url);
  if (u.refresh_token) {
    set("refresh_token_sealed",
        SealOrNull(SecretAd("account", n, "refresh_token"), *u.refresh_token));
  }
  if (u.access_token) {
    set("access_token_sealed", SealOrNull(SecretAd("account", n, "access_token"), *u.access_token));
  }
  if (u.access_expires_at) set("access_expires_at", *u.access_expires_at);
  if (u.status) set("status", std::string(AccountStatusName(*u.status)));
  if (u.last_error) set("last_error", *u.last_error);
  if (u.last_error_code) set("last_error_code", *u.last_error_code);
  if (u.last_refresh_at) set("last_refresh_at", *u.last_refresh_at);
  if (u.failure_count) set("failure_count", int64_t{*u.failure_count});
  if (u.retry_at) set("retry_at", *u.retry_at);
  if (params.empty()) return Status::Ok();
  sql += " WHERE name = ?";
  params.push_back(n);
  auto r = db_->Query(sql, params);
  if (!r.ok()) return r.status().WithContext("updating account '" + n + "'");
  if (r->affected == 0) return NoSuchAccount(name);
  return Status::Ok();
}

StatusOr<Account> SqlStore::AccountFromRow(const SqlRow& row) {
  Account a;
  a.name = ToText(row[0]);
  a.provider = ToText(row[1]);
  a.authority = ToText(row[2]);
  a.tenant = ToText(row[3]);
  a.client_id = ToText(row[4]);
  auto cs = Unseal(SecretAd("account", a.name, "client_secret"), row[5]);
  if (!cs.ok()) return cs.status();
  a.client_secret = std::move(*cs);
  a.scopes = SplitScopes(ToText(row[6]));
  a.auth_url = ToText(row[7]);
  a.token_url = ToText(row[8]);
  a.device_url = ToText(row[9]);
  a.flow = ToText(row[10]);
  a.grant_token_url = ToText(row[11]);
  auto rt = Unseal(SecretAd("account", a.name, "refresh_token"), row[12]);
  if (!rt.ok()) return rt.status();
  a.refresh_token = std::move(*rt);
  auto at = Unseal(SecretAd("account", a.name, "access_token"), row[13]);
  if (!at.ok()) return at.status();
  a.access_token = std::move(*at);
  a.access_expires_at = ToInt(row[14]);
  a.status = ParseAccountStatus(ToText(row[15])).value_or(AccountStatus::kDegraded);
  a.last_error = ToText(row[16]);
  a.last_error_code = ToText(row[17]);
  a.last_refresh_at = ToInt(row[18]);
  a.failure_count = static_cast<int>(ToInt(row[19]));
  a.retry_at = ToInt(row[20]);
  a.created_at = ToInt(row[21]);
  return a;
}

// --- Refresh leases ------------------------------------------------------------

StatusOr<bool> SqlStore::TryAcquireRefreshLease(std::string_view name, std::string_view holder,
                                                int64_t now, int64_t ttl,
                                                std::string_view steal_from) {
  // One conditional UPDATE: atomic on both backends (PostgreSQL re-checks
  // the WHERE clause after waiting for a concurrent writer's row lock).
  const SqlValue params[] = {
      std::string(holder), now + ttl,
      std::string(name),   now,
      std::string(holder), steal_from.empty() ? SqlValue(nullptr) : std::string(steal_from)};
  auto r = db_->Query(
      "UPDATE accounts SET lease_holder = ?, lease_expires_at = ? WHERE name = ? AND "
      "(lease_holder IS NULL OR lease_expires_at <= ? OR lease_holder = ? OR lease_holder = ?)",
      params);
  if (!r.ok()) return r.status().WithContext("taking the refresh lease");
  if (r->affected > 0) return true;
  auto exists = GetAccount(name);
  if (!exists.ok()) return exists.status();
  return false;
}

StatusOr<std::string> SqlStore::RefreshLeaseHolder(std::string_view name, int64_t now) {
  const SqlValue params[] = {std::string(name)};
  auto r = db_->Query("SELECT lease_holder, lease_expires_at FROM accounts WHERE name = ?", params);
  if (!r.ok()) return r.status();
  if (r->rows.empty()) return NoSuchAccount(name);
  if (!r->rows[0][0] || ToInt(r->rows[0][1]) <= now) return std::string();
  return *r->rows[0][0];
}

Status SqlStore::ReleaseRefreshLease(std::string_view name, std::string_view holder) {
  const SqlValue params[] = {std::string(name), std::string(holder)};
  return db_
      ->Query(
          "UPDATE accounts SET lease_holder = NULL, lease_expires_at = 0 "
          "WHERE name = ? AND lease_holder = ?",
          params)
      .status();
}

// --- Alerts --------------------------------------------------------------------

StatusOr<int64_t> SqlStore::RaiseAlert(std::string_view kind, std::string_view subject,
                                       std::string_view message, int64_t now) {
  int64_t id = 0;
  Status s = InTransaction([&]() -> Status {
    const SqlValue find[] = {std::string(kind), std::string(subject)};
    auto r = db_->Query("SELECT id FROM alerts WHERE kind = ? AND subject = ? AND resolved_at = 0",
                        find);
    if (!r.ok()) return r.status();
    if (!r->rows.empty()) {
      id = ToInt(r->rows[0][0]);
      const SqlValue upd[] = {std::string(message), id};
      return db_->Query("UPDATE alerts SET message = ? WHERE id = ?", upd).status();
    }
    const SqlValue ins[] = {std::string(kind), std::string(subject), std::string(message), now};
    auto r2 = db_->Query(
        "INSERT INTO alerts (kind, subject, message, created_at) VALUES (?, ?, ?, ?) "
        "RETURNING id",
        ins);
    if (!r2.ok()) return r2.status();
    id = ToInt(r2->rows.at(0).at(0));
    return Status::Ok();
  });
  if (!s.ok()) return s.WithContext("raising an alert");
  return id;
}

Status SqlStore::ResolveAlerts(std::string_view subject, int64_t now) {
  const SqlValue params[] = {now, std::string(subject)};
  return db_
      ->Query("UPDATE alerts SET resolved_at = ? WHERE subject = ? AND resolved_at = 0", params)
      .status()
      .WithContext("resolving alerts");
}

StatusOr<std::vector<Alert>> SqlStore::ListAlerts(bool open_only) {
  auto r = db_->Query(std::string("SELECT id, kind, subject, message, created_at, resolved_at "
                                  "FROM alerts") +
                          (open_only ? " WHERE resolved_at = 0" : "") + " ORDER BY id",
                      {});
  if (!r.ok()) return r.status().WithContext("listing alerts");
  std::vector<Alert> out;
  for (const auto& row : r->rows) {
    out.push_back({ToInt(row[0]), ToText(row[1]), ToText(row[2]), ToText(row[3]), ToInt(row[4]),
                   ToInt(row[5])});
  }
  return out;
}

// --- Secrets -------------------------------------------------------------------

Status SqlStore::ResealSecrets(std::shared_ptr<const Vault> next) {
  // Every sealed column: its table, the row key (which names the row in the
  // associated data) and the column's name without "_sealed".
  struct SealedColumns {
    std::string_view table;
    std::string_view kind;  // SecretAd's first part
    std::vector<std::string_view> columns;
    std::string_view key = "name";
  };
  const SealedColumns sealed[] = {
      {"accounts", "account", {"client_secret", "refresh_token", "access_token"}},
      {"transports", "transport", {"password"}},
      {"mailboxes", "mailbox", {"password"}},
      {"pending_authorizations", "pending_authorization", {"code_verifier"}, "state"},
  };
  Status s = InTransaction([&]() -> Status {
    for (const auto& t : sealed) {
      std::string select = "SELECT ";
      select += t.key;
      for (auto c : t.columns) {
        select += ", ";
        select += c;
        select += "_sealed";
      }
      select += " FROM ";
      select += t.table;
      auto r = db_->Query(select, {});
      if (!r.ok()) return r.status();
      for (const auto& row : r->rows) {
        const std::string name = ToText(row[0]);
        for (size_t c = 0; c < t.columns.size(); ++c) {
          if (!row[c + 1]) continue;
          const std::string ad = SecretAd(t.kind, name, t.columns[c]);
          auto plain = vault_->Unseal(*row[c + 1], ad);
          if (!plain.ok()) return plain.status();
          std::string update = "UPDATE ";
          update += t.table;
          update += " SET ";
          update += t.columns[c];
          update += "_sealed = ? WHERE ";
          update += t.key;
          update += " = ?";
          const SqlValue params[] = {next->Seal(plain->reveal(), ad), name};
          auto u = db_->Query(update, params);
          if (!u.ok()) return u.status();
        }
      }
    }
    return Status::Ok();
  });
  if (!s.ok()) return s.WithContext("re-encrypting secrets (nothing was changed)");
  vault_ = std::move(next);
  return Status::Ok();
}

SqlValue SqlStore::SealOrNull(std::string_view ad, const Secret& secret) const {
  if (secret.empty()) return nullptr;
  return vault_->Seal(secret.reveal(), ad);
}

StatusOr<Secret> SqlStore::Unseal(std::string_view ad,
                                  const std::optional<std::string>& sealed) const {
  if (!sealed) return Secret();
  return vault_->Unseal(*sealed, ad);
}

namespace {

StatusOr<std::unique_ptr<Store>> Finish(StatusOr<std::unique_ptr<Db>> db,
                                        std::shared_ptr<const Vault> vault,
                                        std::string attachment_dir = "") {
  if (!db.ok()) return db.status();
  auto store = std::make_unique<SqlStore>(std::move(*db), std::move(vault));
  MAILGATE_RETURN_IF_ERROR(store->Migrate());
  if (!attachment_dir.empty()) store->UseAttachmentFiles(std::move(attachment_dir));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace

std::string_view AccountStatusName(AccountStatus status) {
  switch (status) {
    case AccountStatus::kNotAuthorized:
      return "not_authorized";
    case AccountStatus::kOk:
      return "ok";
    case AccountStatus::kDegraded:
      return "degraded";
    case AccountStatus::kReauthorizationRequired:
      return "reauthorization_required";
  }
  return "degraded";
}

std::optional<AccountStatus> ParseAccountStatus(std::string_view name) {
  for (auto s : {AccountStatus::kNotAuthorized, AccountStatus::kOk, AccountStatus::kDegraded,
                 AccountStatus::kReauthorizationRequired}) {
    if (AccountStatusName(s) == name) return s;
  }
  return std::nullopt;
}

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                                 std::shared_ptr<const Vault> vault) {
  // Attachment bytes live next to the database file (SqlStore::UseAttachmentFiles).
  const size_t slash = path.find_last_of('/');
  std::string attachments = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
  attachments += "attachments";
  return Finish(OpenSqliteDb(path), std::move(vault), std::move(attachments));
}

StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                   std::shared_ptr<const Vault> vault) {
  return Finish(OpenPostgresDb(url), std::move(vault));
}

StatusOr<std::unique_ptr<Store>> OpenStoreUrl(const std::string& url,
                                              const std::string& default_sqlite_path,
                                              std::shared_ptr<const Vault> vault) {
  if (url.empty()) return OpenSqliteStore(default_sqlite_path, std::move(vault));
  if (url.starts_with("sqlite:")) return OpenSqliteStore(url.substr(7), std::move(vault));
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    return OpenPostgresStore(url, std::move(vault));
  }
  return Status::InvalidArgument(
      "--db must be postgresql://user:password@host:port/database or sqlite:PATH (or left out "
      "for SQLite in the data directory)");
}

}  // namespace mailgate::store
