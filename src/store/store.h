// The Store: everything Mailgate keeps (configuration, state, messages) goes
// through this interface, so the layers above never see SQL or a backend.
//
// Thread safety: a Store may be used from one thread at a time; open one per
// thread (SQLite in WAL mode lets them share the file).
#ifndef MAILGATE_STORE_STORE_H_
#define MAILGATE_STORE_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace mailgate::store {

struct MailboxSummary {
  std::string name;
  bool enabled = true;
};

class Store {
 public:
  virtual ~Store() = default;

  // The schema version after migrations (the highest applied).
  virtual StatusOr<int> SchemaVersion() = 0;

  virtual StatusOr<std::vector<MailboxSummary>> ListMailboxes() = 0;
};

// Opens (creating if needed) the SQLite store at `path` and applies pending
// schema migrations. The parent directory must exist.
StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace mailgate::store

#endif  // MAILGATE_STORE_STORE_H_
