// What the console's buttons do, as plain functions over the Store, so the
// web layer (web::ConsoleActions, on the web branch) only glues them to HTTP:
//   Run now   -> RunJobNow: the job's "run now" flag; a worker takes it within
//                a tick (for "check": every mailbox once).
//   Reply     -> QueueReply: compose with the conversation's reply headers,
//                queue, and ask the outgoing job to run now.
//   Reprocess -> Reprocess: quarantined -> pending, and the processor runs now.
#ifndef MAILGATE_SERVE_ACTIONS_H_
#define MAILGATE_SERVE_ACTIONS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "mime/compose.h"
#include "store/store.h"

namespace mailgate::serve {

// A reply written in the console.
struct ReplyDraft {
  // "Name <a@b>" or "a@b"; empty: the address the conversation was received
  // at (its mailbox's user name) through the transport that sends as it, else
  // the chosen transport's user name.
  std::string from;
  std::vector<std::string> to, cc;  // empty: the newest message's Reply-To or From
  std::string subject;              // empty: "Re: " + the conversation's subject
  std::string text_body;
  std::vector<mime::DraftAttachment> attachments;
  std::string transport;  // empty: chosen by From, else the only one
};

class ConsoleActions {
 public:
  // `wake_processor`: called after a reprocess request (the worker in this
  // process runs the processor at once); may be empty.
  // REQUIRES: `store` outlives this object; used from one thread at a time.
  ConsoleActions(store::Store& store, std::function<void()> wake_processor = {});

  // kNotFound for an unknown job.
  Status RunJobNow(const std::string& job);
  // The new outgoing message's id.
  StatusOr<int64_t> QueueReply(int64_t conversation_id, const ReplyDraft& draft);
  // kNotFound / kFailedPrecondition (not quarantined) from the store.
  Status Reprocess(int64_t download_id);

 private:
  // The user name of the mailbox the conversation came in through ("" if none).
  std::string ReceivedAt(int64_t conversation_id);

  store::Store& store_;
  std::function<void()> wake_processor_;
};

}  // namespace mailgate::serve

#endif  // MAILGATE_SERVE_ACTIONS_H_
