// The scheduler of `mailgate serve`: one worker process's share of the jobs.
//
// Jobs (rows of the store's `jobs` table: enabled, interval, last and next
// run, a lease and a "run now" flag):
//   check        every mailbox whose last check is older than the interval
//                (60 s), each under a per-mailbox lease; push mailboxes are
//                watched with IMAP IDLE instead, also under their lease;
//   process      the inbound processor, after every check that downloaded
//                something and every 10 s;
//   outgoing     the outgoing queue, every 30 s and right after a message is
//                queued (RequestJobRun);
//   tokens       every 5 min: renews access tokens that expire within 10 min;
//   maintenance  daily: purges runs, run logs and finished outgoing messages
//                older than 90 days.
// process, outgoing, tokens and maintenance run on one worker at a time (the
// job's lease); checks spread over all workers (one lease per mailbox).
//
// Several workers (processes, on one PostgreSQL database) share the work:
// leases are renewed every TTL/3 while work runs, released when it ends, and
// a worker that dies loses them after the TTL. SQLite serves one process
// (leases still work, but only one process can write at a time). Workers must
// share the data directory (spool and master key).
//
// Threads: the worker's own io_context thread runs checks, IDLE watchers and
// outgoing deliveries (coroutines) and the scheduling tick; a second thread
// runs the synchronous jobs (processor, token refresher, maintenance). Each
// thread has its own Store.
#ifndef MAILGATE_SERVE_SCHEDULER_H_
#define MAILGATE_SERVE_SCHEDULER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "oauth/token_manager.h"
#include "pipeline/config.h"
#include "pipeline/spool.h"
#include "store/store.h"

namespace mailgate::serve {

struct WorkerOptions {
  // Opens a Store on the shared database (called once per thread).
  std::function<StatusOr<std::unique_ptr<store::Store>>()> open_store;
  const pipeline::Spool* spool = nullptr;  // REQUIRED; outlives the worker
  pipeline::ConnectEnv connect;            // CA file, access tokens
  oauth::TokenManager* tokens = nullptr;   // for the token refresher; null: the job only logs
  std::string holder;                      // lease holder id; empty: NewHolderId()
  int64_t lease_seconds = 60;              // mailbox and job lease TTL
  int max_checks = 8;                      // concurrent mailbox checks on this worker
  std::chrono::milliseconds tick{1000};    // how often the store is looked at
  std::chrono::seconds shutdown_grace{8};  // in-flight work gets this long after Stop()
  std::chrono::seconds idle_poll{60};      // push mailboxes without IDLE
};

class Worker {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs the jobs until Stop(); returns after in-flight work finished or was
  // abandoned (at most shutdown_grace later) and this worker's leases are
  // released. Fails at once when the store cannot be opened.
  Status Run();

  // Stops taking new work. Thread-safe.
  void Stop();

  // The processor runs as soon as possible (e.g. after Reprocess). Thread-safe.
  void WakeProcessor();

  const std::string& holder() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "<host>:<pid>:<random>".
std::string NewHolderId();

}  // namespace mailgate::serve

#endif  // MAILGATE_SERVE_SCHEDULER_H_
