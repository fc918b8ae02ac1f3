#include "serve/actions.h"

#include <ctime>
#include <utility>

#include "serve/outbox.h"

namespace mailgate::serve {

ConsoleActions::ConsoleActions(store::Store& store, std::function<void()> wake_processor)
    : store_(store), wake_processor_(std::move(wake_processor)) {}

Status ConsoleActions::RunJobNow(const std::string& job) {
  return store_.RequestJobRun(job);
}

StatusOr<int64_t> ConsoleActions::QueueReply(int64_t conversation_id, const ReplyDraft& draft) {
  OutgoingRequest req;
  req.transport = draft.transport;
  req.reply_to_conversation = conversation_id;
  mime::Draft& d = req.draft;
  if (!draft.from.empty()) {
    auto from = mime::ParseAddress(draft.from);
    if (!from.ok()) return from.status();
    d.from = std::move(*from);
  } else {
    // The address the conversation was received at (its mailbox's user name)
    // when a transport sends as that address; otherwise the transport's own
    // account, the only address it may send as.
    const std::string received_at = ReceivedAt(conversation_id);
    auto name = ChooseTransport(store_, draft.transport, received_at);
    if (!name.ok()) return name.status();
    auto t = store_.GetTransport(*name);
    if (!t.ok()) return t.status();
    d.from.email = t->username;
    req.transport = t->name;
  }
  for (const auto& a : draft.to) {
    auto addr = mime::ParseAddress(a);
    if (!addr.ok()) return addr.status();
    d.to.push_back(std::move(*addr));
  }
  for (const auto& a : draft.cc) {
    auto addr = mime::ParseAddress(a);
    if (!addr.ok()) return addr.status();
    d.cc.push_back(std::move(*addr));
  }
  d.subject = draft.subject;
  d.text_body = draft.text_body;
  d.attachments = draft.attachments;
  auto id = QueueMessage(store_, std::move(req), static_cast<int64_t>(::time(nullptr)));
  if (!id.ok()) return id.status();
  (void)store_.RequestJobRun("outgoing");  // the queue runs within a tick
  return id;
}

std::string ConsoleActions::ReceivedAt(int64_t conversation_id) {
  auto conv = store_.GetConversation(conversation_id);
  if (!conv.ok() || conv->mailbox_id == 0) return "";
  auto mailbox = store_.GetMailboxById(conv->mailbox_id);
  return mailbox.ok() ? mailbox->username : "";
}

Status ConsoleActions::Reprocess(int64_t download_id) {
  MAILGATE_RETURN_IF_ERROR(store_.RequeueDownload(download_id));
  MAILGATE_RETURN_IF_ERROR(store_.RequestJobRun("process"));
  if (wake_processor_) wake_processor_();
  return Status::Ok();
}

}  // namespace mailgate::serve
