// SQLite backend of the Store: one database file, WAL journal, migrations at
// open.
#include <sqlite3.h>

#include <string>

#include "store/migrations.h"
#include "store/store.h"

namespace mailgate::store {
namespace {

// Owns a prepared statement; finalizes it on every path.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool prepared() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override { sqlite3_close(db_); }

  Status Migrate() {
    MAILGATE_RETURN_IF_ERROR(
        Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
             " version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
             " applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"));
    auto current = SchemaVersion();
    if (!current.ok()) return current.status();
    for (const Migration& m : Migrations()) {
      if (m.version <= *current) continue;
      // BEGIN IMMEDIATE takes the write lock first, so two processes starting
      // at once cannot both apply the same migration.
      MAILGATE_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
      auto again = SchemaVersion();
      Status s = again.ok() ? Status::Ok() : again.status();
      if (s.ok() && *again < m.version) {
        s = Exec(std::string(m.sql));
        if (s.ok()) {
          s = Exec("INSERT INTO schema_migrations(version, description) VALUES (" +
                   std::to_string(m.version) + ", '" + std::string(m.description) + "')");
        }
      }
      if (!s.ok()) {
        (void)Exec("ROLLBACK");
        return s.WithContext("schema migration " + std::to_string(m.version));
      }
      MAILGATE_RETURN_IF_ERROR(Exec("COMMIT"));
    }
    return Status::Ok();
  }

  StatusOr<int> SchemaVersion() override {
    Statement st(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!st.prepared()) return Error("reading the schema version");
    if (sqlite3_step(st.get()) != SQLITE_ROW) return Error("reading the schema version");
    return sqlite3_column_int(st.get(), 0);
  }

  StatusOr<std::vector<MailboxSummary>> ListMailboxes() override {
    Statement st(db_, "SELECT name, enabled FROM mailboxes ORDER BY name");
    if (!st.prepared()) return Error("listing mailboxes");
    std::vector<MailboxSummary> out;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      out.push_back({reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 0)),
                     sqlite3_column_int(st.get(), 1) != 0});
    }
    if (rc != SQLITE_DONE) return Error("listing mailboxes");
    return out;
  }

  Status Exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      return Status::Io("SQLite: " + msg);
    }
    return Status::Ok();
  }

 private:
  Status Error(const std::string& what) {
    return Status::Io("SQLite error while " + what + ": " + sqlite3_errmsg(db_));
  }

  sqlite3* db_;
};

}  // namespace

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
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
  auto store = std::make_unique<SqliteStore>(db);
  // Another process (a second `mailgate` command) may hold the write lock for
  // a moment; wait rather than fail.
  sqlite3_busy_timeout(db, 10000);
  MAILGATE_RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  MAILGATE_RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
  MAILGATE_RETURN_IF_ERROR(store->Exec("PRAGMA foreign_keys=ON"));
  MAILGATE_RETURN_IF_ERROR(store->Migrate());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace mailgate::store
