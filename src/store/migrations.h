// Versioned schema migrations, shared by every backend. Migration N turns
// schema N-1 into N; each runs in one transaction with its version record,
// under a lock that serialises processes starting at once.
#ifndef MAILGATE_STORE_MIGRATIONS_H_
#define MAILGATE_STORE_MIGRATIONS_H_

#include <span>
#include <string_view>

namespace mailgate::store {

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;  // portable SQL: runs on SQLite and PostgreSQL...
  // ...unless PostgreSQL needs its own spelling (identity columns).
  std::string_view postgres_sql = {};

  std::string_view SqlFor(std::string_view backend) const {
    return backend == "postgresql" && !postgres_sql.empty() ? postgres_sql : sql;
  }
};

// All migrations, in ascending version order.
std::span<const Migration> Migrations();

}  // namespace mailgate::store

#endif  // MAILGATE_STORE_MIGRATIONS_H_
