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

StatusOr<std::unique_ptr<store::Store>> OpenStore(const GlobalOptions& options) {
  if (!options.db.empty() && !options.db.starts_with("sqlite:")) {
    return Status::InvalidArgument("--db '" + options.db +
                                   "' is not supported yet; use sqlite:PATH or leave it out");
  }
  const std::string dir = ResolveDataDir(options);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::Io("cannot create the data directory '" + dir + "': " + ec.message() +
                      "; choose another with --data-dir");
  }
  ::chmod(dir.c_str(), 0700);
  const std::string path =
      options.db.empty() ? dir + "/mailgate.db" : options.db.substr(std::string("sqlite:").size());
  return store::OpenSqliteStore(path);
}

}  // namespace mailgate::cli
