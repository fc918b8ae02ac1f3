// What the console and the API ask of the daemon beyond the store: start a
// job now, queue a reply, reprocess a quarantined download. src/serve
// implements it with the scheduler and the outgoing queue; until then
// NullConsoleActions answers "not available in this build".
//
// Thread safety: called from the web server's thread only.
#ifndef MAILGATE_WEB_CONSOLE_ACTIONS_H_
#define MAILGATE_WEB_CONSOLE_ACTIONS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailgate::web {

// A reply written in the console or sent through the API.
struct ReplyDraft {
  std::vector<std::string> to;  // addresses; the console fills the sender's in
  std::vector<std::string> cc;
  std::string subject;    // "Re: ..." by default
  std::string body;       // plain text
  std::string transport;  // "": chosen by the From address (or the default)
  std::string from;       // "": the address the conversation was received at
};

// A scheduler job as the Scheduler page shows it.
struct JobInfo {
  std::string job;    // "check", "process", ...: the name runs are recorded under
  std::string title;  // "Mailbox Checker and Email Downloader"
  bool enabled = true;
  int64_t interval_seconds = 0;  // 0: continuous or unknown
  int64_t last_run_at = 0;       // 0: never (or unknown)
  int64_t next_run_at = 0;
};

class ConsoleActions {
 public:
  virtual ~ConsoleActions() = default;

  // The jobs, in the order the Scheduler page lists them.
  virtual std::vector<JobInfo> Jobs() = 0;
  // Starts `job` now (its log appears among the runs). kNotFound for an
  // unknown job; kFailedPrecondition when it is running already.
  virtual Status RunJobNow(std::string_view job) = 0;
  // Queues a reply in `conversation_id`; returns the queued message's id.
  virtual StatusOr<int64_t> QueueReply(int64_t conversation_id, ReplyDraft draft) = 0;
  // Sends a quarantined download through the processor again.
  virtual Status Reprocess(int64_t download_id) = 0;
};

// The jobs of issue 6 with the seed's titles and no state.
std::vector<JobInfo> DefaultJobs();

// Before the scheduler lands: Jobs() lists DefaultJobs(); every action fails
// with kFailedPrecondition "... is not available in this build".
class NullConsoleActions final : public ConsoleActions {
 public:
  std::vector<JobInfo> Jobs() override;
  Status RunJobNow(std::string_view job) override;
  StatusOr<int64_t> QueueReply(int64_t conversation_id, ReplyDraft draft) override;
  Status Reprocess(int64_t download_id) override;
};

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_CONSOLE_ACTIONS_H_
