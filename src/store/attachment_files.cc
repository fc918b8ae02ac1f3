#include "store/attachment_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "base/sha256.h"

namespace mailgate::store {
namespace {

constexpr std::string_view kPackPrefix = "pack-";

Status IoError(std::string_view what, const std::string& path) {
  std::string msg(what);
  msg += " '";
  msg += path;
  msg += "': ";
  msg += std::strerror(errno);
  msg += "; check the attachment folder's permissions and free space, then try again";
  return Status::Io(std::move(msg));
}

std::string Parent(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status SyncDir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", path);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  errno = err;
  if (rc != 0) return IoError("cannot sync", path);
  return Status::Ok();
}

std::string PackName(int number) {
  char name[32];
  std::snprintf(name, sizeof name, "pack-%06d", number);
  return name;
}

// The number of a pack's name, or 0 when `name` is not one.
int PackNumber(std::string_view name) {
  if (!name.starts_with(kPackPrefix) || name.size() != kPackPrefix.size() + 6) return 0;
  int n = 0;
  for (char c : name.substr(kPackPrefix.size())) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

// The digest as the record's header names it: one word of printable ASCII.
bool ValidKey(std::string_view key) {
  if (key.empty() || key.size() > 128) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return c > ' ' && c < 127; });
}

bool IsHexDigest(std::string_view key) {
  return key.size() == 64 && std::all_of(key.begin(), key.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string Header(std::string_view sha256, uint64_t size) {
  std::string header = "mailgate-attachment ";
  header += sha256;
  header += ' ';
  header += std::to_string(size);
  header += '\n';
  return header;
}

}  // namespace

AttachmentFiles::~AttachmentFiles() {
  for (int fd : retired_) ::close(fd);
  if (fd_ >= 0) ::close(fd_);
}

Status AttachmentFiles::OpenPack(int number) {
  const std::string path = dir_ + "/" + PackName(number);
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    // (Or another process created it first: syncing DIR again is harmless.)
    if (fd >= 0) dir_dirty_ = true;
  }
  if (fd < 0) {
    dir_made_ = false;  // look again next time: the folder may be fixed by then
    return IoError("cannot open the attachment pack", path);
  }
  if (fd_ >= 0) {
    // The full pack stays open until its appends are synced.
    retired_.push_back(fd_);
  }
  fd_ = fd;
  number_ = number;
  full_ = false;
  return Status::Ok();
}

StatusOr<AttachmentFiles::Location> AttachmentFiles::Put(std::string_view sha256,
                                                         std::string_view bytes) {
  if (!ValidKey(sha256)) {
    return Status::Internal("attachment digest '" + std::string(sha256) +
                            "' is not one word of printable characters; please report this bug");
  }
  if (after_failure_) {
    // A failed Sync may have left a new name unsynced: sync the folders again.
    dir_dirty_ = parent_dirty_ = true;
    after_failure_ = false;
  }
  if (!dir_made_) {
    struct stat st;
    if (::mkdir(dir_.c_str(), 0700) == 0) {
      parent_dirty_ = true;
    } else if (errno != EEXIST) {
      return IoError("cannot create the attachment folder", dir_);
    } else if (::stat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      errno = ENOTDIR;
      return IoError("cannot use the attachment folder", dir_);
    }
    dir_made_ = true;
  }
  if (fd_ < 0) {
    // The newest pack: other processes append to it too.
    int newest = 1;
    if (DIR* d = ::opendir(dir_.c_str())) {
      while (const dirent* e = ::readdir(d)) newest = std::max(newest, PackNumber(e->d_name));
      ::closedir(d);
    }
    MAILGATE_RETURN_IF_ERROR(OpenPack(newest));
  } else if (full_) {
    MAILGATE_RETURN_IF_ERROR(OpenPack(number_ + 1));
  }
  std::string header = Header(sha256, bytes.size());
  iovec iov[2] = {{header.data(), header.size()}, {const_cast<char*>(bytes.data()), bytes.size()}};
  const size_t want = header.size() + bytes.size();
  ssize_t n;
  do {
    n = ::writev(fd_, iov, 2);
  } while (n < 0 && errno == EINTR);
  const std::string path = dir_ + "/" + PackName(number_);
  if (n < 0) return IoError("cannot append to", path);
  if (static_cast<size_t>(n) != want) {
    // Only a full disk (or a limit) cuts a regular file's write short; the
    // partial record is never referenced.
    errno = ENOSPC;
    return IoError("cannot append to", path);
  }
  if (std::find(dirty_.begin(), dirty_.end(), fd_) == dirty_.end()) dirty_.push_back(fd_);
  // With O_APPEND the write went to the end, wherever other writers left it;
  // the descriptor's offset is now just past it.
  const off_t end = ::lseek(fd_, 0, SEEK_CUR);
  if (end < 0) return IoError("cannot read the position in", path);
  const auto end_offset = static_cast<uint64_t>(end);
  // Start writing back now, so that Sync() has less to wait for.
  (void)::sync_file_range(fd_, end - static_cast<off_t>(want), static_cast<off_t>(want),
                          SYNC_FILE_RANGE_WRITE);
  if (end_offset >= pack_bytes_) full_ = true;
  return Location{PackName(number_), end_offset - bytes.size()};
}

Status AttachmentFiles::Sync() {
  Status s;
  for (int fd : dirty_) {
    if (s.ok() && ::fdatasync(fd) != 0) s = IoError("cannot sync an attachment pack in", dir_);
  }
  if (s.ok() && dir_dirty_) s = SyncDir(dir_);
  if (s.ok() && parent_dirty_) s = SyncDir(Parent(dir_));
  dirty_.clear();
  for (int fd : retired_) ::close(fd);
  retired_.clear();
  dir_dirty_ = parent_dirty_ = false;
  if (!s.ok()) {
    // The commit waiting on this is rolled back, so no row points at these
    // bytes: a retry appends them again. Start afresh then (another pack
    // descriptor, folders synced again) rather than fail every later commit.
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    dir_made_ = false;
    after_failure_ = true;
  }
  return s;
}

StatusOr<std::string> AttachmentFiles::Get(std::string_view pack, uint64_t offset, uint64_t size,
                                           std::string_view sha256) const {
  // Names come from the database; anything else is refused, not opened.
  if (PackNumber(pack) == 0) {
    return Status::Io("the attachment " + std::string(sha256) + " names '" + std::string(pack) +
                      "', which is not an attachment pack; the database is damaged");
  }
  const std::string path = dir_ + "/" + std::string(pack);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return Status::NotFound("the attachment pack '" + path +
                              "' is MISSING: it was removed outside Mailgate; restore it from a "
                              "backup");
    }
    return IoError("cannot open", path);
  }
  // The record's header too: it must name this digest and size, so a wrong
  // offset cannot pass for the right bytes.
  const std::string header = Header(sha256, size);
  std::string record(header.size() + size, '\0');
  size_t got = 0;
  const uint64_t start = offset >= header.size() ? offset - header.size() : 0;
  while (offset >= header.size() && got < record.size()) {
    const ssize_t n =
        ::pread(fd, record.data() + got, record.size() - got, static_cast<off_t>(start + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  std::string bytes = record.substr(header.size());
  if (got != record.size() || !record.starts_with(header) ||
      (IsHexDigest(sha256) && Sha256Hex(bytes) != sha256)) {
    return Status::Io("the attachment " + std::string(sha256) + " in '" + path +
                      "' does not hold the bytes its digest says (damaged on disk?); restore "
                      "the pack from a backup");
  }
  return bytes;
}

}  // namespace mailgate::store
