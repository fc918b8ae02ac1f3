// Versioned schema migrations, shared by every backend. Migration N turns
// schema N-1 into N; each runs in one transaction with its version record,
// under a lock that serialises processes starting at once.
#ifndef MAILGATE_STORE_MIGRATIONS_H_
#define MAILGATE_STORE_MIGRATIONS_H_

#include <span>
#include <string>
#include <string_view>

namespace mailgate::store {

struct Migration {
  int version;
  std::string_view description;
  // Portable SQL for SQLite and PostgreSQL. The spellings they do not share
  // are tokens: ID_PRIMARY_KEY (an auto-numbered primary key) and BLOB_TYPE
  // (binary data: BLOB or BYTEA).
  std::string_view sql;

  // The script for `backend` ("sqlite" or "postgresql").
  std::string SqlFor(std::string_view backend) const;
};

// All migrations, in ascending version order.
std::span<const Migration> Migrations();

}  // namespace mailgate::store

#endif  // MAILGATE_STORE_MIGRATIONS_H_
