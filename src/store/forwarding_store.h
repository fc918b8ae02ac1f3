// A Store that forwards every call to another one. Tests derive from it to
// inject a fault in one method (LevelDB's ErrorEnv pattern) without
// restating the whole interface; a method added to Store is added here once.
#ifndef MAILGATE_STORE_FORWARDING_STORE_H_
#define MAILGATE_STORE_FORWARDING_STORE_H_

#include <memory>
#include <utility>

#include "store/store.h"

namespace mailgate::store {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}
  Store& inner() { return *inner_; }

  std::string_view backend() const override { return inner_->backend(); }
  StatusOr<int> SchemaVersion() override { return inner_->SchemaVersion(); }
  Status Batch(const std::function<Status()>& body) override { return inner_->Batch(body); }
  Status CreateTransport(const Transport& transport, int64_t now) override {
    return inner_->CreateTransport(transport, now);
  }
  Status UpdateTransport(const Transport& transport) override {
    return inner_->UpdateTransport(transport);
  }
  StatusOr<Transport> GetTransport(std::string_view name) override {
    return inner_->GetTransport(name);
  }
  StatusOr<std::vector<Transport>> ListTransports() override { return inner_->ListTransports(); }
  Status DeleteTransport(std::string_view name) override { return inner_->DeleteTransport(name); }
  Status CreateMailbox(const Mailbox& mailbox, int64_t now) override {
    return inner_->CreateMailbox(mailbox, now);
  }
  Status UpdateMailbox(const Mailbox& mailbox) override { return inner_->UpdateMailbox(mailbox); }
  StatusOr<Mailbox> GetMailbox(std::string_view name) override { return inner_->GetMailbox(name); }
  StatusOr<std::vector<Mailbox>> ListMailboxes() override { return inner_->ListMailboxes(); }
  Status DeleteMailbox(std::string_view name) override { return inner_->DeleteMailbox(name); }
  Status SetMailboxEnabled(std::string_view name, bool enabled) override {
    return inner_->SetMailboxEnabled(name, enabled);
  }
  Status RecordMailboxCheck(std::string_view name, const MailboxCheckState& state) override {
    return inner_->RecordMailboxCheck(name, state);
  }
  StatusOr<std::vector<DownloadedUid>> ListDownloadedUids(int64_t mailbox_id,
                                                          int64_t uidvalidity) override {
    return inner_->ListDownloadedUids(mailbox_id, uidvalidity);
  }
  StatusOr<std::vector<RecordOutcome>> RecordDownloads(int64_t mailbox_id,
                                                       const std::vector<NewDownload>& downloads,
                                                       int64_t now) override {
    return inner_->RecordDownloads(mailbox_id, downloads, now);
  }
  Status MarkActionsDone(int64_t mailbox_id, int64_t uidvalidity,
                         const std::vector<std::string>& uids) override {
    return inner_->MarkActionsDone(mailbox_id, uidvalidity, uids);
  }
  StatusOr<Download> GetDownload(int64_t id) override { return inner_->GetDownload(id); }
  StatusOr<std::vector<Download>> PendingDownloads(int limit) override {
    return inner_->PendingDownloads(limit);
  }
  StatusOr<std::vector<Download>> QuarantinedDownloads() override {
    return inner_->QuarantinedDownloads();
  }
  Status QuarantineDownload(int64_t id, std::string_view reason, int64_t now) override {
    return inner_->QuarantineDownload(id, reason, now);
  }
  Status RequeueDownload(int64_t id) override { return inner_->RequeueDownload(id); }
  StatusOr<std::vector<std::string>> FinishedSpoolPaths(
      const std::vector<std::string>& paths) override {
    return inner_->FinishedSpoolPaths(paths);
  }
  StatusOr<std::optional<int64_t>> ConversationByMessageId(std::string_view message_id) override {
    return inner_->ConversationByMessageId(message_id);
  }
  StatusOr<std::optional<int64_t>> ConversationByMask(std::string_view mask) override {
    return inner_->ConversationByMask(mask);
  }
  StatusOr<StoredMessageIds> StoreReceivedMessage(const ReceivedMessage& received,
                                                  int64_t now) override {
    return inner_->StoreReceivedMessage(received, now);
  }
  StatusOr<std::vector<Conversation>> ListConversations(int limit, int offset) override {
    return inner_->ListConversations(limit, offset);
  }
  StatusOr<Conversation> GetConversation(int64_t id) override {
    return inner_->GetConversation(id);
  }
  StatusOr<std::vector<MessageRecord>> ConversationMessages(int64_t conversation_id) override {
    return inner_->ConversationMessages(conversation_id);
  }
  StatusOr<std::string> AttachmentData(std::string_view sha256) override {
    return inner_->AttachmentData(sha256);
  }
  StatusOr<std::vector<UndeliverableAddress>> ListUndeliverable() override {
    return inner_->ListUndeliverable();
  }
  StatusOr<int64_t> StartRun(std::string_view job, std::string_view subject, int64_t now) override {
    return inner_->StartRun(job, subject, now);
  }
  Status AppendRunLog(int64_t run_id, const std::vector<RunLogLine>& lines) override {
    return inner_->AppendRunLog(run_id, lines);
  }
  Status FinishRun(int64_t run_id, std::string_view status, std::string_view summary,
                   int64_t now) override {
    return inner_->FinishRun(run_id, status, summary, now);
  }
  StatusOr<std::vector<Run>> ListRuns(std::string_view job, int limit) override {
    return inner_->ListRuns(job, limit);
  }
  StatusOr<std::vector<RunLogLine>> RunLog(int64_t run_id) override {
    return inner_->RunLog(run_id);
  }
  Status CreateAccount(const Account& account, int64_t now) override {
    return inner_->CreateAccount(account, now);
  }
  StatusOr<Account> GetAccount(std::string_view name) override { return inner_->GetAccount(name); }
  StatusOr<std::vector<Account>> ListAccounts() override { return inner_->ListAccounts(); }
  Status DeleteAccount(std::string_view name) override { return inner_->DeleteAccount(name); }
  Status UpdateAccount(std::string_view name, const AccountUpdate& update) override {
    return inner_->UpdateAccount(name, update);
  }
  StatusOr<bool> TryAcquireRefreshLease(std::string_view name, std::string_view holder, int64_t now,
                                        int64_t ttl, std::string_view steal_from) override {
    return inner_->TryAcquireRefreshLease(name, holder, now, ttl, steal_from);
  }
  StatusOr<std::string> RefreshLeaseHolder(std::string_view name, int64_t now) override {
    return inner_->RefreshLeaseHolder(name, now);
  }
  Status ReleaseRefreshLease(std::string_view name, std::string_view holder) override {
    return inner_->ReleaseRefreshLease(name, holder);
  }
  StatusOr<int64_t> RaiseAlert(std::string_view kind, std::string_view subject,
                               std::string_view message, int64_t now) override {
    return inner_->RaiseAlert(kind, subject, message, now);
  }
  Status ResolveAlerts(std::string_view subject, int64_t now) override {
    return inner_->ResolveAlerts(subject, now);
  }
  StatusOr<std::vector<Alert>> ListAlerts(bool open_only) override {
    return inner_->ListAlerts(open_only);
  }
  Status ResealSecrets(std::shared_ptr<const Vault> next) override {
    return inner_->ResealSecrets(next);
  }

 private:
  std::unique_ptr<Store> inner_;
};

}  // namespace mailgate::store

#endif  // MAILGATE_STORE_FORWARDING_STORE_H_
