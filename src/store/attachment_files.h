// Attachment bytes in append-only pack files (internal to src/store).
//
// The SQLite store keeps attachment bytes here, under the data directory,
// instead of in the database: SQLite wrote every byte twice (into the WAL,
// then into the database at each checkpoint, 4 KB per system call), holding
// the one write lock the mailbox checker waits on all the while. Here each
// attachment is appended once, by one write, to a pack:
//
//   DIR/pack-000001, DIR/pack-000002, ...   (0600; DIR 0700)
//
// each record being a header line "mailgate-attachment SHA256 SIZE\n" and the
// bytes, so a pack can be read without the database. The blobs table remains
// the content-addressed index (SHA-256 -> pack, offset, size): a digest is
// stored once, and its bytes are checked against it when read.
//
// Why packs and not one file per digest: creating a file cost ~0.25 ms of
// kernel CPU here (ext4's inode allocator skipping the inodes of the spool
// files just removed), and each new name needs its folder fsynced; that took
// more than the SQLite writes it saved. A group of 100 messages now costs one
// fdatasync of one pack.
//
// Durability: Put() appends; Sync() fdatasyncs every pack appended to since
// the last Sync (and the folder when a pack was created). The store calls
// Sync() before the commit that records the blobs rows, so a committed row
// always points at durable bytes. A crash before the commit leaves only an
// unreferenced tail in a pack, never a row without its bytes.
//
// Several processes (serve workers on one machine, a CLI command) may append
// to the same pack: O_APPEND places each write whole at the end.
//
// Thread safety: one thread at a time (as the Store).
#ifndef MAILGATE_STORE_ATTACHMENT_FILES_H_
#define MAILGATE_STORE_ATTACHMENT_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace mailgate::store {

class AttachmentFiles {
 public:
  // Packs are closed for appends past this size (another is started).
  static constexpr uint64_t kPackBytes = uint64_t{1} << 30;

  explicit AttachmentFiles(std::string dir, uint64_t pack_bytes = kPackBytes)
      : dir_(std::move(dir)), pack_bytes_(pack_bytes) {}
  ~AttachmentFiles();
  AttachmentFiles(const AttachmentFiles&) = delete;
  AttachmentFiles& operator=(const AttachmentFiles&) = delete;

  struct Location {
    std::string pack;     // file name in DIR
    uint64_t offset = 0;  // of the bytes (after the record's header)
  };

  // Appends `bytes` (REQUIRES: `sha256` is their digest; any one word works);
  // durable only after the next Sync().
  StatusOr<Location> Put(std::string_view sha256, std::string_view bytes);

  // Makes every Put() since the last Sync durable. After a failure those
  // bytes must be Put() again (the commit that would point at them fails).
  Status Sync();

  // Put()s not yet synced (the store's check before a commit).
  bool HasPending() const { return !dirty_.empty() || dir_dirty_ || parent_dirty_; }

  // The `size` bytes at `offset` of `pack`, checked against their record's
  // header and, when `sha256` is a hex SHA-256, against it.
  StatusOr<std::string> Get(std::string_view pack, uint64_t offset, uint64_t size,
                            std::string_view sha256) const;

 private:
  Status OpenPack(int number);

  std::string dir_;
  uint64_t pack_bytes_;
  bool dir_made_ = false;       // DIR exists (made or found)
  bool dir_dirty_ = false;      // a pack was created: fsync DIR
  bool parent_dirty_ = false;   // DIR was created: fsync its parent
  bool after_failure_ = false;  // the last Sync failed
  int number_ = 0;              // the pack appended to (0: none open yet)
  int fd_ = -1;
  bool full_ = false;         // the current pack passed kPackBytes
  std::vector<int> dirty_;    // descriptors appended to since the last Sync
  std::vector<int> retired_;  // full packs, closed once synced
};

}  // namespace mailgate::store

#endif  // MAILGATE_STORE_ATTACHMENT_FILES_H_
