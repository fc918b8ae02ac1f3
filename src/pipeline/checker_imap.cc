// The IMAP half of the mailbox checker: messages are identified by
// (UIDVALIDITY, UID), sized with RFC822.SIZE before anything is downloaded,
// fetched in one pipelined UID FETCH stream (imap::Client::UidFetchMessages) straight
// into the spool, committed a batch at a time as it arrives, and acted on (UID
// EXPUNGE, UID STORE, UID MOVE) only once recorded.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "imap/client.h"
#include "pipeline/checker_internal.h"

namespace mailgate::pipeline::internal {

namespace asio = boost::asio;
using asio::awaitable;
using Clock = std::chrono::steady_clock;

namespace {

// UIDs are sized in chunks so that a UID set never makes a command line too long.
constexpr std::size_t kSizeChunk = 1000;
// Oversized messages named per run (each costs a header fetch).
constexpr std::size_t kOversizedNamed = 50;
// Messages of a batch named in the log when several fail alike.
constexpr std::size_t kFailuresNamed = 4;

std::vector<std::string> ToStrings(const std::vector<uint32_t>& uids) {
  std::vector<std::string> out;
  out.reserve(uids.size());
  for (uint32_t u : uids) out.push_back(std::to_string(u));
  return out;
}

std::vector<uint32_t> ToUids(const std::vector<std::string>& uids) {
  std::vector<uint32_t> out;
  out.reserve(uids.size());
  for (const auto& s : uids) {
    uint32_t u = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), u);
    if (ec == std::errc() && p == s.data() + s.size()) out.push_back(u);
  }
  return out;
}

// Streams UID FETCH bodies into the spool and commits them a batch at a time as
// they arrive, inside the one pipelined fetch. The last message of a batch ends
// it (Batch::Flush): the spool's thread syncs its files while this thread keeps
// reading, and the batch is recorded in the store (one transaction) at the first
// sink call after its sync is done. The commands for the next messages are
// already in flight, so the server keeps sending meanwhile, where a fetch per
// batch would drain the pipeline and pay a round trip and the commit with the
// connection idle. After-download actions wait for the fetch to end; they need
// the connection, and only touch what is committed.
class CommittingSink : public imap::MessageSink {
 public:
  CommittingSink(Run& run, int64_t uidvalidity) : run_(run), batch_(run, uidvalidity) {}

  Status BeginMessage(uint32_t, uint64_t) override {
    RecordFlushed();
    if (!commit_error_.ok()) return commit_error_;
    return Check(batch_.Begin());
  }
  Status MessageChunk(std::string_view chunk) override { return Check(batch_.Append(chunk)); }
  Status EndMessage(const imap::FetchedMessage& m) override {
    MAILGATE_RETURN_IF_ERROR(
        Check(batch_.End(std::to_string(m.uid), ParseInternalDate(m.internal_date))));
    bytes_ += m.body_size;
    if (batch_.finished() >= kBatchMessages || bytes_ >= kBatchBytes) {
      batch_.Flush();
      bytes_ = 0;
    }
    RecordFlushed();
    return Status::Ok();
  }
  void AbortMessage() override { batch_.Abort(); }
  // A message that could not be spooled stops the requests: the disk is likely full.
  bool WantMore() override { return commit_error_.ok() && !refused_; }

  // Commits everything that arrived (a message cut off is dropped), waiting for
  // the spool's thread.
  void Commit() {
    batch_.Abort();
    bytes_ = 0;
    if (!commit_error_.ok()) return;
    Took(batch_.Commit());
  }

  const Status& commit_error() const { return commit_error_; }
  // Recorded UIDs: their after-download action is due.
  const std::vector<uint32_t>& due() const { return due_; }
  // Messages whose spool file could not be written (left on the server).
  const std::vector<std::pair<std::string, Status>>& spool_failures() const {
    return batch_.failures();
  }

 private:
  // A message that failed stops further requests; what is in flight still arrives.
  Status Check(Status s) {
    if (!s.ok()) refused_ = true;
    return s;
  }

  // Records the batches the spool's thread has synced by now, if any.
  void RecordFlushed() {
    if (!commit_error_.ok()) return;
    Took(batch_.RecordFlushed());
  }

  // The run log's lines go to the store at most once a second while the fetch
  // runs (and at the run's end): a flush is a transaction with its own fsync on
  // the check's thread, and one per batch doubled the fsyncs of a download.
  void Took(StatusOr<std::vector<std::string>> recorded) {
    if (!recorded.ok()) {
      commit_error_ = recorded.status();
    } else if (!recorded->empty()) {
      for (const auto& uid : ToUids(*recorded)) due_.push_back(uid);
      if (Clock::now() - last_log_flush_ < kLogFlushInterval) return;
    } else {
      return;  // nothing new for the run log either
    }
    last_log_flush_ = Clock::now();
    if (Status f = run_.log.Flush(); !f.ok()) spdlog::warn("{}", f.message());
  }

  static constexpr std::chrono::seconds kLogFlushInterval{1};

  Run& run_;
  Batch batch_;
  std::uint64_t bytes_ = 0;  // since the last batch ended
  Clock::time_point last_log_flush_ = Clock::now();
  Status commit_error_;
  bool refused_ = false;
  std::vector<uint32_t> due_;
};

// The after-download action for recorded messages, then its note in the store.
awaitable<Status> ApplyAction(imap::Client& client, Run& run, int64_t uidvalidity,
                              std::vector<uint32_t> uids) {
  if (uids.empty()) co_return Status::Ok();
  const AfterDownload& action = run.action;
  Status s;
  if (action.kind == AfterDownload::Kind::kDelete) {
    s = co_await client.UidExpunge(uids);
    if (!s.ok()) co_return s.WithContext("deleting downloaded messages from the server");
    run.log.Info("Deleted " + Count(uids.size()) + " from the server");
  } else if (action.kind == AfterDownload::Kind::kMarkSeen) {
    const std::vector<std::string> seen{"\\Seen"};
    s = co_await client.UidStore(uids, "+FLAGS", seen);
    if (!s.ok()) co_return s.WithContext("marking downloaded messages as seen");
    run.log.Info("Marked " + Count(uids.size()) + " as seen");
  } else if (action.kind == AfterDownload::Kind::kMove) {
    s = co_await client.UidMove(uids, action.folder);
    if (s.kind() == Status::Kind::kNotFound) {
      // The folder was named in the configuration: create it rather than fail every run.
      Status created = co_await client.Create(action.folder);
      if (created.ok()) run.log.Info("Created folder " + action.folder);
      if (created.ok() || created.kind() == Status::Kind::kAlreadyExists) {
        s = co_await client.UidMove(uids, action.folder);
      }
    }
    if (!s.ok()) co_return s.WithContext("moving downloaded messages to " + action.folder);
    run.log.Info("Moved " + Count(uids.size()) + " to " + action.folder);
  }
  s = run.env.store->MarkActionsDone(run.mailbox.id, uidvalidity, ToStrings(uids));
  if (!s.ok()) co_return s.WithContext("recording the after-download action");
  run.result.actions_applied += uids.size();
  co_return Status::Ok();
}

// Names the oversized messages (sender, subject, size) in the run log and the run.
awaitable<void> NoteOversized(imap::Client& client, Run& run, std::vector<imap::MessageSize> big) {
  std::vector<uint32_t> uids;
  for (std::size_t i = 0; i < big.size() && i < kOversizedNamed; ++i) uids.push_back(big[i].uid);
  const std::vector<std::string> fields{"FROM", "SUBJECT"};
  std::map<uint32_t, std::string> headers;
  auto fetched = co_await client.UidFetchHeaderFields(uids, fields);
  if (fetched.ok()) {
    for (auto& h : *fetched) headers[h.uid] = std::move(h.raw);
  } else {
    run.log.Warning("Could not read the sender and subject of oversized messages: " +
                    fetched.status().message());
  }
  const std::string limit = FormatSize(static_cast<std::uint64_t>(run.mailbox.max_size_kb) * 1024);
  for (const auto& m : big) {
    Oversized o;
    o.id = std::to_string(m.uid);
    o.size = m.size;
    if (auto it = headers.find(m.uid); it != headers.end()) DescribeHeaders(it->second, o);
    run.log.Warning("Message " + o.id + " from " + (o.from.empty() ? "(unknown)" : o.from) + ", '" +
                    o.subject + "' (" + FormatSize(o.size) +
                    "), is over the mailbox's size limit of " + limit +
                    ": left on the server, not downloaded");
    run.oversized.push_back(std::move(o));
    ++run.result.oversized_skipped;
  }
}

}  // namespace

awaitable<StatusOr<std::unique_ptr<imap::Client>>> OpenImap(asio::any_io_executor ex, Run& run,
                                                            std::chrono::milliseconds io_timeout) {
  imap::ClientOptions o;
  o.connect = ConnectOptionsFor(run.mailbox, run.env.connect);
  if (io_timeout.count() > 0) o.connect.io_timeout = io_timeout;
  auto auth = AuthOptionsFor(run.mailbox, run.env.connect);
  if (!auth.ok()) co_return auth.status();
  o.auth = *auth;
  o.trace = run.env.connect.trace;
  // 16 commands of 8 UIDs in flight: ~4 MB of the benchmark's mail, enough to keep a
  // server 25 ms away sending while a batch is committed (8 was a 64-message window).
  o.pipeline_depth = 16;
  const auto t0 = Clock::now();
  auto client = co_await imap::Client::Connect(ex, o);
  if (!client.ok()) co_return client.status();
  run.log.Info("Connected to mailbox '" + run.mailbox.name + "' (" +
               FormatDuration(Clock::now() - t0) + ")");
  const std::string mech =
      MechanismFor(o.auth, (*client)->capabilities().AuthMechanisms(), "LOGIN");
  const auto t1 = Clock::now();
  Status s = co_await (*client)->Authenticate();
  if (!s.ok()) co_return s.WithContext("authenticating as " + run.mailbox.username);
  run.log.Info("Authenticated as " + run.mailbox.username + " with " + mech + " (" +
               FormatDuration(Clock::now() - t1) + ")");
  co_return std::move(*client);
}

awaitable<Status> CheckImapSession(imap::Client& client, Run& run) {
  const store::Mailbox& m = run.mailbox;
  store::Store& st = *run.env.store;
  auto selected = co_await client.Select(m.folder);
  if (!selected.ok()) co_return selected.status();
  const int64_t uidvalidity = selected->uidvalidity;
  run.log.Info("Selected " + m.folder + ": " + Count(selected->exists) + ", UIDVALIDITY " +
               std::to_string(uidvalidity));
  if (uidvalidity == 0) {
    co_return Status::Protocol("the server gave no UIDVALIDITY for " + m.folder +
                               ", so downloaded messages cannot be told apart from new ones; "
                               "the server is broken, report it to its administrator");
  }
  auto recorded = st.ListDownloadedUids(m.id, uidvalidity);
  if (!recorded.ok()) co_return recorded.status();
  std::map<uint32_t, bool> known;  // UID -> action done
  for (const auto& d : *recorded) {
    for (uint32_t u : ToUids({d.uid})) known[u] = d.action_done;
  }
  std::vector<uint32_t> on_server;
  if (selected->exists > 0) {
    auto all = co_await client.UidSearch("ALL");
    if (!all.ok()) co_return all.status();
    on_server = std::move(*all);
  }
  const std::set<uint32_t> present(on_server.begin(), on_server.end());

  // Recorded, but the action was not applied (the last run stopped in between).
  std::vector<uint32_t> redo;
  std::vector<std::string> gone;
  for (const auto& [uid, done] : known) {
    if (done) continue;
    if (present.count(uid)) {
      redo.push_back(uid);
    } else {
      gone.push_back(std::to_string(uid));  // removed by someone else: nothing left to do
    }
  }
  if (!gone.empty()) {
    Status s = st.MarkActionsDone(m.id, uidvalidity, gone);
    if (!s.ok()) co_return s.WithContext("recording the after-download action");
  }
  if (!redo.empty()) {
    run.log.Info("Applying the after-download action to " + Count(redo.size()) +
                 " downloaded earlier");
    Status s = co_await ApplyAction(client, run, uidvalidity, redo);
    if (!s.ok()) co_return s;
  }

  std::vector<uint32_t> fresh;
  for (uint32_t u : on_server) {
    if (!known.count(u)) fresh.push_back(u);
  }
  // Sizes first: what is over the limit stays on the server, the rest (oldest first, at
  // most max_messages_per_run) is planned into batches.
  const std::size_t limit = static_cast<std::size_t>(std::max(1, m.max_messages_per_run));
  std::vector<uint32_t> want;
  std::vector<std::uint64_t> want_sizes;
  std::vector<imap::MessageSize> big;
  std::size_t waiting = 0;
  for (std::size_t i = 0; i < fresh.size(); i += kSizeChunk) {
    if (want.size() >= limit) {
      waiting += fresh.size() - i;
      break;
    }
    const std::vector<uint32_t> chunk(
        fresh.begin() + static_cast<std::ptrdiff_t>(i),
        fresh.begin() + static_cast<std::ptrdiff_t>(std::min(fresh.size(), i + kSizeChunk)));
    auto sizes = co_await client.UidFetchSizes(chunk);
    if (!sizes.ok()) co_return sizes.status();
    for (const auto& s : *sizes) {
      if (run.TooLarge(s.size)) {
        big.push_back(s);
      } else if (want.size() < limit) {
        want.push_back(s.uid);
        want_sizes.push_back(s.size);
      } else {
        ++waiting;
      }
    }
  }
  if (!big.empty()) co_await NoteOversized(client, run, big);
  if (!LogPlan(run, want_sizes, waiting, limit, !big.empty())) co_return Status::Ok();

  CommittingSink sink(run, uidvalidity);
  auto report = co_await client.UidFetchMessages(want, sink);
  Status failure;
  if (!report.ok()) {
    failure = report.status();
  } else {
    // The first failure is the run's error (logged at its end); a full disk fails every
    // message alike, so only a few more are named.
    const auto& failed = report->failed;
    for (std::size_t i = 0; i < failed.size(); ++i) {
      const std::string uid = std::to_string(failed[i].first);
      if (i == 0) {
        failure = failed[i].second.WithContext("downloading message " + uid);
      } else if (i <= kFailuresNamed) {
        run.log.Error("Message " + uid +
                      " could not be downloaded either: " + failed[i].second.message());
      }
    }
    if (failed.size() > kFailuresNamed + 1) {
      run.log.Error(std::to_string(failed.size() - kFailuresNamed - 1) +
                    " more messages could not be downloaded");
    }
    if (!report->missing.empty()) {
      run.log.Info(Count(report->missing.size()) +
                   " disappeared from the server before they could be downloaded");
    }
    if (!report->unrequested.empty() && sink.commit_error().ok()) {
      run.log.Info(Count(report->unrequested.size()) + " left for the next run after the failure");
    }
  }
  // What arrived completely is kept even when the fetch failed: it is not downloaded twice.
  sink.Commit();
  // Files the spool could not write (a full disk): those messages stay on the server.
  const auto& unspooled = sink.spool_failures();
  for (std::size_t i = 0; i < unspooled.size(); ++i) {
    const Status s = unspooled[i].second.WithContext("downloading message " + unspooled[i].first);
    if (failure.ok()) {
      failure = s;
    } else if (i < kFailuresNamed) {
      run.log.Error(s.message());
    }
  }
  if (!sink.commit_error().ok()) {
    // The spool or the store cannot take more: that is the run's error.
    if (!failure.ok() && failure.message() != sink.commit_error().message()) {
      run.log.Error(failure.message());
    }
    failure = sink.commit_error();
  }
  if (!failure.ok() && net::ConnectionLost(failure)) co_return failure;
  // Only what is recorded gets its action, in chunks of one batch's size (each
  // noted in the store once the server did it). Keeping needs nothing of the
  // server, so it is noted in one transaction: one fsync, not one per 100.
  const std::vector<uint32_t>& due = sink.due();
  const std::size_t step = run.action.kind == AfterDownload::Kind::kKeep
                               ? std::max<std::size_t>(1, due.size())
                               : kBatchMessages;
  for (std::size_t i = 0; i < due.size(); i += step) {
    std::vector<uint32_t> chunk(
        due.begin() + static_cast<std::ptrdiff_t>(i),
        due.begin() + static_cast<std::ptrdiff_t>(std::min(due.size(), i + step)));
    Status applied = co_await ApplyAction(client, run, uidvalidity, std::move(chunk));
    if (Status f = run.log.Flush(); !f.ok()) spdlog::warn("{}", f.message());
    if (!applied.ok()) co_return failure.ok() ? applied : failure;
  }
  co_return failure;
}

awaitable<Status> CheckImap(asio::any_io_executor ex, Run& run) {
  auto opened = co_await OpenImap(ex, run, std::chrono::milliseconds(0));
  if (!opened.ok()) co_return opened.status();
  imap::Client& client = **opened;
  Status s = co_await CheckImapSession(client, run);
  if (s.ok() || !net::ConnectionLost(s)) {
    Status out = co_await client.Logout();
    if (!out.ok()) run.log.Warning("Logging out failed: " + out.message());
  }
  run.log.Info("Closed mailbox (" + FormatDuration(Clock::now() - run.started) + ")");
  co_return s;
}

}  // namespace mailgate::pipeline::internal
