// SqlStore: console users, sessions, login throttling and API tokens (the
// web console's section of store.h), and conversation search.
#include <cctype>
#include <string>
#include <utility>

#include "store/sql_store.h"

namespace mailgate::store {
namespace {

constexpr std::string_view kSessionColumns =
    "id_hash, user_name, created_at, last_seen_at, expires_at";
constexpr std::string_view kTokenColumns = "name, token_hash, prefix, created_at, last_used_at";

ConsoleSession SessionFromRow(const SqlRow& row) {
  ConsoleSession s;
  s.id_hash = ToText(row[0]);
  s.user = ToText(row[1]);
  s.created_at = ToInt(row[2]);
  s.last_seen_at = ToInt(row[3]);
  s.expires_at = ToInt(row[4]);
  return s;
}

ApiToken TokenFromRow(const SqlRow& row) {
  ApiToken t;
  t.name = ToText(row[0]);
  t.token_hash = ToText(row[1]);
  t.prefix = ToText(row[2]);
  t.created_at = ToInt(row[3]);
  t.last_used_at = ToInt(row[4]);
  return t;
}

Status NoSuchToken(std::string_view name) {
  return Status::NotFound("no API token named '" + std::string(name) +
                          "'; see `mailgate api-token list`");
}

// A LIKE pattern matching `text` anywhere, with % _ and \ taken literally
// (the statements say ESCAPE '\').
std::string ContainsPattern(std::string_view text) {
  std::string out = "%";
  for (char c : text) {
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == '%' || lower == '_' || lower == '\\') out += '\\';
    out += lower;
  }
  out += '%';
  return out;
}

}  // namespace

// --- Users ---------------------------------------------------------------------

StatusOr<bool> SqlStore::CreateFirstConsoleUser(const ConsoleUser& user, int64_t now) {
  bool created = false;
  Status s = InTransaction([&]() -> Status {
    auto r = db_->Query("SELECT COUNT(*) FROM console_users", {});
    if (!r.ok()) return r.status();
    if (ToInt(r->rows.at(0).at(0)) > 0) return Status::Ok();
    const SqlValue params[] = {user.name, user.password_hash, now, now};
    auto ins = db_->Query(
        "INSERT INTO console_users (name, password_hash, created_at, password_changed_at) "
        "VALUES (?, ?, ?, ?)",
        params);
    // Another process created the first user between our count and insert
    // (PostgreSQL runs at READ COMMITTED): theirs stands.
    if (ins.status().kind() == Status::Kind::kAlreadyExists) return Status::Ok();
    if (!ins.ok()) return ins.status();
    created = true;
    return Status::Ok();
  });
  if (!s.ok()) return s.WithContext("creating the console administrator");
  return created;
}

Status SqlStore::SetConsolePassword(std::string_view name, std::string_view password_hash,
                                    int64_t now) {
  Status s = InTransaction([&]() -> Status {
    const SqlValue update[] = {std::string(password_hash), now, std::string(name)};
    auto r = db_->Query(
        "UPDATE console_users SET password_hash = ?, password_changed_at = ? WHERE name = ?",
        update);
    if (!r.ok()) return r.status();
    if (r->affected == 0) {
      const SqlValue insert[] = {std::string(name), std::string(password_hash), now, now};
      MAILGATE_RETURN_IF_ERROR(db_->Query("INSERT INTO console_users (name, password_hash, "
                                          "created_at, password_changed_at) VALUES (?, ?, ?, ?)",
                                          insert)
                                   .status());
    }
    const SqlValue user[] = {std::string(name)};
    return db_->Query("DELETE FROM console_sessions WHERE user_name = ?", user).status();
  });
  return s.WithContext("setting the console password of '" + std::string(name) + "'");
}

StatusOr<ConsoleUser> SqlStore::GetConsoleUser(std::string_view name) {
  const SqlValue params[] = {std::string(name)};
  auto r = db_->Query(
      "SELECT name, password_hash, created_at, password_changed_at FROM console_users WHERE "
      "name = ?",
      params);
  if (!r.ok()) return r.status().WithContext("reading console user");
  if (r->rows.empty()) {
    return Status::NotFound("no console user named '" + std::string(name) +
                            "'; set one with `mailgate admin set-password --user NAME`");
  }
  const auto& row = r->rows[0];
  return ConsoleUser{ToText(row[0]), ToText(row[1]), ToInt(row[2]), ToInt(row[3])};
}

// --- Sessions ------------------------------------------------------------------

Status SqlStore::CreateConsoleSession(const ConsoleSession& s) {
  const SqlValue params[] = {s.id_hash, s.user, s.created_at, s.last_seen_at, s.expires_at};
  return db_
      ->Query(
          "INSERT INTO console_sessions (id_hash, user_name, created_at, last_seen_at, "
          "expires_at) VALUES (?, ?, ?, ?, ?)",
          params)
      .status()
      .WithContext("creating a console session");
}

StatusOr<ConsoleSession> SqlStore::GetConsoleSession(std::string_view id_hash, int64_t now) {
  const SqlValue params[] = {std::string(id_hash), now};
  std::string sql = "SELECT ";
  sql += kSessionColumns;
  sql += " FROM console_sessions WHERE id_hash = ? AND expires_at > ?";
  auto r = db_->Query(sql, params);
  if (!r.ok()) return r.status().WithContext("reading a console session");
  if (r->rows.empty()) return Status::NotFound("the session has ended; sign in again");
  return SessionFromRow(r->rows[0]);
}

Status SqlStore::TouchConsoleSession(std::string_view id_hash, int64_t last_seen_at,
                                     int64_t expires_at) {
  const SqlValue params[] = {last_seen_at, expires_at, std::string(id_hash)};
  return db_
      ->Query("UPDATE console_sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ?",
              params)
      .status()
      .WithContext("extending a console session");
}

Status SqlStore::DeleteConsoleSession(std::string_view id_hash) {
  const SqlValue params[] = {std::string(id_hash)};
  return db_->Query("DELETE FROM console_sessions WHERE id_hash = ?", params)
      .status()
      .WithContext("ending a console session");
}

Status SqlStore::PurgeConsoleState(int64_t now, int64_t failures_before) {
  return InTransaction([&]() -> Status {
    const SqlValue sessions[] = {now};
    MAILGATE_RETURN_IF_ERROR(
        db_->Query("DELETE FROM console_sessions WHERE expires_at <= ?", sessions).status());
    MAILGATE_RETURN_IF_ERROR(
        db_->Query("DELETE FROM pending_authorizations WHERE expires_at <= ?", sessions).status());
    const SqlValue failures[] = {failures_before};
    return db_->Query("DELETE FROM login_failures WHERE at < ?", failures).status();
  });
}

// --- Pending Connect authorizations --------------------------------------------

Status SqlStore::CreatePendingAuthorization(const PendingAuthorization& p, int64_t now) {
  std::string scopes;
  for (const auto& sc : p.scopes) {
    if (!scopes.empty()) scopes += ' ';
    scopes += sc;
  }
  Status s = InTransaction([&]() -> Status {
    const SqlValue expired[] = {now};
    MAILGATE_RETURN_IF_ERROR(
        db_->Query("DELETE FROM pending_authorizations WHERE expires_at <= ?", expired).status());
    const SqlValue params[] = {
        p.state,
        p.account,
        p.session_hash,
        SealOrNull(SecretAd("pending_authorization", p.state, "code_verifier"), p.code_verifier),
        p.redirect_uri,
        p.token_url,
        scopes,
        p.expires_at};
    return db_
        ->Query(
            "INSERT INTO pending_authorizations (state, account, session_hash, "
            "code_verifier_sealed, redirect_uri, token_url, scopes, expires_at) VALUES (?, ?, ?, "
            "?, ?, ?, ?, ?)",
            params)
        .status();
  });
  return s.WithContext("storing a pending Connect");
}

StatusOr<PendingAuthorization> SqlStore::TakePendingAuthorization(std::string_view state,
                                                                  int64_t now) {
  // One statement removes and returns the row: of two callbacks carrying the
  // same state (a replayed redirect, two workers), only one sees it.
  const SqlValue params[] = {std::string(state)};
  auto r = db_->Query(
      "DELETE FROM pending_authorizations WHERE state = ? RETURNING account, session_hash, "
      "code_verifier_sealed, redirect_uri, token_url, scopes, expires_at",
      params);
  if (!r.ok()) return r.status().WithContext("reading a pending Connect");
  if (r->rows.empty() || ToInt(r->rows[0][6]) <= now) {
    return Status::NotFound(
        "this sign-in is unknown or has expired; press Connect on the Connected Accounts page "
        "again");
  }
  const auto& row = r->rows[0];
  PendingAuthorization p;
  p.state = std::string(state);
  p.account = ToText(row[0]);
  p.session_hash = ToText(row[1]);
  auto verifier = Unseal(SecretAd("pending_authorization", p.state, "code_verifier"), row[2]);
  if (!verifier.ok()) return verifier.status().WithContext("reading a pending Connect");
  p.code_verifier = std::move(*verifier);
  p.redirect_uri = ToText(row[3]);
  p.token_url = ToText(row[4]);
  std::string word;
  for (char c : ToText(row[5]) + " ") {
    if (c != ' ') {
      word += c;
    } else if (!word.empty()) {
      p.scopes.push_back(std::move(word));
      word.clear();
    }
  }
  p.expires_at = ToInt(row[6]);
  return p;
}

// --- Login throttling ----------------------------------------------------------

Status SqlStore::RecordLoginFailure(std::string_view key, int64_t now) {
  const SqlValue params[] = {std::string(key), now};
  return db_->Query("INSERT INTO login_failures (throttle_key, at) VALUES (?, ?)", params)
      .status()
      .WithContext("recording a failed login");
}

StatusOr<LoginFailures> SqlStore::CountLoginFailures(std::string_view key, int64_t since) {
  const SqlValue params[] = {std::string(key), since};
  auto r = db_->Query(
      "SELECT COUNT(*), COALESCE(MAX(at), 0) FROM login_failures WHERE throttle_key = ? AND "
      "at >= ?",
      params);
  if (!r.ok()) return r.status().WithContext("counting failed logins");
  return LoginFailures{static_cast<int>(ToInt(r->rows.at(0).at(0))), ToInt(r->rows.at(0).at(1))};
}

Status SqlStore::ClearLoginFailures(std::string_view key) {
  const SqlValue params[] = {std::string(key)};
  return db_->Query("DELETE FROM login_failures WHERE throttle_key = ?", params)
      .status()
      .WithContext("clearing failed logins");
}

// --- API tokens ----------------------------------------------------------------

Status SqlStore::CreateApiToken(const ApiToken& t, int64_t now) {
  const SqlValue params[] = {t.name, t.token_hash, t.prefix, now};
  auto r = db_->Query(
      "INSERT INTO api_tokens (name, token_hash, prefix, created_at) VALUES (?, ?, ?, ?)", params);
  if (r.status().kind() == Status::Kind::kAlreadyExists) {
    return Status::AlreadyExists("an API token named '" + t.name +
                                 "' exists already; choose another name or revoke it first with "
                                 "`mailgate api-token revoke " +
                                 t.name + "`");
  }
  return r.status().WithContext("saving API token '" + t.name + "'");
}

StatusOr<std::vector<ApiToken>> SqlStore::ListApiTokens() {
  std::string sql = "SELECT ";
  sql += kTokenColumns;
  sql += " FROM api_tokens ORDER BY name";
  auto r = db_->Query(sql, {});
  if (!r.ok()) return r.status().WithContext("listing API tokens");
  std::vector<ApiToken> out;
  for (const auto& row : r->rows) out.push_back(TokenFromRow(row));
  return out;
}

StatusOr<ApiToken> SqlStore::ApiTokenByHash(std::string_view token_hash) {
  const SqlValue params[] = {std::string(token_hash)};
  std::string sql = "SELECT ";
  sql += kTokenColumns;
  sql += " FROM api_tokens WHERE token_hash = ?";
  auto r = db_->Query(sql, params);
  if (!r.ok()) return r.status().WithContext("reading an API token");
  if (r->rows.empty()) return Status::NotFound("unknown or revoked API token");
  return TokenFromRow(r->rows[0]);
}

Status SqlStore::TouchApiToken(std::string_view name, int64_t now) {
  const SqlValue params[] = {now, std::string(name)};
  return db_->Query("UPDATE api_tokens SET last_used_at = ? WHERE name = ?", params)
      .status()
      .WithContext("noting the use of an API token");
}

Status SqlStore::RevokeApiToken(std::string_view name) {
  const SqlValue params[] = {std::string(name)};
  auto r = db_->Query("DELETE FROM api_tokens WHERE name = ?", params);
  if (!r.ok()) return r.status().WithContext("revoking API token '" + std::string(name) + "'");
  if (r->affected == 0) return NoSuchToken(name);
  return Status::Ok();
}

// --- Conversation search -------------------------------------------------------

StatusOr<std::vector<Conversation>> SqlStore::SearchConversations(std::string_view text, int limit,
                                                                  int offset) {
  const std::string pattern = ContainsPattern(text);
  const SqlValue params[] = {pattern, pattern, int64_t{limit}, int64_t{offset}};
  // from_addrs holds the senders' names and addresses as text: LIKE on it
  // finds either.
  auto r = db_->Query(
      "SELECT c.id, c.mask, c.subject, c.mailbox_id, c.message_count, c.last_from, c.created_at, "
      "c.updated_at FROM conversations c WHERE LOWER(c.subject) LIKE ? ESCAPE '\\' OR EXISTS "
      "(SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND LOWER(m.from_addrs) LIKE ? "
      "ESCAPE '\\') ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?",
      params);
  if (!r.ok()) return r.status().WithContext("searching conversations");
  std::vector<Conversation> out;
  for (const auto& row : r->rows) {
    Conversation c;
    c.id = ToInt(row[0]);
    c.mask = ToText(row[1]);
    c.subject = ToText(row[2]);
    c.mailbox_id = ToInt(row[3]);
    c.message_count = static_cast<int>(ToInt(row[4]));
    c.last_from = ToText(row[5]);
    c.created_at = ToInt(row[6]);
    c.updated_at = ToInt(row[7]);
    out.push_back(std::move(c));
  }
  return out;
}

// --- Runs ----------------------------------------------------------------------

StatusOr<Run> SqlStore::GetRun(int64_t id) {
  const SqlValue params[] = {id};
  auto r = db_->Query(
      "SELECT id, job, subject, started_at, finished_at, status, summary FROM runs WHERE id = ?",
      params);
  if (!r.ok()) return r.status().WithContext("reading run " + std::to_string(id));
  if (r->rows.empty()) {
    return Status::NotFound("no run with id " + std::to_string(id) +
                            "; the Scheduler page lists recent runs");
  }
  const auto& row = r->rows[0];
  Run run;
  run.id = ToInt(row[0]);
  run.job = ToText(row[1]);
  run.subject = ToText(row[2]);
  run.started_at = ToInt(row[3]);
  run.finished_at = ToInt(row[4]);
  run.status = ToText(row[5]);
  run.summary = ToText(row[6]);
  return run;
}

}  // namespace mailgate::store
