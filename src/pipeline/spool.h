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

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
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

}  // namespace mailgate::pipeline

#endif  // MAILGATE_PIPELINE_SPOOL_H_
