#include "serve/scheduler.h"

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "pipeline/checker.h"
#include "pipeline/processor.h"
#include "pipeline/run_log.h"
#include "pipeline/watch.h"
#include "serve/metrics.h"
#include "serve/outbox.h"

namespace mailgate::serve {

namespace asio = boost::asio;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
constexpr int64_t kTokenMarginSeconds = 600;
constexpr int64_t kRetentionSeconds = 90 * 86400;

int64_t NowSeconds() {
  return static_cast<int64_t>(::time(nullptr));
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int64_t MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

// Run log lines go to the store; the process log gets them at debug level.
void EchoToLog(const store::RunLogLine& line) {
  if (line.level == "error") {
    spdlog::warn("{}", line.text);
  } else {
    spdlog::debug("{}", line.text);
  }
}

}  // namespace

std::string NewHolderId() {
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  char rnd[9];
  std::snprintf(rnd, sizeof rnd, "%08x", randombytes_random());
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + rnd;
}

struct Worker::Impl {
  explicit Impl(WorkerOptions o) : opts(std::move(o)) {
    if (opts.holder.empty()) opts.holder = NewHolderId();
  }

  WorkerOptions opts;
  // Reset at the end of Run(), while the stores its coroutines use are alive.
  std::optional<asio::io_context> io{std::in_place};
  std::mutex io_mu;                     // guards resetting `io` against Stop() from other threads
  std::unique_ptr<store::Store> store;  // the io thread's
  pipeline::CheckEnv check_env;
  OutboxEnv outbox_env;

  // io thread state.
  bool stopping = false;
  std::set<int64_t> checking;  // mailbox ids with a check in flight
  std::map<int64_t, std::shared_ptr<asio::steady_timer>> watching;  // push mailboxes; timer = stop
  bool outgoing_running = false;
  int64_t last_renew = 0;
  std::unique_ptr<asio::steady_timer> tick_timer;

  // Background thread (processor, token refresher, maintenance).
  std::mutex mu;
  std::condition_variable cv;
  bool bg_stop = false;
  bool wake_process = false;

  const std::string& holder() const { return opts.holder; }

  // --- io thread -------------------------------------------------------------

  asio::awaitable<void> TickLoop() {
    tick_timer = std::make_unique<asio::steady_timer>(*io);
    while (!stopping) {
      Tick();
      tick_timer->expires_after(opts.tick);
      (void)co_await tick_timer->async_wait(kUse);
    }
  }

  void Tick() {
    const int64_t now = NowSeconds();
    RenewLeases(now);
    auto check = store->GetJob("check", now);
    if (!check.ok()) {
      spdlog::warn("scheduler: {}", check.status().message());
      return;
    }
    if (check->enabled) ScheduleMailboxes(*check, now);
    if (!outgoing_running) {
      auto mine = store->TryStartJob("outgoing", holder(), now, opts.lease_seconds);
      if (mine.ok() && *mine) {
        outgoing_running = true;
        asio::co_spawn(*io, RunOutgoing(), asio::detached);
      }
    }
  }

  void ScheduleMailboxes(const store::Job& check, int64_t now) {
    auto schedules = store->ListMailboxSchedules(now);
    if (!schedules.ok()) {
      spdlog::warn("scheduler: {}", schedules.status().message());
      return;
    }
    std::set<int64_t> present;
    for (const store::MailboxSchedule& s : *schedules) {
      present.insert(s.id);
      const bool watched = watching.count(s.id) > 0;
      if (!s.enabled || !s.push) {
        if (watched) StopWatching(s.id);
        if (!s.enabled) continue;
      }
      const bool free = s.lease_holder.empty() || s.lease_holder == holder();
      if (s.push) {
        if (watched || !free) continue;
        auto mine = store->TryAcquireMailboxLease(s.id, holder(), now, opts.lease_seconds);
        if (!mine.ok() || !*mine) continue;
        StartWatching(s.name, s.id);
        continue;
      }
      if (checking.count(s.id) || !free) continue;
      if (static_cast<int>(checking.size()) >= opts.max_checks) continue;
      const bool due = s.check_requested ||
                       (s.checked_at + check.interval_seconds <= now && s.delayed_until <= now);
      if (!due) continue;
      auto mine = store->TryAcquireMailboxLease(s.id, holder(), now, opts.lease_seconds);
      if (!mine.ok() || !*mine) continue;
      // Another worker may have checked it between our look and our lease.
      auto mailbox = store->GetMailbox(s.name);
      if (!mailbox.ok() || mailbox->checked_at != s.checked_at || !mailbox->enabled) {
        (void)store->ReleaseMailboxLease(s.id, holder());
        continue;
      }
      checking.insert(s.id);
      asio::co_spawn(*io, RunCheck(std::move(*mailbox)), asio::detached);
    }
    // Deleted mailboxes stop being watched.
    for (auto it = watching.begin(); it != watching.end();) {
      auto next = std::next(it);
      if (!present.count(it->first)) StopWatching(it->first);
      it = next;
    }
  }

  // Every TTL/3: extend what this worker holds. A lease found lost (this
  // process stalled longer than the TTL and another worker took over) stops
  // the watcher; a check in flight finishes (the store's download records
  // keep a message from being taken twice).
  void RenewLeases(int64_t now) {
    if (now - last_renew < std::max<int64_t>(1, opts.lease_seconds / 3)) return;
    last_renew = now;
    for (int64_t id : checking) {
      auto ok = store->RenewMailboxLease(id, holder(), now, opts.lease_seconds);
      if (ok.ok() && !*ok) spdlog::warn("lost the lease of mailbox {} while checking it", id);
    }
    std::vector<int64_t> lost;
    for (const auto& [id, timer] : watching) {
      auto ok = store->RenewMailboxLease(id, holder(), now, opts.lease_seconds);
      if (ok.ok() && !*ok) lost.push_back(id);
    }
    for (int64_t id : lost) {
      spdlog::warn("lost the lease of push mailbox {}: another worker watches it now", id);
      StopWatching(id);
    }
    if (outgoing_running) (void)store->RenewJobLease("outgoing", holder(), now, opts.lease_seconds);
  }

  asio::awaitable<void> RunCheck(store::Mailbox mailbox) {
    const int64_t id = mailbox.id;
    const std::string name = mailbox.name;
    const int64_t started = NowSeconds();
    const auto start = std::chrono::steady_clock::now();
    pipeline::CheckResult r =
        co_await pipeline::CheckMailbox(io->get_executor(), mailbox, check_env);
    Count(Counter::kDownloaded, static_cast<int64_t>(r.downloaded));
    ObserveJobDuration("check", SecondsSince(start));
    if (!r.status.ok()) {
      CountFailure("check_" + std::string(KindName(r.status.kind())));
      spdlog::warn("mailbox '{}': {}", name, r.status.message());
    }
    (void)store->ReleaseMailboxLease(id, holder());
    checking.erase(id);
    // A slot is free: schedule the next due mailbox now, not at the next tick
    // (with 1,000 mailboxes, waiting for the tick capped a round at
    // max_checks mailboxes a second).
    if (tick_timer) tick_timer->cancel();
    const std::string summary =
        "mailbox '" + name +
        "': " + (r.status.ok() ? "downloaded " + std::to_string(r.downloaded) : r.status.message());
    (void)store->FinishJob("check", "", started, r.status.ok() ? "ok" : "failed", summary,
                           MillisSince(start));
    if (r.downloaded > 0) NotifyDownloaded();
  }

  void StartWatching(const std::string& name, int64_t id) {
    auto mailbox = store->GetMailbox(name);
    if (!mailbox.ok()) {
      (void)store->ReleaseMailboxLease(id, holder());
      return;
    }
    auto stop = std::make_shared<asio::steady_timer>(*io, asio::steady_timer::time_point::max());
    watching[id] = stop;
    asio::co_spawn(*io, RunWatch(std::move(*mailbox), stop), asio::detached);
  }

  void StopWatching(int64_t id) {
    auto it = watching.find(id);
    if (it == watching.end()) return;
    it->second->cancel();
    watching.erase(it);
  }

  asio::awaitable<void> RunWatch(store::Mailbox mailbox, std::shared_ptr<asio::steady_timer> stop) {
    using namespace asio::experimental::awaitable_operators;
    const int64_t id = mailbox.id;
    spdlog::info("watching mailbox '{}' with IMAP IDLE", mailbox.name);
    const std::function<void()> on_new_mail = [this] { NotifyDownloaded(); };
    const std::chrono::seconds poll = opts.idle_poll;
    auto watch = pipeline::WatchMailbox(io->get_executor(), mailbox, check_env, on_new_mail, poll);
    auto stopped = stop->async_wait(kUse);
    auto result = co_await (std::move(watch) || std::move(stopped));
    if (result.index() == 0) {
      const Status& s = std::get<0>(result);
      if (!s.ok()) spdlog::warn("mailbox '{}': {}", mailbox.name, s.message());
    }
    // Still ours unless StopWatching replaced or removed it.
    auto it = watching.find(id);
    if (it != watching.end() && it->second == stop) watching.erase(it);
    (void)store->ReleaseMailboxLease(id, holder());
  }

  asio::awaitable<void> RunOutgoing() {
    const int64_t started = NowSeconds();
    const auto start = std::chrono::steady_clock::now();
    OutboxResult r = co_await DeliverDue(io->get_executor(), outbox_env);
    ObserveJobDuration("outgoing", SecondsSince(start));
    if (!r.status.ok()) CountFailure("outgoing_store");
    const std::string summary = "sent " + std::to_string(r.sent) + ", retrying " +
                                std::to_string(r.retrying) + ", failed " + std::to_string(r.failed);
    (void)store->FinishJob("outgoing", holder(), started, r.status.ok() ? "ok" : "failed",
                           r.status.ok() ? summary : r.status.message(), MillisSince(start));
    outgoing_running = false;
  }

  // New mail is recorded: the processor should run now, here or on the
  // worker that holds its lease.
  void NotifyDownloaded() {
    (void)store->RequestJobRun("process");
    WakeProcessor();
  }

  void WakeProcessor() {
    {
      std::lock_guard lock(mu);
      wake_process = true;
    }
    cv.notify_all();
  }

  // After Stop(): waits for checks and deliveries in flight, at most the grace.
  asio::awaitable<void> Drain() {
    const auto deadline = std::chrono::steady_clock::now() + opts.shutdown_grace;
    asio::steady_timer t(*io);
    while ((!checking.empty() || outgoing_running) && std::chrono::steady_clock::now() < deadline) {
      t.expires_after(std::chrono::milliseconds(100));
      (void)co_await t.async_wait(kUse);
    }
    if (!checking.empty() || outgoing_running) {
      spdlog::warn(
          "shutting down with work in flight: it is abandoned safely (nothing unrecorded was "
          "deleted from a server) and its leases expire or are released now");
    }
    io->stop();
  }

  void BeginStop() {
    if (stopping) return;
    stopping = true;
    if (tick_timer) tick_timer->cancel();
    std::vector<int64_t> ids;
    for (const auto& [id, timer] : watching) ids.push_back(id);
    for (int64_t id : ids) StopWatching(id);
    asio::co_spawn(*io, Drain(), asio::detached);
  }

  // --- background thread -----------------------------------------------------

  // Runs `body` when this worker gets the job's lease; body returns
  // {ok, summary}.
  template <typename F>
  void RunExclusive(store::Store& s, const char* job, F&& body) {
    const int64_t started = NowSeconds();
    auto mine = s.TryStartJob(job, holder(), started, opts.lease_seconds);
    if (!mine.ok()) {
      spdlog::warn("scheduler: {}", mine.status().message());
      return;
    }
    if (!*mine) return;
    const auto start = std::chrono::steady_clock::now();
    std::pair<bool, std::string> r = body();
    ObserveJobDuration(job, SecondsSince(start));
    if (!r.first) CountFailure(job);
    (void)s.FinishJob(job, holder(), started, r.first ? "ok" : "failed", r.second,
                      MillisSince(start));
  }

  std::pair<bool, std::string> Process(store::Store& s) {
    pipeline::ProcessEnv env;
    env.store = &s;
    env.spool = opts.spool;
    env.echo = EchoToLog;
    // Every 10 s with nothing to do would fill the run history with empty
    // runs: a run is recorded only when there is work (or files to sweep).
    // (Quarantined downloads keep their spool files: those are not work.)
    auto pending = s.PendingDownloads(1);
    auto files = opts.spool->List();
    auto quarantined = s.QuarantinedDownloads();
    if (pending.ok() && pending->empty() && files.ok() && quarantined.ok() &&
        files->size() <= quarantined->size()) {
      return {true, "nothing to process"};
    }
    pipeline::ProcessResult r = pipeline::ProcessPending(env);
    Count(Counter::kProcessed, static_cast<int64_t>(r.processed));
    Count(Counter::kQuarantined, static_cast<int64_t>(r.quarantined));
    if (!r.status.ok()) return {false, r.status.message()};
    return {true, "processed " + std::to_string(r.processed) + ", quarantined " +
                      std::to_string(r.quarantined)};
  }

  std::pair<bool, std::string> RefreshTokens(store::Store& s) {
    pipeline::RunLog log(&s, "tokens", "", EchoToLog);
    (void)log.Start();
    auto accounts = s.ListAccounts();
    if (!accounts.ok()) {
      log.Error(accounts.status().message());
      (void)log.Finish(false, accounts.status().message());
      return {false, accounts.status().message()};
    }
    const int64_t now = NowSeconds();
    int refreshed = 0, failed = 0;
    for (const store::Account& a : *accounts) {
      const bool usable =
          a.status == store::AccountStatus::kOk || a.status == store::AccountStatus::kDegraded;
      const bool has_grant = !a.refresh_token.empty() || a.flow == "client-credentials";
      if (!usable || !has_grant || a.retry_at > now) continue;
      if (a.access_expires_at - now > kTokenMarginSeconds) continue;
      if (!opts.tokens) continue;
      auto token = opts.tokens->GetAccessToken(a.name);
      if (!token.ok()) {
        ++failed;
        CountFailure("tokens_" + std::string(KindName(token.status().kind())));
        log.Error("Account '" + a.name + "': " + token.status().message());
        continue;
      }
      auto after = s.GetAccount(a.name);
      if (after.ok() && after->access_expires_at != a.access_expires_at) {
        ++refreshed;
        Count(Counter::kTokenRefreshes);
        log.Info("Renewed the access token of account '" + a.name + "'");
      }
    }
    const std::string summary =
        "renewed " + std::to_string(refreshed) + ", failed " + std::to_string(failed);
    (void)log.Finish(failed == 0, summary);
    return {failed == 0, summary};
  }

  std::pair<bool, std::string> Maintain(store::Store& s) {
    pipeline::RunLog log(&s, "maintenance", "", EchoToLog);
    (void)log.Start();
    auto counts = s.PurgeOlderThan(NowSeconds() - kRetentionSeconds);
    if (!counts.ok()) {
      log.Error(counts.status().message());
      (void)log.Finish(false, counts.status().message());
      return {false, counts.status().message()};
    }
    const std::string summary = "purged " + std::to_string(counts->runs) + " runs (" +
                                std::to_string(counts->run_log_lines) + " log lines), " +
                                std::to_string(counts->outgoing) +
                                " outgoing messages older than 90 days";
    log.Info(summary);
    (void)log.Finish(true, summary);
    return {true, summary};
  }

  void Background(store::Store& s) {
    for (;;) {
      bool wake = false;
      {
        std::unique_lock lock(mu);
        cv.wait_for(lock, opts.tick, [this] { return bg_stop || wake_process; });
        if (bg_stop) return;
        wake = wake_process;
        wake_process = false;
      }
      if (wake) (void)s.RequestJobRun("process");
      RunExclusive(s, "process", [&] { return Process(s); });
      RunExclusive(s, "tokens", [&] { return RefreshTokens(s); });
      RunExclusive(s, "maintenance", [&] { return Maintain(s); });
      auto depth = s.CountOutgoingPending();
      if (depth.ok()) SetOutgoingQueueDepth(*depth);
    }
  }
};

Worker::Worker(WorkerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Worker::~Worker() = default;

const std::string& Worker::holder() const {
  return impl_->holder();
}

Status Worker::Run() {
  Impl& w = *impl_;
  auto io_store = w.opts.open_store();
  if (!io_store.ok()) return io_store.status();
  auto bg_store = w.opts.open_store();
  if (!bg_store.ok()) return bg_store.status();
  w.store = std::move(*io_store);

  w.check_env.store = w.store.get();
  w.check_env.spool = w.opts.spool;
  w.check_env.connect = w.opts.connect;
  w.check_env.echo = EchoToLog;
  w.outbox_env.store = w.store.get();
  w.outbox_env.connect = w.opts.connect;
  w.outbox_env.holder = w.holder();
  w.outbox_env.echo = EchoToLog;

  spdlog::info("worker {} started (lease {} s)", w.holder(), w.opts.lease_seconds);
  store::Store* bg = bg_store->get();
  std::thread background([&w, bg] { w.Background(*bg); });
  asio::co_spawn(*w.io, w.TickLoop(), asio::detached);
  w.io->run();

  {
    std::lock_guard lock(w.mu);
    w.bg_stop = true;
  }
  w.cv.notify_all();
  background.join();
  Status released = w.store->ReleaseAllLeases(w.holder());
  if (!released.ok()) spdlog::warn("{}", released.message());
  {
    // Coroutines abandoned in flight are destroyed here, while the store
    // their run logs flush to is still open.
    std::lock_guard lock(w.io_mu);
    w.watching.clear();
    w.tick_timer.reset();
    w.io.reset();
  }
  spdlog::info("worker {} stopped", w.holder());
  return Status::Ok();
}

void Worker::Stop() {
  std::lock_guard lock(impl_->io_mu);
  if (impl_->io) asio::post(*impl_->io, [this] { impl_->BeginStop(); });
}

void Worker::WakeProcessor() {
  impl_->WakeProcessor();
}

}  // namespace mailgate::serve
