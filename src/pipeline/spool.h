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

  // Creates `dir` (and its tmp/ and new/ folders) if needed. Temporary files
  // left by a crash are removed: they were never recorded anywhere.
  static StatusOr<std::unique_ptr<Spool>> Open(const std::string& dir);

  StatusOr<Writer> Create() const;

  // Makes the given finished files and their names durable (fsync).
  Status Sync(const std::vector<SpooledFile>& files) const;

  // Finished files, oldest first (the inbound processor's queue).
  StatusOr<std::vector<std::string>> List() const;

  // Removes a file once its message is processed; durable after the next
  // Sync or directory flush. A missing file is not an error (idempotent).
  Status Remove(const std::string& path) const;

  const std::string& dir() const { return dir_; }

 private:
  explicit Spool(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace mailgate::pipeline

#endif  // MAILGATE_PIPELINE_SPOOL_H_
