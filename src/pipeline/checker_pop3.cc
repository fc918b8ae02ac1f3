// The POP3 half of the mailbox checker: messages are identified by UIDL
// (recorded with UIDVALIDITY 0), sized with LIST, retrieved with pipelined
// RETR (pop3::Client::RetrMany) straight into the spool. Deletions (DELE) only
// become real when the server accepts QUIT, so they are noted in the store
// after QUIT; a session that breaks before leaves them for the next run.
#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <set>

#include "pipeline/checker_internal.h"
#include "pop3/pop3_client.h"

namespace mailgate::pipeline::internal {

namespace asio = boost::asio;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kOversizedNamed = 50;
// TOP n 0 returns only the header; a broken server could send more.
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

struct Session {
  std::vector<std::string> deleted;  // DELE accepted, committed by QUIT
  bool usable = true;                // false: out of step with the server, no QUIT
};

// Sender and subject of oversized messages through TOP n 0.
awaitable<Status> NoteOversized(pop3::Client& client, Run& run, Session& session,
                                std::vector<std::pair<pop3::UidlEntry, std::uint64_t>> big) {
  const bool can_top = client.capabilities().top || !client.capabilities().capa_ok;
  const std::string limit = FormatSize(static_cast<std::uint64_t>(run.mailbox.max_size_kb) * 1024);
  for (std::size_t i = 0; i < big.size(); ++i) {
    const auto& [entry, size] = big[i];
    Oversized o;
    o.id = std::to_string(entry.number) + " (UIDL " + entry.uid + ")";
    o.size = size;
    if (can_top && i < kOversizedNamed) {
      std::string header;
      pop3::MessageSink sink = [&header](std::string_view chunk) {
        if (header.size() < kMaxHeaderBytes) header.append(chunk);
        return Status::Ok();
      };
      Status s = co_await client.Top(entry.number, 0, sink);
      if (s.ok()) {
        DescribeHeaders(header, o);
      } else if (net::ConnectionLost(s)) {
        session.usable = false;
        co_return s;
      } else {
        run.log.Warning("Could not read the header of message " + o.id + ": " + s.message());
      }
    }
    run.log.Warning("Message " + o.id + " from " + (o.from.empty() ? "(unknown)" : o.from) + ", '" +
                    o.subject + "' (" + FormatSize(o.size) +
                    "), is over the mailbox's size limit of " + limit +
                    ": left on the server, not downloaded");
    run.oversized.push_back(std::move(o));
    ++run.result.oversized_skipped;
  }
  co_return Status::Ok();
}

// Deletes (DELE, committed at QUIT) or keeps recorded messages.
awaitable<Status> ApplyAction(pop3::Client& client, Run& run, Session& session,
                              std::vector<std::pair<std::uint64_t, std::string>> messages) {
  if (messages.empty()) co_return Status::Ok();
  std::vector<std::string> uids;
  std::vector<std::uint64_t> numbers;
  for (const auto& [n, uid] : messages) {
    numbers.push_back(n);
    uids.push_back(uid);
  }
  if (run.action.kind != AfterDownload::Kind::kDelete) {
    // keep: nothing to do on the server.
    Status s = run.env.store->MarkActionsDone(run.mailbox.id, 0, uids);
    if (!s.ok()) co_return s.WithContext("recording the after-download action");
    run.result.actions_applied += uids.size();
    co_return Status::Ok();
  }
  Status s = co_await client.DeleMany(numbers);
  if (!s.ok()) {
    if (net::ConnectionLost(s)) session.usable = false;
    co_return s.WithContext("marking downloaded messages for deletion (DELE)");
  }
  session.deleted.insert(session.deleted.end(), uids.begin(), uids.end());
  co_return Status::Ok();
}

awaitable<Status> CheckSession(pop3::Client& client, Run& run, Session& session) {
  const store::Mailbox& m = run.mailbox;
  store::Store& st = *run.env.store;
  auto uidl = co_await client.Uidl();
  if (!uidl.ok()) {
    if (net::ConnectionLost(uidl.status())) session.usable = false;
    co_return uidl.status().WithContext(
        "listing the messages' unique IDs (UIDL), which Mailgate needs to tell new messages "
        "from downloaded ones");
  }
  auto list = co_await client.List();
  if (!list.ok()) {
    if (net::ConnectionLost(list.status())) session.usable = false;
    co_return list.status();
  }
  std::map<std::uint64_t, std::uint64_t> size_of;
  std::uint64_t total = 0;
  for (const auto& e : *list) {
    size_of[e.number] = e.octets;
    total += e.octets;
  }
  run.log.Info("Mailbox has " + Count(uidl->size()) + " (" + FormatSize(total) + ")");

  auto recorded = st.ListDownloadedUids(m.id, 0);
  if (!recorded.ok()) co_return recorded.status();
  std::map<std::string, bool> known;  // UIDL -> action done
  for (const auto& d : *recorded) known[d.uid] = d.action_done;
  std::set<std::string> present;
  for (const auto& e : *uidl) present.insert(e.uid);

  // Recorded, but not acted on (the last run stopped before QUIT, or crashed).
  std::vector<std::pair<std::uint64_t, std::string>> redo;
  std::vector<std::string> gone;
  for (const auto& e : *uidl) {
    auto it = known.find(e.uid);
    if (it != known.end() && !it->second) redo.emplace_back(e.number, e.uid);
  }
  for (const auto& [uid, done] : known) {
    if (!done && !present.count(uid)) gone.push_back(uid);
  }
  if (!gone.empty()) {
    Status s = st.MarkActionsDone(m.id, 0, gone);
    if (!s.ok()) co_return s.WithContext("recording the after-download action");
  }
  if (!redo.empty()) {
    run.log.Info("Applying the after-download action to " + Count(redo.size()) +
                 " downloaded earlier");
    Status s = co_await ApplyAction(client, run, session, redo);
    if (!s.ok()) co_return s;
  }

  // New messages, oldest (lowest number) first.
  const std::size_t limit = static_cast<std::size_t>(std::max(1, m.max_messages_per_run));
  std::vector<pop3::UidlEntry> want;
  std::vector<std::uint64_t> want_sizes;
  std::vector<std::pair<pop3::UidlEntry, std::uint64_t>> big;
  std::set<std::string> seen;
  std::size_t waiting = 0;
  for (const auto& e : *uidl) {
    if (known.count(e.uid) || !seen.insert(e.uid).second) continue;
    const std::uint64_t size = size_of.count(e.number) ? size_of[e.number] : 0;
    if (run.TooLarge(size)) {
      big.emplace_back(e, size);
    } else if (want.size() < limit) {
      want.push_back(e);
      want_sizes.push_back(size);
    } else {
      ++waiting;
    }
  }
  if (!big.empty()) {
    Status s = co_await NoteOversized(client, run, session, big);
    if (!s.ok()) co_return s;
  }
  if (!LogPlan(run, want_sizes, waiting, limit, !big.empty())) co_return Status::Ok();

  const auto batches = PlanBatches(want_sizes);
  for (const auto& [begin, end] : batches) {
    std::vector<std::uint64_t> numbers;
    std::map<std::uint64_t, std::string> uid_of;
    std::map<std::string, std::uint64_t> number_of;
    for (std::size_t i = begin; i < end; ++i) {
      numbers.push_back(want[i].number);
      uid_of[want[i].number] = want[i].uid;
      number_of[want[i].uid] = want[i].number;
    }
    Batch batch(run, 0);
    std::optional<std::uint64_t> current;
    Status sink_error;
    // RetrMany asks for a message's sink once its +OK arrived, so the previous message
    // is complete then; the last one is complete when RetrMany returns OK.
    auto finish_current = [&]() -> Status {
      if (!current) return Status::Ok();
      Status s = batch.End(uid_of[*current], 0, std::to_string(*current));
      current.reset();
      return s;
    };
    std::function<pop3::MessageSink(std::uint64_t)> sink_for =
        [&](std::uint64_t n) -> pop3::MessageSink {
      Status f = finish_current();
      if (!f.ok() && sink_error.ok()) sink_error = f;
      Status b = batch.Begin();
      if (!b.ok()) {
        if (sink_error.ok()) sink_error = b;
        return [b](std::string_view) { return b; };
      }
      current = n;
      return [&batch](std::string_view chunk) { return batch.Append(chunk); };
    };
    Status failure = co_await client.RetrMany(numbers, sink_for, 8);
    if (failure.ok()) {
      failure = finish_current();
      if (failure.ok()) failure = sink_error;
    } else {
      // Cut off inside a message (or the sink refused it): the reply was not read to its
      // end, so this connection is out of step for good.
      if (current) {
        failure = failure.WithContext("downloading message " + std::to_string(*current) +
                                      " (UIDL " + uid_of[*current] + "), not kept");
      }
      current.reset();
      batch.Abort();
      session.usable = false;
    }
    auto due = batch.Commit();
    if (Status f = run.log.Flush(); !f.ok()) spdlog::warn("{}", f.message());
    // A message whose spool file could not be written stays on the server.
    for (const auto& [label, why] : batch.failures()) {
      if (failure.ok()) failure = why.WithContext("downloading message " + label);
    }
    if (!due.ok()) {
      if (!failure.ok()) run.log.Error(due.status().message());
      co_return failure.ok() ? due.status() : failure;
    }
    std::vector<std::pair<std::uint64_t, std::string>> recorded_messages;
    for (const auto& uid : *due) recorded_messages.emplace_back(number_of[uid], uid);
    if (session.usable) {
      Status applied = co_await ApplyAction(client, run, session, std::move(recorded_messages));
      if (failure.ok()) failure = applied;
    }
    if (!failure.ok()) co_return failure;
  }
  co_return Status::Ok();
}

}  // namespace

awaitable<Status> CheckPop3(asio::any_io_executor ex, Run& run) {
  const store::Mailbox& m = run.mailbox;
  auto auth = AuthOptionsFor(m, run.env.connect);
  if (!auth.ok()) co_return auth.status();
  const net::ConnectOptions options = ConnectOptionsFor(m, run.env.connect);
  const net::TraceFn trace = run.env.connect.trace;
  const auto t0 = Clock::now();
  auto connected = co_await pop3::Client::Connect(ex, options, trace);
  if (!connected.ok()) co_return connected.status();
  pop3::Client& client = **connected;
  run.log.Info("Connected to mailbox '" + m.name + "' (" + FormatDuration(Clock::now() - t0) + ")");
  const std::string mech = MechanismFor(*auth, client.capabilities().sasl, "USER/PASS");
  const auto t1 = Clock::now();
  Status s = co_await client.Authenticate(*auth);
  if (!s.ok()) co_return s.WithContext("authenticating as " + m.username);
  run.log.Info("Authenticated as " + m.username + " with " + mech + " (" +
               FormatDuration(Clock::now() - t1) + ")");

  Session session;
  s = co_await CheckSession(client, run, session);
  if (session.usable && (s.ok() || !net::ConnectionLost(s))) {
    Status quit = co_await client.Quit();
    if (quit.ok()) {
      if (!session.deleted.empty()) {
        Status done = run.env.store->MarkActionsDone(m.id, 0, session.deleted);
        run.log.Info("Deleted " + Count(session.deleted.size()) + " from the server");
        if (done.ok()) {
          run.result.actions_applied += session.deleted.size();
        } else if (s.ok()) {
          // They are gone from the server; the next run notes that and moves on.
          s = done.WithContext("recording the after-download action");
        }
      }
    } else if (!session.deleted.empty()) {
      run.log.Warning("The server did not confirm the end of the session, so the " +
                      Count(session.deleted.size()) +
                      " marked for deletion may still be there; the next run deletes them");
      if (s.ok()) s = quit.WithContext("ending the POP3 session (QUIT), which commits deletions");
    }
  }
  run.log.Info("Closed mailbox (" + FormatDuration(Clock::now() - run.started) + ")");
  co_return s;
}

}  // namespace mailgate::pipeline::internal
