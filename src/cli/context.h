// What every `mailgate` subcommand shares: the global options and the
// resources they name (data directory, master key, store).
#ifndef MAILGATE_CLI_CONTEXT_H_
#define MAILGATE_CLI_CONTEXT_H_

#include <memory>
#include <string>

#include "base/status.h"
#include "store/store.h"
#include "store/vault.h"

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
// database) and returns its path.
StatusOr<std::string> PrepareDataDir(const GlobalOptions& options);

// The secret vault: MAILGATE_MASTER_KEY, else the data directory's key file
// (created with mode 0600 on first use).
StatusOr<std::shared_ptr<const store::Vault>> OpenVault(const GlobalOptions& options);

// Opens the store the options name, with the vault above.
StatusOr<std::unique_ptr<store::Store>> OpenStore(const GlobalOptions& options);
StatusOr<std::unique_ptr<store::Store>> OpenStore(const GlobalOptions& options,
                                                  std::shared_ptr<const store::Vault> vault);

}  // namespace mailgate::cli

#endif  // MAILGATE_CLI_CONTEXT_H_
