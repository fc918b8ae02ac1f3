// mailgate check, process, watch, conversation ..., quarantine ...: the
// Mailbox Checker and Email Downloader, the Inbound Email Message Processor,
// IMAP IDLE push, and what they produce.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "cli/session.h"
#include "pipeline/checker.h"
#include "pipeline/processor.h"
#include "pipeline/spool.h"
#include "pipeline/watch.h"
#include "view/records_json.h"

namespace mailgate::cli {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using view::AddressesText;
using view::ConversationJson;
using view::DownloadJson;
using view::MessageJson;

void PrintLine(const store::RunLogLine& line) {
  const char* tag = line.level == "error" ? "error: " : line.level == "warning" ? "warning: " : "";
  std::printf("%s%s\n", tag, line.text.c_str());
  std::fflush(stdout);
}

StatusOr<std::unique_ptr<pipeline::Spool>> OpenSpool(const GlobalOptions& g) {
  auto dir = PrepareDataDir(g);
  if (!dir.ok()) return dir.status();
  return pipeline::Spool::Open(*dir + "/spool");
}

// The mailboxes named, or every enabled one (`push_only`: those with push).
StatusOr<std::vector<store::Mailbox>> SelectMailboxes(store::Store& store,
                                                      const std::vector<std::string>& names,
                                                      bool push_only) {
  std::vector<store::Mailbox> out;
  if (!names.empty()) {
    for (const auto& name : names) {
      auto m = store.GetMailbox(name);
      if (!m.ok()) return m.status();
      out.push_back(std::move(*m));
    }
    return out;
  }
  auto all = store.ListMailboxes();
  if (!all.ok()) return all.status();
  for (auto& m : *all) {
    if (m.enabled && (!push_only || m.push)) out.push_back(std::move(m));
  }
  return out;
}

struct CheckArgs {
  std::vector<std::string> mailboxes;
  bool due = false;
  bool process = false;
};

pipeline::ProcessResult RunProcessor(Session& session, const pipeline::Spool& spool) {
  pipeline::ProcessEnv env;
  env.store = session.store.get();
  env.spool = &spool;
  env.echo = PrintLine;
  return pipeline::ProcessPending(env);
}

int RunCheck(const GlobalOptions& g, const CheckArgs& args) {
  auto session = OpenSession(g);
  if (!session.ok()) return PrintError(session.status()), kExitFailure;
  auto spool = OpenSpool(g);
  if (!spool.ok()) return PrintError(spool.status()), kExitFailure;
  auto mailboxes = SelectMailboxes(*session->store, args.mailboxes, false);
  if (!mailboxes.ok()) return PrintError(mailboxes.status()), kExitFailure;
  if (mailboxes->empty()) {
    std::printf("There are no mailboxes ready to be checked.\n");
    return kExitOk;
  }
  pipeline::CheckEnv env;
  env.store = session->store.get();
  env.spool = spool->get();
  env.connect = MakeConnectEnv(*session, g);
  env.echo = PrintLine;
  std::vector<pipeline::CheckResult> results;
  Status s = RunAsync([&](asio::any_io_executor ex) -> asio::awaitable<Status> {
    results = co_await pipeline::CheckMailboxes(ex, *mailboxes, env, args.due);
    co_return Status::Ok();
  });
  if (!s.ok()) return PrintError(s), kExitFailure;
  int failed = 0;
  for (const auto& r : results) {
    if (!r.status.ok()) ++failed;
  }
  if (args.process) {
    const pipeline::ProcessResult p = RunProcessor(*session, **spool);
    if (!p.status.ok()) return PrintError(p.status), kExitFailure;
  }
  if (failed > 0) {
    std::fprintf(stderr, "mailgate: %d of %zu mailboxes failed; see the errors above\n", failed,
                 results.size());
    return kExitFailure;
  }
  return kExitOk;
}

int RunProcess(const GlobalOptions& g) {
  auto session = OpenSession(g);
  if (!session.ok()) return PrintError(session.status()), kExitFailure;
  auto spool = OpenSpool(g);
  if (!spool.ok()) return PrintError(spool.status()), kExitFailure;
  const pipeline::ProcessResult p = RunProcessor(*session, **spool);
  if (!p.status.ok()) return PrintError(p.status), kExitFailure;
  return kExitOk;
}

// IMAP IDLE for the push mailboxes (or those named) until SIGINT/SIGTERM;
// new mail is processed into conversations as soon as it is recorded.
int RunWatch(const GlobalOptions& g, const std::vector<std::string>& names, int poll_seconds) {
  auto session = OpenSession(g);
  if (!session.ok()) return PrintError(session.status()), kExitFailure;
  auto spool = OpenSpool(g);
  if (!spool.ok()) return PrintError(spool.status()), kExitFailure;
  auto mailboxes = SelectMailboxes(*session->store, names, true);
  if (!mailboxes.ok()) return PrintError(mailboxes.status()), kExitFailure;
  if (mailboxes->empty()) {
    PrintError(Status::InvalidArgument(
        "no mailbox to watch: name one, or set `mailgate mailbox edit NAME --push`"));
    return kExitUsage;
  }
  pipeline::CheckEnv env;
  env.store = session->store.get();
  env.spool = spool->get();
  env.connect = MakeConnectEnv(*session, g);
  env.echo = PrintLine;
  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](const boost::system::error_code&, int) { io.stop(); });
  // Processing runs on the same thread as the checkers: the store is used by
  // one of them at a time.
  auto on_new_mail = [&session, &spool] {
    const pipeline::ProcessResult p = RunProcessor(*session, **spool);
    if (!p.status.ok()) PrintError(p.status);
  };
  on_new_mail();  // what earlier runs left pending
  for (const auto& m : *mailboxes) {
    asio::co_spawn(
        io,
        [&, m]() -> asio::awaitable<void> {
          const std::function<void()> callback = on_new_mail;
          const std::chrono::seconds poll(poll_seconds);
          Status s = co_await pipeline::WatchMailbox(io.get_executor(), m, env, callback, poll);
          if (!s.ok()) PrintError(s.WithContext("watching mailbox '" + m.name + "'"));
        },
        asio::detached);
  }
  io.run();
  return kExitOk;
}

// --- Conversations ---------------------------------------------------------------

int RunConversationList(const GlobalOptions& g, bool as_json, int limit) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto list = (*store)->ListConversations(limit, 0);
  if (!list.ok()) return PrintError(list.status()), kExitFailure;
  if (as_json) {
    json::array arr;
    for (const auto& c : *list) arr.push_back(ConversationJson(c));
    std::printf("%s\n", json::serialize(arr).c_str());
    return kExitOk;
  }
  if (list->empty()) std::printf("No conversations yet.\n");
  for (const auto& c : *list) {
    std::printf("%6lld  [#%s]  %3d msg  %-28s %s\n", static_cast<long long>(c.id), c.mask.c_str(),
                c.message_count, c.last_from.c_str(), c.subject.c_str());
  }
  return kExitOk;
}

int RunConversationShow(const GlobalOptions& g, int64_t id, bool as_json) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto c = (*store)->GetConversation(id);
  if (!c.ok()) return PrintError(c.status()), kExitFailure;
  auto messages = (*store)->ConversationMessages(id);
  if (!messages.ok()) return PrintError(messages.status()), kExitFailure;
  if (as_json) {
    json::object o = ConversationJson(*c);
    json::array arr;
    for (const auto& m : *messages) arr.push_back(MessageJson(m));
    o["messages"] = std::move(arr);
    std::printf("%s\n", json::serialize(o).c_str());
    return kExitOk;
  }
  std::printf("Conversation %lld [#%s] %s\n", static_cast<long long>(c->id), c->mask.c_str(),
              c->subject.c_str());
  for (const auto& m : *messages) {
    std::printf("\n--- message %lld (%s%s%s)\n", static_cast<long long>(m.id),
                m.direction == "in" ? "received" : "sent", m.auto_submitted ? ", auto-reply" : "",
                m.is_bounce ? ", bounce" : "");
    std::printf("From:    %s\nTo:      %s\n", AddressesText(m.from).c_str(),
                AddressesText(m.to).c_str());
    if (!m.cc.empty()) std::printf("Cc:      %s\n", AddressesText(m.cc).c_str());
    std::printf("Date:    %s\nSubject: %s\n", FormatTime(m.date).c_str(), m.subject.c_str());
    for (const auto& a : m.attachments) {
      std::printf("Attachment: %s (%s, %llu bytes, sha256 %s)\n",
                  a.filename.empty() ? "(unnamed)" : a.filename.c_str(), a.content_type.c_str(),
                  static_cast<unsigned long long>(a.size), a.sha256.c_str());
    }
    std::printf("\n%s\n", m.text_body.c_str());
  }
  return kExitOk;
}

int RunAttachmentSave(const GlobalOptions& g, const std::string& sha256, const std::string& out) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto data = (*store)->AttachmentData(sha256);
  if (!data.ok()) return PrintError(data.status()), kExitFailure;
  if (out.empty() || out == "-") {
    std::fwrite(data->data(), 1, data->size(), stdout);
    return kExitOk;
  }
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  f.write(data->data(), static_cast<std::streamsize>(data->size()));
  f.close();
  if (!f) {
    PrintError(Status::Io("cannot write '" + out + "'; check the path and free space"));
    return kExitFailure;
  }
  return kExitOk;
}

// --- Quarantine -------------------------------------------------------------------

int RunQuarantineList(const GlobalOptions& g, bool as_json) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto list = (*store)->QuarantinedDownloads();
  if (!list.ok()) return PrintError(list.status()), kExitFailure;
  if (as_json) {
    json::array arr;
    for (const auto& d : *list) arr.push_back(DownloadJson(d));
    std::printf("%s\n", json::serialize(arr).c_str());
    return kExitOk;
  }
  if (list->empty()) std::printf("No quarantined messages.\n");
  for (const auto& d : *list) {
    std::printf("%6lld  %-20s %s\n", static_cast<long long>(d.id), d.mailbox_name.c_str(),
                d.error.c_str());
  }
  return kExitOk;
}

int RunQuarantineShow(const GlobalOptions& g, int64_t id, bool as_json) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto d = (*store)->GetDownload(id);
  if (!d.ok()) return PrintError(d.status()), kExitFailure;
  const json::object o = DownloadJson(*d);
  if (as_json) {
    std::printf("%s\n", json::serialize(o).c_str());
    return kExitOk;
  }
  for (const auto& [key, value] : o) {
    std::string text = value.is_string() ? std::string(value.as_string()) : json::serialize(value);
    std::printf("%-14s %s\n", (std::string(key) + ":").c_str(), text.c_str());
  }
  return kExitOk;
}

int RunQuarantineReprocess(const GlobalOptions& g, const std::vector<int64_t>& ids, bool all) {
  auto session = OpenSession(g);
  if (!session.ok()) return PrintError(session.status()), kExitFailure;
  auto spool = OpenSpool(g);
  if (!spool.ok()) return PrintError(spool.status()), kExitFailure;
  std::vector<int64_t> targets = ids;
  if (all) {
    auto list = session->store->QuarantinedDownloads();
    if (!list.ok()) return PrintError(list.status()), kExitFailure;
    for (const auto& d : *list) targets.push_back(d.id);
  }
  if (targets.empty()) {
    PrintError(Status::InvalidArgument("name the quarantined downloads to reprocess, or --all"));
    return kExitUsage;
  }
  for (int64_t id : targets) {
    if (Status s = session->store->RequeueDownload(id); !s.ok()) {
      return PrintError(s), kExitFailure;
    }
  }
  const pipeline::ProcessResult p = RunProcessor(*session, **spool);
  if (!p.status.ok()) return PrintError(p.status), kExitFailure;
  return p.quarantined > 0 ? kExitFailure : kExitOk;
}

// --- Runs -------------------------------------------------------------------------

int RunRunList(const GlobalOptions& g, const std::string& job, int limit, bool as_json) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto runs = (*store)->ListRuns(job, limit);
  if (!runs.ok()) return PrintError(runs.status()), kExitFailure;
  if (as_json) {
    json::array arr;
    for (const auto& r : *runs) {
      arr.push_back(view::RunJson(r));
    }
    std::printf("%s\n", json::serialize(arr).c_str());
    return kExitOk;
  }
  if (runs->empty()) std::printf("No runs yet.\n");
  for (const auto& r : *runs) {
    std::printf("%6lld  %s  %-8s %-24s %-7s %s\n", static_cast<long long>(r.id),
                FormatTime(r.started_at).c_str(), r.job.c_str(), r.subject.c_str(),
                r.status.c_str(), r.summary.c_str());
  }
  return kExitOk;
}

int RunRunShow(const GlobalOptions& g, int64_t id, bool as_json) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto lines = (*store)->RunLog(id);
  if (!lines.ok()) return PrintError(lines.status()), kExitFailure;
  if (as_json) {
    json::array arr;
    for (const auto& l : *lines) {
      arr.push_back(json::object{{"at_ms", l.at_ms}, {"level", l.level}, {"text", l.text}});
    }
    std::printf("%s\n", json::serialize(arr).c_str());
    return kExitOk;
  }
  for (const auto& l : *lines) {
    std::printf("%s.%03lld  ", FormatTime(l.at_ms / 1000).c_str(),
                static_cast<long long>(l.at_ms % 1000));
    PrintLine(l);
  }
  return kExitOk;
}

}  // namespace

void RegisterMailCommands(CLI::App& app, RunState& state) {
  auto check = std::make_shared<CheckArgs>();
  CLI::App* cmd = app.add_subcommand(
      "check", "Mailbox Checker and Email Downloader: download new mail now, with the log");
  cmd->add_option("mailboxes", check->mailboxes, "Mailboxes (default: every enabled one)");
  cmd->add_flag("--due", check->due, "Skip mailboxes whose failures delay their next check");
  cmd->add_flag("--process", check->process, "Run the inbound processor afterwards");
  cmd->callback([check, &state] { state.exit_code = RunCheck(state.global, *check); });

  app.add_subcommand("process", "Inbound Email Message Processor: downloaded mail to conversations")
      ->callback([&state] { state.exit_code = RunProcess(state.global); });

  auto watch = std::make_shared<std::pair<std::vector<std::string>, int>>();
  watch->second = 60;
  cmd = app.add_subcommand("watch", "IMAP IDLE: fetch and process new mail as it arrives");
  cmd->add_option("mailboxes", watch->first, "Mailboxes (default: those set with --push)");
  cmd->add_option("--poll", watch->second, "Seconds between checks where the server has no IDLE")
      ->capture_default_str();
  cmd->callback(
      [watch, &state] { state.exit_code = RunWatch(state.global, watch->first, watch->second); });

  CLI::App* conversation = app.add_subcommand("conversation", "Conversations made from mail");
  conversation->require_subcommand(1);
  auto list = std::make_shared<std::pair<bool, int>>(false, 50);
  cmd = conversation->add_subcommand("list", "Newest conversations first");
  cmd->add_flag("--json", list->first, "Machine-readable output");
  cmd->add_option("--limit", list->second, "How many")->capture_default_str();
  cmd->callback([list, &state] {
    state.exit_code = RunConversationList(state.global, list->first, list->second);
  });
  auto show = std::make_shared<std::pair<int64_t, bool>>();
  cmd = conversation->add_subcommand("show", "Messages, participants and attachments");
  cmd->add_option("id", show->first, "Conversation id")->required();
  cmd->add_flag("--json", show->second, "Machine-readable output");
  cmd->callback([show, &state] {
    state.exit_code = RunConversationShow(state.global, show->first, show->second);
  });
  auto attachment = std::make_shared<std::pair<std::string, std::string>>();
  cmd = conversation->add_subcommand("attachment", "Save an attachment's bytes");
  cmd->add_option("sha256", attachment->first, "The attachment's SHA-256 (from show)")->required();
  cmd->add_option("--out", attachment->second, "File to write (default: standard output)");
  cmd->callback([attachment, &state] {
    state.exit_code = RunAttachmentSave(state.global, attachment->first, attachment->second);
  });

  CLI::App* run = app.add_subcommand("run", "Past runs of the jobs and their detailed logs");
  run->require_subcommand(1);
  struct RunListArgs {
    std::string job;
    int limit = 20;
    bool json = false;
  };
  auto rlist = std::make_shared<RunListArgs>();
  cmd = run->add_subcommand("list", "Newest runs first");
  cmd->add_option("--job", rlist->job, "Only this job: check, process");
  cmd->add_option("--limit", rlist->limit, "How many")->capture_default_str();
  cmd->add_flag("--json", rlist->json, "Machine-readable output");
  cmd->callback([rlist, &state] {
    state.exit_code = RunRunList(state.global, rlist->job, rlist->limit, rlist->json);
  });
  auto rshow = std::make_shared<std::pair<int64_t, bool>>();
  cmd = run->add_subcommand("show", "The detailed log of one run");
  cmd->add_option("id", rshow->first, "Run id (from run list)")->required();
  cmd->add_flag("--json", rshow->second, "Machine-readable output");
  cmd->callback(
      [rshow, &state] { state.exit_code = RunRunShow(state.global, rshow->first, rshow->second); });

  CLI::App* quarantine =
      app.add_subcommand("quarantine", "Messages that could not be processed (kept, never lost)");
  quarantine->require_subcommand(1);
  auto qlist = std::make_shared<bool>(false);
  cmd = quarantine->add_subcommand("list", "Quarantined downloads and why");
  cmd->add_flag("--json", *qlist, "Machine-readable output");
  cmd->callback([qlist, &state] { state.exit_code = RunQuarantineList(state.global, *qlist); });
  auto qshow = std::make_shared<std::pair<int64_t, bool>>();
  cmd = quarantine->add_subcommand("show", "One quarantined download");
  cmd->add_option("id", qshow->first, "Download id")->required();
  cmd->add_flag("--json", qshow->second, "Machine-readable output");
  cmd->callback([qshow, &state] {
    state.exit_code = RunQuarantineShow(state.global, qshow->first, qshow->second);
  });
  auto again = std::make_shared<std::pair<std::vector<int64_t>, bool>>();
  cmd = quarantine->add_subcommand("reprocess", "Process quarantined downloads again");
  cmd->add_option("ids", again->first, "Download ids");
  cmd->add_flag("--all", again->second, "Every quarantined download");
  cmd->callback([again, &state] {
    state.exit_code = RunQuarantineReprocess(state.global, again->first, again->second);
  });
}

}  // namespace mailgate::cli
