// The web console and REST API as one request handler: authentication,
// CSRF, security headers and routing in front of the pages (pages_*.cc) and
// the API (api_*.cc). Independent of the HTTP server, so tests call Handle()
// directly.
//
// Thread safety: one thread at a time (the server's).
#ifndef MAILGATE_WEB_CONSOLE_H_
#define MAILGATE_WEB_CONSOLE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/http_client.h"
#include "oauth/clock.h"
#include "oauth/token_manager.h"
#include "store/store.h"
#include "web/auth.h"
#include "web/connection_tester.h"
#include "web/console_actions.h"
#include "web/http_types.h"

namespace mailgate::web {

// Runs blocking work (Argon2id at sign-in, a call to a token endpoint) away
// from the server's thread, so that one slow request does not stall every
// other. `work` runs on another thread and must not touch the store or the
// console; `done` then runs on the server's thread. The server's runner is
// a small thread pool (http_server.cc).
class BlockingRunner {
 public:
  virtual ~BlockingRunner() = default;
  virtual void Run(std::function<void()> work, std::function<void()> done) = 0;
};

// What the console uses; the pointers must outlive it. `tester`, `http` and
// `tokens` may be null: Test and Connect then say they are not available.
struct ConsoleDeps {
  store::Store* store = nullptr;
  ConsoleActions* actions = nullptr;
  ConnectionTester* tester = nullptr;
  oauth::Clock* clock = nullptr;
  oauth::Random* random = nullptr;
  http::HttpClient* http = nullptr;       // for redeeming authorization codes
  oauth::TokenManager* tokens = nullptr;  // SaveGrant after Connect
  // Null: blocking work runs inline, on the calling thread (tests).
  BlockingRunner* blocking = nullptr;
};

struct ConsoleOptions {
  // The console's address as browsers reach it, without a trailing slash
  // ("https://mail.example.com"): the redirect URI to register is
  // public_url + "/accounts/callback".
  std::string public_url = "http://127.0.0.1:8025";
  AuthOptions auth;
  // Largest request body accepted (the server enforces it too).
  size_t max_body_bytes = 1 << 20;
  // GET /metrics: Prometheus text (authenticated like the API: a bearer API
  // token or a session). Empty: 404.
  std::function<std::string()> metrics;
};

class Console {
 public:
  Console(ConsoleDeps deps, ConsoleOptions options);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  HttpResponse Handle(const HttpRequest& request);

  Authenticator& auth();
  // Every routed (method, pattern) behind authentication.
  std::vector<std::pair<std::string, std::string>> Routes() const;

  struct State;  // console_internal.h

 private:
  std::unique_ptr<State> state_;
};

// The Content-Security-Policy of every response (the conversation page
// relaxes img-src when the reader asks for remote images).
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_CONSOLE_H_
