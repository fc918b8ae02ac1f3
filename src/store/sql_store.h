// The Store over a Db driver (internal to src/store): one implementation for
// every backend, so SQLite and PostgreSQL behave the same by construction.
//
// The methods are defined by subsystem:
//   sql_store.cc           migrations, accounts, leases, alerts, secrets
//   sql_store_mail.cc      transports, mailboxes, downloads, runs
//   sql_store_messages.cc  conversations, messages, attachments, undeliverable
//   sql_store_serve.cc     scheduler jobs, mailbox leases, outgoing mail
//   sql_store_web.cc       console users, sessions, login throttling, API tokens
//
// Thread safety: as Store (one thread at a time).
#ifndef MAILGATE_STORE_SQL_STORE_H_
#define MAILGATE_STORE_SQL_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "store/attachment_files.h"
#include "store/db.h"
#include "store/store.h"
#include "store/vault.h"

namespace mailgate::store {

// Column values as the drivers return them (text or NULL).
int64_t ToInt(const std::optional<std::string>& v);
std::string ToText(const std::optional<std::string>& v);

// The associated data that binds a sealed value to its row and column, e.g.
// "mailbox/Support/password". Names are unique and never renamed, so a
// sealed value copied into another row fails to open.
std::string SecretAd(std::string_view kind, std::string_view name, std::string_view column);

class SqlStore final : public Store {
 public:
  SqlStore(std::unique_ptr<Db> db, std::shared_ptr<const Vault> vault)
      : db_(std::move(db)), vault_(std::move(vault)) {}

  // Applies pending schema migrations.
  Status Migrate();

  // New attachment bytes go to files under `dir` instead of the database
  // (attachment_files.h). SQLite only: PostgreSQL workers may run on other
  // machines, which share the database but not this folder.
  void UseAttachmentFiles(std::string dir) {
    files_ = std::make_unique<AttachmentFiles>(std::move(dir));
  }

  std::string_view backend() const override { return db_->backend(); }
  StatusOr<int> SchemaVersion() override;
  Status Batch(const std::function<Status()>& body) override;

  // sql_store_mail.cc
  Status CreateTransport(const Transport& transport, int64_t now) override;
  Status UpdateTransport(const Transport& transport) override;
  StatusOr<Transport> GetTransport(std::string_view name) override;
  StatusOr<std::vector<Transport>> ListTransports() override;
  Status DeleteTransport(std::string_view name) override;

  Status CreateMailbox(const Mailbox& mailbox, int64_t now) override;
  Status UpdateMailbox(const Mailbox& mailbox) override;
  StatusOr<Mailbox> GetMailbox(std::string_view name) override;
  StatusOr<Mailbox> GetMailboxById(int64_t id) override;
  StatusOr<std::vector<Mailbox>> ListMailboxes() override;
  Status DeleteMailbox(std::string_view name) override;
  Status SetMailboxEnabled(std::string_view name, bool enabled) override;
  Status RecordMailboxCheck(std::string_view name, const MailboxCheckState& state) override;

  StatusOr<std::vector<DownloadedUid>> ListDownloadedUids(int64_t mailbox_id,
                                                          int64_t uidvalidity) override;
  StatusOr<std::vector<RecordOutcome>> RecordDownloads(int64_t mailbox_id,
                                                       const std::vector<NewDownload>& downloads,
                                                       int64_t now) override;
  Status MarkActionsDone(int64_t mailbox_id, int64_t uidvalidity,
                         const std::vector<std::string>& uids) override;
  StatusOr<Download> GetDownload(int64_t id) override;
  StatusOr<std::vector<Download>> PendingDownloads(int limit) override;
  StatusOr<std::vector<Download>> QuarantinedDownloads() override;
  Status QuarantineDownload(int64_t id, std::string_view reason, int64_t now) override;
  Status RequeueDownload(int64_t id) override;
  StatusOr<std::vector<std::string>> FinishedSpoolPaths(
      const std::vector<std::string>& paths) override;

  StatusOr<int64_t> StartRun(std::string_view job, std::string_view subject, int64_t now) override;
  Status AppendRunLog(int64_t run_id, const std::vector<RunLogLine>& lines) override;
  Status FinishRun(int64_t run_id, std::string_view status, std::string_view summary,
                   int64_t now) override;
  StatusOr<std::vector<Run>> ListRuns(std::string_view job, int limit) override;
  StatusOr<std::vector<RunLogLine>> RunLog(int64_t run_id) override;

  // sql_store_messages.cc
  StatusOr<std::optional<int64_t>> ConversationByMessageId(std::string_view message_id) override;
  StatusOr<std::optional<int64_t>> ConversationByMask(std::string_view mask) override;
  StatusOr<StoredMessageIds> StoreReceivedMessage(const ReceivedMessage& received,
                                                  int64_t now) override;
  StatusOr<std::vector<Conversation>> ListConversations(int limit, int offset) override;
  StatusOr<Conversation> GetConversation(int64_t id) override;
  StatusOr<std::vector<MessageRecord>> ConversationMessages(int64_t conversation_id) override;
  StatusOr<std::string> AttachmentData(std::string_view sha256) override;
  StatusOr<std::vector<UndeliverableAddress>> ListUndeliverable() override;

  // sql_store.cc
  Status CreateAccount(const Account& account, int64_t now) override;
  StatusOr<Account> GetAccount(std::string_view name) override;
  StatusOr<std::vector<Account>> ListAccounts() override;
  Status DeleteAccount(std::string_view name) override;
  Status UpdateAccount(std::string_view name, const AccountUpdate& update) override;

  StatusOr<bool> TryAcquireRefreshLease(std::string_view name, std::string_view holder, int64_t now,
                                        int64_t ttl, std::string_view steal_from) override;
  StatusOr<std::string> RefreshLeaseHolder(std::string_view name, int64_t now) override;
  Status ReleaseRefreshLease(std::string_view name, std::string_view holder) override;

  StatusOr<int64_t> RaiseAlert(std::string_view kind, std::string_view subject,
                               std::string_view message, int64_t now) override;
  Status ResolveAlerts(std::string_view subject, int64_t now) override;
  StatusOr<std::vector<Alert>> ListAlerts(bool open_only) override;

  Status ResealSecrets(std::shared_ptr<const Vault> next) override;

  // sql_store_serve.cc
  StatusOr<std::vector<Job>> ListJobs(int64_t now) override;
  StatusOr<Job> GetJob(std::string_view name, int64_t now) override;
  Status ConfigureJob(std::string_view name, bool enabled, int64_t interval_seconds) override;
  Status RequestJobRun(std::string_view name) override;
  StatusOr<bool> TryStartJob(std::string_view name, std::string_view holder, int64_t now,
                             int64_t ttl) override;
  StatusOr<bool> RenewJobLease(std::string_view name, std::string_view holder, int64_t now,
                               int64_t ttl) override;
  Status FinishJob(std::string_view name, std::string_view holder, int64_t started_at,
                   std::string_view status, std::string_view summary, int64_t duration_ms) override;
  StatusOr<std::vector<MailboxSchedule>> ListMailboxSchedules(int64_t now) override;
  Status RequestMailboxCheck(std::string_view name) override;
  StatusOr<bool> TryAcquireMailboxLease(int64_t mailbox_id, std::string_view holder, int64_t now,
                                        int64_t ttl) override;
  StatusOr<bool> RenewMailboxLease(int64_t mailbox_id, std::string_view holder, int64_t now,
                                   int64_t ttl) override;
  Status ReleaseMailboxLease(int64_t mailbox_id, std::string_view holder) override;
  Status ReleaseAllLeases(std::string_view holder) override;
  StatusOr<int64_t> QueueOutgoing(const OutgoingMessage& message, int64_t now) override;
  StatusOr<OutgoingMessage> GetOutgoing(int64_t id) override;
  StatusOr<std::vector<OutgoingMessage>> ListOutgoing(std::string_view state, int limit) override;
  StatusOr<int64_t> CountOutgoingPending() override;
  StatusOr<std::optional<OutgoingMessage>> ClaimOutgoing(std::string_view holder, int64_t now,
                                                         int64_t ttl) override;
  Status RecordOutgoingAttempt(int64_t id, std::string_view holder, const OutgoingAttempt& attempt,
                               int64_t now) override;
  Status MarkOutgoingStored(int64_t id, int64_t conversation_id) override;
  StatusOr<std::vector<OutgoingMessage>> UnstoredSentOutgoing(int limit) override;
  Status RetryOutgoing(int64_t id, int64_t now) override;
  StatusOr<PurgeCounts> PurgeOlderThan(int64_t before) override;
  // sql_store_web.cc
  StatusOr<bool> CreateFirstConsoleUser(const ConsoleUser& user, int64_t now) override;
  Status SetConsolePassword(std::string_view name, std::string_view password_hash,
                            int64_t now) override;
  StatusOr<ConsoleUser> GetConsoleUser(std::string_view name) override;
  Status CreateConsoleSession(const ConsoleSession& session) override;
  StatusOr<ConsoleSession> GetConsoleSession(std::string_view id_hash, int64_t now) override;
  Status TouchConsoleSession(std::string_view id_hash, int64_t last_seen_at,
                             int64_t expires_at) override;
  Status DeleteConsoleSession(std::string_view id_hash) override;
  Status CreatePendingAuthorization(const PendingAuthorization& pending, int64_t now) override;
  StatusOr<PendingAuthorization> TakePendingAuthorization(std::string_view state,
                                                          int64_t now) override;
  Status PurgeConsoleState(int64_t now, int64_t failures_before) override;
  Status RecordLoginFailure(std::string_view key, int64_t now) override;
  StatusOr<LoginFailures> CountLoginFailures(std::string_view key, int64_t since) override;
  Status ClearLoginFailures(std::string_view key) override;
  Status CreateApiToken(const ApiToken& token, int64_t now) override;
  StatusOr<std::vector<ApiToken>> ListApiTokens() override;
  StatusOr<ApiToken> ApiTokenByHash(std::string_view token_hash) override;
  Status TouchApiToken(std::string_view name, int64_t now) override;
  Status RevokeApiToken(std::string_view name) override;
  StatusOr<std::vector<Conversation>> SearchConversations(std::string_view text, int limit,
                                                          int offset) override;
  StatusOr<Run> GetRun(int64_t id) override;

 private:
  // Runs `body` (returning Status) in a write transaction: committed when it
  // returns OK, rolled back otherwise.
  template <typename F>
  Status InTransaction(F&& body) {
    if (in_batch_) {
      // Inside Batch(): a savepoint, so a failure undoes only this call.
      // Through Query(), which keeps the statement prepared (one per message
      // processed; ExecScript parses it each time).
      MAILGATE_RETURN_IF_ERROR(db_->Query("SAVEPOINT call", {}).status());
      Status s = body();
      if (!s.ok()) {
        (void)db_->ExecScript("ROLLBACK TO SAVEPOINT call");
        (void)db_->ExecScript("RELEASE SAVEPOINT call");
        return s;
      }
      return db_->Query("RELEASE SAVEPOINT call", {}).status();
    }
    MAILGATE_RETURN_IF_ERROR(db_->Begin());
    Status s = body();
    if (s.ok()) s = SyncAttachmentFiles();
    if (!s.ok()) {
      db_->Rollback();
      return s;
    }
    return db_->Commit();
  }

  // Before a commit: the attachment files its rows name are durable first.
  Status SyncAttachmentFiles() {
    if (!files_ || !files_->HasPending()) return Status::Ok();
    return files_->Sync();
  }

  // NULL for an empty secret, else its sealed form bound to `ad`.
  SqlValue SealOrNull(std::string_view ad, const Secret& secret) const;
  // An empty Secret for NULL.
  StatusOr<Secret> Unseal(std::string_view ad, const std::optional<std::string>& sealed) const;

  StatusOr<Account> AccountFromRow(const SqlRow& row);
  StatusOr<Transport> TransportFromRow(const SqlRow& row);
  StatusOr<Mailbox> MailboxFromRow(const SqlRow& row);
  StatusOr<std::vector<OutgoingMessage>> QueryOutgoing(std::string_view columns,
                                                       std::string_view where_and_order,
                                                       std::span<const SqlValue> params);
  StatusOr<std::vector<Download>> QueryDownloads(std::string_view where_and_order,
                                                 std::span<const SqlValue> params);

  std::unique_ptr<Db> db_;
  bool in_batch_ = false;  // inside Batch(): InTransaction uses savepoints
  std::shared_ptr<const Vault> vault_;
  std::unique_ptr<AttachmentFiles> files_;  // null: attachment bytes in the database
};

}  // namespace mailgate::store

#endif  // MAILGATE_STORE_SQL_STORE_H_
