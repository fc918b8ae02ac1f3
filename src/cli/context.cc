#include "cli/context.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace mailgate::cli {

std::string ResolveDataDir(const GlobalOptions& options) {
  if (!options.data_dir.empty()) return options.data_dir;
  if (const char* env = std::getenv("MAILGATE_DATA_DIR"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/mailgate";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.local/share/mailgate";
  }
  return "mailgate-data";
}

StatusOr<std::string> PrepareDataDir(const GlobalOptions& options) {
  const std::string dir = ResolveDataDir(options);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::Io("cannot create the data directory '" + dir + "': " + ec.message() +
                      "; choose another with --data-dir");
  }
  ::chmod(dir.c_str(), 0700);
  return dir;
}

StatusOr<std::shared_ptr<const store::Vault>> OpenVault(const GlobalOptions& options) {
  auto dir = PrepareDataDir(options);
  if (!dir.ok()) return dir.status();
  const char* env = std::getenv("MAILGATE_MASTER_KEY");
  auto vault = store::OpenVault({.data_dir = *dir, .env_key = env ? env : ""});
  if (!vault.ok()) return vault.status();
  return std::shared_ptr<const store::Vault>(std::move(*vault));
}

StatusOr<std::unique_ptr<store::Store>> OpenStore(const GlobalOptions& options,
                                                  std::shared_ptr<const store::Vault> vault) {
  auto dir = PrepareDataDir(options);
  if (!dir.ok()) return dir.status();
  return store::OpenStoreUrl(options.db, *dir + "/mailgate.db", std::move(vault));
}

StatusOr<std::unique_ptr<store::Store>> OpenStore(const GlobalOptions& options) {
  auto vault = OpenVault(options);
  if (!vault.ok()) return vault.status();
  return OpenStore(options, std::move(*vault));
}

}  // namespace mailgate::cli
