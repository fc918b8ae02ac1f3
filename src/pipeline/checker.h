// The mailbox checker: downloads new mail from IMAP and POP3 mailboxes into
// the spool, records it in the store, and only then applies the mailbox's
// after-download action on the server.
//
// Durability order, for every batch of messages (spool.h's contract):
//   1. each message streams into a Spool::Writer (nothing whole in memory);
//   2. Spool::Sync(batch): one flush for the batch;
//   3. Store::RecordDownloads(batch): one transaction;
//   4. the after-download action (delete, mark-seen, move, keep) on the server,
//      then Store::MarkActionsDone. POP3 deletions become real at QUIT, so they
//      are marked done only after QUIT succeeded.
// Nothing that is not recorded is ever deleted or moved; a message recorded
// before a crash gets its action on the next run. A connection lost in the
// middle of a message discards that message's temporary file.
//
// Messages over the mailbox's size limit stay on the server (unless
// download_oversized) and raise an alert naming their sender and subject.
// Failures are stored on the mailbox (consecutive_failures, delayed_until =
// now + min(2 min x failures, 30 min), last_error) and raise an alert at 2, 5,
// 10 and 20 consecutive failures; a success clears them and resolves the
// mailbox's alerts.
//
// Every run has its own run log ("check", "mailbox/<name>") in the store.
#ifndef MAILGATE_PIPELINE_CHECKER_H_
#define MAILGATE_PIPELINE_CHECKER_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "pipeline/config.h"
#include "pipeline/run_log.h"
#include "pipeline/spool.h"
#include "store/store.h"

namespace mailgate::pipeline {

struct CheckEnv {
  store::Store* store = nullptr;  // REQUIRED; used only from the executor's thread
  const Spool* spool = nullptr;   // REQUIRED
  ConnectEnv connect;             // CA file, token source, trace
  std::function<int64_t()> now;   // Unix seconds; empty: the system clock
  RunLog::Echo echo;              // each log line as it happens (the CLI prints them)
};

struct CheckResult {
  std::string mailbox;
  Status status;  // the run's outcome
  int64_t run_id = 0;
  std::size_t downloaded = 0, duplicates = 0, oversized_skipped = 0, actions_applied = 0;
  std::uint64_t bytes = 0;
};

// Checks one mailbox now (whatever its delayed_until says), with its own run log.
// REQUIRES: `env` outlives the returned awaitable.
boost::asio::awaitable<CheckResult> CheckMailbox(boost::asio::any_io_executor ex,
                                                 store::Mailbox mailbox, CheckEnv& env);

// Checks several concurrently, each on its own connection. due_only: skip disabled
// mailboxes and those whose delayed_until is in the future (logged as such).
// Results are in the order of `mailboxes` (skipped ones left out).
boost::asio::awaitable<std::vector<CheckResult>> CheckMailboxes(
    boost::asio::any_io_executor ex, std::vector<store::Mailbox> mailboxes, CheckEnv& env,
    bool due_only);

}  // namespace mailgate::pipeline

#endif  // MAILGATE_PIPELINE_CHECKER_H_
