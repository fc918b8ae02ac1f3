// Shared by the files that implement the console (internal to src/web).
#ifndef MAILGATE_WEB_CONSOLE_INTERNAL_H_
#define MAILGATE_WEB_CONSOLE_INTERNAL_H_

#include <map>
#include <string>

#include "oauth/flows.h"
#include "web/console.h"
#include "web/layout.h"
#include "web/router.h"

namespace boost::json {
class value;
}

namespace mailgate::web {

// An authorization started with Connect, waiting for its redirect.
struct PendingAuthorization {
  std::string account;
  std::string session_hash;
  oauth::AuthorizationRequest request;
  int64_t expires_at = 0;
};

struct Console::State {
  ConsoleDeps deps;
  ConsoleOptions options;
  Authenticator auth;
  Router router;
  // Keyed by the request's `state`. In memory: the redirect comes back to
  // the process that started it (with several workers behind a balancer,
  // keep console sessions sticky).
  std::map<std::string, PendingAuthorization> pending;

  State(ConsoleDeps d, ConsoleOptions o)
      : deps(d), options(std::move(o)), auth(*d.store, *d.clock, *d.random, options.auth) {}

  store::Store& store() { return *deps.store; }
  int64_t now() { return deps.clock->NowSeconds(); }
  std::string RedirectUri() const { return options.public_url + "/accounts/callback"; }
};

// The frame for an authenticated page.
PageFrame Frame(const RequestContext& ctx, std::string title, std::string nav);

// A page that reports a store or action error (logged; the page says what to do).
HttpResponse ErrorPage(const RequestContext& ctx, const Status& status, std::string_view nav);
int HttpStatusFor(const Status& status);

// Route registration, one function per area.
void AddAccountPages(Console::State& state);
void AddTransportPages(Console::State& state);
void AddMailboxPages(Console::State& state);
void AddConversationPages(Console::State& state);
void AddSchedulerPages(Console::State& state);
void AddAlertPages(Console::State& state);
void AddTokenPages(Console::State& state);
void AddApi(Console::State& state);

// The OAuth redirect (public: see console.cc).
HttpResponse HandleAccountCallback(Console::State& state, const HttpRequest& request);

// JSON responses of the API.
HttpResponse JsonResponse(const boost::json::value& value, int status = 200);
HttpResponse JsonError(int status, std::string_view message);
HttpResponse JsonError(const Status& status);

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_CONSOLE_INTERNAL_H_
