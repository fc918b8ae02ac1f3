#include "web/console_actions.h"

namespace mailgate::web {
namespace {

Status NotAvailable(std::string_view what) {
  std::string msg(what);
  msg += " is not available in this build: the scheduler is not part of it yet";
  return Status::FailedPrecondition(std::move(msg));
}

}  // namespace

std::vector<JobInfo> DefaultJobs() {
  return {
      {"check", "Mailbox Checker and Email Downloader", true, 60, 0, 0},
      {"process", "Inbound Email Message Processor", true, 0, 0, 0},
      {"send", "Outgoing Mail Queue", true, 60, 0, 0},
      {"refresh", "Token Refresher", true, 300, 0, 0},
      {"maintenance", "Maintenance", true, 86400, 0, 0},
  };
}

std::vector<JobInfo> NullConsoleActions::Jobs() {
  return DefaultJobs();
}

Status NullConsoleActions::RunJobNow(std::string_view) {
  return NotAvailable("running a job now");
}

StatusOr<int64_t> NullConsoleActions::QueueReply(int64_t, ReplyDraft) {
  return NotAvailable("replying");
}

Status NullConsoleActions::Reprocess(int64_t) {
  return NotAvailable("reprocessing");
}

}  // namespace mailgate::web
