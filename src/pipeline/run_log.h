// The detailed log of one run of a job (a mailbox check, a processor pass),
// in the words of the seed's scheduler: "Connected to mailbox 'Support'
// (41 ms)", "Downloaded message 1234 (56 KB, 3 ms)", "Closed mailbox (120 ms)".
//
// Lines are kept in the store (runs and run_log tables) for the console and
// echoed as they happen (the CLI prints them). They are buffered and written
// in batches — Flush() at natural points (after each recorded batch of
// messages), so a run of 2,000 messages does not pay a transaction per line.
//
// Lines are for people and must never hold a secret.
// Thread safety: one thread (or one strand of coroutines) at a time.
#ifndef MAILGATE_PIPELINE_RUN_LOG_H_
#define MAILGATE_PIPELINE_RUN_LOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace mailgate::pipeline {

class RunLog {
 public:
  using Echo = std::function<void(const store::RunLogLine& line)>;

  // `store` may be null: lines are then only echoed (e.g. `mailbox test`).
  // REQUIRES: `store` outlives the RunLog.
  RunLog(store::Store* store, std::string job, std::string subject, Echo echo = {});
  ~RunLog();  // flushes; an unfinished run is left "running" (a crash looks the same)
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  // Records the run as started. Errors are the store's.
  Status Start();

  void Info(std::string text) { Add("info", std::move(text)); }
  void Warning(std::string text) { Add("warning", std::move(text)); }
  void Error(std::string text) { Add("error", std::move(text)); }

  // Writes buffered lines to the store in one transaction.
  Status Flush();
  // Flushes and records the outcome ("ok" or "failed") with a one-line summary.
  Status Finish(bool ok, std::string_view summary);

  int64_t run_id() const { return run_id_; }
  const std::vector<store::RunLogLine>& lines() const { return all_; }

 private:
  void Add(std::string_view level, std::string text);

  store::Store* store_;
  std::string job_;
  std::string subject_;
  Echo echo_;
  int64_t run_id_ = 0;
  std::vector<store::RunLogLine> pending_;  // not yet in the store
  std::vector<store::RunLogLine> all_;
};

// "41 ms", "1.2 s" for log lines.
std::string FormatDuration(std::chrono::steady_clock::duration d);
// "56 KB", "3.4 MB", "312 bytes".
std::string FormatSize(uint64_t bytes);

}  // namespace mailgate::pipeline

#endif  // MAILGATE_PIPELINE_RUN_LOG_H_
