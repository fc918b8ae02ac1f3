// mailgate serve: the daemon (web console now; scheduler and workers later).
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"
#include "web/http_server.h"

namespace mailgate::cli {

void RegisterServeCommand(CLI::App& app, RunState& state) {
  auto opts = std::make_shared<web::ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the daemon and its web console");
  cmd->add_option("--listen", opts->listen, "Address and port of the console")
      ->capture_default_str();
  cmd->callback([opts, &state] {
    auto store = OpenStore(state.global);
    if (!store.ok()) {
      spdlog::error("{}", store.status().message());
      state.exit_code = kExitFailure;
      return;
    }
    opts->on_listening = [](const std::string& url) {
      std::printf("Mailgate console: %s\n", url.c_str());
      std::fflush(stdout);
    };
    Status s = web::Serve(*opts, **store);
    if (!s.ok()) {
      spdlog::error("{}", s.message());
      state.exit_code = kExitFailure;
    }
  });
}

}  // namespace mailgate::cli
