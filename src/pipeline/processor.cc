#include "pipeline/processor.h"

#include <malloc.h>
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mime/message.h"
#include "pipeline/threading.h"

namespace mailgate::pipeline {
namespace {

// FinishedSpoolPaths takes the paths as bound parameters: keep each query
// well below SQLite's default limit of 32766 variables.
constexpr std::size_t kSweepChunk = 500;

// Tries before giving up on a mask nobody holds; a clash is ~1 in 10^12.
constexpr int kMaskAttempts = 8;
// Messages per store transaction: one fsync per group instead of one each.
// Each commit also writes again the pages every message touches (indexes,
// conversations), so fewer, larger groups write less; 250 hold the write lock
// ~0.1 s here now that parsing happens ahead (ParseAhead).
constexpr std::size_t kCommitGroup = 250;
// Messages parsed ahead of the one being stored, at most (ParseAhead).
constexpr std::size_t kParseWindow = 32;

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// The old product's rule for the sender a person answers: Reply-To, else
// From, else the envelope's Return-Path.
std::string ShownSender(const mime::ParsedMessage& m) {
  if (!m.reply_to.empty()) return m.reply_to.front().email;
  if (!m.from.empty()) return m.from.front().email;
  if (!m.return_path.empty()) return m.return_path;
  return "an unknown sender";
}

std::vector<store::AddressRecord> Addresses(std::vector<mime::Address>&& in) {
  std::vector<store::AddressRecord> out;
  out.reserve(in.size());
  for (auto& a : in) out.push_back({std::move(a.name), std::move(a.email)});
  return out;
}

bool IsMailerDaemon(const mime::ParsedMessage& m) {
  if (m.from.empty()) return false;
  const std::string email = Lower(m.from.front().email);
  const std::string local = email.substr(0, email.find('@'));
  return local == "mailer-daemon" || local == "postmaster";
}

class StoreConversationIndex : public ConversationIndex {
 public:
  explicit StoreConversationIndex(store::Store* store) : store_(store) {}
  StatusOr<std::optional<std::int64_t>> FindByMessageId(std::string_view message_id) override {
    return store_->ConversationByMessageId(message_id);
  }
  StatusOr<std::optional<std::int64_t>> FindByMask(std::string_view mask) override {
    return store_->ConversationByMask(mask);
  }

 private:
  store::Store* store_;
};

// Removes the spool files of committed messages on threads of their own. An
// unlink of a synced file waits for the file system to free (and, on a
// `discard` mount, trim) its blocks: 0.75-3.5 ms each on the benchmark disk,
// 1.5-7 s for 2,000 messages that would otherwise stall parsing; unlinks on
// several threads overlap those waits (4 threads: 1.8 s where one took 7 s).
// Only files whose downloads are committed as processed are handed over, so
// exactly-once holds as before; a file left behind by a crash is removed by the
// next run's sweep.
constexpr int kPurgeThreads = 4;

class Purger {
 public:
  explicit Purger(const Spool* spool) : spool_(spool) {}
  ~Purger() { (void)Finish(); }
  Purger(const Purger&) = delete;
  Purger& operator=(const Purger&) = delete;

  // REQUIRES: the downloads of `paths` are committed.
  void Add(std::vector<std::string> paths) {
    if (paths.empty()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& p : paths) queue_.push_back(std::move(p));
    }
    if (threads_.empty()) {
      for (int i = 0; i < kPurgeThreads; ++i) threads_.emplace_back([this] { Loop(); });
    }
    wake_.notify_all();
  }

  // Waits until every file handed over is removed; returns the errors.
  std::vector<std::string> Finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    std::lock_guard<std::mutex> lock(mu_);
    done_ = false;
    return std::exchange(errors_, {});
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait(lock, [this] { return done_ || !queue_.empty(); });
      if (queue_.empty()) return;  // done_ and nothing left
      std::string path = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      Status s = spool_->Remove(path);
      lock.lock();
      if (!s.ok()) errors_.push_back(s.message());
    }
  }

  const Spool* spool_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;    // guarded by mu_
  std::vector<std::string> errors_;  // guarded by mu_
  bool done_ = false;                // guarded by mu_
  std::vector<std::thread> threads_;
};

// Parses the spool files of a batch ahead of the thread that threads and
// stores them, on threads of their own: parsing (decoding every part,
// charsets to UTF-8, hashing attachments) is most of a message's CPU and
// needs nothing from the store, while threading and storing must go in order
// on one connection. Results are taken in the downloads' order, so the run
// does exactly what it did sequentially; at most `window` parsed messages wait
// in memory.
class ParseAhead {
 public:
  ParseAhead(const std::vector<store::Download>& downloads, std::size_t window)
      : downloads_(downloads), window_(window), slots_(downloads.size()) {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t n = std::min<std::size_t>({cores, kMaxParseThreads, downloads.size()});
    for (std::size_t i = 0; i < n; ++i) threads_.emplace_back([this] { Loop(); });
  }
  ~ParseAhead() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  ParseAhead(const ParseAhead&) = delete;
  ParseAhead& operator=(const ParseAhead&) = delete;

  // The parse of downloads[i]. REQUIRES: called once per i, in order.
  StatusOr<mime::ParsedMessage> Take(std::size_t i) {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return slots_[i].has_value(); });
    StatusOr<mime::ParsedMessage> out = std::move(*slots_[i]);
    slots_[i].reset();
    taken_ = i + 1;
    lock.unlock();
    work_.notify_all();
    return out;
  }

  static StatusOr<mime::ParsedMessage> Parse(const store::Download& d) {
    mime::ParseOptions options;
    options.fallback_date = d.internal_date != 0 ? d.internal_date : d.downloaded_at;
    options.raw_sha256 = d.sha256;  // the spool hashed the file as it was written
    return mime::ParseMessageFile(d.spool_path, options);
  }

 private:
  static constexpr std::size_t kMaxParseThreads = 4;

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_.wait(lock, [this] {
        return stop_ || (next_ < downloads_.size() && next_ < taken_ + window_);
      });
      if (stop_) return;
      const std::size_t i = next_++;
      lock.unlock();
      StatusOr<mime::ParsedMessage> parsed = Parse(downloads_[i]);
      lock.lock();
      slots_[i].emplace(std::move(parsed));
      done_.notify_all();
    }
  }

  const std::vector<store::Download>& downloads_;
  const std::size_t window_;
  std::mutex mu_;
  std::condition_variable work_, done_;
  std::vector<std::optional<StatusOr<mime::ParsedMessage>>> slots_;  // guarded by mu_
  std::size_t next_ = 0;   // the next download to parse; guarded by mu_
  std::size_t taken_ = 0;  // downloads taken by the storing thread; guarded by mu_
  bool stop_ = false;      // guarded by mu_
  std::vector<std::thread> threads_;
};

// One processing run: the counters, the log, and the per-message steps.
class Run {
 public:
  explicit Run(ProcessEnv& env)
      : env_(env),
        log_(env.store, "process", "", env.echo),
        index_(env.store),
        purger_(env.spool) {}

  RunLog& log() { return log_; }

  int64_t Now() const {
    if (env_.now) return env_.now();
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // Drawn from the system's CSPRNG a buffer at a time: randombytes_random costs a
  // getrandom() system call per value, and a mask takes a dozen values.
  std::uint32_t Random() {
    if (env_.random) return env_.random();
    if (random_used_ == random_.size()) {
      randombytes_buf(random_.data(), sizeof random_);
      random_used_ = 0;
    }
    return random_[random_used_++];
  }

  // Removes spool files whose downloads are finished: what a crash between a
  // commit and Spool::Remove left behind. Files without a finished row stay.
  Status Sweep() {
    auto listed = env_.spool->List();
    if (!listed.ok()) return listed.status();
    std::size_t removed = 0;
    for (std::size_t i = 0; i < listed->size(); i += kSweepChunk) {
      const std::size_t end = std::min(listed->size(), i + kSweepChunk);
      std::vector<std::string> chunk(listed->begin() + static_cast<std::ptrdiff_t>(i),
                                     listed->begin() + static_cast<std::ptrdiff_t>(end));
      auto finished = env_.store->FinishedSpoolPaths(chunk);
      if (!finished.ok()) return finished.status();
      for (const std::string& path : *finished) {
        Status s = env_.spool->Remove(path);
        if (!s.ok()) {
          log_.Warning(s.message());
          continue;
        }
        ++removed;
      }
    }
    if (removed > 0) {
      std::string line = "Removed ";
      line += std::to_string(removed);
      line += removed == 1 ? " spool file" : " spool files";
      line += " of messages already stored (a previous run stopped before removing them)";
      log_.Info(std::move(line));
    }
    return Status::Ok();
  }

  // Processes pending downloads until none is left. Errors are the store's:
  // the run cannot go on.
  Status ProcessAll(int batch) {
    if (batch <= 0) batch = 500;
    // Downloads this run already handled; if the store hands one back (a
    // quarantine that did not take), stop rather than loop forever.
    std::set<int64_t> seen;
    bool announced = false;
    while (true) {
      auto pending = env_.store->PendingDownloads(batch);
      if (!pending.ok()) return pending.status().WithContext("listing pending downloads");
      std::vector<store::Download> fresh;
      fresh.reserve(pending->size());
      for (auto& d : *pending) {
        if (seen.insert(d.id).second) fresh.push_back(std::move(d));
      }
      if (fresh.empty()) {
        if (!announced) log_.Info("No messages to process");
        return Status::Ok();
      }
      announced = true;
      std::string line = "Processing ";
      line += std::to_string(fresh.size());
      line += fresh.size() == 1 ? " message" : " messages";
      log_.Info(std::move(line));
      // Messages commit in groups: one transaction (one fsync) per group, each
      // message still atomic with its download row (a savepoint each).
      ParseAhead parser(fresh, kParseWindow);
      for (std::size_t i = 0; i < fresh.size(); i += kCommitGroup) {
        const std::size_t end = std::min(fresh.size(), i + kCommitGroup);
        Status committed = env_.store->Batch([&]() -> Status {
          for (std::size_t j = i; j < end; ++j) {
            MAILGATE_RETURN_IF_ERROR(ProcessOne(fresh[j], parser.Take(j)));
          }
          return Status::Ok();
        });
        if (!committed.ok()) {
          to_remove_.clear();
          return committed.WithContext("storing processed messages");
        }
        // Only now are these messages safe in the store. A removal that fails
        // is retried by the sweep of the next run.
        purger_.Add(std::exchange(to_remove_, {}));
      }
      // One log transaction per batch, not per message.
      MAILGATE_RETURN_IF_ERROR(log_.Flush());
    }
  }

  // Waits for the spool files of this run's messages to be removed.
  void FinishRemovals() {
    for (const std::string& e : purger_.Finish()) log_.Warning(e + "; the next run removes it");
  }

  std::string Summary() const {
    std::string s = std::to_string(processed_);
    s += " processed, ";
    s += std::to_string(quarantined_);
    s += " quarantined, ";
    s += std::to_string(new_conversations_);
    s += new_conversations_ == 1 ? " new conversation" : " new conversations";
    return s;
  }

  std::size_t processed_ = 0, quarantined_ = 0, new_conversations_ = 0;
  std::vector<std::string> to_remove_;  // spool files of the group being committed

 private:
  // `parsed` is ParseAhead::Parse(d).
  Status ProcessOne(const store::Download& d, StatusOr<mime::ParsedMessage> parsed) {
    if (!parsed.ok()) return Unprocessable(d, parsed.status());
    mime::ParsedMessage& m = *parsed;

    auto match = FindConversation(m, index_);
    if (!match.ok())
      return match.status().WithContext("threading download " + std::to_string(d.id));

    store::ReceivedMessage received;
    received.download_id = d.id;
    received.conversation_id = match->conversation_id;
    if (!received.conversation_id) {
      auto mask = UnusedMask();
      if (!mask.ok()) return mask.status();
      received.new_mask = std::move(*mask);
    }
    const int64_t now = Now();
    const std::string sender = ShownSender(m);
    for (const mime::DsnRecipient& r : m.dsn_recipients) {
      // RFC 3464 2.3.4: class 5 is a permanent failure; 4 (delayed) is not.
      if (r.status.empty() || r.status[0] != '5') continue;
      store::UndeliverableAddress u;
      u.email = Lower(r.address);
      u.status = r.status;
      u.diagnostic = r.diagnostic;
      u.reported_at = now;
      received.undeliverable.push_back(std::move(u));
    }
    std::vector<std::string> warnings = std::move(m.warnings);
    const std::string auto_reason = m.auto_submitted_reason;

    store::MessageRecord& r = received.message;
    r.mailbox_id = d.mailbox_id;
    r.download_id = d.id;
    r.direction = "in";
    r.message_id = std::move(m.message_id);
    r.message_id_generated = m.message_id_generated;
    r.in_reply_to = std::move(m.in_reply_to);
    r.references = std::move(m.references);
    r.subject = std::move(m.subject);
    r.from = Addresses(std::move(m.from));
    r.reply_to = Addresses(std::move(m.reply_to));
    r.to = Addresses(std::move(m.to));
    r.cc = Addresses(std::move(m.cc));
    r.return_path = std::move(m.return_path);
    r.date = m.date;
    r.date_generated = m.date_generated;
    r.text_body = std::move(m.text_body);
    r.html_body = std::move(m.html_body);
    r.text_from_html = m.text_from_html;
    r.auto_submitted = m.auto_submitted;
    r.auto_submitted_reason = std::move(m.auto_submitted_reason);
    r.is_bounce = m.is_dsn || IsMailerDaemon(m);
    // The spool file's digest and size, computed as it was written.
    r.sha256 = d.sha256;
    r.size = d.size;
    r.attachments.reserve(m.attachments.size());
    for (mime::Attachment& a : m.attachments) {
      store::AttachmentRecord rec;
      rec.filename = std::move(a.filename);
      rec.content_type = std::move(a.content_type);
      rec.content_id = std::move(a.content_id);
      rec.is_inline = a.is_inline;
      rec.sha256 = std::move(a.sha256);
      rec.size = a.data.size();
      rec.data = std::move(a.data);
      r.attachments.push_back(std::move(rec));
    }
    r.thread_reason = match->reason;
    r.created_at = now;

    auto stored = env_.store->StoreReceivedMessage(received, now);
    if (!stored.ok()) {
      if (stored.status().kind() == Status::Kind::kFailedPrecondition) {
        // Another processor committed it first: its run removes the file.
        log_.Info("Download " + std::to_string(d.id) + " was processed by another run");
        return Status::Ok();
      }
      if (stored.status().retryable()) {
        return stored.status().WithContext("storing download " + std::to_string(d.id));
      }
      // The store refused this message (not the store being down): keep it
      // for inspection rather than stop every message behind it.
      return Quarantine(d, "the store refused it: " + stored.status().message());
    }
    ++processed_;

    std::string line = "Message ";
    line += std::to_string(stored->message_id);
    line += " <";
    line += r.message_id;
    line += "> from ";
    line += sender;
    line += ": ";
    if (stored->created_conversation) {
      ++new_conversations_;
      line += "new conversation ";
      line += received.new_mask;
    } else {
      line += "joined conversation ";
      line += std::to_string(stored->conversation_id);
      line += " (";
      line += r.thread_reason;
      line += ")";
    }
    if (r.message_id_generated) line += "; no Message-ID, one was generated";
    if (r.date_generated) line += "; no usable Date, the download time was used";
    if (r.auto_submitted) {
      line += "; automatic reply (";
      line += auto_reason;
      line += ")";
    }
    if (!r.attachments.empty()) {
      line += "; ";
      line += std::to_string(r.attachments.size());
      line += r.attachments.size() == 1 ? " attachment" : " attachments";
    }
    log_.Info(std::move(line));
    for (const store::UndeliverableAddress& u : received.undeliverable) {
      log_.Info("Bounce: " + u.email + " marked undeliverable (" + u.status + ")");
    }
    for (std::string& w : warnings) {
      log_.Warning("Message " + std::to_string(stored->message_id) + ": " + std::move(w));
    }

    // Removed once the group commits (see ProcessAll).
    to_remove_.push_back(d.spool_path);
    return Status::Ok();
  }

  // A new mask that no conversation holds yet.
  StatusOr<std::string> UnusedMask() {
    std::string mask;
    for (int i = 0; i < kMaskAttempts; ++i) {
      mask = NewMask([this] { return Random(); });
      auto taken = env_.store->ConversationByMask(mask);
      if (!taken.ok()) return taken.status().WithContext("choosing a conversation mask");
      if (!*taken) return mask;
    }
    return mask;  // the store's unique constraint has the last word
  }

  // The spool file could not be read or parsed.
  Status Unprocessable(const store::Download& d, const Status& why) {
    if (why.kind() != Status::Kind::kIo) return Quarantine(d, why.message());
    struct stat st;
    if (::stat(d.spool_path.c_str(), &st) != 0 && errno == ENOENT) {
      // Another processor may have stored it and removed the file since we
      // listed it; only a download still pending has really lost its file.
      auto now_state = env_.store->GetDownload(d.id);
      if (!now_state.ok()) return now_state.status().WithContext("re-reading download");
      if (now_state->state != store::DownloadState::kPending) {
        log_.Info("Download " + std::to_string(d.id) + " was processed by another run");
        return Status::Ok();
      }
      return Quarantine(d, "its spool file '" + d.spool_path +
                               "' is MISSING: it was removed outside Mailgate. Restore the "
                               "file from a backup and reprocess the download, or the "
                               "message is lost");
    }
    return Quarantine(d, why.message() +
                             "; check the spool folder's permissions and the disk, "
                             "then reprocess the download");
  }

  Status Quarantine(const store::Download& d, const std::string& reason) {
    Status s = env_.store->QuarantineDownload(d.id, reason, Now());
    if (!s.ok()) return s.WithContext("quarantining download " + std::to_string(d.id));
    ++quarantined_;
    log_.Error("Quarantined download " + std::to_string(d.id) + ": " + reason);
    return Status::Ok();
  }

  ProcessEnv& env_;
  RunLog log_;
  StoreConversationIndex index_;
  Purger purger_;
  std::array<std::uint32_t, 64> random_{};
  std::size_t random_used_ = random_.size();
};

// glibc's malloc gives memory back to the kernel as soon as a free leaves
// enough of it at the top of a heap (and maps larger blocks on their own,
// unmapped again when freed), so each message's buffers (the file, decoded
// attachments, SQLite's pages) come back as fresh pages, a page fault per
// 4 KB: ~10% of a run's CPU here. During a run memory is kept for the next
// message, and given back once at the end (TrimAfterRun). Process-wide
// settings: set once, by the first run.
void KeepMemoryDuringRuns() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
  });
}

struct TrimAfterRun {
  ~TrimAfterRun() { malloc_trim(0); }
};

ProcessResult Execute(ProcessEnv& env, int batch, const std::vector<std::string>& preface) {
  KeepMemoryDuringRuns();
  const TrimAfterRun trim;
  ProcessResult result;
  if (env.store == nullptr || env.spool == nullptr) {
    result.status = Status::Internal("the processor needs a store and a spool");
    return result;
  }
  if (!env.random && sodium_init() < 0) {
    result.status = Status::Internal("libsodium could not be initialised");
    return result;
  }
  Run run(env);
  result.status = run.log().Start();
  result.run_id = run.log().run_id();
  if (!result.status.ok()) return result;
  for (const std::string& line : preface) run.log().Info(line);

  Status s = run.Sweep();
  if (!s.ok()) {
    // Orphan files cost only disk space; processing can go on.
    run.log().Warning("Could not sweep the spool: " + s.message());
  }
  s = run.ProcessAll(batch);
  run.FinishRemovals();
  result.processed = run.processed_;
  result.quarantined = run.quarantined_;
  result.new_conversations = run.new_conversations_;
  std::string summary = run.Summary();
  if (!s.ok()) {
    run.log().Error("Stopped: " + s.message());
    summary += "; stopped: ";
    summary += s.message();
  } else {
    run.log().Info(summary);
  }
  Status finished = run.log().Finish(s.ok(), summary);
  result.status = s.ok() ? finished : s;
  return result;
}

}  // namespace

ProcessResult ProcessPending(ProcessEnv& env, int batch) {
  return Execute(env, batch, {});
}

ProcessResult Reprocess(ProcessEnv& env, int64_t download_id) {
  ProcessResult result;
  if (env.store == nullptr || env.spool == nullptr) {
    result.status = Status::Internal("the processor needs a store and a spool");
    return result;
  }
  auto download = env.store->GetDownload(download_id);
  if (!download.ok()) {
    result.status = download.status();
    return result;
  }
  result.status = env.store->RequeueDownload(download_id);
  if (!result.status.ok()) return result;
  std::string line = "Download ";
  line += std::to_string(download_id);
  line += " put back in the queue";
  if (!download->error.empty()) {
    line += " (it was quarantined: ";
    line += download->error;
    line += ")";
  }
  return Execute(env, 500, {line});
}

}  // namespace mailgate::pipeline
