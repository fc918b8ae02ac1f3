// SQLite driver: one database file, WAL journal.
#include <sqlite3.h>

#include <string>
#include <unordered_map>

#include "store/db.h"

namespace mailgate::store {
namespace {

class SqliteDb final : public Db {
 public:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  ~SqliteDb() override {
    for (auto& [sql, stmt] : prepared_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  std::string_view backend() const override { return "sqlite"; }

  StatusOr<SqlResult> Query(std::string_view sql, std::span<const SqlValue> params) override {
    // Statements are prepared once per connection and kept (the processor
    // runs the same handful per message); a schema change makes SQLite
    // prepare them again by itself.
    sqlite3_stmt* stmt = nullptr;
    bool cached = false;
    if (auto it = prepared_.find(sql); it != prepared_.end()) {
      stmt = it->second;
      cached = true;
    } else {
      const unsigned flags = prepared_.size() < kMaxPrepared ? SQLITE_PREPARE_PERSISTENT : 0;
      if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), flags, &stmt,
                             nullptr) != SQLITE_OK) {
        return Error();
      }
      if (flags != 0 && stmt != nullptr) {
        prepared_.emplace(std::string(sql), stmt);
        cached = true;
      }
    }
    // Reset after every use, error or not: a statement left mid-way would hold
    // its read transaction open (and its bound pointers, bound without a copy,
    // must not outlive `params`).
    struct Release {
      sqlite3_stmt* s;
      bool cached;
      ~Release() {
        if (!cached) {
          sqlite3_finalize(s);
          return;
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } release{stmt, cached};
    for (size_t i = 0; i < params.size(); ++i) {
      const int idx = static_cast<int>(i + 1);
      int rc;
      if (std::holds_alternative<std::nullptr_t>(params[i])) {
        rc = sqlite3_bind_null(stmt, idx);
      } else if (auto* n = std::get_if<int64_t>(&params[i])) {
        rc = sqlite3_bind_int64(stmt, idx, *n);
      } else if (auto* b = std::get_if<SqlBlob>(&params[i])) {
        // SQLITE_STATIC: `params` outlive the statement's use (see Release).
        rc = sqlite3_bind_blob64(stmt, idx, b->bytes.data(), b->bytes.size(), SQLITE_STATIC);
      } else {
        const auto& s = std::get<std::string>(params[i]);
        rc = sqlite3_bind_text(stmt, idx, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
      }
      if (rc != SQLITE_OK) return Error();
    }
    SqlResult result;
    const int ncol = sqlite3_column_count(stmt);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      SqlRow row(ncol);
      for (int c = 0; c < ncol; ++c) {
        const int type = sqlite3_column_type(stmt, c);
        if (type == SQLITE_BLOB) {
          // The pointer is NULL for an empty blob; bytes() must come after blob().
          const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, c));
          const int size = sqlite3_column_bytes(stmt, c);
          row[c] = data ? std::string(data, size) : std::string();
        } else if (type != SQLITE_NULL) {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          row[c] = std::string(text, sqlite3_column_bytes(stmt, c));
        }
      }
      result.rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) {
      const int code = sqlite3_extended_errcode(db_);
      if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return Status::AlreadyExists(sqlite3_errmsg(db_));
      }
      if (code == SQLITE_CONSTRAINT_CHECK) return Status::InvalidArgument(sqlite3_errmsg(db_));
      return Error();
    }
    result.affected = sqlite3_changes(db_);
    return result;
  }

  Status ExecScript(std::string_view sql) override {
    char* err = nullptr;
    if (sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      return Status::Io("SQLite: " + msg);
    }
    return Status::Ok();
  }

  Status Begin() override { return ExecScript("BEGIN IMMEDIATE"); }
  Status Commit() override { return ExecScript("COMMIT"); }
  void Rollback() override { (void)ExecScript("ROLLBACK"); }
  Status LockForMigration() override { return Status::Ok(); }  // BEGIN IMMEDIATE did

 private:
  Status Error() {
    const int code = sqlite3_errcode(db_);
    std::string msg = "SQLite: ";
    msg += sqlite3_errmsg(db_);
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
      return Status::Transient(msg + "; another process holds the database, try again");
    }
    return Status::Io(msg);
  }

  // Distinct statements kept prepared; SQL built per call (IN lists of
  // varying length) past this many is prepared and finalised each time.
  static constexpr std::size_t kMaxPrepared = 128;

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*, Hash, std::equal_to<>> prepared_;
};

}  // namespace

StatusOr<std::unique_ptr<Db>> OpenSqliteDb(const std::string& path) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::Io("cannot open the database '" + path + "': " + msg +
                      "; check that the data directory exists and is writable");
  }
  auto out = std::make_unique<SqliteDb>(db);
  // Other processes (a second `mailgate` command, the daemon) hold the write
  // lock for short moments; wait rather than fail.
  sqlite3_busy_timeout(db, 30000);
  MAILGATE_RETURN_IF_ERROR(out->ExecScript("PRAGMA journal_mode=WAL"));
  MAILGATE_RETURN_IF_ERROR(out->ExecScript("PRAGMA synchronous=FULL"));
  MAILGATE_RETURN_IF_ERROR(out->ExecScript("PRAGMA foreign_keys=ON"));
  // A transaction whose dirty pages outgrow the page cache (2 MB by default)
  // spills them into the WAL before its commit, and pages changed again after
  // the spill are written again. A processor group of 250 messages dirties
  // ~6.5 MB here (~1,640 pages a commit); 16 MB holds that with room to
  // spare. Larger costs: every page the cache grows by is a fresh allocation
  // (a malloc and a page fault), ~8,000 of them a run at 32 MB.
  MAILGATE_RETURN_IF_ERROR(out->ExecScript("PRAGMA cache_size=-16384"));
  // Statement journals (each SAVEPOINT of a Batch keeps the pages it changes
  // until released) in memory, not in temporary files: the processor's
  // savepoint per message wrote ~24,000 pages a run into /var/tmp/etilqs_*.
  MAILGATE_RETURN_IF_ERROR(out->ExecScript("PRAGMA temp_store=MEMORY"));
  // Checkpoint every 16 MB of WAL rather than 4 MB: pages changed by every
  // commit (indexes, conversations) are copied into the database once per
  // checkpoint, so fewer checkpoints copy fewer pages.
  MAILGATE_RETURN_IF_ERROR(out->ExecScript("PRAGMA wal_autocheckpoint=4000"));
  return std::unique_ptr<Db>(std::move(out));
}

}  // namespace mailgate::store
