#include "store/migrations.h"

#include <array>

namespace mailgate::store {
namespace {

constexpr std::array kMigrations = {
    Migration{1, "mailboxes",
              R"sql(
CREATE TABLE mailboxes (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  enabled INTEGER NOT NULL DEFAULT 1
);
)sql"},
};

}  // namespace

std::span<const Migration> Migrations() {
  return kMigrations;
}

}  // namespace mailgate::store
