// mailgate serve: the daemon — the scheduler and its worker (checks, IDLE,
// processor, outgoing queue, token refresher, maintenance) and the web
// console, each on its own thread with its own Store. Also `mailgate job`,
// to see and steer the scheduler's jobs from the command line.
#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>

#include "base/log.h"
#include "cli/commands.h"
#include "cli/session.h"
#include "pipeline/spool.h"
#include "serve/actions.h"
#include "serve/metrics.h"
#include "serve/scheduler.h"
#include "web/console_actions.h"
#include "web/http_server.h"

namespace mailgate::cli {
namespace {

namespace json = boost::json;

struct ServeArgs {
  web::ServeOptions web;
  int64_t lease_seconds = 60;
  int max_checks = 8;
  std::string log_format;
};

// Exits the process if shutdown takes longer than `limit`: an orderly exit
// is preferred, but a daemon that ignores SIGTERM is worse than one that
// abandons work the durability order makes safe to abandon.
class ShutdownWatchdog {
 public:
  explicit ShutdownWatchdog(std::chrono::seconds limit)
      : thread_([this, limit] {
          std::unique_lock lock(mu_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            spdlog::error("shutdown took longer than {} s; exiting now", limit.count());
            std::_Exit(kExitFailure);
          }
        }) {}
  ~ShutdownWatchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// The console's buttons, backed by the scheduler's store and actions. Used
// from the web server's thread only.
class ServeConsoleActions final : public web::ConsoleActions {
 public:
  ServeConsoleActions(store::Store& store, serve::Worker& worker)
      : store_(store), actions_(store, [&worker] { worker.WakeProcessor(); }) {}

  std::vector<web::JobInfo> Jobs() override {
    std::vector<web::JobInfo> out;
    auto jobs = store_.ListJobs(static_cast<int64_t>(::time(nullptr)));
    if (!jobs.ok()) {
      spdlog::warn("console: listing jobs: {}", jobs.status().message());
      return web::DefaultJobs();
    }
    for (const store::Job& j : *jobs) {
      out.push_back(
          {j.name, Title(j.name), j.enabled, j.interval_seconds, j.last_run_at, j.next_run_at});
    }
    return out;
  }
  Status RunJobNow(std::string_view job) override { return actions_.RunJobNow(std::string(job)); }
  StatusOr<int64_t> QueueReply(int64_t conversation_id, web::ReplyDraft draft) override {
    serve::ReplyDraft d;
    d.from = std::move(draft.from);
    d.to = std::move(draft.to);
    d.cc = std::move(draft.cc);
    d.subject = std::move(draft.subject);
    d.text_body = std::move(draft.body);
    d.transport = std::move(draft.transport);
    return actions_.QueueReply(conversation_id, d);
  }
  Status Reprocess(int64_t download_id) override { return actions_.Reprocess(download_id); }

 private:
  // The seed's names for the jobs.
  static std::string Title(const std::string& job) {
    if (job == "check") return "Mailbox Checker and Email Downloader";
    if (job == "process") return "Inbound Email Message Processor";
    if (job == "outgoing") return "Outgoing Mail Queue";
    if (job == "tokens") return "Connected Account Token Refresher";
    if (job == "maintenance") return "Maintenance";
    return job;
  }

  store::Store& store_;
  serve::ConsoleActions actions_;
};

int RunServe(const GlobalOptions& g, ServeArgs& args) {
  if (!args.log_format.empty()) {
    Status s = SetLogFormat(args.log_format);
    if (!s.ok()) return PrintError(s), kExitUsage;
  }
  if (args.lease_seconds < 2) {
    return PrintError(Status::InvalidArgument("--lease-seconds must be at least 2")), kExitUsage;
  }
  auto dir = PrepareDataDir(g);
  if (!dir.ok()) return PrintError(dir.status()), kExitFailure;
  auto vault = OpenVault(g);
  if (!vault.ok()) return PrintError(vault.status()), kExitFailure;
  auto spool = pipeline::Spool::Open(*dir + "/spool");
  if (!spool.ok()) return PrintError(spool.status()), kExitFailure;
  auto web_store = OpenStore(g, *vault);
  if (!web_store.ok()) return PrintError(web_store.status()), kExitFailure;
  // The token manager's own Store: it serialises its calls, and the worker's
  // threads share it.
  auto session = OpenSession(g);
  if (!session.ok()) return PrintError(session.status()), kExitFailure;

  serve::WorkerOptions w;
  w.open_store = [&g, v = *vault]() { return OpenStore(g, v); };
  w.spool = spool->get();
  w.connect = MakeConnectEnv(*session, g);
  w.tokens = session->tokens.get();
  w.lease_seconds = args.lease_seconds;
  w.max_checks = args.max_checks;
  serve::Worker worker(std::move(w));
  Status worker_status;
  std::thread worker_thread([&] { worker_status = worker.Run(); });

  args.web.on_listening = [&worker](const std::string& url) {
    std::printf("Mailgate console: %s\n", url.c_str());
    std::printf("Mailgate worker: %s\n", worker.holder().c_str());
    std::fflush(stdout);
  };
  args.web.on_admin_created = [](const std::string& user, const std::string& password) {
    std::printf("Console administrator: %s / %s (change it with `mailgate admin set-password`)\n",
                user.c_str(), password.c_str());
    std::fflush(stdout);
  };
  const pipeline::ConnectEnv env = MakeConnectEnv(*session, g);
  args.web.ca_file = env.ca_file;
  args.web.tokens = env.tokens;
  args.web.http = session->http.get();
  args.web.token_manager = session->tokens.get();
  args.web.metrics = [] { return serve::MetricsText(); };
  ServeConsoleActions actions(**web_store, worker);
  // Serves until SIGINT or SIGTERM.
  Status served = web::Serve(args.web, **web_store, actions);
  spdlog::info("stopping: finishing work in flight (at most 10 s)");
  {
    ShutdownWatchdog watchdog(std::chrono::seconds(12));
    worker.Stop();
    worker_thread.join();
  }
  if (!served.ok()) return PrintError(served), kExitFailure;
  if (!worker_status.ok()) return PrintError(worker_status), kExitFailure;
  return kExitOk;
}

json::object JobJson(const store::Job& j) {
  return json::object{{"name", j.name},
                      {"enabled", j.enabled},
                      {"interval_seconds", j.interval_seconds},
                      {"last_run_at", FormatTime(j.last_run_at)},
                      {"next_run_at", FormatTime(j.next_run_at)},
                      {"run_requested", j.run_requested},
                      {"running_on", j.lease_holder},
                      {"last_status", j.last_status},
                      {"last_summary", j.last_summary},
                      {"last_duration_ms", j.last_duration_ms}};
}

int RunJobList(const GlobalOptions& g, bool as_json) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto jobs = (*store)->ListJobs(static_cast<int64_t>(::time(nullptr)));
  if (!jobs.ok()) return PrintError(jobs.status()), kExitFailure;
  if (as_json) {
    json::array arr;
    for (const auto& j : *jobs) arr.push_back(JobJson(j));
    std::printf("%s\n", json::serialize(arr).c_str());
    return kExitOk;
  }
  for (const auto& j : *jobs) {
    std::printf("%-12s %-8s every %llds  last %s (%s)  next %s%s%s\n", j.name.c_str(),
                j.enabled ? "enabled" : "disabled", static_cast<long long>(j.interval_seconds),
                FormatTime(j.last_run_at).c_str(),
                j.last_status.empty() ? "-" : j.last_status.c_str(),
                FormatTime(j.next_run_at).c_str(), j.run_requested ? "  [run requested]" : "",
                j.lease_holder.empty() ? "" : ("  running on " + j.lease_holder).c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterServeCommand(CLI::App& app, RunState& state) {
  auto args = std::make_shared<ServeArgs>();
  if (const char* f = std::getenv("MAILGATE_LOG_FORMAT")) args->log_format = f;
  CLI::App* cmd = app.add_subcommand("serve", "Run the daemon: scheduler, workers, web console");
  cmd->add_option("--listen", args->web.listen, "Address and port of the console (port 0: any)")
      ->capture_default_str();
  cmd->add_option("--lease-seconds", args->lease_seconds,
                  "How long a worker's leases last without renewal: a worker that dies frees "
                  "its mailboxes and jobs after this")
      ->capture_default_str();
  cmd->add_option("--max-checks", args->max_checks,
                  "Mailbox checks this worker runs at the same time")
      ->capture_default_str();
  cmd->add_option("--tls-cert", args->web.tls_cert_file,
                  "Serve HTTPS with this PEM certificate chain (with --tls-key)");
  cmd->add_option("--tls-key", args->web.tls_key_file, "The certificate's PEM private key");
  cmd->add_option("--public-url", args->web.public_url,
                  "The console's address as browsers reach it (default: the listening address); "
                  "https:// marks cookies Secure");
  cmd->add_option("--log-format", args->log_format,
                  "text or json (one JSON object per line; env MAILGATE_LOG_FORMAT)");
  cmd->callback([args, &state] { state.exit_code = RunServe(state.global, *args); });

  CLI::App* job = app.add_subcommand("job", "The scheduler's jobs: list, run now, configure");
  job->require_subcommand(1);
  auto list_json = std::make_shared<bool>(false);
  CLI::App* c = job->add_subcommand("list", "Jobs with their state and last run");
  c->add_flag("--json", *list_json, "Machine-readable output");
  c->callback([list_json, &state] { state.exit_code = RunJobList(state.global, *list_json); });

  auto run_name = std::make_shared<std::string>();
  c = job->add_subcommand("run", "Run a job now (a running `mailgate serve` takes it)");
  c->add_option("name", *run_name, "check, process, outgoing, tokens or maintenance")->required();
  c->callback([run_name, &state] {
    auto store = OpenStore(state.global);
    if (!store.ok()) return PrintError(store.status()), void(state.exit_code = kExitFailure);
    Status s = (*store)->RequestJobRun(*run_name);
    if (!s.ok()) return PrintError(s), void(state.exit_code = ExitFor(s));
    std::printf("Requested a run of %s\n", run_name->c_str());
  });

  struct SetArgs {
    std::string name;
    std::optional<int64_t> interval;
    std::optional<bool> enabled;
  };
  auto set = std::make_shared<SetArgs>();
  c = job->add_subcommand("set", "Change a job's interval or enable/disable it");
  c->add_option("name", set->name, "The job")->required();
  c->add_option("--interval", set->interval, "Seconds between runs");
  c->add_option("--enabled", set->enabled, "true or false");
  c->callback([set, &state] {
    auto store = OpenStore(state.global);
    if (!store.ok()) return PrintError(store.status()), void(state.exit_code = kExitFailure);
    auto j = (*store)->GetJob(set->name, 0);
    if (!j.ok()) return PrintError(j.status()), void(state.exit_code = ExitFor(j.status()));
    Status s = (*store)->ConfigureJob(set->name, set->enabled.value_or(j->enabled),
                                      set->interval.value_or(j->interval_seconds));
    if (!s.ok()) return PrintError(s), void(state.exit_code = ExitFor(s));
  });

  RegisterSendCommand(app, state);
}

}  // namespace mailgate::cli
