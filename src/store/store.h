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
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/vault.h"

namespace mailgate::store {

// An SMTP transport: where outgoing mail is handed over. Strings that name a
// choice are validated by the layer above (pipeline/config.h) before they get
// here; the schema re-checks them.
struct Transport {
  int64_t id = 0;
  std::string name;  // unique
  std::string host;
  int port = 0;            // 0: the encryption's default (587 starttls, 465 tls, 25 none)
  std::string encryption;  // starttls | tls | none
  std::string auth;        // none | password | xoauth2 | oauthbearer
  std::string username;    // for xoauth2 may differ from the account's own address
  Secret password;         // auth = password
  std::string account;     // connected account, auth = xoauth2 | oauthbearer
  int timeout_seconds = 30;
  int64_t created_at = 0;
};

// A mailbox to download from (IMAP or POP3), with its checker state.
struct Mailbox {
  int64_t id = 0;
  std::string name;  // unique
  bool enabled = true;
  std::string protocol;  // imap | pop3
  std::string host;
  int port = 0;                           // 0: the default (143/993 IMAP, 110/995 POP3)
  std::string encryption;                 // tls | starttls | none
  std::string username;                   // Microsoft 365 shared mailbox: the shared address
  std::string auth;                       // password | xoauth2 | oauthbearer
  Secret password;                        // auth = password
  std::string account;                    // connected account, auth = xoauth2 | oauthbearer
  std::string folder = "INBOX";           // IMAP only
  std::string after_download = "delete";  // delete | mark-seen | move:<folder> | keep
  int64_t max_size_kb = 25600;            // larger messages stay on the server...
  bool download_oversized = false;        // ...unless this is set
  int timeout_seconds = 30;
  int max_messages_per_run = 500;
  bool push = false;  // IMAP IDLE

  // Checker state (written with RecordMailboxCheck).
  int64_t checked_at = 0;
  int consecutive_failures = 0;
  int64_t delayed_until = 0;  // no scheduled check before this (backoff)
  std::string last_error;     // "" after a successful check
  int64_t last_success_at = 0;
  int64_t created_at = 0;
};

struct MailboxCheckState {
  int64_t checked_at = 0;
  int consecutive_failures = 0;
  int64_t delayed_until = 0;
  std::string last_error;
  int64_t last_success_at = 0;  // unchanged when 0
};

// --- Downloads: what the mailbox checker took from a server --------------
//
// One row per (mailbox, UIDVALIDITY, UID) for IMAP, (mailbox, 0, UIDL) for
// POP3. A row exists only once its spool file is durable; the after-download
// action runs only once the row is committed.

enum class DownloadState {
  kPending,      // spooled, waiting for the inbound processor
  kProcessed,    // stored as a message; the spool file may be gone
  kQuarantined,  // could not be processed; spool file kept; see `error`
  kDuplicate,    // same bytes as another download of this mailbox (UIDVALIDITY changed)
};
std::string_view DownloadStateName(DownloadState state);  // "pending", ...

struct NewDownload {
  int64_t uidvalidity = 0;  // 0 for POP3
  std::string uid;          // IMAP UID in decimal, or the POP3 UIDL
  std::string sha256;       // hex, of the spooled bytes
  uint64_t size = 0;
  std::string spool_path;
  int64_t internal_date = 0;  // the server's INTERNALDATE, 0 if unknown
};

enum class RecordOutcome {
  kNew,              // recorded as pending
  kDuplicate,        // recorded as a duplicate: the caller removes the spool file
  kAlreadyRecorded,  // this (uidvalidity, uid) was recorded before: nothing changed
};

struct Download {
  int64_t id = 0;
  int64_t mailbox_id = 0;
  std::string mailbox_name;
  int64_t uidvalidity = 0;
  std::string uid;
  std::string sha256;
  uint64_t size = 0;
  std::string spool_path;
  int64_t internal_date = 0;
  DownloadState state = DownloadState::kPending;
  bool action_done = false;  // the after-download action was applied on the server
  std::string error;         // why it is quarantined
  int64_t downloaded_at = 0;
  int64_t processed_at = 0;
};

struct DownloadedUid {
  std::string uid;
  bool action_done = false;
};

// --- Conversations and messages -------------------------------------------

struct AddressRecord {
  std::string name;
  std::string email;
};

struct AttachmentRecord {
  int64_t id = 0;
  std::string filename;
  std::string content_type;
  std::string content_id;
  bool is_inline = false;
  std::string sha256;  // the bytes are stored once per digest (AttachmentData)
  uint64_t size = 0;
  std::string data;  // in NewMessage: the bytes; when read back: empty
};

// A message for the store. Received messages come from the inbound processor;
// sent ones (direction "out") from the outgoing queue.
struct MessageRecord {
  int64_t id = 0;
  int64_t conversation_id = 0;
  int64_t mailbox_id = 0;        // 0 for outgoing
  int64_t download_id = 0;       // 0 for outgoing
  std::string direction = "in";  // in | out
  std::string message_id;        // without <>
  bool message_id_generated = false;
  std::vector<std::string> in_reply_to;
  std::vector<std::string> references;
  std::string subject;
  std::vector<AddressRecord> from, reply_to, to, cc;
  std::string return_path;
  int64_t date = 0;
  bool date_generated = false;
  std::string text_body;
  std::string html_body;  // unsanitised: sanitise before showing
  bool text_from_html = false;
  bool auto_submitted = false;
  std::string auto_submitted_reason;
  bool is_bounce = false;
  std::string sha256;  // of the raw message
  uint64_t size = 0;
  std::vector<AttachmentRecord> attachments;
  std::string thread_reason;  // why it joined its conversation
  int64_t created_at = 0;
};

// A recipient that a 5xx delivery status notification reported as failed.
struct UndeliverableAddress {
  std::string email;   // lower case
  std::string status;  // "5.1.1"
  std::string diagnostic;
  int64_t message_id = 0;  // the bounce
  int64_t reported_at = 0;
};

struct Conversation {
  int64_t id = 0;
  std::string mask;  // "ABC-12345-678"
  std::string subject;
  int64_t mailbox_id = 0;
  int message_count = 0;
  std::string last_from;  // e-mail address of the newest message's sender
  int64_t created_at = 0;
  int64_t updated_at = 0;  // date of the newest message
};

// What StoreReceivedMessage does in one transaction.
struct ReceivedMessage {
  int64_t download_id = 0;
  // The conversation to join; nullopt: create one with `new_mask` and the
  // message's subject.
  std::optional<int64_t> conversation_id;
  std::string new_mask;
  MessageRecord message;
  std::vector<UndeliverableAddress> undeliverable;  // from a DSN
};

struct StoredMessageIds {
  int64_t message_id = 0;
  int64_t conversation_id = 0;
  bool created_conversation = false;
};

// --- Runs: one execution of a job (a mailbox check, a processor pass) -----

struct RunLogLine {
  int64_t at_ms = 0;  // Unix milliseconds
  std::string level;  // info | warning | error
  std::string text;   // for people; never holds a secret
};

struct Run {
  int64_t id = 0;
  std::string job;      // "check", "process", ...
  std::string subject;  // e.g. "mailbox/Support"; "" for the whole job
  int64_t started_at = 0;
  int64_t finished_at = 0;  // 0 while running
  std::string status;       // running | ok | failed
  std::string summary;
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

// A partial update of an account's token state (and, for `mailgate account
// edit`, of its configuration); unset fields are unchanged.
struct AccountUpdate {
  std::optional<std::string> client_id;
  std::optional<Secret> client_secret;  // an empty Secret clears it
  std::optional<std::string> tenant;
  std::optional<std::string> authority;
  std::optional<std::vector<std::string>> scopes;  // empty: the provider's defaults
  std::optional<std::string> auth_url;             // generic accounts' endpoints
  std::optional<std::string> token_url;
  std::optional<std::string> device_url;
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

// --- Scheduler, leases and outgoing mail -------------------------------------
//
// Leases: at most one holder at a time for a job, a mailbox or an outgoing
// message, taken with one conditional UPDATE (atomic on both backends) and
// lost when `lease_expires_at` passes, so a worker that dies frees its work
// after the TTL. Holder ids are "<host>:<pid>:<random>".

// A scheduled job: "check", "process", "outgoing", "tokens", "maintenance".
struct Job {
  std::string name;
  bool enabled = true;
  int64_t interval_seconds = 60;
  int64_t last_run_at = 0;     // start of the last finished run
  int64_t next_run_at = 0;     // due when now >= next_run_at (or run_requested)
  bool run_requested = false;  // "run now": the next worker that looks takes it
  std::string lease_holder;    // "" when free or expired
  int64_t lease_expires_at = 0;
  std::string last_status;  // ok | failed | "" (never ran)
  std::string last_summary;
  int64_t last_duration_ms = 0;
};

// What the scheduler needs to know to pick mailboxes to check.
struct MailboxSchedule {
  int64_t id = 0;
  std::string name;
  bool enabled = true;
  bool push = false;
  int64_t checked_at = 0;
  int64_t delayed_until = 0;
  bool check_requested = false;  // "run now" for this mailbox (or the whole check job)
  std::string lease_holder;      // "" when free or expired at `now`
  int64_t lease_expires_at = 0;
};

enum class OutgoingState {
  kQueued,   // waiting for next_attempt_at
  kSending,  // a worker holds its lease and is talking to the server
  kSent,     // every recipient accepted (or refused for good)
  kFailed,   // refused for good, or retries exhausted; see last_error
};
std::string_view OutgoingStateName(OutgoingState state);  // "queued", ...
std::optional<OutgoingState> ParseOutgoingState(std::string_view name);

// What the server said about one recipient.
struct RecipientOutcome {
  std::string address;
  int code = 0;      // SMTP reply code; 0 when never tried
  std::string text;  // the reply's text
  int64_t at = 0;
};

// A message in the outgoing queue: the RFC 5322 bytes as built (sent as is),
// the envelope and its delivery state.
struct OutgoingMessage {
  int64_t id = 0;
  std::string transport;                // name; the queue looks it up at each attempt
  std::string mail_from;                // envelope sender
  std::vector<std::string> recipients;  // still to deliver
  std::string message_id;               // without <>
  std::string subject;                  // decoded, for lists
  int64_t conversation_id = 0;          // 0: a new conversation when sent
  std::string raw;                      // empty in ListOutgoing results
  OutgoingState state = OutgoingState::kQueued;
  int attempts = 0;
  int64_t next_attempt_at = 0;
  std::string last_error;
  std::vector<RecipientOutcome> results;  // accumulated over attempts
  bool stored = false;                    // added to its conversation (StoreReceivedMessage)
  int64_t created_at = 0;
  int64_t sent_at = 0;  // first time any recipient accepted it
  int64_t updated_at = 0;
};

// The outcome of one delivery attempt (RecordOutgoingAttempt).
struct OutgoingAttempt {
  OutgoingState state = OutgoingState::kQueued;  // queued (retry), sent or failed
  std::vector<std::string> remaining;            // queued: the recipients still to try
  int64_t next_attempt_at = 0;                   // queued: when
  std::string error;                             // "" on success
  std::vector<RecipientOutcome> results;         // appended to the message's results
  bool delivered_any = false;                    // some recipient accepted it now (sets sent_at)
};

struct PurgeCounts {
  int64_t runs = 0, run_log_lines = 0, outgoing = 0;
};

// --- Console users, sessions and API tokens (web console, src/web) --------
//
// Nothing here is a secret the Store must seal: passwords are kept as
// Argon2id hashes, session ids and API tokens as their SHA-256 (the raw
// values exist only in the browser's cookie and the API client).

struct ConsoleUser {
  std::string name;           // unique
  std::string password_hash;  // crypto_pwhash_str (Argon2id) output
  int64_t created_at = 0;
  int64_t password_changed_at = 0;
};

struct ConsoleSession {
  std::string id_hash;  // hex SHA-256 of the cookie's session id
  std::string user;
  int64_t created_at = 0;
  int64_t last_seen_at = 0;
  int64_t expires_at = 0;  // idle expiry: last_seen_at + the idle timeout
};

// Failed logins for one key ("user:admin", "ip:192.0.2.1") since a time.
struct LoginFailures {
  int count = 0;
  int64_t last_at = 0;  // 0 when count == 0
};

struct ApiToken {
  std::string name;        // unique
  std::string token_hash;  // hex SHA-256 of the whole token ("mg_...")
  std::string prefix;      // the first characters, to recognise it in lists
  int64_t created_at = 0;
  int64_t last_used_at = 0;  // 0: never
};

// An authorization-code flow started with Connect in the console, waiting
// for the provider's redirect. Kept in the store, not in the process, because
// with several workers behind a balancer the redirect may reach another one.
struct PendingAuthorization {
  std::string state;  // unique: the OAuth `state` the provider sends back
  std::string account;
  std::string session_hash;  // the console session that pressed Connect
  Secret code_verifier;      // PKCE (RFC 7636); sealed at rest
  std::string redirect_uri;
  std::string token_url;  // where the code is redeemed
  std::vector<std::string> scopes;
  int64_t expires_at = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // "sqlite" or "postgresql".
  virtual std::string_view backend() const = 0;

  // The schema version after migrations (the highest applied).
  virtual StatusOr<int> SchemaVersion() = 0;

  // Runs `body` as one transaction: the changes of every Store call it makes
  // commit together, with one durable write (a batch of messages pays one
  // fsync, not one each). A call inside that fails undoes only its own
  // changes (a savepoint); `body` failing undoes everything. Reads inside see
  // the batch's own writes. Batches do not nest.
  virtual Status Batch(const std::function<Status()>& body) = 0;

  // --- Transports -----------------------------------------------------------

  // kAlreadyExists when the name is taken.
  virtual Status CreateTransport(const Transport& transport, int64_t now) = 0;
  // Replaces the configuration of the transport named `transport.name`. kNotFound.
  virtual Status UpdateTransport(const Transport& transport) = 0;
  virtual StatusOr<Transport> GetTransport(std::string_view name) = 0;  // kNotFound
  virtual StatusOr<std::vector<Transport>> ListTransports() = 0;        // by name
  virtual Status DeleteTransport(std::string_view name) = 0;            // kNotFound

  // --- Mailboxes ------------------------------------------------------------

  // kAlreadyExists when the name is taken. State fields are ignored.
  virtual Status CreateMailbox(const Mailbox& mailbox, int64_t now) = 0;
  // Replaces the configuration (not the state) of the mailbox named
  // `mailbox.name`. kNotFound.
  virtual Status UpdateMailbox(const Mailbox& mailbox) = 0;
  virtual StatusOr<Mailbox> GetMailbox(std::string_view name) = 0;  // kNotFound
  // By its id (as conversations and downloads name it). kNotFound: there is
  // none, e.g. it was removed.
  virtual StatusOr<Mailbox> GetMailboxById(int64_t id) = 0;
  virtual StatusOr<std::vector<Mailbox>> ListMailboxes() = 0;  // by name
  // Removes the mailbox; its downloads and messages stay (mailbox_id dangles). kNotFound.
  virtual Status DeleteMailbox(std::string_view name) = 0;
  virtual Status SetMailboxEnabled(std::string_view name, bool enabled) = 0;  // kNotFound
  virtual Status RecordMailboxCheck(std::string_view name, const MailboxCheckState& state) = 0;

  // --- Downloads ------------------------------------------------------------

  // The UIDs recorded for (mailbox, uidvalidity), with whether the
  // after-download action was applied.
  virtual StatusOr<std::vector<DownloadedUid>> ListDownloadedUids(int64_t mailbox_id,
                                                                  int64_t uidvalidity) = 0;
  // Records a batch of durable spool files in one transaction; one outcome per
  // input, in order. A download whose SHA-256 is already recorded for this
  // mailbox is recorded as kDuplicate (it will not be processed again).
  virtual StatusOr<std::vector<RecordOutcome>> RecordDownloads(
      int64_t mailbox_id, const std::vector<NewDownload>& downloads, int64_t now) = 0;
  // Notes that the after-download action was applied to these UIDs.
  virtual Status MarkActionsDone(int64_t mailbox_id, int64_t uidvalidity,
                                 const std::vector<std::string>& uids) = 0;
  virtual StatusOr<Download> GetDownload(int64_t id) = 0;  // kNotFound
  // Pending downloads, oldest first, at most `limit`.
  virtual StatusOr<std::vector<Download>> PendingDownloads(int limit) = 0;
  virtual StatusOr<std::vector<Download>> QuarantinedDownloads() = 0;
  // Pending -> quarantined, with the reason. kNotFound; a no-op unless pending.
  virtual Status QuarantineDownload(int64_t id, std::string_view reason, int64_t now) = 0;
  // Quarantined -> pending (after a fix). kNotFound; kFailedPrecondition unless quarantined.
  virtual Status RequeueDownload(int64_t id) = 0;
  // Spool paths of processed or duplicate downloads among `paths` (the ones
  // a sweep may remove).
  virtual StatusOr<std::vector<std::string>> FinishedSpoolPaths(
      const std::vector<std::string>& paths) = 0;

  // --- Conversations --------------------------------------------------------

  // Threading lookups: the conversation of a stored message with this
  // Message-ID (any direction), or with this mask.
  virtual StatusOr<std::optional<int64_t>> ConversationByMessageId(std::string_view message_id) = 0;
  virtual StatusOr<std::optional<int64_t>> ConversationByMask(std::string_view mask) = 0;
  // In one transaction: the download pending -> processed (kFailedPrecondition
  // if it is not pending: someone else processed it), the conversation created
  // if needed, the message, its attachments (bytes stored once per SHA-256)
  // and undeliverable addresses.
  virtual StatusOr<StoredMessageIds> StoreReceivedMessage(const ReceivedMessage& received,
                                                          int64_t now) = 0;
  // Newest first.
  virtual StatusOr<std::vector<Conversation>> ListConversations(int limit, int offset) = 0;
  virtual StatusOr<Conversation> GetConversation(int64_t id) = 0;  // kNotFound
  // Oldest first, with attachment metadata (no bytes).
  virtual StatusOr<std::vector<MessageRecord>> ConversationMessages(int64_t conversation_id) = 0;
  virtual StatusOr<std::string> AttachmentData(std::string_view sha256) = 0;  // kNotFound
  virtual StatusOr<std::vector<UndeliverableAddress>> ListUndeliverable() = 0;

  // --- Runs -----------------------------------------------------------------

  virtual StatusOr<int64_t> StartRun(std::string_view job, std::string_view subject,
                                     int64_t now) = 0;
  // Appends lines in one transaction (callers batch them).
  virtual Status AppendRunLog(int64_t run_id, const std::vector<RunLogLine>& lines) = 0;
  virtual Status FinishRun(int64_t run_id, std::string_view status, std::string_view summary,
                           int64_t now) = 0;
  // Newest first; `job` empty: all jobs.
  virtual StatusOr<std::vector<Run>> ListRuns(std::string_view job, int limit) = 0;
  virtual StatusOr<std::vector<RunLogLine>> RunLog(int64_t run_id) = 0;

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

  // --- Scheduler, leases and outgoing mail ------------------------------------

  // Jobs exist from migration 5 on with their defaults; they are never
  // created or removed, only configured.
  virtual StatusOr<std::vector<Job>> ListJobs(int64_t now) = 0;          // by name
  virtual StatusOr<Job> GetJob(std::string_view name, int64_t now) = 0;  // kNotFound
  // kNotFound; kInvalidArgument unless interval_seconds > 0. The next run is
  // rescheduled to last_run_at + interval.
  virtual Status ConfigureJob(std::string_view name, bool enabled, int64_t interval_seconds) = 0;
  // "Run now": sets the job's flag; a worker takes it within a tick. For
  // "check" every mailbox is due once. kNotFound.
  virtual Status RequestJobRun(std::string_view name) = 0;
  // Takes the job's lease until now + ttl when the job is enabled, due
  // (next_run_at <= now or run requested) and its lease is free, expired or
  // already `holder`'s; clears the run request. False otherwise.
  virtual StatusOr<bool> TryStartJob(std::string_view name, std::string_view holder, int64_t now,
                                     int64_t ttl) = 0;
  // Extends `holder`'s lease; false when it was lost (expired and taken).
  virtual StatusOr<bool> RenewJobLease(std::string_view name, std::string_view holder, int64_t now,
                                       int64_t ttl) = 0;
  // Records the finished run (last_run_at = started_at, next_run_at =
  // started_at + interval) and releases `holder`'s lease. Records the run
  // even without the lease (the scan of "check" takes none).
  virtual Status FinishJob(std::string_view name, std::string_view holder, int64_t started_at,
                           std::string_view status, std::string_view summary,
                           int64_t duration_ms) = 0;

  // Mailboxes with what scheduling needs, by name.
  virtual StatusOr<std::vector<MailboxSchedule>> ListMailboxSchedules(int64_t now) = 0;
  // "Check now" for one mailbox. kNotFound.
  virtual Status RequestMailboxCheck(std::string_view name) = 0;
  // The mailbox's lease until now + ttl when free, expired or `holder`'s;
  // clears its check request. False when another holder has it; kNotFound.
  virtual StatusOr<bool> TryAcquireMailboxLease(int64_t mailbox_id, std::string_view holder,
                                                int64_t now, int64_t ttl) = 0;
  // Extends `holder`'s lease; false when it is no longer `holder`'s.
  virtual StatusOr<bool> RenewMailboxLease(int64_t mailbox_id, std::string_view holder, int64_t now,
                                           int64_t ttl) = 0;
  virtual Status ReleaseMailboxLease(int64_t mailbox_id, std::string_view holder) = 0;
  // Every lease `holder` has (jobs, mailboxes; a message it was sending is
  // left "sending" with an expired lease: see ClaimOutgoing). For shutdown.
  virtual Status ReleaseAllLeases(std::string_view holder) = 0;

  // Queues a message (state queued, attempt due at `message.next_attempt_at`,
  // or now when 0). Returns its id. kInvalidArgument without recipients.
  virtual StatusOr<int64_t> QueueOutgoing(const OutgoingMessage& message, int64_t now) = 0;
  virtual StatusOr<OutgoingMessage> GetOutgoing(int64_t id) = 0;  // kNotFound
  // Newest first, without `raw`; `state` empty: all.
  virtual StatusOr<std::vector<OutgoingMessage>> ListOutgoing(std::string_view state,
                                                              int limit) = 0;
  // Messages queued or sending (the queue depth).
  virtual StatusOr<int64_t> CountOutgoingPending() = 0;
  // Takes the oldest due message: queued with next_attempt_at <= now, or
  // sending with an expired lease (its sender died; it may have been
  // delivered: at-least-once) -> sending under `holder`'s lease, attempts+1.
  // nullopt when none is due.
  virtual StatusOr<std::optional<OutgoingMessage>> ClaimOutgoing(std::string_view holder,
                                                                 int64_t now, int64_t ttl) = 0;
  // Records an attempt's outcome and releases the lease, if `holder` still
  // holds it (kFailedPrecondition otherwise: another worker took it over).
  virtual Status RecordOutgoingAttempt(int64_t id, std::string_view holder,
                                       const OutgoingAttempt& attempt, int64_t now) = 0;
  // Notes that the sent message was added to conversation `conversation_id`.
  virtual Status MarkOutgoingStored(int64_t id, int64_t conversation_id) = 0;
  // Sent messages not yet in their conversation (a crash in between), oldest first.
  virtual StatusOr<std::vector<OutgoingMessage>> UnstoredSentOutgoing(int limit) = 0;
  // Failed (or queued) -> queued, due now. kNotFound; kFailedPrecondition
  // when it is sending or sent.
  virtual Status RetryOutgoing(int64_t id, int64_t now) = 0;

  // Removes finished runs with their logs, and sent or failed outgoing
  // messages, last updated before `before`.
  virtual StatusOr<PurgeCounts> PurgeOlderThan(int64_t before) = 0;
  // --- Console users, sessions and API tokens (web console) ---------------

  // Creates `user` unless any console user exists; true when it did. Two
  // processes starting at once create one user between them.
  virtual StatusOr<bool> CreateFirstConsoleUser(const ConsoleUser& user, int64_t now) = 0;
  // Sets the password hash of `name`, creating the user when absent, and
  // ends all its sessions (a changed password logs everyone out).
  virtual Status SetConsolePassword(std::string_view name, std::string_view password_hash,
                                    int64_t now) = 0;
  virtual StatusOr<ConsoleUser> GetConsoleUser(std::string_view name) = 0;  // kNotFound

  // kAlreadyExists on a colliding id hash (never, with 256-bit ids).
  virtual Status CreateConsoleSession(const ConsoleSession& session) = 0;
  // kNotFound when absent or expired at `now`.
  virtual StatusOr<ConsoleSession> GetConsoleSession(std::string_view id_hash, int64_t now) = 0;
  virtual Status TouchConsoleSession(std::string_view id_hash, int64_t last_seen_at,
                                     int64_t expires_at) = 0;
  virtual Status DeleteConsoleSession(std::string_view id_hash) = 0;  // a no-op when absent
  // Removes expired sessions and pending authorizations, and login failures
  // older than `failures_before`.
  virtual Status PurgeConsoleState(int64_t now, int64_t failures_before) = 0;

  // Stores a pending authorization and removes those expired at `now`.
  // kAlreadyExists on a colliding state (never, with random states).
  virtual Status CreatePendingAuthorization(const PendingAuthorization& pending, int64_t now) = 0;
  // Removes the pending authorization of `state` and returns it: single use,
  // atomically (of two callers at once, on any workers, one gets it).
  // kNotFound when unknown, already taken, or expired at `now`.
  virtual StatusOr<PendingAuthorization> TakePendingAuthorization(std::string_view state,
                                                                  int64_t now) = 0;

  // Login throttling, shared by every process on the database.
  virtual Status RecordLoginFailure(std::string_view key, int64_t now) = 0;
  virtual StatusOr<LoginFailures> CountLoginFailures(std::string_view key, int64_t since) = 0;
  virtual Status ClearLoginFailures(std::string_view key) = 0;

  // kAlreadyExists when the name is taken.
  virtual Status CreateApiToken(const ApiToken& token, int64_t now) = 0;
  virtual StatusOr<std::vector<ApiToken>> ListApiTokens() = 0;  // by name
  // kNotFound when no token has this hash (revoked tokens are gone).
  virtual StatusOr<ApiToken> ApiTokenByHash(std::string_view token_hash) = 0;
  virtual Status TouchApiToken(std::string_view name, int64_t now) = 0;
  virtual Status RevokeApiToken(std::string_view name) = 0;  // kNotFound

  // Conversations whose subject or a message's sender address or name
  // contains `text` (case-insensitive), newest first.
  virtual StatusOr<std::vector<Conversation>> SearchConversations(std::string_view text, int limit,
                                                                  int offset) = 0;
  // One run (the Scheduler's log page). kNotFound.
  virtual StatusOr<Run> GetRun(int64_t id) = 0;
  // --- end of console users, sessions and API tokens -----------------------
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
