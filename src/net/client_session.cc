#include "net/client_session.h"

#include <utility>

namespace mailgate::net {

namespace asio = boost::asio;

asio::awaitable<StatusOr<std::unique_ptr<Connection>>> OpenTraced(asio::any_io_executor ex,
                                                                  ConnectOptions& options,
                                                                  const TraceFn& trace) {
  if (trace) options.trace = trace;
  auto opened = co_await Connection::Open(ex, options);
  if (!opened.ok()) co_return opened.status();
  std::unique_ptr<Connection> conn = std::move(opened).value();
  if (trace) conn->SetTrace(trace);
  co_return conn;
}

asio::awaitable<Status> AuthenticateWithFreshToken(const AuthAttempts& a) {
  if (!a.secret) co_return Status::InvalidArgument("no password or token was configured");
  auto secret = a.secret(false);
  if (!secret.ok()) co_return secret.status();
  Status s = co_await a.once(*secret);
  if (s.ok() || s.kind() != Status::Kind::kAuth || !a.secret_is_token) co_return s;
  if (a.final_refusal && a.final_refusal(s)) co_return s;

  a.on_retry();
  auto fresh = a.secret(true);
  if (!fresh.ok()) {
    co_return Status::Auth(s.message() +
                           "; no fresh token could be had either: " + fresh.status().message());
  }
  // The same token again (a token file, or a provider with nothing newer):
  // a second attempt would only be refused the same way.
  if (*fresh == *secret) co_return s;
  if (a.closed_by_server()) MAILGATE_CO_RETURN_IF_ERROR(co_await a.reopen());
  Status again = co_await a.once(*fresh);
  if (!again.ok() && again.kind() == Status::Kind::kConnect && a.closed_by_server()) {
    MAILGATE_CO_RETURN_IF_ERROR(co_await a.reopen());
    again = co_await a.once(*fresh);
  }
  co_return again;
}

}  // namespace mailgate::net
