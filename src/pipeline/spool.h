// The spool: downloaded messages land here, durably, before anything is
// recorded in the store or removed from a server. The inbound processor
// reads from it.
//
// Durability order (the downloader's contract): Writer::Append... Finish()
// for each message of a batch, then Spool::Sync(batch), then record the batch
// in the store in one transaction, then (only then) apply the after-download
// action on the server. Sync makes the file contents and their directory
// entries durable for the whole batch at once, so a batch costs one flush,
// not one per message.
//
// Thread safety: a Spool may be shared by threads; a Writer belongs to one.
#ifndef MAILGATE_PIPELINE_SPOOL_H_
#define MAILGATE_PIPELINE_SPOOL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/sha256.h"
#include "base/status.h"

namespace mailgate::pipeline {

struct SpooledFile {
  std::string path;    // absolute path of the file in the spool
  std::string sha256;  // hex digest of its bytes
  std::uint64_t size = 0;
};

class Spool {
 public:
  // Loose files in tmp/ untouched for this long are a crashed writer's.
  static constexpr std::chrono::minutes kLooseTmpMaxAge{60};

  // Streams one message into a temporary file. Destroying an unfinished
  // Writer removes the temporary file.
  class Writer {
   public:
    Writer(Writer&&) noexcept;
    Writer& operator=(Writer&&) = delete;
    ~Writer();

    // Errors are Status::Io with the cause (disk full says so).
    Status Append(std::string_view chunk);
    // Closes the file and moves it into the spool. Not yet durable: see Sync.
    // REQUIRES: called at most once.
    StatusOr<SpooledFile> Finish();

   private:
    friend class Spool;
    Writer(const Spool* spool, int fd, std::string tmp_path);
    const Spool* spool_;
    int fd_;
    std::string tmp_path_;
    std::unique_ptr<Sha256> hash_;
    std::uint64_t size_ = 0;
  };

  // Creates `dir` (and its tmp/ and new/ folders) if needed, and this
  // Spool's own temporary folder tmp/<owner>/, held by an flock on
  // tmp/<owner>.lock for the Spool's lifetime. Several processes (several
  // `mailgate serve` workers on one data dir) may open one spool: Open removes
  // only the temporary folders whose lock no one holds (their owner died;
  // their files were never recorded anywhere), never a live owner's. Loose
  // files directly in tmp/ (the layout before owner folders) are removed once
  // they have not been written for kLooseTmpMaxAge.
  static StatusOr<std::unique_ptr<Spool>> Open(const std::string& dir);
  ~Spool();

  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  StatusOr<Writer> Create() const;

  // Makes the given finished files and their names durable (fsync).
  Status Sync(const std::vector<SpooledFile>& files) const;

  // Finished files, oldest first (the inbound processor's queue).
  StatusOr<std::vector<std::string>> List() const;

  // Removes a file once its message is processed; durable after the next
  // Sync or directory flush. A missing file is not an error (idempotent).
  Status Remove(const std::string& path) const;

  const std::string& dir() const { return dir_; }
  // This Spool's own folder for unfinished files (tmp/<owner>).
  const std::string& tmp_dir() const { return tmp_dir_; }

 private:
  Spool(std::string dir, std::string tmp_dir, int lock_fd)
      : dir_(std::move(dir)), tmp_dir_(std::move(tmp_dir)), lock_fd_(lock_fd) {}
  std::string dir_;
  std::string tmp_dir_;
  int lock_fd_;  // holds LOCK_EX on tmp_dir_ + ".lock" while this Spool lives
};

// Streams messages into a Spool on a thread of its own, so that creating,
// writing, hashing and renaming their files, and flushing them, overlap with
// the caller's network reads instead of stalling them (and the server behind
// them). On ext4 without a journal, creating a file in a folder where thousands
// were deleted in the last minutes costs ~0.5 ms of kernel CPU (the inode
// allocator skips every recently deleted inode), and a flush waits for the disk.
//
// The caller streams one message at a time (Begin, Append..., End or Abort) and
// ends a group of messages with Flush(); the worker does the same in order. Each
// group comes back from TakeFlushed()/WaitFlushed() after Spool::Sync made its
// written files durable: one Result per ended message, in order, so the caller
// records them and keeps the durability order (a file is durable only once its
// group came back with `synced` OK).
//
// Failures happen on the worker: each message's Result says whether its file
// was written; error() is the first failure, which Begin() and Append() return
// from then on, so that the caller stops taking messages (a full disk fails them
// all alike). At most max_queued bytes wait for the worker; Append blocks beyond.
//
// Thread safety: one caller thread. The worker starts at the first Begin().
// REQUIRES: the Spool outlives this object.
class AsyncSpoolWriter {
 public:
  static constexpr std::size_t kDefaultMaxQueued = 4 * 1024 * 1024;
  // Bytes gathered before they are handed to the worker (one write() each).
  static constexpr std::size_t kChunk = 128 * 1024;
  // Memory queued before an idle worker is woken (a flush wakes it at once).
  static constexpr std::size_t kWakeBytes = 1024 * 1024;

  struct Result {
    std::size_t ticket = 0;  // as given to End()
    Status status;           // the file's own: created, written and moved into new/
    SpooledFile file;        // when status is OK
  };
  struct Group {
    std::vector<Result> results;  // the messages ended since the previous group
    Status synced;                // Spool::Sync of the written ones (OK when none)
  };

  explicit AsyncSpoolWriter(const Spool& spool, std::size_t max_queued = kDefaultMaxQueued);
  // Discards an open message and waits for the worker; files of groups not taken
  // stay where they are (the caller removes what it did not record).
  ~AsyncSpoolWriter();
  AsyncSpoolWriter(const AsyncSpoolWriter&) = delete;
  AsyncSpoolWriter& operator=(const AsyncSpoolWriter&) = delete;

  // Starts a message (aborting an open one). Returns error() when set.
  Status Begin();
  // Returns error() when set (the bytes are then dropped).
  Status Append(std::string_view chunk);
  // Ends the open message; its Result carries `ticket`.
  // REQUIRES: a message is open.
  void End(std::size_t ticket);
  // Discards the open message (its temporary file is removed), if any.
  void Abort();
  bool open() const { return open_; }
  // Ends the current group: the worker syncs it once its files are written.
  void Flush();
  // Groups whose Sync has finished, in order; does not wait.
  std::vector<Group> TakeFlushed();
  // Waits until every group ended by Flush() so far has come back, and returns them
  // with those not taken yet.
  std::vector<Group> WaitFlushed();
  // The first failure on the worker; OK when none.
  Status error() const;

 private:
  struct Op {
    enum class Kind { kData, kEnd, kAbort, kFlush } kind;
    std::string data;        // the message's next bytes (kData, kEnd)
    std::size_t ticket = 0;  // kEnd
    bool begins = false;     // the message starts here: create its file first
  };
  void Start();
  void Push(Op op);
  void PushLocked(Op op, std::unique_lock<std::mutex>& lock);
  void Wake();  // REQUIRES: mu_ held
  void Send(Op::Kind kind, std::size_t ticket);
  void Work();
  void Perform(Op& op, std::optional<Spool::Writer>& writer, Status& writer_error,
               std::vector<Result>& ended);

  const Spool& spool_;
  const std::size_t max_queued_;
  bool open_ = false;
  bool begin_pending_ = false;  // the open message's start is not sent yet
  std::string buffer_;          // of the open message, not yet handed over
  std::size_t flushes_ = 0;     // Flush() calls so far (caller's side)

  mutable std::mutex mu_;
  std::condition_variable wake_;     // the worker: work arrived, or stop
  std::condition_variable done_;     // the caller: a group came back, or room in the queue
  std::deque<Op> ops_;               // guarded by mu_
  std::size_t queued_bytes_ = 0;     // guarded by mu_
  std::vector<Group> flushed_;       // guarded by mu_
  std::size_t groups_done_ = 0;      // guarded by mu_
  std::vector<std::string> spare_;   // emptied buffers for reuse, guarded by mu_
  Status error_;                     // guarded by mu_
  std::atomic<bool> failed_{false};  // error_ is set: checked without the lock
  bool stop_ = false;                // guarded by mu_
  bool caller_waits_ = false;        // for room in the queue; guarded by mu_
  bool idle_ = false;                // the worker waits for work; guarded by mu_
  std::thread worker_;
};

}  // namespace mailgate::pipeline

#endif  // MAILGATE_PIPELINE_SPOOL_H_
