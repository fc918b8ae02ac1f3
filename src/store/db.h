// The small SQL driver interface under the Store (internal to src/store).
//
// One Store implementation (sql_store.h) runs on every backend; a driver
// only executes statements. SQL is written with `?` placeholders; the
// PostgreSQL driver rewrites them to $1, $2, ... (our SQL never holds a `?`
// in a literal). Values travel as text, so results are strings or NULL;
// binary values (SqlBlob) travel as bytes and come back as the same bytes.
//
// Thread safety: one thread at a time.
#ifndef MAILGATE_STORE_DB_H_
#define MAILGATE_STORE_DB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace mailgate::store {

// Bytes that may hold anything (NUL included): bound as a BLOB (SQLite) or a
// binary BYTEA parameter (PostgreSQL). Read back, BLOB and BYTEA columns are
// the raw bytes in a string.
struct SqlBlob {
  std::string bytes;
};

using SqlValue = std::variant<std::nullptr_t, int64_t, std::string, SqlBlob>;
using SqlRow = std::vector<std::optional<std::string>>;

struct SqlResult {
  std::vector<SqlRow> rows;
  int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE
};

class Db {
 public:
  virtual ~Db() = default;
  virtual std::string_view backend() const = 0;

  // One statement with parameters. Unique-constraint violations come back as
  // kAlreadyExists, CHECK-constraint violations as kInvalidArgument.
  virtual StatusOr<SqlResult> Query(std::string_view sql, std::span<const SqlValue> params) = 0;
  // Several statements without parameters (migrations).
  virtual Status ExecScript(std::string_view sql) = 0;

  // A write transaction. SQLite takes the write lock at once (BEGIN
  // IMMEDIATE), so read-then-write sequences never deadlock-upgrade.
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
  // Inside a transaction: serialises schema migrations across processes.
  virtual Status LockForMigration() = 0;
};

StatusOr<std::unique_ptr<Db>> OpenSqliteDb(const std::string& path);
StatusOr<std::unique_ptr<Db>> OpenPostgresDb(const std::string& url);

}  // namespace mailgate::store

#endif  // MAILGATE_STORE_DB_H_
