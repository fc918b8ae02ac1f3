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
