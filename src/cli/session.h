// What the mail commands share beyond context.h: a session with the store,
// the HTTP client and the token manager; the connection environment built
// from it; running a coroutine to completion; and output helpers.
#ifndef MAILGATE_CLI_SESSION_H_
#define MAILGATE_CLI_SESSION_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "cli/context.h"
#include "http/http_client.h"
#include "oauth/token_manager.h"
#include "pipeline/config.h"
#include "store/store.h"

namespace mailgate::cli {

struct Session {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<http::HttpClient> http;
  std::unique_ptr<oauth::TokenManager> tokens;
};

// Opens the store (and the vault), the HTTP client and the token manager.
StatusOr<Session> OpenSession(const GlobalOptions& g, oauth::TokenManagerOptions options = {});

// The connection environment: the global CA file and access tokens from the
// session's token manager. REQUIRES: `session` outlives the result.
pipeline::ConnectEnv MakeConnectEnv(Session& session, const GlobalOptions& g);

// Runs `body` on a fresh io_context until it finishes; an escaping exception
// becomes Status::Internal.
Status RunAsync(
    const std::function<boost::asio::awaitable<Status>(boost::asio::any_io_executor)>& body);

// "mailgate: <message>" on stderr.
void PrintError(const Status& s);

// Exit status for an error: 2 for invalid arguments, 1 otherwise.
int ExitFor(const Status& s);

// "2026-11-28T13:46:11Z", or "never" for 0.
std::string FormatTime(int64_t unix_seconds);

// A secret from a file: the whole file without trailing newlines or spaces.
// `what` names it in errors ("password", "client secret"). Warns when the
// file is readable by other users.
StatusOr<std::string> ReadSecretFile(const std::string& path, const std::string& what);

}  // namespace mailgate::cli

#endif  // MAILGATE_CLI_SESSION_H_
