// SqlStore: scheduler jobs, mailbox leases and the outgoing mail queue.
//
// Every lease is taken with one conditional UPDATE whose WHERE clause says
// "free, expired or mine": atomic on both backends (SQLite serialises
// writers; PostgreSQL re-checks the WHERE clause after waiting for a
// concurrent writer's row lock), so of two racing holders exactly one sees
// affected == 1.
#include <string>
#include <utility>

#include "store/sql_store.h"

namespace mailgate::store {
namespace {

constexpr std::string_view kJobColumns =
    "name, enabled, interval_seconds, last_run_at, next_run_at, run_requested, lease_holder, "
    "lease_expires_at, last_status, last_summary, last_duration_ms";

constexpr std::string_view kOutgoingColumns =
    "id, transport, mail_from, recipients, message_id, subject, conversation_id, state, "
    "attempts, next_attempt_at, last_error, results, stored, created_at, sent_at, updated_at";

// A lease column pair as read at `now`: "" when free or expired.
std::string LiveHolder(const std::optional<std::string>& holder, int64_t expires_at, int64_t now) {
  if (!holder || expires_at <= now) return std::string();
  return *holder;
}

Job JobFromRow(const SqlRow& row, int64_t now) {
  Job j;
  j.name = ToText(row[0]);
  j.enabled = ToInt(row[1]) != 0;
  j.interval_seconds = ToInt(row[2]);
  j.last_run_at = ToInt(row[3]);
  j.next_run_at = ToInt(row[4]);
  j.run_requested = ToInt(row[5]) != 0;
  j.lease_expires_at = ToInt(row[7]);
  j.lease_holder = LiveHolder(row[6], j.lease_expires_at, now);
  j.last_status = ToText(row[8]);
  j.last_summary = ToText(row[9]);
  j.last_duration_ms = ToInt(row[10]);
  return j;
}

Status NoSuchJob(std::string_view name) {
  return Status::NotFound("no job named '" + std::string(name) +
                          "'; the jobs are check, process, outgoing, tokens and maintenance");
}

// One entry per line; CR and LF cannot occur in an address we accept.
std::string JoinLines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += '\n';
    out += item;
  }
  return out;
}

std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    if (j > i) out.emplace_back(text.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string OneLine(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  }
  return out;
}

// "address<TAB>code<TAB>at<TAB>text" per line.
std::string EncodeResults(const std::vector<RecipientOutcome>& results) {
  std::vector<std::string> lines;
  for (const auto& r : results) {
    std::string line = OneLine(r.address);
    line += '\t';
    line += std::to_string(r.code);
    line += '\t';
    line += std::to_string(r.at);
    line += '\t';
    line += OneLine(r.text);
    lines.push_back(std::move(line));
  }
  return JoinLines(lines);
}

std::vector<RecipientOutcome> DecodeResults(std::string_view text) {
  std::vector<RecipientOutcome> out;
  for (const std::string& line : SplitLines(text)) {
    RecipientOutcome r;
    const size_t a = line.find('\t');
    const size_t b = a == std::string::npos ? a : line.find('\t', a + 1);
    const size_t c = b == std::string::npos ? b : line.find('\t', b + 1);
    if (c == std::string::npos) continue;
    r.address = line.substr(0, a);
    r.code = std::stoi(line.substr(a + 1, b - a - 1));
    r.at = std::stoll(line.substr(b + 1, c - b - 1));
    r.text = line.substr(c + 1);
    out.push_back(std::move(r));
  }
  return out;
}

OutgoingMessage OutgoingFromRow(const SqlRow& row) {
  OutgoingMessage m;
  m.id = ToInt(row[0]);
  m.transport = ToText(row[1]);
  m.mail_from = ToText(row[2]);
  m.recipients = SplitLines(ToText(row[3]));
  m.message_id = ToText(row[4]);
  m.subject = ToText(row[5]);
  m.conversation_id = ToInt(row[6]);
  m.state = ParseOutgoingState(ToText(row[7])).value_or(OutgoingState::kFailed);
  m.attempts = static_cast<int>(ToInt(row[8]));
  m.next_attempt_at = ToInt(row[9]);
  m.last_error = ToText(row[10]);
  m.results = DecodeResults(ToText(row[11]));
  m.stored = ToInt(row[12]) != 0;
  m.created_at = ToInt(row[13]);
  m.sent_at = ToInt(row[14]);
  m.updated_at = ToInt(row[15]);
  if (row.size() > 16) m.raw = ToText(row[16]);
  return m;
}

Status NoSuchOutgoing(int64_t id) {
  return Status::NotFound("no outgoing message with id " + std::to_string(id) +
                          "; see `mailgate outgoing list`");
}

}  // namespace

std::string_view OutgoingStateName(OutgoingState state) {
  switch (state) {
    case OutgoingState::kQueued:
      return "queued";
    case OutgoingState::kSending:
      return "sending";
    case OutgoingState::kSent:
      return "sent";
    case OutgoingState::kFailed:
      return "failed";
  }
  return "failed";
}

std::optional<OutgoingState> ParseOutgoingState(std::string_view name) {
  for (auto s : {OutgoingState::kQueued, OutgoingState::kSending, OutgoingState::kSent,
                 OutgoingState::kFailed}) {
    if (OutgoingStateName(s) == name) return s;
  }
  return std::nullopt;
}

// --- Jobs ----------------------------------------------------------------------

StatusOr<std::vector<Job>> SqlStore::ListJobs(int64_t now) {
  auto r = db_->Query("SELECT " + std::string(kJobColumns) + " FROM jobs ORDER BY name", {});
  if (!r.ok()) return r.status().WithContext("listing jobs");
  std::vector<Job> out;
  for (const auto& row : r->rows) out.push_back(JobFromRow(row, now));
  return out;
}

StatusOr<Job> SqlStore::GetJob(std::string_view name, int64_t now) {
  const SqlValue params[] = {std::string(name)};
  auto r = db_->Query("SELECT " + std::string(kJobColumns) + " FROM jobs WHERE name = ?", params);
  if (!r.ok()) return r.status().WithContext("reading job '" + std::string(name) + "'");
  if (r->rows.empty()) return NoSuchJob(name);
  return JobFromRow(r->rows[0], now);
}

Status SqlStore::ConfigureJob(std::string_view name, bool enabled, int64_t interval_seconds) {
  if (interval_seconds <= 0) {
    return Status::InvalidArgument("a job's interval must be at least one second");
  }
  const SqlValue params[] = {int64_t{enabled}, interval_seconds, interval_seconds,
                             std::string(name)};
  auto r = db_->Query(
      "UPDATE jobs SET enabled = ?, interval_seconds = ?, next_run_at = last_run_at + ? "
      "WHERE name = ?",
      params);
  if (!r.ok()) return r.status().WithContext("configuring job '" + std::string(name) + "'");
  if (r->affected == 0) return NoSuchJob(name);
  return Status::Ok();
}

Status SqlStore::RequestJobRun(std::string_view name) {
  Status s = InTransaction([&]() -> Status {
    const SqlValue params[] = {std::string(name)};
    auto r = db_->Query("UPDATE jobs SET run_requested = 1 WHERE name = ?", params);
    if (!r.ok()) return r.status();
    if (r->affected == 0) return NoSuchJob(name);
    // The checker's runs are per mailbox: "run now" makes each one due once,
    // whichever worker takes it.
    if (name == "check") {
      return db_->Query("UPDATE mailboxes SET check_requested = 1 WHERE enabled = 1", {}).status();
    }
    return Status::Ok();
  });
  return s.WithContext("requesting a run of '" + std::string(name) + "'");
}

StatusOr<bool> SqlStore::TryStartJob(std::string_view name, std::string_view holder, int64_t now,
                                     int64_t ttl) {
  const SqlValue params[] = {std::string(holder), now + ttl, std::string(name), now, now,
                             std::string(holder)};
  auto r = db_->Query(
      "UPDATE jobs SET lease_holder = ?, lease_expires_at = ?, run_requested = 0 "
      "WHERE name = ? AND enabled = 1 AND (next_run_at <= ? OR run_requested = 1) "
      "AND (lease_holder IS NULL OR lease_expires_at <= ? OR lease_holder = ?)",
      params);
  if (!r.ok()) return r.status().WithContext("starting job '" + std::string(name) + "'");
  return r->affected > 0;
}

StatusOr<bool> SqlStore::RenewJobLease(std::string_view name, std::string_view holder, int64_t now,
                                       int64_t ttl) {
  const SqlValue params[] = {now + ttl, std::string(name), std::string(holder)};
  auto r = db_->Query("UPDATE jobs SET lease_expires_at = ? WHERE name = ? AND lease_holder = ?",
                      params);
  if (!r.ok())
    return r.status().WithContext("renewing the lease of job '" + std::string(name) + "'");
  return r->affected > 0;
}

Status SqlStore::FinishJob(std::string_view name, std::string_view holder, int64_t started_at,
                           std::string_view status, std::string_view summary, int64_t duration_ms) {
  Status s = InTransaction([&]() -> Status {
    const SqlValue params[] = {started_at,           started_at,  std::string(status),
                               std::string(summary), duration_ms, std::string(name)};
    auto r = db_->Query(
        "UPDATE jobs SET last_run_at = ?, next_run_at = ? + interval_seconds, last_status = ?, "
        "last_summary = ?, last_duration_ms = ? WHERE name = ?",
        params);
    if (!r.ok()) return r.status();
    if (r->affected == 0) return NoSuchJob(name);
    if (holder.empty()) return Status::Ok();
    const SqlValue release[] = {std::string(name), std::string(holder)};
    return db_
        ->Query(
            "UPDATE jobs SET lease_holder = NULL, lease_expires_at = 0 "
            "WHERE name = ? AND lease_holder = ?",
            release)
        .status();
  });
  return s.WithContext("recording the run of job '" + std::string(name) + "'");
}

// --- Mailbox leases -------------------------------------------------------------

StatusOr<std::vector<MailboxSchedule>> SqlStore::ListMailboxSchedules(int64_t now) {
  auto r = db_->Query(
      "SELECT id, name, enabled, push, checked_at, delayed_until, check_requested, lease_holder, "
      "lease_expires_at FROM mailboxes ORDER BY name",
      {});
  if (!r.ok()) return r.status().WithContext("listing mailboxes to schedule");
  std::vector<MailboxSchedule> out;
  for (const auto& row : r->rows) {
    MailboxSchedule m;
    m.id = ToInt(row[0]);
    m.name = ToText(row[1]);
    m.enabled = ToInt(row[2]) != 0;
    m.push = ToInt(row[3]) != 0;
    m.checked_at = ToInt(row[4]);
    m.delayed_until = ToInt(row[5]);
    m.check_requested = ToInt(row[6]) != 0;
    m.lease_expires_at = ToInt(row[8]);
    m.lease_holder = LiveHolder(row[7], m.lease_expires_at, now);
    out.push_back(std::move(m));
  }
  return out;
}

Status SqlStore::RequestMailboxCheck(std::string_view name) {
  const SqlValue params[] = {std::string(name)};
  auto r = db_->Query("UPDATE mailboxes SET check_requested = 1 WHERE name = ?", params);
  if (!r.ok()) return r.status().WithContext("requesting a check");
  if (r->affected == 0) {
    return Status::NotFound("no mailbox named '" + std::string(name) +
                            "'; see `mailgate mailbox list`");
  }
  return Status::Ok();
}

StatusOr<bool> SqlStore::TryAcquireMailboxLease(int64_t mailbox_id, std::string_view holder,
                                                int64_t now, int64_t ttl) {
  const SqlValue params[] = {std::string(holder), now + ttl, mailbox_id, now, std::string(holder)};
  auto r = db_->Query(
      "UPDATE mailboxes SET lease_holder = ?, lease_expires_at = ?, check_requested = 0 "
      "WHERE id = ? AND (lease_holder IS NULL OR lease_expires_at <= ? OR lease_holder = ?)",
      params);
  if (!r.ok()) return r.status().WithContext("taking a mailbox lease");
  if (r->affected > 0) return true;
  const SqlValue id[] = {mailbox_id};
  auto exists = db_->Query("SELECT 1 FROM mailboxes WHERE id = ?", id);
  if (!exists.ok()) return exists.status();
  if (exists->rows.empty()) {
    return Status::NotFound("no mailbox with id " + std::to_string(mailbox_id));
  }
  return false;
}

StatusOr<bool> SqlStore::RenewMailboxLease(int64_t mailbox_id, std::string_view holder, int64_t now,
                                           int64_t ttl) {
  const SqlValue params[] = {now + ttl, mailbox_id, std::string(holder)};
  auto r = db_->Query("UPDATE mailboxes SET lease_expires_at = ? WHERE id = ? AND lease_holder = ?",
                      params);
  if (!r.ok()) return r.status().WithContext("renewing a mailbox lease");
  return r->affected > 0;
}

Status SqlStore::ReleaseMailboxLease(int64_t mailbox_id, std::string_view holder) {
  const SqlValue params[] = {mailbox_id, std::string(holder)};
  return db_
      ->Query(
          "UPDATE mailboxes SET lease_holder = NULL, lease_expires_at = 0 "
          "WHERE id = ? AND lease_holder = ?",
          params)
      .status()
      .WithContext("releasing a mailbox lease");
}

Status SqlStore::ReleaseAllLeases(std::string_view holder) {
  Status s = InTransaction([&]() -> Status {
    const SqlValue params[] = {std::string(holder)};
    for (std::string_view table : {"jobs", "mailboxes"}) {
      std::string sql = "UPDATE ";
      sql += table;
      sql += " SET lease_holder = NULL, lease_expires_at = 0 WHERE lease_holder = ?";
      auto r = db_->Query(sql, params);
      if (!r.ok()) return r.status();
    }
    return Status::Ok();
  });
  return s.WithContext("releasing leases");
}

// --- Outgoing mail ------------------------------------------------------------------

StatusOr<int64_t> SqlStore::QueueOutgoing(const OutgoingMessage& m, int64_t now) {
  if (m.recipients.empty()) {
    return Status::InvalidArgument("a message needs at least one recipient (--to or --cc)");
  }
  const SqlValue params[] = {m.transport,
                             m.mail_from,
                             JoinLines(m.recipients),
                             m.message_id,
                             m.subject,
                             m.conversation_id,
                             SqlBlob{m.raw},
                             m.next_attempt_at != 0 ? m.next_attempt_at : now,
                             now,
                             now};
  auto r = db_->Query(
      "INSERT INTO outgoing (transport, mail_from, recipients, message_id, subject, "
      "conversation_id, raw, state, next_attempt_at, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?) RETURNING id",
      params);
  if (!r.ok()) return r.status().WithContext("queueing an outgoing message");
  return ToInt(r->rows.at(0).at(0));
}

StatusOr<std::vector<OutgoingMessage>> SqlStore::QueryOutgoing(std::string_view columns,
                                                               std::string_view where_and_order,
                                                               std::span<const SqlValue> params) {
  std::string sql = "SELECT ";
  sql += columns;
  sql += " FROM outgoing ";
  sql += where_and_order;
  auto r = db_->Query(sql, params);
  if (!r.ok()) return r.status().WithContext("reading the outgoing queue");
  std::vector<OutgoingMessage> out;
  for (const auto& row : r->rows) out.push_back(OutgoingFromRow(row));
  return out;
}

StatusOr<OutgoingMessage> SqlStore::GetOutgoing(int64_t id) {
  const SqlValue params[] = {id};
  auto r = QueryOutgoing(std::string(kOutgoingColumns) + ", raw", "WHERE id = ?", params);
  if (!r.ok()) return r.status();
  if (r->empty()) return NoSuchOutgoing(id);
  return std::move(r->front());
}

StatusOr<std::vector<OutgoingMessage>> SqlStore::ListOutgoing(std::string_view state, int limit) {
  if (state.empty()) {
    const SqlValue params[] = {int64_t{limit}};
    return QueryOutgoing(kOutgoingColumns, "ORDER BY id DESC LIMIT ?", params);
  }
  const SqlValue params[] = {std::string(state), int64_t{limit}};
  return QueryOutgoing(kOutgoingColumns, "WHERE state = ? ORDER BY id DESC LIMIT ?", params);
}

StatusOr<int64_t> SqlStore::CountOutgoingPending() {
  auto r = db_->Query("SELECT COUNT(*) FROM outgoing WHERE state IN ('queued', 'sending')", {});
  if (!r.ok()) return r.status().WithContext("counting the outgoing queue");
  return ToInt(r->rows.at(0).at(0));
}

StatusOr<std::optional<OutgoingMessage>> SqlStore::ClaimOutgoing(std::string_view holder,
                                                                 int64_t now, int64_t ttl) {
  // Candidates first, then a conditional UPDATE per candidate: another
  // worker may claim one between the two, and then its UPDATE wins.
  const SqlValue find[] = {now, now};
  auto candidates = db_->Query(
      "SELECT id FROM outgoing WHERE (state = 'queued' AND next_attempt_at <= ?) "
      "OR (state = 'sending' AND lease_expires_at <= ?) ORDER BY next_attempt_at, id LIMIT 8",
      find);
  if (!candidates.ok()) return candidates.status().WithContext("reading the outgoing queue");
  for (const auto& row : candidates->rows) {
    const int64_t id = ToInt(row[0]);
    const SqlValue claim[] = {std::string(holder), now + ttl, now, id, now, now};
    auto r = db_->Query(
        "UPDATE outgoing SET state = 'sending', lease_holder = ?, lease_expires_at = ?, "
        "attempts = attempts + 1, updated_at = ? WHERE id = ? AND "
        "((state = 'queued' AND next_attempt_at <= ?) OR "
        "(state = 'sending' AND lease_expires_at <= ?))",
        claim);
    if (!r.ok()) return r.status().WithContext("claiming an outgoing message");
    if (r->affected == 0) continue;
    auto m = GetOutgoing(id);
    if (!m.ok()) return m.status();
    return std::optional<OutgoingMessage>(std::move(*m));
  }
  return std::optional<OutgoingMessage>();
}

Status SqlStore::RecordOutgoingAttempt(int64_t id, std::string_view holder,
                                       const OutgoingAttempt& a, int64_t now) {
  Status s = InTransaction([&]() -> Status {
    const SqlValue key[] = {id, std::string(holder)};
    auto cur = db_->Query(
        "SELECT results FROM outgoing WHERE id = ? AND state = 'sending' AND lease_holder = ?",
        key);
    if (!cur.ok()) return cur.status();
    if (cur->rows.empty()) {
      return Status::FailedPrecondition("outgoing message " + std::to_string(id) +
                                        " is no longer this worker's to send");
    }
    std::vector<RecipientOutcome> results = DecodeResults(ToText(cur->rows[0][0]));
    results.insert(results.end(), a.results.begin(), a.results.end());
    const bool queued = a.state == OutgoingState::kQueued;
    const SqlValue params[] = {std::string(OutgoingStateName(a.state)),
                               queued ? SqlValue(JoinLines(a.remaining)) : SqlValue(nullptr),
                               a.next_attempt_at,
                               a.error,
                               EncodeResults(results),
                               a.delivered_any ? now : int64_t{0},
                               now,
                               id};
    return db_
        ->Query(
            "UPDATE outgoing SET state = ?, recipients = COALESCE(?, recipients), "
            "next_attempt_at = ?, last_error = ?, results = ?, "
            "sent_at = CASE WHEN sent_at = 0 THEN ? ELSE sent_at END, updated_at = ?, "
            "lease_holder = NULL, lease_expires_at = 0 WHERE id = ?",
            params)
        .status();
  });
  return s.WithContext("recording a delivery attempt of outgoing message " + std::to_string(id));
}

Status SqlStore::MarkOutgoingStored(int64_t id, int64_t conversation_id) {
  const SqlValue params[] = {conversation_id, id};
  auto r = db_->Query("UPDATE outgoing SET stored = 1, conversation_id = ? WHERE id = ?", params);
  if (!r.ok()) return r.status().WithContext("marking an outgoing message stored");
  if (r->affected == 0) return NoSuchOutgoing(id);
  return Status::Ok();
}

StatusOr<std::vector<OutgoingMessage>> SqlStore::UnstoredSentOutgoing(int limit) {
  const SqlValue params[] = {int64_t{limit}};
  return QueryOutgoing(std::string(kOutgoingColumns) + ", raw",
                       "WHERE sent_at > 0 AND stored = 0 ORDER BY id LIMIT ?", params);
}

Status SqlStore::RetryOutgoing(int64_t id, int64_t now) {
  const SqlValue params[] = {now, now, id};
  auto r = db_->Query(
      "UPDATE outgoing SET state = 'queued', next_attempt_at = ?, updated_at = ? "
      "WHERE id = ? AND state IN ('queued', 'failed')",
      params);
  if (!r.ok()) return r.status().WithContext("retrying an outgoing message");
  if (r->affected > 0) return Status::Ok();
  auto m = GetOutgoing(id);
  if (!m.ok()) return m.status();
  return Status::FailedPrecondition("outgoing message " + std::to_string(id) + " is " +
                                    std::string(OutgoingStateName(m->state)) +
                                    "; only queued or failed messages can be retried");
}

StatusOr<PurgeCounts> SqlStore::PurgeOlderThan(int64_t before) {
  PurgeCounts counts;
  Status s = InTransaction([&]() -> Status {
    counts = {};
    const SqlValue params[] = {before};
    auto log = db_->Query(
        "DELETE FROM run_log WHERE run_id IN "
        "(SELECT id FROM runs WHERE finished_at > 0 AND finished_at < ?)",
        params);
    if (!log.ok()) return log.status();
    counts.run_log_lines = log->affected;
    auto runs = db_->Query("DELETE FROM runs WHERE finished_at > 0 AND finished_at < ?", params);
    if (!runs.ok()) return runs.status();
    counts.runs = runs->affected;
    auto out = db_->Query(
        "DELETE FROM outgoing WHERE state IN ('sent', 'failed') AND stored = 1 "
        "AND updated_at < ?",
        params);
    if (!out.ok()) return out.status();
    counts.outgoing = out->affected;
    // A failed message was never stored; it goes too.
    auto failed = db_->Query(
        "DELETE FROM outgoing WHERE state = 'failed' AND sent_at = 0 AND updated_at < ?", params);
    if (!failed.ok()) return failed.status();
    counts.outgoing += failed->affected;
    return Status::Ok();
  });
  if (!s.ok()) return s.WithContext("purging old runs and outgoing messages");
  return counts;
}

}  // namespace mailgate::store
