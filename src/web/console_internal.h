// Shared by the files that implement the console (internal to src/web).
#ifndef MAILGATE_WEB_CONSOLE_INTERNAL_H_
#define MAILGATE_WEB_CONSOLE_INTERNAL_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "oauth/account_edit.h"
#include "oauth/flows.h"
#include "web/console.h"
#include "web/layout.h"
#include "web/router.h"

namespace boost::json {
class value;
}

namespace mailgate::web {

struct Console::State {
  ConsoleDeps deps;
  ConsoleOptions options;
  Authenticator auth;
  Router router;

  State(ConsoleDeps d, ConsoleOptions o)
      : deps(d), options(std::move(o)), auth(*d.store, *d.clock, *d.random, options.auth) {}

  store::Store& store() { return *deps.store; }
  int64_t now() { return deps.clock->NowSeconds(); }
  std::string RedirectUri() const { return options.public_url + "/accounts/callback"; }

  // A response produced by blocking `work` (run off the server's thread)
  // and then `finish` (on the server's thread, where the store may be used).
  template <typename T>
  HttpResponse OffThread(std::function<T()> work, std::function<HttpResponse(T)> finish);
};

// Logs an unexpected exception; returns the text for the 500 response.
std::string LogUnexpected(const std::exception& e);

template <typename T>
HttpResponse Console::State::OffThread(std::function<T()> work,
                                       std::function<HttpResponse(T)> finish) {
  BlockingRunner* runner = deps.blocking;
  if (runner == nullptr) return finish(work());
  return HttpResponse::Later([runner, work = std::move(work), finish = std::move(finish)](
                                 std::function<void(HttpResponse)> respond) mutable {
    auto result = std::make_shared<std::optional<T>>();
    runner->Run([result, work = std::move(work)] { result->emplace(work()); },
                [result, finish = std::move(finish), respond = std::move(respond)] {
                  HttpResponse r;
                  try {
                    r = finish(std::move(**result));
                  } catch (const std::exception& e) {
                    r = HttpResponse::Text(LogUnexpected(e), 500);
                  }
                  respond(std::move(r));
                });
  });
}

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

// Edits an account's configuration (the client ID, secret, tenant,
// authority and scopes set in `edit`; its other fields are ignored) as
// `mailgate account edit` does (oauth/account_edit.h): a new app or tenant
// removes the old grant, a new secret or scopes clear the access token. Used
// by the page and the API.
StatusOr<oauth::AccountEdit> EditAccount(Console::State& state, const std::string& name,
                                         const store::AccountUpdate& edit);
// Fetches an app-only token (client credentials, RFC 6749 section 4.4) for
// `name` off the server's thread and saves the grant; `render` makes the
// response from the outcome (the provider's error when it refused).
HttpResponse ConnectClientCredentials(Console::State& state, const std::string& name,
                                      std::function<HttpResponse(const Status&)> render);

// The OAuth redirect (public: see console.cc).
HttpResponse HandleAccountCallback(Console::State& state, const HttpRequest& request);

// JSON responses of the API.
HttpResponse JsonResponse(const boost::json::value& value, int status = 200);
HttpResponse JsonError(int status, std::string_view message);
HttpResponse JsonError(const Status& status);

}  // namespace mailgate::web

#endif  // MAILGATE_WEB_CONSOLE_INTERNAL_H_
