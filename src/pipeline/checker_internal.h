// What the IMAP and POP3 halves of the mailbox checker (and IMAP IDLE push)
// share: the state of one run, batches of spooled messages and how they are
// committed, and the bookkeeping after a run. Not part of the public API.
#ifndef MAILGATE_PIPELINE_CHECKER_INTERNAL_H_
#define MAILGATE_PIPELINE_CHECKER_INTERNAL_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "pipeline/checker.h"
#include "pipeline/config.h"
#include "pipeline/run_log.h"
#include "pipeline/spool.h"
#include "store/store.h"

namespace mailgate::imap {
class Client;
}

namespace mailgate::pipeline::internal {

// A batch is committed (one fsync pass, one transaction) after this many
// messages or bytes, whichever comes first: a 2,000-message run pays ~20
// commits, and a crash loses at most one batch of downloading.
inline constexpr std::size_t kBatchMessages = 100;
inline constexpr std::uint64_t kBatchBytes = std::uint64_t{16} * 1024 * 1024;

int64_t NowSeconds(const CheckEnv& env);

// A message left on the server because it is over the size limit.
struct Oversized {
  std::string id;  // "message 42" (IMAP UID) / "message 3 (UIDL abc)"
  std::uint64_t size = 0;
  std::string from, subject;  // decoded; empty when the server would not tell
};

// Sender and subject from raw header lines ("From: ...\r\nSubject: ...").
void DescribeHeaders(std::string_view raw_headers, Oversized& out);

// The state of one check run.
struct Run {
  Run(store::Mailbox m, CheckEnv& e, RunLog& l, CheckResult& r, AfterDownload a)
      : mailbox(std::move(m)), env(e), log(l), result(r), action(std::move(a)) {}
  store::Mailbox mailbox;
  CheckEnv& env;
  RunLog& log;
  CheckResult& result;
  AfterDownload action;
  std::vector<Oversized> oversized;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  std::string subject() const { return "mailbox/" + mailbox.name; }
  // True when the message is over the limit and must stay on the server.
  bool TooLarge(std::uint64_t size) const;
};

// The messages of one batch on their way into the spool. One message is open
// at a time (Begin, Append..., End); Abort (or destruction) discards an open
// one, whose temporary file then disappears.
class Batch {
 public:
  Batch(Run& run, int64_t uidvalidity) : run_(run), uidvalidity_(uidvalidity) {}

  Status Begin();
  Status Append(std::string_view chunk);
  // `label` names the message in the log ("Downloaded message <label> (...)"); empty: the uid.
  Status End(std::string uid, int64_t internal_date, std::string_view label = {});
  void Abort();
  bool open() const { return writer_.has_value(); }
  std::size_t finished() const { return files_.size(); }

  // Spool::Sync, RecordDownloads in one transaction, then removes the spool
  // files of duplicates (and of messages recorded by someone else meanwhile).
  // Returns the UIDs now recorded: their after-download action is due. On an
  // error nothing is recorded and the batch's files are removed again.
  StatusOr<std::vector<std::string>> Commit();

 private:
  void RemoveFiles();
  Status FlushBuffer();

  // Bytes of the open message gathered before one write to its spool file.
  static constexpr std::size_t kWriteBuffer = 128 * 1024;

  Run& run_;
  int64_t uidvalidity_;
  std::optional<Spool::Writer> writer_;
  std::string buffer_;  // of the open message, not yet written
  std::chrono::steady_clock::time_point begun_;
  std::vector<SpooledFile> files_;
  std::vector<store::NewDownload> downloads_;
};

// Splits sizes (in order) into batches by kBatchMessages / kBatchBytes;
// returns the index ranges [begin, end).
std::vector<std::pair<std::size_t, std::size_t>> PlanBatches(
    const std::vector<std::uint64_t>& sizes);

// "1 message", "3 messages".
std::string Count(std::size_t n);

// Logs the run's plan: "Downloading 12 messages (3 MB); 5 more wait for the next
// run (at most 500 per run)", or "No new messages" when there is nothing to
// download and nothing oversized. Returns false when there is nothing to download.
bool LogPlan(Run& run, const std::vector<std::uint64_t>& sizes, std::size_t waiting,
             std::size_t limit, bool any_oversized);

// "17-Jul-1996 02:44:25 -0700" (IMAP INTERNALDATE) to Unix seconds; 0 if malformed.
int64_t ParseInternalDate(std::string_view text);

// Writes what the run found to the mailbox and the alerts: failures and
// backoff, or success; the oversized-message alert.
void RecordOutcome(Run& run, const Status& status);

// "3 downloaded, 0 duplicates, 1 left on the server (oversized)".
std::string Summary(const CheckResult& result);

// Logs "Authenticated as <user> with <mechanism> (<ms>)" given the mechanisms
// the server offered before authentication.
std::string MechanismFor(const sasl::AuthOptions& auth, const std::vector<std::string>& offered,
                         std::string_view fallback);

// Ends a run: logs the error (if any), RecordOutcome, finishes the run log with
// the summary, and sets run.result.status.
void FinishRun(Run& run, const Status& status);

// IMAP: connects and authenticates (logging both); the options get
// `io_timeout` when set (IDLE sessions need one above 29 minutes).
boost::asio::awaitable<StatusOr<std::unique_ptr<imap::Client>>> OpenImap(
    boost::asio::any_io_executor ex, Run& run, std::chrono::milliseconds io_timeout);
// IMAP: one check on an authenticated session (SELECT, download, actions).
boost::asio::awaitable<Status> CheckImapSession(imap::Client& client, Run& run);
// Connect, authenticate, check, log out.
boost::asio::awaitable<Status> CheckImap(boost::asio::any_io_executor ex, Run& run);
boost::asio::awaitable<Status> CheckPop3(boost::asio::any_io_executor ex, Run& run);

}  // namespace mailgate::pipeline::internal

#endif  // MAILGATE_PIPELINE_CHECKER_INTERNAL_H_
