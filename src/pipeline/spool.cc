#include "pipeline/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <utility>

namespace mailgate::pipeline {
namespace {

// Above this many files a batch is flushed with one syncfs() (one journal
// commit for the whole file system) instead of one fdatasync() per file.
constexpr std::size_t kSyncfsThreshold = 4;

Status Errno(const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) {
    msg +=
        "; the disk is full: free space in the data directory, nothing was removed from any server";
  }
  return Status::Io(msg);
}

Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open '" + path + "' to flush it", errno);
  int rc = directory ? ::fsync(fd) : ::fdatasync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Errno("cannot flush '" + path + "' to disk", err);
  return Status::Ok();
}

constexpr std::string_view kLockSuffix = ".lock";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Creates tmp/<owner>.lock and takes LOCK_EX on it, the owner's claim on
// tmp/<owner>/. Another process's RemoveStaleOwners may find the new file
// before we lock it, take the lock itself and unlink it; our lock would then
// be on an unlinked file. So after locking, check that the path still names
// the file we locked, and try a new owner name if not.
StatusOr<int> ClaimOwner(const std::string& tmp, std::string* owner_dir) {
  std::random_device rd;
  for (int attempt = 0; attempt < 16; ++attempt) {
    char owner[64];
    std::snprintf(owner, sizeof owner, "%d-%08x", static_cast<int>(::getpid()),
                  static_cast<unsigned>(rd()));
    std::string dir = tmp + "/" + owner;
    std::string lock = dir + std::string(kLockSuffix);
    int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return Errno("cannot create the spool lock file '" + lock + "'", errno);
    }
    struct stat locked, named;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::fstat(fd, &locked) != 0 ||
        ::stat(lock.c_str(), &named) != 0 || locked.st_ino != named.st_ino ||
        locked.st_dev != named.st_dev) {
      ::close(fd);
      continue;
    }
    if (::mkdir(dir.c_str(), 0700) != 0) {
      int err = errno;
      ::unlink(lock.c_str());
      ::close(fd);
      return Errno("cannot create the spool folder '" + dir + "'", err);
    }
    *owner_dir = std::move(dir);
    return fd;
  }
  return Status::Io("cannot claim a temporary folder in '" + tmp +
                    "': its lock files keep disappearing; check what else writes there");
}

// Removes the temporary folders of owners that no longer hold their lock
// (they died), and loose entries older than kLooseTmpMaxAge. A live owner's
// folder is never touched: its lock is held.
void RemoveStaleOwners(const std::string& tmp) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> entries;
  for (const auto& entry : fs::directory_iterator(tmp, ec)) entries.push_back(entry.path());
  const auto now = fs::file_time_type::clock::now();
  for (const auto& path : entries) {
    const std::string name = path.filename().string();
    if (EndsWith(name, kLockSuffix)) {
      int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
      if (fd < 0) continue;  // another process removed it first
      if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
        // Dead owner: remove its folder, then (still holding the lock, so
        // ClaimOwner's inode check sees it) the lock file.
        std::string dir = path.string();
        dir.resize(dir.size() - kLockSuffix.size());
        fs::remove_all(dir, ec);
        ::unlink(path.c_str());
      }
      ::close(fd);
      continue;
    }
    if (fs::exists(path.string() + std::string(kLockSuffix), ec)) continue;
    // No lock file: a file from before owner folders, or a folder whose
    // lock was lost by hand. Only its age can tell that no one writes it.
    auto mtime = fs::last_write_time(path, ec);
    if (!ec && now - mtime > Spool::kLooseTmpMaxAge) fs::remove_all(path, ec);
  }
}

}  // namespace

Spool::Writer::Writer(const Spool* spool, int fd, std::string tmp_path)
    : spool_(spool), fd_(fd), tmp_path_(std::move(tmp_path)), hash_(std::make_unique<Sha256>()) {}

Spool::Writer::Writer(Writer&& other) noexcept
    : spool_(other.spool_),
      fd_(std::exchange(other.fd_, -1)),
      tmp_path_(std::move(other.tmp_path_)),
      hash_(std::move(other.hash_)),
      size_(other.size_) {}

Spool::Writer::~Writer() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
  }
}

Status Spool::Writer::Append(std::string_view chunk) {
  if (fd_ < 0) return Status::Internal("spool writer used after Finish");
  hash_->Update(chunk);
  size_ += chunk.size();
  while (!chunk.empty()) {
    ssize_t n = ::write(fd_, chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write the spool file '" + tmp_path_ + "'", errno);
    }
    chunk.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

StatusOr<SpooledFile> Spool::Writer::Finish() {
  if (fd_ < 0) return Status::Internal("spool writer finished twice");
  if (::close(std::exchange(fd_, -1)) != 0) {
    int err = errno;
    ::unlink(tmp_path_.c_str());
    return Errno("cannot close the spool file '" + tmp_path_ + "'", err);
  }
  std::string name = tmp_path_.substr(tmp_path_.rfind('/') + 1);
  std::string final_path = spool_->dir_ + "/new/" + name;
  if (::rename(tmp_path_.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_path_.c_str());
    return Errno("cannot move the spool file into '" + spool_->dir_ + "/new'", err);
  }
  return SpooledFile{std::move(final_path), hash_->HexDigest(), size_};
}

StatusOr<std::unique_ptr<Spool>> Spool::Open(const std::string& dir) {
  std::error_code ec;
  for (const char* sub : {"/tmp", "/new"}) {
    std::filesystem::create_directories(dir + sub, ec);
    if (ec) {
      return Status::Io("cannot create the spool folder '" + dir + sub + "': " + ec.message() +
                        "; check the data directory's permissions and free space");
    }
  }
  RemoveStaleOwners(dir + "/tmp");
  std::string tmp_dir;
  auto fd = ClaimOwner(dir + "/tmp", &tmp_dir);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<Spool>(new Spool(dir, std::move(tmp_dir), *fd));
}

Spool::~Spool() {
  // Writers must not outlive their Spool, so the folder holds nothing in use.
  std::error_code ec;
  std::filesystem::remove_all(tmp_dir_, ec);
  ::unlink((tmp_dir_ + std::string(kLockSuffix)).c_str());
  ::close(lock_fd_);
}

StatusOr<Spool::Writer> Spool::Create() const {
  // Names sort by creation time, so List() returns the oldest first.
  static std::atomic<std::uint64_t> counter{0};
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  char name[96];
  std::snprintf(name, sizeof name, "%016lld-%d-%llu.XXXXXX", static_cast<long long>(now),
                static_cast<int>(::getpid()),
                static_cast<unsigned long long>(counter.fetch_add(1)));
  std::string path = tmp_dir_ + "/" + name;
  int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return Errno("cannot create a spool file in '" + tmp_dir_ + "'", errno);
  ::fchmod(fd, 0600);
  return Writer(this, fd, std::move(path));
}

Status Spool::Sync(const std::vector<SpooledFile>& files) const {
  if (files.empty()) return Status::Ok();
  if (files.size() > kSyncfsThreshold) {
    int fd = ::open((dir_ + "/new").c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot open the spool folder to flush it", errno);
    int rc = ::syncfs(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Errno("cannot flush the spool to disk", err);
    return Status::Ok();
  }
  for (const auto& f : files) MAILGATE_RETURN_IF_ERROR(SyncPath(f.path, false));
  return SyncPath(dir_ + "/new", true);
}

StatusOr<std::vector<std::string>> Spool::List() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/new", ec)) {
    if (entry.is_regular_file(ec)) names.push_back(entry.path().string());
  }
  if (ec) return Status::Io("cannot list the spool folder '" + dir_ + "/new': " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

Status Spool::Remove(const std::string& path) const {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Errno("cannot remove the processed spool file '" + path + "'", errno);
  }
  return Status::Ok();
}

}  // namespace mailgate::pipeline

namespace mailgate::pipeline {

AsyncSpoolWriter::AsyncSpoolWriter(const Spool& spool, std::size_t max_queued)
    : spool_(spool), max_queued_(std::max(max_queued, kChunk)) {}

AsyncSpoolWriter::~AsyncSpoolWriter() {
  Abort();
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    Wake();
  }
  worker_.join();
}

void AsyncSpoolWriter::Start() {
  if (!worker_.joinable()) worker_ = std::thread([this] { Work(); });
}

void AsyncSpoolWriter::Push(Op op) {
  std::unique_lock lock(mu_);
  PushLocked(std::move(op), lock);
}

void AsyncSpoolWriter::PushLocked(Op op, std::unique_lock<std::mutex>& lock) {
  // The memory held, not the bytes: a small message holds a whole buffer.
  const std::size_t bytes = op.data.capacity();
  const bool now = op.kind == Op::Kind::kFlush;
  // Backpressure: the caller waits while the worker is this far behind, until it
  // has caught up by half (one wake-up, not one per buffer). A chunk larger than
  // the whole allowance still goes once the queue is empty.
  if (queued_bytes_ > 0 && queued_bytes_ + bytes > max_queued_) {
    caller_waits_ = true;
    Wake();
    done_.wait(lock, [&] { return queued_bytes_ <= max_queued_ / 2; });
    caller_waits_ = false;
  }
  queued_bytes_ += bytes;
  ops_.push_back(std::move(op));
  // An idle worker is woken for a flush, or once kWakeBytes wait: a wake-up per
  // message (a futex call and two context switches) cost more CPU than it saved.
  if (now || queued_bytes_ >= kWakeBytes) Wake();
}

void AsyncSpoolWriter::Wake() {
  if (!idle_) return;
  idle_ = false;
  wake_.notify_one();
}

// Hands the gathered bytes (and the message's start, if not sent yet) to the
// worker as `kind`, and takes an emptied buffer back if one is spare.
void AsyncSpoolWriter::Send(Op::Kind kind, std::size_t ticket) {
  Op op{kind, std::move(buffer_), ticket, begin_pending_};
  begin_pending_ = false;
  buffer_.clear();
  std::unique_lock lock(mu_);
  if (!spare_.empty()) {
    buffer_ = std::move(spare_.back());
    spare_.pop_back();
  }
  PushLocked(std::move(op), lock);
}

Status AsyncSpoolWriter::Begin() {
  Abort();
  if (failed_.load(std::memory_order_acquire)) return error();
  Start();
  open_ = true;
  // Sent with the first bytes (or the end): a small message is one hand-over.
  begin_pending_ = true;
  return Status::Ok();
}

Status AsyncSpoolWriter::Append(std::string_view chunk) {
  if (!open_) return Status::Internal("a message chunk arrived outside a message");
  if (failed_.load(std::memory_order_acquire)) return error();
  while (!chunk.empty()) {
    if (buffer_.capacity() < kChunk) buffer_.reserve(kChunk);
    const std::size_t take = std::min(chunk.size(), kChunk - buffer_.size());
    buffer_.append(chunk.data(), take);
    chunk.remove_prefix(take);
    if (buffer_.size() >= kChunk) Send(Op::Kind::kData, 0);
  }
  return Status::Ok();
}

void AsyncSpoolWriter::End(std::size_t ticket) {
  open_ = false;
  Send(Op::Kind::kEnd, ticket);
}

void AsyncSpoolWriter::Abort() {
  buffer_.clear();
  if (!open_) return;
  open_ = false;
  if (begin_pending_) {
    begin_pending_ = false;  // the worker never heard of it
    return;
  }
  Push(Op{Op::Kind::kAbort, {}, 0, false});
}

void AsyncSpoolWriter::Flush() {
  Abort();
  Start();
  ++flushes_;
  Push(Op{Op::Kind::kFlush, {}, 0, false});
}

std::vector<AsyncSpoolWriter::Group> AsyncSpoolWriter::TakeFlushed() {
  std::lock_guard lock(mu_);
  return std::exchange(flushed_, {});
}

std::vector<AsyncSpoolWriter::Group> AsyncSpoolWriter::WaitFlushed() {
  std::unique_lock lock(mu_);
  done_.wait(lock, [&] { return groups_done_ >= flushes_; });
  return std::exchange(flushed_, {});
}

Status AsyncSpoolWriter::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void AsyncSpoolWriter::Work() {
  std::optional<Spool::Writer> writer;
  Status writer_error;        // of the open message, when its file failed
  std::vector<Result> ended;  // since the last flush
  std::unique_lock lock(mu_);
  for (;;) {
    if (ops_.empty()) {
      if (stop_) break;  // everything queued is done
      idle_ = true;
      wake_.wait(lock, [&] { return !idle_; });
      continue;
    }
    Op op = std::move(ops_.front());
    ops_.pop_front();
    const std::size_t bytes = op.data.capacity();
    lock.unlock();
    Perform(op, writer, writer_error, ended);
    lock.lock();
    queued_bytes_ -= bytes;
    // Every buffer comes back for reuse (at most max_queued / kChunk of them): a
    // fresh one each time would cost a page fault per 4 KB copied into it.
    if (op.data.capacity() >= kChunk) {
      op.data.clear();
      spare_.push_back(std::move(op.data));
    }
    if (caller_waits_ && queued_bytes_ <= max_queued_ / 2) done_.notify_all();
  }
}

void AsyncSpoolWriter::Perform(Op& op, std::optional<Spool::Writer>& writer, Status& writer_error,
                               std::vector<Result>& ended) {
  auto fail = [&](const Status& s) {
    writer_error = s;
    std::lock_guard lock(mu_);
    if (error_.ok()) error_ = s;
    failed_.store(true, std::memory_order_release);
  };
  if (op.begins) {
    writer.reset();
    writer_error = Status::Ok();
    auto w = spool_.Create();
    if (w.ok()) {
      writer.emplace(std::move(*w));
    } else {
      fail(w.status());
    }
  }
  if (!op.data.empty() && writer) {
    Status s = writer->Append(op.data);
    if (!s.ok()) {
      writer.reset();  // removes the temporary file
      fail(s);
    }
  }
  switch (op.kind) {
    case Op::Kind::kData:
      break;
    case Op::Kind::kEnd: {
      Result r;
      r.ticket = op.ticket;
      if (writer) {
        auto f = writer->Finish();
        writer.reset();
        if (f.ok()) {
          r.file = std::move(*f);
        } else {
          fail(f.status());
          r.status = f.status();
        }
      } else {
        r.status = writer_error.ok() ? Status::Internal("a message ended that did not begin")
                                     : writer_error;
      }
      ended.push_back(std::move(r));
      break;
    }
    case Op::Kind::kAbort:
      writer.reset();
      break;
    case Op::Kind::kFlush: {
      Group g;
      g.results = std::move(ended);
      ended.clear();
      std::vector<SpooledFile> written;
      for (const auto& r : g.results) {
        if (r.status.ok()) written.push_back(r.file);
      }
      g.synced = spool_.Sync(written);
      std::lock_guard lock(mu_);
      flushed_.push_back(std::move(g));
      ++groups_done_;
      done_.notify_all();
      break;
    }
  }
}

}  // namespace mailgate::pipeline
