// The HTTP server of `mailgate serve`: the console, the REST API and
// /healthz on one port. Beast and Asio stay inside http_server.cc; this
// header is cheap to include.
#ifndef MAILGATE_WEB_HTTP_SERVER_H_
#define MAILGATE_WEB_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "http/http_client.h"
#include "oauth/token_manager.h"
#include "sasl/sasl.h"
#include "store/store.h"
#include "web/console_actions.h"

namespace mailgate::web {

struct ServeOptions {
  // "ADDR:PORT"; port 0 picks a free one (reported through on_listening).
  std::string listen = "127.0.0.1:8025";
  // The console's address as browsers reach it ("https://mail.example.com");
  // empty: the listening address. An https:// URL marks the session cookie
  // Secure (TLS terminated by a proxy in front).
  std::string public_url;
  // HTTPS: PEM certificate chain and private key (both or neither).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Called once the socket listens, with the console's URL.
  std::function<void(const std::string& url)> on_listening;
  // Called once, on first start, with the administrator's new password.
  std::function<void(const std::string& user, const std::string& password)> on_admin_created;

  // For Test buttons: extra trusted CA, and access tokens of connected
  // accounts (empty: XOAuth2 tests fail with a message).
  std::string ca_file;
  std::function<sasl::SecretProvider(const std::string& account)> tokens;
  // For Connect (authorization-code flow); null: Connect is not available.
  // REQUIRES: they outlive Serve.
  http::HttpClient* http = nullptr;
  oauth::TokenManager* token_manager = nullptr;
  // GET /metrics (Prometheus text, authenticated like the API); empty: 404.
  std::function<std::string()> metrics;
};

// A running server, for tests and embedding: Start() listens and runs on a
// thread of its own; Stop() ends it.
class Server {
 public:
  // REQUIRES: `store` and `actions` outlive the server; nothing else uses
  // `store` while it runs.
  Server(ServeOptions options, store::Store& store, ConsoleActions& actions);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Listens (creating the administrator on first start) and serves on a
  // background thread. Returns the console's URL ("http://127.0.0.1:PORT/").
  StatusOr<std::string> Start();
  // Stops accepting, ends connections and joins the thread. Idempotent.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Serves until SIGINT or SIGTERM, then returns OK.
// REQUIRES: `store` and `actions` outlive the call; nothing else uses `store` meanwhile.
Status Serve(const ServeOptions& options, store::Store& store, ConsoleActions& actions);

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_HTTP_SERVER_H_
