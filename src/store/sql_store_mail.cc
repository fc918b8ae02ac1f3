// SqlStore: transports, mailboxes, downloads and runs.
#include <algorithm>
#include <set>
#include <span>
#include <string>
#include <utility>

#include "store/sql_store.h"

namespace mailgate::store {
namespace {

constexpr std::string_view kTransportColumns =
    "id, name, host, port, encryption, auth, username, password_sealed, account, "
    "timeout_seconds, created_at";

constexpr std::string_view kMailboxColumns =
    "id, name, enabled, protocol, host, port, encryption, username, auth, password_sealed, "
    "account, folder, after_download, max_size_kb, download_oversized, timeout_seconds, "
    "max_messages_per_run, push, checked_at, consecutive_failures, delayed_until, last_error, "
    "last_success_at, created_at";

constexpr std::string_view kDownloadColumns =
    "d.id, d.mailbox_id, m.name, d.uidvalidity, d.uid, d.sha256, d.size, d.spool_path, "
    "d.internal_date, d.state, d.action_done, d.error, d.downloaded_at, d.processed_at";

// The columns `mailgate transport|mailbox add` and `edit` write, after the
// name, in the order of TransportValues / MailboxValues: one list for both
// INSERT and UPDATE, so they cannot drift apart.
constexpr std::string_view kTransportWritable[] = {"host",    "port",           "encryption",
                                                   "auth",    "username",       "password_sealed",
                                                   "account", "timeout_seconds"};

constexpr std::string_view kMailboxWritable[] = {"enabled",
                                                 "protocol",
                                                 "host",
                                                 "port",
                                                 "encryption",
                                                 "username",
                                                 "auth",
                                                 "password_sealed",
                                                 "account",
                                                 "folder",
                                                 "after_download",
                                                 "max_size_kb",
                                                 "download_oversized",
                                                 "timeout_seconds",
                                                 "max_messages_per_run",
                                                 "push"};

std::vector<SqlValue> TransportValues(const Transport& t, SqlValue password_sealed) {
  return {t.host,       int64_t{t.port},
          t.encryption, t.auth,
          t.username,   std::move(password_sealed),
          t.account,    int64_t{t.timeout_seconds}};
}

std::vector<SqlValue> MailboxValues(const Mailbox& m, SqlValue password_sealed) {
  return {int64_t{m.enabled},
          m.protocol,
          m.host,
          int64_t{m.port},
          m.encryption,
          m.username,
          m.auth,
          std::move(password_sealed),
          m.account,
          m.folder,
          m.after_download,
          m.max_size_kb,
          int64_t{m.download_oversized},
          int64_t{m.timeout_seconds},
          int64_t{m.max_messages_per_run},
          int64_t{m.push}};
}

// "INSERT INTO table (name, <columns>, created_at) VALUES (?, ...)".
std::string InsertSql(std::string_view table, std::span<const std::string_view> columns) {
  std::string sql = "INSERT INTO ";
  sql += table;
  sql += " (name";
  for (std::string_view c : columns) {
    sql += ", ";
    sql += c;
  }
  sql += ", created_at) VALUES (";
  for (size_t i = 0; i < columns.size() + 2; ++i) sql += i ? ", ?" : "?";
  sql += ')';
  return sql;
}

// "UPDATE table SET c1 = ?, ... WHERE name = ?".
std::string UpdateSql(std::string_view table, std::span<const std::string_view> columns) {
  std::string sql = "UPDATE ";
  sql += table;
  sql += " SET ";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) sql += ", ";
    sql += columns[i];
    sql += " = ?";
  }
  sql += " WHERE name = ?";
  return sql;
}

// "SELECT <columns> FROM <table><rest>".
std::string SelectSql(std::string_view columns, std::string_view table, std::string_view rest) {
  std::string sql = "SELECT ";
  sql += columns;
  sql += " FROM ";
  sql += table;
  sql += rest;
  return sql;
}

// Every row through `from_row`; the first error stops.
template <typename T, typename FromRow>
StatusOr<std::vector<T>> CollectRows(const std::vector<SqlRow>& rows, FromRow from_row) {
  std::vector<T> out;
  for (const auto& row : rows) {
    auto item = from_row(row);
    if (!item.ok()) return item.status();
    out.push_back(std::move(*item));
  }
  return out;
}

// IN lists are sent in chunks of this many parameters (SQLite allows 32766,
// PostgreSQL 65535; smaller statements are cheaper to prepare).
constexpr size_t kInChunk = 200;

// "?, ?, ?" with `n` placeholders.
std::string Placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ", ";
    out += '?';
  }
  return out;
}

std::string Quoted(std::string_view name) {
  std::string out = "'";
  out += name;
  out += '\'';
  return out;
}

Status NoSuchTransport(std::string_view name) {
  return Status::NotFound("no transport named " + Quoted(name) +
                          "; see `mailgate transport list`, or add it with `mailgate transport "
                          "add`");
}

Status TransportExists(std::string_view name) {
  std::string msg = "a transport named " + Quoted(name);
  msg += " exists already; choose another name or remove it first with `mailgate transport ";
  msg += "remove ";
  msg += name;
  msg += '`';
  return Status::AlreadyExists(std::move(msg));
}

Status NoSuchMailbox(std::string_view name) {
  return Status::NotFound("no mailbox named " + Quoted(name) +
                          "; see `mailgate mailbox list`, or add it with `mailgate mailbox add`");
}

Status MailboxExists(std::string_view name) {
  std::string msg = "a mailbox named " + Quoted(name);
  msg += " exists already; choose another name or remove it first with `mailgate mailbox ";
  msg += "remove ";
  msg += name;
  msg += '`';
  return Status::AlreadyExists(std::move(msg));
}

Status NoSuchDownload(int64_t id) {
  return Status::NotFound("no download with id " + std::to_string(id) +
                          "; see `mailgate quarantine list` for the downloads waiting for a fix");
}

Status NoSuchRun(int64_t id) {
  return Status::NotFound("no run with id " + std::to_string(id) +
                          "; see `mailgate run list` for recent runs");
}

std::optional<DownloadState> ParseDownloadState(std::string_view name) {
  for (auto s : {DownloadState::kPending, DownloadState::kProcessed, DownloadState::kQuarantined,
                 DownloadState::kDuplicate}) {
    if (DownloadStateName(s) == name) return s;
  }
  return std::nullopt;
}

}  // namespace

std::string_view DownloadStateName(DownloadState state) {
  switch (state) {
    case DownloadState::kPending:
      return "pending";
    case DownloadState::kProcessed:
      return "processed";
    case DownloadState::kQuarantined:
      return "quarantined";
    case DownloadState::kDuplicate:
      return "duplicate";
  }
  return "pending";
}

// --- Transports ----------------------------------------------------------------

Status SqlStore::CreateTransport(const Transport& t, int64_t now) {
  std::vector<SqlValue> params = {t.name};
  for (auto& v :
       TransportValues(t, SealOrNull(SecretAd("transport", t.name, "password"), t.password)))
    params.push_back(std::move(v));
  params.emplace_back(now);
  auto r = db_->Query(InsertSql("transports", kTransportWritable), params);
  if (r.status().kind() == Status::Kind::kAlreadyExists) return TransportExists(t.name);
  return r.status().WithContext("saving transport " + Quoted(t.name));
}

Status SqlStore::UpdateTransport(const Transport& t) {
  std::vector<SqlValue> params =
      TransportValues(t, SealOrNull(SecretAd("transport", t.name, "password"), t.password));
  params.emplace_back(t.name);
  auto r = db_->Query(UpdateSql("transports", kTransportWritable), params);
  if (!r.ok()) return r.status().WithContext("updating transport " + Quoted(t.name));
  if (r->affected == 0) return NoSuchTransport(t.name);
  return Status::Ok();
}

StatusOr<Transport> SqlStore::GetTransport(std::string_view name) {
  const SqlValue params[] = {std::string(name)};
  auto r = db_->Query(SelectSql(kTransportColumns, "transports", " WHERE name = ?"), params);
  if (!r.ok()) return r.status().WithContext("reading transport " + Quoted(name));
  if (r->rows.empty()) return NoSuchTransport(name);
  return TransportFromRow(r->rows[0]);
}

StatusOr<std::vector<Transport>> SqlStore::ListTransports() {
  auto r = db_->Query(SelectSql(kTransportColumns, "transports", " ORDER BY name"), {});
  if (!r.ok()) return r.status().WithContext("listing transports");
  return CollectRows<Transport>(r->rows,
                                [this](const SqlRow& row) { return TransportFromRow(row); });
}

Status SqlStore::DeleteTransport(std::string_view name) {
  const SqlValue params[] = {std::string(name)};
  auto r = db_->Query("DELETE FROM transports WHERE name = ?", params);
  if (!r.ok()) return r.status().WithContext("removing transport " + Quoted(name));
  if (r->affected == 0) return NoSuchTransport(name);
  return Status::Ok();
}

StatusOr<Transport> SqlStore::TransportFromRow(const SqlRow& row) {
  Transport t;
  t.id = ToInt(row[0]);
  t.name = ToText(row[1]);
  t.host = ToText(row[2]);
  t.port = static_cast<int>(ToInt(row[3]));
  t.encryption = ToText(row[4]);
  t.auth = ToText(row[5]);
  t.username = ToText(row[6]);
  auto password = Unseal(SecretAd("transport", t.name, "password"), row[7]);
  if (!password.ok()) return password.status().WithContext("transport " + Quoted(t.name));
  t.password = std::move(*password);
  t.account = ToText(row[8]);
  t.timeout_seconds = static_cast<int>(ToInt(row[9]));
  t.created_at = ToInt(row[10]);
  return t;
}

// --- Mailboxes -----------------------------------------------------------------

Status SqlStore::CreateMailbox(const Mailbox& m, int64_t now) {
  std::vector<SqlValue> params = {m.name};
  for (auto& v : MailboxValues(m, SealOrNull(SecretAd("mailbox", m.name, "password"), m.password)))
    params.push_back(std::move(v));
  params.emplace_back(now);
  auto r = db_->Query(InsertSql("mailboxes", kMailboxWritable), params);
  if (r.status().kind() == Status::Kind::kAlreadyExists) return MailboxExists(m.name);
  return r.status().WithContext("saving mailbox " + Quoted(m.name));
}

Status SqlStore::UpdateMailbox(const Mailbox& m) {
  std::vector<SqlValue> params =
      MailboxValues(m, SealOrNull(SecretAd("mailbox", m.name, "password"), m.password));
  params.emplace_back(m.name);
  auto r = db_->Query(UpdateSql("mailboxes", kMailboxWritable), params);
  if (!r.ok()) return r.status().WithContext("updating mailbox " + Quoted(m.name));
  if (r->affected == 0) return NoSuchMailbox(m.name);
  return Status::Ok();
}

StatusOr<Mailbox> SqlStore::GetMailbox(std::string_view name) {
  const SqlValue params[] = {std::string(name)};
  auto r = db_->Query(SelectSql(kMailboxColumns, "mailboxes", " WHERE name = ?"), params);
  if (!r.ok()) return r.status().WithContext("reading mailbox " + Quoted(name));
  if (r->rows.empty()) return NoSuchMailbox(name);
  return MailboxFromRow(r->rows[0]);
}

StatusOr<Mailbox> SqlStore::GetMailboxById(int64_t id) {
  const SqlValue params[] = {id};
  auto r = db_->Query(SelectSql(kMailboxColumns, "mailboxes", " WHERE id = ?"), params);
  if (!r.ok()) return r.status().WithContext("reading mailbox " + std::to_string(id));
  if (r->rows.empty()) {
    return Status::NotFound("no mailbox has id " + std::to_string(id) +
                            " (it may have been removed); see `mailgate mailbox list`");
  }
  return MailboxFromRow(r->rows[0]);
}

StatusOr<std::vector<Mailbox>> SqlStore::ListMailboxes() {
  auto r = db_->Query(SelectSql(kMailboxColumns, "mailboxes", " ORDER BY name"), {});
  if (!r.ok()) return r.status().WithContext("listing mailboxes");
  return CollectRows<Mailbox>(r->rows, [this](const SqlRow& row) { return MailboxFromRow(row); });
}

Status SqlStore::DeleteMailbox(std::string_view name) {
  const SqlValue params[] = {std::string(name)};
  auto r = db_->Query("DELETE FROM mailboxes WHERE name = ?", params);
  if (!r.ok()) return r.status().WithContext("removing mailbox " + Quoted(name));
  if (r->affected == 0) return NoSuchMailbox(name);
  return Status::Ok();
}

Status SqlStore::SetMailboxEnabled(std::string_view name, bool enabled) {
  const SqlValue params[] = {int64_t{enabled}, std::string(name)};
  auto r = db_->Query("UPDATE mailboxes SET enabled = ? WHERE name = ?", params);
  if (!r.ok()) return r.status().WithContext("updating mailbox " + Quoted(name));
  if (r->affected == 0) return NoSuchMailbox(name);
  return Status::Ok();
}

Status SqlStore::RecordMailboxCheck(std::string_view name, const MailboxCheckState& s) {
  std::vector<SqlValue> params = {s.checked_at, int64_t{s.consecutive_failures}, s.delayed_until,
                                  s.last_error};
  std::string sql =
      "UPDATE mailboxes SET checked_at = ?, consecutive_failures = ?, delayed_until = ?, "
      "last_error = ?";
  if (s.last_success_at != 0) {
    sql += ", last_success_at = ?";
    params.emplace_back(s.last_success_at);
  }
  sql += " WHERE name = ?";
  params.emplace_back(std::string(name));
  auto r = db_->Query(sql, params);
  if (!r.ok()) return r.status().WithContext("recording the check of mailbox " + Quoted(name));
  if (r->affected == 0) return NoSuchMailbox(name);
  return Status::Ok();
}

StatusOr<Mailbox> SqlStore::MailboxFromRow(const SqlRow& row) {
  Mailbox m;
  m.id = ToInt(row[0]);
  m.name = ToText(row[1]);
  m.enabled = ToInt(row[2]) != 0;
  m.protocol = ToText(row[3]);
  m.host = ToText(row[4]);
  m.port = static_cast<int>(ToInt(row[5]));
  m.encryption = ToText(row[6]);
  m.username = ToText(row[7]);
  m.auth = ToText(row[8]);
  auto password = Unseal(SecretAd("mailbox", m.name, "password"), row[9]);
  if (!password.ok()) return password.status().WithContext("mailbox " + Quoted(m.name));
  m.password = std::move(*password);
  m.account = ToText(row[10]);
  m.folder = ToText(row[11]);
  m.after_download = ToText(row[12]);
  m.max_size_kb = ToInt(row[13]);
  m.download_oversized = ToInt(row[14]) != 0;
  m.timeout_seconds = static_cast<int>(ToInt(row[15]));
  m.max_messages_per_run = static_cast<int>(ToInt(row[16]));
  m.push = ToInt(row[17]) != 0;
  m.checked_at = ToInt(row[18]);
  m.consecutive_failures = static_cast<int>(ToInt(row[19]));
  m.delayed_until = ToInt(row[20]);
  m.last_error = ToText(row[21]);
  m.last_success_at = ToInt(row[22]);
  m.created_at = ToInt(row[23]);
  return m;
}

// --- Downloads -----------------------------------------------------------------

StatusOr<std::vector<DownloadedUid>> SqlStore::ListDownloadedUids(int64_t mailbox_id,
                                                                  int64_t uidvalidity) {
  const SqlValue params[] = {mailbox_id, uidvalidity};
  auto r = db_->Query(
      "SELECT uid, action_done FROM downloads WHERE mailbox_id = ? AND uidvalidity = ? "
      "ORDER BY id",
      params);
  if (!r.ok()) return r.status().WithContext("listing downloaded messages");
  std::vector<DownloadedUid> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) out.push_back({ToText(row[0]), ToInt(row[1]) != 0});
  return out;
}

StatusOr<std::vector<RecordOutcome>> SqlStore::RecordDownloads(
    int64_t mailbox_id, const std::vector<NewDownload>& downloads, int64_t now) {
  std::vector<RecordOutcome> out;
  Status s = InTransaction([&]() -> Status {
    out.clear();
    for (const NewDownload& d : downloads) {
      // Rows inserted earlier in this batch are visible here, so two inputs
      // with the same bytes give one kNew and one kDuplicate.
      const SqlValue find[] = {mailbox_id, d.sha256};
      auto same =
          db_->Query("SELECT 1 FROM downloads WHERE mailbox_id = ? AND sha256 = ? LIMIT 1", find);
      if (!same.ok()) return same.status();
      const bool duplicate = !same->rows.empty();
      // DO NOTHING rather than a prior SELECT: a concurrent checker that
      // recorded the same UID makes this one kAlreadyRecorded, not an error.
      const SqlValue ins[] = {mailbox_id,
                              d.uidvalidity,
                              d.uid,
                              d.sha256,
                              static_cast<int64_t>(d.size),
                              d.spool_path,
                              d.internal_date,
                              std::string(DownloadStateName(duplicate ? DownloadState::kDuplicate
                                                                      : DownloadState::kPending)),
                              now};
      auto r = db_->Query(
          "INSERT INTO downloads (mailbox_id, uidvalidity, uid, sha256, size, spool_path, "
          "internal_date, state, downloaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (mailbox_id, uidvalidity, uid) DO NOTHING",
          ins);
      if (!r.ok()) return r.status();
      if (r->affected == 0) {
        out.push_back(RecordOutcome::kAlreadyRecorded);
      } else {
        out.push_back(duplicate ? RecordOutcome::kDuplicate : RecordOutcome::kNew);
      }
    }
    return Status::Ok();
  });
  if (!s.ok()) return s.WithContext("recording downloads (none was recorded)");
  return out;
}

Status SqlStore::MarkActionsDone(int64_t mailbox_id, int64_t uidvalidity,
                                 const std::vector<std::string>& uids) {
  Status s = InTransaction([&]() -> Status {
    for (size_t i = 0; i < uids.size(); i += kInChunk) {
      const size_t n = std::min(kInChunk, uids.size() - i);
      std::vector<SqlValue> params = {mailbox_id, uidvalidity};
      for (size_t j = 0; j < n; ++j) params.emplace_back(uids[i + j]);
      std::string sql =
          "UPDATE downloads SET action_done = 1 WHERE mailbox_id = ? AND uidvalidity = ? AND "
          "uid IN (";
      sql += Placeholders(n);
      sql += ')';
      auto r = db_->Query(sql, params);
      if (!r.ok()) return r.status();
    }
    return Status::Ok();
  });
  return s.WithContext("noting the after-download actions");
}

StatusOr<std::vector<Download>> SqlStore::QueryDownloads(std::string_view where_and_order,
                                                         std::span<const SqlValue> params) {
  std::string sql = "SELECT ";
  sql += kDownloadColumns;
  sql += " FROM downloads d LEFT JOIN mailboxes m ON m.id = d.mailbox_id ";
  sql += where_and_order;
  auto r = db_->Query(sql, params);
  if (!r.ok()) return r.status();
  std::vector<Download> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) {
    Download d;
    d.id = ToInt(row[0]);
    d.mailbox_id = ToInt(row[1]);
    d.mailbox_name = ToText(row[2]);  // "" once the mailbox is removed
    d.uidvalidity = ToInt(row[3]);
    d.uid = ToText(row[4]);
    d.sha256 = ToText(row[5]);
    d.size = static_cast<uint64_t>(ToInt(row[6]));
    d.spool_path = ToText(row[7]);
    d.internal_date = ToInt(row[8]);
    d.state = ParseDownloadState(ToText(row[9])).value_or(DownloadState::kQuarantined);
    d.action_done = ToInt(row[10]) != 0;
    d.error = ToText(row[11]);
    d.downloaded_at = ToInt(row[12]);
    d.processed_at = ToInt(row[13]);
    out.push_back(std::move(d));
  }
  return out;
}

StatusOr<Download> SqlStore::GetDownload(int64_t id) {
  const SqlValue params[] = {id};
  auto r = QueryDownloads("WHERE d.id = ?", params);
  if (!r.ok()) return r.status().WithContext("reading download " + std::to_string(id));
  if (r->empty()) return NoSuchDownload(id);
  return std::move(r->front());
}

StatusOr<std::vector<Download>> SqlStore::PendingDownloads(int limit) {
  const SqlValue params[] = {int64_t{limit}};
  auto r = QueryDownloads("WHERE d.state = 'pending' ORDER BY d.id LIMIT ?", params);
  if (!r.ok()) return r.status().WithContext("listing pending downloads");
  return r;
}

StatusOr<std::vector<Download>> SqlStore::QuarantinedDownloads() {
  auto r = QueryDownloads("WHERE d.state = 'quarantined' ORDER BY d.id", {});
  if (!r.ok()) return r.status().WithContext("listing quarantined downloads");
  return r;
}

Status SqlStore::QuarantineDownload(int64_t id, std::string_view reason, int64_t now) {
  const SqlValue params[] = {std::string(reason), now, id};
  auto r = db_->Query(
      "UPDATE downloads SET state = 'quarantined', error = ?, processed_at = ? "
      "WHERE id = ? AND state = 'pending'",
      params);
  if (!r.ok()) return r.status().WithContext("quarantining download " + std::to_string(id));
  if (r->affected == 0) {
    auto d = GetDownload(id);  // kNotFound, or not pending: nothing to do
    if (!d.ok()) return d.status();
  }
  return Status::Ok();
}

Status SqlStore::RequeueDownload(int64_t id) {
  const SqlValue params[] = {id};
  auto r = db_->Query(
      "UPDATE downloads SET state = 'pending', error = '', processed_at = 0 "
      "WHERE id = ? AND state = 'quarantined'",
      params);
  if (!r.ok()) return r.status().WithContext("requeueing download " + std::to_string(id));
  if (r->affected > 0) return Status::Ok();
  auto d = GetDownload(id);
  if (!d.ok()) return d.status();
  std::string msg = "download " + std::to_string(id);
  msg += " is ";
  msg += DownloadStateName(d->state);
  msg += ", not quarantined; only quarantined downloads can be requeued";
  return Status::FailedPrecondition(std::move(msg));
}

StatusOr<std::vector<std::string>> SqlStore::FinishedSpoolPaths(
    const std::vector<std::string>& paths) {
  std::set<std::string> finished;
  for (size_t i = 0; i < paths.size(); i += kInChunk) {
    const size_t n = std::min(kInChunk, paths.size() - i);
    std::vector<SqlValue> params;
    params.reserve(n);
    for (size_t j = 0; j < n; ++j) params.emplace_back(paths[i + j]);
    std::string sql =
        "SELECT DISTINCT spool_path FROM downloads WHERE state IN ('processed', 'duplicate') "
        "AND spool_path IN (";
    sql += Placeholders(n);
    sql += ')';
    auto r = db_->Query(sql, params);
    if (!r.ok()) return r.status().WithContext("looking up finished spool files");
    for (const auto& row : r->rows) finished.insert(ToText(row[0]));
  }
  // In the caller's order.
  std::vector<std::string> out;
  for (const auto& p : paths) {
    if (finished.erase(p)) out.push_back(p);
  }
  return out;
}

// --- Runs ----------------------------------------------------------------------

StatusOr<int64_t> SqlStore::StartRun(std::string_view job, std::string_view subject, int64_t now) {
  const SqlValue params[] = {std::string(job), std::string(subject), now};
  auto r = db_->Query(
      "INSERT INTO runs (job, subject, started_at, status) VALUES (?, ?, ?, 'running') "
      "RETURNING id",
      params);
  if (!r.ok()) return r.status().WithContext("recording the start of a run");
  return ToInt(r->rows.at(0).at(0));
}

Status SqlStore::AppendRunLog(int64_t run_id, const std::vector<RunLogLine>& lines) {
  if (lines.empty()) return Status::Ok();
  Status s = InTransaction([&]() -> Status {
    for (const RunLogLine& line : lines) {
      const SqlValue params[] = {run_id, line.at_ms, line.level, line.text};
      auto r = db_->Query("INSERT INTO run_log (run_id, at_ms, level, text) VALUES (?, ?, ?, ?)",
                          params);
      if (!r.ok()) return r.status();
    }
    return Status::Ok();
  });
  return s.WithContext("writing the log of run " + std::to_string(run_id));
}

Status SqlStore::FinishRun(int64_t run_id, std::string_view status, std::string_view summary,
                           int64_t now) {
  const SqlValue params[] = {std::string(status), std::string(summary), now, run_id};
  auto r =
      db_->Query("UPDATE runs SET status = ?, summary = ?, finished_at = ? WHERE id = ?", params);
  if (!r.ok()) return r.status().WithContext("recording the end of run " + std::to_string(run_id));
  if (r->affected == 0) return NoSuchRun(run_id);
  return Status::Ok();
}

StatusOr<std::vector<Run>> SqlStore::ListRuns(std::string_view job, int limit) {
  std::vector<SqlValue> params;
  std::string sql = "SELECT id, job, subject, started_at, finished_at, status, summary FROM runs";
  if (!job.empty()) {
    sql += " WHERE job = ?";
    params.emplace_back(std::string(job));
  }
  sql += " ORDER BY id DESC LIMIT ?";
  params.emplace_back(int64_t{limit});
  auto r = db_->Query(sql, params);
  if (!r.ok()) return r.status().WithContext("listing runs");
  std::vector<Run> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) {
    out.push_back({ToInt(row[0]), ToText(row[1]), ToText(row[2]), ToInt(row[3]), ToInt(row[4]),
                   ToText(row[5]), ToText(row[6])});
  }
  return out;
}

StatusOr<std::vector<RunLogLine>> SqlStore::RunLog(int64_t run_id) {
  const SqlValue params[] = {run_id};
  auto r =
      db_->Query("SELECT at_ms, level, text FROM run_log WHERE run_id = ? ORDER BY id", params);
  if (!r.ok()) return r.status().WithContext("reading the log of run " + std::to_string(run_id));
  std::vector<RunLogLine> out;
  out.reserve(r->rows.size());
  for (const auto& row : r->rows) out.push_back({ToInt(row[0]), ToText(row[1]), ToText(row[2])});
  return out;
}

}  // namespace mailgate::store
