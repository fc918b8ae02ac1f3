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
#include <deque>
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

// Messages on their way into the spool, committed a batch at a time. One
// message is open at a time (Begin, Append..., End); Abort (or destruction)
// discards an open one, whose temporary file then disappears. The files are
// created, written and flushed on the spool's own thread (AsyncSpoolWriter), so
// the caller's socket keeps being read meanwhile; the store is only ever used
// from the caller's thread.
//
// A batch ends with Flush() (the writer syncs its files while the caller goes
// on) and is recorded by RecordFlushed() once its sync is done, or by Commit(),
// which ends the current batch and waits for every one. Recording is one store
// transaction per batch (RecordDownloads), after the batch's sync: the
// durability order holds whatever overlaps.
class Batch {
 public:
  Batch(Run& run, int64_t uidvalidity)
      : run_(run), uidvalidity_(uidvalidity), writer_(*run.env.spool) {}
  // Waits for the writer; removes files written but not recorded.
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  // Errors: the spool's first failure (from then on every message is refused).
  Status Begin();
  Status Append(std::string_view chunk);
  // `label` names the message in the log ("Downloaded message <label> (...)"); empty: the uid.
  Status End(std::string uid, int64_t internal_date, std::string_view label = {});
  void Abort();
  bool open() const { return writer_.open(); }
  // Messages ended since the last Flush().
  std::size_t finished() const { return in_batch_; }

  // Ends the current batch: its files are synced on the writer's thread.
  void Flush();
  // Records the batches whose sync has finished (does not wait). Returns the
  // UIDs now recorded: their after-download action is due. On an error the
  // failed batch, and every later one, is not recorded and its files are removed.
  StatusOr<std::vector<std::string>> RecordFlushed();
  // Flush(), then waits for every batch and records them as RecordFlushed does.
  StatusOr<std::vector<std::string>> Commit();

  // Messages whose spool file could not be written (not recorded): (label, why).
  const std::vector<std::pair<std::string, Status>>& failures() const { return failures_; }

 private:
  struct Pending {
    std::string uid;
    std::string label;
    int64_t internal_date = 0;
    std::uint64_t size = 0;
    std::chrono::steady_clock::duration took{};
  };
  StatusOr<std::vector<std::string>> Record(std::vector<AsyncSpoolWriter::Group> groups);
  Status RecordGroup(AsyncSpoolWriter::Group& group, std::vector<std::string>& due);
  void RemoveFiles(const AsyncSpoolWriter::Group& group);

  Run& run_;
  int64_t uidvalidity_;
  AsyncSpoolWriter writer_;
  std::chrono::steady_clock::time_point begun_;
  std::uint64_t size_ = 0;  // of the open message
  std::size_t in_batch_ = 0;
  std::size_t next_ticket_ = 0;
  std::deque<Pending> pending_;  // ended, not recorded yet (ticket order)
  std::size_t first_pending_ticket_ = 0;
  Status record_error_;  // once the store failed, nothing more is recorded
  std::vector<std::pair<std::string, Status>> failures_;
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
