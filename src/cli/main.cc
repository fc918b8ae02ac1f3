// The mailgate command: CLI and daemon in one binary, git-style subcommands.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "base/log.h"
#include "cli/commands.h"

namespace {

const char* EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  namespace cli = mailgate::cli;
  CLI::App app{"Mailgate: mail from IMAP, POP3 and SMTP servers with OAuth2, as conversations"};
  app.set_version_flag("--version", MAILGATE_VERSION);
  app.require_subcommand(1);
  // Global options are accepted after the subcommand too: `mailgate account list --data-dir D`.
  app.fallthrough();

  cli::RunState state;
  state.global.ca_file = EnvOr("MAILGATE_CA_FILE", "");
  app.add_option("--data-dir", state.global.data_dir,
                 "Data directory (env MAILGATE_DATA_DIR; default ~/.local/share/mailgate)");
  app.add_option(
         "--db", state.global.db,
         "Database: postgresql://user:password@host:port/db or sqlite:PATH (env MAILGATE_DB; "
         "default: SQLite in the data directory)")
      ->envname("MAILGATE_DB");
  app.add_option(
      "--ca-file", state.global.ca_file,
      "Extra trusted CA certificate(s), PEM, for every TLS connection (env MAILGATE_CA_FILE)");
  app.add_option("--log-level", state.global.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.parse_complete_callback([&state] {
    mailgate::Status s = mailgate::InitLogging(state.global.log_level);
    if (!s.ok()) throw CLI::ValidationError("--log-level", s.message());
  });

  cli::RegisterServeCommand(app, state);
  cli::RegisterAccountCommand(app, state);
  cli::RegisterProbeCommand(app, state);
  cli::RegisterTransportCommand(app, state);
  cli::RegisterMailboxCommand(app, state);
  cli::RegisterAdminCommand(app, state);
  cli::RegisterMailCommands(app, state);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? cli::kExitOk : cli::kExitUsage;
  }
  return state.exit_code;
}
