// mailgate serve: the daemon (web console and API now; scheduler and workers later).
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/session.h"
#include "web/console_actions.h"
#include "web/http_server.h"

namespace mailgate::cli {

void RegisterServeCommand(CLI::App& app, RunState& state) {
  auto opts = std::make_shared<web::ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the daemon and its web console");
  cmd->add_option("--listen", opts->listen, "Address and port of the console")
      ->capture_default_str();
  cmd->add_option("--public-url", opts->public_url,
                  "The console's address as browsers reach it (default: the listening address); "
                  "https:// marks cookies Secure");
  cmd->callback([opts, &state] {
    auto session = OpenSession(state.global);
    if (!session.ok()) {
      spdlog::error("{}", session.status().message());
      state.exit_code = kExitFailure;
      return;
    }
    opts->on_listening = [](const std::string& url) {
      std::printf("Mailgate console: %s\n", url.c_str());
      std::fflush(stdout);
    };
    opts->on_admin_created = [](const std::string& user, const std::string& password) {
      std::printf("Console administrator: %s / %s (change it with `mailgate admin set-password`)\n",
                  user.c_str(), password.c_str());
      std::fflush(stdout);
    };
    const pipeline::ConnectEnv env = MakeConnectEnv(*session, state.global);
    opts->ca_file = env.ca_file;
    opts->tokens = env.tokens;
    opts->http = session->http.get();
    opts->token_manager = session->tokens.get();
    // The scheduler replaces this (src/serve).
    web::NullConsoleActions actions;
    Status s = web::Serve(*opts, *session->store, actions);
    if (!s.ok()) {
      spdlog::error("{}", s.message());
      state.exit_code = kExitFailure;
    }
  });
}

}  // namespace mailgate::cli
