// mailgate admin set-password and mailgate api-token create|list|revoke:
// who may use the web console and the REST API.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "cli/commands.h"
#include "cli/session.h"
#include "oauth/clock.h"
#include "web/auth.h"

namespace mailgate::cli {
namespace {

constexpr size_t kMinPasswordLength = 8;

StatusOr<std::string> ReadPassword(const std::string& file) {
  if (!file.empty()) return ReadSecretFile(file, "password");
  std::string all((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
  if (all.empty()) {
    return Status::InvalidArgument(
        "no password on standard input; pipe it in or give --password-file F");
  }
  return all;
}

int RunSetPassword(const GlobalOptions& g, const std::string& user, const std::string& file) {
  auto password = ReadPassword(file);
  if (!password.ok()) return PrintError(password.status()), ExitFor(password.status());
  if (password->size() < kMinPasswordLength) {
    PrintError(Status::InvalidArgument("the password needs at least 8 characters"));
    return kExitUsage;
  }
  auto hash = web::HashPassword(*password);
  if (!hash.ok()) return PrintError(hash.status()), kExitFailure;
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  Status s = (*store)->SetConsolePassword(user, *hash, oauth::SystemClock().NowSeconds());
  if (!s.ok()) return PrintError(s), kExitFailure;
  std::printf("The console password of '%s' is set; its open sessions are signed out.\n",
              user.c_str());
  return kExitOk;
}

int RunTokenCreate(const GlobalOptions& g, const std::string& name) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  web::Authenticator auth(**store, oauth::SystemClock(), oauth::SystemRandom());
  auto token = auth.CreateApiToken(name);
  if (!token.ok()) return PrintError(token.status()), ExitFor(token.status());
  std::fprintf(stderr,
               "API token '%s' created; it is shown only now. Send it as `Authorization: Bearer "
               "<token>`.\n",
               name.c_str());
  std::printf("%s\n", token->c_str());
  return kExitOk;
}

int RunTokenList(const GlobalOptions& g) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  auto tokens = (*store)->ListApiTokens();
  if (!tokens.ok()) return PrintError(tokens.status()), kExitFailure;
  if (tokens->empty()) {
    std::printf("No API tokens. Create one with `mailgate api-token create NAME`.\n");
    return kExitOk;
  }
  for (const auto& t : *tokens) {
    std::printf("%-24s %s...  created %s  last used %s\n", t.name.c_str(), t.prefix.c_str(),
                FormatTime(t.created_at).c_str(), FormatTime(t.last_used_at).c_str());
  }
  return kExitOk;
}

int RunTokenRevoke(const GlobalOptions& g, const std::string& name) {
  auto store = OpenStore(g);
  if (!store.ok()) return PrintError(store.status()), kExitFailure;
  if (Status s = (*store)->RevokeApiToken(name); !s.ok()) return PrintError(s), kExitFailure;
  std::printf("API token '%s' revoked.\n", name.c_str());
  return kExitOk;
}

}  // namespace

void RegisterAdminCommand(CLI::App& app, RunState& state) {
  CLI::App* admin = app.add_subcommand("admin", "Console users");
  admin->require_subcommand(1);
  struct SetPassword {
    std::string user = "admin";
    std::string file;
  };
  auto sp = std::make_shared<SetPassword>();
  CLI::App* cmd = admin->add_subcommand(
      "set-password", "Set a console user's password (read from --password-file or stdin)");
  cmd->add_option("--user", sp->user, "Console user")->capture_default_str();
  cmd->add_option("--password-file", sp->file, "File holding the password (default: stdin)");
  cmd->callback(
      [sp, &state] { state.exit_code = RunSetPassword(state.global, sp->user, sp->file); });

  CLI::App* tokens = app.add_subcommand("api-token", "REST API tokens");
  tokens->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  cmd = tokens->add_subcommand("create", "Create a token (printed once)");
  cmd->add_option("name", *name, "Token name")->required();
  cmd->callback([name, &state] { state.exit_code = RunTokenCreate(state.global, *name); });
  cmd = tokens->add_subcommand("list", "List tokens (names and first characters only)");
  cmd->callback([&state] { state.exit_code = RunTokenList(state.global); });
  cmd = tokens->add_subcommand("revoke", "Revoke a token");
  cmd->add_option("name", *name, "Token name")->required();
  cmd->callback([name, &state] { state.exit_code = RunTokenRevoke(state.global, *name); });
}

}  // namespace mailgate::cli
