// Each subcommand family registers itself on the CLI11 app. A command's
// callback returns the process exit status through the Context.
#ifndef MAILGATE_CLI_COMMANDS_H_
#define MAILGATE_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace mailgate::cli {

// Exit statuses shared by all commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Where a command's callback leaves its exit status.
struct RunState {
  GlobalOptions global;
  int exit_code = kExitOk;
};

void RegisterServeCommand(CLI::App& app, RunState& state);    // serve, job ...
void RegisterSendCommand(CLI::App& app, RunState& state);     // send, outgoing ...
void RegisterAccountCommand(CLI::App& app, RunState& state);  // account ..., key ...
void RegisterProbeCommand(CLI::App& app, RunState& state);
void RegisterTransportCommand(CLI::App& app, RunState& state);  // transport ...
void RegisterMailboxCommand(CLI::App& app, RunState& state);    // mailbox ...
void RegisterAdminCommand(CLI::App& app, RunState& state);      // admin ..., api-token ...
void RegisterMailCommands(CLI::App& app,
                          RunState& state);  // check, process, watch, conversation, quarantine

}  // namespace mailgate::cli

#endif  // MAILGATE_CLI_COMMANDS_H_
