// The inbound processor: spool file -> parsed message -> conversation, in one
// store transaction per message (issue #5).
//
// Exactly once: a download leaves "pending" in the same transaction that
// inserts its message (StoreReceivedMessage), and its spool file is removed
// only after that commit. A crash between the two leaves an orphan file that
// the sweep at the start of the next ProcessPending removes, because the
// store says its download is finished. A file without such a row is never
// removed: the mailbox checker may be recording it right now.
//
// A message that cannot be processed (not a message, unreadable or missing
// spool file) is quarantined with the reason and its file kept; Reprocess
// puts it back once fixed. Nothing is dropped silently.
//
// Several processors may run at once on separate Stores over one database:
// whichever commits a download first wins, the others log and move on.
#ifndef MAILGATE_PIPELINE_PROCESSOR_H_
#define MAILGATE_PIPELINE_PROCESSOR_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "base/status.h"
#include "pipeline/run_log.h"
#include "pipeline/spool.h"
#include "store/store.h"

namespace mailgate::pipeline {

struct ProcessEnv {
  store::Store* store = nullptr;          // REQUIRED
  const Spool* spool = nullptr;           // REQUIRED
  std::function<int64_t()> now;           // Unix seconds; empty: the system clock
  std::function<std::uint32_t()> random;  // for new masks; empty: libsodium randombytes_random
  RunLog::Echo echo;                      // each log line as it happens (the CLI prints them)
};

struct ProcessResult {
  // Failed only when the run could not go on (store down); a bad message is
  // quarantined, not a failure.
  Status status;
  int64_t run_id = 0;
  std::size_t processed = 0, quarantined = 0, new_conversations = 0;
};

// The inbound processor: processes pending downloads, oldest first, until none
// is left (in batches of `batch`), each with its own run log ("process" job).
ProcessResult ProcessPending(ProcessEnv& env, int batch = 500);

// Quarantined -> pending, then ProcessPending. kNotFound / kFailedPrecondition
// from the store.
ProcessResult Reprocess(ProcessEnv& env, int64_t download_id);

}  // namespace mailgate::pipeline

#endif  // MAILGATE_PIPELINE_PROCESSOR_H_
