// mailgate send: compose, queue durably and (unless --queue-only) deliver at
// once; mailgate outgoing list|show|retry: the queue.
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/session.h"
#include "serve/outbox.h"
#include "serve/scheduler.h"
#include "view/records_json.h"

namespace mailgate::cli {
namespace {

namespace json = boost::json;

struct SendArgs {
  std::string transport, from, subject, body, body_file;
  std::vector<std::string> to, cc, attach;
  int64_t reply_to = 0;
  bool queue_only = false;
};

int64_t Now() {
  return static_cast<int64_t>(::time(nullptr));
}

StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument(std::string("cannot read the ") + what + " '" + path +
                                   "'; check the path and its permissions");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// By extension, for the few types mail readers treat specially.
std::string GuessType(const std::string& filename) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".pdf", "application/pdf"},   {".txt", "text/plain"},      {".csv", "text/csv"},
      {".html", "text/html"},        {".png", "image/png"},       {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},       {".gif", "image/gif"},       {".zip", "application/zip"},
      {".json", "application/json"}, {".xml", "application/xml"}, {".ics", "text/calendar"},
  };
  std::string lower = filename;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [ext, type] : kTypes) {
    if (lower.ends_with(ext)) return type;
  }
  return "application/octet-stream";
}

StatusOr<serve::OutgoingRequest> BuildRequest(const SendArgs& a) {
  serve::OutgoingRequest req;
  req.transport = a.transport;
  req.reply_to_conversation = a.reply_to;
  auto from = mime::ParseAddress(a.from);
  if (!from.ok()) return from.status().WithContext("--from");
  req.draft.from = std::move(*from);
  for (const auto& t : a.to) {
    auto addr = mime::ParseAddress(t);
    if (!addr.ok()) return addr.status().WithContext("--to");
    req.draft.to.push_back(std::move(*addr));
  }
  for (const auto& t : a.cc) {
    auto addr = mime::ParseAddress(t);
    if (!addr.ok()) return addr.status().WithContext("--cc");
    req.draft.cc.push_back(std::move(*addr));
  }
  if (a.to.empty() && a.cc.empty() && a.reply_to == 0) {
    return Status::InvalidArgument("name a recipient with --to (or --cc)");
  }
  if (a.subject.empty() && a.reply_to == 0) {
    return Status::InvalidArgument("give the message a --subject");
  }
  req.draft.subject = a.subject;
  if (!a.body_file.empty()) {
    auto body = ReadFile(a.body_file, "body file");
    if (!body.ok()) return body.status();
    req.draft.text_body = std::move(*body);
  } else {
    req.draft.text_body = a.body;
  }
  for (const auto& path : a.attach) {
    auto data = ReadFile(path, "attachment");
    if (!data.ok()) return data.status();
    const std::string name = std::filesystem::path(path).filename().string();
    req.draft.attachments.push_back({name, GuessType(name), std::move(*data)});
  }
  return req;
}

int RunSend(const GlobalOptions& g, const SendArgs& a) {
  if (a.body.empty() == a.body_file.empty() && !(a.body.empty() && a.reply_to != 0)) {
    PrintError(Status::InvalidArgument("give the text with --body TEXT or --body-file FILE"));
    return kExitUsage;
  }
  auto req = BuildRequest(a);
  if (!req.ok()) return PrintError(req.status()), ExitFor(req.status());
  auto session = OpenSession(g);
  if (!session.ok()) return PrintError(session.status()), kExitFailure;
  store::Store& store = *session->store;
  auto id = serve::QueueMessage(store, std::move(*req), Now());
  if (!id.ok()) return PrintError(id.status()), ExitFor(id.status());
  std::printf("%lld\n", static_cast<long long>(*id));
  std::fflush(stdout);
  if (a.queue_only) {
    (void)store.RequestJobRun("outgoing");
    std::fprintf(stderr, "Queued message %lld; `mailgate serve` sends it\n",
                 static_cast<long long>(*id));
    return kExitOk;
  }
  serve::OutboxEnv env;
  env.store = &store;
  env.connect = MakeConnectEnv(*session, g);
  env.holder = serve::NewHolderId();
  env.echo = [](const store::RunLogLine& line) {
    std::fprintf(stderr, "%s%s\n", line.level == "error" ? "error: " : "", line.text.c_str());
  };
  Status ran = RunAsync([&env](boost::asio::any_io_executor ex) -> boost::asio::awaitable<Status> {
    serve::OutboxResult r = co_await serve::DeliverDue(ex, env);
    co_return r.status;
  });
  if (!ran.ok()) return PrintError(ran), kExitFailure;
  auto m = store.GetOutgoing(*id);
  if (!m.ok()) return PrintError(m.status()), kExitFailure;
  switch (m->state) {
    case store::OutgoingState::kSent:
      return kExitOk;
    case store::OutgoingState::kFailed:
      PrintError(Status::Permanent("message " + std::to_string(*id) + " failed: " + m->last_error));
      return kExitFailure;
    default:
      std::fprintf(stderr,
                   "Message %lld is queued for another attempt (%s); `mailgate serve` "
                   "retries it\n",
                   static_cast<long long>(*id), m->last_error.c_str());
      return kExitOk;
  }
}

int RunOutgoingList(const GlobalOptions& g, const std::string& state, bool as_json) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  if (!state.empty() && !store::ParseOutgoingState(state)) {
    PrintError(Status::InvalidArgument("--state must be queued, sending, sent or failed"));
    return kExitUsage;
  }
  auto list = (*store)->ListOutgoing(state, 200);
  if (!list.ok()) return PrintError(list.status()), kExitFailure;
  if (as_json) {
    json::array arr;
    for (const auto& m : *list) arr.push_back(view::OutgoingJson(m));
    std::printf("%s\n", json::serialize(arr).c_str());
    return kExitOk;
  }
  for (const auto& m : *list) {
    std::printf("%-6lld %-8s %-3d %s -> %zu recipient(s)  %s%s%s\n", static_cast<long long>(m.id),
                std::string(store::OutgoingStateName(m.state)).c_str(), m.attempts,
                m.mail_from.c_str(), m.recipients.size(), m.subject.c_str(),
                m.last_error.empty() ? "" : "  | ", m.last_error.c_str());
  }
  return kExitOk;
}

int RunOutgoingShow(const GlobalOptions& g, int64_t id, bool as_json) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto m = (*store)->GetOutgoing(id);
  if (!m.ok()) return PrintError(m.status()), ExitFor(m.status());
  if (as_json) {
    std::printf("%s\n", json::serialize(view::OutgoingJson(*m)).c_str());
    return kExitOk;
  }
  std::printf("Message %lld <%s>: %s after %d attempt(s)\n", static_cast<long long>(m->id),
              m->message_id.c_str(), std::string(store::OutgoingStateName(m->state)).c_str(),
              m->attempts);
  std::printf("Transport: %s\nFrom: %s\nSubject: %s\n", m->transport.c_str(), m->mail_from.c_str(),
              m->subject.c_str());
  for (const auto& r : m->recipients) std::printf("To deliver: %s\n", r.c_str());
  for (const auto& r : m->results) {
    std::printf("  %s %s: %d %s\n", FormatTime(r.at).c_str(), r.address.c_str(), r.code,
                r.text.c_str());
  }
  if (!m->last_error.empty()) std::printf("Last error: %s\n", m->last_error.c_str());
  if (m->state == store::OutgoingState::kQueued) {
    std::printf("Next attempt: %s\n", FormatTime(m->next_attempt_at).c_str());
  }
  if (m->conversation_id) {
    std::printf("Conversation: %lld\n", static_cast<long long>(m->conversation_id));
  }
  return kExitOk;
}

}  // namespace

void RegisterSendCommand(CLI::App& app, RunState& state) {
  auto a = std::make_shared<SendArgs>();
  CLI::App* cmd = app.add_subcommand("send", "Compose a message, queue it and send it");
  cmd->add_option("--transport", a->transport,
                  "Transport to send with (default: the one whose user is --from, else the "
                  "only one)");
  cmd->add_option("--from", a->from, "Sender: a@b.example or \"Name <a@b.example>\"")->required();
  cmd->add_option("--to", a->to, "Recipient (repeatable)");
  cmd->add_option("--cc", a->cc, "Copy recipient (repeatable)");
  cmd->add_option("--subject", a->subject, "Subject (UTF-8)");
  cmd->add_option("--body", a->body, "Text of the message (UTF-8)");
  cmd->add_option("--body-file", a->body_file, "File holding the text of the message");
  cmd->add_option("--attach", a->attach, "File to attach (repeatable)");
  cmd->add_option("--reply-to-conversation", a->reply_to,
                  "Reply in this conversation: In-Reply-To/References from its newest message");
  cmd->add_flag("--queue-only", a->queue_only, "Only queue it; `mailgate serve` sends it");
  cmd->callback([a, &state] { state.exit_code = RunSend(state.global, *a); });

  CLI::App* out = app.add_subcommand("outgoing", "The outgoing mail queue");
  out->require_subcommand(1);
  auto list = std::make_shared<std::pair<std::string, bool>>();
  CLI::App* c = out->add_subcommand("list", "Newest first");
  c->add_option("--state", list->first, "Only queued, sending, sent or failed");
  c->add_flag("--json", list->second, "Machine-readable output");
  c->callback([list, &state] {
    state.exit_code = RunOutgoingList(state.global, list->first, list->second);
  });
  auto show = std::make_shared<std::pair<int64_t, bool>>();
  c = out->add_subcommand("show",
                          "One message: state, attempts, what each recipient's server said");
  c->add_option("id", show->first, "Outgoing message id")->required();
  c->add_flag("--json", show->second, "Machine-readable output");
  c->callback([show, &state] {
    state.exit_code = RunOutgoingShow(state.global, show->first, show->second);
  });
  auto retry = std::make_shared<int64_t>();
  c = out->add_subcommand("retry", "Try a failed (or waiting) message again now");
  c->add_option("id", *retry, "Outgoing message id")->required();
  c->callback([retry, &state] {
    auto store = OpenStore(state.global);
    if (!store.ok()) return PrintError(store.status()), void(state.exit_code = kExitFailure);
    Status s = (*store)->RetryOutgoing(*retry, Now());
    if (!s.ok()) return PrintError(s), void(state.exit_code = ExitFor(s));
    (void)(*store)->RequestJobRun("outgoing");
    std::printf("Message %lld is queued again\n", static_cast<long long>(*retry));
  });
}

}  // namespace mailgate::cli
