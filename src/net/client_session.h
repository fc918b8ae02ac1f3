// What the POP3 and SMTP clients do alike when they open a session: open the
// connection with their trace on it, and authenticate with one retry on a
// fresh token (sasl-xoauth2's lesson: a cached token may have expired or been
// revoked since it was fetched). The protocol's own steps (greeting,
// STARTTLS, the SASL exchange) stay in each client.
#ifndef MAILGATE_NET_CLIENT_SESSION_H_
#define MAILGATE_NET_CLIENT_SESSION_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "net/connection.h"

namespace mailgate::net {

// Connection::Open with `trace`, when set, on the connection from the first
// step (connect, TLS handshake) on; `options.trace` is set to it.
boost::asio::awaitable<StatusOr<std::unique_ptr<Connection>>> OpenTraced(
    boost::asio::any_io_executor ex, ConnectOptions& options, const TraceFn& trace);

// One client's authentication steps, for AuthenticateWithFreshToken. Every
// function but `final_refusal` must be set; all must stay valid until the
// returned awaitable completes.
struct AuthAttempts {
  // The password, or the access token when `secret_is_token`; true asks the
  // provider for a new token (sasl::SecretProvider).
  std::function<StatusOr<std::string>(bool force_refresh)> secret;
  bool secret_is_token = false;
  // One authentication exchange with `secret` on the current connection.
  std::function<boost::asio::awaitable<Status>(const std::string& secret)> once;
  // Whether the server has closed the connection, and opening it again
  // (greeting, STARTTLS) for the retry.
  std::function<bool()> closed_by_server;
  std::function<boost::asio::awaitable<Status>()> reopen;
  // Refusals no fresh token lifts (an administrator's switch): returned as
  // they are. Optional.
  std::function<bool(const Status&)> final_refusal;
  // Called before asking for a fresh token (the client traces it).
  std::function<void()> on_retry;
};

// Authenticates with the secret; when a token was refused (Status::kAuth),
// asks once for a fresh one and tries again, on a new connection when the
// server hung up (before the retry, or during it). The same token again is
// not retried: it would be refused the same way. Errors: the first refusal,
// or the retry's outcome; kInvalidArgument when there is no secret.
boost::asio::awaitable<Status> AuthenticateWithFreshToken(const AuthAttempts& attempts);

}  // namespace mailgate::net

#endif  // MAILGATE_NET_CLIENT_SESSION_H_
