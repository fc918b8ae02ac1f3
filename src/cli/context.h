// What every `mailgate` subcommand shares: the global options and the
// resources they name (data directory, store).
#ifndef MAILGATE_CLI_CONTEXT_H_
#define MAILGATE_CLI_CONTEXT_H_

#include <memory>
#include <string>

#include "base/status.h"
#include "store/store.h"

namespace mailgate::cli {

struct GlobalOptions {
  std::string data_dir;  // --data-dir, env MAILGATE_DATA_DIR
  std::string db;        // --db; empty: SQLite in the data directory
  std::string ca_file;   // --ca-file, env MAILGATE_CA_FILE
  std::string log_level = "info";
};

// The data directory to use: the option, else $MAILGATE_DATA_DIR, else
// $XDG_DATA_HOME/mailgate, else ~/.local/share/mailgate.
std::string ResolveDataDir(const GlobalOptions& options);

// Creates the data directory (mode 0700: it holds the master key and the
// database) and opens the store the options name.
StatusOr<std::unique_ptr<store::Store>> OpenStore(const GlobalOptions& options);

}  // namespace mailgate::cli

#endif  // MAILGATE_CLI_CONTEXT_H_
